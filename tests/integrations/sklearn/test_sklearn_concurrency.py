"""Threads, joblib workers, forked children and a store that fails every write."""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Iterator
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn import metrics
from sklearn.cluster import KMeans
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn_helpers import all_runs, classification_data, top_level_runs

import autolog
from autolog._tracking.settings import tracking
from autolog.backends import register_backend
from autolog.backends._layout import LayoutBackend
from autolog.backends.memory import MemoryObjectStore
from autolog.errors import StoreError


@pytest.mark.usefixtures("sklearn_autolog")
def test_eight_threads_fitting_at_once_get_eight_complete_runs() -> None:
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def train(i: int) -> None:
        try:
            X, y = classification_data(60 + i, seed=i)
            clf = RandomForestClassifier(n_estimators=3 + i, random_state=i)
            barrier.wait()
            clf.fit(X, y)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=train, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    runs = all_runs()
    assert len(runs) == 8
    assert sorted(int(r.params["n_estimators"]) for r in runs) == list(range(3, 11))
    for run in runs:
        i = int(run.params["n_estimators"]) - 3
        assert run.status.value == "FINISHED"
        assert run.tags["autolog.data.X.shape"] == f"{60 + i}x4"  # its own data
        assert {"training_accuracy_score", "training_log_loss", "training_score"} <= set(
            run.metrics
        )


@pytest.mark.usefixtures("sklearn_autolog")
@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_a_parallel_search_is_one_run_with_its_best_candidates(backend: str) -> None:
    autolog.enable(integrations=["sklearn"], max_tuning_runs=2)
    X, y = classification_data(90)
    with joblib.parallel_backend(backend, n_jobs=2):
        GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3]}, cv=3).fit(
            X, y
        )
    (parent,) = top_level_runs()
    assert parent.tags["estimator_name"] == "GridSearchCV"
    assert len(all_runs()) == 3  # the parent and its two best candidates, nothing else


@pytest.mark.usefixtures("sklearn_autolog")
def test_fits_in_joblib_worker_threads_are_not_runs() -> None:
    X, y = classification_data()
    voting = VotingClassifier(
        [("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(random_state=0))],
        n_jobs=2,
    )
    with joblib.parallel_backend("threading", n_jobs=2):
        voting.fit(X, y)
        RandomForestClassifier(n_estimators=4, n_jobs=2, random_state=0).fit(X, y)
    names = [r.tags["estimator_name"] for r in all_runs()]
    assert names == ["VotingClassifier", "RandomForestClassifier"]


def _fit_in_child(seed: int) -> float:
    X, y = classification_data(seed=seed)
    return float(LogisticRegression().fit(X, y).score(X, y))


@pytest.mark.usefixtures("sklearn_autolog")
def test_a_forked_child_does_not_log() -> None:
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        score = pool.apply(_fit_in_child, (3,))
    assert score > 0.5
    assert all_runs() == []
    _fit_in_child(4)
    assert len(all_runs()) == 1


# -- a store that refuses every write ------------------------------------------------------


class RefusingStore(MemoryObjectStore):
    """A memory store whose every write fails, as a full or read-only disk would."""

    def put(self, key: str, data: bytes) -> None:
        raise StoreError(f"cannot write {key}: no space left on device")

    def put_file(self, key: str, path: Any) -> None:
        raise StoreError(f"cannot write {key}: no space left on device")


@pytest.fixture
def refusing_store() -> Iterator[str]:
    uri = "refusing://store"
    register_backend("refusing", lambda u: LayoutBackend(RefusingStore(u)))
    yield uri
    writer = tracking._writers.get(uri)
    if writer is not None:  # its records can never be written: do not wait for them
        for key in [k for k, w in tracking._writers.items() if w is writer]:
            del tracking._writers[key]
        writer.close(timeout=0.2)


def _user_script() -> list[Any]:
    """A small training script; returns everything it computes."""
    X, y = classification_data(120, seed=5)
    out: list[Any] = []
    clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[:90], y[:90])
    pred = clf.predict(X[90:])
    out += [pred, clf.predict_proba(X[90:]), metrics.accuracy_score(y[90:], pred)]
    out.append(clf.score(X[90:], y[90:]))
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3).fit(X, y)
    out += [search.best_params_, search.cv_results_["mean_test_score"]]
    sgd = SGDClassifier(random_state=0)
    for start in range(0, 120, 40):
        sgd.partial_fit(X[start : start + 40], y[start : start + 40], classes=[0, 1])
    out.append(sgd.coef_.copy())
    out.append(KMeans(n_clusters=2, n_init=2, random_state=0).fit_predict(X))
    return out


@pytest.mark.no_strict
def test_a_store_that_fails_every_write_changes_nothing_for_the_user(
    refusing_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    expected = _user_script()
    autolog.enable(integrations=["sklearn"], tracking_uri=refusing_store)
    try:
        with caplog.at_level(logging.WARNING, logger="autolog"):
            got = _user_script()
            tracking.writer(refusing_store).flush(timeout=5)
    finally:
        autolog.disable()
    assert len(got) == len(expected)
    for ours, theirs in zip(got, expected, strict=True):
        if isinstance(theirs, np.ndarray):
            np.testing.assert_array_equal(ours, theirs)
        else:
            assert ours == theirs
    assert any("no space left on device" in r.getMessage() for r in caplog.records)
