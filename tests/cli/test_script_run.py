"""`autolog run`: unmodified scripts tracked as script-level runs, in real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import autolog

TRAIN = """
import sys
import numpy as np
from sklearn.linear_model import LogisticRegression

print("argv", sys.argv[1:], __name__)
rng = np.random.default_rng(0)
X = rng.random((60, 3))
y = (X[:, 0] > 0.5).astype(int)
LogisticRegression(C=0.5).fit(X, y)
if "--second" in sys.argv:
    LogisticRegression(C=2.0).fit(X, y)
if "--fail" in sys.argv:
    raise ValueError("bad data in row 7")
if "--code" in sys.argv:
    sys.exit(3)
"""


def _autolog(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(tmp_path / "runs")}
    return subprocess.run(
        [sys.executable, "-m", "autolog", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(TRAIN))
    return path


def _script_run() -> autolog.Run:
    runs = autolog.search_runs(filter="tags.`autolog.run.type` = 'script'")
    assert len(runs) == 1
    return runs[0]


def test_script_run_records_the_script_and_its_fit(tmp_path: Path, script: Path) -> None:
    result = _autolog(tmp_path, "run", "train.py", "--lr", "0.1")
    assert result.returncode == 0, result.stderr
    assert "argv ['--lr', '0.1'] __main__" in result.stdout
    run = _script_run()
    assert run.status is autolog.RunStatus.FINISHED
    assert run.name == "train.py"
    assert run.tags["autolog.script.args"] == "--lr 0.1"
    assert run.tags["autolog.exit_code"] == "0"
    assert run.tags["autolog.source.name"] == "train.py"
    assert run.tags["autolog.command"].endswith("train.py --lr 0.1")
    # The first fit logs into the script run itself.
    assert run.params["C"] == "0.5"
    assert "training_accuracy_score" in run.metrics
    source = autolog.download_artifacts(run.id, "context/source/train.py", tmp_path / "dl")
    assert source.read_text() == script.read_text()


def test_later_fits_become_child_runs(tmp_path: Path, script: Path) -> None:
    result = _autolog(tmp_path, "run", "train.py", "--second")
    assert result.returncode == 0, result.stderr
    parent = _script_run()
    children = [r for r in autolog.search_runs() if r.parent_id == parent.id]
    assert [c.params["C"] for c in children] == ["2.0"]
    assert parent.params["C"] == "0.5"


def test_exception_fails_the_run_and_exits_1(tmp_path: Path, script: Path) -> None:
    result = _autolog(tmp_path, "run", "train.py", "--fail")
    assert result.returncode == 1
    assert "ValueError: bad data in row 7" in result.stderr
    assert "runpy" not in result.stderr  # the traceback shows the user's frames
    run = _script_run()
    assert run.status is autolog.RunStatus.FAILED
    assert run.tags["autolog.error"] == "ValueError: bad data in row 7"
    error = autolog.download_artifacts(run.id, "error.txt", tmp_path / "dl").read_text()
    assert "bad data in row 7" in error


def test_exit_code_passes_through(tmp_path: Path, script: Path) -> None:
    result = _autolog(tmp_path, "run", "train.py", "--code")
    assert result.returncode == 3
    run = _script_run()
    assert run.status is autolog.RunStatus.FAILED
    assert run.tags["autolog.exit_code"] == "3"


def test_options_name_the_run_and_experiment(tmp_path: Path, script: Path) -> None:
    result = _autolog(
        tmp_path, "run", "--experiment", "churn", "--run-name", "baseline", "train.py"
    )
    assert result.returncode == 0, result.stderr
    (run,) = autolog.search_runs(experiment="churn", filter="name = 'baseline'")
    assert run.experiment == "churn"


def test_module_mode(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(textwrap.dedent(TRAIN))
    result = _autolog(tmp_path, "run", "-m", "pkg", "--code")
    assert result.returncode == 3, result.stderr
    assert _script_run().params["C"] == "0.5"


def test_missing_script_is_a_clear_error(tmp_path: Path) -> None:
    result = _autolog(tmp_path, "run", "nope.py")
    assert result.returncode == 2
    assert "nope.py" in result.stderr
    assert "Traceback" not in result.stderr
