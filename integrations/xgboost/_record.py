"""What an autologged XGBoost training records: params, data, importances.

Each function takes the run (or returns what to log on it); none keeps a
reference to the user's data or model after it returns. XGBoost is imported
only inside the functions, which run after the user imported it.

- params: booster params and training arguments (never data), rendered and
  logged by `autolog._patching.record`.
- data: for a DMatrix, the fingerprint of what can be read without copying the
  data, in the form of `autolog._patching.fingerprint`; the evaluation data
  (`evals` of `train`, `eval_set` of a `fit`) as the run's inputs, by the names
  their metrics carry (`eval`, `validation_0`), role "eval" (or "train" for the
  training data evaluated again, which is not fingerprinted twice).
- feature importances: every importance type, one score per feature, written
  by `autolog._patching.record.log_feature_importances`.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from autolog._validation import sanitize_key

__all__ = [
    "IMPORTANCE_TYPES",
    "booster_params",
    "dmatrix_fingerprint",
    "dmatrix_signature",
    "estimator_params",
    "feature_importances",
    "log_eval_inputs",
    "training_args",
]

IMPORTANCE_TYPES = ("gain", "weight", "cover", "total_gain", "total_cover")

# Training arguments that are data, a place for results or display options, never params.
_NOT_PARAMS = frozenset({"params", "dtrain", "evals", "evals_result", "as_pandas", "show_stdv"})
# Arguments holding functions or objects: recorded under these names, and only when given.
_RENAMED = {"obj": "custom_objective", "feval": "custom_metric"}
_OBJECT_ARGS = frozenset(
    {"obj", "feval", "custom_metric", "callbacks", "xgb_model", "folds", "fpreproc"}
)


# -- params ------------------------------------------------------------------------------------


def booster_params(params: Any) -> dict[str, Any]:
    """Booster params by key; a list of pairs may repeat a key (several eval_metric)."""
    if params is None:
        return {}
    pairs: Iterable[tuple[Any, Any]] = params.items() if isinstance(params, Mapping) else params
    grouped: dict[str, list[Any]] = {}
    for key, value in pairs:
        grouped.setdefault(sanitize_key(str(key)), []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}


def training_args(
    names: Sequence[str], defaults: Mapping[str, Any], call: Mapping[str, Any]
) -> dict[str, Any]:
    """The training arguments of `train` / `cv` (defaults included), not data or results."""
    out: dict[str, Any] = {}
    for name in names:
        if name in _NOT_PARAMS:
            continue
        value = call.get(name, defaults.get(name))
        if value is None and name in _OBJECT_ARGS:
            continue
        out[_RENAMED.get(name, name)] = value
    return out


def estimator_params(estimator: Any, fit_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """An XGBModel's params and the fit arguments that are params."""
    params = {sanitize_key(str(k)): v for k, v in estimator.get_params().items()}
    objective = getattr(estimator, "objective", None)
    if callable(objective):
        params["custom_objective"] = objective
    metric = getattr(estimator, "eval_metric", None)
    custom = [m for m in (metric if isinstance(metric, (list, tuple)) else [metric]) if callable(m)]
    if custom:
        params["custom_metric"] = custom[0]
    if fit_kwargs.get("xgb_model") is not None:
        params["xgb_model"] = fit_kwargs["xgb_model"]
    return params


# -- data --------------------------------------------------------------------------------------


def dmatrix_fingerprint(dmatrix: Any) -> dict[str, Any]:
    """The fingerprint of a DMatrix, in the form `autolog._patching.fingerprint.fingerprint` gives.

    A DMatrix does not give its data back without a copy, so X's `content_hash`
    (and the combined `hash`) are None; its shape, feature names and types are
    read from it, and y is described from a copy of the labels (one float a row,
    the only copy autolog makes of training data).
    """
    from autolog._patching.fingerprint import METHOD, describe

    x: dict[str, Any] = {
        "kind": type(dmatrix).__name__,
        "shape": [int(dmatrix.num_row()), int(dmatrix.num_col())],
        "columns": _strings(dmatrix.feature_names),
        "dtypes": _strings(dmatrix.feature_types),
        "content_hash": None,
    }
    out: dict[str, Any] = {"X": x, "hash": None, "method": METHOD}
    labels = dmatrix.get_label()
    if len(labels):
        out["y"] = describe(labels)
    return out


# XGBoost's feature types and the MLflow column type each is read as: "float" and
# "q" (quantitative) may be float32 or float64 data, and "double" accepts both; "c"
# (categorical) is most often pandas categories of strings.
_COLUMN_TYPES = {"float": "double", "q": "double", "int": "long", "i": "boolean", "c": "string"}


def dmatrix_signature(dmatrix: Any) -> Any:
    """The model input signature of a DMatrix, from its feature names and types (no data read).

    Named features (a DataFrame, or `feature_names=`) give one column each, typed
    by `_COLUMN_TYPES` (double when XGBoost has no type); unnamed ones (an array)
    a float64 tensor of `num_col()` columns, which float32 and integer input
    satisfy too, in autolog's check and MLflow's. None when the DMatrix has no
    columns to describe.
    """
    from autolog._models import ColSpec, Signature, TensorSpec

    names = dmatrix.feature_names
    columns = int(dmatrix.num_col())
    if not columns:
        return None
    if names is None:
        return Signature((TensorSpec("float64", (-1, columns)),))
    types = dmatrix.feature_types or [None] * len(names)
    return Signature(
        tuple(
            ColSpec(_COLUMN_TYPES.get(str(kind), "double"), str(name))
            for name, kind in zip(names, types, strict=False)
        )
    )


def log_eval_inputs(
    run: Any, evals: Iterable[tuple[str, Any, Any]], train: Any, train_found: Any
) -> None:
    """Log each evaluation set `(name, X, y)` as an input of the run (see the module doc).

    `X` is a DMatrix (`train`'s evals, y None) or in-memory data (a `fit`'s
    eval_set); `train` is the training data and `train_found` its fingerprint
    (None when it was not taken).
    """
    from autolog._patching import record
    from autolog._patching.fingerprint import fingerprint

    for name, X, y in evals:
        if X is train:
            if name != record.TRAIN and train_found is not None:
                record.log_input(run, train_found, name, record.TRAIN)
            continue
        is_dmatrix = hasattr(X, "num_row") and hasattr(X, "get_label")
        found = dmatrix_fingerprint(X) if is_dmatrix else fingerprint(X, y)
        record.log_input(run, found, name, "eval")


def _strings(values: Any) -> list[str] | None:
    return None if values is None else [str(v) for v in values]


# -- feature importances -----------------------------------------------------------------------


def feature_importances(booster: Any) -> tuple[list[str], dict[str, list[float]]]:
    """The feature names and, per importance type, one score per feature.

    Scores are what `Booster.get_score` returns, with 0 for a feature never used
    in a split (which it leaves out); where it gives one score per class (a
    multi-class gblinear), the mean of their absolute values. A type the booster
    does not define (gblinear has only "weight") is left out. "gain" comes first
    when defined: it is the type XGBoost's own `feature_importances_` uses.
    """
    from xgboost.core import XGBoostError

    names = list(booster.feature_names or [f"f{i}" for i in range(booster.num_features())])
    found: dict[str, list[float]] = {}
    for kind in IMPORTANCE_TYPES:
        try:
            scores = _scores(booster, kind)
        except XGBoostError:  # not defined for this booster (gblinear: weight only)
            continue
        found[kind] = [_one_number(scores.get(name, 0.0)) for name in names]
    return names, found


def _one_number(score: Any) -> float:
    if isinstance(score, (list, tuple)):
        return sum(abs(float(v)) for v in score) / len(score) if score else 0.0
    return float(score)


def _scores(booster: Any, kind: str) -> dict[str, Any]:
    """`booster.get_score(importance_type=kind)`, through the C API when it can.

    `get_score` spends about 0.2 ms in Python per call (it builds a class to wrap
    the result) against 15 us for the C call itself: five types would be most of
    autolog's cost per training. The C function's signature is stable since
    XGBoost 1.5; a private name that moved falls back to `get_score`.
    """
    from xgboost import core

    try:
        lib, check, jcargs = core._LIB, core._check_call, core.make_jcargs
    except AttributeError:
        return dict(booster.get_score(importance_type=kind))
    ulong = ctypes.c_uint64  # XGBoost's bst_ulong
    features = ctypes.POINTER(ctypes.c_char_p)()
    values = ctypes.POINTER(ctypes.c_float)()
    count, ndim = ulong(), ulong()
    shape = ctypes.POINTER(ulong)()
    check(
        lib.XGBoosterFeatureScore(
            booster.handle,
            jcargs(importance_type=kind, feature_map=""),
            ctypes.byref(count),
            ctypes.byref(features),
            ctypes.byref(ndim),
            ctypes.byref(shape),
            ctypes.byref(values),
        )
    )
    names = [features[i].decode("utf-8") for i in range(count.value)]
    dims = [int(shape[i]) for i in range(ndim.value)]
    size = 1
    for n in dims:
        size *= n
    flat = values[:size]
    if len(dims) > 1 and dims[1] > 1:  # gblinear multi-class: one score per class
        width = dims[1]
        return {name: flat[i * width : (i + 1) * width] for i, name in enumerate(names)}
    if len(flat) != len(names):
        return dict(booster.get_score(importance_type=kind))
    return dict(zip(names, flat, strict=True))
