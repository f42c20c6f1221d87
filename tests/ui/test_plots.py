"""The run page's plots without a browser: `plot_view` turns autologging's own plot data into
tables and SVG paths with the values it holds, and any damaged file into a sentence."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed: pip install '.[dev]'")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from autolog._entities import FileInfo
from autolog._server.ui.plots import MAX_BYTES, PLOTS_ARTIFACT, plot_view, read_plots
from autolog.backends.base import RunMeta
from autolog.backends.memory import MemoryBackend
from autolog.integrations import _plot_data


def _written(inputs: _plot_data.PlotInputs) -> bytes:
    return _plot_data.plot_artifacts(inputs)[PLOTS_ARTIFACT]


def _classifier_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, bytes]:
    rng = np.random.default_rng(0)
    classes = np.array(["<b>bird</b>", "cat", "dog"])
    codes = rng.integers(0, 3, 500)
    raw = rng.random((500, 3)) + np.eye(3)[codes]
    proba = raw / raw.sum(axis=1, keepdims=True)
    y, pred = classes[codes], classes[proba.argmax(axis=1)]
    return y, pred, proba, _written(_plot_data.PlotInputs.of("classifier", y, pred, proba, classes))


def _regressor_data() -> tuple[np.ndarray, np.ndarray, bytes]:
    rng = np.random.default_rng(1)
    y = rng.normal(size=(400, 2)) * 50
    p = y + rng.normal(scale=5.0, size=y.shape)
    return y, p, _written(_plot_data.PlotInputs.of("regressor", y, p))


def test_a_classifier_s_matrix_and_curves() -> None:
    y, pred, _, data = _classifier_data()
    view = plot_view(data)
    assert view["problems"] == [] and view["residuals"] is None
    matrix = view["confusion"]
    assert matrix["labels"] == ["<b>bird</b>", "cat", "dog"]  # text: the template escapes it
    expected = skm.confusion_matrix(y, pred, labels=matrix["labels"])
    assert [[c["text"] for c in row["cells"]] for row in matrix["rows"]] == [
        [str(v) for v in row] for row in expected
    ]
    # The largest count is the darkest cell.
    shades = [[c["shade"] for c in row["cells"]] for row in matrix["rows"]]
    assert np.unravel_index(np.argmax(shades), (3, 3)) == np.unravel_index(
        expected.argmax(), (3, 3)
    )
    stored = json.loads(data)
    roc, pr = view["charts"]
    assert (roc["id"], pr["id"]) == ("roc-curve", "precision-recall-curve")
    assert [s["area"] for s in roc["series"]] == [c["auc"] for c in stored["roc_curve"]["curves"]]
    assert [s["area"] for s in pr["series"]] == [
        c["average_precision"] for c in stored["precision_recall_curve"]["curves"]
    ]
    first = stored["roc_curve"]["curves"][0]
    assert roc["series"][0]["legend"] == f"<b>bird</b> (AUC {first['auc']:.4f})"
    # A path point per stored point; the precision-recall curve steps (two per point).
    assert roc["series"][0]["d"].count("L") == len(first["tps"]) - 1
    pr_first = stored["precision_recall_curve"]["curves"][0]
    assert pr["series"][0]["d"].count("L") == 2 * (len(pr_first["tps"]) - 1)
    assert roc["diagonal"] and pr["diagonal"] is None


def test_a_regressor_s_quantiles_and_sample() -> None:
    y, p, data = _regressor_data()
    view = plot_view(data)
    assert view["problems"] == [] and view["confusion"] is None
    residuals = view["residuals"]
    assert residuals["rows"] == 400 and [t["name"] for t in residuals["tables"]] == [
        "output 0",
        "output 1",
    ]
    for j, table in enumerate(residuals["tables"]):
        cells = dict(table["cells"])
        assert list(cells)[:3] == ["0 %", "1 %", "5 %"] and "100 %" in cells
        assert float(cells["50 %"]) == pytest.approx(np.median(y[:, j] - p[:, j]), rel=1e-5)
        assert float(cells["mean"]) == pytest.approx(np.mean(y[:, j] - p[:, j]), rel=1e-5)
    (scatter,) = view["charts"]
    assert scatter is residuals["scatter"]
    assert [s["d"].count("h0") for s in scatter["series"]] == [_plot_data.SAMPLE_ROWS] * 2


def test_weighted_cells_are_sums() -> None:
    y = np.array([0, 0, 1, 1])
    w = np.array([0.5, 0.25, 2.0, 1.0])
    view = plot_view(_written(_plot_data.PlotInputs.of("classifier", y, y, sample_weight=w)))
    cells = [[c["text"] for c in row["cells"]] for row in view["confusion"]["rows"]]
    assert cells == [["0.75", "0"], ["0", "3"]] and view["confusion"]["weighted"]


DAMAGED = [
    b"",
    b"{not json",
    b"\xff\xfe\x00garbage",
    b"[" * 100_000,
    b"NaN",
    b"[1, 2]",
    b'"text"',
    b"{}",
    b'{"something_else": 1}',
    b'{"confusion_matrix": null}',
    b'{"confusion_matrix": {"labels": [1, 2], "matrix": [[1, 2]]}}',
    b'{"confusion_matrix": {"labels": [1], "matrix": [[1e999]]}}',
    b'{"confusion_matrix": {"labels": [1], "matrix": [[NaN]]}}',
    b'{"confusion_matrix": {"labels": [{"a": 1}], "matrix": [[1]]}}',
    b'{"confusion_matrix": {"labels": [true], "matrix": [[1]]}}',
    b'{"confusion_matrix": {"labels": [1], "matrix": [[' + b"9" * 400 + b"]]}}",
    b'{"confusion_matrix": {"labels": [1], "matrix": [[' + b"9" * 5000 + b"]]}}",
    b'{"confusion_matrix": {"labels": ' + json.dumps(list(range(1000))).encode() + b"}}",
    b'{"roc_curve": {"curves": "many"}}',
    b'{"roc_curve": {"curves": []}}',
    b'{"roc_curve": {"curves": [{"label": "a", "fpr": [0, 1], "tpr": [0], "auc": 1}]}}',
    b'{"roc_curve": {"curves": [{"label": "a", "fpr": [0, 2], "tpr": [0, 1], "auc": 1}]}}',
    b'{"roc_curve": {"curves": [{"label": "a", "fpr": [0, 1], "tpr": [0, 1], "auc": "high"}]}}',
    b'{"roc_curve": {"scheme": 3, "curves": [{"label": "a", "fpr": [0], "tpr": [0], "auc": 1}]}}',
    b'{"roc_curve": {"curves": [{"label": "a", "tps": [0, 1], "fps": [0, 1], "auc": 1}]}}',
    b'{"roc_curve": {"curves": [{"label": "a", "tps": [0, 3], "fps": [0, 1], "positives": 2,'
    b' "negatives": 1, "auc": 1}]}}',
    b'{"roc_curve": {"curves": [{"label": "a", "tps": [0, 0], "fps": [0, 1], "positives": 0,'
    b' "negatives": 1, "auc": 1}]}}',
    b'{"precision_recall_curve": {"curves": [{"label": "a", "tps": [0, -1], "fps": [0, 1],'
    b' "positives": 1, "negatives": 1, "average_precision": 1}]}}',
    b'{"precision_recall_curve": {"curves": [{"label": "a", "recall": '
    + json.dumps(list(range(5000))).encode()
    + b', "precision": [], "average_precision": 1}]}}',
    b'{"residuals": {"outputs": []}}',
    b'{"residuals": {"outputs": [{"quantiles": {"half": 1}}]}}',
    b'{"residuals": {"outputs": [{"quantiles": {"0.5": 1}, "sample": {"true": [1e308, -1e308],'
    b' "predicted": [0, 0]}}]}}',
    b'{"residuals": {"outputs": [{"quantiles": {"0.5": 1}, "sample": 7}]}}',
]


@pytest.mark.parametrize("data", DAMAGED, ids=range(len(DAMAGED)))
def test_damaged_data_is_named_never_raised(data: bytes) -> None:
    view = plot_view(data)
    assert view["problems"] and all("could not be read" in p for p in view["problems"])


def test_curves_of_older_runs_as_rates_are_drawn() -> None:
    old = {
        "roc_curve": {"scheme": "binary", "curves": [
            {"label": 1, "fpr": [0, 0.5, 1], "tpr": [0, 1, 1], "auc": 0.75}]},
        "precision_recall_curve": {"scheme": "binary", "curves": [
            {"label": 1, "recall": [0, 1], "precision": [1, 0.5], "average_precision": 0.5}]},
    }  # fmt: skip
    view = plot_view(json.dumps(old).encode())
    roc, pr = view["charts"]
    assert view["problems"] == [] and roc["series"][0]["d"].count("L") == 2
    assert pr["series"][0]["legend"] == "1 (AP 0.5000)"


def test_one_damaged_plot_leaves_the_others() -> None:
    _, _, _, data = _classifier_data()
    found = json.loads(data)
    found["roc_curve"]["curves"][1]["tps"] = "broken"
    view = plot_view(json.dumps(found).encode())
    assert view["problems"] == ["The ROC curve data could not be read: tps is a str, not a list."]
    assert view["confusion"] and [c["id"] for c in view["charts"]] == ["precision-recall-curve"]


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value: the keys and indices that lead to it."""
    found = [at]
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for key, child in items:
        found.extend(_paths(child, (*at, key)))
    return found


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.just("\ud800<b>x</b>"),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
VALID = {**json.loads(_classifier_data()[3]), **json.loads(_regressor_data()[2])}
PLACES = [p for p in _paths(VALID) if p]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PLACES), JSON), min_size=1, max_size=3))
def test_any_change_to_the_data_gives_a_view(changes: list[tuple[tuple[Any, ...], Any]]) -> None:
    """Values swapped anywhere in real plot data: a view always comes back, never an error."""
    found = copy.deepcopy(VALID)
    for place, value in changes:
        node = found
        try:
            for key in place[:-1]:
                node = node[key]
            node[place[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this place
    view = plot_view(json.dumps(found).encode())
    assert set(view) == {"problems", "confusion", "charts", "residuals"}
    assert view["problems"] or view["confusion"] or view["charts"] or view["residuals"]
    json.dumps(view, ensure_ascii=False, default=str).encode("utf-8")  # the page can be sent


def _store_with(data: bytes) -> tuple[MemoryBackend, list[FileInfo]]:
    store = MemoryBackend()
    store.create_run(
        RunMeta("r1", "r1", store.local_experiment_id("plots"), 1, experiment_name="plots")
    )
    store.put_artifact("r1", PLOTS_ARTIFACT, data)
    return store, store.list_artifacts("r1")


def test_read_plots_reads_the_artifact_with_a_size_limit() -> None:
    _, _, data = _regressor_data()
    store, files = _store_with(data)
    view = read_plots(store, "r1", files)
    assert view is not None and view["residuals"]["tables"]
    assert read_plots(store, "r1", []) is None  # no plot data: no section
    store, files = _store_with(b" " * (MAX_BYTES + 1))
    view = read_plots(store, "r1", files)
    assert view is not None and "more than" in view["problems"][0]
    # A listing that does not know the size: the bytes read are checked.
    unsized = [FileInfo(PLOTS_ARTIFACT, False, None)]
    assert "more than" in (read_plots(store, "r1", unsized) or {})["problems"][0]


@pytest.mark.parametrize(
    "values",
    [[0.0, 5e-324], [1e300, 1e300], [-1e308, -1e308], [1e300, float(np.nextafter(1e300, 2e300))],
     [-3.0, 4.0], [7.0]],
)  # fmt: skip
def test_a_scatter_of_any_finite_values_is_drawn(values: list[float]) -> None:
    sample = {"true": values, "predicted": values[::-1]}
    data = {"residuals": {"outputs": [{"quantiles": {"0.5": 0.0}, "sample": sample}]}}
    view = plot_view(json.dumps(data).encode())
    assert view["problems"] == []
    (scatter,) = view["charts"]
    assert scatter["series"][0]["d"].count("h0") == len(values) and scatter["x_ticks"]
    for tick in scatter["x_ticks"] + scatter["y_ticks"]:
        assert 0 <= float(tick["at"]) <= 420


def test_residuals_without_a_sample_are_a_table() -> None:
    data = {"residuals": {"rows": 3, "outputs": [{"output": True, "quantiles": {"0.5": 2}}]}}
    view = plot_view(json.dumps(data).encode())
    assert view["problems"] == [] and view["charts"] == []
    assert view["residuals"]["tables"] == [{"name": "output 0", "cells": [("50 %", "2")]}]
