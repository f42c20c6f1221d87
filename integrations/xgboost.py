"""XGBoost autologging: `xgboost.train`, `xgboost.cv` and the scikit-learn API.

What one training records, into one run:

- params: the booster params and the training arguments (`num_boost_round`,
  `early_stopping_rounds`, ...), never data; a custom objective, metric or
  callback is recorded by its name (`custom_objective: my_obj`);
- per-iteration evaluation metrics (`eval-rmse`, `validation_0-logloss`, `@`
  made `_at_`) with the booster's iteration as step, from a callback added to a
  copy of the user's callback list; without evals the tag
  `autolog.xgboost.evals = none` says so;
- with early stopping, the metrics `best_iteration`, `best_score` and
  `stopped_iteration`;
- `feature_importances.json`: every importance type, with the feature names;
- a fingerprint of the training data (`datasets/train.json`);
- the model, in XGBoost's own format, through `autolog._models`;
- afterwards, a scikit-learn metric computed on the model's predictions
  (`roc_auc_score(y_test, booster.predict(dtest))`), as the scikit-learn
  integration does for its estimators (`autolog._post_metrics`; the metric
  functions are patched by the scikit-learn integration).

`train` is bound under three names (`xgboost.training.train`, `xgboost.train`
and `xgboost.sklearn.train`, which the scikit-learn API calls): one wrapper is
installed at all three. An `XGBModel.fit` is the run and its inner `train` only
gets the metrics callback (the `nested` hook), so one fit gives one run.
`xgboost.dask` and `xgboost.spark` bind `train` under their own names to run it
on workers; those are not patched.
"""

from __future__ import annotations

import inspect
import json
import logging
import numbers
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from autolog import _post_metrics as post
from autolog._patching import (
    AutologOptions,
    CallHooks,
    Integration,
    OpenedRun,
    marked,
    open_run,
)
from autolog._runs import ActiveRun
from autolog._safety import capture_internal_errors
from autolog._validation import MAX_PARAM_VALUE_LENGTH, sanitize_key
from autolog._xgb_artifacts import dmatrix_fingerprint, feature_importances

__all__ = ["XGBoostIntegration"]

logger = logging.getLogger("autolog")

# Training arguments that are data, a place for results or display options, never params.
_NOT_PARAMS = frozenset({"params", "dtrain", "evals", "evals_result", "as_pandas", "show_stdv"})
# Arguments holding functions or objects: recorded under these names, and only when given.
_RENAMED = {"obj": "custom_objective", "feval": "custom_metric"}
_OBJECT_ARGS = frozenset(
    {"obj", "feval", "custom_metric", "callbacks", "xgb_model", "folds", "fpreproc"}
)
_TAG_CALL = "autolog.xgboost.call"
_TAG_EVALS = "autolog.xgboost.evals"


@dataclass
class Training:
    """One autologged training in progress: its run and what it learned on the way."""

    opened: OpenedRun
    options: AutologOptions
    api: str  # "train", "cv" or "fit"
    callback: Any = None  # the MetricsCallback, once added to the training's callbacks
    early_stopping: bool = False
    input_example: Any = None

    @property
    def run(self) -> ActiveRun:
        return self.opened.run


class XGBoostIntegration(Integration):
    """Records `xgboost.train`, `xgboost.cv` and every scikit-learn API `fit`."""

    name = "xgboost"
    module = "xgboost"
    distribution = "xgboost"
    min_version = "1.7"
    max_version = "4"
    extra = "xgboost"

    def _patch(self, module: ModuleType) -> None:
        training = sys.modules["xgboost.training"]
        # The scikit-learn API module is absent when scikit-learn is not installed.
        reexports = [m for m in (module, sys.modules.get("xgboost.sklearn")) if m is not None]
        train_sig = _Signature.of(training.train)
        self.wrap(
            training,
            "train",
            CallHooks(
                before=lambda _i, a, k: self._before_train(train_sig, a, k),
                after=self._after,
                failed=_failed,
                arguments=lambda s, a, k: _add_callback(s, train_sig, a, k),
                nested=lambda s, a, k: _nested_train(s, train_sig, a, k),
            ),
            aliases=[(m, "train") for m in reexports],
        )
        cv_sig = _Signature.of(training.cv)
        self.wrap(
            training,
            "cv",
            CallHooks(
                before=lambda _i, a, k: self._before_cv(cv_sig, a, k),
                after=self._after,
                failed=_failed,
                arguments=lambda s, a, k: _add_callback(s, cv_sig, a, k),
            ),
            aliases=[(module, "cv")],
        )
        # Predictions of a logged model are remembered, so that a scikit-learn metric
        # computed on them is logged on the model's run (autolog._post_metrics).
        predict_hooks = post.predict_hooks()
        self.wrap(sys.modules["xgboost.core"].Booster, "predict", predict_hooks)
        sklearn_api = sys.modules.get("xgboost.sklearn")
        if sklearn_api is not None:
            fit_hooks: CallHooks[Training] = CallHooks(
                before=self._before_fit, after=self._after, failed=_failed
            )
            for cls in _classes_defining(sklearn_api, "fit"):
                self.wrap(cls, "fit", fit_hooks)
            for method in ("predict", "predict_proba"):
                for cls in _classes_defining(sklearn_api, method):
                    self.wrap(cls, method, predict_hooks)

    # -- before: open the run, record params and data ----------------------------------------

    def _before_train(
        self, sig: _Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Training:
        call = sig.bind(args, kwargs)
        state = Training(open_run(self.options), self.options, "train")
        with capture_internal_errors("xgboost: recording params"):
            state.run.set_tag(_TAG_CALL, "xgboost.train")
            state.run.log_params(
                {**_booster_params(call.get("params")), **_training_args(sig, call)}
            )
        _note_evals(state, call)
        if self.options.log_datasets and call.get("dtrain") is not None:
            with capture_internal_errors("xgboost: fingerprinting the training data"):
                _record_dataset(state.run, dmatrix_fingerprint(call["dtrain"]))
        return state

    def _before_cv(
        self, sig: _Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Training:
        call = sig.bind(args, kwargs)
        state = Training(open_run(self.options), self.options, "cv")
        with capture_internal_errors("xgboost: recording params"):
            state.run.set_tag(_TAG_CALL, "xgboost.cv")
            state.run.log_params(
                {**_booster_params(call.get("params")), **_training_args(sig, call)}
            )
        state.early_stopping = _uses_early_stopping(call)
        if self.options.log_datasets and call.get("dtrain") is not None:
            with capture_internal_errors("xgboost: fingerprinting the training data"):
                _record_dataset(state.run, dmatrix_fingerprint(call["dtrain"]))
        return state

    def _before_fit(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Training:
        state = Training(open_run(self.options), self.options, "fit")
        x = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        with capture_internal_errors("xgboost: recording params"):
            state.run.set_tag(_TAG_CALL, f"xgboost.{type(instance).__name__}.fit")
            state.run.log_params(_estimator_params(instance, kwargs))
        if self.options.log_datasets:
            with capture_internal_errors("xgboost: fingerprinting the training data"):
                _record_dataset(state.run, array_fingerprint(x, y))
        if self.options.log_models and self.options.log_input_examples:
            with capture_internal_errors("xgboost: taking an input example"):
                state.input_example = _input_example(x)
        return state

    # -- after: early stopping, importances, model ---------------------------------------------

    def _after(self, state: Training, instance: Any, result: Any) -> None:
        try:
            with capture_internal_errors("xgboost: recording early stopping"):
                _record_early_stopping(state)
            if state.api == "cv":
                return
            model = instance if state.api == "fit" else result
            booster = model.get_booster() if state.api == "fit" else model
            post.remember_model(model, state.run)
            with capture_internal_errors("xgboost: recording feature importances"):
                _log_json(state.run, feature_importances(booster), "feature_importances.json")
            if state.options.log_models:
                with capture_internal_errors("xgboost: logging the model"), marked():
                    _log_model(state, model)
        finally:
            state.opened.close()


# -- the metrics callback -----------------------------------------------------------------------


def _add_callback(
    state: Training, sig: _Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call's arguments with the metrics callback appended to a copy of `callbacks`."""
    from autolog._xgb_callback import MetricsCallback

    call = sig.bind(args, kwargs)
    state.callback = MetricsCallback(
        state.run, cv=state.api == "cv", continued=call.get("xgb_model") is not None
    )
    given = call.get("callbacks")
    return sig.replace(args, kwargs, "callbacks", [*(given or ()), state.callback])


def _nested_train(
    outer: Any, sig: _Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """`train` called by a scikit-learn API `fit`: add the callback to the fit's run."""
    # Only the first train of an XGBModel.fit: a train inside a user's callback or
    # objective must not write into the outer training's metrics.
    if not isinstance(outer, Training) or outer.api != "fit" or outer.callback is not None:
        return args, kwargs
    call = sig.bind(args, kwargs)
    _note_evals(outer, call)
    return _add_callback(outer, sig, args, kwargs)


def _note_evals(state: Training, call: Mapping[str, Any]) -> None:
    with capture_internal_errors("xgboost: recording evals"):
        state.early_stopping = _uses_early_stopping(call)
        evals = list(call.get("evals") or ())
        if evals:
            # Malformed entries are XGBoost's to reject, after this.
            names = [
                str(e[1]) if isinstance(e, (tuple, list)) and len(e) == 2 else "?" for e in evals
            ]
            state.run.log_param("evals", ",".join(names))
        else:
            state.run.set_tag(_TAG_EVALS, "none")


def _uses_early_stopping(call: Mapping[str, Any]) -> bool:
    from xgboost.callback import EarlyStopping

    return bool(call.get("early_stopping_rounds")) or any(
        isinstance(cb, EarlyStopping) for cb in call.get("callbacks") or ()
    )


def _record_early_stopping(state: Training) -> None:
    callback = state.callback
    if not state.early_stopping or callback is None:
        return
    metrics: dict[str, float] = {}
    if callback.best_iteration is not None:
        metrics["best_iteration"] = callback.best_iteration
    if callback.best_score is not None:
        metrics["best_score"] = callback.best_score
    if callback.rounds:
        metrics["stopped_iteration"] = callback.start_round + callback.rounds - 1
    if metrics:
        state.run.log_metrics(metrics)


def _failed(state: Training, error: BaseException) -> None:
    state.opened.close(error)


# -- params ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Signature:
    """The parameter names and defaults of `train` or `cv`, read once at patch time."""

    names: tuple[str, ...]
    defaults: Mapping[str, Any]

    @classmethod
    def of(cls, function: Callable[..., Any]) -> _Signature:
        params = inspect.signature(function).parameters.values()
        defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
        return cls(tuple(p.name for p in params), defaults)

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The call's arguments by name (XGBoost maps positional ones the same way)."""
        bound = dict(zip(self.names, args, strict=False))
        bound.update(kwargs)
        return bound

    def replace(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], name: str, value: Any
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """New (args, kwargs) with `name` set to `value` where the caller passed it."""
        index = self.names.index(name)
        if index < len(args):
            return (*args[:index], value, *args[index + 1 :]), kwargs
        return args, {**kwargs, name: value}


def _booster_params(params: Any) -> dict[str, str]:
    """Booster params as strings; a list of pairs may repeat a key (several eval_metric)."""
    if params is None:
        return {}
    pairs: Iterable[tuple[Any, Any]] = params.items() if isinstance(params, Mapping) else params
    grouped: dict[str, list[Any]] = {}
    for key, value in pairs:
        grouped.setdefault(sanitize_key(str(key)), []).append(value)
    return {k: _describe(v[0] if len(v) == 1 else v) for k, v in grouped.items()}


def _training_args(sig: _Signature, call: Mapping[str, Any]) -> dict[str, str]:
    """The training arguments of `train` / `cv` (defaults included), not data or results."""
    out: dict[str, str] = {}
    for name in sig.names:
        if name in _NOT_PARAMS:
            continue
        value = call.get(name, sig.defaults.get(name))
        if value is None and name in _OBJECT_ARGS:
            continue
        out[_RENAMED.get(name, name)] = _describe(value)
    return out


def _estimator_params(estimator: Any, fit_kwargs: Mapping[str, Any]) -> dict[str, str]:
    """An XGBModel's params (functions by name) and the fit's own arguments that are params."""
    params = {sanitize_key(str(k)): _describe(v) for k, v in estimator.get_params().items()}
    objective = getattr(estimator, "objective", None)
    if callable(objective):
        params["custom_objective"] = _describe(objective)
    metric = getattr(estimator, "eval_metric", None)
    metrics = metric if isinstance(metric, (list, tuple)) else [metric]
    custom = [m for m in metrics if callable(m)]
    if custom:
        params["custom_metric"] = _describe(custom[0])
    if fit_kwargs.get("xgb_model") is not None:
        params["xgb_model"] = _describe(fit_kwargs["xgb_model"])
    return params


def _describe(value: Any) -> str:
    """A param's text: numbers and strings as they are, functions and objects by name."""
    if value is None or isinstance(value, (str, numbers.Number)):
        text = str(value)
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_describe(v) for v in value) + "]"
    elif isinstance(value, os.PathLike):
        text = os.fspath(value)
    elif callable(value) and hasattr(value, "__name__"):
        text = str(value.__name__)
    elif isinstance(value, Mapping):
        text = json.dumps({str(k): _describe(v) for k, v in value.items()})
    else:
        text = type(value).__name__
    return (
        text if len(text) <= MAX_PARAM_VALUE_LENGTH else text[: MAX_PARAM_VALUE_LENGTH - 3] + "..."
    )


# -- data, importances, model ---------------------------------------------------------------------


def array_fingerprint(x: Any, y: Any = None) -> dict[str, Any]:
    """The fingerprint of the training data given to a scikit-learn API `fit`."""
    from autolog._fingerprint import fingerprint

    return fingerprint(x, y)


def _record_dataset(run: ActiveRun, fingerprint: Mapping[str, Any]) -> None:
    _log_json(run, fingerprint, "datasets/train.json")


def _log_json(run: ActiveRun, data: Any, path: str) -> None:
    # Compact JSON: json.dumps with indent= runs the pure-Python encoder, ten times slower.
    run.log_bytes(json.dumps(data, separators=(",", ":")).encode(), path)


def _input_example(x: Any) -> Any:
    """The first rows of a NumPy array or pandas DataFrame (not device arrays)."""
    import numpy as np

    if isinstance(x, np.ndarray):
        return x[:5]
    if type(x).__module__.startswith("pandas") and hasattr(x, "iloc"):
        return x.iloc[:5]
    return None


def _log_model(state: Training, model: Any) -> None:
    from autolog._models import log_model

    log_model(model, "model", run=state.run, input_example=state.input_example)
    name = state.options.registered_model_name
    if name is not None:
        from autolog._registry import register_logged_model

        register_logged_model(state.run.id, "model", name, tracking_uri=state.run.tracking_uri)


def _classes_defining(sklearn_api: ModuleType, method: str) -> list[type]:
    """XGBModel and its subclasses in xgboost.sklearn whose class body defines `method`."""
    base = sklearn_api.XGBModel
    return [
        cls
        for cls in vars(sklearn_api).values()
        if isinstance(cls, type)
        and issubclass(cls, base)
        and cls.__module__ == sklearn_api.__name__
        and method in vars(cls)
    ]
