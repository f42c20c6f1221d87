"""The change log of a remote layout store: how its index learns what changed in O(changes).

Listing every run marker of a bucket costs one request per 1,000 runs, on every read. So
writers to a remote store (S3) announce each change, before they make it, with an empty
object whose key says what changes::

    changes/<ns>.<exp_id>                        an experiment was created
    changes/<ns>.<exp_id>.<run_id>               a run is being created
    changes/<ns>.<exp_id>.<run_id>.<batch>       a batch (its name without .json) is being written

`<ns>` is the writer's clock in nanoseconds, 20 digits, taken at each attempt, so the keys
sort roughly in the order they appear. A reader lists only the keys after the start of its
previous listing less a margin, `WINDOW_NS` (S3's `StartAfter`): one request when nothing
changed, whatever the store holds. The margin covers a writer whose clock is behind the
reader's, and the time a write takes to land; keys seen within it are remembered
(`changes_seen`), so each is handled once.

An entry is settled once the run read back holds what it announced (the run exists; the
batch is among its batches). Until then it is read again at every read: a writer that
died between announcing a batch and writing it costs readers that for `WINDOW_NS` after
they first saw it, and one that died between writing a batch and anything after it leaves
nothing unindexed.

The marker listing of `_index` stays the way in: a new index is built from it; it is run
again every `RELIST_NS`, for writers of earlier versions (which replace a run's marker
instead), together with a listing of the log from `LAGGING_NS` before the previous one,
for writers whose clock is behind by more than the margin; and on every read of a store
that has no change log at all. Nothing deletes old entries: a reader never lists them
again, and an empty object costs next to nothing.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from autolog.backends._objects import ObjectStore

__all__ = [
    "CHANGES",
    "LAGGING_NS",
    "RELIST_NS",
    "WINDOW_NS",
    "Change",
    "change_key",
    "parse_change",
    "transaction",
]

CHANGES = "changes"
#: How far behind the start of its previous listing a reader lists again.
WINDOW_NS = 300 * 10**9
#: How often a reader of a store with a change log lists every marker anyway, and the log
#: again from `LAGGING_NS` before the previous time it did.
RELIST_NS = 3600 * 10**9
#: S3 refuses a request signed more than 15 minutes off its clock, so the clocks of two
#: clients that reach it differ by at most 30.
LAGGING_NS = 35 * 60 * 10**9


def change_key(exp_id: str, run_id: str | None = None, batch: str | None = None) -> str:
    """The key announcing a change to an experiment, a run, or a run's batch (by name)."""
    parts = [f"{time.time_ns():020d}", exp_id]
    if run_id is not None:
        parts.append(run_id)
        if batch is not None:
            parts.append(batch.removesuffix(".json"))
    return f"{CHANGES}/{'.'.join(parts)}"


@dataclass(frozen=True)
class Change:
    key: str
    ns: int
    exp_id: str
    run_id: str | None
    #: the batch's name (with .json), None for a creation
    batch: str | None


def parse_change(key: str) -> Change | None:
    """The change a key announces; None for a key that is not one (left alone)."""
    parts = key.removeprefix(f"{CHANGES}/").split(".")
    if not 2 <= len(parts) <= 4 or not parts[0].isdigit() or not all(parts):
        return None
    run_id = parts[2] if len(parts) > 2 else None
    batch = f"{parts[3]}.json" if len(parts) > 3 else None
    return Change(key, int(parts[0]), parts[1], run_id, batch)


class ChangeReader(Protocol):
    """What `catch_up` needs of the index (`_index.RunIndex`)."""

    #: the batches of each run `list_markers` read
    listed_batches: dict[str, frozenset[str]]

    def list_markers(self, con: sqlite3.Connection) -> int:
        """Bring the index up to date from the listing of every marker; runs read."""

    def add_experiments(self, con: sqlite3.Connection, exp_ids: Sequence[str]) -> None:
        """Read and index the experiments of these ids that the index does not hold."""

    def update_runs(
        self, con: sqlite3.Connection, runs: dict[str, tuple[str, str]]
    ) -> dict[str, frozenset[str] | None]:
        """Read and index runs (id -> (experiment id, marker)); the batches each holds,
        None for one that is not a run (yet).
        """


def _meta(con: sqlite3.Connection, key: str) -> int:
    row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else 0


def catch_up(reader: ChangeReader, con: sqlite3.Connection, store: ObjectStore) -> int:
    """Bring the index of a remote store up to date; return how many runs were read."""
    now = time.time_ns()
    cursor, listed_at = _meta(con, "changes_cursor"), _meta(con, "listed_at")
    has_log = _meta(con, "change_log") == 1
    read = 0
    held: dict[str, frozenset[str]] = {}
    start = cursor - WINDOW_NS
    if not cursor or not has_log or now - listed_at > RELIST_NS:
        # The listing of every marker: a new index, a store without a change log, or the
        # hourly look for what the log cannot tell.
        has_log = has_log or bool(store.list_after(CHANGES, "", limit=1))
        read += reader.list_markers(con)
        held, reader.listed_batches = reader.listed_batches, {}
        _set_meta(con, listed_at=now, change_log=int(has_log), changes_cursor=cursor or now)
        if not has_log:
            return read
        # The log again from further back, for writers whose clock is behind by more than
        # the margin; a new index has just read every run.
        start = min(start, listed_at - LAGGING_NS) if cursor else now - WINDOW_NS
    bound = f"{CHANGES}/{max(start, 0):020d}"
    # Entries announced but not yet carried out are listed again until settled.
    pending = con.execute("SELECT MIN(key) FROM changes_seen WHERE settled = 0").fetchone()[0]
    first = parse_change(pending) if pending else None
    if first is not None:
        bound = min(bound, f"{CHANGES}/{first.ns - 1:020d}")
    rows = con.execute("SELECT key, settled, first_seen FROM changes_seen WHERE key > ?", (bound,))
    seen: dict[str, int] = {}
    done: set[str] = set()
    for key, is_settled, first_seen in rows:
        if is_settled:
            done.add(key)
        else:
            seen[key] = first_seen
    changes = [
        c
        for c in map(parse_change, store.list_after(CHANGES, bound))
        if c is not None and c.key not in done
    ]
    # What the marker listing just read settles what it holds, without reading it again.
    settled = {c.key for c in changes if c.run_id in held and _done(c, held.get(c.run_id))}
    runs_read, more = _apply(reader, con, [c for c in changes if c.key not in settled], now, seen)
    settled |= more
    oldest = f"{CHANGES}/{max(now - RELIST_NS - LAGGING_NS - WINDOW_NS, 0):020d}"
    with transaction(con):
        con.executemany(
            "INSERT OR REPLACE INTO changes_seen VALUES (?, 1, ?)",
            [(k, seen.get(k, now)) for k in settled],
        )
        con.executemany(
            "INSERT OR IGNORE INTO changes_seen VALUES (?, 0, ?)",
            [(c.key, now) for c in changes if c.key not in settled],
        )
        # Kept until no listing can reach back to them (the next hourly one included).
        con.execute("DELETE FROM changes_seen WHERE key < ?", (oldest,))
    _set_meta(con, changes_cursor=now)
    return read + runs_read


def _apply(
    reader: ChangeReader,
    con: sqlite3.Connection,
    changes: list[Change],
    now: int,
    first_seen: dict[str, int],
) -> tuple[int, set[str]]:
    """Index what `changes` announce; the number of runs read and the keys settled."""
    if not changes:
        return 0, set()
    reader.add_experiments(con, sorted({c.exp_id for c in changes}))
    runs: dict[str, tuple[str, str]] = {}
    for change in changes:
        if change.run_id is not None:
            runs[change.run_id] = (change.exp_id, f"c:{change.key}")
    held = reader.update_runs(con, runs) if runs else {}
    settled = set()
    for change in changes:
        # An announcement never carried out (its writer died first) is given up on once
        # any late write would have landed.
        late = now - first_seen.get(change.key, now) > WINDOW_NS
        if late or _done(change, held.get(change.run_id or "")):
            settled.add(change.key)
    return len(runs), settled


def _done(change: Change, batches: frozenset[str] | None) -> bool:
    """Whether a run read back, holding `batches` (None: not a run), carries out `change`."""
    if change.run_id is None:
        return True
    return batches is not None and (change.batch is None or change.batch in batches)


def _set_meta(con: sqlite3.Connection, **values: int) -> None:
    with transaction(con):
        con.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in values.items()]
        )


@contextlib.contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[None]:
    """An immediate (write-locking) transaction of the index, rolled back on any error."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
