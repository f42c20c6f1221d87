"""Shared fixtures: each test gets a fresh tracking state and store, in strict mode."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["AUTOLOG_STRICT"] = "1"
# Tests read runs back at once; a short interval keeps background flushes quick.
os.environ.setdefault("AUTOLOG_FLUSH_INTERVAL", "0.05")

from autolog import _runs, _safety
from autolog._tracking import tracking
from autolog.backends import memory


@pytest.fixture(autouse=True)
def _fresh_tracking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[None]:
    """A new store per test; strict mode unless the test is marked `no_strict`."""
    if request.node.get_closest_marker("no_strict"):
        monkeypatch.setenv("AUTOLOG_STRICT", "0")
    monkeypatch.setenv("AUTOLOG_TRACKING_URI", str(tmp_path / "runs"))
    monkeypatch.delenv("AUTOLOG_EXPERIMENT", raising=False)
    monkeypatch.chdir(tmp_path)
    tracking.reset()
    _safety.swallowed.clear()
    yield
    for run in _runs.live_runs():
        run.end()
    _runs._root.clear()
    _runs._stack.set(())
    tracking.reset()
    memory.reset()
    if not request.node.get_closest_marker("no_strict"):
        assert not _safety.swallowed, f"autolog swallowed internal errors: {_safety.swallowed}"


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """The directory of the file store the test's runs go to."""
    return tmp_path / "runs"
