"""Logging, saving and loading models as MLflow-compatible model directories.

A model directory holds the serialized model, an `MLmodel` file (flavors,
signature, input example info, source run, library versions and the sha256 of
every file), `input_example.json` when an example was given, and the
`requirements.txt` / `python_env.yaml` / `conda.yaml` that MLflow's tools read.

`log_model` serializes in the calling thread (the model may change as soon as it
returns) and queues the files as artifacts of the run, `MLmodel` last, so a
reader never finds an MLmodel whose files are not there yet. `load_model`
verifies every hash before it deserializes anything.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from autolog._models._build import ExtraFiles, SignatureArg, build, mlmodel_bytes
from autolog._models._flavors import Flavor, SavedFlavor, register_flavor, unregister_flavor
from autolog._models._load import ModelVersionWarning, load_dir, local_path
from autolog._models._mlmodel import MLMODEL, ModelInfo
from autolog._models._pyfunc import PyFuncModel
from autolog._models._signature import ColSpec, Signature, TensorSpec, infer_signature
from autolog._models.uris import URI_FORMS, parse_runs_uri
from autolog._tracking.runs import ActiveRun, require_run
from autolog._tracking.settings import tracking
from autolog._validation import check_relative_path
from autolog.errors import (
    ArtifactNotFoundError,
    InvalidInputError,
    InvalidValueError,
    ModelNotFoundError,
)

__all__ = [
    "ColSpec",
    "Flavor",
    "ModelInfo",
    "ModelVersionWarning",
    "PyFuncModel",
    "SavedFlavor",
    "Signature",
    "TensorSpec",
    "infer_signature",
    "load_model",
    "log_model",
    "register_flavor",
    "save_model",
    "unregister_flavor",
]

_logged: dict[str, set[str]] = {}  # run id -> model names logged by this process
_logged_lock = threading.Lock()


# -- public API --------------------------------------------------------------------------------


def log_model(
    model: Any,
    name: str = "model",
    *,
    input_example: Any = None,
    signature: SignatureArg = "infer",
    run: ActiveRun | None = None,
    format: str | None = None,
    extra_files: ExtraFiles | None = None,
) -> ModelInfo:
    """Log `model` as the artifact directory `name` of a run; return where it went.

    Args:
        model: a scikit-learn estimator, an XGBoost Booster or scikit-learn API model, or
            a model of a flavor added with `register_flavor`.
        name: the model's path among the run's artifacts (load it from runs:/<run_id>/<name>).
        input_example: the model's input (DataFrame, array, ...): its first 5 rows are saved
            and used to infer the signature.
        signature: "infer" (from the input example, when one is given), None for none, or a
            `Signature`, for example `infer_signature(X, model.predict(X))`.
        run: the run to log to (default: the active run, started if there is none).
        format: the flavor's serialization format: "pickle" (default) or "cloudpickle" for
            scikit-learn, "ubj" (default) or "json" for XGBoost.
        extra_files: more files to keep with the model, under `extra_files/`: a list of
            paths, or a dict of file name to path or bytes.
    """
    path = check_relative_path(name, "model name", allow_empty=False)
    target = run if run is not None else require_run()
    if not isinstance(target, ActiveRun):
        raise InvalidValueError(
            f"run={run!r}; expected an autolog.ActiveRun such as the one start_run() returns"
        )
    _claim(target.id, path, dry_run=True)  # fail before the work of serializing
    files, mlmodel = build(
        model,
        artifact_path=path,
        run=target,
        input_example=input_example,
        signature=signature,
        format=format,
        extra_files=extra_files,
    )
    text = mlmodel_bytes(mlmodel)
    _claim(target.id, path)
    for rel, data in files.items():
        target.log_bytes(data, f"{path}/{rel}")
    target.log_bytes(text, f"{path}/{MLMODEL}")
    return ModelInfo.from_mlmodel(mlmodel, f"runs:/{target.id}/{path}")


def _claim(run_id: str, path: str, *, dry_run: bool = False) -> None:
    with _logged_lock:
        names = _logged.setdefault(run_id, set())
        if path in names:
            raise InvalidInputError(
                f"run {run_id} already has a model named {path!r}; log this one under another"
                " name, e.g. log_model(model, 'model_2'), or in a new run"
            )
        if not dry_run:
            names.add(path)


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    input_example: Any = None,
    signature: SignatureArg = "infer",
    format: str | None = None,
    extra_files: ExtraFiles | None = None,
) -> ModelInfo:
    """Write `model` as a model directory at `path` (which must not exist or be empty).

    The directory is written beside `path` under a temporary name and renamed into
    place, so `path` never holds half a model. Arguments as for `log_model`.
    """
    target = Path(os.fspath(path)).expanduser().absolute()
    _refuse_existing(target)
    files, mlmodel = build(
        model,
        artifact_path=None,
        run=None,
        input_example=input_example,
        signature=signature,
        format=format,
        extra_files=extra_files,
    )
    text = mlmodel_bytes(mlmodel)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        for rel, data in [*files.items(), (MLMODEL, text)]:
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        _refuse_existing(target)
        if target.is_dir():
            target.rmdir()  # an empty directory: renaming over it is not portable
        try:
            tmp.rename(target)
        except OSError:
            _refuse_existing(target)  # someone else wrote there meanwhile
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return ModelInfo.from_mlmodel(mlmodel, str(target))


def _refuse_existing(target: Path) -> None:
    if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
        return
    if target.exists() or target.is_symlink():
        what = "a non-empty directory" if target.is_dir() else "a file"
        raise InvalidInputError(
            f"save_model: {str(target)!r} is {what}; save_model never overwrites. Choose a new"
            " path, or delete the old model first"
        )


def load_model(
    model_uri: str | os.PathLike[str],
    flavor: str | None = None,
    *,
    trust_unverified: bool = False,
) -> Any:
    """Load a model as its native object (estimator, Booster, XGBModel subclass, ...).

    Args:
        model_uri: runs:/<run_id>/<path>, models:/<name>/<version>, models:/<name>@<alias>,
            a file:// URI or a local directory.
        flavor: another flavor of the model; "python_function" returns a `PyFuncModel`
            whose `predict(data)` checks `data` against the model's signature.
        trust_unverified: load a model that has no autolog file hashes (saved by MLflow's
            `mlflow.sklearn` or `mlflow.xgboost`) without verifying its files. Only for
            models from a source you trust: a pickle runs the code it holds.

    Every file's sha256 is checked against the MLmodel before anything is deserialized
    (ModelIntegrityError if one was changed or is missing, or if the model has no hashes
    and `trust_unverified` is False), and a ModelVersionWarning is issued, once, when the
    model was saved with other library versions.
    """
    uri = os.fspath(model_uri) if isinstance(model_uri, os.PathLike) else model_uri
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidValueError(f"model URI {model_uri!r} is empty or not a str; use {URI_FORMS}")
    if flavor is not None and not isinstance(flavor, str):
        raise InvalidValueError(f"flavor={flavor!r}; expected a flavor name such as 'sklearn'")
    source = uri
    if uri.startswith("models:/"):
        try:
            from autolog._registry.api import resolve_models_uri
        except ImportError:
            raise InvalidInputError(
                f"cannot load {uri!r}: this autolog has no model registry; load the model by its"
                " runs:/<run_id>/<path> URI instead"
            ) from None
        source = resolve_models_uri(uri)
    if source.startswith("runs:/"):
        run_id, path = parse_runs_uri(source)
        tracking.flush()  # the model may have been logged by this process a moment ago
        with tempfile.TemporaryDirectory(prefix="autolog-model-") as tmp:
            try:
                local = tracking.backend().download_artifacts(run_id, path, Path(tmp))
            except ArtifactNotFoundError:
                tracking.backend().get_run(run_id)  # RunNotFoundError if the run is unknown
                raise ModelNotFoundError(
                    f"run {run_id} has no model at {path!r} ({uri}); list its artifacts with"
                    f" `autolog artifacts {run_id}`"
                ) from None
            return load_dir(local, uri, flavor, trust_unverified)
    return load_dir(local_path(source), uri, flavor, trust_unverified)
