"""The CLI with `--tracking-uri http://...`: the same answers as over a local store.

The same runs are logged to a local directory and to a server (over SQLite and
PostgreSQL); `autolog runs`, `experiments`, `show`, `artifacts` and `models` print the
same thing for both, once run ids and times are masked.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression
from trackingserver import ServerProcess

import autolog
from autolog._cli.main import main

X, Y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]


def _log_runs(uri: str, experiment: str) -> list[str]:
    """Three runs with params, metrics, tags, a model and a text artifact; their ids."""
    autolog.set_tracking_uri(uri)
    autolog.set_experiment(experiment)
    ids = []
    for i, c in enumerate([0.1, 1.0, 10.0]):
        with autolog.start_run(f"run-{i}") as run:
            autolog.log_params({"C": c, "solver": "lbfgs"})
            for step in range(3):
                autolog.log_metric("loss", (i + 1) / (step + 1), step=step)
            autolog.set_tag("team", "a" if i < 2 else "b")
            autolog.log_text(f"note {i}", "notes/readme.txt")
            autolog.log_model(LogisticRegression(C=c).fit(X, Y), "model")
        ids.append(run.id)
    autolog.flush()
    return ids


def _cli(capsys: pytest.CaptureFixture[str], uri: str, *args: str) -> str:
    code = main([*args, "--tracking-uri", uri])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def _label(uri: str) -> str:
    return "http" if uri.startswith("http") else "local"


def _masked(text: str, ids: list[str], uri: str) -> str:
    for i, run_id in enumerate(ids):
        for length in (32, 12, 8):
            text = text.replace(run_id[:length], f"<run{i}>")
    text = text.replace(uri, "<uri>").replace(str(Path("dl") / _label(uri)), "dl/<store>")
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "<time>", text)
    text = re.sub(r"\b\d+\.\d+s\b", "<duration>", text)
    return re.sub(r"\b\d+(\.\d+)? (KiB|B)\b", "<size>", text)


def test_the_cli_answers_over_http_as_over_a_local_store(
    server: ServerProcess,
    spool_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    experiment = f"cli-{uuid.uuid4().hex[:8]}"
    local = str(tmp_path / "local-store")
    stores = {local: _log_runs(local, experiment), server.url: _log_runs(server.url, experiment)}
    model = f"cli-model-{uuid.uuid4().hex[:8]}"
    seen: dict[str, list[str]] = {}
    where = "metrics.loss < 0.5 and tags.team = 'a'"
    for uri, ids in stores.items():
        commands = [
            ["runs", "-e", experiment, "-c", "name,status,params.C,metrics.loss,tags.team"],
            [
                "runs",
                "-e",
                experiment,
                "-f",
                where,
                "-c",
                "name,metrics.loss",
                "-o",
                "metrics.loss",
            ],
            ["show", ids[1]],
            ["artifacts", ids[0]],
            ["artifacts", ids[0], "notes", "--download", str(tmp_path / "dl" / _label(uri))],
            ["models", "register", f"runs:/{ids[2]}/model", model],
            ["models", "register", f"runs:/{ids[1]}/model", model],
            ["models", "alias", model, "champion", "1"],
            ["models", "show", model],
        ]
        seen[uri] = [_masked(_cli(capsys, uri, *args), ids, uri) for args in commands]
        autolog.set_tracking_uri(uri)
        loaded = autolog.load_model(f"models:/{model}@champion")
        assert loaded.get_params()["C"] == 10.0
        assert autolog.load_model(f"runs:/{ids[0]}/model").get_params()["C"] == 0.1
    local_out, http_out = seen[local], seen[server.url]
    for mine, theirs in zip(local_out, http_out, strict=True):
        assert theirs == mine
    assert "run-2" in local_out[0] and "run-0" in local_out[1] and "run-1" not in local_out[1]
