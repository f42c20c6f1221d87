"""scikit-learn autologging: every `fit`, `fit_transform`, `fit_predict` and `partial_fit`.

Patching, without importing anything of scikit-learn's beyond what `import sklearn`
already loads:

- At `import sklearn` (a post-import hook) every `BaseEstimator` subclass that
  exists is patched, and the `__init_subclass__` hooks scikit-learn defines
  (`_MetadataRequester`'s and `_SetOutputMixin`'s, which every estimator class
  runs when it is created) are wrapped, so each class created later (the
  modules of scikit-learn imported afterwards, the user's own estimators) is
  patched when it is created, after scikit-learn's own hooks have finished
  (`_SetOutputMixin` wraps `fit_transform` for `set_output`; ours goes on top).
- A class is patched where it defines a method itself (`vars(cls)`), along its
  MRO, mixins included (`TransformerMixin.fit_transform`,
  `LinearClassifierMixin.predict`, `ClassifierMixin.score`). An `available_if`
  descriptor is wrapped as a whole: the wrapper is a descriptor that asks it
  first, so `hasattr(pipe, "fit_transform")` keeps its meaning.
- Classes of libraries that have an integration of their own (XGBoost's
  scikit-learn API) are left to it.
- joblib: scikit-learn's `Parallel` remembers the calling thread's
  autologged-call marker for each task it dispatches and the task runs with it,
  so fits in worker threads (`n_jobs` with the threading backend) are nested
  calls, not runs. Worker processes (loky) are fresh interpreters; a forked
  child calls straight through (the machinery's pid guard).
- `sklearn.metrics` scoring functions are patched when `sklearn.metrics` is
  imported, for post-training metrics (`autolog.integrations._post_training`,
  shared with the XGBoost integration).

`partial_fit`: one run per estimator, a step per call, ended when training is
over (see `autolog.integrations.sklearn._partial_fit`).
"""

from __future__ import annotations

import inspect
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from types import ModuleType
from typing import Any

from autolog import _tags
from autolog._patching.enable import known_integrations
from autolog._patching.integration import CallHooks, Integration, current_call, marked
from autolog._patching.placement import OpenedRun, open_run
from autolog._patching.seeds import fit_tags
from autolog._safety import capture_internal_errors
from autolog._tracking.runs import ActiveRun, Derived
from autolog.integrations import _post_training as post
from autolog.integrations.sklearn._cross_validation import CrossValidation
from autolog.integrations.sklearn._partial_fit import PartialCall, PartialFitSessions

__all__ = ["SklearnIntegration"]

FIT_METHODS = ("fit", "fit_transform", "fit_predict")
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")
_SKIP_DESCRIPTORS = (property, classmethod, staticmethod)
# Fitted by scikit-learn's own functions (metrics, dataset generators) to encode
# labels: such a fit outside any autologged call is not a run of the user's.
_LABEL_ENCODERS = "sklearn.preprocessing._label"


@dataclass
class Fit:
    """One autologged fit in progress."""

    opened: OpenedRun
    method: str
    X: Any
    y: Any
    sample_weight: Any
    rng_sensitive: bool

    @property
    def run(self) -> ActiveRun:
        return self.opened.run


class SklearnIntegration(post.SklearnRange, Integration):
    """Records every scikit-learn estimator's training, and metrics computed afterwards."""

    name = "sklearn"

    def __init__(self) -> None:
        super().__init__()
        self._method_hooks: dict[str, CallHooks[Any]] = {
            **{m: self._fit_hooks(m) for m in FIT_METHODS},
            "partial_fit": CallHooks(
                before=self._before_partial,
                after=lambda state, estimator, _result: self._sessions.after(state, estimator),
                failed=lambda state, exc: self._sessions.failed(state, exc),
            ),
            **dict.fromkeys(PREDICT_METHODS, post.predict_hooks()),
            "score": post.score_hooks(),
        }
        self._creating = threading.local()
        self._base: type | None = None
        self._task_calls: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._task_lock = threading.Lock()
        self._sessions = PartialFitSessions(lambda: self.options)
        self._signatures: dict[tuple[type, str], list[str]] = {}
        # Libraries with an integration of their own patch their estimators themselves.
        self._foreign = tuple(f"{n}." for n in known_integrations() if n != self.name)

    # -- patching --------------------------------------------------------------------------

    def _patch(self, module: ModuleType) -> None:
        base = sys.modules["sklearn.base"]  # imported by sklearn/__init__
        self._base = base.BaseEstimator
        creators = {
            klass
            for cls in vars(base).values()
            if isinstance(cls, type) and cls.__module__.startswith("sklearn")
            for klass in cls.__mro__
            if klass is not object and "__init_subclass__" in vars(klass)
        }
        for klass in sorted(creators, key=lambda c: c.__qualname__):
            self.wrap_with(klass, "__init_subclass__", self._on_new_class)
        for cls in _subclasses(base.BaseEstimator):
            self._patch_class(cls)
        self.when_imported("sklearn.utils.parallel", self._patch_parallel)
        self.when_imported("sklearn.model_selection._validation", self._patch_validation)
        post.METRIC_FUNCTIONS.attach(self.name)

    def _unpatch(self) -> None:
        super()._unpatch()
        post.METRIC_FUNCTIONS.detach(self.name)
        self._sessions.end_all("autologging disabled")

    def _on_new_class(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        # Each of scikit-learn's __init_subclass__ hooks is wrapped and they call one
        # another through super(): the outermost patches the class once they are done.
        creating: set[type] | None = getattr(self._creating, "classes", None)
        if creating is None:
            creating = self._creating.classes = set()
        if instance in creating or not isinstance(instance, type):
            return wrapped(*args, **kwargs)
        creating.add(instance)
        try:
            result = wrapped(*args, **kwargs)
        finally:
            creating.discard(instance)
        if self.enabled:
            with capture_internal_errors("sklearn: patching a new estimator class"):
                self._patch_class(instance)
        return result

    def _patch_class(self, cls: type) -> None:
        if self._base is None or not issubclass(cls, self._base) or _owned(cls, self._foreign):
            return
        for klass in cls.__mro__:
            if klass is object or _owned(klass, self._foreign):
                continue
            attributes = vars(klass)
            for name, hooks in self._method_hooks.items():
                value = attributes.get(name)
                if value is not None and _wrappable(value):
                    self.wrap(klass, name, hooks)

    def _patch_parallel(self, module: ModuleType) -> None:
        self.wrap_with(module.Parallel, "__call__", self._dispatch_tasks)
        self.wrap_with(module._FuncWrapper, "__call__", self._run_task)

    def _patch_validation(self, module: ModuleType) -> None:
        from autolog.integrations.sklearn import _cross_validation as cv

        package = sys.modules.get("sklearn.model_selection")
        for name in cv.FUNCTIONS:
            original = getattr(module, name, None)
            if original is None:
                continue
            hooks = cv.cross_validation_hooks(name, original, lambda: self.options)
            self.wrap(module, name, hooks, aliases=[(package, name)] if package else ())

    # -- joblib: worker threads carry the caller's marker ----------------------------------

    def _dispatch_tasks(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        call = current_call()
        if call is None or not args:
            return wrapped(*args, **kwargs)
        task_type = type(self)._task_type()
        calls, lock = self._task_calls, self._task_lock

        def mark(item: Any) -> Any:
            if (
                task_type is not None
                and isinstance(item, tuple)
                and item
                and isinstance(item[0], task_type)
            ):
                with lock:
                    calls[item[0]] = call
                if isinstance(call.state, CrossValidation) and len(item) > 1:
                    call.state.dispatched_task(getattr(item[0], "function", None), item[1])
            return item

        tasks: Iterable[Any] = args[0]
        if isinstance(tasks, (list, tuple)):  # keep a sized input sized: joblib looks
            tasks = [mark(item) for item in tasks]
        else:
            tasks = (mark(item) for item in tasks)
        return wrapped(tasks, *args[1:], **kwargs)

    @staticmethod
    def _task_type() -> type | None:
        module = sys.modules.get("sklearn.utils.parallel")
        return getattr(module, "_FuncWrapper", None)

    def _run_task(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        call = self._task_calls.get(instance) if self._task_calls else None
        if call is None or current_call() is not None:
            return wrapped(*args, **kwargs)
        with marked(call):
            return wrapped(*args, **kwargs)

    # -- fit, fit_transform, fit_predict ---------------------------------------------------

    def _fit_hooks(self, method: str) -> CallHooks[Fit]:
        return CallHooks(
            before=lambda instance, args, kwargs: self._before_fit(method, instance, args, kwargs),
            after=self._after_fit,
            failed=lambda state, exc: state.opened.close(exc),
        )

    def _before_fit(
        self, method: str, estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Fit | None:
        if self._base is None or not isinstance(estimator, self._base):
            return None
        if type(estimator).__module__ == _LABEL_ENCODERS and _called_by_sklearn():
            return None  # a metric's or a dataset generator's own LabelEncoder
        if self._sessions:
            self._sessions.end(estimator, f"{method} called")
        X, y, weight = self._fit_arguments(estimator, method, args, kwargs)
        opened = open_run(self.options)
        state = Fit(opened, method, X, y, weight, rng_sensitive=False)
        from autolog._patching import record
        from autolog._patching.fingerprint import fingerprint
        from autolog.integrations.sklearn._record import estimator_params

        run, options = opened.run, self.options
        with capture_internal_errors("sklearn: logging params"):
            params = estimator_params(estimator)
            state.rng_sensitive = any(
                v is None for k, v in params.items() if k.endswith("random_state")
            )
            record.log_params(run, params)
            run.set_tags(fit_tags(params, estimator))
        with capture_internal_errors("sklearn: logging tags"):
            run.set_tags({**record.estimator_tags(estimator), _tags.SKLEARN_METHOD: method})
        if options.log_datasets:
            with capture_internal_errors("sklearn: fingerprinting the training data"):
                record.log_dataset(run, fingerprint(X, y))
        return state

    def _after_fit(self, state: Fit, estimator: Any, result: Any) -> None:
        from autolog.integrations.sklearn._metrics import keeping_global_rng

        try:
            # Our predictions (metrics, the model's output schema) must neither be
            # logged as the user's nor shift the global random state the user sees.
            with marked(), keeping_global_rng(state.rng_sensitive):
                self._record_fit(state, estimator, result)
        finally:
            state.opened.close()

    def _record_fit(self, state: Fit, estimator: Any, result: Any) -> None:
        from autolog._patching import record
        from autolog.integrations.sklearn import _metrics as metrics
        from autolog.integrations.sklearn import _record as sklearn_record

        run, options = state.run, self.options
        kind = None
        with capture_internal_errors("sklearn: training metrics"):
            kind = sklearn_record.estimator_kind(estimator)
            labels = result if state.method == "fit_predict" else None
            if kind == "clusterer" and labels is None:
                labels = getattr(estimator, "labels_", None)
            found = metrics.training_metrics(
                estimator, str(kind), state.X, state.y, state.sample_weight, labels=labels
            )
            if found.metrics:
                run.log_metrics(found.metrics)
            if found.tags:
                run.set_tags(found.tags)
            if found.predictions is not None:
                # Computed from our predictions by the writer thread: not the user's to wait for.
                run.log_computed(
                    partial(
                        _evaluation,
                        found.predictions,
                        found.score_as,
                        options.log_plots,
                        int(time.time() * 1000),
                    ),
                    "sklearn: training metrics",
                )
        with capture_internal_errors("sklearn: logging a search"):
            sklearn_record.log_search(run, estimator, options.max_tuning_runs)
        with capture_internal_errors("sklearn: feature importances"):
            sklearn_record.log_feature_importances(run, estimator)
        if options.log_models:
            with capture_internal_errors("sklearn: logging the model"):
                record.log_model(run, estimator, options, record.first_rows(state.X))
            best = getattr(estimator, "best_estimator_", None)  # a search's refitted best
            if best is not None and hasattr(estimator, "cv_results_"):
                with capture_internal_errors("sklearn: logging the best estimator"):
                    record.log_model(
                        run,
                        best,
                        options,
                        record.first_rows(state.X),
                        path=sklearn_record.BEST_ESTIMATOR_PATH,
                    )
        model = post.remember_model(estimator, run, options.log_datasets)
        if state.method == "fit_predict":
            post.remember_prediction(result, model, post.variable_name(state.X) or "train")

    def _fit_arguments(
        self, estimator: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any, Any, Any]:
        """X, y and sample_weight of a fit call, positional or by keyword."""
        key = (type(estimator), method)
        names = self._signatures.get(key)
        if names is None:
            try:
                parameters = inspect.signature(getattr(type(estimator), method)).parameters
                names = [p for p in parameters if p not in ("self", "cls")]
            except (AttributeError, TypeError, ValueError):
                names = ["X", "y"]
            self._signatures[key] = names
        bound = dict(zip(names, args, strict=False))
        bound.update(kwargs)
        X = bound.get(names[0]) if names else None
        y = bound.get("y", bound.get("Y"))
        return X, y, bound.get("sample_weight")

    # -- partial_fit -----------------------------------------------------------------------

    def _before_partial(
        self, estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> PartialCall | None:
        if self._base is None or not isinstance(estimator, self._base):
            return None
        X, y, weight = self._fit_arguments(estimator, "partial_fit", args, kwargs)
        return self._sessions.before(estimator, X, y, weight)


# -- helpers -------------------------------------------------------------------------------


def _evaluation(predictions: Any, score_as: str | None, plots: bool, timestamp: int) -> Derived:
    from autolog.integrations.sklearn._metrics import evaluate

    found, tags, artifacts = evaluate(predictions, score_as, plots)
    return Derived(found, tags, artifacts, timestamp=timestamp)


def _subclasses(root: type) -> list[type]:
    found: list[type] = []
    seen: set[type] = set()
    todo = [root]
    while todo:
        cls = todo.pop()
        subclasses: list[type] = type.__subclasses__(cls)
        for sub in subclasses:
            if sub not in seen:
                seen.add(sub)
                found.append(sub)
                todo.append(sub)
    return found


def _called_by_sklearn() -> bool:
    """Whether the caller of the patched method (past autolog and wrapt) is scikit-learn."""
    frame = sys._getframe(1)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if not module.startswith(("autolog.", "wrapt.")):
            return module.startswith("sklearn.")
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _owned(cls: type, foreign: tuple[str, ...]) -> bool:
    return bool(foreign) and f"{cls.__module__}.".startswith(foreign)


def _wrappable(value: Any) -> bool:
    """A function, or a descriptor that binds like one (`available_if`)."""
    from autolog._patching.wrapper import AutologWrapper  # wrapt: only once patching

    if isinstance(value, (AutologWrapper, *_SKIP_DESCRIPTORS)):
        return False
    return hasattr(type(value), "__get__")
