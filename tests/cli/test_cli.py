"""Tests of the `autolog` command: experiments, runs, show and artifacts, and its errors.

A few cases run the real command in a subprocess (`python -m autolog` and the
console script); the rest call `main([...])` in-process, which is much faster.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import autolog
import autolog.backends as _backend
from autolog._cli import runs as _cli_runs
from autolog._cli.main import main
from autolog._cli.table import (
    ASCII,
    Column,
    TreeNode,
    format_duration,
    format_number,
    format_numbers,
    format_size,
    format_time,
    render_table,
    render_tree,
    truncate,
)
from autolog._tracking.settings import tracking
from autolog.backends.base import Backend, Batch, RunMeta

BIN = Path(sys.executable).parent


@dataclass
class Store:
    """The ids of the runs `populated` logged."""

    sweep: str
    children: list[str]  # ridge-0, ridge-1, ridge-2
    broken: str
    blob: bytes = field(repr=False)


@pytest.fixture
def populated(tmp_path: Path) -> Store:
    """A sweep with three child runs in "housing", and a failed run in "other"."""
    autolog.configure(disable_capture=["packages", "git", "source"])
    autolog.set_experiment("housing")
    blob = bytes(range(256)) * 40
    (tmp_path / "weights.bin").write_bytes(blob)
    children = []
    with autolog.start_run(name="sweep") as sweep:
        autolog.log_param("model", "ridge")
        autolog.set_tag("team", "ml")
        for i, alpha in enumerate([0.1, 1.0, 10.0]):
            time.sleep(0.002)  # distinct start times (milliseconds) give a known order
            with autolog.start_run(name=f"ridge-{i}", nested=True) as child:
                autolog.log_params({"alpha": alpha, "solver": "auto"})
                for step in range(5):
                    autolog.log_metric("rmse", 0.5 - alpha / 100 + step / 1000, step=step)
                autolog.log_metric("r2", 0.9 + alpha / 1000)
                children.append(child.id)
        autolog.log_text("hello\n", "notes/readme.txt")
        autolog.log_artifact(tmp_path / "weights.bin", "model")
        autolog.log_dict({"a": 1}, "model/meta.json")
    autolog.set_experiment("other")
    with pytest.raises(ValueError), autolog.start_run(name="broken") as broken:
        autolog.log_param("alpha", 3)
        raise ValueError("boom")
    autolog.flush()
    return Store(sweep.id, children, broken.id, blob)


def cli(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> tuple[str, str]:
    """Run `autolog ARGS` in-process; check its exit code; return (stdout, stderr)."""
    result = main(list(args))
    out, err = capsys.readouterr()
    assert result == code, f"exit {result}, expected {code}\nstdout:\n{out}\nstderr:\n{err}"
    return out, err


def subprocess_cli(
    tmp_path: Path, *args: str, script: bool = False, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the real command: `python -m autolog ARGS`, or the console script."""
    command = [str(BIN / "autolog")] if script else [sys.executable, "-m", "autolog"]
    return subprocess.run(
        [*command, *args],
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200", "PYTHONIOENCODING": "utf-8", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def row_of(out: str, run_id: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith(run_id)]
    return line


# -- through a real process ----------------------------------------------------------------


def test_runs_table_in_a_subprocess(tmp_path: Path, populated: Store) -> None:
    proc = subprocess_cli(tmp_path, "--tracking-uri", str(tmp_path / "runs"), "runs")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["params", "metrics"]
    assert lines[1].split()[:6] == ["RUN", "ID", "NAME", "EXPERIMENT", "STATUS", "START"]
    assert {"alpha", "rmse", "r2"} <= set(lines[1].split())
    # `solver` and `model` have one value wherever they are set: they tell no runs apart.
    assert "solver" not in lines[1].split() and "model" not in lines[1].split()
    assert proc.stderr.startswith("not shown: 2 params, 1 tag; show some with --columns")
    sweep = row_of(proc.stdout, populated.sweep)
    assert "sweep" in sweep and "FINISHED" in sweep and "housing" in sweep
    start = format_time(autolog.get_run(populated.sweep).start_time)
    assert start in sweep
    child = row_of(proc.stdout, populated.children[2])
    assert "├─ ridge-2" in child and "10.0" in child and "0.4040" in child
    assert "└─ ridge-0" in row_of(proc.stdout, populated.children[0])
    assert "FAILED" in row_of(proc.stdout, populated.broken)


def test_show_through_the_console_script(tmp_path: Path, populated: Store) -> None:
    # The tracking URI comes from the environment here (conftest sets it).
    assert (BIN / "autolog").exists(), "the autolog console script is not installed"
    proc = subprocess_cli(tmp_path, "show", populated.sweep[:8], script=True)
    assert proc.returncode == 0, proc.stderr
    assert f"Run         {populated.sweep}" in proc.stdout
    assert "Child runs (3)" in proc.stdout
    assert "└─ weights.bin" in proc.stdout


def test_ascii_terminal_gets_ascii_tree(tmp_path: Path, populated: Store) -> None:
    proc = subprocess_cli(tmp_path, "artifacts", populated.sweep, PYTHONIOENCODING="ascii")
    assert proc.returncode == 0, proc.stderr
    assert "|- meta.json" in proc.stdout and "`- weights.bin" in proc.stdout


def test_bad_filter_exits_2_and_points_at_the_token(tmp_path: Path, populated: Store) -> None:
    proc = subprocess_cli(tmp_path, "runs", "--filter", "metrics.rmse << 0.5")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("autolog: error: invalid filter 'metrics.rmse << 0.5'")
    assert "Traceback" not in proc.stderr
    source, caret = proc.stderr.splitlines()[-2:]
    assert source.strip() == "metrics.rmse << 0.5"
    assert caret.index("^") == source.index("<< 0.5") + 1


def test_unknown_scheme_is_one_line(tmp_path: Path) -> None:
    proc = subprocess_cli(tmp_path, "--tracking-uri", "foo://bar", "runs")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("autolog: error: tracking URI 'foo://bar' has scheme 'foo'")


# -- experiments ---------------------------------------------------------------------------


def test_experiments_table(capsys: pytest.CaptureFixture[str], populated: Store) -> None:
    out, _ = cli(capsys, "experiments")
    header, housing, other = out.splitlines()
    assert header.split() == ["ID", "NAME", "CREATED", "RUNS"]
    assert housing.split()[1] == "housing" and housing.split()[-1] == "4"
    assert other.split()[1] == "other" and other.split()[-1] == "1"
    assert housing.split()[0] == autolog.get_experiment("housing").id


def test_experiments_json(capsys: pytest.CaptureFixture[str], populated: Store) -> None:
    out, _ = cli(capsys, "experiments", "--json")
    assert [(e["name"], e["runs"]) for e in json.loads(out)] == [("housing", 4), ("other", 1)]


def test_empty_store_says_where_it_looked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out, err = cli(capsys, "runs", "--tracking-uri", str(tmp_path / "empty"))
    assert out == ""
    assert f"no runs in file://{tmp_path / 'empty'}" in err
    assert not (tmp_path / "empty").exists()
    out, err = cli(capsys, "experiments", "--tracking-uri", str(tmp_path / "empty"))
    assert "no experiments" in err


# -- runs ----------------------------------------------------------------------------------


def test_runs_json_round_trips(capsys: pytest.CaptureFixture[str], populated: Store) -> None:
    out, _ = cli(capsys, "runs", "--json")
    listed = json.loads(out)
    assert len(listed) == 5
    for data in listed:
        assert data == autolog.get_run(data["id"]).to_dict()


def test_children_are_indented_under_their_parent(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, populated: Store
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    out, _ = cli(capsys, "runs", "--experiment", "housing")
    ids = [line.split()[0] for line in out.splitlines()[2:]]
    # Newest first at the top level; each child directly below its parent, newest first too.
    assert ids == [populated.sweep, *reversed(populated.children)]
    assert "├─ ridge-2" in row_of(out, populated.children[2])
    assert "└─ ridge-0" in row_of(out, populated.children[0])
    assert "EXPERIMENT" not in out  # one experiment listed: no column for it


def test_filter_and_order_by(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, populated: Store
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    out, _ = cli(capsys, "runs", "--filter", "metrics.rmse < 0.5", "--json")
    assert {r["id"] for r in json.loads(out)} == set(populated.children[1:])
    # An unquoted direction after the key is joined back to it.
    out, _ = cli(
        capsys, "runs", "--order-by", "metrics.r2", "desc", "--filter", "params.alpha > 0.5"
    )
    ids = [line.split()[0] for line in out.splitlines()[2:]]
    assert ids == [populated.children[2], populated.children[1], populated.broken]
    header = out.splitlines()[1].split()
    # Keys named in --filter and --order-by come first in their groups, and are shown even
    # when they would not be (solver has one value in every run that has it).
    assert header.index("r2") < header.index("rmse")
    out, _ = cli(capsys, "runs", "--filter", "params.solver = 'auto'")
    header = out.splitlines()[1].split()
    assert header.index("solver") < header.index("alpha")


def test_status_and_max_results(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, populated: Store
) -> None:
    out, _ = cli(capsys, "runs", "--status", "failed", "--json")
    assert [r["id"] for r in json.loads(out)] == [populated.broken]
    out, err = cli(capsys, "runs", "-n", "2", "--json")
    assert len(json.loads(out)) == 2 and err == ""
    monkeypatch.setattr(_cli_runs, "DEFAULT_MAX_RESULTS", 3)
    out, err = cli(capsys, "runs", "--json")
    assert len(json.loads(out)) == 3
    assert "showing 3 of 5 runs" in err


def test_table_fits_the_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, populated: Store
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out, _ = cli(capsys, "runs")
    assert all(len(line) <= 80 for line in out.splitlines())
    for run_id in [populated.sweep, populated.broken, *populated.children]:
        row_of(out, run_id)  # ids are never cut
    # The start time gives way before the first param and metric do.
    header = out.splitlines()[1].split()
    assert "START" not in header
    assert "alpha" in header and "r2" in header
    monkeypatch.setenv("COLUMNS", "112")
    out, _ = cli(capsys, "runs")
    header = out.splitlines()[1].split()
    # Columns that tell the rows apart (alpha, rmse) outlast those that do not (solver).
    assert "rmse" in header and "solver" not in header and "EXPERIMENT" not in header
    assert all(len(line) <= 112 for line in out.splitlines())


def test_run_options_after_the_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, populated: Store
) -> None:
    out, _ = cli(capsys, "runs", "--tracking-uri", str(tmp_path / "runs"), "--json")
    assert len(json.loads(out)) == 5
    assert tracking.settings.tracking_uri is None  # main() leaves the settings as they were


# -- show ----------------------------------------------------------------------------------


def test_show_parent_with_children(capsys: pytest.CaptureFixture[str], populated: Store) -> None:
    out, _ = cli(capsys, "show", populated.sweep)
    run = autolog.get_run(populated.sweep)
    assert f"Experiment  housing  (id {run.experiment_id})" in out
    assert f"Start       {format_time(run.start_time)}" in out
    children = out.split("Child runs (3)\n")[1].split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in children] == populated.children
    assert "Params (1)\n  model  ridge" in out
    # User tags come before the autolog.* system tags, in their own section.
    assert out.index("Tags (1)\n  team  ml") < out.index("System tags (")
    assert "autolog.python" in out.split("System tags (")[1]
    artifacts = out.split("Artifacts (")[1]
    assert artifacts.startswith("3 files, ")
    assert re.search(r"model/\s+10\.0 KiB\s+\(2 files\)", artifacts)
    assert re.search(r"└─ weights\.bin\s+10\.0 KiB", artifacts)


def test_show_child_metrics_and_parent(
    capsys: pytest.CaptureFixture[str], populated: Store
) -> None:
    out, _ = cli(capsys, "show", populated.children[0][:6])
    assert f"Parent      {populated.sweep}  (sweep)" in out
    assert re.search(r"rmse\s+0\.503\s+\(5 points\)", out)
    assert re.search(r"r2\s+0\.9001\s+\(1 point\)", out)
    assert "Child runs: none" in out and "Artifacts: none" in out


def test_show_failed_run_names_the_error(
    capsys: pytest.CaptureFixture[str], populated: Store
) -> None:
    out, _ = cli(capsys, "show", populated.broken)
    assert "Status      FAILED" in out
    assert "Error       ValueError: boom" in out
    assert "error.txt" in out


def test_show_json(capsys: pytest.CaptureFixture[str], populated: Store) -> None:
    out, _ = cli(capsys, "show", populated.sweep, "--json")
    data = json.loads(out)
    assert {k: v for k, v in data.items() if k in autolog.get_run(populated.sweep).to_dict()} == (
        autolog.get_run(populated.sweep).to_dict()
    )
    assert data["children"] == populated.children
    assert {"path": "model/weights.bin", "size": 10240} in data["artifacts"]
    child = json.loads(cli(capsys, "show", populated.children[1], "--json")[0])
    assert child["metric_points"] == {"rmse": 5, "r2": 1}
    assert child["parent_id"] == populated.sweep


def _raw_run(backend: Backend, run_id: str) -> None:
    experiment = backend.get_or_create_experiment("raw")
    backend.create_run(RunMeta(run_id, run_id, experiment.id, 1_700_000_000_000))
    backend.write_batch(run_id, Batch(status="FINISHED", end_time=1_700_000_001_500))


def test_run_prefixes(capsys: pytest.CaptureFixture[str]) -> None:
    backend = tracking.backend()
    _raw_run(backend, "abcdef0123")
    _raw_run(backend, "abcdef4567")
    out, _ = cli(capsys, "show", "abcdef01", "--json")
    assert json.loads(out)["id"] == "abcdef0123"
    _, err = cli(capsys, "show", "abcdef", code=2)
    assert "matches 2 runs: abcdef0123 (abcdef0123, " in err and "abcdef4567" in err
    _, err = cli(capsys, "show", "abcde", code=2)
    assert "prefix of at least 6 characters" in err
    _, err = cli(capsys, "show", "fedcba98", code=2)
    assert err.startswith("autolog: error: no run with id or id prefix 'fedcba98'")
    _, err = cli(capsys, "show", "../etc", code=2)
    assert err.count("\n") == 1 and "'../etc'" in err


# -- artifacts -----------------------------------------------------------------------------


def test_artifacts_tree(capsys: pytest.CaptureFixture[str], populated: Store) -> None:
    out, _ = cli(capsys, "artifacts", populated.sweep[:10])
    names = [line.split()[0] for line in out.splitlines()]
    assert names == ["model/", "├─", "└─", "notes/", "└─"]
    assert re.search(r"└─ readme\.txt\s+6 B$", out, re.MULTILINE)
    out, _ = cli(capsys, "artifacts", populated.sweep, "model/")
    assert out.splitlines()[0].split()[0] == "model/"
    out, _ = cli(capsys, "artifacts", populated.sweep, "model/weights.bin")
    assert out.split() == ["model/weights.bin", "10.0", "KiB"]
    out, _ = cli(capsys, "artifacts", populated.sweep, "notes", "--json")
    assert json.loads(out) == [{"path": "notes/readme.txt", "size": 6}]
    _, err = cli(capsys, "artifacts", populated.sweep, "nope", code=2)
    assert "has no artifact 'nope'" in err


def test_artifacts_download(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, populated: Store
) -> None:
    out, _ = cli(capsys, "artifacts", populated.sweep, "--download", "out")
    assert out.strip() == (
        f"Downloaded 3 files (10.0 KiB) of run {populated.sweep} to {tmp_path / 'out'}"
    )
    assert (tmp_path / "out/model/weights.bin").read_bytes() == populated.blob
    assert (tmp_path / "out/notes/readme.txt").read_bytes() == b"hello\n"
    out, _ = cli(capsys, "artifacts", populated.sweep, "model/weights.bin", "-d", "one")
    assert out.rstrip().endswith(f"to {tmp_path / 'one/model/weights.bin'}")
    assert (tmp_path / "one/model/weights.bin").read_bytes() == populated.blob


# -- errors --------------------------------------------------------------------------------


def test_bad_inputs_exit_2(capsys: pytest.CaptureFixture[str], populated: Store) -> None:
    _, err = cli(capsys, "runs", "--experiment", "nope", code=2)
    assert err == (
        f"autolog: error: no experiment named 'nope' in {tracking.backend().uri}; known"
        " experiments: 'housing', 'other'\n"
    )
    _, err = cli(capsys, "show", "0123456789abcdef", code=2)
    assert "no run with id or id prefix '0123456789abcdef'" in err
    _, err = cli(capsys, "runs", "--order-by", "metrics.rmse sideways", code=2)
    assert err.startswith("autolog: error: invalid order_by clause")
    _, err = cli(capsys, "runs", "--status", "done", code=2)
    assert "invalid choice: 'DONE'" in err
    _, err = cli(capsys, "runs", "--max-results", "0", code=2)
    assert "'0' is not a positive whole number" in err
    _, err = cli(capsys, "frobnicate", code=2)
    assert "invalid choice: 'frobnicate'" in err
    _, err = cli(capsys, code=2)
    assert "usage: autolog" in err and "experiments" in err
    out, _ = cli(capsys, "--version")
    assert out.strip() == f"autolog {autolog.__version__}"


def _broken_backend(uri: str) -> Backend:
    raise RuntimeError(f"cannot reach {uri}")


def test_unexpected_errors_exit_1_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A backend plugin with a bug: the CLI says so in one line, with the traceback on request.
    monkeypatch.setitem(_backend._registered, "broken", _broken_backend)
    _, err = cli(capsys, "--tracking-uri", "broken://x", "runs", code=1)
    assert err == (
        "autolog: error: internal error: RuntimeError: cannot reach broken://x (run again with"
        " AUTOLOG_DEBUG=1 for the traceback, and please report it)\n"
    )
    monkeypatch.setenv("AUTOLOG_DEBUG", "1")
    _, err = cli(capsys, "--tracking-uri", "broken://x", "runs", code=1)
    assert err.startswith("Traceback (most recent call last):")
    assert err.endswith("please report it)\n")


# -- formatting helpers --------------------------------------------------------------------


def test_formatting_helpers() -> None:
    assert [format_duration(s) for s in (None, 0.04, 1.24, 59.96, 184, 7500, 200_000)] == [
        "running", "0.0s", "1.2s", "1m00s", "3m04s", "2h05m", "2d07h",
    ]  # fmt: skip
    assert [format_size(n) for n in (None, 0, 1023, 1024, 5 * 1024**2)] == [
        "", "0 B", "1023 B", "1.0 KiB", "5.0 MiB",
    ]  # fmt: skip
    assert [format_number(x) for x in (200.0, 0.43121, 12345.67, 1.5e-7, float("nan"))] == [
        "200", "0.4312", "12345.7", "1.500e-07", "nan",
    ]  # fmt: skip
    assert format_numbers([0.91, None, 0.9001]) == ["0.9100", "-", "0.9001"]
    assert format_numbers([3.0, 12.0]) == ["3", "12"]
    assert truncate("abcdef", 4) == "abc…" and truncate("abcdef", 4, ASCII) == "a..."
    assert truncate("abc", 4) == "abc"


def test_render_table_shrinks_then_drops() -> None:
    columns = [
        Column("ID", cells=["a" * 20]),
        Column("NAME", soft_min=6, min_width=3, cells=["a-long-name-here"]),
        Column("x", drop=1, group="params", cells=["1"]),
        Column("loss", align=">", drop=2, group="metrics", cells=["0.5"]),
    ]
    wide = render_table(columns)
    assert wide == [
        "                                        params  metrics",
        "ID                    NAME              x          loss",
        "aaaaaaaaaaaaaaaaaaaa  a-long-name-here  1           0.5",
    ]
    # First the name shrinks, then the metric and the param columns go, then the name shrinks
    # below its comfortable width; the id column is never cut.
    assert render_table(columns, 46)[1:] == [
        "ID                    NAME     x          loss",
        "aaaaaaaaaaaaaaaaaaaa  a-long…  1           0.5",
    ]
    assert render_table(columns, 41)[0].strip() == "params"
    assert render_table(columns, 24) == ["ID                    NA…", "a" * 20 + "  a-…"]
    assert render_table(columns, 10)[1] == "a" * 20 + "  a-…"


def test_render_tree() -> None:
    nodes = [
        TreeNode("model", children=[TreeNode("a.bin", size=2048), TreeNode("b", size=5)]),
        TreeNode("x.txt", size=1),
    ]
    assert render_tree(nodes, indent="  ") == [
        "  model/    2.0 KiB  (2 files)",
        "  ├─ a.bin  2.0 KiB",
        "  └─ b          5 B",
        "  x.txt         1 B",
    ]
    assert render_tree(nodes, ASCII)[2] == "`- b          5 B"
