"""Cross-validation functions: one parent run per call, a child run per fold (real scikit-learn)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from joblib import parallel_backend
from sklearn import metrics
from sklearn import model_selection as ms  # functions read at the call: the patched ones
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn_helpers import all_runs, artifact_paths, classification_data

import autolog
from autolog import Run


@pytest.fixture(autouse=True)
def _on(sklearn_autolog: None) -> None:
    """scikit-learn autologging on for every test of this module."""


def _family() -> tuple[Run, list[Run]]:
    """The one parent run and its children, ordered by fold."""
    runs = all_runs()
    parents = [r for r in runs if r.parent_id is None]
    assert len(parents) == 1, [r.name for r in parents]
    children = [r for r in runs if r.parent_id == parents[0].id]
    assert len(children) == len(runs) - 1
    return parents[0], sorted(children, key=lambda r: int(r.tags["autolog.cv.fold"]))


def test_cross_val_score_is_one_parent_with_a_child_per_fold_and_no_models() -> None:
    X, y = classification_data(100)
    scores = ms.cross_val_score(LogisticRegression(C=0.5), X, y, cv=4)
    parent, children = _family()
    assert parent.tags["autolog.cv.function"] == "cross_val_score"
    assert parent.tags["estimator_name"] == "LogisticRegression"
    assert parent.params["C"] == "0.5" and parent.params["cv_folds"] == "4"
    assert parent.metrics["mean_test_score"] == pytest.approx(scores.mean(), abs=1e-12)
    assert parent.metrics["std_test_score"] == pytest.approx(scores.std(), abs=1e-12)
    assert [c.metrics["test_score"] for c in children] == pytest.approx(list(scores))
    assert "autolog.data.hash" in parent.tags
    stored = json.loads(autolog.download_artifacts(parent.id, "cross_validation.json").read_text())
    assert stored["test_score"] == [pytest.approx(list(scores))]
    assert not any(p.startswith("model/") for c in children for p in artifact_paths(c.id))
    assert not any(p.startswith("model/") for p in artifact_paths(parent.id))


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_folds_run_in_parallel_land_under_the_parent(backend: str) -> None:
    X, y = classification_data(100)
    with parallel_backend(backend):
        scores = ms.cross_val_score(LogisticRegression(), X, y, cv=3, n_jobs=2)
    _, children = _family()
    assert [c.metrics["test_score"] for c in children] == pytest.approx(list(scores))


def test_cross_validate_logs_every_key_and_fold_models_when_asked() -> None:
    autolog.enable(integrations=["sklearn"], log_fold_models=True)
    X, y = classification_data(90)
    with parallel_backend("loky"):  # return_estimator brings the models back from processes
        result = ms.cross_validate(
            LogisticRegression(), X, y, cv=3, n_jobs=2, scoring=["accuracy", "f1"],
            return_train_score=True,
        )  # fmt: skip
    assert "estimator" not in result  # asked by autolog, not by the caller: removed
    parent, children = _family()
    for key in ("test_accuracy", "test_f1", "train_accuracy", "fit_time", "score_time"):
        assert parent.metrics[f"mean_{key}"] == pytest.approx(np.mean(result[key]), abs=1e-12)
        assert [c.metrics[key] for c in children] == pytest.approx(list(result[key]))
    assert parent.params["cv_scoring"] == "['accuracy', 'f1']"
    for child in children:
        model = autolog.load_model(f"runs:/{child.id}/model")
        assert model.predict(X).shape == (90,)


def test_fold_models_of_cross_val_score_in_this_process() -> None:
    autolog.enable(integrations=["sklearn"], log_fold_models=True)
    X, y = classification_data(90)
    # the folds one after the other, and the forest fits its trees in threads inside
    # each: the tasks of its trees pass through the same dispatch, but are no folds
    forest = RandomForestClassifier(n_estimators=4, n_jobs=2, random_state=0)
    ms.cross_val_score(forest, X, y, cv=ms.KFold(3))
    parent, children = _family()
    assert parent.params["cv_splitter"].startswith("KFold(")
    assert all("model/MLmodel" in artifact_paths(c.id) for c in children)
    model = autolog.load_model(f"runs:/{children[2].id}/model")
    assert type(model) is RandomForestClassifier and len(model.estimators_) == 4
    mlmodel = autolog.download_artifacts(children[0].id, "model/MLmodel").read_text()
    assert "signature" in mlmodel and "input_example.json" not in mlmodel


def test_learning_and_validation_curves_log_a_step_per_size_or_value() -> None:
    X, y = classification_data(120)
    sizes, train, test = ms.learning_curve(LogisticRegression(), X, y, cv=3, train_sizes=[0.5, 1.0])
    parent, children = _family()
    history = autolog.get_metric_history(parent.id, "mean_test_score")
    assert [m.step for m in history] == [int(s) for s in sizes]
    assert [m.value for m in history] == pytest.approx(list(test.mean(axis=1)))
    fold = autolog.get_metric_history(children[1].id, "train_score")
    assert [m.value for m in fold] == pytest.approx(list(train[:, 1]))


def test_validation_curve_steps_are_the_param_values_positions() -> None:
    X, y = classification_data(120)
    _, test = ms.validation_curve(
        LogisticRegression(), X, y, param_name="C", param_range=[0.01, 1.0, 100.0], cv=3
    )
    parent, children = _family()
    assert parent.params["cv_param_name"] == "C"
    assert parent.params["cv_param_range"] == "[0.01, 1.0, 100.0]"
    assert len(children) == 3
    history = autolog.get_metric_history(parent.id, "mean_test_score")
    assert [m.step for m in history] == [0, 1, 2]
    assert [m.value for m in history] == pytest.approx(list(test.mean(axis=1)))


def test_permutation_test_score_logs_its_score_and_pvalue() -> None:
    X, y = classification_data(80)
    score, permutations, pvalue = ms.permutation_test_score(
        LogisticRegression(), X, y, cv=3, n_permutations=4, random_state=0
    )
    (run,) = all_runs()
    assert run.metrics["test_score"] == pytest.approx(score)
    assert run.metrics["pvalue"] == pytest.approx(pvalue)
    assert run.metrics["mean_permutation_score"] == pytest.approx(permutations.mean())


def test_a_metric_of_cross_val_predict_is_logged_on_its_run() -> None:
    X, y = classification_data(80)
    predicted = ms.cross_val_predict(LogisticRegression(), X, y, cv=4)
    accuracy = metrics.accuracy_score(y, predicted)
    parent, children = _family()
    assert len(children) == 4
    assert parent.metrics["accuracy_score_X"] == pytest.approx(accuracy)


def test_inside_a_users_run_the_call_logs_into_it() -> None:
    X, y = classification_data(60)
    with autolog.start_run() as run:
        ms.cross_val_score(LogisticRegression(), X, y, cv=3)
    parent, children = _family()
    assert parent.id == run.id and len(children) == 3


def test_a_failing_call_fails_its_run_and_reaches_the_caller() -> None:
    X, y = classification_data(60)
    with pytest.raises(ValueError):
        ms.cross_val_score(LogisticRegression(C=-1.0), X, y, cv=3, error_score="raise")
    (run,) = all_runs()
    assert run.status == "FAILED"
