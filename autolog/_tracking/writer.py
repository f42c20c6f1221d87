"""The background writer: log calls enqueue and return; a thread batches and stores.

Each log call appends a small tuple to a deque (no lock, no wake-up). A daemon
thread wakes every `flush_interval` seconds, or when asked to flush, and turns
everything queued into at most one batch per run. A run's pending work is kept
in order in its own queue: when a write fails, that run's later work waits
behind it and is retried on the next cycle, so nothing is reordered or lost
while the store is down. Records queued and records held for retry both count
against `max_pending`: past it, the logging thread blocks until the writer
catches up or the store recovers (back-pressure, never a silent drop), except
while the process is ending. `flush()` returns False when something could not be
written, so a caller learns that its data is not yet durable.

`sync=True` writes in the calling thread instead, for debugging and for users
who want every call durable when it returns.

Artifact files for a remote store are queued too: `spool()` copies the file into
a private directory (so the caller may change or delete it at once) and an
ARTIFACT_FILE record uploads the copy, then deletes it; a failed upload is
retried like any other write.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autolog.backends.base import Backend, Batch
from autolog.errors import StoreError

__all__ = [
    "ARTIFACT",
    "ARTIFACT_FILE",
    "CALL",
    "CREATE",
    "METRIC",
    "PARAM",
    "STATUS",
    "TAG",
    "Computed",
    "Writer",
]

logger = logging.getLogger("autolog")

# Operation codes of queued records: (op, run_id, ...).
# CALL records carry a function run in the writer thread, in order with the run's records,
# that returns what it computed there (a `Computed`, or None) for the writer to store.
# ARTIFACT_FILE records are (op, run_id, artifact path, spooled copy): see Writer.spool().
CREATE, PARAM, TAG, METRIC, ARTIFACT, STATUS, CALL, FLUSH, ARTIFACT_FILE = range(9)
# A CALL once its function has run: ("computed", Computed). A retry stores it again
# without computing it again.
_COMPUTED = "computed"


@dataclass
class Computed:
    """What a CALL record's function computed in the writer thread, for the run.

    `batch` (tags, say) joins the run's next batch when that is queued right behind the
    call, and is written on its own otherwise; `records` (small artifacts of
    autologging's: plot data) are stored as `put_artifact` stores them, `shared` as
    `put_shared_artifacts` does (bytes many runs store alike).
    """

    batch: Batch | None = None
    records: dict[str, bytes] = field(default_factory=dict)
    shared: dict[str, bytes] = field(default_factory=dict)


_writers: weakref.WeakSet[Writer] = weakref.WeakSet()
_MAX_KEPT_ERRORS = 100
# While the process ends, log calls (a run's final status, its error) must not wait for
# room: the writer is about to be drained, and a store that is down would hang the exit.
_exiting: list[bool] = []


# Work a signal handler could not do because it interrupted a write of this thread's own
# (the writer's lock is not reentrant); run as soon as that write is done.
_deferred: list[Callable[[], None]] = []


def defer_until_written(action: Callable[[], None]) -> None:
    """Run `action` in this thread when its write in progress has finished."""
    _deferred.append(action)


def _run_deferred() -> None:
    while _deferred:
        _deferred.pop(0)()


@contextlib.contextmanager
def exiting() -> Iterator[None]:
    """Within the block, a full queue does not block the logging thread."""
    _exiting.append(True)
    try:
        yield
    finally:
        _exiting.pop()


@dataclass
class _RunQueue:
    # A batch item is ("batch", Batch, [records in it]); any other item is one record.
    items: collections.deque[tuple[Any, ...]] = field(default_factory=collections.deque)
    batch: Batch | None = None
    batch_records: list[int] = field(default_factory=lambda: [0])


def _next_batch(items: collections.deque[tuple[Any, ...]]) -> tuple[Any, ...] | None:
    """The batch right behind the head of `items`, past artifacts only; else None."""
    for item in itertools.islice(items, 1, None):
        if item[0] == "batch":
            return item
        if item[0] not in (ARTIFACT, ARTIFACT_FILE):
            return None
    return None


def _computed(result: Any) -> Computed:
    """A CALL's result as a Computed (a bare Batch is its `batch`)."""
    if isinstance(result, Computed):
        return result
    return Computed(batch=result if isinstance(result, Batch) else None)


def _records_in(item: tuple[Any, ...]) -> int:
    kind = item[0]
    if kind == "batch":
        count: int = item[2][0]
        return count
    return 0 if kind == "finish" else 1


class Writer:
    """Batches log records per run and writes them to one backend."""

    def __init__(
        self,
        backend: Backend,
        *,
        flush_interval: float = 1.0,
        max_pending: int = 200_000,
        sync: bool = False,
        compact_every: int = 200,
    ) -> None:
        self.backend = backend
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.sync = sync
        self.compact_every = compact_every
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self._runs: dict[str, _RunQueue] = {}
        # Records taken off the queue and not yet written (held for retry while a store
        # is down); they count against max_pending so that memory stays bounded.
        self._held = 0
        self._flushes: dict[str, int] = {}
        self._wake = threading.Event()
        self._drained = threading.Condition()
        self._process_lock = threading.Lock()
        self._writing_thread: int | None = None  # the ident of the thread inside _cycle
        self._thread: threading.Thread | None = None
        self._closed = False
        self._errors: list[BaseException] = []
        self._reported: set[str] = set()
        self._spool_dir: Path | None = None
        self._spool_lock = threading.Lock()
        _writers.add(self)

    # -- producer side ---------------------------------------------------------------------

    def submit(self, record: tuple[Any, ...]) -> None:
        """Queue one record; in sync mode, write it before returning."""
        self._queue.append(record)
        self._after_enqueue()

    def submit_many(self, records: list[tuple[Any, ...]]) -> None:
        """Queue several records at once, in order; in sync mode, write them first."""
        self._queue.extend(records)
        self._after_enqueue()

    def _after_enqueue(self) -> None:
        if self.sync:
            self._cycle()
            return
        if self._thread is None:
            self._start()
        if len(self._queue) + self._held >= self.max_pending:
            self._wait_for_room()

    def spool(self, src: Path) -> Path:
        """Copy the file `src` into this writer's spool directory; return the copy.

        The copy is what an ARTIFACT_FILE record uploads, so the caller may change or
        delete `src` as soon as this returns. Raises StoreError if it cannot be made.
        """
        with self._spool_lock:
            if self._spool_dir is None or not self._spool_dir.is_dir():
                self._spool_dir = Path(tempfile.mkdtemp(prefix="autolog-spool-"))
            copy = self._spool_dir / f"{uuid.uuid4().hex}{src.suffix[:16]}"
        try:
            shutil.copyfile(src, copy)
        except OSError as exc:
            with contextlib.suppress(OSError):
                copy.unlink()
            raise StoreError(
                f"cannot copy {str(src)!r} into autolog's spool directory {copy.parent} before"
                f" uploading it to {self.backend.uri}: {exc}. Check that the file is readable"
                " and that the temporary directory (TMPDIR) has room for it"
            ) from exc
        return copy

    def _start(self) -> None:
        with self._process_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="autolog-writer", daemon=True
                )
                self._thread.start()

    def _wait_for_room(self) -> None:
        with self._drained:
            while (
                len(self._queue) + self._held >= self.max_pending
                and not self._closed
                and not _exiting
                and threading.current_thread() is not self._thread
            ):
                self._wake.set()
                self._drained.wait(timeout=1.0)

    def flush(self, timeout: float | None = None) -> bool:
        """Write everything queued so far; return False if some of it could not be written.

        False means the store failed (the data is kept and retried) or `timeout` passed.
        """
        if self.sync or self._thread is None:
            self._cycle()
            return not self.pending()
        done = threading.Event()
        result: list[bool] = []
        self._queue.append((FLUSH, "", done, result))
        self._wake.set()
        return done.wait(timeout) and all(result)

    def pending(self) -> int:
        """Records queued or held for retry."""
        return len(self._queue) + self._held

    def take_errors(self) -> list[BaseException]:
        errors, self._errors = self._errors, []
        return errors

    # -- consumer side ---------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self._cycle()
            except Exception:
                logger.exception("autolog's writer failed; it keeps running")
        self._thread = None

    def writing_in_this_thread(self) -> bool:
        """True inside a write of this thread's own (as seen from a signal handler)."""
        return self._writing_thread == threading.get_ident()

    def _cycle(self) -> None:
        with self._process_lock:
            self._writing_thread = threading.get_ident()
            try:
                flushes = self._drain()
                self._write_all()
            finally:
                self._writing_thread = None
            # Anything still held failed to write: a flush waiting on it has not succeeded.
            ok = not self._runs
        with self._drained:
            self._drained.notify_all()
        for event, result in flushes:
            result.append(ok)
            event.set()
        if _deferred and threading.current_thread() is threading.main_thread():
            _run_deferred()

    def _drain(self) -> list[tuple[threading.Event, list[bool]]]:
        flushes: list[tuple[threading.Event, list[bool]]] = []
        queue, runs = self._queue, self._runs
        popleft = queue.popleft
        taken = 0
        # Only what is queued now: busy producers must not keep this cycle from writing.
        for _ in range(len(queue)):
            record = popleft()
            op, run_id = record[0], record[1]
            if op == FLUSH:
                flushes.append((record[2], record[3]))
                continue
            taken += 1
            rq = runs.get(run_id)
            if rq is None:
                rq = runs[run_id] = _RunQueue()
            if op in (PARAM, TAG, METRIC) or (op == STATUS and rq.batch is not None):
                batch = rq.batch
                if batch is None:
                    batch = rq.batch = Batch()
                    rq.batch_records = [0]
                    rq.items.append(("batch", batch, rq.batch_records))
                rq.batch_records[0] += 1
                if op == METRIC:
                    points = batch.metrics.get(record[2])
                    if points is None:
                        points = batch.metrics[record[2]] = []
                    points.append(record[3:6])
                elif op == PARAM:
                    batch.params.setdefault(record[2], record[3])
                elif op == TAG:
                    batch.tags[record[2]] = record[3]
                else:
                    batch.status, batch.end_time = record[2], record[3]
                    rq.items.append(("finish",))
                    rq.batch = None
            elif op in (ARTIFACT, ARTIFACT_FILE) and rq.batch is not None:
                # Written just before the run's open batch (the last item), which stays
                # open: a fit that logs artifacts between its params and metrics still
                # makes one batch, and no record is written before an artifact it may name.
                rq.items.insert(len(rq.items) - 1, record)
            else:
                # Creation, calls and a status with nothing before it keep their place
                # (a call sees every record before it written): later records start a
                # new batch after them.
                rq.batch = None
                if op == STATUS:
                    batch = Batch(status=record[2], end_time=record[3])
                    rq.items.append(("batch", batch, [1]))
                    rq.items.append(("finish",))
                else:
                    rq.items.append(record)
        self._held += taken
        return flushes

    def _write_all(self) -> None:
        whole = self.backend.whole_runs
        for run_id in list(self._runs):
            rq = self._runs[run_id]
            rq.batch = None  # a batch handed to the store is complete
            while rq.items:
                item = rq.items[0]
                try:
                    if whole and item[0] == CREATE and self._write_whole(run_id, rq.items):
                        continue
                    self._write(run_id, item, rq.items)
                except Exception as exc:  # noqa: BLE001 - kept for retry and reported once
                    self._report(run_id, item, exc)
                    break
                rq.items.popleft()
                self._held -= _records_in(item)
            if not rq.items:
                del self._runs[run_id]

    def _write_whole(self, run_id: str, items: collections.deque[tuple[Any, ...]]) -> bool:
        """Write a run queued whole (its creation up to its end) with one `write_run`.

        False, writing nothing, when the queue does not hold the whole run (its end is not
        queued yet, or a spooled file is among its records). On success the records are
        taken off the queue; on failure they stay, the calls among them computed once.
        """
        end = None
        for i, item in enumerate(itertools.islice(items, 1, None), start=1):
            kind = item[0]
            if kind == "finish":
                end = i
                break
            if kind not in ("batch", CALL, _COMPUTED, ARTIFACT):
                return False
        if end is None:
            return False
        batch = Batch()
        artifacts: dict[str, bytes] = {}
        records: dict[str, bytes] = {}
        shared: dict[str, bytes] = {}
        for i in range(1, end):
            item = items[i]
            if item[0] == CALL:
                item = items[i] = (_COMPUTED, _computed(item[2]()))
            if item[0] == _COMPUTED:
                computed: Computed = item[1]
                if computed.batch is not None:
                    batch = batch.followed_by(computed.batch)
                records.update(computed.records)
                shared.update(computed.shared)
            elif item[0] == ARTIFACT:
                # (ARTIFACT, run, path, bytes[, True: a record of autologging's])
                (records if item[4:5] == (True,) else artifacts)[item[2]] = item[3]
            else:
                batch = batch.followed_by(item[1])
        self.backend.write_run(
            items[0][2], batch, artifacts=artifacts, records=records, shared=shared
        )
        for _ in range(end + 1):
            self._held -= _records_in(items.popleft())
        self._flushes.pop(run_id, None)
        return True

    def _write(
        self, run_id: str, item: tuple[Any, ...], items: collections.deque[tuple[Any, ...]]
    ) -> None:
        kind = item[0]
        if kind == "batch":
            self.backend.write_batch(run_id, item[1])
            # Counted per run across cycles, so that a long run is compacted now and then.
            flushes = self._flushes.get(run_id, 0) + 1
            self._flushes[run_id] = flushes
            if flushes % self.compact_every == 0:
                # The batch is written: a failed compaction must not have it written twice.
                try:
                    self.backend.finish_run(run_id)
                except Exception as exc:  # noqa: BLE001 - compaction is retried next time
                    self._report(run_id, item, exc)
        elif kind == "finish":
            self.backend.finish_run(run_id)
            self._flushes.pop(run_id, None)
        elif kind == CREATE:
            self.backend.create_run(item[2])
        elif kind == ARTIFACT:
            self.backend.put_artifact(run_id, item[2], item[3])
        elif kind == ARTIFACT_FILE:
            self._upload_spooled(run_id, item[2], item[3])
        elif kind in (CALL, _COMPUTED):
            if kind == CALL:
                # Kept computed: a store that fails below is retried without computing again.
                items[0] = item = (_COMPUTED, _computed(item[2]()))
            computed: Computed = item[1]
            if computed.shared:
                self.backend.put_shared_artifacts(run_id, computed.shared)
            for path, data in computed.records.items():
                self.backend.put_artifact(run_id, path, data)
            extra = computed.batch
            if extra is not None and not extra.is_empty():
                following = _next_batch(items)
                if following is not None:
                    # One object instead of two: a short run then has a single batch.
                    following[1].prepend(extra)
                else:
                    self.backend.write_batch(run_id, extra)

    def _upload_spooled(self, run_id: str, path: str, copy: Path) -> None:
        if not copy.is_file():
            # Removed behind our back (a temp cleaner, or close() gave up on it): retrying
            # could never succeed and would hold up every later write of the run.
            logger.error(
                "autolog lost artifact %r of run %s: its spooled copy %s is gone",
                path,
                run_id,
                copy,
            )
            return
        self.backend.put_artifact_file(run_id, path, copy)
        with contextlib.suppress(OSError):
            copy.unlink()

    def _report(self, run_id: str, item: tuple[Any, ...], exc: Exception) -> None:
        if len(self._errors) < _MAX_KEPT_ERRORS:
            self._errors.append(exc)
        signature = f"{type(exc).__name__}:{run_id}"
        if signature not in self._reported:
            self._reported.add(signature)
            logger.warning(
                "autolog could not write to %s (run %s): %s; the data is kept in memory and"
                " retried every %.1fs",
                self.backend.uri,
                run_id,
                exc,
                self.flush_interval,
            )

    # -- shutdown --------------------------------------------------------------------------

    def close(self, timeout: float = 30.0) -> None:
        """Flush, stop the thread and report anything that could not be written."""
        deadline = time.monotonic() + timeout
        while True:
            self.flush(max(0.0, deadline - time.monotonic()))
            if not self.pending() or time.monotonic() >= deadline:
                break
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        thread = self._thread
        self._closed = True
        self._wake.set()
        if thread is not None:
            thread.join(timeout=5.0)
        self._closed = False  # a record submitted after close starts a new thread
        left = self.pending()
        if left:
            logger.error(
                "autolog could not write %d records to %s before exit; they are lost",
                left,
                self.backend.uri,
            )
        with self._spool_lock:
            spool, self._spool_dir = self._spool_dir, None
        if spool is not None:
            # Spooled files of records that could not be written are lost with them.
            shutil.rmtree(spool, ignore_errors=True)

    def _after_fork_in_child(self) -> None:
        # The parent's queue and thread are not ours: the parent writes its own records.
        self._queue = collections.deque()
        self._runs = {}
        self._held = 0
        self._flushes = {}
        self._writing_thread = None
        self._thread = None
        self._wake = threading.Event()
        self._drained = threading.Condition()
        self._process_lock = threading.Lock()
        # The spool directory is the parent's, emptied and removed by the parent.
        self._spool_dir = None
        self._spool_lock = threading.Lock()


def _reset_after_fork() -> None:
    for writer in list(_writers):
        writer._after_fork_in_child()


os.register_at_fork(after_in_child=_reset_after_fork)
