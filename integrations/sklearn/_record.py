"""What an autologged scikit-learn fit records of its own: params, kind, importances, searches.

Each function takes the run and the estimator and logs through the run API;
none of them keeps a reference to the user's data after it returns. The forms
every integration shares (param text, JSON, data tags, the model) are
`autolog._patching.record`'s.

- params: `get_params(deep=True)` flattened as sklearn names them (`clf__C`).
- feature importances: `feature_importances_`, else `|coef_|` (averaged over
  classes or outputs), with the feature names, written by
  `record.log_feature_importances`.
- searches: `best_<param>` params and the `best_cv_score` metric on the run,
  `cv_results.csv`, and a child run for each of the best `max_tuning_runs`
  candidates with its full params (the searched estimator's, with the
  candidate's set) and its mean/std scores and times. The best estimator is
  logged as a model of its own by the integration (`BEST_ESTIMATOR_PATH`).
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from autolog import _tags
from autolog._patching import record
from autolog._patching.record import log_params, render_param
from autolog._tracking import runs as _runs
from autolog._tracking.runs import ActiveRun

__all__ = [
    "BEST_ESTIMATOR_PATH",
    "candidate_params",
    "estimator_kind",
    "estimator_params",
    "log_feature_importances",
    "log_search",
]

CV_RESULTS_ARTIFACT = "cv_results.csv"
BEST_ESTIMATOR_PATH = "best_estimator"

_param_names: dict[type, list[str]] = {}


# -- params and tags -----------------------------------------------------------------------


def estimator_params(estimator: Any) -> dict[str, Any]:
    """`estimator.get_params(deep=True)`, read directly when it is sklearn's own."""
    from sklearn.base import BaseEstimator

    if getattr(type(estimator), "get_params", None) is not BaseEstimator.get_params:
        return dict(estimator.get_params(deep=True))
    # BaseEstimator.get_params inspects __init__'s signature at every call (0.1 ms);
    # the names are fixed per class, so read them once.
    cls = type(estimator)
    names = _param_names.get(cls)
    if names is None:
        names = _param_names[cls] = list(cls._get_param_names())
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(estimator, name)
        if hasattr(value, "get_params") and not isinstance(value, type):
            out.update((f"{name}__{k}", v) for k, v in estimator_params(value).items())
        out[name] = value
    return out


def estimator_kind(estimator: Any) -> str | None:
    """The estimator type: classifier, regressor, clusterer, outlier_detector... or None."""
    try:
        from sklearn.utils import get_tags
    except ImportError:  # scikit-learn < 1.6
        return getattr(estimator, "_estimator_type", None)
    try:
        return get_tags(estimator).estimator_type  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - tags of a default that is not set (estimator=None)
        return _kind_by_mixin(estimator)


def _kind_by_mixin(estimator: Any) -> str | None:
    from sklearn import base

    for mixin, kind in (
        (base.ClassifierMixin, "classifier"),
        (base.RegressorMixin, "regressor"),
        (base.ClusterMixin, "clusterer"),
        (base.OutlierMixin, "outlier_detector"),
    ):
        if isinstance(estimator, mixin):
            return kind
    return None


# -- feature importances -------------------------------------------------------------------


def _read(obj: Any, attribute: str) -> Any:
    try:
        return getattr(obj, attribute, None)
    except Exception:  # noqa: BLE001 - a property of the user's estimator that raises
        return None


def _importances(estimator: Any) -> tuple[np.ndarray, str, Any, Any] | None:
    """(values, source, final estimator, the step before it) or None."""
    final, head = estimator, None
    best = _read(final, "best_estimator_")
    if best is not None:
        final = best
    steps = getattr(final, "steps", None)
    if isinstance(steps, list) and steps and hasattr(final, "__getitem__"):
        head, final = final[:-1], steps[-1][1]
    values = _read(final, "feature_importances_")
    source = "feature_importances_"
    if values is None:
        coef = _read(final, "coef_")
        if coef is None:
            return None
        source = "coef_"
        coef = coef.toarray() if hasattr(coef, "toarray") else np.asarray(coef)
        if coef.dtype.kind not in "biuf":
            return None
        values = (
            np.abs(coef) if coef.ndim == 1 else np.abs(coef.reshape(-1, coef.shape[-1])).mean(0)
        )
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        return None
    return values, source, final, head


def _feature_names(estimator: Any, final: Any, head: Any, n: int) -> list[str]:
    for source in (final, estimator):
        names = _read(source, "feature_names_in_")
        if names is not None and len(names) == n:
            return [str(x) for x in names]
    if head is not None:
        try:
            names = head.get_feature_names_out()
        except Exception:  # noqa: BLE001 - a step without feature names: numbered instead
            names = None
        if names is not None and len(names) == n:
            return [str(x) for x in names]
    return [f"x{i}" for i in range(n)]


def log_feature_importances(run: ActiveRun, estimator: Any) -> bool:
    """Log the estimator's feature importances (`record.log_feature_importances`); False if none.

    The type is the attribute read: `feature_importances_`, else `coef_` (its
    absolute values, averaged over classes or outputs).
    """
    found = _importances(estimator)
    if found is None:
        return False
    values, source, final, head = found
    names = _feature_names(estimator, final, head, values.shape[0])
    record.log_feature_importances(run, type(final).__name__, names, {source: values})
    return True


# -- searches ------------------------------------------------------------------------------


def _rank_key(search: Any, results: Mapping[str, Any]) -> str | None:
    if "rank_test_score" in results:
        return "rank_test_score"
    refit = getattr(search, "refit", None)
    if isinstance(refit, str) and f"rank_test_{refit}" in results:
        return f"rank_test_{refit}"
    ranks = sorted(k for k in results if k.startswith("rank_test_"))
    return ranks[0] if ranks else None


def _cell(value: Any) -> str:
    if value is np.ma.masked:
        return ""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {render_param(v)}" for k, v in value.items()) + "}"
    return render_param(value)


def cv_results_csv(results: Mapping[str, Any]) -> str:
    columns = list(results)
    rows = len(results["params"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for i in range(rows):
        writer.writerow([_cell(results[c][i]) for c in columns])
    return out.getvalue()


def _numeric(value: Any) -> float | None:
    if value is np.ma.masked or isinstance(value, bool):
        return None
    if isinstance(value, (numbers.Real, np.number)):
        number = float(value)
        return number if not math.isnan(number) else None
    return None


def candidate_params(search: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """Every param of the searched estimator with the candidate's `params` set, as a fit logs."""
    base = getattr(search, "estimator", None)
    if base is None or not hasattr(base, "set_params"):
        return dict(params)
    from sklearn.base import clone

    try:
        candidate = clone(base).set_params(**clone(dict(params), safe=False))
        return estimator_params(candidate)
    except Exception:  # noqa: BLE001 - an estimator whose clone or set_params refuses
        return dict(params)


def log_search(run: ActiveRun, search: Any, max_tuning_runs: int) -> bool:
    """Log a fitted search's best params and score, `cv_results.csv` and its best candidates."""
    results = getattr(search, "cv_results_", None)
    if not isinstance(results, Mapping) or "params" not in results:
        return False
    best_params = getattr(search, "best_params_", None)
    if isinstance(best_params, Mapping):
        log_params(run, {f"best_{k}": v for k, v in best_params.items()})
    best_score = _numeric(getattr(search, "best_score_", None))
    if best_score is not None:
        run.log_metric("best_cv_score", best_score)
    run.log_text(cv_results_csv(results), CV_RESULTS_ARTIFACT)
    rank_key = _rank_key(search, results)
    if rank_key is None or max_tuning_runs <= 0:
        return True
    ranks = np.asarray(results[rank_key])
    best = np.argsort(ranks, kind="mergesort")[:max_tuning_runs]
    metric_keys = [
        k for k in results if k.startswith(("mean_", "std_", "rank_")) and "split" not in k
    ]
    for i in best:
        child = _runs.start_run(
            parent=run, experiment=run.experiment, activate=False, name=f"{run.name}-candidate-{i}"
        )
        log_params(child, candidate_params(search, results["params"][i]))
        child.set_tags({_tags.SEARCH_CANDIDATE: str(int(i)), _tags.SEARCH_RANK: str(ranks[i])})
        values = {k: _numeric(results[k][i]) for k in metric_keys}
        child.log_metrics({k: v for k, v in values.items() if v is not None})
        child.end()
    return True
