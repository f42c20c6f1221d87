"""The data of a model's evaluation plots, as one small JSON artifact (docs/records.md).

MLflow draws PNGs of the confusion matrix, ROC and precision-recall curves at
every classifier fit, the larger part of its cost per fit. autolog records the
data instead, computed in the writer thread (`ActiveRun.log_computed`): the
user's thread only copies the training labels (one value a row) and hands over
the predictions the training metrics already made. The web UI draws them, and
`autolog plot RUN` renders PNGs with matplotlib. One file, `training_plots.json`,
holds every plot of a fit (one object written per fit, not three), its numbers
rounded to `DIGITS` significant digits where they are not counts (a plot needs no more;
the areas are exact):

- classifiers: `confusion_matrix` (counts, or sample weights summed, with the
  labels in sorted order: true labels are rows, predictions columns; at most
  `MAX_LABELS` labels), and with probabilities `roc_curve` and
  `precision_recall_curve` (the positive class for two classes, one-vs-rest for
  each class up to `MAX_CURVES`), each curve as the counts of true and false
  positives (`tps`, `fps`) above at most `MAX_POINTS` evenly spaced thresholds,
  with its area (AUC, average precision) computed on every threshold;
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
    "RocPoints",
    "curve_rates",
    "label_codes",
    "plot_artifacts",
    "roc_area",
    "roc_points",
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


class RocPoints:
    """`roc_points` of each class column of one fit's probabilities, computed once for the
    training metrics' ROC AUC and the plots' curves (a sort each: the larger part of both)."""

    def __init__(self) -> None:
        self._found: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def of(
        self, column: int, positive: np.ndarray, score: np.ndarray, w: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`roc_points(positive, score, w)` for the class of `column`: each call for one
        column must pass the same rows (that class's rows, its probabilities, the weights)."""
        found = self._found.get(column)
        if found is None:
            found = self._found[column] = roc_points(positive, score, w)
        return found


def plot_artifacts(inputs: PlotInputs, points: RocPoints | None = None) -> dict[str, bytes]:
    """The plot artifact of one fit, {`PLOTS_ARTIFACT`: compact JSON}, or {} if none.

    `points`: the ROC points the training metrics already counted (by class column)."""
    found: dict[str, Any] = {}
    if inputs.kind == "classifier":
        found.update(_classifier_plots(inputs, points or RocPoints()))
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


def _classifier_plots(inputs: PlotInputs, points: RocPoints) -> dict[str, Any]:
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
        curves = _curves(points.of(column, positive, proba[:, column], w), w)
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
    labels, true_codes, pred_codes = label_codes(y, pred, MAX_LABELS)
    k = labels.shape[0]
    if k > MAX_LABELS:
        return None
    cells = np.bincount(true_codes * k + pred_codes, weights=w, minlength=k * k).reshape(k, k)
    return {
        "labels": [_label(v) for v in labels],
        "matrix": cells.tolist() if w is not None else cells.astype(np.int64).tolist(),
        "weighted": w is not None,
        "rows": "true label",
        "columns": "predicted label",
    }


def label_codes(
    y: np.ndarray, pred: np.ndarray, max_span: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique's (labels found in y or pred, codes of y, codes of pred), in sorted label
    order. Integer or boolean labels within `max_span` consecutive values (the common case:
    0..k-1) are coded by offsets and a count instead of np.unique's sort."""
    both = np.concatenate([y, pred])
    n = y.shape[0]
    if both.dtype.kind in "iub" and n > 0:
        low, high = int(both.min()), int(both.max())
        if high - low < max_span:
            codes = both.astype(np.int64) - low
            counts = np.bincount(codes, minlength=high - low + 1)
            if counts.all():
                labels = np.arange(low, high + 1).astype(both.dtype)
                return labels, codes[:n], codes[n:]
            renumbered = np.cumsum(counts > 0) - 1
            labels = (np.flatnonzero(counts) + low).astype(both.dtype)
            return labels, renumbered[codes[:n]], renumbered[codes[n:]]
    labels, codes = np.unique(both, return_inverse=True)
    return labels, codes[:n], codes[n:]


def roc_points(
    positive: np.ndarray, score: np.ndarray, w: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(true positives, false positives) counted above each distinct score, from the
    highest down, as float arrays (summed weights with `w`): sklearn's ROC curve before it
    drops intermediate points, its areas' input. The training metrics' ROC AUC uses it too."""
    order = np.argsort(score, kind="mergesort")[::-1]
    score = score[order]
    hits = positive[order]
    # The last index of each run of equal scores: one point per distinct threshold.
    distinct = np.empty(score.shape[0], dtype=bool)
    np.not_equal(score[1:], score[:-1], out=distinct[:-1])
    distinct[-1:] = True
    last = np.flatnonzero(distinct)
    if w is None:
        tps = np.cumsum(hits)[last].astype(np.float64)
        return tps, (last + 1) - tps
    weight = w[order]
    tps = np.cumsum(np.where(hits, weight, 0.0))[last]
    return tps, np.cumsum(np.where(hits, 0.0, weight))[last]


def roc_area(points: tuple[np.ndarray, np.ndarray]) -> float | None:
    """Area under the ROC curve of `roc_points` (the trapezoid over every threshold), or
    None when y has a single class. The training metrics' ROC AUC and the curves' `auc`."""
    tps, fps = points
    if tps[-1] <= 0 or fps[-1] <= 0:
        return None
    tpr = np.concatenate([[0.0], tps / tps[-1]])
    fpr = np.concatenate([[0.0], fps / fps[-1]])
    return float(np.dot(fpr[1:] - fpr[:-1], tpr[1:] + tpr[:-1]) / 2.0)


def _curves(
    points: tuple[np.ndarray, np.ndarray], w: np.ndarray | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(ROC curve, precision-recall curve) of one positive class from its `roc_points`,
    or None with one class.

    Both as counts at the same thresholds (`tps`, `fps`: integers, or summed weights),
    which JSON writes four times faster than rates and readers turn into any rate:
    fpr = fps / negatives, tpr = recall = tps / positives, precision = tps / (tps + fps)
    (1 at the first point, where both are 0: sklearn's end point of the PR curve).
    """
    auc = roc_area(points)
    if auc is None:
        return None
    tps, fps = points
    n = tps.shape[0] + 1
    tp = np.zeros(n)
    fp = np.zeros(n)
    tp[1:], fp[1:] = tps, fps
    tpr = tp / tps[-1]
    # sklearn's average precision: the step-wise area under precision over recall. Where no
    # weight lies above a threshold yet (the top rows weigh 0), precision is 0 as in
    # sklearn's precision_recall_curve; recall does not move there, so the area is unchanged.
    above = tps + fps
    precision = np.divide(tps, above, out=np.zeros_like(tps), where=above > 0)
    ap = float(np.sum((tpr[1:] - tpr[:-1]) * precision))
    if n > MAX_POINTS:
        # Evenly spaced thresholds, ends kept: the step is at least 1, so no index repeats.
        # np.linspace(0, n - 1, MAX_POINTS)'s arithmetic, without its wrapper's cost.
        spaced = np.arange(MAX_POINTS) * ((n - 1) / (MAX_POINTS - 1))
        spaced[-1] = n - 1
        picked = spaced.round().astype(np.int64)
        tp, fp = tp[picked], fp[picked]
    counts = {"tps": _counts(tp, w), "fps": _counts(fp, w)}
    totals = {"positives": _counts(tps[-1:], w)[0], "negatives": _counts(fps[-1:], w)[0]}
    roc = {"auc": auc, "points_total": n, **totals, **counts}
    pr = {"average_precision": ap, "points_total": n, **totals, **counts}
    return roc, pr


def curve_rates(curve: Mapping[str, Any]) -> dict[str, list[float]]:
    """The rates of a stored curve (`tps`, `fps`, `positives`, `negatives`), for drawing:
    `fpr`, `tpr`, `recall` and `precision` at each of its points. Readers of
    `training_plots.json` use this; ValueError (or KeyError, TypeError) when it is malformed.
    Curves written before counts (autolog 0.x stored the rates) are returned as stored."""
    if "tps" not in curve:
        rates = ("fpr", "tpr") if "fpr" in curve else ("recall", "precision")
        return {name: [float(v) for v in curve[name]] for name in rates}
    tps = [float(v) for v in curve["tps"]]
    fps = [float(v) for v in curve["fps"]]
    positives, negatives = float(curve["positives"]), float(curve["negatives"])
    if len(tps) != len(fps) or positives <= 0 or negatives <= 0:
        raise ValueError("a curve needs as many tps as fps and positive totals")
    tpr = [t / positives for t in tps]
    return {
        "fpr": [f / negatives for f in fps],
        "tpr": tpr,
        "recall": tpr,
        "precision": [t / (t + f) if t + f > 0 else 1.0 for t, f in zip(tps, fps, strict=True)],
    }


def _counts(values: np.ndarray, w: np.ndarray | None) -> list[Any]:
    """Counts as JSON integers; summed weights to `DIGITS` significant digits."""
    if w is None:
        return values.astype(np.int64).tolist()  # type: ignore[no-any-return]
    return _floats(values)


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
