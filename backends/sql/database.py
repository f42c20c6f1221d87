"""Engines for the SQL store and its schema migrations (Alembic, shipped in the package)."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from autolog._search import like_regex
from autolog.backends.sql.schema import SCHEMA_REVISION
from autolog.errors import InvalidValueError, StoreError

__all__ = [
    "check_schema",
    "current_revision",
    "make_engine",
    "shown_url",
    "upgrade",
    "write_transaction",
]

logger = logging.getLogger("autolog")

_MIGRATIONS = Path(__file__).with_name("migrations")

# SQLite has one writer at a time. Threads of one process that all ask SQLite for the write
# lock wait in its busy handler, which sleeps (1, 2, 5, ... 100 ms) instead of waking when
# the lock is free: measured with 8 clients logging, a quarter of the server's time went
# there. So the threads of a process take turns on this lock first, and SQLite's busy
# timeout is left to arbitrate between processes only.
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
# A SQLite store copies the pages its commits appended to the write-ahead log back into the
# database file at checkpoints, each ending with an fsync. By default the commit that takes
# the log past 1,000 pages does it, holding the write lock: measured with the server's
# ingest, that was a third of the time per run. A server moves them instead from a thread of
# its own, off the write path, every `_CHECKPOINT_EVERY` seconds after a write (a page
# changed by many commits in between is copied once); the commit's checkpoint stays as a
# backstop, far out, should the thread fall behind.
_CHECKPOINTERS: weakref.WeakKeyDictionary[Engine, _Checkpointer] = weakref.WeakKeyDictionary()
_CHECKPOINT_EVERY = 0.5
_BACKSTOP_PAGES = 20_000
# SQLite connections are cheap to keep and dearer to open (a file, four pragmas, a function):
# enough for every thread of the server's pool (anyio's 40) so none is opened per request.
_SQLITE_POOL = 40


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Transactions are begun by the hook below, not by the driver, so that a write can
    # take the write lock up front (BEGIN IMMEDIATE) instead of failing to upgrade a
    # read lock when another process writes at the same time.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each WAL checkpoint
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Reads of a large store go through the OS page cache without a copy per page.
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.close()
    # SQLite's LIKE ignores ASCII case: search calls this instead (see sql/search.py).
    dbapi_connection.create_function("autolog_like", 3, _like, deterministic=True)


class _Checkpointer:
    """A thread that checkpoints a SQLite database's write-ahead log after writes.

    PASSIVE checkpoints: they copy what no reader still needs and never wait for or block
    a writer. The thread stops when the engine is disposed.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.written = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="autolog-checkpoints", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while True:
                self.written.wait()
                if self.stopped.wait(_CHECKPOINT_EVERY):
                    return
                self.written.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # a locked or busy database: the next one will do
                    logger.debug("autolog: checkpoint of %s failed: %s", self.path, exc)
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopped.set()
        self.written.set()


def _like(value: str | None, pattern: str, ignore_case: int) -> int | None:
    if value is None:
        return None
    return 1 if like_regex(pattern, bool(ignore_case)).fullmatch(value) else 0


def _on_sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, pool_size: int = 5, *, background_checkpoints: bool = False) -> Engine:
    """Build the engine for `sqlite:///path.db` or `postgresql://user@host:port/db`.

    Write transactions pass the execution option `write=True`. `background_checkpoints`
    (for a long-lived process such as the server, on a SQLite file) moves the write-ahead
    log's checkpoints from the commits to a thread (see `_CHECKPOINTERS`).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidValueError(
            f"store URL {url!r} is not a database URL; use sqlite:///path/to/autolog.db or"
            " postgresql://user:password@host:5432/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        pool: dict[str, Any] = {}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            pool = {"pool_size": _SQLITE_POOL, "max_overflow": _SQLITE_POOL}
        # (An in-memory database has one connection per thread: no pool to size.)
        engine = create_engine(parsed, connect_args={"check_same_thread": False}, **pool)
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        _WRITE_LOCKS[engine] = threading.RLock()
        if background_checkpoints and pool:
            _checkpoint_in_background(engine, str(Path(str(parsed.database)).expanduser()))
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
    raise InvalidValueError(
        f"store URL {url!r} names the database {backend!r}; autolog's server supports"
        " sqlite:///path.db and postgresql://..."
    )


def _checkpoint_in_background(engine: Engine, path: str) -> None:
    checkpointer = _CHECKPOINTERS[engine] = _Checkpointer(path)

    def far_backstop(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={_BACKSTOP_PAGES}").close()

    event.listen(engine, "connect", far_backstop)
    event.listen(engine, "engine_disposed", lambda _conn: checkpointer.stop())


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction: the write lock up front on SQLite.

    On SQLite the threads of this process take turns first (see `_WRITE_LOCKS`).
    """
    lock = _WRITE_LOCKS.get(engine)
    if lock is None:
        with engine.execution_options(write=True).begin() as conn:
            yield conn
        return
    with lock, engine.execution_options(write=True).begin() as conn:
        yield conn
    checkpointer = _CHECKPOINTERS.get(engine)
    if checkpointer is not None:
        checkpointer.written.set()


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def upgrade(engine: Engine) -> str:
    """Bring the database's schema up to the code's revision; return that revision."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")
    return SCHEMA_REVISION


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at, or None for a database never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_schema(engine: Engine, url: str) -> None:
    """Raise StoreError naming the command to run unless the database is at our revision."""
    revision = current_revision(engine)
    if revision == SCHEMA_REVISION:
        return
    if revision is None:
        state = "has no autolog schema yet"
    else:
        state = f"is at schema revision {revision}, and this autolog expects {SCHEMA_REVISION}"
    shown = shown_url(url)
    raise StoreError(
        f"the database {shown} {state}; run `autolog server db upgrade --store {shown}`"
        " once (with one replica, before starting the others), then start the server again"
    )


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
