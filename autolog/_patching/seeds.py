"""What a fit's randomness depended on: seeds fixed or left to chance, RNG states, BLAS threads.

Recorded, never forced: everything here only reads. It never draws from, reseeds or
replaces numpy's global `RandomState`, Python's `random` or a generator the user
passed in (`get_state()` / `getstate()` return copies and leave the stream where it
was). ClearML seeds every run with 1337; autolog records what the program did instead.

The tags a fit gets (`fit_tags`):

    autolog.seed.fixed           params holding an int seed: "random_state=0, svc__random_state=3"
    autolog.seed.unseeded        params left to chance: "random_state=None (numpy global)"
                                 present only when there is one; `autolog show` warns about it
    autolog.seed.numpy           fingerprint of numpy's global RandomState at the start of the fit
    autolog.seed.python          fingerprint of Python's `random` state at the start of the fit
                                 (these two when the fit may draw from them: not for a fit of
                                 scikit-learn's code alone with every random_state fixed or
                                 unread, see `_sklearn_only`)
    autolog.seed.pythonhashseed  PYTHONHASHSEED, or "unset" (str hashes, set order vary per run)
    autolog.env.<NAME>           thread and device settings that change floating-point results
    autolog.blas.library         BLAS libraries in use (threadpoolctl): "openblas 0.3.30 pthreads"
    autolog.blas.threads         BLAS thread count; autolog.openmp.threads: OpenMP's
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import threading
from array import array
from collections.abc import Iterable, Mapping
from typing import Any

from autolog import _tags
from autolog._patching.fingerprint import hash_keeping_gil

__all__ = [
    "ENV_SETTINGS",
    "UNSEEDED_TAG",
    "blas_tags",
    "fit_tags",
    "rng_fingerprints",
    "seed_params",
    "xgboost_seed_params",
]

UNSEEDED_TAG = _tags.SEED_UNSEEDED
FIXED_TAG = _tags.SEED_FIXED

#: Environment settings that change a run's numbers; recorded as `autolog.env.<NAME>` when set.
ENV_SETTINGS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "MKL_CBWR",
    "CUDA_VISIBLE_DEVICES",
    "CUBLAS_WORKSPACE_CONFIG",
)

_MAX_TAG = 1000

# Estimators whose random_state is read only in some settings: a None there is no chance
# taken, and warning about it (Ridge, LogisticRegression's default solver) would be noise.
# Class name -> (the param that decides, the values for which random_state is used).
_USED_ONLY_WHEN: dict[str, tuple[str, frozenset[Any]]] = {
    "Ridge": ("solver", frozenset({"sag", "saga"})),
    "RidgeClassifier": ("solver", frozenset({"sag", "saga"})),
    "Lasso": ("selection", frozenset({"random"})),
    "ElasticNet": ("selection", frozenset({"random"})),
    "MultiTaskLasso": ("selection", frozenset({"random"})),
    "MultiTaskElasticNet": ("selection", frozenset({"random"})),
    "LogisticRegression": ("solver", frozenset({"liblinear", "sag", "saga"})),
    "SVC": ("probability", frozenset({True})),
    "NuSVC": ("probability", frozenset({True})),
}


def seed_params(
    params: Mapping[str, Any], owner: Any = None, *, library: str = "sklearn"
) -> tuple[list[str], list[str]]:
    """Split the seed params of a fit into (fixed, left to chance), each as "name=value".

    `params` are the estimator's raw params (`get_params(deep=True)` for scikit-learn,
    the booster params or `get_params()` for XGBoost); `owner` is the estimator, used
    to tell whether a param is read at all. XGBoost seeds with 0 when none is given,
    so a missing or None seed is fixed there.
    """
    fixed: list[str] = []
    chance: list[str] = []
    if library == "xgboost":
        names = [k for k in ("seed", "random_state") if k in params]
        given = [k for k in names if params[k] is not None]
        if not given:
            fixed.append("seed=0 (xgboost default)")
        for key in given:
            _classify(key, params[key], fixed, chance)
        return fixed, chance
    for key, value in params.items():
        if not key.endswith("random_state") or not _is_read(key, params, owner):
            continue
        _classify(key, value, fixed, chance)
    return fixed, chance


def xgboost_seed_params(model: Any) -> dict[str, Any]:
    """The seed params of an XGBoost scikit-learn model, read without `get_params()`.

    XGBoost's `get_params()` turns a RandomState `random_state` into an int by drawing
    from it: calling it would move the user's stream.
    """
    found = {"random_state": getattr(model, "random_state", None)}
    extra = getattr(model, "kwargs", None)
    if isinstance(extra, Mapping) and "seed" in extra:
        found["seed"] = extra["seed"]
    return found


def _classify(key: str, value: Any, fixed: list[str], chance: list[str]) -> None:
    if value is None:
        chance.append(f"{key}=None (numpy global RandomState)")
        return
    numpy_int = type(value).__module__ == "numpy" and hasattr(value, "__index__")
    if isinstance(value, int) or numpy_int:
        fixed.append(f"{key}={int(value)}")
        return
    state = _generator_state(value)
    kind = type(value).__name__
    if state is not None:
        chance.append(f"{key}={kind} (state {state})")
    else:
        chance.append(f"{key}={kind}")


def _is_read(key: str, params: Mapping[str, Any], owner: Any) -> bool:
    prefix = key[: -len("random_state")]
    holder = params.get(prefix[:-2]) if prefix.endswith("__") else owner if not prefix else None
    rule = _USED_ONLY_WHEN.get(type(holder).__name__) if holder is not None else None
    if rule is None:
        return True
    name, values = rule
    setting = params.get(f"{prefix}{name}", getattr(holder, name, None))
    try:
        return setting in values
    except TypeError:  # an unhashable setting: assume the seed is read
        return True


def _generator_state(value: Any) -> str | None:
    """A fingerprint of a RandomState's or Generator's state; reading it leaves it as it is."""
    get_state = getattr(value, "get_state", None)
    if callable(get_state):
        return _digest(repr(_plain(get_state())))
    bit_generator = getattr(value, "bit_generator", None)
    if bit_generator is not None:
        return _digest(repr(_plain(bit_generator.state)))
    return None


def _plain(value: Any) -> Any:
    # numpy arrays' repr elides the middle of long arrays; their bytes do not.
    if hasattr(value, "tobytes"):
        digest = hashlib.sha256()
        hash_keeping_gil(digest, value.tobytes())
        return digest.hexdigest()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _digest(text: str | bytes) -> str:
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    digest = hashlib.sha256()
    hash_keeping_gil(digest, data)  # 5 KB of state, hashed at every fit
    return digest.hexdigest()[:16]


def rng_fingerprints() -> dict[str, str]:
    """Fingerprints of numpy's global RandomState (if numpy is loaded) and of `random`'s state."""
    version, words, gauss = random.getstate()
    tags = {
        _tags.SEED_PYTHON: _digest(array("Q", words).tobytes() + repr((version, gauss)).encode())
    }
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        # np.random.get_state() returns a copy; the global generator does not move.
        tags[_tags.SEED_NUMPY] = _digest(repr(_plain(numpy_random.get_state())))
    return tags


class _Blas:
    """threadpoolctl's view of the loaded BLAS and OpenMP libraries, refreshed when modules load.

    Finding the libraries takes a few milliseconds; reading their thread counts, tens of
    microseconds. The libraries change only when something new is imported, so the search
    is redone only when `sys.modules` has grown since the last one.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.controller: Any = None
        self.modules_seen = -1
        self.missing = False

    def info(self) -> list[dict[str, Any]]:
        if self.missing:
            return []
        with self.lock:
            if self.controller is None or len(sys.modules) != self.modules_seen:
                try:
                    from threadpoolctl import ThreadpoolController
                except ImportError:
                    self.missing = True
                    return []
                self.modules_seen = len(sys.modules)
                self.controller = ThreadpoolController()
            return list(self.controller.info())


_blas = _Blas()


def blas_tags() -> dict[str, str]:
    """The BLAS libraries and the BLAS and OpenMP thread counts (none without threadpoolctl)."""
    found = _blas.info()
    libraries: list[str] = []
    threads: dict[str, int] = {}
    for entry in found:
        api = str(entry.get("user_api"))
        count = entry.get("num_threads")
        if isinstance(count, int):
            threads[api] = max(threads.get(api, 0), count)
        if api == "blas":
            parts = [entry.get("internal_api"), entry.get("version"), entry.get("threading_layer")]
            name = " ".join(str(p) for p in parts if p)
            if name not in libraries:
                libraries.append(name)
    tags: dict[str, str] = {}
    if libraries:
        tags[_tags.BLAS_LIBRARY] = "; ".join(sorted(libraries))[:_MAX_TAG]
    if "blas" in threads:
        tags[_tags.BLAS_THREADS] = str(threads["blas"])
    if "openmp" in threads:
        tags[_tags.OPENMP_THREADS] = str(threads["openmp"])
    return tags


def _sklearn_only(params: Mapping[str, Any], owner: Any) -> bool:
    """Whether the fit runs scikit-learn's code alone: the estimator and every estimator or
    callable among its params are scikit-learn's own.

    scikit-learn's estimators draw randomness only through their `random_state` params. With
    every one fixed or unread, numpy's global stream and Python's `random` cannot change the
    result, and their fingerprints (0.1 ms to read) would only be noise in `autolog compare`.
    A user's estimator or function (a FunctionTransformer's, a scorer, a kernel) may draw
    from them: those fits keep the fingerprints.
    """
    if owner is None or not type(owner).__module__.startswith("sklearn."):
        return False
    try:
        for value in params.values():
            if callable(value) or hasattr(value, "get_params"):
                module = getattr(value, "__module__", None)  # a function's, a class's
                if not isinstance(module, str) or not module.startswith("sklearn."):
                    return False
    except Exception:  # noqa: BLE001 - a param of the user's whose attributes raise
        return False
    return True


def fit_tags(
    params: Mapping[str, Any] | Iterable[tuple[Any, Any]] | None,
    owner: Any = None,
    *,
    library: str = "sklearn",
) -> dict[str, str]:
    """The `autolog.seed.*`, `autolog.env.*` and BLAS tags of a fit about to start."""
    pairs = params if isinstance(params, Mapping) else dict(params or ())
    fixed, chance = seed_params(pairs, owner, library=library)
    may_draw = chance or library != "sklearn" or not _sklearn_only(pairs, owner)
    tags = rng_fingerprints() if may_draw else {}
    if fixed:
        tags[FIXED_TAG] = ", ".join(fixed)[:_MAX_TAG]
    if chance:
        tags[UNSEEDED_TAG] = ", ".join(chance)[:_MAX_TAG]
    tags[_tags.SEED_PYTHONHASHSEED] = os.environ.get("PYTHONHASHSEED") or "unset"
    for name in ENV_SETTINGS:
        value = os.environ.get(name)
        if value:
            tags[_tags.ENV_PREFIX + name] = value[:_MAX_TAG]
    tags.update(blas_tags())
    return tags
