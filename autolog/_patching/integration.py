"""The machinery every integration patches with.

- `Integration`: one per library, with a supported version range written once,
  `_patch()` / `_unpatch()` as mirror images, and `enable()` / `disable()` in
  the base class (idempotent). Patches attach when the library is imported
  (post-import hooks, `hooks.when_imported`), so enabling never imports the
  library, nor wrapt: wrapt (and the asyncio it imports) loads when the first
  patch is installed (`wrapper.AutologWrapper`).
- `Integration.wrap(owner, name, hooks)`: replaces `owner.name` with a wrapt
  `FunctionWrapper` and records what was there, so `disable()` restores the
  original object exactly (or removes the attribute the patch created).
- `autologged_call(...)`: the one wrapper every patch uses. Two cheap guards
  (integration off, already inside an autologged call, or a forked child)
  call straight through; otherwise the hooks run inside
  `capture_internal_errors()` and the original is called exactly once, outside
  any of our guards, its result and exceptions reaching the caller untouched.
- `Integration.wrap_with(owner, name, wrapper)`: the same bookkeeping for a
  wrapper that is not an autologged call (a hook on class creation, a worker
  pool carrying its caller's marker); `when_imported(module, patch)` patches a
  submodule the library does not import itself when it is imported.
- `marked(call)`: runs a block as inside an autologged call, so that patched
  functions called there (an integration's own `predict`, a worker thread's
  task) call straight through.

Run placement is in `placement`; the options and the switch in `enable`.
"""

from __future__ import annotations

import os
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from autolog._patching.distributions import check_version
from autolog._patching.enable import AutologOptions
from autolog._patching.hooks import when_imported
from autolog._randomness import set_aside
from autolog._safety import capture_internal_errors

__all__ = [
    "AutologWrapper",
    "CallHooks",
    "Integration",
    "current_call",
    "marked",
]

State = TypeVar("State")
_Arguments = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass
class Call:
    """One outermost autologged call in progress."""

    integration: str
    state: Any = None


# Set while an autologged call runs: nested calls (a Pipeline's steps, a search's
# candidates, a wrapper calling another patched function) see it and call through.
_current: ContextVar[Call | None] = ContextVar("autolog_call", default=None)


def current_call() -> Call | None:
    """The outermost autologged call this thread or task is inside, or None."""
    return _current.get()


@contextmanager
def marked(call: Call | None = None) -> Iterator[None]:
    """Run the body as inside the autologged call `call` (default: autolog's own work).

    Patched functions called in the body call straight through: an integration's
    hooks use it around their own calls into the library (a training metric's
    `predict`), and worker threads use it to carry their caller's marker.
    """
    token = _current.set(call if call is not None else Call("autolog"))
    try:
        yield
    finally:
        _current.reset(token)


@dataclass(frozen=True)
class CallHooks(Generic[State]):
    """What an integration does around one patched function.

    `before(instance, args, kwargs)` returns a state, or None to not log this call;
    `after(state, instance, result)` runs when the call returns; `failed(state, exc)`
    when it raises. All three run inside capture_internal_errors().

    Optional, for a library whose training takes callbacks (XGBoost):
    `arguments(state, args, kwargs)` returns the arguments to call the original with
    (for example with a callback added); `nested(outer_state, args, kwargs)` does the
    same when the function runs inside an autologged call of the same integration
    (XGBoost's sklearn wrapper calling `train`) instead of calling straight through.
    Both run inside capture_internal_errors(); on an error the call's own arguments
    are used. Neither may change the user's objects: return new containers.
    """

    before: Callable[[Any, tuple[Any, ...], dict[str, Any]], State | None]
    after: Callable[[State, Any, Any], None]
    failed: Callable[[State, BaseException], None] | None = None
    arguments: Callable[[State, tuple[Any, ...], dict[str, Any]], _Arguments] | None = None
    nested: Callable[[Any, tuple[Any, ...], dict[str, Any]], _Arguments] | None = None


if TYPE_CHECKING:
    from autolog._patching.wrapper import AutologWrapper


def __getattr__(name: str) -> Any:
    # `AutologWrapper` lives with wrapt in `wrapper`, imported on first use.
    if name == "AutologWrapper":
        from autolog._patching.wrapper import AutologWrapper

        return AutologWrapper
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class _Patch:
    owner: Any
    name: str
    original: Any
    created: bool


class Integration(ABC):
    """The patches of one library. Subclasses set the class variables and write `_patch`."""

    name: ClassVar[str]
    module: ClassVar[str]  # the import name, e.g. "sklearn"
    distribution: ClassVar[str]  # the PyPI name, e.g. "scikit-learn"
    min_version: ClassVar[str]  # supported: min_version <= v < max_version
    max_version: ClassVar[str]
    extra: ClassVar[str]  # the autolog extra that installs the library

    def __init__(self) -> None:
        self.enabled = False
        self.options = AutologOptions()
        self._patches: list[_Patch] = []
        self._hook_registered = False
        self._pid = os.getpid()
        self._lock = threading.RLock()
        # Patches of submodules imported after the library (see when_imported).
        self._deferred: dict[str, Callable[[ModuleType], None]] = {}
        self._deferred_hooked: set[str] = set()
        self._deferred_done: set[str] = set()

    # -- the public switch -----------------------------------------------------------------

    def check_version(self) -> str:
        """Return the installed version, or raise IntegrationNotEnabled saying why not."""
        return check_version(self.name, self)

    def enable(self, options: AutologOptions | None = None) -> None:
        """Patch the library now if it is imported, else as soon as it is; idempotent."""
        with self._lock:
            self.check_version()
            if options is not None:
                self.options = options
            self._pid = os.getpid()
            self.enabled = True
            if not self._hook_registered:
                self._hook_registered = True
                # Called at once if the module is already imported.
                when_imported(self.module, self._on_import)
            elif self.module in sys.modules and not self._patches:
                self._on_import(sys.modules[self.module])

    def disable(self) -> None:
        """Restore every original function; idempotent."""
        with self._lock:
            self.enabled = False
            self._unpatch()

    def _on_import(self, module: ModuleType) -> None:
        with self._lock:
            if not self.enabled or self._patches:
                return
            with capture_internal_errors(f"patching {self.name}"):
                self._patch(module)

    @abstractmethod
    def _patch(self, module: ModuleType) -> None:
        """Install the wrappers (the library is imported)."""

    def _unpatch(self) -> None:
        """Remove every wrapper `_patch` installed, newest first."""
        self._deferred.clear()
        self._deferred_done.clear()
        while self._patches:
            patch = self._patches.pop()
            if patch.created:
                if patch.name in vars(patch.owner):
                    delattr(patch.owner, patch.name)
            else:
                setattr(patch.owner, patch.name, patch.original)

    # -- helpers for _patch ----------------------------------------------------------------

    def wrap(
        self,
        owner: Any,
        name: str,
        hooks: CallHooks[Any],
        *,
        aliases: Iterable[tuple[Any, str]] = (),
    ) -> None:
        """Wrap `owner.name` (a class or module attribute) with `hooks`; record the original.

        `aliases` are other (owner, name) places bound to the same object, such as a
        function a package re-exports; those still bound to it get the same wrapper.
        """
        self.wrap_with(owner, name, self._wrapper(hooks), aliases=aliases)

    def wrap_with(
        self,
        owner: Any,
        name: str,
        wrapper: Callable[..., Any],
        *,
        aliases: Iterable[tuple[Any, str]] = (),
    ) -> None:
        """Wrap `owner.name` with a wrapt wrapper function of the integration's own.

        For patches that are not autologged calls (a hook on class creation, a worker
        pool carrying the caller's marker); recorded and restored like `wrap()`.
        """
        from autolog._patching.wrapper import AutologWrapper

        created = name not in vars(owner)
        original = vars(owner)[name] if not created else getattr(owner, name)
        if isinstance(original, AutologWrapper):
            return  # already ours (a class patched through two paths)
        installed = AutologWrapper(original, wrapper)
        self._patches.append(_Patch(owner, name, original, created))
        setattr(owner, name, installed)
        for alias_owner, alias in aliases:
            if vars(alias_owner).get(alias) is original:
                self._patches.append(_Patch(alias_owner, alias, original, False))
                setattr(alias_owner, alias, installed)

    def when_imported(self, module: str, patch: Callable[[ModuleType], None]) -> None:
        """Call `patch(module)` once `module` is imported (now if it is), while enabled.

        For submodules the library does not import itself (`sklearn.metrics`), so
        that enabling imports nothing. Call it from `_patch`; what `patch` wraps is
        undone by `disable()`, and the next `enable()` patches again.
        """
        self._deferred[module] = patch
        if module not in self._deferred_hooked:
            # Hooks cannot be removed: one per module, gated by _deferred.
            self._deferred_hooked.add(module)
            when_imported(module, lambda mod: self._on_deferred_import(module, mod))
        elif module in sys.modules:
            self._on_deferred_import(module, sys.modules[module])

    def _on_deferred_import(self, name: str, module: ModuleType) -> None:
        with self._lock:
            patch = self._deferred.get(name)
            if not self.enabled or patch is None or name in self._deferred_done:
                return
            self._deferred_done.add(name)
            with capture_internal_errors(f"patching {name}"):
                patch(module)

    def _wrapper(self, hooks: CallHooks[Any]) -> Callable[..., Any]:
        integration = self

        def autologged_call(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            outer = _current.get()
            if not integration.enabled or os.getpid() != integration._pid:
                return wrapped(*args, **kwargs)
            if outer is not None:
                if hooks.nested is not None and outer.integration == integration.name:
                    with capture_internal_errors(f"{integration.name}: nested {wrapped.__name__}"):
                        args, kwargs = hooks.nested(outer.state, args, kwargs)
                return wrapped(*args, **kwargs)
            call = Call(integration.name)
            with (
                capture_internal_errors(f"{integration.name}: before {wrapped.__name__}"),
                set_aside(instance),
            ):
                call.state = hooks.before(instance, args, kwargs)
            if call.state is None:
                return wrapped(*args, **kwargs)
            if hooks.arguments is not None:
                with capture_internal_errors(f"{integration.name}: {wrapped.__name__} arguments"):
                    args, kwargs = hooks.arguments(call.state, args, kwargs)
            token = _current.set(call)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                _current.reset(token)
                if hooks.failed is not None:
                    with capture_internal_errors(f"{integration.name}: recording a failure"):
                        hooks.failed(call.state, exc)
                raise
            _current.reset(token)
            with (
                capture_internal_errors(f"{integration.name}: after {wrapped.__name__}"),
                set_aside(instance),
            ):
                hooks.after(call.state, instance, result)
            return result

        return autologged_call
