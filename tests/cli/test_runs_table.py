"""The columns of `autolog runs`: the default choice, `--columns`, the footer, and the demo."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import autolog
from autolog._cli.main import main
from autolog._cli.runs_columns import parse_columns
from autolog._cli.runs_table import (
    METRIC_COLUMNS,
    RunsTable,
    default_metrics,
    default_params,
    metric_rank,
    runs_table,
)
from autolog._cli.table import format_numbers
from autolog._entities import Run, RunStatus
from autolog.errors import InvalidValueError

REPO = Path(__file__).resolve().parents[2]


def make_run(
    name: str,
    params: dict[str, str] | None = None,
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
    parent: str | None = None,
) -> Run:
    return Run(
        id=f"id-{name}",
        name=name,
        experiment="Default",
        experiment_id="0",
        status=RunStatus.FINISHED,
        start_time=1_700_000_000_000,
        end_time=1_700_000_001_000,
        parent_id=parent,
        params=params or {},
        metrics=metrics or {},
        tags=tags or {},
    )


def cell(table: str, row_start: str, key: str) -> str:
    """The text under header `key` in the row that starts with `row_start`."""
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("RUN ID"))
    (row,) = [line for line in lines if line.startswith(row_start)]
    found = re.search(rf"(?<!\S){re.escape(key)}(?!\S)", header)
    assert found is not None, f"no column {key!r} in\n{header}"
    if row[found.start()] == " ":  # a right-aligned number ends under the header's end
        return row[: found.end()].split()[-1]
    return row[found.start() :].split()[0]


# -- the demo ------------------------------------------------------------------------------


def test_the_demo_table_shows_the_script_runs_test_metrics(tmp_path: Path) -> None:
    """`make demo`: examples/train_sklearn.py under `autolog run`, then `autolog runs`."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # the store: conftest's
    train = subprocess.run(
        [sys.executable, "-m", "autolog", "run", str(REPO / "examples" / "train_sklearn.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert train.returncode == 0, train.stderr
    (script_run,) = autolog.search_runs(filter="tags.`autolog.run.type` = 'script'")
    held_out = ["accuracy_score_X_test", "f1_score_X_test", "roc_auc_score_X_test"]
    # Into a pipe (no width limit), then on a terminal 200 characters wide.
    for width, keys in [(None, [*held_out, "best_cv_score"]), ("200", held_out)]:
        shown = subprocess.run(
            [sys.executable, "-m", "autolog", "runs"],
            env={**env, **({"COLUMNS": width} if width else {})},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        for key in keys:
            expected = format_numbers([script_run.metrics[key]])[0]
            assert cell(shown.stdout, script_run.id, key) == expected, shown.stdout
        best_c = cell(shown.stdout, script_run.id, "best_clf__C")
        assert best_c == script_run.params["best_clf__C"]
        # The candidates show the grid's value, not the pipeline's repr.
        for child in autolog.search_runs(filter=f"attributes.parent_id = '{script_run.id}'"):
            assert cell(shown.stdout, child.id, "clf__C") == child.params["clf__C"]
        # What the table used to show instead: a `nan` default, a param of one run only,
        # the candidates' fit times.
        header = shown.stdout.splitlines()[1].split()
        assert not {"error_score", "cv", "mean_fit_time", "verbose"} & set(header)
        assert shown.stderr.startswith("not shown: ") and "--columns" in shown.stderr


# -- the default choice --------------------------------------------------------------------


def test_metric_rank_puts_held_out_data_first_and_bookkeeping_last() -> None:
    assert [
        metric_rank(k)
        for k in [
            "accuracy_score_X_test",
            "mean_squared_error_X_val-2",
            "LinearRegression_score_holdout",
            "best_cv_score",
            "mean_test_score",
            "valid-auc",
            "validation_0-logloss",
            "rmse",
            "training_f1_score",
            "train-auc",
            "accuracy_score_X_train",
            "mean_score_time",
            "std_test_score",
            "rank_test_score",
            "feature_importance.x0",
            "partial_fit_calls",
            "best_iteration",
        ]
    ] == [1, 1, 1, 2, 2, 2, 2, 3, 4, 4, 4, 5, 5, 5, 5, 5, 5]


def test_a_runs_test_metric_shows_even_when_most_runs_lack_it() -> None:
    many = [
        make_run(f"fit-{i}", metrics={f"training_m{j}": 0.5 for j in range(10)}) for i in range(9)
    ]
    scored = make_run(
        "scored",
        metrics={"training_m0": 0.7, "feature_importance.a": 0.1, "f1_score_X_test": 0.8},
    )
    chosen = default_metrics([*many, scored], pinned=[])
    assert chosen[:2] == ["training_m0", "f1_score_X_test"]  # each run's best, in row order
    assert len(chosen) == METRIC_COLUMNS and "feature_importance.a" not in chosen


def test_nan_and_pinned_metrics() -> None:
    runs = [make_run("a", metrics={"rmse": float("nan"), "r2": 0.5, "mae": 1.0})]
    assert default_metrics(runs, pinned=[]) == ["r2", "mae"]
    assert default_metrics(runs, pinned=["mae", "absent"]) == ["mae", "r2"]


def test_params_chosen_values_first_then_those_that_differ() -> None:
    runs = [
        make_run("search", {"cv": "5", "error_score": "nan", "best_C": "0.1", "best_gamma": "nan"}),
        make_run("c0", {"C": "0.01", "solver": "lbfgs", "tol": "None"}),
        make_run("c1", {"C": "0.1", "solver": "lbfgs", "tol": "None"}),
        make_run("c2", {"C": "1.0", "solver": "lbfgs", "tol": "0.001", "seed": "nan"}),
    ]
    assert default_params(runs, pinned=[]) == ["best_C", "C", "tol"]
    assert default_params(runs, pinned=["solver"]) == ["solver", "best_C", "C", "tol"]


# -- --columns -----------------------------------------------------------------------------


def test_parse_columns() -> None:
    parsed = parse_columns(["metrics.*_X_test, param.`a,b` ,Status", "run_name,start"])
    assert not parsed.add
    assert [(i.kind, i.key) for i in parsed.items] == [
        ("metrics", "*_X_test"),
        ("params", "a,b"),
        ("attributes", "status"),
        ("attributes", "name"),
        ("attributes", "start_time"),
    ]
    added = parse_columns(["+tags.team", "+metrics.rmse", "attr.duration"])
    assert added.add and [i.key for i in added.items] == ["team", "rmse", "duration"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("statu", "'statu' is not an attribute; did you mean 'status'?"),
        ("rmse", "write params.rmse, metrics.rmse or tags.rmse"),
        ("metric.", "'metric.' names no key"),
        ("x.rmse", "has the prefix 'x'; use params., metrics., tags. or attributes."),
        ("metrics.`a,b", "opens a ` quote it never closes"),
        (" , ", "--columns names no columns"),
    ],
)
def test_bad_columns_name_the_item_and_the_fix(value: str, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message.replace("?", r"\?").replace(".", r"\.")):
        parse_columns([value])
    with pytest.raises(InvalidValueError, match="starts with '\\+' but the first"):
        parse_columns(["metrics.a", "+metrics.b"])


RUNS = [
    make_run("parent", {"C": "1", "cv": "5"}, {"f1_score_X_test": 0.91, "loss": 0.2}),
    make_run("kid", {"C": "2"}, {"loss": 0.3, "mean_fit_time": 0.1}, {"team": "a"}, "id-parent"),
]


def headers(table: RunsTable) -> list[str]:
    return [c.header for c in table.columns]


def test_listed_columns_replace_the_default_ones_in_their_order() -> None:
    table = runs_table(RUNS, columns=parse_columns(["metrics.*,status,params.C,tags.team"]))
    assert headers(table) == [
        "RUN ID",
        "NAME",
        "f1_score_X_test",
        "loss",
        "mean_fit_time",
        "STATUS",
        "C",
        "team",
    ]
    assert table.columns[1].cells == ["parent", "└─ kid"]
    assert table.footer(cut=0) == ""  # the user chose: nothing to tell
    table = runs_table(RUNS, columns=parse_columns(["name,metrics.loss,id"]))
    assert headers(table) == ["NAME", "loss", "RUN ID"]


def test_added_columns_follow_the_default_ones() -> None:
    default = runs_table(RUNS)
    assert headers(default)[-4:] == ["C", "f1_score_X_test", "loss", "mean_fit_time"]
    assert default.footer(cut=0) == (
        "not shown: 1 param, 1 tag; show some with --columns +params.cv,tags.team (see --help)"
    )
    added = runs_table(RUNS, columns=parse_columns(["+params.cv,tags.*,metrics.loss"]))
    assert headers(added) == [*headers(default), "cv", "team"]  # loss was shown already
    assert added.footer(cut=2) == (
        "not shown: 2 columns too wide for the terminal; pick the ones to show with --columns"
        " (see --help)"
    )


def test_unmatched_items_are_reported() -> None:
    table = runs_table(RUNS, columns=parse_columns(["metrics.los,params.z*"]))
    assert table.unmatched == [
        "--columns 'metrics.los': no listed run has such a metric; did you mean metrics.loss?",
        "--columns 'params.z*': no listed run has such a param",
    ]


def test_columns_through_the_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with autolog.start_run(name="wide") as run:
        autolog.log_params({f"p{i}": i for i in range(8)})
        autolog.log_metrics({f"accuracy_score_X_test{i}": 0.5 for i in range(8)})
    monkeypatch.setenv("COLUMNS", "120")
    assert main(["runs", "-c", "metrics.accuracy_score_X_test[0-2]", "-c", "params.p7"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1].split() == [
        "RUN",
        "ID",
        "NAME",
        "accuracy_score_X_test0",
        "accuracy_score_X_test1",
        "accuracy_score_X_test2",
        "p7",
    ]
    assert run.id in out and err == ""
    monkeypatch.setenv("COLUMNS", "90")
    assert main(["runs", "--columns", "+metrics.*"]) == 0
    out, err = capsys.readouterr()
    assert all(len(line) <= 90 for line in out.splitlines())
    assert err.startswith("not shown: 8 params, ") and "too wide for the terminal" in err
    assert main(["runs", "--columns", "bogus"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("autolog: error: --columns item 'bogus' is not an attribute")
