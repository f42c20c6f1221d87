"""SQLite: params, tags and latest metrics stored in their primary key's order (WITHOUT ROWID).

A page of runs reads every param, tag and latest metric of its runs. In a rowid table each
of those rows cost two lookups (the primary key's index, then the row); clustered by
(run, key), a run's values are one range of one b-tree, and the EXISTS of a filter is
answered from that b-tree alone. Measured on 100,000 runs: the params of 1,000 runs read
in 17 ms instead of 25 ms. PostgreSQL has no such table kind: nothing changes there.

Revision ID: 0004_clustered
Revises: 0003_mlflow
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_clustered"
down_revision = "0003_mlflow"
branch_labels = None
depends_on = None

_TEXT = {"params": 6000, "tags": 8000}


def _columns(table: str) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.BigInteger(), nullable=False),
    ]
    if table in _TEXT:
        columns += [
            sa.Column("value", sa.String(length=_TEXT[table]), nullable=False),
            sa.Column("value_num", sa.Double(), nullable=True),
        ]
    else:
        columns += [
            sa.Column("value", sa.Double(), nullable=True),
            sa.Column("is_nan", sa.Boolean(), nullable=False),
            sa.Column("step", sa.BigInteger(), nullable=False),
            sa.Column("timestamp", sa.BigInteger(), nullable=False),
        ]
    return columns


_INDEXES = {
    "params": ("ix_params_key_num", ["key_id", "value_num", "run_id"]),
    "tags": ("ix_tags_key_num", ["key_id", "value_num", "run_id"]),
    "latest_metrics": ("ix_latest_metrics_key_value", ["key_id", "value", "run_id"]),
}


def _rebuild(table: str, with_rowid: bool) -> None:
    columns = _columns(table)
    names = ", ".join(c.name for c in columns)
    op.create_table(
        f"{table}_new",
        *columns,
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("run_id", "key_id"),
        sqlite_with_rowid=with_rowid,
    )
    # In key order: the new b-tree is written front to back.
    op.execute(
        f"INSERT INTO {table}_new ({names}) SELECT {names} FROM {table} ORDER BY run_id, key_id"
    )
    op.drop_table(table)  # its indexes go with it
    op.rename_table(f"{table}_new", table)
    index, on = _INDEXES[table]
    op.create_index(index, table, on)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in _INDEXES:
        _rebuild(table, with_rowid=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in _INDEXES:
        _rebuild(table, with_rowid=True)
