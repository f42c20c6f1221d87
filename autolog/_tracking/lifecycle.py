"""Ending runs and draining the writer when the process ends.

- normal exit (atexit): runs still active end FINISHED, the queue is drained;
- an uncaught exception (sys.excepthook): active runs end FAILED, or KILLED for
  KeyboardInterrupt, with the error recorded;
- SIGTERM: active runs end KILLED, the queue is drained, then the signal's
  previous handler runs (the default one terminates the process as before).

The hooks are installed on the first `start_run`, never at import. A SIGTERM
handler the user installed is kept and called after ours; an ignored SIGTERM
stays ignored. A SIGTERM that lands inside one of autolog's own writes in the
main thread (sync mode spends most of its time there) is handled as soon as that
write is done. A forked child ends none of its parent's runs.
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

from autolog._entities import RunStatus
from autolog._safety import capture_internal_errors
from autolog._tracking.writer import defer_until_written, exiting

__all__ = ["install_hooks", "shutdown"]

_installed = False
_lock = threading.Lock()
_previous_excepthook: Any = None
_previous_sigterm: Any = None
EXIT_TIMEOUT = 20.0


def install_hooks() -> None:
    global _installed, _previous_excepthook
    if _installed:
        return
    with _lock:
        if _installed:
            return
        _installed = True
        atexit.register(shutdown)
        _previous_excepthook = sys.excepthook
        sys.excepthook = _excepthook
        if threading.current_thread() is threading.main_thread():
            _install_sigterm()


def _install_sigterm() -> None:
    global _previous_sigterm
    with capture_internal_errors("installing the SIGTERM handler"):
        previous = signal.getsignal(signal.SIGTERM)
        if previous is signal.SIG_IGN:
            return
        _previous_sigterm = previous
        signal.signal(signal.SIGTERM, _on_sigterm)


def end_live_runs(status: RunStatus, error: BaseException | None = None) -> None:
    from autolog._tracking import runs as _runs

    with exiting():
        for run in _runs.live_runs():
            with capture_internal_errors("ending a run at exit"):
                if error is not None:
                    run.fail(error)
                else:
                    run.end(status)


def shutdown(status: RunStatus = RunStatus.FINISHED, timeout: float = EXIT_TIMEOUT) -> None:
    """End every live run with `status` and drain every writer."""
    from autolog._tracking.settings import tracking

    end_live_runs(status)
    for writer in tracking.all_writers():
        with capture_internal_errors("flushing at exit"):
            writer.close(timeout)


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    status = RunStatus.KILLED if issubclass(exc_type, KeyboardInterrupt) else RunStatus.FAILED
    end_live_runs(status, exc)
    hook = _previous_excepthook or sys.__excepthook__
    hook(exc_type, exc, tb)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    from autolog._tracking.settings import tracking

    if any(w.writing_in_this_thread() for w in tracking.all_writers()):
        # The signal interrupted one of our own writes (sync mode spends most of its time
        # in them): draining now would wait on a lock this very thread holds.
        defer_until_written(lambda: _on_sigterm(signum, frame))
        return
    shutdown(RunStatus.KILLED)
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    # Re-deliver with the default action so the exit status says "killed by SIGTERM".
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.raise_signal(signal.SIGTERM)
