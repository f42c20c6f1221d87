"""The evaluation plot data: values as sklearn computes them, written by the writer thread,
switched off by `enable(log_plots=False)`, and drawn by `autolog plot` into real PNGs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression

import autolog
from autolog._cli.main import main
from autolog.integrations import _plot_data as plots

PNG = b"\x89PNG\r\n\x1a\n"


def _artifacts(inputs: plots.PlotInputs) -> dict[str, Any]:
    (data,) = plots.plot_artifacts(inputs).values()
    found: dict[str, Any] = json.loads(data)
    return found


@pytest.mark.parametrize("weighted", [False, True])
def test_binary_plots_match_sklearn(weighted: bool) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    p1 = np.clip(0.5 * y + rng.random(3000) * 0.6, 0, 1).round(3)  # ties in the scores
    proba = np.stack([1 - p1, p1], axis=1)
    pred = (p1 > 0.5).astype(int)
    w = rng.random(3000) if weighted else None
    found = _artifacts(plots.PlotInputs.of("classifier", y, pred, proba, [0, 1], w))
    matrix = found[plots.CONFUSION_MATRIX]
    assert matrix["labels"] == [0, 1] and matrix["weighted"] is weighted
    assert np.allclose(matrix["matrix"], skm.confusion_matrix(y, pred, sample_weight=w))
    (roc,) = found[plots.ROC_CURVE]["curves"]
    assert roc["auc"] == pytest.approx(skm.roc_auc_score(y, p1, sample_weight=w), rel=1e-12)
    fpr, tpr, _ = skm.roc_curve(y, p1, sample_weight=w, drop_intermediate=False)
    assert roc["points_total"] == len(fpr) > plots.MAX_POINTS == len(roc["tps"]) == len(roc["fps"])
    if not weighted:  # counts are JSON integers
        assert all(type(v) is int for v in roc["tps"] + roc["fps"])
        assert (roc["positives"], roc["negatives"]) == (int(y.sum()), int((1 - y).sum()))
    rates = plots.curve_rates(roc)
    assert (rates["fpr"][0], rates["tpr"][0], rates["fpr"][-1], rates["tpr"][-1]) == (0, 0, 1, 1)
    # Every point kept lies on sklearn's curve (to the 6 significant digits of weights).
    on_curve = np.stack([fpr, tpr], axis=1)
    for point in zip(rates["fpr"], rates["tpr"], strict=True):
        assert np.isclose(on_curve, point, rtol=1e-5, atol=1e-9).all(axis=1).any(), point
    (pr,) = found[plots.PRECISION_RECALL]["curves"]
    ap = skm.average_precision_score(y, p1, sample_weight=w)
    assert pr["average_precision"] == pytest.approx(ap, rel=1e-12)
    precision, recall, _ = skm.precision_recall_curve(
        y, p1, sample_weight=w, drop_intermediate=False
    )
    rates = plots.curve_rates(pr)
    assert (rates["recall"][0], rates["precision"][0]) == (0, 1)  # sklearn's end point
    on_curve = np.stack([recall, precision], axis=1)
    for point in zip(rates["recall"], rates["precision"], strict=True):
        assert np.isclose(on_curve, point, rtol=1e-5, atol=1e-9).all(axis=1).any(), point


def test_curves_of_few_thresholds_keep_every_point() -> None:
    y = np.array([0, 0, 1, 1, 1])
    p1 = np.array([0.1, 0.4, 0.35, 0.8, 0.8])  # a tie: 4 distinct thresholds
    proba = np.stack([1 - p1, p1], axis=1)
    found = _artifacts(plots.PlotInputs.of("classifier", y, (p1 > 0.5).astype(int), proba, [0, 1]))
    (roc,) = found[plots.ROC_CURVE]["curves"]
    assert roc["tps"] == [0, 2, 2, 3, 3] and roc["fps"] == [0, 0, 1, 1, 2]
    fpr, tpr, _ = skm.roc_curve(y, p1, drop_intermediate=False)
    rates = plots.curve_rates(roc)
    assert np.allclose(rates["fpr"], fpr) and np.allclose(rates["tpr"], tpr)


def test_curve_rates_read_the_rates_older_versions_stored() -> None:
    assert plots.curve_rates({"fpr": [0, 0.5, 1], "tpr": [0, 1, 1]}) == {
        "fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 1.0, 1.0]}  # fmt: skip
    with pytest.raises(ValueError):
        plots.curve_rates({"tps": [0, 1], "fps": [0], "positives": 1, "negatives": 1})


def test_multiclass_plots_are_one_vs_rest_with_string_labels() -> None:
    rng = np.random.default_rng(1)
    classes = np.array(["bird", "cat", "dog"])
    codes = rng.integers(0, 3, 400)
    raw = rng.random((400, 3)) + np.eye(3)[codes]
    proba = raw / raw.sum(axis=1, keepdims=True)
    y, pred = classes[codes], classes[proba.argmax(axis=1)]
    found = _artifacts(plots.PlotInputs.of("classifier", y, pred, proba, classes))
    assert found[plots.CONFUSION_MATRIX]["labels"] == ["bird", "cat", "dog"]
    expected = skm.confusion_matrix(y, pred, labels=classes)
    assert found[plots.CONFUSION_MATRIX]["matrix"] == expected.tolist()
    roc = found[plots.ROC_CURVE]
    assert roc["scheme"] == "one-vs-rest" and [c["label"] for c in roc["curves"]] == list(classes)
    for i, curve in enumerate(roc["curves"]):
        assert curve["auc"] == pytest.approx(skm.roc_auc_score(codes == i, proba[:, i]))


def test_regression_residuals() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=(500, 2))
    p = y + rng.normal(scale=0.1, size=y.shape)
    found = _artifacts(plots.PlotInputs.of("regressor", y, p))
    data = found[plots.RESIDUALS]
    assert data["rows"] == 500 and data["sample_rows"] == plots.SAMPLE_ROWS
    for j, output in enumerate(data["outputs"]):
        residual = y[:, j] - p[:, j]
        assert output["quantiles"]["0.5"] == pytest.approx(np.median(residual))
        assert output["quantiles"]["0.0"] == residual.min()
        assert output["mean"] == pytest.approx(residual.mean())
        assert output["sample"]["true"][0] == pytest.approx(y[0, j], rel=1e-5)
        assert output["sample"]["predicted"][-1] == pytest.approx(p[-1, j], rel=1e-5)


def test_labels_are_copied_for_the_writer_thread() -> None:
    y = np.array([0, 1, 1, 0])
    inputs = plots.PlotInputs.of("classifier", y, y.copy())
    y[:] = 1  # the user changes the labels right after fit
    matrix = _artifacts(inputs)[plots.CONFUSION_MATRIX]["matrix"]
    assert matrix == [[2, 0], [0, 2]]


@pytest.fixture
def trained() -> dict[str, str]:
    """A binary classifier's and a regressor's runs, with plot data."""
    autolog.enable(integrations=["sklearn"], log_models=False)
    try:
        X, y = make_classification(300, random_state=0)
        LogisticRegression().fit(X, y)
        classifier = autolog.last_run()
        Xr, yr = make_regression(200, random_state=0)
        LinearRegression().fit(Xr, yr)
        regressor = autolog.last_run()
    finally:
        autolog.disable()
    assert classifier is not None and regressor is not None
    return {"classifier": classifier.id, "regressor": regressor.id}


def _names(run_id: str) -> set[str]:
    return {info.path for info in autolog.list_artifacts(run_id)}


def test_autologged_fits_record_plot_data_and_the_option_turns_it_off(
    trained: dict[str, str],
) -> None:
    stored = autolog.download_artifacts(trained["classifier"], plots.PLOTS_ARTIFACT)
    assert set(json.loads(stored.read_text())) == {
        plots.CONFUSION_MATRIX,
        plots.ROC_CURVE,
        plots.PRECISION_RECALL,
    }
    stored = autolog.download_artifacts(trained["regressor"], plots.PLOTS_ARTIFACT)
    assert set(json.loads(stored.read_text())) == {plots.RESIDUALS}
    autolog.enable(integrations=["sklearn"], log_models=False, log_plots=False)
    try:
        X, y = make_classification(100, random_state=0)
        LogisticRegression().fit(X, y)
    finally:
        autolog.disable()
    off = autolog.last_run()
    assert off is not None and plots.PLOTS_ARTIFACT not in _names(off.id)
    assert "training_roc_auc" in autolog.get_run(off.id).metrics


def test_autolog_plot_renders_real_pngs(
    trained: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pngs"
    assert main(["plot", trained["classifier"], "--out", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == [
        "training_confusion_matrix.png",
        "training_precision_recall_curve.png",
        "training_roc_curve.png",
    ]
    assert sorted(capsys.readouterr().out.split()) == [str(out / name) for name in written]
    for path in out.iterdir():
        data = path.read_bytes()
        assert data.startswith(PNG) and len(data) > 5_000  # a drawn figure, not an empty file
    assert main(["plot", trained["regressor"][:8], "-o", str(out)]) == 0
    assert (out / "training_residuals.png").read_bytes().startswith(PNG)


def test_autolog_plot_without_matplotlib_says_how_to_install_it(
    trained: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what Python does when it is absent
    assert main(["plot", trained["classifier"]]) == 2
    assert "pip install matplotlib" in capsys.readouterr().err


def test_zero_weights_on_the_top_scores_keep_metrics_and_plots() -> None:
    """scikit-learn's own sample-weight checks fit with zero weights: where no weight lies
    above a threshold yet, precision is 0 (as sklearn's), never NaN, which JSON refuses."""
    X, y = make_classification(120, random_state=1)
    w = np.random.default_rng(1).integers(1, 3, 120).astype(float)
    scores = LogisticRegression().fit(X, y).decision_function(X)
    w[np.argsort(scores)[-3:]] = 0.0  # the highest scores weigh nothing
    autolog.enable(integrations=["sklearn"], log_models=False)
    try:
        model = LogisticRegression().fit(X, y, sample_weight=w)
    finally:
        autolog.disable()
    run = autolog.last_run()
    assert run is not None
    p1 = model.predict_proba(X)[:, 1]
    metrics = autolog.get_run(run.id).metrics
    assert metrics["training_roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, p1, sample_weight=w), rel=1e-12
    )
    stored = json.loads(autolog.download_artifacts(run.id, plots.PLOTS_ARTIFACT).read_text())
    (pr,) = stored[plots.PRECISION_RECALL]["curves"]
    ap = skm.average_precision_score(y, p1, sample_weight=w)
    assert pr["average_precision"] == pytest.approx(ap, rel=1e-12)


@pytest.mark.parametrize(
    ("y", "pred"),
    [
        ([0, 1, 1, 0], [1, 1, 0, 0]),  # 0..k-1, every label found
        ([3, 7, 7, 3], [3, 3, 9, 7]),  # gaps in the range: codes of the labels found only
        ([-2, 5, -2, 5], [5, 5, -2, -2]),  # negative labels
        (np.array([0, 2], dtype=np.uint8), np.array([2, 2], dtype=np.uint8)),
        ([0, 1, 1], [0, 1, 1000]),  # a range too wide for offsets: np.unique's way
        ([True, False, True], [True, True, False]),  # booleans: by offsets too
        (["b", "a", "b"], ["a", "a", "b"]),  # strings: np.unique's way
    ],
)
def test_confusion_matrix_labels_and_cells_are_sklearns(y: Any, pred: Any) -> None:
    y, pred = np.asarray(y), np.asarray(pred)
    found = plots._confusion_matrix(y, pred, None)
    labels = np.unique(np.concatenate([y, pred]))
    assert found["labels"] == [plots._label(v) for v in labels]
    assert found["matrix"] == skm.confusion_matrix(y, pred, labels=labels).tolist()


def test_label_codes_are_np_uniques_for_any_labels_and_span() -> None:
    rng = np.random.default_rng(1)
    for i in range(500):
        values = rng.integers(-5, 20, size=rng.integers(1, 8))
        y, pred = rng.choice(values, size=12), rng.choice(values, size=12)
        if i % 3 == 0:
            y, pred = y.astype(np.uint8), pred.astype(np.int32)
        if i % 5 == 0:
            y, pred = y > 3, pred > 5
        labels, true_codes, pred_codes = plots.label_codes(y, pred, int(rng.integers(1, 40)))
        expected, codes = np.unique(np.concatenate([y, pred]), return_inverse=True)
        assert labels.dtype == expected.dtype and labels.tolist() == expected.tolist()
        assert true_codes.tolist() == codes[:12].tolist()
        assert pred_codes.tolist() == codes[12:].tolist()
