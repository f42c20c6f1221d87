"""Building a model directory: the flavor's files, the example, the environment, the MLmodel."""

from __future__ import annotations

import logging
import os
import platform
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from autolog._models._flavors import Flavor, class_path, detect
from autolog._models._mlmodel import MLMODEL, dump_yaml, metadata_digest, sha256_hex
from autolog._models._signature import (
    EXAMPLE_FILE,
    ColSpec,
    Signature,
    example_json,
    infer_schema,
    slice_example,
)
from autolog._randomness import private_numpy_global, set_aside
from autolog._tracking.runs import ActiveRun
from autolog._validation import check_relative_path
from autolog.errors import InvalidInputError, InvalidValueError

__all__ = ["ExtraFiles", "SignatureArg", "build", "mlmodel_bytes"]

_logger = logging.getLogger("autolog")

FORMAT_VERSION = 1
_ENV_FILES = ("requirements.txt", "python_env.yaml", "conda.yaml")
_RESERVED_FILES = frozenset({MLMODEL, EXAMPLE_FILE, *_ENV_FILES})

SignatureArg = Signature | Literal["infer"] | None
ExtraFiles = Sequence[str | os.PathLike[str]] | Mapping[str, str | os.PathLike[str] | bytes]


def _check_format(flavor: Flavor, format: str | None) -> str:
    if format is None:
        return flavor.formats[0]
    if format not in flavor.formats:
        raise InvalidValueError(
            f"format={format!r} is not a format of the {flavor.name} flavor; use one of"
            f" {list(flavor.formats)} (default {flavor.formats[0]!r})"
        )
    return format


def _resolve_signature(
    signature: SignatureArg, flavor: Flavor, model: Any, example: Any
) -> Signature | None:
    if signature is None or isinstance(signature, Signature):
        return signature
    if signature != "infer":
        raise InvalidValueError(
            f"signature={signature!r}; expected 'infer' (from the input example), None, or an"
            " autolog.Signature such as autolog.infer_signature(X, model.predict(X))"
        )
    if example is None:
        return None
    try:
        inputs = infer_schema(example)
    except InvalidValueError as exc:
        _logger.warning("autolog: the model is logged without a signature: %s", exc)
        return None
    outputs = None
    try:
        with set_aside(model), private_numpy_global():  # our prediction: not the user's draws
            prediction = flavor.predict(model, example)
        outputs = infer_schema(prediction, columns_as_rows=isinstance(inputs[0], ColSpec))
    except Exception as exc:  # noqa: BLE001 - the user's model failing on the example only costs the output schema
        _logger.debug("autolog: no output schema: predict on the input example failed: %r", exc)
    return Signature(inputs, outputs)


def _read_extra_files(extra_files: ExtraFiles | None) -> dict[str, bytes]:
    if extra_files is None:
        return {}
    if isinstance(extra_files, Mapping):
        items = list(extra_files.items())
    elif isinstance(extra_files, str | os.PathLike):
        raise InvalidValueError(
            "extra_files takes a list of paths or a dict of name to path or bytes, got a single"
            f" path {os.fspath(extra_files)!r}; wrap it in a list"
        )
    else:
        items = [(Path(p).name, p) for p in extra_files]
    out: dict[str, bytes] = {}
    for name, source in items:
        rel = "extra_files/" + check_relative_path(name, "extra file name", allow_empty=False)
        if rel in out:
            raise InvalidValueError(f"two extra files are both named {name!r}; rename one")
        if isinstance(source, bytes):
            out[rel] = source
            continue
        try:
            out[rel] = Path(source).read_bytes()
        except OSError as exc:
            raise InvalidInputError(
                f"cannot read extra file {os.fspath(source)!r}: {exc.strerror or exc}"
            ) from None
    return out


def _versions(libraries: Mapping[str, str]) -> dict[str, str | None]:
    """The installed version of each distribution (None for one not installed as such)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for dist in libraries:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def _env_files(versions: Mapping[str, str], python: str, extra: Sequence[str]) -> dict[str, bytes]:
    reqs = [f"{dist}=={version}" for dist, version in versions.items()] + list(extra)
    python_env = {
        "python": python,
        "build_dependencies": ["pip", "setuptools", "wheel"],
        "dependencies": ["-r requirements.txt"],
    }
    conda = {
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": reqs}],
        "name": "autolog-env",
    }
    return {
        "requirements.txt": ("\n".join(reqs) + "\n").encode(),
        "python_env.yaml": dump_yaml(python_env).encode(),
        "conda.yaml": dump_yaml(conda).encode(),
    }


def build(
    model: Any,
    *,
    artifact_path: str | None,
    run: ActiveRun | None,
    input_example: Any,
    signature: SignatureArg,
    format: str | None,
    extra_files: ExtraFiles | None,
) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every file of the model directory but MLmodel, and the MLmodel content."""
    flavor = detect(model)
    fmt = _check_format(flavor, format)
    with set_aside(model):  # XGBoost's get_params() draws a seed from a RandomState param
        saved = flavor.save(model, fmt)
    files: dict[str, bytes] = {}
    for rel, data in saved.files.items():
        checked = check_relative_path(rel, f"file of the {flavor.name} flavor", allow_empty=False)
        if checked in _RESERVED_FILES:
            raise InvalidValueError(f"the {flavor.name} flavor may not write {rel!r}; rename it")
        files[checked] = bytes(data)
    example = example_info = None
    if input_example is not None:
        example = slice_example(input_example)
        files[EXAMPLE_FILE], example_info = example_json(example)
    sig = _resolve_signature(signature, flavor, model, example)
    files.update(_read_extra_files(extra_files))

    python = platform.python_version()
    versions = flavor.library_versions()
    versions.update(
        (dist, v) for dist, v in _versions(flavor.model_libraries(model)).items() if v is not None
    )
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        versions.setdefault("numpy", str(numpy.__version__))
    pandas = sys.modules.get("pandas")
    if pandas is not None and sig is not None and not sig.is_tensor:
        versions.setdefault("pandas", str(pandas.__version__))  # predict takes a DataFrame
    from autolog import __version__

    extra_reqs: list[str] = []
    if fmt == "cloudpickle":
        version = sys.modules["cloudpickle"].__version__  # imported by the save above
        extra_reqs.append(f"cloudpickle=={version}")
    pyfunc: dict[str, Any] | None = None
    if saved.pyfunc is not None:
        pyfunc = {"loader_module": "autolog._models._pyfunc", **saved.pyfunc}
        pyfunc["env"] = {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
        pyfunc["python_version"] = python
    # autolog.load_model reads the directory (checks its hashes, then loads the flavor),
    # and is the loader_module of flavors MLflow does not know.
    extra_reqs.append(f"autolog-ml=={__version__}")
    files.update(_env_files(versions, python, extra_reqs))

    mlmodel: dict[str, Any] = {}
    if artifact_path is not None:
        mlmodel["artifact_path"] = artifact_path
    mlmodel["flavors"] = {
        **({"python_function": pyfunc} if pyfunc else {}),
        flavor.name: saved.conf,
    }
    mlmodel["model_uuid"] = uuid.uuid4().hex
    if run is not None:
        mlmodel["run_id"] = run.id
    if example_info is not None:
        mlmodel["saved_input_example_info"] = example_info
    if sig is not None:
        mlmodel["signature"] = sig.to_dict()
    mlmodel["utc_time_created"] = str(datetime.now(timezone.utc).replace(tzinfo=None))
    section: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "autolog_version": __version__,
        "python_version": python,
        "libraries": versions,
        "model_class": class_path(type(model)),
        "created_at": time.time_ns() // 1_000_000,
    }
    if run is not None:
        section.update(experiment=run.experiment, experiment_id=run.experiment_id)
    section["files"] = {rel: sha256_hex(files[rel]) for rel in sorted(files)}
    mlmodel["autolog"] = section
    section["metadata_sha256"] = metadata_digest(mlmodel)
    return files, mlmodel


def mlmodel_bytes(mlmodel: Mapping[str, Any]) -> bytes:
    """The MLmodel file's content."""
    try:
        return dump_yaml(mlmodel).encode("utf-8")
    except TypeError as exc:
        flavors = [f for f in mlmodel.get("flavors", {}) if f != "python_function"]
        raise InvalidValueError(
            f"the MLmodel section of the {flavors} flavor holds a value that is not a str,"
            f" number, bool, None, list or dict: {exc}; make its conf JSON-like"
        ) from None
