"""Flavors: how each kind of model is recognized, written to files and read back.

A `Flavor` turns a model object into named files plus its section of the
MLmodel file (`save`), and a model directory back into the object (`load`).
autolog ships `sklearn` and `xgboost`; `register_flavor()` adds more. Detection
asks the registered flavors first (newest first), then the built-in ones, so a
registered flavor can take over a kind of model.

A flavor never imports its library to answer `matches()`: a model of a library
can only exist once the library is imported, so `sys.modules` is enough, and
`import autolog` imports neither scikit-learn nor XGBoost.
"""

from __future__ import annotations

import importlib
import re
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from autolog.errors import InvalidKeyError, InvalidValueError, ModelIntegrityError

__all__ = [
    "Flavor",
    "SavedFlavor",
    "detect",
    "distributions_of",
    "get_flavor",
    "known_flavors",
    "model_file",
    "register_flavor",
    "unregister_flavor",
]

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_RESERVED_NAMES = frozenset({"python_function", "autolog"})


@dataclass
class SavedFlavor:
    """What `Flavor.save` produced.

    Attributes:
        files: relative path to content of each file the flavor writes.
        conf: the flavor's section of the MLmodel file (MLflow reads it for known flavors).
        pyfunc: the `python_function` keys (`loader_module`, and `model_path` or `data`),
            or None when the model cannot predict and so gets no python_function flavor.
    """

    files: dict[str, bytes]
    conf: dict[str, Any]
    pyfunc: dict[str, Any] | None = field(default=None)


class Flavor(ABC):
    """How one kind of model is detected, written and read back.

    Subclass it, set `name`, `libraries` and `formats`, implement `matches`, `save`
    and `load`, and pass an instance to `autolog.register_flavor()`.
    """

    #: The flavor's key in the MLmodel file, e.g. "lightgbm".
    name: ClassVar[str]
    #: Distribution name to import name of the libraries whose versions are recorded at
    #: save time and compared at load time, e.g. {"scikit-learn": "sklearn"}.
    libraries: ClassVar[Mapping[str, str]] = {}
    #: The serialization formats `save` accepts; the first is the default.
    formats: ClassVar[tuple[str, ...]] = ("default",)

    @abstractmethod
    def matches(self, model: object) -> bool:
        """Whether this flavor handles `model` (cheap; must not import the library)."""

    @abstractmethod
    def save(self, model: object, format: str) -> SavedFlavor:
        """Serialize `model` in the calling thread: it may change as soon as this returns."""

    @abstractmethod
    def load(self, model_dir: Path, conf: Mapping[str, Any]) -> Any:
        """Read the model back from a verified directory; `conf` is this flavor's section.

        Read everything into memory: the directory may be a temporary copy that is
        deleted as soon as this returns.
        """

    def predict(self, model: Any, data: Any) -> Any:
        """What the python_function flavor's `predict(data)` calls."""
        return model.predict(data)

    def model_libraries(self, model: object) -> dict[str, str]:
        """Distribution to import name of further libraries loading `model` needs.

        Beyond `libraries`: the ones this particular model's objects come from (a
        Pipeline step of another library). Listed in the model's requirements.
        """
        return {}

    def library_versions(self) -> dict[str, str]:
        """The installed version of each of `libraries` (importing them)."""
        out: dict[str, str] = {}
        for dist, module_name in self.libraries.items():
            module = sys.modules.get(module_name) or importlib.import_module(module_name)
            out[dist] = str(getattr(module, "__version__", "unknown"))
        return out


_registered: dict[str, Flavor] = {}
_lock = threading.Lock()


def _builtins() -> list[Flavor]:
    from autolog._models._sklearn import SklearnFlavor
    from autolog._models._xgboost import XGBoostFlavor

    # XGBoost's scikit-learn classes are also scikit-learn estimators: ask XGBoost first.
    return [XGBoostFlavor(), SklearnFlavor()]


_builtin_cache: list[Flavor] = []


def _all() -> list[Flavor]:
    with _lock:
        if not _builtin_cache:
            _builtin_cache.extend(_builtins())
        mine = list(reversed(_registered.values()))
    taken = {f.name for f in mine}
    return mine + [f for f in _builtin_cache if f.name not in taken]


def register_flavor(flavor: Flavor, *, replace: bool = False) -> None:
    """Make `log_model` recognize, and `load_model` read, another kind of model.

    `flavor` is an instance of a `Flavor` subclass. A name already registered (or a
    built-in one, "sklearn" or "xgboost") is an error unless `replace=True`, which lets
    the new flavor take over that name.
    """
    if not isinstance(flavor, Flavor):
        raise InvalidValueError(
            f"register_flavor takes an instance of autolog.Flavor, got {type(flavor).__name__};"
            " subclass autolog.Flavor and pass MyFlavor()"
        )
    name = getattr(flavor, "name", None)
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in _RESERVED_NAMES:
        raise InvalidKeyError(
            f"flavor name {name!r} is not allowed; use lowercase letters, digits and '_'"
            f" (starting with a letter), other than {sorted(_RESERVED_NAMES)}"
        )
    if not flavor.formats or not all(isinstance(f, str) for f in flavor.formats):
        raise InvalidValueError(
            f"flavor {name!r} has formats {flavor.formats!r}; expected a tuple of str, the"
            " default first"
        )
    if name in {f.name for f in _all()} and not replace:
        raise InvalidValueError(
            f"a flavor named {name!r} is already registered; pass replace=True to take it over"
        )
    with _lock:
        _registered.pop(name, None)
        _registered[name] = flavor


def unregister_flavor(name: str) -> None:
    """Forget a flavor added by `register_flavor` (built-in flavors come back if replaced)."""
    with _lock:
        if _registered.pop(name, None) is None:
            raise InvalidValueError(
                f"no flavor named {name!r} was registered; registered: {sorted(_registered)}"
            )


def known_flavors() -> list[str]:
    """The names of every flavor autolog can write and read."""
    return sorted(f.name for f in _all())


def get_flavor(name: str) -> Flavor | None:
    for flavor in _all():
        if flavor.name == name:
            return flavor
    return None


def detect(model: object) -> Flavor:
    """The flavor that handles `model`; raise InvalidValueError naming the known ones."""
    for flavor in _all():
        if flavor.matches(model):
            return flavor
    cls = type(model)
    raise InvalidValueError(
        f"cannot log a {cls.__module__}.{cls.__qualname__}: no flavor handles it. autolog logs"
        f" {', '.join(known_flavors())} models; for another library, subclass autolog.Flavor and"
        " call autolog.register_flavor() (see docs/models.md)"
    )


def model_file(model_dir: Path, rel: object) -> Path:
    """`model_dir/rel`, refusing a name from the MLmodel that points outside the directory."""
    path = (model_dir / str(rel)).resolve()
    if not isinstance(rel, str) or not rel or not path.is_relative_to(model_dir.resolve()):
        raise ModelIntegrityError(
            f"the MLmodel in {str(model_dir)!r} names the model file {rel!r}, which is not a file"
            " inside the model directory; the model may have been modified"
        )
    return path


def class_path(cls: type) -> str:
    """`module.QualName` of a class, as MLflow records model classes."""
    return f"{cls.__module__}.{cls.__qualname__}"


def import_class(path: str) -> type:
    """The class named by `class_path`; nested classes and dotted modules both resolve."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        if isinstance(obj, type):
            return obj
        break
    raise InvalidValueError(
        f"cannot import the model class {path!r}; install the package that defines it, or"
        " make the module that defines it importable"
    )


# Top-level modules whose distribution a model directory never lists: the standard
# library's, autolog's own (listed as autolog-ml), and code not installed by pip.
_NOT_DISTRIBUTED = frozenset({"builtins", "__main__", "autolog"})
# Import names whose distribution is named otherwise (the others are looked up as named).
_DISTRIBUTION_OF = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "yaml": "PyYAML",
    "imblearn": "imbalanced-learn",
    "category_encoders": "category-encoders",
}
_distributions: dict[str, str | None] = {}


def distributions_of(modules: set[str]) -> dict[str, str]:
    """Distribution name to top-level import name of the installed packages holding `modules`.

    A module is looked up by its top-level name as a distribution name (or by
    `_DISTRIBUTION_OF`), which costs well under a millisecond, not by reading
    every installed distribution's file list (seconds where many are installed).
    A module of the standard library, of the user's own code, of autolog, or of
    a distribution named otherwise gives nothing.
    """
    tops = {m.partition(".")[0] for m in modules} - _NOT_DISTRIBUTED
    tops = {t for t in tops if t not in sys.stdlib_module_names}
    if not tops:
        return {}
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for top in sorted(tops):
        if top not in _distributions:
            found = None
            for name in dict.fromkeys((_DISTRIBUTION_OF.get(top, top), top.replace("_", "-"))):
                try:
                    version(name)
                except PackageNotFoundError:
                    continue
                found = name
                break
            _distributions[top] = found
        dist = _distributions[top]
        if dist is not None:
            out[dist] = top
    return out
