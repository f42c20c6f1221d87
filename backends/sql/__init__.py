"""The SQL store of the tracking server: SQLite or PostgreSQL through SQLAlchemy Core."""
