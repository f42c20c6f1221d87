"""What the XGBoost integration records about a trained booster and its training data.

- `feature_importances(booster)`: every importance type, with the feature names.
- `dmatrix_fingerprint(dmatrix)`: the data fingerprint of a DMatrix, in the form
  `autolog._fingerprint.fingerprint` gives for arrays and DataFrames.

Imports XGBoost only inside the functions, which run after XGBoost is imported.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

__all__ = ["IMPORTANCE_TYPES", "dmatrix_fingerprint", "feature_importances"]

logger = logging.getLogger("autolog")

IMPORTANCE_TYPES = ("weight", "gain", "cover", "total_gain", "total_cover")


def feature_importances(booster: Any) -> dict[str, Any]:
    """`{"feature_names": [...], "importance_types": {type: {feature: score}}}`.

    The scores are what `Booster.get_score` returns: features never used in a
    split are absent (importance 0), and a type the booster does not define
    (gblinear has only "weight") is left out.
    """
    from xgboost.core import XGBoostError

    names = booster.feature_names or [f"f{i}" for i in range(booster.num_features())]
    scores: dict[str, Any] = {}
    for kind in IMPORTANCE_TYPES:
        try:
            scores[kind] = _scores(booster, kind)
        except XGBoostError:  # not defined for this booster (gblinear: weight only)
            continue
    return {"feature_names": list(names), "importance_types": scores}


def _scores(booster: Any, kind: str) -> dict[str, Any]:
    """`booster.get_score(importance_type=kind)`, through the C API when it can.

    `get_score` spends about 0.2 ms in Python per call (it builds a class to wrap
    the result) against 15 us for the call itself: five types would be most of
    autolog's cost per training. The C function's signature is stable since
    XGBoost 1.5; anything unexpected falls back to `get_score`.
    """
    from xgboost import core

    try:
        lib, check, ulong, jcargs = core._LIB, core._check_call, core.c_bst_ulong, core.make_jcargs
    except AttributeError:  # a private name moved: the public way
        return dict(booster.get_score(importance_type=kind))
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


def dmatrix_fingerprint(dmatrix: Any) -> dict[str, Any]:
    """The fingerprint of a DMatrix, in the form `autolog._fingerprint.fingerprint` gives.

    A DMatrix does not give its data back without a copy, so X's `content_hash`
    (and the combined `hash`) are None; its shape, feature names and types are
    read from it, and y is described from a copy of the labels (one float a row,
    the only copy autolog makes of training data).
    """
    from autolog._fingerprint import METHOD, describe

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


def _strings(values: Any) -> list[str] | None:
    return None if values is None else [str(v) for v in values]
