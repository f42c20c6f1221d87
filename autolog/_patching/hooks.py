"""Post-import hooks: call a function with a module once it is imported.

`when_imported(name, hook)` calls `hook(module)` at once if `name` is in
`sys.modules`, else right after the module's code has run, the first time it is
imported. It does what wrapt's `register_post_import_hook` does (a finder first
on `sys.meta_path` that chains the real loader), written here because importing
wrapt imports asyncio: enabling autologging must cost next to nothing, and wrapt
is imported only when a library is patched (see `integration`).

The finder answers only for module names with a hook waiting, and only the
first time; the module's `__loader__` and `__spec__.loader` are set back to the
real loader before its code runs, so the library never sees the chained one.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from importlib.util import find_spec
from types import ModuleType
from typing import Any

__all__ = ["when_imported"]

Hook = Callable[[ModuleType], None]

_lock = threading.RLock()
_waiting: dict[str, list[Hook]] = {}
_finding: set[str] = set()  # names whose spec this finder is looking up (no recursion)
_installed: list[_Finder] = []


def when_imported(name: str, hook: Hook) -> None:
    """Call `hook(module)` once module `name` is imported: now if it already is."""
    with _lock:
        module = sys.modules.get(name)
        if module is None:
            _waiting.setdefault(name, []).append(hook)
            if not _installed:
                _installed.append(_Finder())
                sys.meta_path.insert(0, _installed[0])
    if module is not None:
        hook(module)


def _loaded(name: str, module: ModuleType) -> None:
    with _lock:
        hooks = _waiting.pop(name, [])
    for hook in hooks:
        hook(module)


class _Finder:
    """Finds nothing itself: chains the loader of a module that has hooks waiting."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        with _lock:
            if fullname not in _waiting or fullname in _finding:
                return None
            _finding.add(fullname)
        try:
            spec = find_spec(fullname)  # the finders after this one, as the import would
        finally:
            with _lock:
                _finding.discard(fullname)
        loader = getattr(spec, "loader", None)
        # A loader without exec_module (long deprecated) is left alone: no hook then.
        if hasattr(loader, "exec_module") and not isinstance(loader, _Loader):
            spec.loader = _Loader(loader)  # type: ignore[union-attr]
        return spec


class _Loader:
    """The real loader, then the module's hooks."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:  # anything else the machinery asks the loader
        return getattr(self._loader, name)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create: Callable[[ModuleSpec], ModuleType | None] | None = getattr(
            self._loader, "create_module", None
        )
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        self._loader.exec_module(module)
        # A module may put another object in its place in sys.modules.
        name = module.__name__
        _loaded(name, sys.modules.get(name, module))
