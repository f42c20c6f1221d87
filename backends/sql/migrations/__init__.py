"""Alembic migrations of the SQL store (run by `autolog server db upgrade`)."""
