"""What an autologged scikit-learn fit records: params, tags, data, importances, searches.

Each function takes the run and the estimator and logs through the run API;
none of them keeps a reference to the user's data after it returns.

- params: `get_params(deep=True)` flattened as sklearn names them (`clf__C`),
  values rendered readably (an estimator by its class name, a function by its
  qualified name, a long value cut at `MAX_PARAM_CHARS`).
- tags: `estimator_name` (the class name), `estimator_class` (module and name).
- data: the fingerprint of `autolog._patching.fingerprint` as tags `autolog.data.*` and
  the artifact `datasets/train.json`.
- feature importances: `feature_importances_`, else `|coef_|` (averaged over
  classes or outputs), with the feature names, as `feature_importances.json`
  and the top `TOP_FEATURES` as metrics `feature_importance.<name>`.
- the model: through `autolog._models.log_model`, with an input example or at
  least the signature.
- searches: `best_<param>` params and the `best_cv_score` metric on the run,
  `cv_results.csv`, and a child run for each of the best `max_tuning_runs`
  candidates with its params and its mean/std scores and times.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from autolog import _tags
from autolog._patching.enable import AutologOptions
from autolog._patching.fingerprint import fingerprint
from autolog._tracking import runs as _runs
from autolog._tracking.runs import ActiveRun
from autolog._validation import sanitize_key
from autolog.errors import InvalidValueError, ParamConflictError

__all__ = [
    "TOP_FEATURES",
    "estimator_kind",
    "estimator_params",
    "estimator_tags",
    "input_example",
    "log_dataset",
    "log_feature_importances",
    "log_json",
    "log_model",
    "log_params",
    "log_search",
    "render_param",
]

MAX_PARAM_CHARS = 500
TOP_FEATURES = 10
MAX_FEATURES_LISTED = 10_000
DATASET_ARTIFACT = "datasets/train.json"
IMPORTANCES_ARTIFACT = "feature_importances.json"
CV_RESULTS_ARTIFACT = "cv_results.csv"

_param_names: dict[type, list[str]] = {}


# -- params and tags -----------------------------------------------------------------------


def render_param(value: Any) -> str:
    """A readable string for a param value: estimators and functions by name."""
    text = _render(value, depth=0)
    return text if len(text) <= MAX_PARAM_CHARS else text[: MAX_PARAM_CHARS - 3] + "..."


def _render(value: Any, depth: int) -> str:
    if isinstance(value, str):
        return value if depth == 0 else repr(value)
    if value is None or isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Number):
        return repr(value.item() if isinstance(value, np.generic) else value)
    if isinstance(value, type):
        return value.__name__
    if hasattr(value, "get_params") and hasattr(value, "fit"):
        return type(value).__name__
    if isinstance(value, np.ndarray):
        if value.size <= 10:
            return repr(value.tolist())
        return f"array(shape={value.shape}, dtype={value.dtype})"
    if depth < 3 and isinstance(value, (list, tuple)):
        inner = ", ".join(_render(v, depth + 1) for v in value[:50])
        more = ", ..." if len(value) > 50 else ""
        return f"[{inner}{more}]" if isinstance(value, list) else f"({inner}{more})"
    if depth < 3 and isinstance(value, Mapping):
        items = list(value.items())[:50]
        return "{" + ", ".join(f"{k!r}: {_render(v, depth + 1)}" for k, v in items) + "}"
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}".lstrip(".")
    text = repr(value)
    return text if len(text) <= MAX_PARAM_CHARS else type(value).__name__


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


def log_json(run: ActiveRun, data: Any, path: str) -> None:
    """`run.log_dict` without indentation: json's C encoder, several times faster."""
    run.log_bytes(json.dumps(data, default=str, allow_nan=True).encode("utf-8"), path)


def log_params(run: ActiveRun, params: Mapping[str, Any]) -> None:
    """Log rendered params; a key the run already holds with another value is skipped."""
    rendered = {k: render_param(v) for k, v in params.items()}
    try:
        run.log_params(rendered)
    except ParamConflictError:  # the user's own run already has one of these params
        for key, text in rendered.items():
            try:
                run.log_param(key, text)
            except ParamConflictError:
                continue


def estimator_tags(estimator: Any) -> dict[str, str]:
    cls = type(estimator)
    return {
        _tags.ESTIMATOR_NAME: cls.__name__,
        _tags.ESTIMATOR_CLASS: f"{cls.__module__}.{cls.__name__}",
    }


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


# -- data ----------------------------------------------------------------------------------


def input_example(X: Any, rows: int = 5) -> Any:
    """The first rows of the training data (a view where the type allows), or None."""
    if X is None:
        return None
    if hasattr(X, "iloc"):
        return X.iloc[:rows]
    if isinstance(X, np.ndarray):
        return X[:rows]
    if type(X).__module__.startswith("scipy.sparse"):
        return X[:rows] if X.format in ("csr", "csc") else None
    if isinstance(X, (list, tuple)):
        return X[:rows]
    return None


def log_dataset(run: ActiveRun, X: Any, y: Any) -> dict[str, Any]:
    """Fingerprint X and y: tags `autolog.data.*` and the `datasets/train.json` artifact."""
    found = fingerprint(X, y)
    tags = {_tags.DATA_HASH: found["hash"]}
    for part in ("X", "y"):
        entry = found.get(part)
        if entry is None:
            continue
        shape = entry.get("shape")
        tags[_tags.data_tag(part, "kind")] = entry["kind"]
        if shape is not None:
            tags[_tags.data_tag(part, "shape")] = "x".join(str(n) for n in shape)
        if entry.get("content_hash") is not None:
            tags[_tags.data_tag(part, "hash")] = entry["content_hash"]
        if "sampled" in entry:
            tags[_tags.DATA_SAMPLED] = "true"
    run.set_tags(tags)
    log_json(run, found, DATASET_ARTIFACT)
    return found


# -- the model -----------------------------------------------------------------------------


def log_model(run: ActiveRun, estimator: Any, X: Any, options: AutologOptions) -> None:
    """Log the fitted estimator as the run's `model`, registered when the options ask.

    With `log_input_examples` off, the signature (column names and dtypes) is still
    inferred from the first rows, which are not saved. An estimator that cannot be
    pickled (a class defined in a function) is skipped with the tag
    `autolog.model.skipped` saying why.
    """
    from autolog._models import infer_signature
    from autolog._models import log_model as save

    rows = input_example(X)
    try:
        if options.log_input_examples or rows is None:
            save(estimator, "model", run=run, input_example=rows)
        else:
            save(estimator, "model", run=run, signature=infer_signature(rows))
    except InvalidValueError as exc:
        run.set_tag(_tags.MODEL_SKIPPED, str(exc)[:1000])
        return
    if options.registered_model_name:
        from autolog._registry.api import register_logged_model

        register_logged_model(
            run.id, "model", options.registered_model_name, tracking_uri=run.tracking_uri
        )


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


_metric_keys: dict[str, str] = {}


def _metric_key(feature: str) -> str:
    key = _metric_keys.get(feature)
    if key is None:
        key = sanitize_key(f"feature_importance.{feature}")
        if len(_metric_keys) < 100_000:
            _metric_keys[feature] = key
    return key


def log_feature_importances(run: ActiveRun, estimator: Any) -> bool:
    """Log `feature_importances.json` and the top features as metrics; False if none."""
    found = _importances(estimator)
    if found is None:
        return False
    values, source, final, head = found
    names = _feature_names(estimator, final, head, values.shape[0])
    order = np.argsort(np.where(np.isnan(values), np.inf, -values), kind="mergesort")
    listed = order[:MAX_FEATURES_LISTED]
    artifact: dict[str, Any] = {
        "source": source,
        "estimator": type(final).__name__,
        "features": [{"name": names[i], "importance": float(values[i])} for i in listed],
    }
    if values.shape[0] > MAX_FEATURES_LISTED:
        artifact["features_total"] = int(values.shape[0])
    log_json(run, artifact, IMPORTANCES_ARTIFACT)
    metrics: dict[str, float] = {}
    for i in order[:TOP_FEATURES]:
        key = _metric_key(names[i])
        while key in metrics:
            key = f"{key}_"
        metrics[key] = float(values[i])
    run.log_metrics(metrics)
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
        log_params(child, results["params"][i])
        child.set_tags({_tags.SEARCH_CANDIDATE: str(int(i)), _tags.SEARCH_RANK: str(ranks[i])})
        values = {k: _numeric(results[k][i]) for k in metric_keys}
        child.log_metrics({k: v for k, v in values.items() if v is not None})
        child.end()
    return True
