"""Keeping the user's random streams where the user's program would have them.

autolog never draws from a stream the user owns: its own randomness (run names,
ids, retry jitter) comes from `secrets`, `uuid4` or a `random.SystemRandom`, and
the rows it samples are evenly spaced. What remains is the user's code that autolog
runs for its own purposes (a training metric's `predict`, XGBoost's `get_params()`,
which draws a seed from a `RandomState` param, inferring a model's output schema).
Two context managers keep that code off the user's streams:

- `set_aside(model)`: a generator the user handed to the model
  (`random_state=np.random.RandomState(7)`) is replaced by a copy in each place
  that holds it (the model and the estimators it is made of) and put back afterwards.
  The training call itself runs between our hooks, with the user's generator in place.
- `private_numpy_global()`: numpy's global generator, as scikit-learn reaches it for
  `random_state=None`, is replaced by a private one.
"""

from __future__ import annotations

import copy
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["private_numpy_global", "set_aside"]

# Nesting deep enough for a search over a pipeline of a column transformer's steps.
_MAX_DEPTH = 4
# Longer lists are fitted collections (a forest's trees), whose generators are the
# estimator's own copies or integers, never the user's.
_MAX_ITEMS = 64
_PLAIN = (str, int, float, bool, type(None))


@contextmanager
def set_aside(model: Any) -> Iterator[None]:
    """Run the body with copies in place of the numpy generators `model` holds."""
    numpy = sys.modules.get("numpy")
    if model is None or numpy is None:  # numpy not imported: no numpy generator exists
        yield
        return
    kinds = (numpy.random.RandomState, numpy.random.Generator)
    found: list[tuple[Any, str, Any]] = []
    _collect(model, kinds, found, set(), 0)
    if not found:
        yield
        return
    copies: dict[int, Any] = {}  # one copy per generator: objects that shared one still do
    for owner, name, generator in found:
        if id(generator) not in copies:
            copies[id(generator)] = copy.deepcopy(generator)
        setattr(owner, name, copies[id(generator)])
    try:
        yield
    finally:
        for owner, name, generator in found:
            setattr(owner, name, generator)


def _collect(
    obj: Any, kinds: tuple[type, ...], found: list[tuple[Any, str, Any]], seen: set[int], depth: int
) -> None:
    """Append (owner, attribute, generator) for each generator `obj` and its parts hold."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    try:
        attributes = vars(obj)
    except TypeError:  # no __dict__: nothing a model would keep a generator in
        return
    for name, value in list(attributes.items()):
        if isinstance(value, _PLAIN):  # most params: skipped before the costlier checks
            continue
        if isinstance(value, kinds):
            found.append((obj, name, value))
        elif depth < _MAX_DEPTH and not name.endswith("_"):  # fitted attributes end in "_"
            for part in _parts(value):
                _collect(part, kinds, found, seen, depth + 1)


def _is_estimator(value: Any) -> bool:
    return hasattr(value, "get_params") and not isinstance(value, type)


def _parts(value: Any) -> list[Any]:
    """The estimators in an attribute: itself, or those in a list of steps or estimators."""
    if _is_estimator(value):
        return [value]
    if isinstance(value, (list, tuple)) and len(value) <= _MAX_ITEMS:
        parts: list[Any] = []
        for item in value:
            items = item if isinstance(item, tuple) else (item,)  # ("name", estimator, ...)
            parts.extend(v for v in items if _is_estimator(v))
        return parts
    return []


class _NumpyGlobal:
    """Swaps numpy's global RandomState for a private one, counting nested users."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.saved: Any = None
        self.spare: Any = None

    def enter(self, numpy: Any) -> None:
        mtrand = numpy.random.mtrand
        with self.lock:
            if self.users == 0:
                if self.spare is None:
                    self.spare = numpy.random.RandomState()
                self.saved, mtrand._rand = mtrand._rand, self.spare
            self.users += 1

    def leave(self, numpy: Any) -> None:
        mtrand = numpy.random.mtrand
        with self.lock:
            self.users -= 1
            if self.users == 0:
                mtrand._rand, self.saved = self.saved, None


_numpy_global = _NumpyGlobal()


@contextmanager
def private_numpy_global() -> Iterator[None]:
    """Run the body with a private generator where numpy's global one is looked up.

    An estimator with `random_state=None` draws from numpy's global generator when
    it predicts (DummyClassifier's "stratified"): our extra predictions must not
    shift the user's random numbers. scikit-learn reaches that generator through
    `check_random_state(None)`, which reads `numpy.random.mtrand._rand` at each
    call; for the body, that name points at a private generator (saving and
    restoring the state instead costs 0.15 ms and would rewind the stream under
    other threads).
    """
    numpy = sys.modules.get("numpy")
    if numpy is None:
        yield
        return
    _numpy_global.enter(numpy)
    try:
        yield
    finally:
        _numpy_global.leave(numpy)
