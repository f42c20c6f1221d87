"""XGBoost autologging: `xgboost.train`, `xgboost.cv` and the scikit-learn API.

What one training records, into one run:

- params: the booster params and the training arguments (`num_boost_round`,
  `early_stopping_rounds`, ...), never data; a custom objective, metric or
  callback is recorded by its name (`custom_objective: my_obj`);
- per-iteration evaluation metrics (`eval-rmse`, `validation_0-logloss`, `@`
  made `_at_`) with the booster's iteration as step, from a callback added to a
  copy of the user's callback list (`autolog.integrations.xgboost._callback`); without evals the
  tag `autolog.xgboost.evals = none` says so;
- with early stopping, the metrics `best_iteration`, `best_score` and
  `stopped_iteration`, and, as MLflow does, one more step of every evaluation
  metric (numbered one past the last round) holding its value at the best
  iteration, so that a metric's latest value is the best model's while the
  whole history stays (`xgboost.train` and `fit`; `xgboost.cv` returns the
  history up to the best round itself);
- `feature_importances.json`: every importance type, with the feature names, and
  the top features by gain as metrics `feature_importance.<name>`;
- a fingerprint of the training data (`datasets/train.json`, tags `autolog.data.*`)
  and of each evaluation set, as the run's inputs (`autolog.input.<name>`);
- the model, in XGBoost's own format, through `autolog._models`, with a signature
  (from the first rows of a `fit`'s data; from the training DMatrix's feature
  names and types for `train`, as MLflow infers it from the DMatrix's data);
- afterwards, a scikit-learn metric computed on the model's predictions
  (`roc_auc_score(y_test, booster.predict(dtest))`), as for scikit-learn's own
  estimators (`autolog.integrations._post_training`, whose metric functions this
  integration keeps patched while it is on, with or without the scikit-learn one).

`train` is bound under three names (`xgboost.training.train`, `xgboost.train`
and `xgboost.sklearn.train`, which the scikit-learn API calls): one wrapper is
installed at all three. A scikit-learn API `fit` is the run, and the `train` it
calls only gets the metrics callback (the `nested` hook), so one fit gives one
run. `xgboost.dask` and `xgboost.spark` bind `train` under names of their own to
run it on workers; those are not patched.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import ModuleType
from typing import Any

from autolog import _tags
from autolog._patching import record
from autolog._patching.enable import AutologOptions
from autolog._patching.fingerprint import fingerprint
from autolog._patching.integration import CallHooks, Integration, marked
from autolog._patching.placement import OpenedRun, open_run
from autolog._patching.seeds import fit_tags, xgboost_seed_params
from autolog._safety import capture_internal_errors
from autolog._tracking.runs import ActiveRun
from autolog.integrations import _post_training as post
from autolog.integrations._libraries import XGBoostRange
from autolog.integrations.xgboost._record import (
    booster_params,
    dmatrix_fingerprint,
    dmatrix_signature,
    estimator_params,
    feature_importances,
    log_eval_inputs,
    training_args,
)

__all__ = ["XGBoostIntegration"]

_Arguments = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass
class Training:
    """One autologged training in progress: its run and what it learned on the way."""

    opened: OpenedRun
    options: AutologOptions
    api: str  # "train", "cv" or "fit"
    callback: Any = None  # the MetricsCallback, once added to the training's callbacks
    early_stopping: bool = False
    input_example: Any = None
    signature: Any = None  # of `train`'s model: read from the training DMatrix

    @property
    def run(self) -> ActiveRun:
        return self.opened.run


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
    ) -> _Arguments:
        """New (args, kwargs) with `name` set to `value` where the caller passed it."""
        index = self.names.index(name)
        if index < len(args):
            return (*args[:index], value, *args[index + 1 :]), kwargs
        return args, {**kwargs, name: value}


class XGBoostIntegration(XGBoostRange, Integration):
    """Records `xgboost.train`, `xgboost.cv` and every scikit-learn API `fit`."""

    name = "xgboost"

    def _patch(self, module: ModuleType) -> None:
        training = sys.modules["xgboost.training"]
        # The scikit-learn API module is missing only from a broken XGBoost install.
        sklearn_api = sys.modules.get("xgboost.sklearn")
        for api, reexports in (("train", (module, sklearn_api)), ("cv", (module,))):
            sig = _Signature.of(getattr(training, api))
            self.wrap(
                training,
                api,
                CallHooks(
                    before=self._training_hook(api, sig),
                    after=self._after,
                    failed=_failed,
                    arguments=partial(_add_callback, sig),
                    nested=partial(_nested_train, sig) if api == "train" else None,
                ),
                aliases=[(m, api) for m in reexports if m is not None],
            )
        # Predictions of a logged model are remembered, so that a scikit-learn metric
        # computed on them is logged on the model's run.
        post.METRIC_FUNCTIONS.attach(self.name)
        predict_hooks = post.predict_hooks()
        self.wrap(sys.modules["xgboost.core"].Booster, "predict", predict_hooks)
        if sklearn_api is not None:
            fit_hooks: CallHooks[Training] = CallHooks(
                before=self._before_fit, after=self._after, failed=_failed
            )
            for cls in _classes_defining(sklearn_api, "fit"):
                self.wrap(cls, "fit", fit_hooks)
            for method in ("predict", "predict_proba"):
                for cls in _classes_defining(sklearn_api, method):
                    self.wrap(cls, method, predict_hooks)

    def _unpatch(self) -> None:
        super()._unpatch()
        post.METRIC_FUNCTIONS.detach(self.name)

    # -- before: open the run, record params and data ----------------------------------------

    def _training_hook(
        self, api: str, sig: _Signature
    ) -> Callable[[Any, tuple[Any, ...], dict[str, Any]], Training]:
        def before(_instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Training:
            call = sig.bind(args, kwargs)
            state = Training(open_run(self.options), self.options, api)
            with capture_internal_errors("xgboost: recording params"):
                state.run.set_tag(_tags.XGBOOST_CALL, f"xgboost.{api}")
                if api == "train":
                    state.run.set_tags(_BOOSTER_TAGS)
                params = booster_params(call.get("params"))
                record.log_params(
                    state.run, {**params, **training_args(sig.names, sig.defaults, call)}
                )
                state.run.set_tags(fit_tags(call.get("params"), library="xgboost"))
            if api == "train":
                _note_evals(state, call)
                if self.options.log_models and call.get("dtrain") is not None:
                    with capture_internal_errors("xgboost: reading the DMatrix's signature"):
                        state.signature = dmatrix_signature(call["dtrain"])
            else:  # cv always evaluates its folds
                state.early_stopping = _uses_early_stopping(call)
            if self.options.log_datasets and call.get("dtrain") is not None:
                found = None
                with capture_internal_errors("xgboost: fingerprinting the training data"):
                    found = dmatrix_fingerprint(call["dtrain"])
                    record.log_dataset(state.run, found)
                if api == "train":
                    with capture_internal_errors("xgboost: fingerprinting the evaluation data"):
                        evals = [(str(e[1]), e[0], None) for e in call.get("evals") or ()]
                        log_eval_inputs(state.run, evals, call["dtrain"], found)
            return state

        return before

    def _before_fit(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Training:
        state = Training(open_run(self.options), self.options, "fit")
        x = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        with capture_internal_errors("xgboost: recording params"):
            cls = type(instance)
            state.run.set_tags(
                {
                    _tags.XGBOOST_CALL: f"xgboost.{cls.__name__}.fit",
                    **record.estimator_tags(instance),
                }
            )
            record.log_params(state.run, estimator_params(instance, kwargs))
            state.run.set_tags(fit_tags(xgboost_seed_params(instance), library="xgboost"))
        if self.options.log_datasets:
            found = None
            with capture_internal_errors("xgboost: fingerprinting the training data"):
                found = fingerprint(x, y)
                record.log_dataset(state.run, found)
            with capture_internal_errors("xgboost: fingerprinting the evaluation data"):
                pairs = kwargs.get("eval_set") or ()
                evals = [(f"validation_{i}", p[0], p[1]) for i, p in enumerate(pairs)]
                log_eval_inputs(state.run, evals, x, found)
        if self.options.log_models:
            with capture_internal_errors("xgboost: taking an input example"):
                state.input_example = record.first_rows(x)
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
            post.remember_model(model, state.run, state.options.log_datasets)
            with capture_internal_errors("xgboost: recording feature importances"):
                names, importances = feature_importances(booster)
                if importances:
                    record.log_feature_importances(
                        state.run, type(model).__name__, names, importances
                    )
            if state.options.log_models:
                with capture_internal_errors("xgboost: logging the model"), marked():
                    record.log_model(
                        state.run,
                        model,
                        state.options,
                        state.input_example,
                        signature=state.signature,
                    )
        finally:
            state.opened.close()


_BOOSTER_TAGS = {_tags.ESTIMATOR_NAME: "Booster", _tags.ESTIMATOR_CLASS: "xgboost.core.Booster"}


def _failed(state: Training, error: BaseException) -> None:
    if state.callback is not None:  # the rounds trained before the error
        state.callback.flush()
    state.opened.close(error)


# -- the metrics callback -----------------------------------------------------------------------


def _add_callback(
    sig: _Signature, state: Training, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> _Arguments:
    """The call's arguments with the metrics callback appended to a copy of `callbacks`."""
    from autolog.integrations.xgboost._callback import MetricsCallback

    call = sig.bind(args, kwargs)
    state.callback = MetricsCallback(
        state.run, cv=state.api == "cv", continued=call.get("xgb_model") is not None
    )
    given = call.get("callbacks")
    return sig.replace(args, kwargs, "callbacks", [*(given or ()), state.callback])


def _nested_train(
    sig: _Signature, outer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> _Arguments:
    """`train` called by a scikit-learn API `fit`: add the callback, for the fit's run."""
    # Only the first train of an XGBModel.fit: a train inside a user's callback or
    # objective must not write into the outer training's metrics.
    if not isinstance(outer, Training) or outer.api != "fit" or outer.callback is not None:
        return args, kwargs
    _note_evals(outer, sig.bind(args, kwargs))
    return _add_callback(sig, outer, args, kwargs)


def _note_evals(state: Training, call: Mapping[str, Any]) -> None:
    with capture_internal_errors("xgboost: recording evals"):
        state.early_stopping = _uses_early_stopping(call)
        evals = list(call.get("evals") or ())
        if not evals:
            state.run.set_tag(_tags.XGBOOST_EVALS, "none")
            return
        # Malformed entries are XGBoost's to reject, right after this.
        names = [str(e[1]) if isinstance(e, (tuple, list)) and len(e) == 2 else "?" for e in evals]
        record.log_params(state.run, {"evals": ",".join(names)})


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
    rounds = callback.rounds
    if rounds:
        metrics["stopped_iteration"] = callback.start_round + rounds - 1
    if metrics:
        state.run.log_metrics(metrics)
    if state.api != "cv" and rounds and callback.best_iteration is not None:
        # MLflow's convention: the best round's values, logged again one step past the
        # last, are each metric's latest value.
        best = callback.values_at(callback.best_iteration - callback.start_round)
        if best:
            state.run.log_metrics(best, step=callback.start_round + rounds)


# -- data and model -----------------------------------------------------------------------------


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
