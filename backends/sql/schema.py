"""The tables of the SQL store (SQLAlchemy Core), shared by the store and its migrations.

Key names are interned in `keys`, so a param, tag or metric row carries a small integer
instead of its name. `params`, `tags` and `latest_metrics` are keyed by (run, key) and
indexed by key and value for filters that start from the value. `metric_points` is
clustered by (run, key, step, timestamp), so a metric's history is one range scan.
On SQLite these three tables are WITHOUT ROWID (revision 0004_clustered): a run's values
are one range of the primary key's b-tree, read without a second lookup per row.
`batches` holds the name of every batch applied to a run: a retried batch finds its
name there and is skipped, so it is applied once.

Text that is compared or sorted uses the "C" collation on PostgreSQL, so that the order
is the code-point order of Python's `str` (SQLite's default, BINARY, already is).

The registry is stored as the model registry's contract (`RegistryBackend`) defines it:
`registered_models`, `model_versions` (unique (model, version), so numbers are never handed
out twice; each record holds the version's source and lineage) and `model_events`, the
append-only history (aliases, tags, descriptions, deletions, each with its acting user),
which `autolog._registry` folds into the current state.

What only MLflow's REST API has (revision 0003_mlflow): `deleted_experiments` and
`deleted_runs` (MLflow's lifecycle stage: a row means "deleted", restored by removing
it), `logged_models` (MLflow 3's LoggedModel: its searchable columns, and tags, params and
metrics as one JSON document) and `run_links` (a run's dataset inputs and model inputs
and outputs, one JSON document each).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeEngine

__all__ = ["SCHEMA_REVISION", "metadata", "ordered_text"]

#: The Alembic revision this code expects; a database behind it must be upgraded first.
SCHEMA_REVISION = "0004_clustered"


def ordered_text(length: int) -> TypeEngine[str]:
    """A string type that compares and sorts by code point on every dialect."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


# SQLite makes only an INTEGER PRIMARY KEY an alias of its rowid (auto-incremented).
_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

keys = Table(
    "keys",
    metadata,
    Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    Column("name", ordered_text(250), nullable=False, unique=True),
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", ordered_text(256), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", String(64), ForeignKey("experiments.id"), primary_key=True),
    Column("key", ordered_text(250), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", ordered_text(64), primary_key=True),
    Column("experiment_id", String(64), ForeignKey("experiments.id"), nullable=False),
    Column("name", ordered_text(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("parent_id", ordered_text(64), nullable=True),
    Column("user_id", String(256), nullable=True),
    Index("ix_runs_experiment_start", "experiment_id", "start_time", "id"),
)


def _value_table(name: str, length: int) -> Table:
    return Table(
        name,
        metadata,
        Column("run_id", ordered_text(64), ForeignKey("runs.id"), primary_key=True),
        Column("key_id", BigInteger, primary_key=True),
        Column("value", ordered_text(length), nullable=False),
        # The value as a number when it parses as one (not NaN), for numeric comparisons.
        Column("value_num", Double, nullable=True),
        Index(f"ix_{name}_key_num", "key_id", "value_num", "run_id"),
        sqlite_with_rowid=False,  # clustered by (run, key): revision 0004_clustered
    )


params = _value_table("params", 6000)
tags = _value_table("tags", 8000)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", ordered_text(64), ForeignKey("runs.id"), primary_key=True),
    Column("key_id", BigInteger, primary_key=True),
    # NaN is stored as NULL plus is_nan: SQLite cannot store NaN, and PostgreSQL's NaN
    # equals itself and sorts above every number, unlike Python's.
    Column("value", Double, nullable=True),
    Column("is_nan", Boolean, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_latest_metrics_key_value", "key_id", "value", "run_id"),
    sqlite_with_rowid=False,
)

batches = Table(
    "batches",
    metadata,
    Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("runs.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("run_id", "name", name="uq_batches_run_name"),
)

metric_points = Table(
    "metric_points",
    metadata,
    Column("run_id", String(64), ForeignKey("runs.id"), primary_key=True),
    Column("key_id", BigInteger, primary_key=True),
    Column("step", BigInteger, primary_key=True),
    Column("timestamp", BigInteger, primary_key=True),
    # Which batch and where in it: two points may share (step, timestamp).
    Column("batch_id", BigInteger, primary_key=True),
    Column("pos", Integer, primary_key=True),
    Column("value", Double, nullable=True),
    Column("is_nan", Boolean, nullable=False),
    sqlite_with_rowid=False,
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    Column("name", ordered_text(256), nullable=False, unique=True),
    Column("meta", Text, nullable=False),  # JSON: name, created_at, created_ns, creator
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("model_id", BigInteger, ForeignKey("registered_models.id"), primary_key=True),
    # Unique per model: two writers racing for the next number cannot both get it.
    Column("version", Integer, primary_key=True),
    Column("run_id", String(64), nullable=True),
    Column("record", Text, nullable=False),  # JSON: source, run, lineage, creator, ...
    Index("ix_model_versions_run", "run_id"),
)

model_events = Table(
    "model_events",
    metadata,
    Column("model_id", BigInteger, ForeignKey("registered_models.id"), primary_key=True),
    # The event's id orders the history; an event is written once and never changed.
    Column("event_id", ordered_text(128), primary_key=True),
    Column("event", Text, nullable=False),  # JSON: type, time, user, version, key, from, to
)


# -- authentication and authorization (revision 0002_auth) ---------------------------------------
# `users` (a scrypt hash of the password, for the web UI's sign-in), `groups` and `members`,
# `tokens` (only the sha256 of each token's secret), `grants` (a role on one experiment or
# model, to a user or a group), `owners` (who created each experiment and model, and the
# role every signed-in user has on it) and `settings` (the default role for new experiments,
# the key that signs session cookies). Roles are numbers: 1 reader, 2 writer, 3 maintainer,
# 4 owner.

users = Table(
    "users",
    metadata,
    Column("name", ordered_text(256), primary_key=True),
    Column("password", Text, nullable=True),  # scrypt$n$r$p$salt$hash, or NULL: no web login
    Column("admin", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

groups = Table(
    "groups",
    metadata,
    Column("name", ordered_text(256), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
)

members = Table(
    "members",
    metadata,
    Column("group_name", ordered_text(256), ForeignKey("groups.name"), primary_key=True),
    Column("user_name", ordered_text(256), ForeignKey("users.name"), primary_key=True),
    Index("ix_members_user", "user_name"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(16), primary_key=True),  # public: shown by `token list`, for revoke
    Column("hash", String(64), nullable=False, unique=True),  # sha256 of the secret, hex
    Column("owner", ordered_text(256), ForeignKey("users.name"), nullable=False),
    Column("scope", String(8), nullable=False),  # read | write
    Column("note", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked", Boolean, nullable=False),
)

grants = Table(
    "grants",
    metadata,
    Column("kind", String(16), primary_key=True),  # experiment | model
    Column("key", ordered_text(256), primary_key=True),  # experiment id, model name
    Column("principal_kind", String(8), primary_key=True),  # user | group
    Column("principal", ordered_text(256), primary_key=True),
    Column("role", Integer, nullable=False),
    Index("ix_grants_principal", "principal_kind", "principal", "kind"),
)

owners = Table(
    "owners",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("key", ordered_text(256), primary_key=True),
    Column("owner", ordered_text(256), nullable=True),
    # The role every signed-in user has (0: none), from the default at creation.
    Column("everyone", Integer, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# -- MLflow's REST API (revision 0003_mlflow) ------------------------------------------------------

deleted_experiments = Table(
    "deleted_experiments",
    metadata,
    Column("experiment_id", String(64), ForeignKey("experiments.id"), primary_key=True),
    Column("deleted_at", BigInteger, nullable=False),
)

deleted_runs = Table(
    "deleted_runs",
    metadata,
    Column("run_id", ordered_text(64), ForeignKey("runs.id"), primary_key=True),
    Column("deleted_at", BigInteger, nullable=False),
)

logged_models = Table(
    "logged_models",
    metadata,
    Column("id", ordered_text(64), primary_key=True),
    Column("experiment_id", String(64), ForeignKey("experiments.id"), nullable=False),
    Column("name", ordered_text(256), nullable=False),
    Column("source_run_id", String(64), nullable=True),
    Column("status", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("document", Text, nullable=False),  # JSON: model_type, tags, params, metrics, ...
    Index("ix_logged_models_experiment_created", "experiment_id", "created_at", "id"),
    Index("ix_logged_models_run", "source_run_id"),
)

run_links = Table(
    "run_links",
    metadata,
    Column("run_id", String(64), ForeignKey("runs.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),  # dataset, model_input or model_output
    Column("key", String(512), primary_key=True),  # dataset name+digest, or the model id
    Column("document", Text, nullable=False),
)
