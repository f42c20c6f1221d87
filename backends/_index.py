"""The derived index of a layout store: an SQLite file that listing and searching read.

The objects of `autolog.backends._layout` stay the only source of truth; this index
holds a summary of every run (attributes, params, tags, the latest value of each
metric) so that `autolog runs`, `autolog experiments` and `search_runs` read one
file instead of every run. It lives where the store says (`ObjectStore.index_location`):
`<store>/.index.sqlite` for a directory, the user's cache for a bucket, memory for
`memory:`.

How it stays current: in a directory every batch write first replaces the run's marker
`experiment-runs/<exp>/<run>`. Before each read the index compares stamps: the stamp
of each `experiment-runs/<exp>` folder (a directory's mtime; skipped while it is too
recent to trust), then, for a folder that changed, the stamp of every marker in it
(inode and mtime; one under 2 s old is read again next time, as its batch may still be
landing). Only runs whose marker changed are read again. A bucket's writers announce
changes in a change log instead, which readers list from where they left off
(`autolog.backends._index_changes`); the marker listing (ETags) builds a new index there.
Writers never open the index, so no lock is held across a training; readers
update it in short transactions (WAL mode, so readers never wait for each other), and
two readers updating at once write the same rows.

It is rebuilt from the objects when it is missing, unreadable or of another schema
version, and the user is told once (a warning on the "autolog" logger), unless the
store holds no runs yet.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from autolog._entities import Experiment
from autolog.backends import _index_changes
from autolog.backends._index_changes import transaction as _transaction
from autolog.backends._objects import ObjectNotFound, ObjectStore

__all__ = ["SCHEMA_VERSION", "IndexSource", "IndexedRun", "RunIndex", "number_or_none"]

logger = logging.getLogger("autolog")

#: Raised whenever the tables change; an index of another version is rebuilt.
SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL, tags TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stamps (prefix TEXT PRIMARY KEY, stamp TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, experiment_id TEXT NOT NULL,
    name TEXT NOT NULL, status TEXT NOT NULL, start_time INTEGER NOT NULL, end_time INTEGER,
    parent_id TEXT, marker TEXT NOT NULL, damaged TEXT);
CREATE INDEX IF NOT EXISTS runs_newest ON runs (start_time DESC, id);
CREATE INDEX IF NOT EXISTS runs_experiment ON runs (experiment_id);
CREATE TABLE IF NOT EXISTS keys (kid INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS params (
    rid INTEGER NOT NULL, kid INTEGER NOT NULL, value TEXT NOT NULL, value_num REAL,
    PRIMARY KEY (rid, kid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tags (
    rid INTEGER NOT NULL, kid INTEGER NOT NULL, value TEXT NOT NULL, value_num REAL,
    PRIMARY KEY (rid, kid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS metrics (
    rid INTEGER NOT NULL, kid INTEGER NOT NULL, value REAL, is_nan INTEGER NOT NULL,
    step INTEGER NOT NULL, timestamp INTEGER NOT NULL,
    PRIMARY KEY (rid, kid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS metrics_key ON metrics (kid, value);
CREATE TABLE IF NOT EXISTS changes_seen (
    key TEXT PRIMARY KEY, settled INTEGER NOT NULL, first_seen INTEGER NOT NULL) WITHOUT ROWID;
"""
_TABLES = ("meta", "experiments", "stamps", "runs", "keys", "params", "tags", "metrics",
           "changes_seen")  # fmt: skip
# Runs written per transaction while the index catches up: short, so readers never wait.
_CHUNK = 500
_READERS = 16  # parallel reads of changed runs from a remote store


def number_or_none(text: str) -> float | None:
    """`text` as a float when it parses as one and is not NaN (the search's numeric rule)."""
    try:
        number = float(text)
    except ValueError:
        return None
    return None if math.isnan(number) else number


@dataclass
class IndexedRun:
    """What the index keeps of a run, as read from its objects."""

    id: str
    experiment_id: str
    name: str
    status: str
    start_time: int
    end_time: int | None
    parent_id: str | None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: key -> (value, step, timestamp) of the latest point
    metrics: dict[str, tuple[float, int, int]] = field(default_factory=dict)
    #: keys of objects of the run that could not be read (damaged), with the reason
    damaged: dict[str, str] = field(default_factory=dict)
    #: the names of the batches the state holds
    batches: frozenset[str] = frozenset()


class IndexSource(Protocol):
    """What the index reads runs from: the layout backend."""

    store: ObjectStore

    def read_indexed_run(self, run_id: str) -> IndexedRun | None:
        """The run as the index keeps it, or None when it is not (yet) a run."""


class IndexUnavailable(Exception):
    """The index cannot be used now; the caller reads the objects instead."""


class RunIndex:
    """The SQLite index of one store (see the module docstring)."""

    def __init__(self, location: str, source: IndexSource) -> None:
        self.location = location
        self.source = source
        self._lock = threading.RLock()
        self._con: sqlite3.Connection | None = None
        self._pid = 0
        #: Why the index was (re)built on opening, reported once runs are found.
        self._rebuilt: str | None = None
        #: The batches of each run read by the last `list_markers`, by run id.
        self.listed_batches: dict[str, frozenset[str]] = {}

    # -- connection ------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(
            self.location, timeout=60, isolation_level=None, check_same_thread=False
        )
        try:
            con.execute("PRAGMA busy_timeout = 60000")
            if self.location != ":memory:":
                con.execute("PRAGMA journal_mode = WAL")
            # A lost index is rebuilt, so a power loss may cost it: no fsync per commit.
            con.execute("PRAGMA synchronous = OFF")
            register_functions(con)
            row = None
            with contextlib.suppress(sqlite3.OperationalError):  # no meta table yet
                row = con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            if row is None:
                self._create(con, "missing" if self._rebuilt is None else self._rebuilt)
            elif row[0] != str(SCHEMA_VERSION):
                self._create(
                    con, f"of schema version {row[0]}, this autolog reads {SCHEMA_VERSION}"
                )
        except BaseException:
            con.close()
            raise
        return con

    def _create(self, con: sqlite3.Connection, why: str) -> None:
        con.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have built it while we waited for the lock.
            row = None
            with contextlib.suppress(sqlite3.OperationalError):
                row = con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            if row is not None and row[0] == str(SCHEMA_VERSION):
                con.execute("COMMIT")
                return
            for table in _TABLES:
                con.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    con.execute(statement)
            con.execute(
                "INSERT INTO meta VALUES ('version', ?), ('store', ?)",
                (str(SCHEMA_VERSION), self.source.store.uri),
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._rebuilt = why

    def discard(self, why: str) -> None:
        """Remove the index file, so that the next connection builds a new one."""
        if self._con is not None:
            with contextlib.suppress(sqlite3.Error):
                self._con.close()
            self._con = None
        if self.location != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    Path(self.location + suffix).unlink()
        self._rebuilt = why

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The connection, current with the store; IndexUnavailable when it cannot be had.

        A damaged index file is removed and built again once per call.
        """
        with self._lock:
            for attempt in range(2):
                try:
                    if self._con is None or self._pid != os.getpid():
                        self._con = None
                        self._con = self._connect()
                        self._pid = os.getpid()
                    self._refresh(self._con)
                    break
                except sqlite3.DatabaseError as exc:
                    if attempt or (
                        isinstance(exc, sqlite3.OperationalError)
                        and ("locked" in str(exc) or "busy" in str(exc))
                    ):
                        raise IndexUnavailable(f"index {self.location}: {exc}") from exc
                    self.discard(f"unreadable ({exc})")
                except OSError as exc:
                    raise IndexUnavailable(f"index {self.location}: {exc}") from exc
            assert self._con is not None
            try:
                yield self._con
            except sqlite3.DatabaseError as exc:
                self.discard(f"unreadable ({exc})")
                raise IndexUnavailable(f"index {self.location}: {exc}") from exc

    def ensure_exists(self) -> None:
        """Create the index file if there is none, so that a reader finding none later knows
        it was lost (and says so) rather than never built. Failing here costs nothing: the
        index is derived.
        """
        if self.location == ":memory:" or Path(self.location).exists():
            return
        with self._lock, contextlib.suppress(sqlite3.Error, OSError):
            if self._con is None or self._pid != os.getpid():
                self._con = self._connect()
                self._pid = os.getpid()
            self._rebuilt = None

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._con.close()
                self._con = None

    # -- keeping current -------------------------------------------------------------------

    def _stamp(self, con: sqlite3.Connection, prefix: str) -> str | None:
        row = con.execute("SELECT stamp FROM stamps WHERE prefix = ?", (prefix,)).fetchone()
        return row[0] if row else None

    def _refresh(self, con: sqlite3.Connection) -> None:
        store = self.source.store
        if store.local:
            total_read = self.list_markers(con)
        else:
            total_read = _index_changes.catch_up(self, con, store)
        if self._rebuilt is not None:
            if total_read and self.location != ":memory:":
                logger.warning(
                    "autolog: the index of %s was %s; rebuilt it from the store's objects"
                    " (%d runs). The runs themselves were not affected.",
                    store.uri,
                    self._rebuilt,
                    total_read,
                )
            self._rebuilt = None

    def list_markers(self, con: sqlite3.Connection) -> int:
        """Bring the index up to date from the run markers; return how many runs were read."""
        store = self.source.store
        self.listed_batches = {}
        stamp = store.prefix_stamp("experiments")
        if stamp is None or stamp != self._stamp(con, "experiments"):
            self._refresh_experiments(con, stamp)
        total_read = 0
        folders = store.list_folders("experiment-runs")
        if folders is None:
            # No cheap stamps: one listing of every marker, split by experiment.
            listing: dict[str, dict[str, str]] = {}
            for key, marker in store.list_stamped("experiment-runs"):
                parts = key.split("/")
                if len(parts) == 3:
                    listing.setdefault(parts[1], {})[parts[2]] = marker
            known = {row[0] for row in con.execute("SELECT DISTINCT experiment_id FROM runs")}
            for exp_id in sorted(known | set(listing)):
                total_read += self._refresh_runs(con, exp_id, listing.get(exp_id, {}))
        else:
            for exp_id in folders:
                total_read += self._refresh_runs(con, exp_id, None)
        return total_read

    def _refresh_experiments(self, con: sqlite3.Connection, stamp: str | None) -> None:
        exp_ids = []
        for key in self.source.store.list("experiments"):
            parts = key.split("/")
            if len(parts) == 3 and parts[2] == "meta.json":
                exp_ids.append(parts[1])
        self.add_experiments(con, exp_ids)
        if stamp is not None:
            with _transaction(con):
                con.execute("INSERT OR REPLACE INTO stamps VALUES ('experiments', ?)", (stamp,))

    def add_experiments(self, con: sqlite3.Connection, exp_ids: Sequence[str]) -> None:
        """Read and index the experiments of these ids that the index does not hold yet."""
        store = self.source.store
        known = {row[0] for row in con.execute("SELECT id FROM experiments")}
        rows = []
        for exp_id in exp_ids:
            if exp_id in known:
                continue
            key = f"experiments/{exp_id}/meta.json"
            try:
                data = json.loads(store.get(key))
                rows.append(
                    (
                        data["id"],
                        data["name"],
                        int(data["created_at"]),
                        json.dumps(data.get("tags", {})),
                    )
                )
            except (ObjectNotFound, ValueError, KeyError, TypeError):
                continue  # damaged: `autolog doctor` reports it
        if rows:
            with _transaction(con):
                con.executemany("INSERT OR REPLACE INTO experiments VALUES (?, ?, ?, ?)", rows)

    def update_runs(
        self, con: sqlite3.Connection, runs: dict[str, tuple[str, str]]
    ) -> dict[str, frozenset[str] | None]:
        """Read runs again (id -> (experiment id, marker)) and index them; the names of the
        batches each holds, None for one that is not a run (yet).
        """
        held: dict[str, frozenset[str] | None] = {}
        ids = list(runs)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            read = self._read_runs(chunk)
            with _transaction(con):
                kids: dict[str, int] = {}
                for run_id, run in zip(chunk, read, strict=True):
                    held[run_id] = None if run is None else run.batches
                    if run is not None:
                        run.experiment_id, marker = runs[run_id]
                        _write_run(con, run, marker, kids)
        return held

    def _refresh_runs(
        self, con: sqlite3.Connection, exp_id: str, listed: dict[str, str] | None
    ) -> int:
        """Bring the runs of one experiment up to date; return how many were read.

        `listed` maps each run of the experiment to its marker's stamp; None to list them
        here, when the folder changed since the last look.
        """
        store = self.source.store
        prefix = f"experiment-runs/{exp_id}"
        stamp = None
        if listed is None:
            stamp = store.prefix_stamp(prefix)
            if stamp is not None and stamp == self._stamp(con, prefix):
                return 0
            listed = {key.rsplit("/", 1)[1]: st for key, st in store.list_stamped(prefix)}
        known = dict(con.execute("SELECT id, marker FROM runs WHERE experiment_id = ?", (exp_id,)))
        # A run indexed from a change log is as current as that log: its marker, as the
        # run's creation wrote it, is only taken note of.
        adopted = [
            (st, run_id)
            for run_id, st in listed.items()
            if known.get(run_id, "").startswith("c:") and not st.startswith("~")
        ]
        known.update((run_id, st) for st, run_id in adopted)
        changed = [run_id for run_id, st in listed.items() if known.get(run_id) != st]
        gone = [run_id for run_id in known if run_id not in listed]
        # A marker replaced moments ago may announce a batch still being written: the run
        # is read again until its marker has settled.
        complete = not any(listed[run_id].startswith("~") for run_id in changed)
        for start in range(0, len(changed), _CHUNK):
            chunk = changed[start : start + _CHUNK]
            read = self._read_listed(chunk)
            if any(run is None for run in read):
                complete = False  # not a run yet: read again next time
            with _transaction(con):
                kids: dict[str, int] = {}
                for run_id, run in zip(chunk, read, strict=True):
                    if run is not None:
                        run.experiment_id = exp_id  # the folder listing it is authoritative
                        marker = listed[run_id]
                        _write_run(con, run, "~" if marker.startswith("~") else marker, kids)
        with _transaction(con):
            con.executemany("UPDATE runs SET marker = ? WHERE id = ?", adopted)
            for run_id in gone:
                _delete_run(con, run_id)
            if stamp is not None and complete:
                con.execute("INSERT OR REPLACE INTO stamps VALUES (?, ?)", (prefix, stamp))
        return len(changed)

    def _read_runs(self, run_ids: Sequence[str]) -> list[IndexedRun | None]:
        if self.source.store.local or len(run_ids) < 4:
            return [self.source.read_indexed_run(run_id) for run_id in run_ids]
        with ThreadPoolExecutor(_READERS) as pool:
            return list(pool.map(self.source.read_indexed_run, run_ids))

    def _read_listed(self, run_ids: Sequence[str]) -> list[IndexedRun | None]:
        read = self._read_runs(run_ids)
        for run in read:
            if run is not None:
                self.listed_batches[run.id] = run.batches
        return read

    # -- reading ---------------------------------------------------------------------------

    def experiments(self) -> list[Experiment]:
        """Every experiment, oldest first."""
        with self.connection() as con:
            rows = con.execute(
                "SELECT id, name, created_at, tags FROM experiments ORDER BY created_at, name"
            ).fetchall()
        return [Experiment(r[0], r[1], r[2], json.loads(r[3])) for r in rows]


def _delete_run(con: sqlite3.Connection, run_id: str) -> None:
    row = con.execute("SELECT rid FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        return
    for table in ("params", "tags", "metrics"):
        con.execute(f"DELETE FROM {table} WHERE rid = ?", (row[0],))
    con.execute("DELETE FROM runs WHERE rid = ?", (row[0],))


def _kid(con: sqlite3.Connection, key: str, kids: dict[str, int]) -> int:
    """The id of a metric, param or tag key (keys are stored once: they repeat in every run)."""
    kid = kids.get(key)
    if kid is None:
        con.execute("INSERT OR IGNORE INTO keys (key) VALUES (?)", (key,))
        kid = kids[key] = con.execute("SELECT kid FROM keys WHERE key = ?", (key,)).fetchone()[0]
    return kid


def _write_run(con: sqlite3.Connection, run: IndexedRun, marker: str, kids: dict[str, int]) -> None:
    _delete_run(con, run.id)
    damaged = json.dumps(run.damaged) if run.damaged else None
    rid = con.execute(
        "INSERT INTO runs (id, experiment_id, name, status, start_time, end_time, parent_id,"
        " marker, damaged) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (run.id, run.experiment_id, run.name, run.status, run.start_time, run.end_time,
         run.parent_id, marker, damaged),
    ).lastrowid  # fmt: skip
    con.executemany(
        "INSERT INTO params VALUES (?, ?, ?, ?)",
        [(rid, _kid(con, k, kids), v, number_or_none(v)) for k, v in run.params.items()],
    )
    con.executemany(
        "INSERT INTO tags VALUES (?, ?, ?, ?)",
        [(rid, _kid(con, k, kids), v, number_or_none(v)) for k, v in run.tags.items()],
    )
    con.executemany(
        "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)",
        [
            (rid, _kid(con, k, kids), None if math.isnan(v) else v, int(math.isnan(v)), s, t)
            for k, (v, s, t) in run.metrics.items()
        ],
    )


def register_functions(con: sqlite3.Connection) -> None:
    """Add `autolog_like(value, pattern, ignore_case)`: LIKE as the search grammar means it."""
    from autolog._search import like_regex

    cache: dict[tuple[str, int], Any] = {}

    def like(value: object, pattern: str, ignore_case: int) -> int | None:
        if value is None:
            return None
        rx = cache.get((pattern, ignore_case))
        if rx is None:
            rx = cache[(pattern, ignore_case)] = like_regex(pattern, bool(ignore_case))
        return 1 if rx.fullmatch(str(value)) else 0

    con.create_function("autolog_like", 3, like, deterministic=True)
