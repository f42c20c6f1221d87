"""Integrations of other distributions, found through the `autolog.integrations` entry points.

A plugin here is a real distribution on `sys.path` (a `.dist-info` folder with its
`entry_points.txt`, as pip installs one) that declares an integration for a small
library written next to it; `autolog.enable()` finds it, patches the library when it
is imported and records its training call.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import autolog
from autolog import integrations
from autolog._patching import enable as _enable

_LIBRARY = """
def train(rounds):
    return {"rounds": rounds}
"""

_PLUGIN = """
from autolog._patching.integration import CallHooks, Integration
from autolog._patching.placement import open_run


class ToyIntegration(Integration):
    name = "toy"
    module = "toylib"
    distribution = "toylib"
    min_version = "1.0"
    max_version = "2"
    extra = "toy"

    def _patch(self, module):
        self.wrap(module, "train", CallHooks(before=self._before, after=self._after))

    def _before(self, instance, args, kwargs):
        opened = open_run(self.options)
        opened.run.log_param("rounds", args[0])
        return opened

    def _after(self, opened, instance, result):
        opened.close()
"""


def _distribution(root: Path, name: str, entry_points: str) -> None:
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def toy_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "site"
    root.mkdir()
    (root / "toylib.py").write_text(_LIBRARY)
    (root / "autolog_toy.py").write_text(_PLUGIN)
    _distribution(root, "toylib", "")
    _distribution(
        root,
        "autolog_toy",
        """
        [autolog.integrations]
        toy = autolog_toy:ToyIntegration
        sklearn = autolog_toy:ToyIntegration
        """,
    )
    monkeypatch.syspath_prepend(str(root))
    integrations.forget()
    try:
        yield root
    finally:
        autolog.disable()
        _enable._instances.pop("toy", None)
        for module in ("toylib", "autolog_toy"):
            sys.modules.pop(module, None)
        integrations.forget()


def test_an_entry_point_integration_is_known_and_records_its_library(toy_plugin: Path) -> None:
    known = integrations.known()
    assert known["toy"] == "autolog_toy:ToyIntegration"
    assert list(known)[:2] == ["sklearn", "xgboost"]  # built-in ones first
    assert "toylib" not in sys.modules
    assert "toy" in autolog.enable("toy")
    assert "toylib" not in sys.modules  # enabling imports nothing
    import toylib

    assert toylib.train(7) == {"rounds": 7}
    (run,) = autolog.search_runs()
    assert run.params == {"rounds": "7"}
    autolog.disable("toy")
    toylib.train(8)
    assert len(autolog.search_runs()) == 1


def test_an_entry_point_cannot_replace_a_built_in_integration(
    toy_plugin: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="autolog"):
        known = integrations.known()
    assert known["sklearn"] == integrations.BUILTIN["sklearn"]
    assert "'sklearn' is a built-in integration" in caplog.text


def test_enable_all_includes_entry_point_integrations(toy_plugin: Path) -> None:
    assert "toy" in autolog.enable()
    assert "toy" in _enable.enabled_integrations()
