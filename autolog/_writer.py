"""The background writer: log calls enqueue and return; a thread batches and stores.

Each log call appends a small tuple to a deque (no lock, no wake-up). A daemon
thread wakes every `flush_interval` seconds, or when asked to flush, and turns
everything queued into at most one batch per run. A run's pending work is kept
in order in its own queue: when a write fails, that run's later work waits
behind it and is retried on the next cycle, so nothing is reordered or lost
while the store is down. A full queue blocks the logging thread until the
writer catches up (back-pressure, never a silent drop).

`sync=True` writes in the calling thread instead, for debugging and for users
who want every call durable when it returns.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from autolog._backend import Backend, Batch

__all__ = ["ARTIFACT", "CALL", "CREATE", "METRIC", "PARAM", "STATUS", "TAG", "Writer"]

logger = logging.getLogger("autolog")

# Operation codes of queued records: (op, run_id, ...).
# CALL records carry a function run in the writer thread, in order with the run's records.
CREATE, PARAM, TAG, METRIC, ARTIFACT, STATUS, CALL, FLUSH = range(8)

_writers: weakref.WeakSet[Writer] = weakref.WeakSet()


@dataclass
class _RunQueue:
    items: collections.deque[tuple[Any, ...]] = field(default_factory=collections.deque)
    batch: Batch | None = None
    flushes: int = 0


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
        self._wake = threading.Event()
        self._drained = threading.Condition()
        self._process_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._errors: list[BaseException] = []
        self._reported: set[str] = set()
        _writers.add(self)

    # -- producer side ---------------------------------------------------------------------

    def submit(self, record: tuple[Any, ...]) -> None:
        """Queue one record; in sync mode, write it before returning."""
        self._queue.append(record)
        if self.sync:
            self._cycle()
            return
        if self._thread is None:
            self._start()
        if len(self._queue) >= self.max_pending:
            self._wait_for_room()

    def _start(self) -> None:
        with self._process_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="autolog-writer", daemon=True
                )
                self._thread.start()

    def _wait_for_room(self) -> None:
        with self._drained:
            while len(self._queue) >= self.max_pending and not self._closed:
                self._wake.set()
                self._drained.wait(timeout=1.0)

    def flush(self, timeout: float | None = None) -> bool:
        """Write everything queued so far; return False if it did not finish in `timeout`."""
        if self.sync or self._thread is None:
            self._cycle()
            return not self.pending()
        done = threading.Event()
        self._queue.append((FLUSH, "", done))
        self._wake.set()
        return done.wait(timeout)

    def pending(self) -> int:
        """Records queued or held for retry."""
        return len(self._queue) + sum(
            len(q.items) + (q.batch is not None) for q in self._runs.values()
        )

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
            except Exception:  # noqa: BLE001 - the writer thread must outlive any bug
                logger.exception("autolog's writer failed; it keeps running")
        self._thread = None

    def _cycle(self) -> None:
        with self._process_lock:
            flushes = self._drain()
            self._write_all()
        with self._drained:
            self._drained.notify_all()
        for event in flushes:
            event.set()

    def _drain(self) -> list[threading.Event]:
        flushes: list[threading.Event] = []
        queue, runs = self._queue, self._runs
        while queue:
            record = queue.popleft()
            op, run_id = record[0], record[1]
            if op == FLUSH:
                flushes.append(record[2])
                continue
            rq = runs.get(run_id)
            if rq is None:
                rq = runs[run_id] = _RunQueue()
            if op in (PARAM, TAG, METRIC) or (op == STATUS and rq.batch is not None):
                if rq.batch is None:
                    rq.batch = Batch()
                    rq.items.append(("batch", rq.batch))
                batch = rq.batch
                if op == METRIC:
                    batch.metrics.setdefault(record[2], []).append(record[3:6])
                elif op == PARAM:
                    batch.params.setdefault(record[2], record[3])
                elif op == TAG:
                    batch.tags[record[2]] = record[3]
                else:
                    batch.status, batch.end_time = record[2], record[3]
                    rq.items.append(("finish",))
                    rq.batch = None
            else:
                # Creation, artifacts, calls and a status with nothing before it keep
                # their place: later records start a new batch after them.
                rq.batch = None
                if op == STATUS:
                    rq.items.append(("batch", Batch(status=record[2], end_time=record[3])))
                    rq.items.append(("finish",))
                else:
                    rq.items.append(record)
        return flushes

    def _write_all(self) -> None:
        for run_id in list(self._runs):
            rq = self._runs[run_id]
            rq.batch = None  # a batch handed to the store is complete
            while rq.items:
                item = rq.items[0]
                try:
                    self._write(run_id, item, rq)
                except Exception as exc:  # noqa: BLE001 - kept for retry and reported once
                    self._report(run_id, item, exc)
                    break
                rq.items.popleft()
            if not rq.items:
                del self._runs[run_id]

    def _write(self, run_id: str, item: tuple[Any, ...], rq: _RunQueue) -> None:
        kind = item[0]
        if kind == "batch":
            self.backend.write_batch(run_id, item[1])
            rq.flushes += 1
            if rq.flushes % self.compact_every == 0:
                self.backend.finish_run(run_id)
        elif kind == "finish":
            self.backend.finish_run(run_id)
        elif kind == CREATE:
            self.backend.create_run(item[2])
        elif kind == ARTIFACT:
            self.backend.put_artifact(run_id, item[2], item[3])
        elif kind == CALL:
            item[2]()

    def _report(self, run_id: str, item: tuple[Any, ...], exc: Exception) -> None:
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

    def _after_fork_in_child(self) -> None:
        # The parent's queue and thread are not ours: the parent writes its own records.
        self._queue = collections.deque()
        self._runs = {}
        self._thread = None
        self._wake = threading.Event()
        self._drained = threading.Condition()
        self._process_lock = threading.Lock()


def _reset_after_fork() -> None:
    for writer in list(_writers):
        writer._after_fork_in_child()


os.register_at_fork(after_in_child=_reset_after_fork)

