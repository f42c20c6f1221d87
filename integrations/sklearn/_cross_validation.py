"""scikit-learn's cross-validation functions: one parent run per call, a child run per fold.

`cross_validate`, `cross_val_score`, `cross_val_predict`, `learning_curve`,
`validation_curve` and `permutation_test_score` of `sklearn.model_selection` are
patched where scikit-learn defines them (`_validation`, when it is imported; the
package re-exports what is there then). The fits inside a call are nested calls,
not runs, wherever they happen: in this thread, in joblib's worker threads (they
carry the caller's marker) or in worker processes (loky's fresh interpreters
have nothing patched). Everything is recorded from what the function returns,
after it returns, in the caller's thread, so the children land under the parent
whatever the backend.

The parent run holds the estimator's params (as a fit's run), the call's own
arguments as `cv_*` params (`cv_folds`, `cv_scoring`, `cv_splitter`...), the
data's fingerprint, `mean_<key>` and `std_<key>` metrics over the folds (the
names of a search's `cv_results_`: `mean_test_score`, `mean_fit_time`), and
`cross_validation.json` with every fold's values. Each fold's child run holds
its values as `<key>` metrics (`test_score`, `fit_time`). `learning_curve` and
`validation_curve` log one step per training size or param value.
`permutation_test_score` returns no fold scores: its run has `test_score`,
`pvalue` and the permutation scores' mean and std, and no children.
`cross_val_predict` returns predictions, not scores: its children hold only
the fold's number (and model, when asked), and a metric later computed on the
predictions (`accuracy_score(y, predicted)`) is logged on its run.

Fold models are not logged unless `enable(log_fold_models=True)`: then
`cross_validate` is asked for its estimators (`return_estimator=True`, removed
from the result when the caller did not ask), which works with any backend; the
other functions' fold estimators are the clones scikit-learn dispatches, fitted
in place in this process or in worker threads only (with worker processes the
child is tagged `autolog.model.skipped`).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autolog import _tags
from autolog._patching import record
from autolog._patching.enable import AutologOptions
from autolog._patching.integration import CallHooks
from autolog._patching.placement import OpenedRun, open_run
from autolog._safety import capture_internal_errors
from autolog._tracking import runs as _runs
from autolog._tracking.runs import ActiveRun

if TYPE_CHECKING:
    import numpy as np  # imported where used: enabling autolog imports no numpy

__all__ = ["FUNCTIONS", "CrossValidation", "cross_validation_hooks"]

FUNCTIONS = (
    "cross_validate",
    "cross_val_score",
    "cross_val_predict",
    "learning_curve",
    "validation_curve",
    "permutation_test_score",
)
SCORES_ARTIFACT = "cross_validation.json"
# The function of scikit-learn's that fits one fold, for the functions whose fold
# models are the estimators it is dispatched with.
_FOLD_TASKS = {"cross_val_score": ("_fit_and_score",), "cross_val_predict": ("_fit_and_predict",)}
# The call's arguments logged as `cv_<name>` params (data and runtime knobs are not);
# `cv` itself as `cv_folds` (the number of folds) and `cv_splitter` (a splitter object).
_CALL_PARAMS = (
    "scoring",
    "method",
    "param_name",
    "param_range",
    "train_sizes",
    "n_permutations",
    "exploit_incremental_learning",
    "return_train_score",
)
_NOT_FITTED = (
    "fold models come back from worker processes only with cross_validate"
    " (return_estimator=True); use n_jobs=1 or a threading backend for the others"
)


@dataclass
class CrossValidation:
    """One autologged cross-validation call in progress."""

    opened: OpenedRun
    function: str
    estimator: Any
    X: Any
    arguments: dict[str, Any]
    fold_models: bool
    log_datasets: bool
    added_estimator: bool = False
    dispatched: list[Any] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)  # a learning curve's training sizes

    @property
    def run(self) -> ActiveRun:
        return self.opened.run

    def dispatched_task(self, function: Any, args: tuple[Any, ...]) -> None:
        """Keep the estimator of a fold's task scikit-learn dispatches, when fold models are asked.

        Only the folds' own tasks: an estimator fitting in parallel inside a fold (a
        forest's trees) dispatches tasks of its own through the same machinery.
        """
        if (
            self.fold_models
            and getattr(function, "__name__", None) in _FOLD_TASKS.get(self.function, ())
            and args
            and hasattr(args[0], "get_params")
        ):
            self.dispatched.append(args[0])


def cross_validation_hooks(
    function: str, original: Callable[..., Any], options: Callable[[], AutologOptions]
) -> CallHooks[CrossValidation]:
    """The hooks of one of `FUNCTIONS` (`original` is scikit-learn's function)."""
    signature = inspect.signature(original)

    def before(_instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            bound = signature.bind_partial(*args, **kwargs).arguments
        except TypeError:  # the call itself is wrong: scikit-learn says how
            return None
        estimator = bound.get("estimator")
        if estimator is None or not hasattr(estimator, "get_params"):
            return None
        current = options()
        state = CrossValidation(
            open_run(current),
            function,
            estimator,
            bound.get("X"),
            bound,
            fold_models=current.log_models and current.log_fold_models,
            log_datasets=current.log_datasets,
        )
        _log_call(state, bound, current)
        return state

    def arguments(
        state: CrossValidation, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if (
            state.fold_models
            and state.function == "cross_validate"
            and not state.arguments.get("return_estimator")
        ):
            state.added_estimator = True
            return args, {**kwargs, "return_estimator": True}
        return args, kwargs

    def after(state: CrossValidation, _instance: Any, result: Any) -> None:
        from autolog._patching.integration import marked

        with marked():
            _after(state, result)

    def _after(state: CrossValidation, result: Any) -> None:
        try:
            folds = _record_result(state, result)
            estimators = _fold_estimators(state, result)
        finally:
            if state.added_estimator and isinstance(result, dict):
                result.pop("estimator", None)  # the caller did not ask for it
        try:
            with capture_internal_errors(f"sklearn: {function} fold runs"):
                _log_folds(state, folds, estimators, options())
        finally:
            state.opened.close()

    return CallHooks(
        before=before,
        after=after,
        failed=lambda state, exc: state.opened.close(exc),
        arguments=arguments,
    )


# -- the parent run ------------------------------------------------------------------------


def _log_call(state: CrossValidation, bound: Mapping[str, Any], options: AutologOptions) -> None:
    from autolog._patching.fingerprint import fingerprint
    from autolog.integrations.sklearn._record import estimator_params

    run, estimator = state.run, state.estimator
    with capture_internal_errors("sklearn: logging cross-validation params"):
        params = estimator_params(estimator)
        params.update({f"cv_{k}": bound[k] for k in _CALL_PARAMS if bound.get(k) is not None})
        splitter = bound.get("cv")
        if splitter is not None and not isinstance(splitter, int):
            params["cv_splitter"] = splitter
        record.log_params(run, params)
        run.set_tags(
            {
                **record.estimator_tags(estimator),
                _tags.SKLEARN_METHOD: state.function,
                _tags.CV_FUNCTION: state.function,
            }
        )
    if options.log_datasets:
        with capture_internal_errors("sklearn: fingerprinting the cross-validated data"):
            record.log_dataset(run, fingerprint(bound.get("X"), bound.get("y")))


def _scores(function: str, result: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Per-fold values by key (arrays whose last axis is the fold) and other values."""
    import numpy as np

    if function == "cross_validate" and isinstance(result, Mapping):
        folds = {
            k: np.asarray(v, dtype=np.float64)
            for k, v in result.items()
            if k not in ("estimator", "indices") and np.ndim(v) == 1
        }
        return folds, {}
    if function == "cross_val_score":
        return {"test_score": np.asarray(result, dtype=np.float64)}, {}
    if function == "learning_curve":
        names = ("train_sizes", "train_score", "test_score", "fit_time", "score_time")
        parts = dict(zip(names, result, strict=False))
        sizes = parts.pop("train_sizes")
        return {k: np.asarray(v, dtype=np.float64) for k, v in parts.items()}, {
            "steps": [int(s) for s in sizes]
        }
    if function == "validation_curve":
        train, test = result
        return {
            "train_score": np.asarray(train, dtype=np.float64),
            "test_score": np.asarray(test, dtype=np.float64),
        }, {}
    if function == "permutation_test_score":
        score, permutations, pvalue = result
        return {}, {
            "test_score": float(score),
            "pvalue": float(pvalue),
            "permutation_scores": np.asarray(permutations, dtype=np.float64),
        }
    return {}, {}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _record_result(state: CrossValidation, result: Any) -> dict[str, np.ndarray]:
    """Log the parent's metrics and `cross_validation.json`; the per-fold values by key."""
    import numpy as np

    from autolog.integrations import _post_training as post

    run, function = state.run, state.function
    folds: dict[str, np.ndarray] = {}
    with capture_internal_errors(f"sklearn: {function} scores"):
        folds, other = _scores(function, result)
        steps: list[int] = other.get("steps") or []
        state.steps = steps
        artifact: dict[str, Any] = {"function": function}
        for key, values in folds.items():
            # numpy warns on an all-nan fold axis; nan means a failed fold (error_score)
            with np.errstate(all="ignore"):
                mean, std = np.nanmean(values, axis=-1), np.nanstd(values, axis=-1)
            if values.ndim == 1:
                run.log_metrics(
                    {
                        k: v
                        for k, v in ((f"mean_{key}", float(mean)), (f"std_{key}", float(std)))
                        if math.isfinite(v)
                    }
                )
            else:  # one row per training size or param value: one step each
                for i, (m, s) in enumerate(zip(mean.tolist(), std.tolist(), strict=True)):
                    step = steps[i] if steps else i
                    if math.isfinite(m):
                        run.log_metric(f"mean_{key}", m, step=step)
                    if math.isfinite(s):
                        run.log_metric(f"std_{key}", s, step=step)
            artifact[key] = [[_finite(v) for v in row] for row in np.atleast_2d(values).tolist()]
        if steps:
            artifact["train_sizes"] = steps
        if function == "validation_curve":
            artifact["param_range"] = [
                record.render_param(v) for v in state.arguments.get("param_range", [])
            ]
        if function == "permutation_test_score":
            permutations = other["permutation_scores"]
            run.log_metrics(
                {
                    k: v
                    for k, v in (
                        ("test_score", other["test_score"]),
                        ("pvalue", other["pvalue"]),
                        ("mean_permutation_score", float(np.mean(permutations))),
                        ("std_permutation_score", float(np.std(permutations))),
                    )
                    if math.isfinite(v)
                }
            )
            artifact["test_score"] = _finite(other["test_score"])
            artifact["pvalue"] = _finite(other["pvalue"])
            artifact["permutation_scores"] = [_finite(v) for v in permutations.tolist()]
        record.log_json(run, artifact, SCORES_ARTIFACT)
    if function == "cross_val_predict":
        with capture_internal_errors("sklearn: remembering cross_val_predict's predictions"):
            name = post.variable_name(state.X) or post.FALLBACK_NAME
            model = post.ModelRun(run, state.log_datasets)
            post.remember_prediction(result, model, name, state.X)
    return folds


# -- the child runs ------------------------------------------------------------------------


def _n_folds(state: CrossValidation, folds: Mapping[str, np.ndarray]) -> int:
    for values in folds.values():
        return int(values.shape[-1])
    if state.function == "cross_val_predict":
        return len(state.dispatched) or _n_splits(state)
    return 0


def _n_splits(state: CrossValidation) -> int:
    from sklearn.base import is_classifier
    from sklearn.model_selection import check_cv

    bound = state.arguments
    try:
        cv = check_cv(bound.get("cv"), bound.get("y"), classifier=is_classifier(state.estimator))
        return int(cv.get_n_splits(bound.get("X"), bound.get("y"), bound.get("groups")))
    except Exception:  # noqa: BLE001 - a splitter that cannot say before splitting
        return 0


def _fold_estimators(state: CrossValidation, result: Any) -> list[Any]:
    if not state.fold_models:
        return []
    if state.function == "cross_validate" and isinstance(result, Mapping):
        return list(result.get("estimator", []))
    if state.function in ("cross_val_score", "cross_val_predict"):
        return state.dispatched
    return []  # learning and validation curves fit many models per fold: none is "the" one


def _is_fitted(estimator: Any) -> bool:
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except Exception:  # noqa: BLE001 - NotFittedError, or an estimator check_is_fitted rejects
        return False
    return True


def _log_folds(
    state: CrossValidation,
    folds: Mapping[str, np.ndarray],
    estimators: list[Any],
    options: AutologOptions,
) -> None:

    if state.function == "permutation_test_score":
        record.log_params(state.run, {"cv_folds": _n_splits(state)})
        return
    run, steps = state.run, state.steps
    n_folds = _n_folds(state, folds)
    example = record.first_rows(state.X) if estimators else None  # for the models' signature
    if n_folds:
        record.log_params(run, {"cv_folds": n_folds})
    for i in range(n_folds):
        child = _runs.start_run(
            parent=run, experiment=run.experiment, activate=False, name=f"{run.name}-fold-{i}"
        )
        try:
            child.set_tags({_tags.CV_FOLD: str(i), _tags.SKLEARN_METHOD: state.function})
            for key, values in folds.items():
                column = values[..., i]
                if column.ndim == 0:
                    value = float(column)
                    if math.isfinite(value):
                        child.log_metric(key, value)
                    continue
                for j, value in enumerate(column.tolist()):
                    if math.isfinite(value):
                        child.log_metric(key, value, step=steps[j] if steps else j)
            if i < len(estimators):
                fold_model = estimators[i]
                if _is_fitted(fold_model):
                    record.log_model(child, fold_model, options, example)
                else:
                    child.set_tag(_tags.MODEL_SKIPPED, _NOT_FITTED)
        finally:
            child.end()
