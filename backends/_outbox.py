"""What a client process has to send to one server: the on-disk spool and its sender thread.

Writers never wait for the network: an entry (a run's creation, a batch, an artifact) is
appended to the spool (`autolog.backends._spool`) and the sender thread is woken. The
sender hands everything queued to a `Transport` (autolog's native API, or MLflow's REST
API), which removes each entry it delivered. While the server is slow or down the entries
wait on disk and the sender retries with backoff; reads deliver first (a process reads
its own writes). At exit the sender gets a few seconds (`AUTOLOG_HTTP_EXIT_TIMEOUT`,
default 10) to deliver; what is left stays on disk for the next process that logs to the
same server, or `autolog sync`, which also delivers the spools of processes that exited.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from autolog._validation import check_id, check_relative_path
from autolog.backends import _wire as wire
from autolog.backends._http_client import DEFAULT_TIMEOUT, ServerUnreachable, Timeout
from autolog.backends._spool import Entry, Spool, entries_of, spool_root
from autolog.backends.base import Batch, RunMeta

__all__ = ["DeadlinePassed", "Outbox", "SpooledWrites", "Transport", "outbox_for", "timeout_for"]

logger = logging.getLogger("autolog")

_MAX_BACKOFF = 30.0
_ORPHAN_EVERY = 30.0
# The sender waits this long after being woken, so that the writer's back-to-back calls
# of one cycle leave in one request.
_GATHER = 0.005


def exit_timeout() -> float:
    """Seconds an exiting process spends delivering ($AUTOLOG_HTTP_EXIT_TIMEOUT, default 10)."""
    try:
        return max(0.0, float(os.environ.get("AUTOLOG_HTTP_EXIT_TIMEOUT", "10")))
    except ValueError:
        return 10.0


class DeadlinePassed(ServerUnreachable):
    """Delivery stopped because its time was up; the rest stays in the spool."""


class Transport(ABC):
    """How queued entries reach a server."""

    @abstractmethod
    def deliver(self, entries: list[Entry], deadline: float | None) -> None:
        """Send `entries` in order, removing each one the server took or refused for good.

        Each request waits at most `timeout_for(deadline)`. Raises ServerUnreachable (or
        another StoreError) when the server cannot take them now: the entries not removed
        are sent again later.
        """


class Outbox:
    """The spool of one server in this process, and the thread that delivers it."""

    def __init__(self, uri: str, transport: Transport) -> None:
        self.uri = uri
        self.transport = transport
        self.spool = Spool(uri)
        self._deliver_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._orphans_checked = 0.0
        self._warned: set[str] = set()

    def add(
        self, data: dict[str, Any], blob: Path | bytes | None = None, link: bool = False
    ) -> None:
        """Queue an entry (with an artifact's bytes or file) and wake the sender."""
        self.spool.append(data, blob, link=link)
        self._start()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._loop, name="autolog-http-sender", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        backoff = 0.0
        while True:
            self._wake.wait(timeout=backoff or _ORPHAN_EVERY)
            self._wake.clear()
            time.sleep(_GATHER)
            try:
                self.deliver()
                backoff = 0.0
            except Exception as exc:  # noqa: BLE001 - kept on disk and retried
                backoff = min(_MAX_BACKOFF, max(0.5, backoff * 2))
                kept = f"the data is kept on disk in {self.spool.base} and retried"
                self._warn_once(type(exc).__name__, f"{exc}; {kept}")
                self._wake.clear()

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            logger.warning("autolog could not deliver to %s: %s", self.uri, message)

    def deliver(self, deadline: float | None = None) -> None:
        """Deliver every queued entry (ours, then exited processes'); raise if the server fails.

        With a `deadline` (time.monotonic()), stop when it passes (DeadlinePassed).
        """
        if not self._deliver_lock.acquire(timeout=-1 if deadline is None else _left(deadline)):
            raise DeadlinePassed(f"the sender to {self.uri} is busy; delivery left for later")
        try:
            now = time.monotonic()
            if now - self._orphans_checked > _ORPHAN_EVERY:
                self._orphans_checked = now
                with self.spool.orphans() as directories:
                    for directory in directories:
                        self.transport.deliver(entries_of(directory), deadline)
            self.transport.deliver(self.spool.pending(), deadline)
            self._warned.clear()
        finally:
            self._deliver_lock.release()

    def deliver_orphans(self) -> int:
        """Deliver the spools of exited processes now; return how many entries were sent."""
        sent = 0
        with self._deliver_lock, self.spool.orphans() as directories:
            for directory in directories:
                entries = entries_of(directory)
                self.transport.deliver(entries, None)
                sent += len(entries)
        return sent

    def deliver_before_exit(self) -> None:
        """Deliver what this process queued within the exit timeout; leave the rest on disk."""
        try:
            if self.spool.has_pending():
                self.deliver(time.monotonic() + exit_timeout())
        except Exception as exc:  # noqa: BLE001 - the spool keeps it
            left = len(self.spool.pending())
            if left:
                logger.warning(
                    "autolog kept %d entries for %s on disk in %s (%s); the next process that"
                    " logs there, or `autolog sync --tracking-uri %s`, delivers them",
                    left,
                    self.uri,
                    self.spool.base,
                    exc,
                    self.uri,
                )
        self.spool.release_if_empty()


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def timeout_for(deadline: float | None) -> Timeout:
    """The timeout of a request that must end by `deadline` (none: the default one)."""
    if deadline is None:
        return DEFAULT_TIMEOUT
    left = _left(deadline)
    if left <= 0:
        raise DeadlinePassed("the exit timeout passed; delivery left for the next process")
    return (min(DEFAULT_TIMEOUT[0], left), left)


_outboxes: dict[tuple[str, str], Outbox] = {}
_outboxes_lock = threading.Lock()


def outbox_for(uri: str, transport: Transport) -> Outbox:
    """This process's outbox for server `uri` (one per spool root), made on first use."""
    key = (str(spool_root()), uri)
    with _outboxes_lock:
        box = _outboxes.get(key)
        if box is None:
            box = _outboxes[key] = Outbox(uri, transport)
        return box


def _after_fork_in_child() -> None:
    # Locks and events held by a thread of the parent at the fork would never be released
    # here; the parent's sender thread does not run here (the first add starts ours).
    global _outboxes_lock
    _outboxes_lock = threading.Lock()
    for box in _outboxes.values():
        box._deliver_lock = threading.Lock()
        box._wake = threading.Event()
        box._thread = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _deliver_at_exit() -> None:
    # Best effort within the exit timeout: what is not delivered stays on disk.
    for box in list(_outboxes.values()):
        box.deliver_before_exit()


class SpooledWrites:
    """The write side of a backend that delivers through an `Outbox`.

    Every write becomes a spooled entry, never a request in the writer's thread; the
    backend's `Transport` turns the entries into requests of its server's API.
    """

    outbox: Outbox

    def create_run(self, meta: RunMeta) -> None:
        check_id(meta.id)
        self.outbox.add({"type": "create", "run": wire.meta_to_json(meta)})

    def write_batch(self, run_id: str, batch: Batch) -> None:
        check_id(run_id)
        if batch.is_empty():
            return
        self.outbox.add(
            {
                "type": "batch",
                "run_id": run_id,
                "name": uuid.uuid4().hex,  # a retried delivery is applied once by this name
                "batch": wire.batch_to_json(batch),
            }
        )

    def finish_run(self, run_id: str) -> None:
        self.outbox.wake()

    def flush(self) -> None:
        """Deliver everything queued now; raise StoreError if the server cannot take it."""
        self.outbox.deliver()

    def put_artifact(self, run_id: str, path: str, data: bytes) -> None:
        rel = check_relative_path(path, allow_empty=False)
        check_id(run_id)
        self.outbox.add({"type": "artifact", "run_id": run_id, "path": rel}, data)

    def put_artifact_file(self, run_id: str, path: str, local: Path) -> None:
        rel = check_relative_path(path, allow_empty=False)
        check_id(run_id)
        # The writer hands over a private copy it deletes afterwards: a link is enough.
        self.outbox.add({"type": "artifact", "run_id": run_id, "path": rel}, local, link=True)

    def _deliver(self) -> None:
        # Reads see this process's writes: deliver them first (if the server is down the
        # read itself says so).
        if self.outbox.spool.has_pending():
            try:
                self.outbox.deliver()
            except ServerUnreachable:
                return

    def close(self) -> None:
        self.outbox.deliver_before_exit()
