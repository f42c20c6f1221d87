"""Runs and the active-run stack.

`start_run()` returns an `ActiveRun`: a handle through which params, metrics,
tags and artifacts are queued for the background writer. The stack of active
runs is a context variable, so each thread (and asyncio task) has its own;
`autolog run` also sets a process-wide root run that any thread falls back to.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from autolog import _tags
from autolog._entities import RunStatus
from autolog._safety import capture_internal_errors
from autolog._tracking import context as _context
from autolog._tracking import system_metrics as _system_metrics
from autolog._tracking.settings import tracking
from autolog._tracking.writer import (
    ARTIFACT,
    ARTIFACT_FILE,
    CALL,
    CREATE,
    METRIC,
    PARAM,
    STATUS,
    TAG,
    Computed,
    Writer,
)
from autolog._validation import (
    _checked_keys,
    check_id,
    check_key,
    check_metric_value,
    check_name,
    check_param_value,
    check_relative_path,
    check_step,
    check_tag_value,
    check_timestamp,
)
from autolog.backends.base import Batch, RunMeta
from autolog.errors import (
    InvalidInputError,
    InvalidValueError,
    NoActiveRunError,
    ParamConflictError,
)

__all__ = ["ActiveRun", "Derived", "active_run", "end_run", "start_run"]


@dataclass
class Derived:
    """What a `log_computed` function derived: metrics (one point each, at `step` and
    `timestamp`), tags and artifacts ({path: bytes})."""

    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    artifacts: Mapping[str, bytes] = field(default_factory=dict)
    step: int = 0
    timestamp: int = 0

    def checked(self) -> Computed:
        """As the writer stores it, every key and value checked as the log calls check them."""
        batch = Batch()
        for key, value in self.metrics.items():
            number = check_metric_value(check_key(key), value)
            batch.metrics[key] = [(number, self.step, self.timestamp or _now_ms())]
        for key, text in self.tags.items():
            batch.tags[check_key(key, "tag")] = check_tag_value(key, text)
        files = {
            check_relative_path(path, "artifact file", allow_empty=False): data
            for path, data in self.artifacts.items()
        }
        return Computed(batch=None if batch.is_empty() else batch, records=files)


_stack: ContextVar[tuple[ActiveRun, ...]] = ContextVar("autolog_run_stack", default=())
_root: list[ActiveRun] = []  # the process-wide root run of `autolog run`, if any
_live: dict[str, ActiveRun] = {}
_live_lock = threading.Lock()
_last_finished: list[str] = []

_ADJECTIVES = (  # noqa: SIM905 - a word list reads better as one string
    "amber brave calm clever crisp daring eager fancy gentle glad honest jolly keen "
    "lively lucky merry noble proud quick quiet rapid silent smart steady swift tidy "
    "vivid warm wise zesty bold bright"
).split()
_NOUNS = (  # noqa: SIM905 - as above
    "otter falcon maple river comet badger cedar heron lynx orchid panda quartz raven "
    "salmon tiger walrus willow yak zebra fox owl pine wren moose koala ibis gecko"
).split()


_time_ns = time.time_ns


def _now_ms() -> int:
    return _time_ns() // 1_000_000


# Run ids and names come from a private generator seeded by the OS (again in a forked
# child): the user's seeded `random` stream does not move when a run starts, and, unlike
# `secrets` or `uuid4`, a draw makes no system call, which would hand the GIL to
# autolog's writer thread in the middle of the user's fit.
_ids = random.Random(os.urandom(32))


def _reseed_ids() -> None:
    _ids.seed(os.urandom(32))


os.register_at_fork(after_in_child=_reseed_ids)


def _new_run_id() -> str:
    return f"{_ids.getrandbits(128):032x}"


def _generate_name() -> str:
    choice = _ids.choice
    return f"{choice(_ADJECTIVES)}-{choice(_NOUNS)}-{100 + _ids.randrange(900)}"


class ActiveRun:
    """A run being recorded by this process. Use as a context manager to end it.

    Leaving the `with` block normally ends the run FINISHED; an exception ends it
    FAILED (KeyboardInterrupt: KILLED) and is re-raised untouched.
    """

    def __init__(
        self, meta: RunMeta, experiment: str, writer: Writer, *, auto: bool = False
    ) -> None:
        self.id = meta.id
        self.name = meta.name
        self.experiment = experiment
        self.experiment_id = meta.experiment_id
        self.parent_id = meta.parent_id
        self.start_time = meta.start_time
        self.status = RunStatus.RUNNING
        self._pid = os.getpid()
        self._writer = writer
        self._params: dict[str, str] = {}
        self._lock = threading.Lock()
        # Set by autologging: the first top-level fit inside this run logs into it.
        self.claimed = False
        self.auto = auto

    def __repr__(self) -> str:
        return f"<ActiveRun {self.id} {self.name!r} {self.status.value}>"

    @property
    def tracking_uri(self) -> str:
        return self._writer.backend.uri

    # -- logging ---------------------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        """Record a param; logging a different value for the same key is an error."""
        check_key(key, "param")
        text = check_param_value(key, value)
        with self._lock:
            old = self._params.get(key)
            if old is not None:
                if old != text:
                    raise ParamConflictError(
                        f"param {key!r} of run {self.id} is already {old!r}; cannot change it to"
                        f" {text!r}. Params are immutable: log the new value under another key"
                        " or in a new run"
                    )
                return
            self._params[key] = text
        self._writer.submit((PARAM, self.id, key, text))

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several params; nothing is recorded if any of them is invalid."""
        if not isinstance(params, Mapping):
            raise InvalidValueError(
                f"log_params takes a dict of name to value, got {type(params).__name__}"
            )
        checked = {check_key(k, "param"): check_param_value(k, v) for k, v in params.items()}
        with self._lock:
            for key, text in checked.items():
                old = self._params.get(key)
                if old is not None and old != text:
                    raise ParamConflictError(
                        f"param {key!r} of run {self.id} is already {old!r}; cannot change it"
                        f" to {text!r}. Params are immutable: log the new value under another"
                        " key or in a new run"
                    )
            fresh = {k: v for k, v in checked.items() if k not in self._params}
            self._params.update(fresh)
        for key, text in fresh.items():
            self._writer.submit((PARAM, self.id, key, text))

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Record one point of a metric. `timestamp` is milliseconds since the epoch."""
        # The hot path of every training loop: the common types skip the full checks.
        if key.__class__ is not str or key not in _checked_keys:
            check_key(key)
        number = value if value.__class__ is float else check_metric_value(key, value)
        if step is None:
            step = 0
        elif step.__class__ is not int:
            step = check_step(key, step)
        if timestamp is None:
            timestamp = _time_ns() // 1_000_000
        elif timestamp.__class__ is not int:
            timestamp = check_timestamp(key, timestamp)
        self._writer.submit((METRIC, self.id, key, number, step, timestamp))

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Record one point for each metric, all at the same step and time."""
        if not isinstance(metrics, Mapping):
            raise InvalidValueError(
                f"log_metrics takes a dict of name to number, got {type(metrics).__name__}"
            )
        step_ = step if step.__class__ is int else check_step("metrics", step)
        ts = check_timestamp("metrics", timestamp)
        if ts is None:
            ts = _now_ms()
        run_id = self.id
        records: list[tuple[Any, ...]] = []
        # Everything is checked before anything is queued: a bad entry records nothing.
        for key, value in metrics.items():
            if key.__class__ is not str or key not in _checked_keys:
                check_key(key)
            number = value if value.__class__ is float else check_metric_value(key, value)
            records.append((METRIC, run_id, key, number, step_, ts))
        self._writer.submit_many(records)

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag; tags are mutable, the last value wins."""
        check_key(key, "tag")
        self._writer.submit((TAG, self.id, key, check_tag_value(key, value)))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if not isinstance(tags, Mapping):
            raise InvalidValueError(f"set_tags takes a dict, got {type(tags).__name__}")
        checked = [(check_key(k, "tag"), check_tag_value(k, v)) for k, v in tags.items()]
        for key, text in checked:
            self._writer.submit((TAG, self.id, key, text))

    def log_bytes(self, data: bytes, artifact_file: str) -> None:
        """Queue `data` as the artifact `artifact_file` (a relative path)."""
        self._queue_bytes(data, artifact_file)

    def log_record(self, data: bytes, artifact_file: str) -> None:
        """`log_bytes` for a small record of autologging's (importances, a data fingerprint):
        a store may keep it with the run rather than as a file of its own (see
        `Backend.write_run`); it reads back like any artifact."""
        self._queue_bytes(data, artifact_file, record=True)

    def _queue_bytes(self, data: bytes, artifact_file: str, *, record: bool = False) -> None:
        path = check_relative_path(artifact_file, "artifact file", allow_empty=False)
        item = (ARTIFACT, self.id, path, bytes(data))
        self._writer.submit((*item, True) if record else item)

    def log_text(self, text: str, artifact_file: str) -> None:
        """Store `text` as a UTF-8 artifact."""
        if not isinstance(text, str):
            raise InvalidValueError(f"log_text takes a str, got {type(text).__name__}")
        self.log_bytes(text.encode("utf-8"), artifact_file)

    def log_dict(self, data: Any, artifact_file: str) -> None:
        """Store `data` as a JSON artifact (any JSON-serializable value)."""
        try:
            text = json.dumps(data, indent=2, default=str, allow_nan=True)
        except (TypeError, ValueError) as exc:
            raise InvalidValueError(
                f"log_dict cannot serialize {type(data).__name__}: {exc}"
            ) from None
        self.log_bytes(text.encode("utf-8"), artifact_file)

    def log_computed(self, compute: Callable[[], Derived | Mapping[str, bytes]], what: str) -> None:
        """Queue `compute`, run later in the writer thread; log what it derives.

        For metrics, tags and artifacts derived from data at a cost the caller's thread
        should not pay (autologging's training metrics and plot data): `compute()` returns
        a `Derived`, or just {artifact path: bytes}. It must hold only copies of what it
        needs. An error in it is an internal error (`what` names it): what it derived is
        then not logged, nothing else is lost. An error of the store is retried like any
        other write.
        """

        def store() -> Computed:
            done = Computed()
            with capture_internal_errors(what):
                derived = compute()
                if not isinstance(derived, Derived):
                    derived = Derived(artifacts=derived)
                done = derived.checked()
            return done  # stored by the writer, retried like any write

        self._writer.submit((CALL, self.id, store))

    def log_artifact(self, local_path: str | Path, artifact_path: str | None = None) -> None:
        """Copy a local file into the run's artifacts, under `artifact_path` if given.

        The copy is made before this returns, so the file may be changed afterwards.
        """
        src = Path(local_path)
        if not src.is_file():
            hint = "use log_artifacts() for a directory" if src.is_dir() else "check the path"
            raise InvalidInputError(f"log_artifact: {str(local_path)!r} is not a file; {hint}")
        folder = check_relative_path(artifact_path or "")
        self._store_files([(f"{folder}/{src.name}" if folder else src.name, src)])

    def log_artifacts(self, local_dir: str | Path, artifact_path: str | None = None) -> None:
        """Copy every file under a local directory into the run's artifacts."""
        src = Path(local_dir)
        if not src.is_dir():
            raise InvalidInputError(f"log_artifacts: {str(local_dir)!r} is not a directory")
        folder = check_relative_path(artifact_path or "")
        files = []
        for path in sorted(src.rglob("*")):
            if path.is_file():
                rel = path.relative_to(src).as_posix()
                files.append((f"{folder}/{rel}" if folder else rel, path))
        self._store_files(files)

    def _store_files(self, files: list[tuple[str, Path]]) -> None:
        writer = self._writer
        if writer.backend.local:
            # A local store: one copy, straight into the store, is the cheapest way to
            # have the bytes before this returns, and a disk error is the caller's to see.
            self.flush_self()
            for dest, path in files:
                writer.backend.put_artifact_file(self.id, dest, path)
            return
        # A remote store may be slow or down: copy the files aside now and upload them in
        # the background, retried like every other write, so this never waits on the store.
        records: list[tuple[Any, ...]] = []
        try:
            for dest, path in files:
                records.append((ARTIFACT_FILE, self.id, dest, writer.spool(path)))
        except BaseException:
            for record in records:
                record[3].unlink(missing_ok=True)
            raise
        writer.submit_many(records)

    def flush_self(self) -> None:
        # The run's creation is queued; a direct write must not overtake it.
        self._writer.flush()

    # -- ending ----------------------------------------------------------------------------

    def end(self, status: RunStatus | str = RunStatus.FINISHED) -> None:
        """End the run with `status` (FINISHED, FAILED or KILLED); a second call does nothing."""
        final = _check_status(status)
        with self._lock:
            if self.status is not RunStatus.RUNNING:
                return
            self.status = final
        _system_metrics.run_ended(self)
        self._writer.submit((STATUS, self.id, final.value, _now_ms()))
        _forget(self)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pid != os.getpid():
            return  # a forked child leaving the block: the run is its parent's to end
        if exc is None or (isinstance(exc, SystemExit) and exc.code in (None, 0)):
            self.end(RunStatus.FINISHED)
            return
        self.fail(exc)

    def fail(self, exc: BaseException) -> None:
        """End the run FAILED (KILLED for KeyboardInterrupt) with `exc` recorded.

        A run already ended (by the SIGTERM handler, say) is left as it is.
        """
        if self.status is not RunStatus.RUNNING:
            return
        with capture_internal_errors("recording a run's error"):
            record_error(self, exc)
        self.end(RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED)


def record_error(run: ActiveRun, exc: BaseException) -> None:
    """Tag the run with the exception and store its traceback as `error.txt`."""
    run.set_tag(_tags.ERROR, f"{type(exc).__name__}: {exc}"[:1000])
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    run.log_text(text, "error.txt")


def _check_status(status: RunStatus | str) -> RunStatus:
    try:
        final = RunStatus(str(status).upper())
    except ValueError:
        final = RunStatus.RUNNING
    if final is RunStatus.RUNNING:
        raise InvalidValueError(
            f"status {status!r} cannot end a run; use 'FINISHED', 'FAILED' or 'KILLED'"
        )
    return final


def _forget(run: ActiveRun) -> None:
    with _live_lock:
        _live.pop(run.id, None)
        _last_finished[:] = [run.id]
    stack = _stack.get()
    if run in stack:
        _stack.set(tuple(r for r in stack if r is not run))
    if _root and _root[0] is run:
        _root.clear()


def _after_fork_in_child() -> None:
    global _live_lock
    # The parent's runs are not this process's to end at exit; a lock held by another
    # thread of the parent at the fork would never be released here.
    _live.clear()
    _live_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def live_runs() -> list[ActiveRun]:
    """Every run this process started and has not ended, newest first."""
    with _live_lock:
        return list(reversed(_live.values()))


def last_finished_id() -> str | None:
    return _last_finished[0] if _last_finished else None


def active_run() -> ActiveRun | None:
    """The innermost active run of this thread, else the process's root run, else None."""
    stack = _stack.get()
    if stack:
        if stack[-1].status is RunStatus.RUNNING:
            return stack[-1]
        # Ended from another thread (or at SIGTERM), so still on this thread's stack.
        stack = tuple(r for r in stack if r.status is RunStatus.RUNNING)
        _stack.set(stack)
        if stack:
            return stack[-1]
    return _root[0] if _root else None


def start_run(
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    *,
    experiment: str | None = None,
    parent: ActiveRun | None = None,
    tracking_uri: str | None = None,
    root: bool = False,
    activate: bool = True,
) -> ActiveRun:
    """Start a run and make it the active run of this thread.

    Args:
        name: a readable name; one such as "swift-otter-123" is generated if None.
        tags: tags to set at once.
        nested: start it as a child of the active run (an error if False while a run
            is active, so that runs are never mixed up by accident).
        experiment: the experiment's name (default: the one set by set_experiment).
        parent: an explicit parent run (used by autologging for child runs).
        tracking_uri: store this run somewhere else than the configured URI.
        root: make it the process-wide root run (`autolog run` does this).
        activate: push it on this thread's active-run stack (autologging's own runs
            are not, so that they never capture the user's log calls by accident).
    """
    if name is not None:
        check_name(name, "run name")
    if tags is not None and not isinstance(tags, Mapping):
        raise InvalidValueError(f"tags must be a dict of str to str, got {type(tags).__name__}")
    current = active_run()
    if parent is None and current is not None and not root:
        if not nested:
            raise InvalidInputError(
                f"run {current.id} ({current.name!r}) is already active; pass nested=True to"
                " start a child run, or end it first with autolog.end_run()"
            )
        parent = current
    checked_tags = {check_key(k, "tag"): check_tag_value(k, v) for k, v in (tags or {}).items()}
    exp_name = experiment or tracking.settings.resolved_experiment()
    uri = tracking_uri or (parent.tracking_uri if parent is not None else None)
    writer = tracking.writer(uri)
    meta = RunMeta(
        id=_new_run_id(),
        name=name or _generate_name(),
        experiment_id=tracking.experiment_id(exp_name, writer.backend.uri),
        start_time=_now_ms(),
        parent_id=parent.id if parent is not None else None,
        experiment_name=exp_name,
    )
    run = ActiveRun(meta, exp_name, writer)
    writer.submit((CREATE, run.id, meta))
    if parent is None:
        # Before the run's tags: the context's tags then join the batch that follows, and
        # a tag the caller gives wins over a captured one of the same name.
        _queue_context_capture(run, writer)
        _system_metrics.run_started(run)
    if checked_tags:
        run.set_tags(checked_tags)
    with _live_lock:
        _live[run.id] = run
    if root:
        _root[:] = [run]
    elif activate:
        _stack.set((*_stack.get(), run))
    from autolog._tracking import lifecycle as _lifecycle

    _lifecycle.install_hooks()
    return run


def _queue_context_capture(run: ActiveRun, writer: Writer) -> None:
    capture = tracking.settings.disable_capture

    def capture_context() -> Computed | None:
        ctx = None
        with capture_internal_errors("capturing the run context"):
            ctx = _context.process_context(_context.Capture.from_names(capture))
        if ctx is None:
            return None
        # The writer stores the files (once for all runs where the store can) and writes
        # the tags with the run's next batch (or alone if there is none).
        return Computed(batch=Batch(tags=dict(ctx.tags)), shared=dict(ctx.artifacts))

    writer.submit((CALL, run.id, capture_context))


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    """End the active run of this thread (FINISHED unless told otherwise)."""
    run = active_run()
    if run is None:
        raise NoActiveRunError("end_run() found no active run; start one with autolog.start_run()")
    run.end(status)


def require_run() -> ActiveRun:
    """The active run, or a new one started for the log call (ended FINISHED at exit)."""
    run = active_run()
    if run is None:
        run = start_run()
        run.auto = True
    return run


def resume_run(run_id: str, tracking_uri: str | None = None) -> ActiveRun:
    """A handle to log more into a stored run (by id), without making it active."""
    check_id(run_id)
    writer = tracking.writer(tracking_uri)
    writer.flush()
    stored = writer.backend.get_run(run_id)
    meta = RunMeta(
        stored.id, stored.name, stored.experiment_id, stored.start_time, stored.parent_id
    )
    run = ActiveRun(meta, stored.experiment, writer)
    run._params.update(stored.params)
    run.status = stored.status
    return run
