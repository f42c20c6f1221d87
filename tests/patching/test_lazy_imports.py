"""`import autolog` and `autolog.enable()` load only what they need; the first fit loads the rest.

Each case runs in a fresh interpreter, since this process has imported everything
already. Behaviour, not time: what is in `sys.modules` (bench/import_time.py has the
times). Also the two pieces that make it possible: post-import hooks without wrapt,
and distribution metadata read without importlib.metadata.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from autolog._patching import distributions
from autolog._patching.hooks import when_imported

# Not needed before the first fit: the libraries, wrapt (and the asyncio it imports),
# importlib.metadata, and autolog's tracking, model and registry machinery.
NOT_AT_ENABLE = [
    "asyncio",
    "wrapt",
    "importlib.metadata",
    "email",
    "numpy",
    "sklearn",
    "xgboost",
    "autolog._tracking.runs",
    "autolog._tracking.writer",
    "autolog._models",
    "autolog._registry",
    "autolog.backends",
    "autolog.integrations.sklearn",
    "autolog.integrations.xgboost",
]


def _child(code: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_import_and_enable_load_nothing_the_first_fit_does_not_need() -> None:
    found = _child(
        f"""
        import json, sys
        import autolog
        after_import = sorted(m for m in sys.modules if m.startswith("autolog"))
        on = autolog.enable()
        loaded = [m for m in {NOT_AT_ENABLE!r} if m in sys.modules]
        from sklearn.linear_model import LogisticRegression
        LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        runs = autolog.search_runs()
        print(json.dumps({{"after_import": after_import, "on": on, "loaded": loaded,
                           "runs": len(runs), "params": runs[0].params}}))
        """
    )
    assert found["after_import"] == ["autolog", "autolog.errors"]
    assert found["loaded"] == []
    assert found["on"] == ["sklearn", "xgboost"]
    # The integration was built when scikit-learn was imported, and recorded the fit.
    assert found["runs"] == 1
    assert found["params"]["C"] == "1.0"


def test_enabled_before_the_import_the_integration_is_on_and_disable_cancels_it() -> None:
    found = _child(
        """
        import json, sys
        import autolog
        from autolog._patching.enable import enabled_integrations, get_integration
        autolog.enable(integrations=["sklearn"], log_models=False)
        pending = enabled_integrations()
        built = get_integration("sklearn")  # built on demand, with the options given
        state = [built.enabled, built.options.log_models, "sklearn" in sys.modules]
        autolog.disable()
        autolog.enable(integrations=["xgboost"])
        autolog.disable(integrations=["xgboost"])
        import xgboost
        from autolog._patching.integration import AutologWrapper
        patched = isinstance(xgboost.training.train, AutologWrapper)
        print(json.dumps({"pending": pending, "state": state, "xgboost_patched": patched,
                          "on": enabled_integrations()}))
        """
    )
    assert found["pending"] == ["sklearn"]
    assert found["state"] == [True, False, False]
    assert found["xgboost_patched"] is False
    assert found["on"] == []


def test_an_attribute_autolog_does_not_have_is_an_attribute_error() -> None:
    import autolog

    with pytest.raises(AttributeError, match="no attribute 'enabel'"):
        autolog.enabel  # type: ignore[attr-defined]  # noqa: B018
    assert "search_runs" in dir(autolog)


def test_a_hook_runs_after_the_module_and_the_module_keeps_its_own_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hooked_lib.py").write_text("VALUE = 41\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen: list[tuple[int, str]] = []
    when_imported("hooked_lib", lambda m: seen.append((m.VALUE, type(m.__loader__).__name__)))
    assert seen == []
    try:
        import hooked_lib  # type: ignore[import-not-found]

        assert seen == [(41, "SourceFileLoader")]
        assert type(hooked_lib.__spec__.loader).__name__ == "SourceFileLoader"
        when_imported("hooked_lib", lambda m: seen.append((0, "now")))  # already imported
        assert seen[-1] == (0, "now")
    finally:
        sys.modules.pop("hooked_lib", None)


def test_versions_and_entry_points_agree_with_importlib_metadata() -> None:
    for dist in metadata.distributions():
        assert distributions.version(dist.name) == metadata.version(dist.name), dist.name
    assert distributions.version("no-such-distribution-here") is None
    for group in ("console_scripts", "pytest11"):
        ours = sorted(distributions.entry_points(group))
        theirs = sorted((ep.name, ep.value) for ep in metadata.entry_points(group=group))
        assert ours == theirs, group
