"""A logged model loads in a fresh virtual environment built from its requirements.txt alone.

Slow (it installs XGBoost, scikit-learn and their dependencies from the package
registry into a new virtual environment, a minute or two) but the only proof that
the requirements are complete: an `XGBClassifier` needs scikit-learn beside
XGBoost, and `autolog.load_model` needs autolog itself (installed from this
checkout in place of the `autolog-ml==<version>` line, which names the release).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import autolog

pytestmark = pytest.mark.slow

REPO = Path(autolog.__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{args[:4]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_an_xgbclassifier_loads_and_predicts_alike_from_its_requirements_alone(
    tmp_path: Path,
) -> None:
    xgb = pytest.importorskip("xgboost")
    autolog.enable(["xgboost"])
    try:
        rng = np.random.default_rng(0)
        X = rng.normal(size=(200, 5))
        y = (X[:, 0] + X[:, 1] > 0).astype(int)
        model = xgb.XGBClassifier(n_estimators=5, max_depth=3).fit(X, y)
    finally:
        autolog.disable()
    (run,) = autolog.search_runs()
    model_dir = autolog.download_artifacts(run.id, "model")
    np.save(tmp_path / "X.npy", X)
    expected = model.predict_proba(X)

    lines = (model_dir / "requirements.txt").read_text().split()
    names = [line.partition("==")[0] for line in lines]
    assert {"xgboost", "scikit-learn", "numpy", "autolog-ml"} <= set(names), lines
    requirements = [
        str(REPO) if name == "autolog-ml" else line for name, line in zip(names, lines, strict=True)
    ]
    (tmp_path / "requirements.txt").write_text("\n".join(requirements) + "\n")

    # A real fresh environment: the base interpreter's venv, no system site-packages.
    base = getattr(sys, "_base_executable", sys.executable)
    _run([base, "-m", "venv", str(tmp_path / "env")], tmp_path)
    python = str(tmp_path / "env" / "bin" / "python")
    _run([python, "-m", "pip", "install", "-q", "-r", "requirements.txt"], tmp_path)
    script = textwrap.dedent(
        f"""
        import numpy as np, autolog
        model = autolog.load_model({str(model_dir)!r})
        np.save("got.npy", model.predict_proba(np.load("X.npy")))
        print(type(model).__module__, type(model).__name__)
        """
    )
    out = _run([python, "-c", script], tmp_path)
    assert out.split() == ["xgboost.sklearn", "XGBClassifier"]
    np.testing.assert_array_equal(np.load(tmp_path / "got.npy"), expected)
