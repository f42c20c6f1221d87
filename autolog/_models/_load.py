"""Loading a model directory: parse the URI, pick the flavor, verify, warn, deserialize.

A model directory named by an `s3://bucket/path/to/model` URI is first downloaded
into a temporary directory, which `load_dir` removes once the model is loaded.
"""

from __future__ import annotations

import platform
import shutil
import tempfile
import threading
import urllib.parse
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autolog._models._flavors import Flavor, get_flavor, known_flavors, model_file
from autolog._models._mlmodel import ModelInfo, has_hashes, read_mlmodel, verify
from autolog._models._pyfunc import PyFuncModel
from autolog._models._signature import EXAMPLE_FILE
from autolog._models.uris import URI_FORMS
from autolog.backends import object_store_for_uri
from autolog.backends._objects import ObjectStore
from autolog.errors import InvalidInputError, ModelNotFoundError

__all__ = ["ModelVersionWarning", "load_dir", "local_path"]


class ModelVersionWarning(UserWarning):
    """A model is loaded with other library versions than the ones it was saved with."""


_warned: set[tuple[str, str, str]] = set()
_warned_lock = threading.Lock()
# Temporary directories that `local_path` downloaded a remote model into: `load_dir`
# removes them when it is done.
_downloads: set[Path] = set()
_downloads_lock = threading.Lock()


def local_path(uri: str) -> Path:
    """The directory a `file:` URI or a plain path names, or an object store URI's download.

    Object store URIs (`s3://`) are those `autolog.backends.object_store_for_uri` knows;
    other schemes are an error.
    """
    store = object_store_for_uri(uri)
    if store is not None:
        return _download(uri, store)
    if uri.startswith("file:"):
        parsed = urllib.parse.urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInputError(
                f"model URI {uri!r} names host {parsed.netloc!r}; a file:// URI must be local"
                " (file:///path/to/model)"
            )
        from urllib.request import url2pathname  # urllib.request is slow to import

        return Path(url2pathname(parsed.path))
    head, sep, rest = uri.partition(":")
    if sep and len(head) > 1 and head.isalnum() and rest.startswith("/"):
        raise InvalidInputError(
            f"model URI {uri!r} has the scheme {head!r}, which load_model does not read; use"
            f" {URI_FORMS}"
        )
    return Path(uri).expanduser()


def _download(uri: str, store: ObjectStore) -> Path:
    """Download the objects of `store` (the model directory `uri`) into a new temp directory."""
    tmp: Path | None = None
    try:
        if not urllib.parse.urlsplit(store.uri).path.strip("/"):
            raise InvalidInputError(
                f"model URI {uri!r} names a whole bucket; name the model's directory, as in"
                f" {store.uri}/<prefix>/runs/<run_id>/artifacts/model"
            )
        tmp = Path(tempfile.mkdtemp(prefix="autolog-model-"))
        keys = store.list("")
        if not keys:
            raise ModelNotFoundError(
                f"no model directory at {uri}: nothing is stored under it. Name the directory"
                " that holds the MLmodel file (not the file itself); `autolog artifacts RUN`"
                " lists a run's artifacts"
            )
        for key in keys:
            store.get_file(key, tmp / key)
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        store.close()
    with _downloads_lock:
        _downloads.add(tmp)
    return tmp


def _native_flavor(flavors: Mapping[str, Any], where: str, wanted: str | None) -> Flavor:
    names = list(flavors)
    if wanted is None or wanted == "python_function":
        if wanted is not None and wanted not in flavors:
            raise InvalidInputError(
                f"the model at {where} has no python_function flavor (its flavors: {names}), so it"
                " has no predict(); load it with flavor=None for the native object"
            )
        for name in names:
            found = get_flavor(name) if name != "python_function" else None
            if found is not None:
                return found
        raise InvalidInputError(
            f"the model at {where} has the flavors {names}, none of which autolog can load (it"
            f" loads {known_flavors()}); register a Flavor for one of them with"
            " autolog.register_flavor()"
        )
    if wanted not in flavors:
        raise InvalidInputError(
            f"the model at {where} has no flavor {wanted!r}; its flavors are {names}: pass one of"
            " them as flavor="
        )
    found = get_flavor(wanted)
    if found is None:
        raise InvalidInputError(
            f"autolog cannot load the {wanted!r} flavor of the model at {where} (it loads"
            f" {known_flavors()}); register a Flavor named {wanted!r} with"
            " autolog.register_flavor()"
        )
    return found


# Where MLflow's flavor sections record the library version (a model without autolog's).
_MLFLOW_VERSION_KEYS = {
    "sklearn": ("scikit-learn", "sklearn_version"),
    "xgboost": ("xgboost", "xgb_version"),
}


def _warn_versions(mlmodel: Mapping[str, Any], flavor: Flavor, where: str) -> None:
    section = mlmodel.get("autolog") or {}
    saved = dict(section.get("libraries") or {})
    if not section and flavor.name in _MLFLOW_VERSION_KEYS:
        dist, key = _MLFLOW_VERSION_KEYS[flavor.name]
        version = (mlmodel["flavors"].get(flavor.name) or {}).get(key)
        if version:
            saved[dist] = version
    pairs = [(d, str(saved[d]), v) for d, v in flavor.library_versions().items() if d in saved]
    saved_py = str(section.get("python_version") or "")
    now_py = platform.python_version()
    if saved_py and saved_py.split(".")[:2] != now_py.split(".")[:2]:
        pairs.append(("Python", saved_py, now_py))
    for dist, old, new in pairs:
        if old == new:
            continue
        with _warned_lock:
            if (dist, old, new) in _warned:
                continue
            _warned.add((dist, old, new))
        warnings.warn(
            f"the model at {where} was saved with {dist} {old} and is loaded with {dist} {new};"
            f" it may fail to load or predict differently. Re-save it with {dist} {new}, or load"
            f" it where {dist} {old} is installed",
            ModelVersionWarning,
            stacklevel=4,
        )


def load_dir(
    model_dir: Path, where: str, wanted: str | None, trust_unverified: bool = False
) -> Any:
    """Verify and load the model directory `model_dir` (`where` names it in messages).

    `trust_unverified`: load a model without autolog's file hashes (one MLflow saved)
    without verifying it; a model with hashes is verified all the same.
    """
    with _downloads_lock:
        downloaded = model_dir in _downloads
        _downloads.discard(model_dir)
    try:
        mlmodel = read_mlmodel(model_dir)
        flavors = mlmodel["flavors"]
        native = _native_flavor(flavors, where, wanted)
        if not (trust_unverified and not has_hashes(mlmodel)):
            verify(model_dir, mlmodel, where)
        _warn_versions(mlmodel, native, where)
        model = native.load(model_dir, dict(flavors.get(native.name) or {}))
        if wanted != "python_function":
            return model
        info = ModelInfo.from_mlmodel(mlmodel, where)
        example = None
        if info.saved_input_example_info:
            rel = info.saved_input_example_info.get("artifact_path", EXAMPLE_FILE)
            example = model_file(model_dir, rel).read_bytes()
        return PyFuncModel(model, native, info, example)
    finally:
        if downloaded:
            shutil.rmtree(model_dir, ignore_errors=True)
