"""partial_fit: one run per estimator, a step per call, ended when training is over."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn_helpers import all_runs, artifact_paths, classification_data

import autolog
from autolog import get_metric_history

pytestmark = pytest.mark.usefixtures("sklearn_autolog")


def _batches(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    X, y = classification_data(40 * n)
    return [(X[i : i + 40], y[i : i + 40]) for i in range(0, 40 * n, 40)]


def test_calls_are_steps_of_one_running_run_ended_when_the_estimator_is_freed() -> None:
    clf = SGDClassifier(random_state=0)
    for X, y in _batches(5):
        clf.partial_fit(X, y, classes=[0, 1])
    (run,) = all_runs()
    assert run.status.value == "RUNNING"
    assert run.params["loss"] == "hinge" and run.tags["autolog.sklearn.method"] == "partial_fit"
    steps = [m.step for m in get_metric_history(run.id, "training_accuracy_score")]
    assert steps[0] == 0 and steps == sorted(set(steps)) and steps[-1] <= 4
    del clf
    gc.collect()
    (run,) = all_runs()
    assert run.status.value == "FINISHED"
    assert run.tags["autolog.partial_fit.ended"] == "estimator freed"
    assert run.metrics["partial_fit_calls"] == 5


def test_a_later_fit_ends_the_partial_fit_run_with_its_model() -> None:
    clf = GaussianNB()
    for X, y in _batches(3):
        clf.partial_fit(X, y, classes=[0, 1])
    X, y = classification_data()
    clf.fit(X, y)
    first, second = all_runs()
    assert first.status.value == "FINISHED"
    assert first.tags["autolog.partial_fit.ended"] == "fit called"
    assert "model/MLmodel" in artifact_paths(first.id)
    assert second.tags["autolog.sklearn.method"] == "fit" and second.status.value == "FINISHED"


def test_two_estimators_trained_in_turn_get_a_run_each() -> None:
    a, b = SGDClassifier(random_state=0), SGDClassifier(random_state=1, alpha=0.01)
    for X, y in _batches(3):
        a.partial_fit(X, y, classes=[0, 1])
        b.partial_fit(X, y, classes=[0, 1])
    runs = all_runs()
    assert len(runs) == 2
    assert {r.params["alpha"] for r in runs} == {"0.0001", "0.01"}


def test_disable_ends_open_partial_fit_runs() -> None:
    clf = SGDClassifier(random_state=0)
    X, y = classification_data()
    clf.partial_fit(X, y, classes=[0, 1])
    autolog.disable()
    (run,) = all_runs()
    assert run.status.value == "FINISHED"
    assert run.tags["autolog.partial_fit.ended"] == "autologging disabled"


def test_partial_fit_results_are_unchanged() -> None:
    def train() -> np.ndarray:
        clf = SGDClassifier(random_state=0)
        for X, y in _batches(4):
            clf.partial_fit(X, y, classes=[0, 1])
        return clf.coef_.copy()

    logged = train()
    autolog.disable()
    np.testing.assert_array_equal(logged, train())


def test_inside_a_user_run_partial_fit_logs_into_it_and_leaves_it_open() -> None:
    clf = SGDClassifier(random_state=0)
    with autolog.start_run() as outer:
        for X, y in _batches(2):
            clf.partial_fit(X, y, classes=[0, 1])
        assert autolog.get_run(outer.id).status.value == "RUNNING"
    (run,) = all_runs()
    assert run.id == outer.id and run.params["loss"] == "hinge"
    assert run.status.value == "FINISHED"
