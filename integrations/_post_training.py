"""Metrics computed after training, on other data, logged on the model's run.

After an autologged fit the estimator is remembered, weakly, with its run. What
it predicts (`predict`, `predict_proba`, `predict_log_proba`,
`decision_function`, and what `fit_predict` returned) is remembered too, by
identity: a dict from `id(prediction)` to the run and the name of the data it
was predicted from, each entry holding a weak reference to the prediction that
drops the entry when the prediction is freed, so an id reused by a new object
never finds a stale entry. Nothing is kept alive; at most `MAX_PREDICTIONS`
entries are held, the oldest dropped first.

A slice of a prediction is found too, so that
`roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])` is logged: a NumPy
slice is a view whose `.base` is the array owning the memory, which is the
prediction itself, or, when the prediction is a view already (XGBoost's
`predict_proba`), its owner, remembered beside it.

A scoring function of `sklearn.metrics` called with a remembered prediction is
logged on that prediction's run as `<function>_<data>` (`accuracy_score_X_test`);
`estimator.score(X, y)` of a remembered estimator as `<Class>_score_<data>`.
The data scored becomes an input of the run (`autolog._patching.record.log_input`,
role "test", named as above), fingerprinted once per run and name, unless the
integration was enabled with `log_datasets=False`; the prediction keeps a weak
reference to the data it was predicted from for that.
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
    """The run a fitted estimator was logged in, and the metric keys and inputs used on it."""

    run: ActiveRun
    log_datasets: bool = True
    used: dict[str, int] = field(default_factory=dict)
    inputs: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def first_input(self, name: str) -> bool:
        """Whether `name` is not an input of the run yet (and now counts as one)."""
        with self.lock:
            if name in self.inputs:
                return False
            self.inputs.add(name)
            return True

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
    source: weakref.ref[Any] | None = None  # the data predicted from, to fingerprint it


_models: weakref.WeakKeyDictionary[Any, ModelRun] = weakref.WeakKeyDictionary()
_predictions: OrderedDict[int, _Prediction] = OrderedDict()
_lock = threading.Lock()


def remember_model(estimator: Any, run: ActiveRun, log_datasets: bool = True) -> ModelRun:
    """Remember that `estimator` was last fitted in `run` (until it is freed or refitted).

    `log_datasets`: fingerprint the data its predictions are scored on as inputs.
    """
    model = ModelRun(run, log_datasets)
    with _lock:
        _models[estimator] = model
    return model


def model_run(estimator: Any) -> ModelRun | None:
    try:
        return _models.get(estimator)
    except TypeError:  # not weakly referenceable: never remembered
        return None


def remember_prediction(prediction: Any, model: ModelRun, data: str, source: Any = None) -> None:
    """Remember that `prediction` came from `model` predicting on `source`, named `data`."""
    try:
        ref = _remember(prediction, model, data, source)
    except TypeError:  # a list or tuple (multi-output predict_proba): not remembered
        return
    owner = getattr(prediction, "base", None)  # a NumPy view: its slices share this owner
    if owner is not None and ref is not None and type(owner).__module__ == "numpy":
        try:
            _remember(owner, model, data, source)
        except TypeError:  # an owner that is not an array (a buffer): slices not found
            return


def _remember(obj: Any, model: ModelRun, data: str, source: Any) -> weakref.ref[Any]:
    key = id(obj)

    def forget(ref: weakref.ref[Any]) -> None:
        with _lock:
            entry = _predictions.get(key)
            if entry is not None and entry.ref is ref:
                del _predictions[key]

    ref = weakref.ref(obj, forget)
    try:
        held = weakref.ref(source) if source is not None else None
    except TypeError:  # data that cannot be weakly referenced (a list): not fingerprinted
        held = None
    with _lock:
        _predictions[key] = _Prediction(ref, model, data, held)
        _predictions.move_to_end(key)
        while len(_predictions) > MAX_PREDICTIONS:
            _predictions.popitem(last=False)
    return ref


def prediction_of(obj: Any) -> _Prediction | None:
    """The remembered prediction `obj` is, or is a NumPy view (a slice) of."""
    entry = _predictions.get(id(obj))
    if entry is not None and entry.ref() is obj:
        return entry
    owner = getattr(obj, "base", None)
    if owner is None or type(obj).__module__ != "numpy":
        return None
    entry = _predictions.get(id(owner))
    if entry is None or entry.ref() is not owner:
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


def _log(model: ModelRun, base: str, value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):  # an array (average=None), a report: not a metric
        return False
    model.run.log_metric(model.key(base), number)
    return True


@dataclass
class _Scoring:
    """A metric being computed on a remembered model's predictions, and the data scored."""

    model: ModelRun
    key: str
    data: str
    X: Any
    y: Any


def _log_scoring(state: _Scoring, result: Any) -> None:
    if not _log(state.model, state.key, result) or not state.model.log_datasets:
        return
    if state.X is None or not state.model.first_input(state.data):
        return
    from autolog._patching import record

    record.log_input(state.model.run, _fingerprint(state.X, state.y), state.data, "test")


def _fingerprint(X: Any, y: Any) -> dict[str, Any]:
    from autolog._patching.fingerprint import METHOD, describe, fingerprint

    if hasattr(X, "num_row") and hasattr(X, "num_col"):  # an XGBoost DMatrix: no copy of it
        shape = [int(X.num_row()), int(X.num_col())]
        found: dict[str, Any] = {
            "X": {"kind": type(X).__name__, "shape": shape, "content_hash": None},
            "hash": None,
            "method": METHOD,
        }
        if y is not None:
            found["y"] = describe(y)
        return found
    return fingerprint(X, y)


# -- hooks ---------------------------------------------------------------------------------


def predict_hooks() -> CallHooks[tuple[ModelRun, str, Any]]:
    """Hooks for predict-like methods: remember what a remembered estimator predicts."""

    def before(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        model = model_run(instance)
        if model is None:
            return None
        data = args[0] if args else kwargs.get("X")
        return model, _data_name(args, kwargs), data

    def after(state: tuple[ModelRun, str, Any], instance: Any, result: Any) -> None:
        remember_prediction(result, state[0], state[1], state[2])

    return CallHooks(before=before, after=after)


def score_hooks() -> CallHooks[_Scoring]:
    """Hooks for `score`: log `<Class>_score_<data>` on a remembered estimator's run."""

    def before(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        model = model_run(instance)
        if model is None:
            return None
        data = _data_name(args, kwargs)
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        return _Scoring(model, f"{type(instance).__name__}_score_{data}", data, X, y)

    def after(state: _Scoring, instance: Any, result: Any) -> None:
        _log_scoring(state, result)

    return CallHooks(before=before, after=after)


def metric_function_hooks(name: str) -> CallHooks[_Scoring]:
    """Hooks for a `sklearn.metrics` function: log it when it scores a remembered prediction."""

    def before(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not _predictions:
            return None
        values = (*args, *kwargs.values())
        for value in values:
            entry = prediction_of(value)
            if entry is not None:
                # the truth: the first other argument, y_true or labels_true as passed
                truth = next(
                    (
                        v
                        for v in values
                        if v is not value and hasattr(v, "__len__") and not isinstance(v, str)
                    ),
                    None,
                )
                source = entry.source() if entry.source is not None else None
                return _Scoring(entry.model, f"{name}_{entry.data}", entry.data, source, truth)
        return None

    def after(state: _Scoring, instance: Any, result: Any) -> None:
        _log_scoring(state, result)

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
