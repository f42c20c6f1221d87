"""What an autologged scikit-learn fit records, and that the user's results do not change."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.cluster import KMeans
from sklearn.datasets import load_diabetes
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn_helpers import (
    all_runs,
    artifact_paths,
    classification_data,
    load_model,
    only_run,
)

import autolog
from autolog._patching.integration import AutologWrapper
from autolog.errors import ParamConflictError
from autolog.integrations.sklearn import _metrics as _sklearn_metrics

pytestmark = pytest.mark.usefixtures("sklearn_autolog")


def test_a_fit_records_params_tags_metrics_data_importances_and_the_model() -> None:
    X, y = classification_data()
    clf = LogisticRegression(C=0.5).fit(X, y)
    run = only_run()
    assert run.status.value == "FINISHED"
    assert run.params["C"] == "0.5" and run.params["class_weight"] == "None"
    assert run.tags["estimator_name"] == "LogisticRegression"
    assert run.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert run.tags["autolog.sklearn.method"] == "fit"
    for key in ("accuracy_score", "precision_score", "recall_score", "f1_score", "log_loss"):
        assert f"training_{key}" in run.metrics
    assert run.metrics["training_score"] == pytest.approx(clf.score(X, y))
    assert run.metrics["training_roc_auc"] > 0.5
    assert run.tags["autolog.data.X.shape"] == "80x4" and run.tags["autolog.data.y.shape"] == "80"
    files = artifact_paths(run.id)
    assert {"datasets/train.json", "feature_importances.json", "model/MLmodel"} <= files
    importances = json.loads(
        autolog.download_artifacts(run.id, "feature_importances.json").read_text()
    )
    assert importances["model"] == "LogisticRegression" and importances["types"] == ["coef_"]
    assert importances["features"][0] == "x0" and importances["features_total"] == 4
    assert importances["importances"]["coef_"][0] == pytest.approx(abs(clf.coef_[0, 0]))
    assert run.metrics["feature_importance.x0"] == pytest.approx(abs(clf.coef_[0, 0]))


def test_the_logged_model_loads_back_and_predicts_the_same() -> None:
    X, y = classification_data()
    clf = LogisticRegression().fit(X, y)
    loaded = load_model(f"runs:/{only_run().id}/model")
    assert type(loaded) is LogisticRegression
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_dataframe_columns_name_the_features_and_the_signature() -> None:
    X, y = classification_data()
    frame = pd.DataFrame(X, columns=["age", "height", "weight", "score"])
    RandomForestClassifier(n_estimators=5, random_state=0).fit(frame, y)
    run = only_run()
    assert run.tags["autolog.data.X.kind"] == "DataFrame"
    assert any(k.startswith("feature_importance.") for k in run.metrics)
    names = {k.removeprefix("feature_importance.") for k in run.metrics if "importance" in k}
    assert names <= {"age", "height", "weight", "score"}
    mlmodel = autolog.download_artifacts(run.id, "model/MLmodel").read_text()
    assert "age" in mlmodel and "signature" in mlmodel


def test_a_pipeline_is_one_run_with_every_step_s_params() -> None:
    X, y = classification_data()
    make_pipeline(StandardScaler(), LogisticRegression(C=2.0)).fit(X, y)
    run = only_run()
    assert run.tags["estimator_name"] == "Pipeline"
    assert run.params["logisticregression__C"] == "2.0"
    assert run.params["standardscaler__with_mean"] == "True"
    assert run.params["logisticregression"] == "LogisticRegression(C=2.0)"  # its repr, as MLflow
    assert run.params["steps"].startswith("[('standardscaler', StandardScaler()), ")
    assert "training_accuracy_score" in run.metrics


def test_a_search_logs_best_params_cv_results_and_child_runs_for_the_best() -> None:
    autolog.enable(integrations=["sklearn"], max_tuning_runs=2)
    X, y = classification_data(120)
    search = GridSearchCV(LogisticRegression(), {"C": [0.01, 0.1, 1.0, 10.0]}, cv=3)
    search.fit(X, y)
    runs = all_runs()
    parent = next(r for r in runs if r.parent_id is None)
    children = [r for r in runs if r.parent_id == parent.id]
    assert len(runs) == 3 and len(children) == 2
    assert parent.params["best_C"] == str(search.best_params_["C"])
    assert parent.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert "cv_results.csv" in artifact_paths(parent.id)
    csv = autolog.download_artifacts(parent.id, "cv_results.csv").read_text().splitlines()
    assert csv[0].startswith("mean_fit_time") and len(csv) == 5
    ranks = sorted(c.metrics["rank_test_score"] for c in children)
    assert ranks[0] == 1.0
    best = next(c for c in children if c.metrics["rank_test_score"] == 1.0)
    assert best.params["C"] == str(search.best_params_["C"])
    assert best.metrics["mean_test_score"] == pytest.approx(search.best_score_)
    # the candidate's full params, not only the grid's
    assert best.params["max_iter"] == "100" and best.params["solver"] == "lbfgs"
    # the best estimator is a model of its own, besides the search
    files = artifact_paths(parent.id)
    assert "model/MLmodel" in files and "best_estimator/MLmodel" in files
    refitted = load_model(f"runs:/{parent.id}/best_estimator")
    assert type(refitted) is LogisticRegression and search.best_params_["C"] == refitted.C
    assert (refitted.predict(X) == search.predict(X)).all()


def test_a_search_over_pipeline_steps_gives_children_the_chosen_steps_params() -> None:
    X, y = classification_data(90)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    grid = {"clf": [LogisticRegression(C=0.3), DecisionTreeClassifier(max_depth=2)]}
    GridSearchCV(pipe, grid, cv=3).fit(X, y)
    children = [r for r in all_runs() if r.parent_id is not None]
    tree = next(c for c in children if c.params["clf"].startswith("DecisionTree"))
    assert tree.params["clf__max_depth"] == "2" and tree.params["scale__with_mean"] == "True"
    logistic = next(c for c in children if c.params["clf"].startswith("LogisticRegression"))
    assert logistic.params["clf__C"] == "0.3"


def test_a_randomized_search_with_several_scorers_ranks_by_its_refit_scorer() -> None:
    X, y = classification_data(90)
    RandomizedSearchCV(
        LogisticRegression(),
        {"C": [0.1, 1.0, 10.0]},
        n_iter=3,
        cv=3,
        scoring=["accuracy", "f1"],
        refit="f1",
        random_state=0,
    ).fit(X, y)
    runs = all_runs()
    children = [r for r in runs if r.parent_id is not None]
    assert len(children) == 3
    assert all("mean_test_f1" in c.metrics and "rank_test_accuracy" in c.metrics for c in children)


def test_a_halving_search_logs_its_best_candidates_too() -> None:
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV

    X, y = classification_data(120)
    search = HalvingGridSearchCV(
        DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3, 4]}, cv=3, factor=2
    ).fit(X, y)
    runs = all_runs()
    parent = next(r for r in runs if r.parent_id is None)
    assert parent.tags["estimator_name"] == "HalvingGridSearchCV"
    assert parent.params["best_max_depth"] == str(search.best_params_["max_depth"])
    assert len(runs) == 1 + min(5, len(search.cv_results_["params"]))  # max_tuning_runs=5


def test_inside_a_user_run_the_first_fit_logs_into_it_and_later_ones_are_children() -> None:
    X, y = classification_data()
    with autolog.start_run(name="experiment") as outer:
        autolog.log_param("note", "mine")
        LogisticRegression().fit(X, y)
        LinearRegression().fit(X, y)
    runs = all_runs()
    user = next(r for r in runs if r.id == outer.id)
    assert user.params["note"] == "mine" and user.tags["estimator_name"] == "LogisticRegression"
    child = next(r for r in runs if r.id != outer.id)
    assert child.parent_id == outer.id and child.tags["estimator_name"] == "LinearRegression"


def test_a_param_the_user_already_logged_is_not_overwritten() -> None:
    X, y = classification_data()
    with autolog.start_run():
        autolog.log_param("C", "mine")
        LogisticRegression(C=3.0).fit(X, y)
        with pytest.raises(ParamConflictError):
            autolog.log_param("C", "other")
    run = only_run()
    assert run.params["C"] == "mine" and run.params["max_iter"] == "100"


def test_a_failing_fit_raises_the_same_exception_and_ends_its_run_failed() -> None:
    X, y = classification_data()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN") as caught:
        LogisticRegression().fit(X, y)
    run = only_run()
    assert run.status.value == "FAILED"
    assert run.tags["autolog.error"].startswith("ValueError")
    assert caught.value.__traceback__ is not None


def test_sample_weight_is_honoured_in_the_training_metrics() -> None:
    X, y = classification_data()
    w = np.where(y == 1, 5.0, 0.2)
    clf = LogisticRegression(C=0.01).fit(X, y, w)
    from sklearn.metrics import accuracy_score

    expected = accuracy_score(y, clf.predict(X), sample_weight=w)
    assert only_run().metrics["training_accuracy_score"] == pytest.approx(expected)


def test_a_regressor_and_a_clusterer_get_their_metrics() -> None:
    X, y = load_diabetes(return_X_y=True)
    LinearRegression().fit(X, y)
    KMeans(n_clusters=3, n_init=2, random_state=0).fit(X)
    regressor, clusterer = all_runs()
    assert {"training_r2_score", "training_root_mean_squared_error"} <= set(regressor.metrics)
    assert "training_silhouette_score" in clusterer.metrics
    assert "training_score" in clusterer.metrics  # KMeans.score: minus the inertia


def test_large_data_gets_its_metrics_on_every_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sklearn_metrics, "MAX_ROWS", 30)
    X, y = classification_data(100)
    clf = LogisticRegression().fit(X, y)
    run = only_run()
    assert run.metrics["training_accuracy_score"] == clf.score(X, y)
    assert not any(k.startswith("autolog.metrics.") for k in run.tags)


def test_options_turn_models_data_and_examples_off_and_add_tags() -> None:
    X, y = classification_data()
    autolog.enable(
        integrations=["sklearn"], log_models=False, log_datasets=False, extra_tags={"team": "a"}
    )
    LogisticRegression().fit(X, y)
    run = only_run()
    assert run.tags["team"] == "a"
    assert not any(k.startswith("autolog.data.") for k in run.tags)
    assert not any(p.startswith(("model/", "datasets/")) for p in artifact_paths(run.id))
    autolog.enable(integrations=["sklearn"])  # input examples are off by default
    LogisticRegression().fit(X, y)
    second = max(all_runs(), key=lambda r: r.start_time)
    files = artifact_paths(second.id)
    assert "model/MLmodel" in files and "model/input_example.json" not in files
    assert "signature" in autolog.download_artifacts(second.id, "model/MLmodel").read_text()
    autolog.enable(integrations=["sklearn"], log_input_examples=True)
    LogisticRegression().fit(X, y)
    third = max(all_runs(), key=lambda r: r.start_time)
    assert "model/input_example.json" in artifact_paths(third.id)


def test_registered_model_name_registers_each_logged_model() -> None:
    from autolog._registry import api as _registry

    autolog.enable(integrations=["sklearn"], registered_model_name="churn")
    X, y = classification_data()
    LogisticRegression().fit(X, y)
    version = _registry.get_model_version("churn", 1)
    assert version.run_id == only_run().id


def test_an_estimator_the_user_defines_after_enable_is_recorded() -> None:
    class Majority(ClassifierMixin, BaseEstimator):
        def __init__(self, smoothing: float = 1.0) -> None:
            self.smoothing = smoothing

        def fit(self, X: np.ndarray, y: np.ndarray) -> Majority:
            self.classes_, counts = np.unique(y, return_counts=True)
            self.majority_ = self.classes_[np.argmax(counts)]
            return self

        def predict(self, X: np.ndarray) -> np.ndarray:
            return np.full(len(X), self.majority_)

    assert isinstance(vars(Majority)["fit"], AutologWrapper)
    X, y = classification_data()
    Majority(smoothing=0.5).fit(X, y)
    run = only_run()
    assert run.params == {"smoothing": "0.5"}
    assert run.tags["estimator_name"] == "Majority"
    assert "training_accuracy_score" in run.metrics
    assert "cannot pickle" in run.tags["autolog.model.skipped"]  # a local class


def test_set_output_still_wraps_fit_transform_and_transform() -> None:
    X, _ = classification_data()
    frame = pd.DataFrame(X, columns=list("abcd"))
    scaler = StandardScaler().set_output(transform="pandas")
    out = scaler.fit_transform(frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list("abcd")
    assert only_run().tags["autolog.sklearn.method"] == "fit_transform"
    autolog.disable()
    again = StandardScaler().set_output(transform="pandas").fit_transform(frame)
    assert isinstance(again, pd.DataFrame)


def test_available_if_methods_keep_their_meaning() -> None:
    assert isinstance(vars(Pipeline)["fit_transform"], AutologWrapper)
    X, _ = classification_data()
    classifier_pipe = make_pipeline(StandardScaler(), LogisticRegression())
    assert not hasattr(classifier_pipe, "fit_transform")
    assert hasattr(classifier_pipe, "predict_proba")
    assert not hasattr(make_pipeline(StandardScaler(), LinearRegression()), "predict_proba")
    transformer_pipe = make_pipeline(StandardScaler())
    out = transformer_pipe.fit_transform(X)
    assert out.shape == X.shape
    assert only_run().tags["estimator_name"] == "Pipeline"


def test_predictions_of_random_estimators_do_not_shift_the_global_random_state() -> None:
    X, y = classification_data()

    def script() -> np.ndarray:
        np.random.seed(7)
        clf = DummyClassifier(strategy="stratified").fit(X, y)
        return np.concatenate([clf.predict(X), np.random.random(3)])

    logged = script()
    autolog.disable()
    bare = script()
    np.testing.assert_array_equal(logged, bare)


def test_xgboost_estimators_are_left_to_their_own_integration() -> None:
    xgboost = pytest.importorskip("xgboost")
    assert not isinstance(vars(xgboost.XGBModel)["fit"], AutologWrapper)
    assert not isinstance(vars(xgboost.XGBClassifier)["fit"], AutologWrapper)
