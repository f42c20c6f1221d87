"""Tests of `autolog models ...` (autolog._cli.models), in-process and as a real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import autolog
from autolog._cli import main as _cli
from autolog._cli.main import main
from autolog._registry import api as reg

MODULE = "autolog._cli.models"


@pytest.fixture(autouse=True)
def _models_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hook the command module in where _cli.COMMAND_MODULES does not list it yet."""
    if MODULE not in _cli.COMMAND_MODULES:
        monkeypatch.setattr(_cli, "COMMAND_MODULES", [*_cli.COMMAND_MODULES, MODULE])
    monkeypatch.delenv("COLUMNS", raising=False)  # tables at their natural width


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def log_model_run(tmp_path: Path, accuracy: float = 0.9) -> str:
    """A finished run holding a model directory at `model` (an MLmodel and a model file)."""
    with autolog.start_run() as run:
        src = tmp_path / f"model-{run.id}"
        src.mkdir()
        (src / "MLmodel").write_text("flavors:\n  sklearn:\n    sklearn_version: 1.5.0\n")
        (src / "model.pkl").write_bytes(run.id.encode())
        run.log_metric("accuracy", accuracy)
        run.set_tag("autolog.git.commit", "0123abcd")
        run.log_artifacts(src, "model")
    return run.id


def test_register_alias_list_show_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run1, run2 = log_model_run(tmp_path, 0.81), log_model_run(tmp_path, 0.87)

    code, out, err = cli(
        capsys, "models", "register", f"runs:/{run1[:8]}/model", "churn", "--tag", "team=risk",
        "-d", "first try",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out == f"Registered 'churn' version 1 from runs:/{run1}/model\n"
    assert cli(capsys, "models", "register", f"runs:/{run2}/model", "churn")[0] == 0

    code, out, _ = cli(capsys, "models", "alias", "churn", "production", "1", "-m", "go live")
    assert (code, out) == (0, "churn@production -> version 1\n")
    code, out, _ = cli(capsys, "models", "alias", "churn", "production", "latest")
    assert (code, out) == (0, "churn@production moved: version 1 -> 2\n")
    code, out, _ = cli(capsys, "models", "alias", "churn", "production", "2")
    assert "already points at version 2; nothing changed" in out

    code, out, _ = cli(capsys, "models", "list")
    header, row = out.splitlines()
    assert header.split() == ["NAME", "VERSIONS", "LATEST", "ALIASES", "UPDATED", "DESCRIPTION"]
    assert row.split()[:6] == ["churn", "2", "2", "production", "->", "2"]

    code, out, _ = cli(capsys, "models", "show", "churn")
    assert code == 0
    assert "Aliases      production -> 2" in out and "Versions (2)" in out
    table = out.split("Versions (2)\n")[1].splitlines()
    assert table[0].split()[:3] == ["VERSION", "ALIASES", "CREATED"] and "accuracy" in table[0]
    assert table[1].split()[:2] == ["2", "production"] and "0.87" in table[1]
    assert table[2].split()[:2] == ["1", "-"] and "first try" in table[2]

    code, out, _ = cli(capsys, "models", "show", "churn", "--version", "1")
    assert f"Source       runs:/{run1}/model" in out
    assert "Git commit       0123abcd" in out and "sklearn version  1.5.0" in out
    assert "accuracy  0.81" in out and "team=risk" in out
    code, out, _ = cli(capsys, "models", "show", "churn", "--alias", "production", "--json")
    data = json.loads(out)
    assert (data["version"], data["aliases"], data["lineage"]["metrics"]) == (
        2,
        ["production"],
        {"accuracy": 0.87},
    )

    code, out, _ = cli(capsys, "models", "history", "churn")
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "USER", "EVENT", "VERSION", "CHANGE", "COMMENT"]
    events = [line.split()[3] for line in lines[1:]]
    assert events == [
        "model_created",
        "version_created",
        "version_created",
        "alias_set",
        "alias_moved",
    ]
    assert "production -> 1" in lines[4] and lines[4].endswith("go live")
    assert "production: 1 -> 2" in lines[5]
    history = json.loads(cli(capsys, "models", "history", "churn", "--json")[1])
    assert [(e["old_value"], e["new_value"]) for e in history[3:]] == [(None, "1"), ("1", "2")]


def test_tag_describe_and_delete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = log_model_run(tmp_path)
    for _ in range(2):
        reg.register_model(f"runs:/{run_id}/model", "churn")
    reg.set_alias("churn", "champion", 1)

    assert cli(capsys, "models", "tag", "churn", "team", "risk")[1] == "Tagged 'churn': team=risk\n"
    code, out, _ = cli(capsys, "models", "tag", "churn", "--version", "2", "stage", "ok")
    assert out == "Tagged version 2 of 'churn': stage=ok\n"
    assert cli(capsys, "models", "tag", "churn", "team", "--delete")[0] == 0
    assert cli(capsys, "models", "describe", "churn", "predicts churn")[0] == 0
    assert cli(capsys, "models", "describe", "churn", "-v", "2", "March data")[0] == 0
    model = reg.get_registered_model("churn")
    assert (model.tags, model.description) == ({}, "predicts churn")
    version = reg.get_model_version("churn", 2)
    assert (version.tags, version.description) == ({"stage": "ok"}, "March data")

    code, out, err = cli(capsys, "models", "delete", "churn", "--version", "1")
    assert (code, out) == (2, "")
    assert err.startswith("autolog: error: version 1 of model 'churn' is still the target")
    assert len(err.splitlines()) == 1
    code, out, _ = cli(capsys, "models", "delete", "churn", "-v", "1", "--force", "-m", "leak")
    assert (code, out) == (0, "Deleted version 1 of 'churn' (its number is not reused)\n")
    code, out, _ = cli(capsys, "models", "delete", "churn")
    assert code == 0 and "history stays readable" in out
    code, out, _ = cli(capsys, "models", "history", "churn")
    assert "deleted with aliases champion" in out and "leak" in out
    assert out.splitlines()[-1].split()[3] == "model_deleted"
    code, out, err = cli(capsys, "models", "list")
    assert (code, out) == (0, "") and err.startswith("no registered models in ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "show", "nope"], "no registered model named 'nope'"),
        (["models", "alias", "churn", "latest", "1"], "alias 'latest' is reserved"),
        (["models", "alias", "churn", "prod"], "which version should 'prod' point at?"),
        (["models", "alias", "churn", "prod", "7"], "has no version 7"),
        (["models", "register", "churn", "churn"], "is not a runs:/ URI"),
        (["models", "register", "runs:/0123456789ab/model", "x"], "no run with id"),
        (["models", "tag", "churn", "team"], "needs a VALUE"),
        (["models", "show", "churn", "--version", "one"], "is not a version"),
        (["models", "register", "runs:/RUN/model", "a/b"], "contains '/'"),
    ],
)
def test_errors_are_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = log_model_run(tmp_path)
    reg.register_model(f"runs:/{run_id}/model", "churn")
    code, out, err = cli(capsys, *[a.replace("RUN", run_id) for a in args])
    assert (code, out) == (2, "")
    assert err.startswith("autolog: error: ") and message in err, err
    assert len(err.splitlines()) == 1


def test_models_without_a_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "models")
    assert code == 2 and "history" in err and "register" in err
    code, out, _ = cli(capsys, "models", "--help")
    assert code == 0 and "models:/churn@production" in out


def test_list_filters_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = log_model_run(tmp_path)
    for name in ("churn-xgb", "churn-linear", "housing"):
        reg.register_model(f"runs:/{run_id}/model", name)
    reg.set_registered_model_tag("housing", "team", "pricing")
    code, out, _ = cli(capsys, "models", "list", "--name", "churn%", "--json")
    assert code == 0 and [m["name"] for m in json.loads(out)] == ["churn-linear", "churn-xgb"]
    code, out, _ = cli(capsys, "models", "list", "--tag", "team")
    assert code == 0 and [line.split()[0] for line in out.splitlines()[1:]] == ["housing"]
    _, out, err = cli(capsys, "models", "list", "--tag", "team=other")
    assert out == "" and err.startswith("no registered models match")


def test_as_a_real_command(tmp_path: Path) -> None:
    run_id = log_model_run(tmp_path)
    reg.register_model(f"runs:/{run_id}/model", "churn")
    hook = "import sys; from autolog._cli.main import main\nsys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(tmp_path / "elsewhere")}
    env.pop("COLUMNS", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", hook, *args], capture_output=True, text=True, env=env, timeout=60
        )

    store = str(tmp_path / "runs")
    done = run("models", "alias", "churn", "production", "1", "--tracking-uri", store)
    assert (done.returncode, done.stdout) == (0, "churn@production -> version 1\n"), done.stderr
    done = run("--tracking-uri", store, "models", "history", "churn")
    assert done.returncode == 0, done.stderr
    assert [line.split()[3] for line in done.stdout.splitlines()[1:]] == [
        "model_created",
        "version_created",
        "alias_set",
    ]
    assert reg.get_model_version_by_alias("churn", "production").version == 1
    done = run("models", "show", "churn")  # the environment's store: empty
    assert done.returncode == 2 and "registry is empty" in done.stderr
