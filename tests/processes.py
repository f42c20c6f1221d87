"""Waiting for several child processes of a test."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any


def communicate_all(
    procs: Sequence[subprocess.Popen[Any]], timeout: float
) -> list[tuple[Any, Any]]:
    """Each process's (stdout, stderr), every one waited for before any is checked.

    A test that asserted on the first process's output would leave the others running
    with their pipes open, closed later by the garbage collector during another test,
    whose ResourceWarning then fails that test too. A process still running after
    `timeout` seconds (each) is killed; the first TimeoutExpired is raised once all
    are done.
    """
    results: list[tuple[Any, Any]] = []
    expired: subprocess.TimeoutExpired | None = None
    for proc in procs:
        try:
            results.append(proc.communicate(timeout=timeout))
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            results.append(proc.communicate())
            expired = expired or exc
    if expired is not None:
        raise expired
    return results
