"""Training metrics of a fitted scikit-learn estimator.

The metrics are sklearn's definitions computed here in numpy, because the
functions of `sklearn.metrics` validate their input at every call and cost
1 to 4 ms each on small data (for 200 rows on the CI machine: accuracy 1.3 ms,
precision/recall/F1 3.7 ms, log loss 3.5 ms, ROC AUC 3.9 ms), ten times the
whole per-fit budget. The formulas are sklearn's: weighted averages over the
labels found in y and the predictions (a label never predicted scores 0, as
sklearn's `zero_division` default does, without its warning), sample weights
throughout, probabilities clipped to [eps, 1 - eps] for the log loss, ROC AUC
by the trapezoid over distinct thresholds, R2 with sklearn's `force_finite`. The
tests check each against sklearn.metrics. The silhouette, which has no cheap
form, is sklearn's own.

Same key, same meaning as MLflow's autologging (`mlflow.sklearn.utils`):
`roc_auc` for more than two classes is one-vs-one weighted by pair prevalence
(sklearn's `multi_class="ovo", average="weighted"`), which takes no sample
weights, so a weighted multiclass fit has none, as in MLflow; the one-vs-rest
figure weighted by support (weights allowed) is `roc_auc_ovr`.
`root_mean_squared_error` of several outputs is the root of the averaged MSE.

Rows: the metrics that cost time linear in the rows (accuracy, precision,
recall, F1, log loss, MSE, RMSE, MAE, R2) and ROC AUC (a sort) are computed on
every row, however many: their cost is that of one `predict` and one
`predict_proba`. Only the super-linear ones are sampled: the silhouette
(quadratic) on at most `SILHOUETTE_ROWS` rows (sklearn's `sample_size`, seeded,
tag `autolog.metrics.silhouette_rows`), and a `score()` that is not sklearn's
default accuracy or R2 (the user's code, of unknown cost) on `SCORE_ROWS`
evenly spaced rows above `MAX_ROWS` rows (tag `autolog.metrics.score_rows`).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autolog import _tags
from autolog._randomness import private_numpy_global
from autolog._safety import capture_internal_errors
from autolog.integrations._plot_data import (
    PlotInputs,
    RocPoints,
    label_codes,
    plot_artifacts,
    roc_area,
    roc_points,
)

__all__ = [
    "MAX_ROWS",
    "SCORE_ROWS",
    "SILHOUETTE_ROWS",
    "TrainingMetrics",
    "classification_metrics",
    "evaluate",
    "probability_metrics",
    "regression_metrics",
    "training_metrics",
    "training_metrics_now",
]

MAX_ROWS = 100_000  # above it, a score() of the user's is computed on SCORE_ROWS rows
SCORE_ROWS = 10_000
SILHOUETTE_ROWS = 1_000


@dataclass
class TrainingMetrics:
    """What the training-metric computation produced: metrics, and tags saying how.

    `predictions` (a classifier's or regressor's, with copies of y and the weights) are
    what the metrics named by `evaluate` are computed from, in the writer thread.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    predictions: PlotInputs | None = None
    # The metric sklearn's default score() computes (logged as `training_score` too).
    score_as: str | None = None


# -- the formulas --------------------------------------------------------------------------


def _weights(sample_weight: Any, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise ValueError(f"sample_weight has {w.shape[0]} values for {n} rows")
    return w


def _labels_1d(y: Any) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.reshape(-1)
    return arr


def classification_metrics(y_true: Any, y_pred: Any, sample_weight: Any = None) -> dict[str, float]:
    """Accuracy and support-weighted precision, recall and F1 (sklearn's `average="weighted"`)."""
    yt, yp = _labels_1d(y_true), _labels_1d(y_pred)
    n = yt.shape[0]
    if yt.ndim != 1 or yp.shape != yt.shape or n == 0:
        raise ValueError(f"expected 1-D labels of one length, got {yt.shape} and {yp.shape}")
    w = _weights(sample_weight, n)
    # sklearn averages over the labels found in y or the predictions only, and so do
    # these codes: the same terms in the same order give the same rounding.
    labels, t, p = label_codes(yt, yp, 4 * n)
    k = labels.shape[0]
    hit = t == p
    tp = np.bincount(t[hit], weights=None if w is None else w[hit], minlength=k)
    true_sum = np.bincount(t, weights=w, minlength=k).astype(np.float64)
    pred_sum = np.bincount(p, weights=w, minlength=k).astype(np.float64)
    zeros = np.zeros(k)
    precision = np.divide(tp, pred_sum, out=zeros.copy(), where=pred_sum > 0)
    recall = np.divide(tp, true_sum, out=zeros.copy(), where=true_sum > 0)
    both = pred_sum + true_sum
    f1 = np.divide(2 * tp, both, out=zeros.copy(), where=both > 0)
    total = float(true_sum.sum())

    def weighted(values: np.ndarray) -> float:
        # np.average's arithmetic (multiply, then sum), as sklearn's weighted average does.
        return float(np.multiply(values, true_sum).sum() / total) if total > 0 else 0.0

    if w is None:
        accuracy = float(tp.sum()) / total if total > 0 else 0.0
    else:
        accuracy = float(np.average(hit, weights=w)) if w.sum() != 0 else 0.0
    return {
        "accuracy_score": accuracy,
        "precision_score": weighted(precision),
        "recall_score": weighted(recall),
        "f1_score": weighted(f1),
    }


def _binary_auc(positive: np.ndarray, score: np.ndarray, w: np.ndarray | None) -> float | None:
    """Area under the ROC curve, or None when y has a single class."""
    return roc_area(roc_points(positive, score, w))


_EPS = {np.float32: np.finfo(np.float32).eps, np.float64: np.finfo(np.float64).eps}


def probability_metrics(
    y_true: Any,
    proba: Any,
    classes: Any,
    sample_weight: Any = None,
    points: RocPoints | None = None,
) -> dict[str, float]:
    """Log loss and ROC AUC of `predict_proba` output whose columns are `classes`.

    `points` keeps the one-vs-rest ROC points it counts, for the plots of the same fit."""
    yt = _labels_1d(y_true)
    prob = np.asarray(proba)
    if prob.dtype not in (np.float32, np.float64):
        prob = prob.astype(np.float64)
    cls = np.asarray(classes)
    n = yt.shape[0]
    if prob.ndim == 1:
        prob = np.stack([1.0 - prob, prob], axis=1)
    if prob.ndim != 2 or prob.shape != (n, cls.shape[0]) or yt.ndim != 1:
        raise ValueError(
            f"predict_proba gave shape {prob.shape} for {n} rows, {cls.shape[0]} classes"
        )
    w = _weights(sample_weight, n)
    order = np.argsort(cls, kind="mergesort")
    column = order[np.minimum(np.searchsorted(cls[order], yt), cls.shape[0] - 1)]
    if not (cls[column] == yt).all():
        raise ValueError("y holds labels that are not among the estimator's classes_")
    # np.clip and np.average, in the ufuncs they run (their Python wrappers cost more
    # than the arithmetic on small data): the same operations, the same rounding.
    eps = _EPS[prob.dtype.type]
    picked = prob[np.arange(n), column]
    np.minimum(np.maximum(picked, eps, out=picked), 1 - eps, out=picked)
    losses = np.negative(np.log(picked, out=picked), out=picked)
    loss = float(np.add.reduce(losses) / n) if w is None else float(np.average(losses, weights=w))
    out = {"log_loss": loss}
    points = points or RocPoints()
    if cls.shape[0] == 2:
        auc = roc_area(points.of(1, column == 1, prob[:, 1], w))
        if auc is not None:
            out["roc_auc"] = auc
        return out
    # sklearn's roc_auc_score refuses scores that are not probabilities, and a class
    # absent from y (one column too many): so does this.
    if not np.allclose(1, prob.sum(axis=1)) or np.unique(column).shape[0] != cls.shape[0]:
        return out
    if w is None:  # sklearn's one-vs-one takes no sample weights: MLflow then logs none
        out["roc_auc"] = _one_vs_one_auc(column, prob)
    ovr = _one_vs_rest_auc(column, prob, w, points)
    if ovr is not None:
        out["roc_auc_ovr"] = ovr
    return out


def _one_vs_one_auc(column: np.ndarray, prob: np.ndarray) -> float:
    """Hand & Till's one-vs-one AUC weighted by pair prevalence: MLflow's `training_roc_auc`.

    sklearn's `roc_auc_score(multi_class="ovo", average="weighted")`: for each pair of
    classes, the mean of the two AUCs on the rows of the pair (each class's column as
    the score), averaged with the pair's share of the rows as weight.
    """
    k = prob.shape[1]
    n = column.shape[0]
    scores, prevalence = [], []
    for a in range(k - 1):
        is_a = column == a
        for b in range(a + 1, k):
            pair = is_a | (column == b)
            rows = np.flatnonzero(pair)
            positive = is_a[rows]
            auc_a = _binary_auc(positive, prob[rows, a], None)
            auc_b = _binary_auc(~positive, prob[rows, b], None)
            if auc_a is None or auc_b is None:
                continue  # cannot happen: both classes are present in y
            scores.append((auc_a + auc_b) / 2)
            prevalence.append(rows.shape[0] / n)
    return float(np.average(scores, weights=prevalence))


def _one_vs_rest_auc(
    column: np.ndarray, prob: np.ndarray, w: np.ndarray | None, points: RocPoints
) -> float | None:
    """One-vs-rest AUC weighted by support, with sample weights: `training_roc_auc_ovr`."""
    scores, supports = [], []
    for c in range(prob.shape[1]):
        positive = column == c
        auc = roc_area(points.of(c, positive, prob[:, c], w))
        if auc is None:  # a class absent from y: sklearn refuses, and so does this
            return None
        scores.append(auc)
        supports.append(positive.sum() if w is None else w[positive].sum())
    support = np.asarray(supports, dtype=np.float64)
    return float(np.dot(scores, support) / support.sum())


def regression_metrics(y_true: Any, y_pred: Any, sample_weight: Any = None) -> dict[str, float]:
    """MSE, MAE and R2 averaged uniformly over outputs as sklearn does; RMSE as MLflow does."""
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    yt = yt.reshape(yt.shape[0], -1)
    yp = yp.reshape(yp.shape[0], -1)
    n = yt.shape[0]
    if yp.shape != yt.shape or n == 0:
        raise ValueError(f"predictions of shape {yp.shape} for y of shape {yt.shape}")
    w = _weights(sample_weight, n)
    err = yt - yp
    mse = np.average(err**2, axis=0, weights=w)
    mae = np.average(np.abs(err), axis=0, weights=w)
    out = {
        "mean_squared_error": float(mse.mean()),
        # MLflow's: the root of the averaged MSE (not the average of per-output roots).
        "root_mean_squared_error": float(np.sqrt(mse.mean())),
        "mean_absolute_error": float(mae.mean()),
    }
    if n < 2:
        out["r2_score"] = float("nan")
        return out
    wcol = 1.0 if w is None else w[:, None]
    numerator = np.sum(wcol * err**2, axis=0)
    denominator = np.sum(wcol * (yt - np.average(yt, axis=0, weights=w)) ** 2, axis=0)
    r2 = np.ones(yt.shape[1])
    valid = (denominator != 0) & (numerator != 0)
    r2[valid] = 1 - numerator[valid] / denominator[valid]
    r2[(numerator != 0) & (denominator == 0)] = 0.0
    out["r2_score"] = float(r2.mean())
    return out


# -- what a fit records --------------------------------------------------------------------


def num_rows(data: Any) -> int | None:
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    try:
        return len(data)
    except TypeError:
        return None


def take_rows(data: Any, rows: np.ndarray) -> Any:
    """The given rows of an array, DataFrame, sparse matrix or list (a copy of those rows only)."""
    if data is None:
        return None
    if hasattr(data, "iloc"):
        return data.iloc[rows]
    if type(data).__module__.startswith("scipy.sparse"):
        return data.tocsr()[rows] if data.format not in ("csr", "csc") else data[rows]
    if isinstance(data, np.ndarray):
        return data[rows]
    return [data[int(i)] for i in rows]


@contextmanager
def keeping_global_rng(needed: bool) -> Iterator[None]:
    """Leave numpy's global random stream as the user's program would have it.

    Only while `needed`: some `random_state` param is None, so the estimator may draw
    from numpy's global generator when we predict (see `private_numpy_global`).
    """
    if not needed:
        yield
        return
    with private_numpy_global():
        yield


def training_metrics(
    estimator: Any,
    kind: str,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    *,
    labels: Any = None,
) -> TrainingMetrics:
    """The `training_*` metrics of a fitted estimator on its training data, in two parts.

    `kind` is the estimator type ("classifier", "regressor", "clusterer", ...);
    `labels` are the training labels a clusterer already holds (`labels_`).
    What needs the estimator is done here, in the user's thread: the predictions, a
    clusterer's silhouette, a `score()` of the user's. A classifier's and a regressor's
    metrics are then computed from `predictions` by `evaluate`, in the writer thread
    (with the evaluation plots, `autolog.integrations._plot_data`, drawn from the same).
    An estimator method that raises (a `predict_proba` some configurations lack)
    skips the metrics that need it, named in the tag `autolog.metrics.skipped`.
    """
    out = TrainingMetrics()
    n = num_rows(X)
    if n is None or n == 0:
        return out
    found: dict[str, float] = {}
    if kind == "classifier" and y is not None:
        _classifier(estimator, X, y, sample_weight, out)
    elif kind == "regressor" and y is not None:
        y_pred = _predict(out, estimator, "predict", X)
        if y_pred is not None:
            out.predictions = PlotInputs.of(kind, y, y_pred, sample_weight=sample_weight)
    elif kind == "clusterer":
        _silhouette(X, labels, out, found)
    _training_score(estimator, kind, X, y, sample_weight, n, out, found)
    out.metrics = {f"training_{k}": v for k, v in found.items()}
    if out.skipped:
        out.tags[_tags.METRICS_SKIPPED] = "; ".join(out.skipped)[:1000]
    return out


def training_metrics_now(
    estimator: Any, kind: str, X: Any, y: Any, sample_weight: Any = None, *, labels: Any = None
) -> TrainingMetrics:
    """`training_metrics` with `evaluate`'s part done here too: every metric in `metrics`."""
    found = training_metrics(estimator, kind, X, y, sample_weight, labels=labels)
    if found.predictions is not None:
        more, tags, _ = evaluate(found.predictions, found.score_as, False)
        found.metrics.update(more)
        if tags:
            joined = "; ".join(
                t for t in (found.tags.get(_tags.METRICS_SKIPPED), *tags.values()) if t
            )
            found.tags[_tags.METRICS_SKIPPED] = joined[:1000]
    return found


def evaluate(
    predictions: PlotInputs, score_as: str | None, for_plots: bool
) -> tuple[dict[str, float], dict[str, str], dict[str, bytes]]:
    """The `training_*` metrics of a fit's predictions, tags saying what was skipped and,
    with `for_plots`, the plot data artifact. Run in the writer thread."""
    p = predictions
    found: dict[str, float] = {}
    tags: dict[str, str] = {}
    points = RocPoints()  # counted once for the ROC AUC and the plots' curves
    if p.kind == "classifier":
        found.update(classification_metrics(p.y_true, p.y_pred, p.sample_weight))
        if p.proba is not None:
            try:
                found.update(
                    probability_metrics(p.y_true, p.proba, p.classes, p.sample_weight, points)
                )
            except ValueError as exc:  # labels outside classes_, a ragged or multi-output proba
                tags[_tags.METRICS_SKIPPED] = f"log_loss, roc_auc: {exc}"[:1000]
    else:
        found.update(regression_metrics(p.y_true, p.y_pred, p.sample_weight))
    if score_as is not None and score_as in found:
        found["score"] = found[score_as]  # what score() would compute, already known
    artifacts: dict[str, bytes] = {}
    if for_plots:
        # A plot that cannot be drawn must not cost the fit its metrics.
        with capture_internal_errors("sklearn: evaluation plot data"):
            artifacts = plot_artifacts(p, points)
    return {f"training_{k}": v for k, v in found.items()}, tags, artifacts


def _call(out: TrainingMetrics, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the user's estimator: record why and go on
        out.skipped.append(f"{what}: {type(exc).__name__}: {exc}"[:300])
        return None


def _method(estimator: Any, name: str) -> Any:
    try:
        return getattr(estimator, name, None)
    except Exception:  # noqa: BLE001 - an available_if check of the user's that raises
        return None


def _predict(out: TrainingMetrics, estimator: Any, name: str, X: Any) -> Any:
    """`estimator.<name>(X)`, or None (the reason noted) when it is missing or raises.

    X is the data the estimator was just fitted on. A scikit-learn estimator's fit has
    already checked it for NaN and infinity, as its `predict` would again: that second
    pass over X (half the cost of predicting on 200,000 x 25, 5 ms) is skipped with
    sklearn's `assume_finite` for scikit-learn's own estimators. Another's checks run.
    """
    method = _method(estimator, name)
    if method is None:
        return None
    if not type(estimator).__module__.startswith("sklearn."):
        return _call(out, name, method, X)
    from sklearn import config_context

    with config_context(assume_finite=True):
        return _call(out, name, method, X)


def _classifier(estimator: Any, X: Any, y: Any, sample_weight: Any, out: TrainingMetrics) -> None:
    yt = _labels_1d(y)
    if yt.ndim != 1:
        out.skipped.append("classification metrics: y has several outputs")
        return
    classes = getattr(estimator, "classes_", None)
    proba = None
    if classes is not None and hasattr(estimator, "predict_proba"):
        proba = _predict(out, estimator, "predict_proba", X)
    y_pred = _labels_from_proba(estimator, proba, classes)
    if y_pred is None:
        y_pred = _predict(out, estimator, "predict", X)
    if y_pred is None:
        return
    out.predictions = PlotInputs.of("classifier", yt, y_pred, proba, classes, sample_weight)


# scikit-learn classifiers whose `predict` is the class of the largest `predict_proba`
# column wherever that column is the only largest (their probabilities are a monotonic
# transform of the scores `predict` compares: the identity, a sigmoid, a softmax, a
# normalisation). Not SVC, whose Platt-scaled probabilities may disagree with `predict`.
_PROBA_ARGMAX = frozenset(
    {
        "BernoulliNB",
        "CategoricalNB",
        "ComplementNB",
        "DecisionTreeClassifier",
        "ExtraTreeClassifier",
        "ExtraTreesClassifier",
        "GaussianNB",
        "GradientBoostingClassifier",
        "HistGradientBoostingClassifier",
        "KNeighborsClassifier",
        "LinearDiscriminantAnalysis",
        "LogisticRegression",
        "LogisticRegressionCV",
        "MLPClassifier",
        "MultinomialNB",
        "QuadraticDiscriminantAnalysis",
        "RandomForestClassifier",
    }
)


def _labels_from_proba(estimator: Any, proba: Any, classes: Any) -> np.ndarray | None:
    """What `predict` would return, from `predict_proba`'s output, where that is certain.

    One call of scikit-learn's input validation fewer (a quarter of a millisecond on
    small data, about what a small fit costs). None, and `predict` is called, for an
    estimator not known to predict the argmax (a pipeline: its last step's), or a row
    whose largest probability is tied.
    """
    final = estimator
    while type(final).__name__ == "Pipeline" and hasattr(final, "steps"):
        final = final.steps[-1][1]
    cls = type(final)
    if cls.__name__ not in _PROBA_ARGMAX or not cls.__module__.startswith("sklearn."):
        return None
    if not isinstance(proba, np.ndarray) or proba.ndim != 2 or classes is None:
        return None
    labels = np.asarray(classes)
    if labels.ndim != 1 or proba.shape[1] != labels.shape[0] or proba.shape[1] < 2:
        return None
    if proba.shape[1] == 2:
        tied = proba[:, 0] == proba[:, 1]
    else:
        top = np.partition(proba, -2, axis=1)
        tied = top[:, -1] == top[:, -2]
    if tied.any():
        return None
    derived: np.ndarray = labels.take(proba.argmax(axis=1))
    return derived


def _silhouette(X: Any, labels: Any, out: TrainingMetrics, found: dict[str, float]) -> None:
    if labels is None:
        return
    labels = np.asarray(labels)
    n = labels.shape[0]
    distinct = np.unique(labels).shape[0]
    if not 2 <= distinct <= n - 1:
        return
    from sklearn.metrics import silhouette_score

    size = None if n <= SILHOUETTE_ROWS else SILHOUETTE_ROWS
    value = _call(out, "silhouette", silhouette_score, X, labels, sample_size=size, random_state=0)
    if value is not None:
        found["silhouette_score"] = float(value)
        if size is not None:
            out.tags[_tags.METRICS_SILHOUETTE_ROWS] = str(size)


def _standard_score(estimator: Any, kind: str) -> str | None:
    """The metric `score()` returns when it is sklearn's mixin default, else None."""
    key = (type(estimator), kind)
    if key not in _standard_scores:
        from sklearn.base import ClassifierMixin, RegressorMixin

        method = _unwrapped(type(estimator), "score")
        found = None
        if kind == "classifier" and method is _unwrapped(ClassifierMixin, "score"):
            found = "accuracy_score"
        elif kind == "regressor" and method is _unwrapped(RegressorMixin, "score"):
            found = "r2_score"
        _standard_scores[key] = found
    return _standard_scores[key]


_standard_scores: dict[tuple[type, str], str | None] = {}


def _unwrapped(owner: type, name: str) -> Any:
    """The function `owner.name` resolves to, without autolog's wrapper around it."""
    from autolog._patching.integration import AutologWrapper

    value = inspect.getattr_static(owner, name, None)
    return value.__wrapped__ if isinstance(value, AutologWrapper) else value


def _training_score(
    estimator: Any,
    kind: str,
    X: Any,
    y: Any,
    sample_weight: Any,
    n: int,
    out: TrainingMetrics,
    found: dict[str, float],
) -> None:
    score = _method(estimator, "score")
    if score is None:
        return
    standard = _standard_score(estimator, kind)
    if standard is not None and out.predictions is not None:
        out.score_as = standard  # what score() would compute: `evaluate` logs it
        return
    if n > MAX_ROWS:  # score() is one number, not computed by chunks: a smaller sample
        rows = np.linspace(0, n - 1, SCORE_ROWS).astype(np.int64)
        X, y = take_rows(X, rows), take_rows(y, rows)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)[rows]
        out.tags[_tags.METRICS_SCORE_ROWS] = str(SCORE_ROWS)
    args = (X,) if y is None else (X, y)
    kwargs: Mapping[str, Any] = {}
    if sample_weight is not None and _accepts(score, "sample_weight"):
        kwargs = {"sample_weight": sample_weight}
    value = _call(out, "score", score, *args, **kwargs)
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        found["score"] = float(value)


def _accepts(method: Any, name: str) -> bool:
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())
