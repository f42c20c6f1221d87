"""Runs of estimators trained by `partial_fit`: one run per estimator, a step per call.

What a user training in mini-batches expects to see: one run for the whole
training, RUNNING while it goes on, its training metrics as curves over the
calls. So the first `partial_fit` of an estimator opens a run (placed like any
fit's: the active run if autologging has not used it, else a new or child run)
and records its params, tags and a fingerprint of the first batch; each call is
a step (0, 1, ...) of the training metrics, computed on that call's batch. When
computing them costs more than the call itself, they are computed on every k-th
call only, k chosen from the measured times, so that they add about as much as
training at most (the steps show which calls have metrics).

The run ends FINISHED, with the tag `autolog.partial_fit.ended` saying why and
the metric `partial_fit_calls`:

- when `fit` (or `fit_transform`, `fit_predict`) starts over on the estimator,
  or autologging is disabled, or the process exits: the model is logged first;
- when the estimator is freed: nothing is left to log, the run just ends.

An active run of the user's that autologging logged into is never ended here.
"""

from __future__ import annotations

import atexit
import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autolog import _tags
from autolog._entities import RunStatus
from autolog._patching.enable import AutologOptions
from autolog._patching.integration import marked
from autolog._patching.placement import OpenedRun, open_run
from autolog._safety import capture_internal_errors
from autolog._tracking.runs import ActiveRun, record_error
from autolog.integrations import _post_training as post

__all__ = ["PartialCall", "PartialFitSessions", "Session"]

MAX_METRICS_EVERY = 1000


@dataclass
class Session:
    """The run of one estimator trained by `partial_fit` calls."""

    opened: OpenedRun
    calls: int = 0
    metrics_every: int = 1
    pid: int = field(default_factory=os.getpid)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def run(self) -> ActiveRun:
        return self.opened.run


@dataclass
class PartialCall:
    """One `partial_fit` call in progress."""

    session: Session
    step: int
    X: Any
    y: Any
    sample_weight: Any
    started: float


class PartialFitSessions:
    """The open `partial_fit` runs of this process, by estimator (held weakly)."""

    def __init__(self, options: Callable[[], AutologOptions]) -> None:
        self._options = options
        self._sessions: weakref.WeakKeyDictionary[Any, Session] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._atexit_registered = False

    def __bool__(self) -> bool:
        return bool(self._sessions)

    def before(self, estimator: Any, X: Any, y: Any, sample_weight: Any) -> PartialCall:
        """The call's step in its estimator's run, opened by the first call."""
        with self._lock:
            session = self._sessions.get(estimator)
        if session is None or session.run.status is not RunStatus.RUNNING:
            session = self._start(estimator, X, y)
        with session.lock:
            step = session.calls
            session.calls += 1
        return PartialCall(session, step, X, y, sample_weight, time.perf_counter())

    def _start(self, estimator: Any, X: Any, y: Any) -> Session:
        from autolog._patching import record
        from autolog._patching.fingerprint import fingerprint
        from autolog.integrations.sklearn._record import estimator_params

        options = self._options()
        session = Session(open_run(options))
        with self._lock:
            self._sessions[estimator] = session
            if not self._atexit_registered:
                self._atexit_registered = True
                # Registered after the run machinery's own exit hook, so it runs first.
                atexit.register(self.end_all, "exit")
        weakref.finalize(estimator, _end_freed, session)
        run = session.run
        with capture_internal_errors("sklearn: logging params"):
            record.log_params(run, estimator_params(estimator))
        with capture_internal_errors("sklearn: logging tags"):
            run.set_tags({**record.estimator_tags(estimator), _tags.SKLEARN_METHOD: "partial_fit"})
        if options.log_datasets:
            with capture_internal_errors("sklearn: fingerprinting the first batch"):
                record.log_dataset(run, fingerprint(X, y))
        post.remember_model(estimator, run)
        return session

    def after(self, state: PartialCall, estimator: Any) -> None:
        """Log the call's training metrics at its step (when this call is due for them)."""
        from autolog.integrations.sklearn import _metrics as metrics
        from autolog.integrations.sklearn._record import estimator_kind

        session = state.session
        if state.step % session.metrics_every:
            return
        spent = time.perf_counter() - state.started
        started = time.perf_counter()
        with marked():
            kind = estimator_kind(estimator)
            # All here, not in the writer: what the metrics cost sets how often they are taken.
            found = metrics.training_metrics_now(
                estimator, str(kind), state.X, state.y, state.sample_weight
            )
        cost = time.perf_counter() - started
        every = math.ceil(cost / max(spent, 1e-6))
        session.metrics_every = max(1, min(MAX_METRICS_EVERY, every))
        session.run.log_metrics(found.metrics, step=state.step)

    def failed(self, state: PartialCall, exc: BaseException) -> None:
        """A call raised: record it on the run, which goes on (the user may catch it)."""
        record_error(state.session.run, exc)

    def end(self, estimator: Any, reason: str) -> None:
        """End the estimator's run, if it has one, with its model."""
        with self._lock:
            session = self._sessions.pop(estimator, None)
        if session is not None:
            self._close(session, estimator, reason)

    def end_all(self, reason: str) -> None:
        """End every open run, each with its model."""
        with self._lock:
            sessions = list(self._sessions.items())
            self._sessions.clear()
        for estimator, session in sessions:
            self._close(session, estimator, reason)

    def _close(self, session: Session, estimator: Any, reason: str) -> None:
        from autolog._patching import record

        if session.pid != os.getpid():
            return  # a forked child's copy: the parent ends its run
        options = self._options()
        with capture_internal_errors("sklearn: ending a partial_fit run"):
            run = session.run
            if run.status is RunStatus.RUNNING:
                run.set_tag(_tags.PARTIAL_FIT_ENDED, reason)
                run.log_metric("partial_fit_calls", session.calls)
                if options.log_models and session.opened.owned:
                    with marked():
                        record.log_model(run, estimator, options, example=None)
            session.opened.close()


def _end_freed(session: Session) -> None:
    if session.run.status is RunStatus.RUNNING and os.getpid() == session.pid:
        with capture_internal_errors("sklearn: ending a partial_fit run"):
            session.run.set_tag(_tags.PARTIAL_FIT_ENDED, "estimator freed")
            session.run.log_metric("partial_fit_calls", session.calls)
            session.opened.close()
