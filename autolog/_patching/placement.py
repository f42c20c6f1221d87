"""Run placement: which run an autologged call logs into (DESIGN.md's rule).

A top-level call with no active run gets a run of its own; inside an active run
the first top-level call logs into it and later ones become child runs, so
nothing is overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from autolog._entities import RunStatus
from autolog._patching.enable import AutologOptions
from autolog._tracking import runs as _runs

__all__ = ["OpenedRun", "open_run"]


@dataclass
class OpenedRun:
    """The run an autologged call logs into, and whether the call must end it."""

    run: _runs.ActiveRun
    owned: bool

    def close(self, error: BaseException | None = None) -> None:
        if not self.owned:
            return
        if error is None:
            self.run.end(RunStatus.FINISHED)
        else:
            self.run.fail(error)


def open_run(options: AutologOptions) -> OpenedRun:
    """The run a top-level autologged call logs into (DESIGN.md's placement rule).

    No active run: a new run, ended by the caller. An active run not yet used by
    autologging: that run. An active run already used: a new child run of it.
    """
    active = _runs.active_run()
    if active is not None:
        with active._lock:
            claimed, active.claimed = active.claimed, True
        if not claimed:
            _set_extra_tags(active, options)
            return OpenedRun(active, owned=False)
    run = _runs.start_run(parent=active, activate=False)
    _set_extra_tags(run, options)
    return OpenedRun(run, owned=True)


def _set_extra_tags(run: _runs.ActiveRun, options: AutologOptions) -> None:
    if options.extra_tags:
        run.set_tags(options.extra_tags)
