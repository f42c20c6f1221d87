"""How the XGBoost integration patches, places runs, and survives its own failures."""

from __future__ import annotations

import importlib
import logging
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
import xgboost.sklearn
import xgboost.training

import autolog
from autolog import _safety
from autolog._entities import RunStatus
from autolog._patching.integration import AutologWrapper
from autolog._tracking.runs import ActiveRun

FIT_CLASSES = ["XGBModel", "XGBClassifier", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor"]

# Imported fixtures are used by pytest, not by name.
pytestmark = pytest.mark.usefixtures("autolog_xgboost")


def _data(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4))
    return x, (x[:, 0] > 0).astype(int)


def test_train_is_one_wrapper_under_every_name() -> None:
    assert isinstance(xgboost.training.train, AutologWrapper)
    assert xgb.train is xgboost.training.train
    assert vars(xgboost.sklearn)["train"] is xgboost.training.train
    assert xgb.cv is xgboost.training.cv
    assert isinstance(xgb.cv, AutologWrapper)


def test_fit_is_patched_where_a_class_defines_it() -> None:
    for name in FIT_CLASSES:
        cls = getattr(xgboost.sklearn, name)
        assert "fit" in vars(cls), name
        assert isinstance(vars(cls)["fit"], AutologWrapper), name
    # XGBRegressor inherits XGBModel.fit: nothing is added to its class.
    assert "fit" not in vars(xgboost.sklearn.XGBRegressor)


def test_disable_restores_the_originals_and_enable_patches_again() -> None:
    autolog.disable("xgboost")
    original_train = xgboost.training.train
    original_fit = vars(xgboost.sklearn.XGBClassifier)["fit"]
    assert not isinstance(original_train, AutologWrapper)
    assert xgb.train is original_train
    assert vars(xgboost.sklearn)["train"] is original_train
    assert "fit" not in vars(xgboost.sklearn.XGBRegressor)
    autolog.enable("xgboost")
    autolog.enable("xgboost")  # a second enable is a no-op
    wrapper = xgboost.training.train
    assert isinstance(wrapper, AutologWrapper)
    assert wrapper.__wrapped__ is original_train  # wrapped once, not twice
    assert vars(xgboost.sklearn.XGBClassifier)["fit"].__wrapped__ is original_fit
    autolog.disable("xgboost")
    assert xgboost.training.train is original_train
    assert vars(xgboost.sklearn.XGBClassifier)["fit"] is original_fit
    autolog.enable("xgboost")


def test_disabled_records_nothing() -> None:
    autolog.disable("xgboost")
    x, y = _data()
    xgb.train({}, xgb.DMatrix(x, y), 2)
    xgb.XGBClassifier(n_estimators=2).fit(x, y)
    assert autolog.search_runs() == []


@pytest.mark.parametrize("cls", ["XGBClassifier", "XGBRegressor", "XGBRFClassifier"])
def test_one_fit_gives_one_run(cls: str) -> None:
    x, y = _data()
    getattr(xgb, cls)(n_estimators=3).fit(x, y, eval_set=[(x, y)], verbose=False)
    runs = autolog.search_runs()
    assert len(runs) == 1
    assert runs[0].tags["autolog.xgboost.call"] == f"xgboost.{cls}.fit"


def test_first_training_in_a_user_run_logs_into_it_later_ones_are_children() -> None:
    x, y = _data()
    dtrain = xgb.DMatrix(x, y)
    with autolog.start_run(name="experiment") as run:
        xgb.train({"max_depth": 2}, dtrain, 2)
        xgb.XGBClassifier(n_estimators=2).fit(x, y)
    runs = autolog.search_runs()
    assert len(runs) == 2
    parent = next(r for r in runs if r.id == run.id)
    child = next(r for r in runs if r.id != run.id)
    assert parent.params["max_depth"] == "2"
    assert parent.tags["autolog.xgboost.call"] == "xgboost.train"
    assert child.parent_id == run.id
    assert child.tags["autolog.xgboost.call"] == "xgboost.XGBClassifier.fit"
    assert parent.status is RunStatus.FINISHED


def test_training_error_reaches_the_caller_and_fails_the_run() -> None:
    x, y = _data()
    with pytest.raises(xgb.core.XGBoostError, match="no_such_objective"):
        xgb.train({"objective": "no_such_objective"}, xgb.DMatrix(x, y), 2)
    (run,) = autolog.search_runs()
    assert run.status is RunStatus.FAILED
    assert "no_such_objective" in run.tags["autolog.error"]


def test_user_callback_error_reaches_the_caller_unchanged() -> None:
    class Boom(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            raise KeyError("user bug")

    x, y = _data()
    with pytest.raises(KeyError, match="user bug"):
        xgb.train({}, xgb.DMatrix(x, y), 3, callbacks=[Boom()])
    (run,) = autolog.search_runs()
    assert run.status is RunStatus.FAILED


@pytest.mark.no_strict
def test_metric_logging_errors_never_stop_training(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    x, y = _data()
    dtrain = xgb.DMatrix(x, y)
    params = {"objective": "binary:logistic", "max_depth": 2}
    autolog.disable("xgboost")
    expected: dict[str, Any] = {}
    bare = xgb.train(params, dtrain, 6, evals=[(dtrain, "train")], evals_result=expected)
    autolog.enable("xgboost")

    def broken(self: ActiveRun, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("store on fire")

    monkeypatch.setattr(ActiveRun, "log_metrics", broken)
    got: dict[str, Any] = {}
    with caplog.at_level(logging.WARNING, logger="autolog"):
        booster = xgb.train(params, dtrain, 6, evals=[(dtrain, "train")], evals_result=got)
    assert booster.num_boosted_rounds() == 6
    assert got == expected
    np.testing.assert_array_equal(booster.predict(dtrain), bare.predict(dtrain))
    assert any(isinstance(e, RuntimeError) for e in _safety.swallowed)
    assert "store on fire" in caplog.text
    (run,) = autolog.search_runs()
    assert run.status is RunStatus.FINISHED


@pytest.mark.no_strict
def test_errors_before_and_after_training_are_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    integration = importlib.import_module("autolog.integrations.xgboost")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("autolog bug")

    monkeypatch.setattr(integration, "booster_params", broken)
    monkeypatch.setattr(integration, "feature_importances", broken)
    monkeypatch.setattr(integration, "fingerprint", broken)
    x, y = _data()
    model = xgb.XGBClassifier(n_estimators=3).fit(x, y, eval_set=[(x, y)], verbose=False)
    assert model.get_booster().num_boosted_rounds() == 3
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(x, y), 3)
    assert booster.num_boosted_rounds() == 3
    assert len(_safety.swallowed) >= 3
    runs = autolog.search_runs()
    assert len(runs) == 2
    assert all(r.status is RunStatus.FINISHED for r in runs)


@pytest.mark.no_strict
def test_a_failing_callback_injection_still_trains(monkeypatch: pytest.MonkeyPatch) -> None:
    from autolog.integrations.xgboost import _callback as _xgb_callback

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("cannot build the callback")

    monkeypatch.setattr(_xgb_callback, "MetricsCallback", broken)
    x, y = _data()
    user_callbacks: list[Any] = []
    booster = xgb.train({}, xgb.DMatrix(x, y), 3, callbacks=user_callbacks)
    assert booster.num_boosted_rounds() == 3
    assert user_callbacks == []
    (run,) = autolog.search_runs()
    assert run.status is RunStatus.FINISHED


def test_train_inside_a_user_objective_does_not_write_into_the_outer_run() -> None:
    x, y = _data()
    dtrain = xgb.DMatrix(x, y)
    inner_results: list[dict[str, Any]] = []

    def objective(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not inner_results:
            result: dict[str, Any] = {}
            xgb.train(
                {}, dtrain, 2, evals=[(dtrain, "inner")], evals_result=result, verbose_eval=False
            )
            inner_results.append(result)
        return y_pred - y_true, np.ones_like(y_pred)

    model = xgb.XGBRegressor(n_estimators=3, objective=objective)
    model.fit(x, y, eval_set=[(x, y)], verbose=False)
    (run,) = autolog.search_runs()
    assert "inner-rmse" not in run.metrics
    assert "validation_0-rmse" in run.metrics


def test_pipeline_and_grid_search_give_one_run() -> None:
    pytest.importorskip("sklearn")
    try:
        autolog.enable(["sklearn", "xgboost"])
    except ImportError:
        pytest.skip("the scikit-learn integration is not there yet")
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _data()
    try:
        make_pipeline(StandardScaler(), xgb.XGBClassifier(n_estimators=3)).fit(x, y)
        (pipeline_run,) = autolog.search_runs()
        assert "autolog.xgboost.call" not in pipeline_run.tags
        search = GridSearchCV(xgb.XGBClassifier(n_estimators=2), {"max_depth": [2, 3]}, cv=2)
        search.fit(x, y)
        new = [r for r in autolog.search_runs() if r.id != pipeline_run.id]
        (search_run,) = [r for r in new if r.parent_id is None]
        # XGBoost's patches add no run: any other run is one of the search's candidates.
        assert all(r.parent_id == search_run.id for r in new if r is not search_run)
        assert all("autolog.xgboost.call" not in r.tags for r in new)
    finally:
        autolog.disable("sklearn")


def test_metrics_on_predictions_are_logged_on_the_model_run() -> None:
    pytest.importorskip("sklearn")
    try:
        autolog.enable(["sklearn", "xgboost"])
    except ImportError:
        pytest.skip("the scikit-learn integration is not there yet")
    from sklearn.metrics import accuracy_score, roc_auc_score

    x, y = _data(200)
    x_train, y_train, x_test, y_test = x[:150], y[:150], x[150:], y[150:]
    try:
        clf = xgb.XGBClassifier(n_estimators=3).fit(x_train, y_train)
        accuracy = accuracy_score(y_test, clf.predict(x_test))
        dtest = xgb.DMatrix(x_test, y_test)
        booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(x_train, y_train), 3)
        auc = roc_auc_score(y_test, booster.predict(dtest))
    finally:
        autolog.disable("sklearn")
    runs = {r.tags["autolog.xgboost.call"]: r for r in autolog.search_runs()}
    assert runs["xgboost.XGBClassifier.fit"].metrics["accuracy_score_x_test"] == accuracy
    assert runs["xgboost.train"].metrics["roc_auc_score_dtest"] == auc


def test_post_training_metrics_need_only_the_xgboost_integration() -> None:
    from sklearn.metrics import accuracy_score

    from autolog._patching.enable import enabled_integrations

    autolog.disable()
    autolog.enable("xgboost")
    try:
        assert enabled_integrations() == ["xgboost"]
        x, y = _data(200)
        x_train, y_train, x_test, y_test = x[:150], y[:150], x[150:], y[150:]
        model = xgb.XGBClassifier(n_estimators=3).fit(x_train, y_train)
        accuracy = accuracy_score(y_test, model.predict(x_test))
        (run,) = autolog.search_runs()
        assert run.metrics["accuracy_score_x_test"] == accuracy
        # Switching the scikit-learn integration on and off keeps XGBoost's metrics.
        autolog.enable("sklearn")
        autolog.disable("sklearn")
        accuracy_score(y_test, model.predict(x_test))
        assert autolog.get_run(run.id).metrics["accuracy_score_x_test-2"] == accuracy
    finally:
        autolog.disable()
    accuracy_score(y_test, model.predict(x_test))  # off: nothing more is logged
    assert "accuracy_score_x_test-3" not in autolog.get_run(run.id).metrics
