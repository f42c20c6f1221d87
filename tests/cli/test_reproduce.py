"""`autolog reproduce` and `autolog data`, on a real script in a real git repository.

The script is run with `autolog run` in a subprocess, as a user would; the
reproduction checks out a git worktree, applies the recorded diff, runs the same
command under autolog (with this interpreter's packages: `--reuse-env`) and compares.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import autolog
from autolog._cli.main import main
from autolog._entities import Run

SCRIPT = """\
import sys

import numpy as np
from sklearn.linear_model import Ridge

data = np.loadtxt(sys.argv[1], delimiter=",")
Ridge(alpha=ALPHA).fit(data[:, :-1], data[:, -1])
"""

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, env={**os.environ, **GIT_ENV}
    )


def _write_data(path: Path, seed: int) -> None:
    rng = __import__("numpy").random.default_rng(seed)
    rows = rng.normal(size=(60, 4))
    path.write_text("\n".join(",".join(f"{v:.6f}" for v in row) for row in rows) + "\n")


@pytest.fixture
def project(tmp_path: Path, store_dir: Path) -> tuple[Run, Path]:
    """A git repository whose script was run, dirty, under `autolog run`; and its data file."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "train.py").write_text(SCRIPT.replace("ALPHA", "0.5"))
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-qm", "train")
    # Uncommitted at the time of the run: the reproduction must apply the recorded diff.
    (repo / "train.py").write_text(SCRIPT.replace("ALPHA", "3.0"))
    data = tmp_path / "data" / "train.csv"  # outside the repository: not versioned
    data.parent.mkdir()
    _write_data(data, 0)
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(store_dir), "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "autolog", "run", "train.py", str(data)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    (run,) = autolog.search_runs()
    assert run.params["alpha"] == "3.0"
    return run, data


def test_the_recipe(project: tuple[Run, Path], capsys: pytest.CaptureFixture[str]) -> None:
    run, data = project
    assert main(["reproduce", run.id[:8]]) == 0
    out = capsys.readouterr().out
    assert f"worktree add --detach reproduce-{run.id[:8]} {run.tags['autolog.git.commit']}" in out
    assert "git apply --binary context/git.diff" in out
    assert f"autolog artifacts {run.id[:8]} context/requirements.txt --download ." in out
    assert "PYTHONHASHSEED=0 autolog run --experiment Default" in out
    assert f"--tag autolog.reproduction.of={run.id} train.py {data}" in out
    assert "# warning: the data is not versioned (no DVC)" in out


def test_execute_reproduces_then_names_the_data_change(
    project: tuple[Run, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, data = project
    work = tmp_path / "again"
    assert main(["reproduce", run.id, "--execute", "--reuse-env", "--workdir", str(work)]) == 0
    out = capsys.readouterr().out
    assert "reproduced: all" in out and "metrics match" in out
    copy = next(r for r in autolog.search_runs() if r.id != run.id)
    assert copy.tags["autolog.reproduction.of"] == run.id
    assert copy.params == run.params  # alpha 3.0: the diff was applied
    assert copy.tags["autolog.seed.pythonhashseed"] == "0"
    metrics = {k: v for k, v in run.metrics.items() if not k.startswith("system/")}
    assert metrics and {k: copy.metrics[k] for k in metrics} == metrics
    assert (work / "src" / "train.py").read_text() == SCRIPT.replace("ALPHA", "3.0")

    _write_data(data, 1)  # the unversioned data file changes under the recorded run
    code = main(
        ["reproduce", run.id, "--execute", "--reuse-env", "--workdir", str(tmp_path / "w2")]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "not reproduced" in out and "DIFFERS" in out
    assert f"the training data changed (fingerprint {run.tags['autolog.data.hash']} ->" in out
    # Ridge's default solver reads no random_state: the random states are not blamed.
    assert "random state" not in out

    # `autolog data`: both versions of the data, each with the runs that trained on it.
    assert main(["data"]) == 0
    listing = capsys.readouterr().out
    assert run.tags["autolog.data.hash"] in listing and "X 60x3" in listing
    assert main(["data", "show", run.tags["autolog.data.hash"][:8]]) == 0
    shown = capsys.readouterr().out
    assert "2 trained on it" in shown and run.id in shown and copy.id in shown


def test_a_package_that_cannot_be_installed_is_named(
    project: tuple[Run, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run, _ = project
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # no registry: every package fails, nothing downloads
    code = main(["reproduce", run.id, "--execute", "--workdir", str(tmp_path / "venv-try")])
    err = capsys.readouterr().err
    assert code == 2
    assert "autolog: error: could not install " in err
    assert "--reuse-env" in err


def test_a_run_outside_git_cannot_be_executed(capsys: pytest.CaptureFixture[str]) -> None:
    autolog.configure(disable_capture=["git"])
    with autolog.start_run() as run:
        autolog.log_metric("m", 1.0)
    assert main(["reproduce", run.id]) == 0
    assert "# warning: the script was not in a git repository" in capsys.readouterr().out
    assert main(["reproduce", run.id, "--execute", "--reuse-env"]) == 2
    assert "recorded no git commit" in capsys.readouterr().err
