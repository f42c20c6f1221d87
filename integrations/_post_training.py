"""Metrics computed after training, on other data, logged on the model's run.

After an autologged fit the estimator is remembered, weakly, with its run. What
it predicts (`predict`, `predict_proba`, `predict_log_proba`,
`decision_function`, and what `fit_predict` returned) is remembered too, by
identity: a dict from `id(prediction)` to the run and the name of the data it
was predicted from, each entry holding a weak reference to the prediction that
drops the entry when the prediction is freed, so an id reused by a new object
never finds a stale entry. Nothing is kept alive; at most `MAX_PREDICTIONS`
entries are held, the oldest dropped first.

A scoring function of `sklearn.metrics` called with a remembered prediction is
logged on that prediction's run as `<function>_<data>` (`accuracy_score_X_test`);
`estimator.score(X, y)` of a remembered estimator as `<Class>_score_<data>`.
The data's name is the caller's variable holding it (found in the caller's
frame by identity), else "data". A key already logged on the run gets a counter:
`accuracy_score_X_test-2`, `-3`, ...

The scoring functions are patched by `METRIC_FUNCTIONS`, an integration of its
own that every integration remembering models attaches to while it is on
(scikit-learn's and XGBoost's): the metrics of an XGBoost model do not depend on
the scikit-learn integration being enabled, and disabling one integration leaves
them patched for the other.
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from autolog._patching.integration import CallHooks, Integration
from autolog._tracking.runs import ActiveRun
from autolog._validation import sanitize_key
from autolog.errors import IntegrationNotEnabled
from autolog.integrations._libraries import SklearnRange

__all__ = [
    "MAX_PREDICTIONS",
    "METRIC_FUNCTIONS",
    "MetricFunctions",
    "ModelRun",
    "SklearnRange",
    "metric_function_hooks",
    "model_run",
    "predict_hooks",
    "remember_model",
    "remember_prediction",
    "score_hooks",
    "scoring_functions",
    "variable_name",
]

logger = logging.getLogger("autolog")

MAX_PREDICTIONS = 1000
FALLBACK_NAME = "data"
_SUFFIXES = ("_score", "_error", "_loss", "_deviance")
_EXTRA_FUNCTIONS = ("matthews_corrcoef",)
# Frames of these modules are ours or a wrapper's: the caller is the first frame outside.
_OUR_MODULES = ("autolog.", "wrapt.")


@dataclass
class ModelRun:
    """The run a fitted estimator was logged in, and the metric keys used on it."""

    run: ActiveRun
    used: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def key(self, base: str) -> str:
        """`base`, or `base-2`, `base-3`... when it was used before on this run."""
        base = sanitize_key(base)
        with self.lock:
            count = self.used.get(base, 0) + 1
            self.used[base] = count
        return base if count == 1 else f"{base}-{count}"


@dataclass
class _Prediction:
    ref: weakref.ref[Any]
    model: ModelRun
    data: str


_models: weakref.WeakKeyDictionary[Any, ModelRun] = weakref.WeakKeyDictionary()
_predictions: OrderedDict[int, _Prediction] = OrderedDict()
_lock = threading.Lock()


def remember_model(estimator: Any, run: ActiveRun) -> ModelRun:
    """Remember that `estimator` was last fitted in `run` (until it is freed or refitted)."""
    model = ModelRun(run)
    with _lock:
        _models[estimator] = model
    return model


def model_run(estimator: Any) -> ModelRun | None:
    try:
        return _models.get(estimator)
    except TypeError:  # not weakly referenceable: never remembered
        return None


def remember_prediction(prediction: Any, model: ModelRun, data: str) -> None:
    """Remember that `prediction` came from `model` predicting on the data named `data`."""
    key = id(prediction)

    def forget(ref: weakref.ref[Any]) -> None:
        with _lock:
            entry = _predictions.get(key)
            if entry is not None and entry.ref is ref:
                del _predictions[key]

    try:
        ref = weakref.ref(prediction, forget)
    except TypeError:  # a list or tuple (multi-output predict_proba): not remembered
        return
    with _lock:
        _predictions[key] = _Prediction(ref, model, data)
        _predictions.move_to_end(key)
        while len(_predictions) > MAX_PREDICTIONS:
            _predictions.popitem(last=False)


def prediction_of(obj: Any) -> _Prediction | None:
    entry = _predictions.get(id(obj))
    if entry is None or entry.ref() is not obj:
        return None
    return entry


def variable_name(obj: Any) -> str | None:
    """The name of a variable holding `obj` in the first caller frame outside autolog."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(_OUR_MODULES):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return None
    for name, value in frame.f_locals.items():
        if value is obj and not name.startswith("_"):
            return name
    return None


def _data_name(args: tuple[Any, ...], kwargs: dict[str, Any], keyword: str = "X") -> str:
    data = args[0] if args else kwargs.get(keyword)
    if data is None:
        return FALLBACK_NAME
    return variable_name(data) or FALLBACK_NAME


def _log(model: ModelRun, base: str, value: Any) -> None:
    try:
        number = float(value)
    except (TypeError, ValueError):  # an array (average=None), a report: not a metric
        return
    model.run.log_metric(model.key(base), number)


# -- hooks ---------------------------------------------------------------------------------


def predict_hooks() -> CallHooks[tuple[ModelRun, str]]:
    """Hooks for predict-like methods: remember what a remembered estimator predicts."""

    def before(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        model = model_run(instance)
        if model is None:
            return None
        return model, _data_name(args, kwargs)

    def after(state: tuple[ModelRun, str], instance: Any, result: Any) -> None:
        remember_prediction(result, state[0], state[1])

    return CallHooks(before=before, after=after)


def score_hooks() -> CallHooks[tuple[ModelRun, str]]:
    """Hooks for `score`: log `<Class>_score_<data>` on a remembered estimator's run."""

    def before(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        model = model_run(instance)
        if model is None:
            return None
        return model, f"{type(instance).__name__}_score_{_data_name(args, kwargs)}"

    def after(state: tuple[ModelRun, str], instance: Any, result: Any) -> None:
        _log(state[0], state[1], result)

    return CallHooks(before=before, after=after)


def metric_function_hooks(name: str) -> CallHooks[tuple[ModelRun, str]]:
    """Hooks for a `sklearn.metrics` function: log it when it scores a remembered prediction."""

    def before(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not _predictions:
            return None
        for value in (*args, *kwargs.values()):
            entry = prediction_of(value)
            if entry is not None:
                return entry.model, f"{name}_{entry.data}"
        return None

    def after(state: tuple[ModelRun, str], instance: Any, result: Any) -> None:
        _log(state[0], state[1], result)

    return CallHooks(before=before, after=after)


def scoring_functions(metrics_module: Any) -> list[str]:
    """The names in `sklearn.metrics` that score predictions and return one number."""
    names = getattr(metrics_module, "__all__", [])
    return sorted(
        n
        for n in names
        if (n.endswith(_SUFFIXES) or n in _EXTRA_FUNCTIONS)
        and callable(getattr(metrics_module, n, None))
    )


class MetricFunctions(SklearnRange, Integration):
    """The scoring functions of `sklearn.metrics`, patched while an integration uses them.

    Not one of the integrations a user enables: the integrations that remember
    models call `attach(name)` when they patch and `detach(name)` when they
    unpatch; the functions stay patched while any is attached. Patched when
    `sklearn.metrics` is imported, so attaching imports nothing.
    """

    name = "sklearn.metrics"
    module = "sklearn.metrics"

    def __init__(self) -> None:
        super().__init__()
        self._users: set[str] = set()

    def attach(self, user: str) -> None:
        """Keep the functions patched while `user` (an integration's name) is on."""
        with self._lock:
            self._users.add(user)
            try:
                self.enable()
            except IntegrationNotEnabled as exc:  # no scikit-learn: no metric to log
                logger.debug("autolog: post-training metrics are off: %s", exc)

    def detach(self, user: str) -> None:
        """`user` is off: unpatch the functions once no integration is attached."""
        with self._lock:
            self._users.discard(user)
            if not self._users:
                self.disable()

    def _patch(self, module: ModuleType) -> None:
        for name in scoring_functions(module):
            self.wrap(module, name, metric_function_hooks(name))


METRIC_FUNCTIONS = MetricFunctions()
