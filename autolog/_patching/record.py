"""What every integration records alike: params, JSON artifacts, the training data, the model.

An integration finds what to record in its library; the forms it is recorded in
are these, so that a run of any library reads the same (docs/records.md):

- params: `render_param` turns any value into its text by one rule (below);
  `log_params` skips a key the run already holds with another value (the
  user's own run), never raises for it.
- JSON artifacts: `log_json`, compact UTF-8 JSON.
- the training data: `log_dataset` writes a fingerprint (`autolog._patching.fingerprint`)
  as the tags `autolog.data.*` and the artifact `datasets/train.json`, and makes
  it the run's input "train".
- other data the run used (evaluation sets, the data of metrics computed after
  training): `log_input` writes its fingerprint as `datasets/<name>.json` and
  the tag `autolog.input.<name>` (role train / eval / test, hash, kind, shape),
  which `Run.inputs` reads back.
- feature importances: `log_feature_importances` writes `feature_importances.json`
  (one schema for every library) and the top features as metrics.
- the model: `log_model` saves it as the run's `model` with an input example
  (or, with input examples off, at least the signature inferred from it),
  tags `autolog.model.skipped` when it cannot be saved, and registers it when
  the options name a registered model.

Nothing here knows a library: no import of scikit-learn or XGBoost.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from autolog import _tags
from autolog._patching.enable import AutologOptions
from autolog._tracking.runs import ActiveRun
from autolog._validation import MAX_PARAM_VALUE_LENGTH, sanitize_key
from autolog.errors import InvalidValueError, ParamConflictError

__all__ = [
    "DATASET_ARTIFACT",
    "IMPORTANCES_ARTIFACT",
    "MAX_FEATURES_LISTED",
    "MODEL_PATH",
    "TOP_FEATURES",
    "estimator_tags",
    "first_rows",
    "input_name",
    "log_dataset",
    "log_feature_importances",
    "log_input",
    "log_json",
    "log_model",
    "log_params",
    "render_param",
]

DATASET_ARTIFACT = "datasets/train.json"
IMPORTANCES_ARTIFACT = "feature_importances.json"
TOP_FEATURES = 10  # logged as metrics `feature_importance.<name>`
MAX_FEATURES_LISTED = 10_000
MODEL_PATH = "model"
EXAMPLE_ROWS = 5
_MAX_ITEMS = 50  # of a list, tuple or dict param: the rest is "..."
_MAX_DEPTH = 3
_MAX_ARRAY_ITEMS = 10  # a NumPy array param with more is shown by shape and dtype


# -- params --------------------------------------------------------------------------------


def render_param(value: Any) -> str:
    """The text of a param value, cut to the store's limit for a param.

    Strings as they are; numbers, None and booleans as Python writes them
    (NumPy scalars as the Python number); lists, tuples and dicts in Python's
    repr form (`['a', 'b']`, `(1,)`, `{'k': 2}`), their items rendered by the
    same rules; a function or class by `module.qualname`; a model (an object with
    `get_params` and `fit`) by its repr, as MLflow records it
    (`SVC(probability=True, random_state=0)`), memory addresses left out; an
    object whose repr is long or names a memory address by its class name; a
    small NumPy array as a list, a larger one by shape and dtype; a path as its
    text; anything else by its repr.
    """
    text = _render(value, depth=0)
    if len(text) <= MAX_PARAM_VALUE_LENGTH:
        return text
    return text[: MAX_PARAM_VALUE_LENGTH - 3] + "..."


def _render(value: Any, depth: int) -> str:
    if isinstance(value, str):
        return value if depth == 0 else repr(value)
    if value is None or isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Number):
        item = getattr(value, "item", None)  # a NumPy scalar: its Python number
        return repr(item() if item is not None and _is_numpy(value) else value)
    if isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__")):
        return f"{getattr(value, '__module__', None) or ''}.{value.__qualname__}".lstrip(".")
    if hasattr(value, "get_params") and hasattr(value, "fit"):
        return _model_repr(value)
    if _is_numpy(value) and hasattr(value, "shape"):
        if value.size <= _MAX_ARRAY_ITEMS:
            return repr(value.tolist())
        return f"array(shape={tuple(value.shape)}, dtype={value.dtype})"
    if isinstance(value, (list, tuple)) and depth < _MAX_DEPTH:
        items = [_render(v, depth + 1) for v in value[:_MAX_ITEMS]]
        if len(value) > _MAX_ITEMS:
            items.append("...")
        if isinstance(value, list):
            return f"[{', '.join(items)}]"
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, Mapping) and depth < _MAX_DEPTH:
        pairs = [
            f"{_render(k, depth + 1)}: {_render(v, depth + 1)}"
            for k, v in list(value.items())[:_MAX_ITEMS]
        ]
        if len(value) > _MAX_ITEMS:
            pairs.append("...")
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, os.PathLike):
        return os.fspath(value)  # type: ignore[no-any-return]
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a user object whose __repr__ raises
        return type(value).__name__
    if len(text) > MAX_PARAM_VALUE_LENGTH or " at 0x" in text:
        return type(value).__name__  # an address differs at every run: not a value
    return text


def _model_repr(model: Any) -> str:
    """A model's repr (scikit-learn's is its changed params), without memory addresses."""
    try:
        text = repr(model)
    except Exception:  # noqa: BLE001 - a user model whose __repr__ raises
        return type(model).__name__
    # A function param shows as `<function f at 0x7f...>`: the address differs at every run.
    return _ADDRESS.sub("", text) if " at 0x" in text else text


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _is_numpy(value: Any) -> bool:
    return type(value).__module__ == "numpy"


def log_params(run: ActiveRun, params: Mapping[str, Any]) -> None:
    """Log the params rendered; a key the run already holds with another value is skipped."""
    rendered = {k: render_param(v) for k, v in params.items()}
    try:
        run.log_params(rendered)
    except ParamConflictError:  # the user's own run already has one of these params
        for key, text in rendered.items():
            try:
                run.log_param(key, text)
            except ParamConflictError:
                continue


def estimator_tags(model: Any) -> dict[str, str]:
    """The tags naming the model's class, as MLflow names them."""
    cls = type(model)
    return {
        _tags.ESTIMATOR_NAME: cls.__name__,
        _tags.ESTIMATOR_CLASS: f"{cls.__module__}.{cls.__name__}",
    }


# -- artifacts and data --------------------------------------------------------------------


def log_json(run: ActiveRun, data: Any, path: str) -> None:
    """Queue `data` as a compact JSON artifact (a value JSON cannot hold is written as text)."""
    # Not log_dict(): json.dumps with indent= runs the pure-Python encoder, ten times slower.
    run.log_record(json.dumps(data, separators=(",", ":"), default=str).encode("utf-8"), path)


def log_dataset(run: ActiveRun, found: Mapping[str, Any]) -> None:
    """Log a data fingerprint: the tags `autolog.data.*` and the `datasets/train.json` artifact."""
    tags: dict[str, str] = {}
    if found.get("hash") is not None:
        tags[_tags.DATA_HASH] = str(found["hash"])
    for part in ("X", "y"):
        entry = found.get(part)
        if entry is None:
            continue
        tags[_tags.data_tag(part, "kind")] = str(entry["kind"])
        if entry.get("shape") is not None:
            tags[_tags.data_tag(part, "shape")] = "x".join(str(n) for n in entry["shape"])
        if entry.get("content_hash") is not None:
            tags[_tags.data_tag(part, "hash")] = str(entry["content_hash"])
        if "sampled" in entry:
            tags[_tags.DATA_SAMPLED] = "true"
    run.set_tags(tags)
    log_input(run, found, TRAIN, TRAIN)


TRAIN = "train"  # the name and role of the training data among a run's inputs


def input_name(name: str) -> str:
    """`name` made fit for a tag key and a file name (letters, digits, `_ - .`)."""
    cleaned = re.sub(r"[^A-Za-z0-9_\-.]", "_", name).strip(".")[:100]
    return cleaned or "data"


def log_input(run: ActiveRun, found: Mapping[str, Any], name: str, role: str) -> None:
    """Log data the run used: `datasets/<name>.json` and the tag `autolog.input.<name>`.

    `found` is a fingerprint (`autolog._patching.fingerprint.fingerprint`); `role`
    is "train", "eval" (evaluated during training) or "test" (scored after it).
    """
    name = input_name(name)
    path = f"datasets/{name}.json"
    X = found.get("X") or {}
    summary = {
        "role": role,
        "hash": found.get("hash"),
        "kind": X.get("kind"),
        "shape": X.get("shape"),
        "artifact": path,
    }
    run.set_tag(_tags.input_tag(name), json.dumps(summary, separators=(",", ":")))
    log_json(run, {**found, "name": name, "role": role}, path)


def first_rows(X: Any, rows: int = EXAMPLE_ROWS) -> Any:
    """The first rows of training data held in memory (a view where the type allows), or None.

    NumPy arrays, pandas DataFrames and Series, SciPy CSR/CSC matrices, lists and
    tuples; anything else (a DMatrix, a device array) gives None.
    """
    if X is None:
        return None
    module = type(X).__module__
    if module.startswith("pandas") and hasattr(X, "iloc"):
        return X.iloc[:rows]
    if module == "numpy" and hasattr(X, "shape"):
        return X[:rows]
    if module.startswith("scipy.sparse"):
        return X[:rows] if getattr(X, "format", None) in ("csr", "csc") else None
    if isinstance(X, (list, tuple)):
        return X[:rows]
    return None


# -- feature importances -------------------------------------------------------------------


def log_feature_importances(
    run: ActiveRun, model: str, names: Sequence[str], importances: Mapping[str, Any]
) -> None:
    """Log `feature_importances.json` and the top features as metrics (docs/records.md).

    `model` is the class name of the model the importances come from; `importances`
    maps each importance type to one number per feature of `names`, in that order
    (a sequence or a NumPy array).
    The first type is the main one: features are listed most important first by
    it (at most `MAX_FEATURES_LISTED`), and its top `TOP_FEATURES` are logged as
    metrics `feature_importance.<name>`. A number that is not finite is written null.
    """
    import numpy as np  # what the importances already are: no import for a fit

    columns = {kind: np.asarray(values, dtype=np.float64) for kind, values in importances.items()}
    main = next(iter(columns.values()))
    order = np.argsort(np.where(np.isnan(main), np.inf, -main), kind="mergesort")
    listed = order[:MAX_FEATURES_LISTED]
    artifact = {
        "model": model,
        "types": list(columns),
        "features": [str(names[i]) for i in listed],
        "importances": {
            kind: [v if math.isfinite(v) else None for v in values[listed].tolist()]
            for kind, values in columns.items()
        },
        "features_total": len(names),
    }
    log_json(run, artifact, IMPORTANCES_ARTIFACT)
    metrics: dict[str, float] = {}
    for i in order[:TOP_FEATURES]:
        key = _importance_key(str(names[i]))
        while key in metrics:
            key = f"{key}_"
        metrics[key] = float(main[i])
    run.log_metrics(metrics)


_importance_keys: dict[str, str] = {}


def _importance_key(feature: str) -> str:
    key = _importance_keys.get(feature)
    if key is None:
        key = sanitize_key(f"feature_importance.{feature}")
        if len(_importance_keys) < 100_000:
            _importance_keys[feature] = key
    return key


# -- the model -----------------------------------------------------------------------------


def log_model(
    run: ActiveRun,
    model: Any,
    options: AutologOptions,
    example: Any,
    path: str = MODEL_PATH,
    signature: Any = None,
) -> bool:
    """Log `model` as the run's `model`, registered when the options ask; False if skipped.

    `path` is the model's directory in the run: another one than `model` (a
    search's `best_estimator`) is never registered.
    `example` is the first rows of the training data (`first_rows`), or None. With
    `log_input_examples` off it is not saved, but the signature (column names and
    dtypes) is still inferred from it. Without an example, `signature` (a
    `Signature` read from elsewhere, such as an XGBoost DMatrix) is used, if any.
    A model that cannot be saved (a class defined in a function cannot be
    pickled) is skipped with the tag `autolog.model.skipped` saying why.
    """
    from autolog._models import infer_signature
    from autolog._models import log_model as save

    try:
        if example is None and signature is not None:
            save(model, path, run=run, signature=signature)
        elif options.log_input_examples or example is None:
            save(model, path, run=run, input_example=example)
        else:
            save(model, path, run=run, signature=infer_signature(example))
    except InvalidValueError as exc:
        run.set_tag(_tags.MODEL_SKIPPED, str(exc)[:1000])
        return False
    if options.registered_model_name and path == MODEL_PATH:
        from autolog._registry.api import register_logged_model

        register_logged_model(
            run.id, MODEL_PATH, options.registered_model_name, tracking_uri=run.tracking_uri
        )
    return True
