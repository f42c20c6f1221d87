"""Storage backends, one module per kind of store, chosen by tracking-URI scheme.

The contract every backend implements is in `autolog.backends.base`. This module
is the scheme registry: built-in schemes map to modules imported on first use,
so choosing one imports only it; others come from the `autolog.backends` entry
point group or from `register_backend()`. `object_store_for_uri` does the same
for URIs that name a directory of objects (`load_model("s3://...")`).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable

from autolog.backends._objects import ObjectStore
from autolog.backends.base import Backend
from autolog.errors import UnknownSchemeError

__all__ = [
    "DEFAULT_URI",
    "BackendFactory",
    "backend_for_uri",
    "default_tracking_uri",
    "known_schemes",
    "object_store_for_uri",
    "register_backend",
]

DEFAULT_URI = "./autolog-runs"

BackendFactory = Callable[[str], Backend]

# Built-in schemes point at modules so that choosing one imports only it.
_BUILTIN: dict[str, str] = {
    "file": "autolog.backends.file:from_uri",
    "http": "autolog.backends.http:from_uri",
    "https": "autolog.backends.http:from_uri",
    "memory": "autolog.backends.memory:from_uri",
    "s3": "autolog.backends.s3:from_uri",
}
# Schemes whose URIs name a directory in an object store, by the same rule.
_OBJECT_STORES: dict[str, str] = {"s3": "autolog.backends.s3:store_from_uri"}
_registered: dict[str, BackendFactory] = {}
_lock = threading.Lock()
_entry_points_loaded = False


def register_backend(scheme: str, factory: BackendFactory) -> None:
    """Make `scheme://...` URIs build their backend with `factory(uri)`."""
    with _lock:
        _registered[scheme.lower()] = factory


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="autolog.backends"):
        _registered.setdefault(ep.name.lower(), ep.load())


def _scheme(uri: str) -> str:
    head, sep, _ = uri.partition(":")
    # A Windows drive letter or a plain path has no scheme worth the name.
    if not sep or len(head) <= 1 or "/" in head or "\\" in head or head.startswith("."):
        return "file"
    return head.lower()


def known_schemes() -> list[str]:
    """Every scheme a backend is known for: built in, registered or from entry points."""
    _load_entry_points()
    return sorted(set(_BUILTIN) | set(_registered))


def backend_for_uri(uri: str) -> Backend:
    """Build the backend for a tracking URI; raise UnknownSchemeError listing known schemes."""
    scheme = _scheme(uri)
    factory = _registered.get(scheme)
    if factory is None and scheme in _BUILTIN:
        module, _, attr = _BUILTIN[scheme].partition(":")
        factory = getattr(importlib.import_module(module), attr)
    if factory is None:
        _load_entry_points()
        factory = _registered.get(scheme)
    if factory is None:
        raise UnknownSchemeError(
            f"tracking URI {uri!r} has scheme {scheme!r}, which no backend handles; known"
            f" schemes: {', '.join(known_schemes())}. Use a path such as './autolog-runs' or"
            " install the package that provides the backend"
        )
    return factory(uri)


def object_store_for_uri(uri: str) -> ObjectStore | None:
    """The object store rooted at the directory `uri` names, as `s3://bucket/path/to/dir`.

    None when no object store handles the URI's scheme (a plain path, `file:`, ...).
    Bad URIs raise InvalidValueError; the caller closes the store.
    """
    target = _OBJECT_STORES.get(_scheme(uri))
    if target is None:
        return None
    module, _, attr = target.partition(":")
    factory: Callable[[str], ObjectStore] = getattr(importlib.import_module(module), attr)
    return factory(uri)


def default_tracking_uri() -> str:
    """The tracking URI when none is set: `AUTOLOG_TRACKING_URI`, else ./autolog-runs."""
    return os.environ.get("AUTOLOG_TRACKING_URI") or DEFAULT_URI
