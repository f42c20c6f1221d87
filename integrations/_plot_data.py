"""The data of a model's evaluation plots, as one small JSON artifact (docs/records.md).

MLflow draws PNGs of the confusion matrix, ROC and precision-recall curves at
every classifier fit, the larger part of its cost per fit. autolog records the
data instead, computed in the writer thread (`ActiveRun.log_computed`): the
user's thread only copies the training labels (one value a row) and hands over
the predictions the training metrics already made. The web UI draws them, and
`autolog plot RUN` renders PNGs with matplotlib. One file, `training_plots.json`,
holds every plot of a fit (one object written per fit, not three), its numbers
rounded to `DIGITS` significant digits (a plot needs no more; the areas are exact):

- classifiers: `confusion_matrix` (counts, or sample weights summed, with the
  labels in sorted order: true labels are rows, predictions columns; at most
  `MAX_LABELS` labels), and with probabilities `roc_curve` and
  `precision_recall_curve` (the positive class for two classes, one-vs-rest for
  each class up to `MAX_CURVES`), each curve downsampled to at most `MAX_POINTS`
  points evenly spaced along its length, with its area (AUC, average precision)
  computed on the full curve;
- regressors: `residuals` (quantiles, mean and standard deviation of
  y - prediction per output, at most `MAX_OUTPUTS` outputs, unweighted) and a
  predicted-vs-true sample of `SAMPLE_ROWS` evenly spaced rows.

Nothing here imports a library: the inputs are NumPy arrays.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CONFUSION_MATRIX",
    "MAX_POINTS",
    "PLOTS",
    "PLOTS_ARTIFACT",
    "PRECISION_RECALL",
    "RESIDUALS",
    "ROC_CURVE",
    "PlotInputs",
    "plot_artifacts",
]

# The web UI reads the file under this name (autolog/_server/ui/plots.py keeps its own copy:
# the server does not import integrations); a change of format is a change there too.
PLOTS_ARTIFACT = "training_plots.json"
# The plots it may hold, by key.
CONFUSION_MATRIX = "confusion_matrix"
ROC_CURVE = "roc_curve"
PRECISION_RECALL = "precision_recall_curve"
RESIDUALS = "residuals"
PLOTS = (CONFUSION_MATRIX, ROC_CURVE, PRECISION_RECALL, RESIDUALS)
DIGITS = 6

MAX_POINTS = 100
MAX_LABELS = 50
MAX_CURVES = 20
MAX_OUTPUTS = 10
SAMPLE_ROWS = 200
QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)


@dataclass(frozen=True)
class PlotInputs:
    """What the plots of one fit are computed from: copies and our own predictions only."""

    kind: str  # "classifier" or "regressor"
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None = None  # predict_proba's output, columns in `classes` order
    classes: np.ndarray | None = None
    sample_weight: np.ndarray | None = None

    @classmethod
    def of(
        cls,
        kind: str,
        y_true: Any,
        y_pred: Any,
        proba: Any = None,
        classes: Any = None,
        sample_weight: Any = None,
    ) -> PlotInputs:
        """Inputs holding a copy of the user's labels and weights (they may change them)."""
        return cls(
            kind,
            np.array(y_true, copy=True),
            np.asarray(y_pred),
            None if proba is None else np.asarray(proba),
            None if classes is None else np.array(classes, copy=True),
            None if sample_weight is None else np.array(sample_weight, dtype=np.float64),
        )


def plot_artifacts(inputs: PlotInputs) -> dict[str, bytes]:
    """The plot artifact of one fit, {`PLOTS_ARTIFACT`: compact JSON}, or {} if none."""
    found: dict[str, Any] = {}
    if inputs.kind == "classifier":
        found.update(_classifier_plots(inputs))
    elif inputs.kind == "regressor":
        found[RESIDUALS] = _residuals(inputs.y_true, inputs.y_pred)
    plots = {key: data for key, data in found.items() if data is not None}
    return {PLOTS_ARTIFACT: _json(plots)} if plots else {}


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), default=str, allow_nan=False).encode("utf-8")


def _label(value: Any) -> Any:
    """A label as JSON holds it: a number stays a number, anything else is its text."""
    item = value.item() if hasattr(value, "item") else value
    if isinstance(item, bool) or not isinstance(item, (int, float)):
        return str(item)
    return item


# -- classifiers ---------------------------------------------------------------------------


def _classifier_plots(inputs: PlotInputs) -> dict[str, Any]:
    y = inputs.y_true.reshape(-1) if inputs.y_true.ndim == 2 else inputs.y_true
    pred = inputs.y_pred.reshape(-1) if inputs.y_pred.ndim == 2 else inputs.y_pred
    if y.ndim != 1 or pred.shape != y.shape:
        return {}
    w = inputs.sample_weight
    out: dict[str, Any] = {CONFUSION_MATRIX: _confusion_matrix(y, pred, w)}
    proba, classes = inputs.proba, inputs.classes
    if proba is None or classes is None or proba.ndim != 2 or proba.shape[0] != y.shape[0]:
        return out
    if proba.shape[1] != classes.shape[0] or classes.shape[0] < 2:
        return out
    targets = [1] if classes.shape[0] == 2 else list(range(min(classes.shape[0], MAX_CURVES)))
    roc, pr = [], []
    for column in targets:
        positive = y == classes[column]
        curves = _curves(positive, proba[:, column].astype(np.float64), w)
        if curves is None:
            continue
        label = _label(classes[column])
        roc.append({"label": label, **curves[0]})
        pr.append({"label": label, **curves[1]})
    if roc:
        scheme = "binary" if classes.shape[0] == 2 else "one-vs-rest"
        more = max(0, classes.shape[0] - MAX_CURVES) if scheme != "binary" else 0
        out[ROC_CURVE] = {"scheme": scheme, "curves": roc, "classes_not_drawn": more}
        out[PRECISION_RECALL] = {"scheme": scheme, "curves": pr, "classes_not_drawn": more}
    return out


def _confusion_matrix(y: np.ndarray, pred: np.ndarray, w: np.ndarray | None) -> Any:
    labels, codes = np.unique(np.concatenate([y, pred]), return_inverse=True)
    k = labels.shape[0]
    if k > MAX_LABELS:
        return None
    n = y.shape[0]
    cells = np.bincount(codes[:n] * k + codes[n:], weights=w, minlength=k * k).reshape(k, k)
    return {
        "labels": [_label(v) for v in labels],
        "matrix": cells.tolist() if w is not None else cells.astype(np.int64).tolist(),
        "weighted": w is not None,
        "rows": "true label",
        "columns": "predicted label",
    }


def _curves(
    positive: np.ndarray, score: np.ndarray, w: np.ndarray | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(ROC curve, precision-recall curve) of one positive class, or None with one class."""
    order = np.argsort(score, kind="mergesort")[::-1]
    score = score[order]
    hits = positive[order]
    last = np.flatnonzero(np.concatenate([score[1:] != score[:-1], [True]]))
    weight = np.ones(score.shape[0]) if w is None else w[order]
    tps = np.cumsum(np.where(hits, weight, 0.0))[last]
    fps = np.cumsum(np.where(hits, 0.0, weight))[last]
    if tps[-1] <= 0 or fps[-1] <= 0:
        return None
    tpr = np.concatenate([[0.0], tps / tps[-1]])
    fpr = np.concatenate([[0.0], fps / fps[-1]])
    auc = float(np.dot(fpr[1:] - fpr[:-1], tpr[1:] + tpr[:-1]) / 2.0)
    # sklearn's precision_recall_curve: from the highest threshold down, then (recall 0,
    # precision 1); average precision is the step-wise area.
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    ap = float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))
    precision = np.concatenate([[1.0], precision])
    recall = np.concatenate([[0.0], recall])
    keep = _along(fpr, tpr)
    roc = {
        "fpr": _floats(fpr[keep]),
        "tpr": _floats(tpr[keep]),
        "auc": auc,
        "points_total": int(fpr.shape[0]),
    }
    keep = _along(recall, precision)
    pr = {
        "recall": _floats(recall[keep]),
        "precision": _floats(precision[keep]),
        "average_precision": ap,
        "points_total": int(recall.shape[0]),
    }
    return roc, pr


def _along(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """At most `MAX_POINTS` indices of the curve, evenly spaced along its length, ends kept."""
    n = x.shape[0]
    if n <= MAX_POINTS:
        return slice(None)  # type: ignore[return-value]
    length = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    targets = np.linspace(0.0, length[-1], MAX_POINTS)
    picked = np.searchsorted(length, targets).clip(0, n - 1)
    picked[0], picked[-1] = 0, n - 1
    return np.unique(picked)


def _floats(values: np.ndarray) -> list[float | None]:
    """Numbers for JSON, to `DIGITS` significant digits; infinity and NaN as null."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    scale = 10.0 ** (
        DIGITS - 1 - np.floor(np.log10(np.abs(np.where(finite, values, 1.0)) + 1e-300))
    )
    rounded = np.round(values * scale) / scale
    if finite.all():
        return rounded.tolist()  # type: ignore[no-any-return]
    return [v if ok else None for v, ok in zip(rounded.tolist(), finite.tolist(), strict=True)]


# -- regressors ----------------------------------------------------------------------------


def _residuals(y_true: np.ndarray, y_pred: np.ndarray) -> Mapping[str, Any] | None:
    try:
        yt = np.asarray(y_true, dtype=np.float64)
        yp = np.asarray(y_pred, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    n = yt.shape[0] if yt.ndim else 0
    if n == 0:
        return None
    yt, yp = yt.reshape(n, -1), yp.reshape(n, -1)
    if yt.shape != yp.shape:
        return None
    rows = np.unique(np.linspace(0, n - 1, min(n, SAMPLE_ROWS)).astype(np.int64))
    outputs = []
    for j in range(min(yt.shape[1], MAX_OUTPUTS)):
        residual = yt[:, j] - yp[:, j]
        finite = residual[np.isfinite(residual)]
        if finite.shape[0] == 0:
            continue
        outputs.append(
            {
                "output": j,
                "quantiles": dict(
                    zip(
                        [str(q) for q in QUANTILES],
                        np.quantile(finite, QUANTILES).tolist(),
                        strict=True,
                    )
                ),
                "mean": float(finite.mean()),
                "std": float(finite.std()),
                "sample": {"true": _floats(yt[rows, j]), "predicted": _floats(yp[rows, j])},
            }
        )
    if not outputs:
        return None
    return {"rows": n, "sample_rows": int(rows.shape[0]), "outputs": outputs}
