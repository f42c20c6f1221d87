"""The numpy training metrics agree with sklearn.metrics, weights and edge cases included."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.cluster import KMeans
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from autolog.integrations.sklearn import _metrics as m


def _close(ours: float, theirs: float) -> None:
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def _sklearn_classification(y: Any, p: Any, w: Any) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero_division warnings: we give 0 without a warning
        return {
            "accuracy_score": skm.accuracy_score(y, p, sample_weight=w),
            "precision_score": skm.precision_score(y, p, average="weighted", sample_weight=w),
            "recall_score": skm.recall_score(y, p, average="weighted", sample_weight=w),
            "f1_score": skm.f1_score(y, p, average="weighted", sample_weight=w),
        }


@pytest.mark.parametrize("classes", [2, 3, 7])
@pytest.mark.parametrize("weighted", [False, True])
def test_classification_metrics_match_sklearn(classes: int, weighted: bool) -> None:
    rng = np.random.default_rng(classes)
    y = rng.integers(0, classes, 300)
    p = np.where(rng.random(300) < 0.7, y, rng.integers(0, classes, 300))
    w = rng.random(300) * 3 if weighted else None
    ours = m.classification_metrics(y, p, w)
    for key, value in _sklearn_classification(y, p, w).items():
        _close(ours[key], value)


def test_classification_metrics_with_string_labels_and_unpredicted_classes() -> None:
    y = np.array(["cat", "dog", "emu", "dog", "cat", "emu", "emu"])
    p = np.array(["cat", "cat", "cat", "dog", "cat", "cat", "cat"])  # "emu" never predicted
    ours = m.classification_metrics(y, p)
    for key, value in _sklearn_classification(y, p, None).items():
        _close(ours[key], value)


def test_classification_metrics_accept_a_column_vector_and_lists() -> None:
    y = [[0], [1], [1], [0]]
    ours = m.classification_metrics(y, [0, 1, 0, 0])
    _close(ours["accuracy_score"], 0.75)


@pytest.mark.parametrize("classes", [2, 3, 5])
@pytest.mark.parametrize("weighted", [False, True])
def test_probability_metrics_match_sklearn(classes: int, weighted: bool) -> None:
    rng = np.random.default_rng(10 + classes)
    y = rng.integers(0, classes, 400)
    raw = rng.random((400, classes)) + np.eye(classes)[y] * rng.random((400, 1))
    raw[:7] = np.round(raw[:7], 1)  # ties in the scores
    proba = raw / raw.sum(axis=1, keepdims=True)
    w = rng.random(400) if weighted else None
    labels = np.arange(classes)
    ours = m.probability_metrics(y, proba, labels, w)
    _close(ours["log_loss"], skm.log_loss(y, proba, sample_weight=w, labels=labels))
    if classes == 2:
        _close(ours["roc_auc"], skm.roc_auc_score(y, proba[:, 1], sample_weight=w))
        return
    ovr = skm.roc_auc_score(y, proba, sample_weight=w, multi_class="ovr", average="weighted")
    _close(ours["roc_auc_ovr"], ovr)
    if weighted:  # sklearn's one-vs-one takes no weights: MLflow logs no roc_auc then
        assert "roc_auc" not in ours
    else:
        ovo = skm.roc_auc_score(y, proba, multi_class="ovo", average="weighted")
        _close(ours["roc_auc"], ovo)


def test_probability_metrics_clip_certain_wrong_answers_like_sklearn() -> None:
    y = np.array([0, 1, 1, 0])
    proba = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    ours = m.probability_metrics(y, proba, [0, 1])
    _close(ours["log_loss"], skm.log_loss(y, proba))


def test_probability_metrics_with_string_classes_in_classes_order() -> None:
    y = np.array(["b", "a", "c", "a", "b", "c"])
    proba = np.array(
        [
            [0.2, 0.7, 0.1],
            [0.6, 0.3, 0.1],
            [0.1, 0.1, 0.8],
            [0.5, 0.25, 0.25],
            [0.3, 0.4, 0.3],
            [0.2, 0.2, 0.6],
        ]
    )
    ours = m.probability_metrics(y, proba, np.array(["a", "b", "c"]))
    _close(ours["log_loss"], skm.log_loss(y, proba))
    _close(ours["roc_auc"], skm.roc_auc_score(y, proba, multi_class="ovo", average="weighted"))
    ovr = skm.roc_auc_score(y, proba, multi_class="ovr", average="weighted")
    _close(ours["roc_auc_ovr"], ovr)


def test_roc_auc_is_left_out_when_a_class_is_absent() -> None:
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
    ours = m.probability_metrics(y, proba, [0, 1, 2])
    assert "roc_auc" not in ours and "roc_auc_ovr" not in ours
    _close(ours["log_loss"], skm.log_loss(y, proba, labels=[0, 1, 2]))


def test_probability_metrics_refuse_labels_outside_the_classes() -> None:
    with pytest.raises(ValueError, match="classes_"):
        m.probability_metrics([0, 1, 2], np.full((3, 2), 0.5), [0, 1])


@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_regression_metrics_match_sklearn(outputs: int, weighted: bool) -> None:
    rng = np.random.default_rng(outputs)
    y = rng.normal(size=(200, outputs)).squeeze()
    p = y + rng.normal(scale=0.3, size=y.shape)
    w = rng.random(200) if weighted else None
    ours = m.regression_metrics(y, p, w)
    _close(ours["mean_squared_error"], skm.mean_squared_error(y, p, sample_weight=w))
    # MLflow's: the root of sklearn's uniformly averaged MSE.
    mse = skm.mean_squared_error(y, p, sample_weight=w)
    _close(ours["root_mean_squared_error"], float(np.sqrt(mse)))
    _close(ours["mean_absolute_error"], skm.mean_absolute_error(y, p, sample_weight=w))
    _close(ours["r2_score"], skm.r2_score(y, p, sample_weight=w))


def test_r2_of_a_constant_target_follows_force_finite() -> None:
    y = np.array([[1.0, 2.0], [1.0, 3.0], [1.0, 4.0]])
    p = np.array([[1.0, 2.0], [2.0, 3.0], [1.0, 4.0]])
    _close(m.regression_metrics(y, p)["r2_score"], skm.r2_score(y, p))
    _close(m.regression_metrics(y[:, :1], y[:, :1])["r2_score"], 1.0)


def test_training_metrics_of_a_classifier_with_weights() -> None:
    X, y = make_classification(n_samples=120, n_classes=3, n_informative=4, random_state=0)
    w = np.linspace(0.5, 2.0, 120)
    clf = LogisticRegression(max_iter=500).fit(X, y, sample_weight=w)
    found = m.training_metrics_now(clf, "classifier", X, y, w)
    p = clf.predict(X)
    _close(found.metrics["training_accuracy_score"], skm.accuracy_score(y, p, sample_weight=w))
    _close(found.metrics["training_score"], clf.score(X, y, sample_weight=w))
    _close(
        found.metrics["training_log_loss"],
        skm.log_loss(y, clf.predict_proba(X), sample_weight=w),
    )
    assert not found.tags


def test_training_metrics_of_a_pipeline_regressor() -> None:
    X, y = make_regression(n_samples=80, n_features=5, random_state=0)
    pipe = make_pipeline(StandardScaler(), LinearRegression()).fit(X, y)
    found = m.training_metrics_now(pipe, "regressor", X, y)
    _close(found.metrics["training_r2_score"], skm.r2_score(y, pipe.predict(X)))
    _close(found.metrics["training_score"], pipe.score(X, y))


def test_training_metrics_of_a_clusterer() -> None:
    X, _ = make_classification(n_samples=90, random_state=0)
    km = KMeans(n_clusters=3, n_init=2, random_state=0).fit(X)
    found = m.training_metrics_now(km, "clusterer", X, None, labels=km.labels_)
    _close(found.metrics["training_silhouette_score"], skm.silhouette_score(X, km.labels_))
    _close(found.metrics["training_score"], km.score(X))


def test_training_metrics_above_the_cap_use_every_row_but_for_a_users_score(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(m, "MAX_ROWS", 50)
    monkeypatch.setattr(m, "SCORE_ROWS", 20)

    class OwnScore(LogisticRegression):
        def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
            return float(len(X))

    X, y = make_classification(n_samples=200, random_state=0)
    clf = OwnScore().fit(X, y)
    found = m.training_metrics_now(clf, "classifier", X, y)
    p = clf.predict(X)
    _close(found.metrics["training_accuracy_score"], skm.accuracy_score(y, p))
    _close(found.metrics["training_roc_auc"], skm.roc_auc_score(y, clf.predict_proba(X)[:, 1]))
    assert found.metrics["training_score"] == 20.0
    assert found.tags == {"autolog.metrics.score_rows": "20"}


def test_a_method_that_raises_skips_its_metrics_with_a_reason() -> None:
    class Stubborn(LogisticRegression):
        def predict_proba(self, X: Any) -> Any:
            raise RuntimeError("no probabilities today")

    X, y = make_classification(n_samples=60, random_state=0)
    found = m.training_metrics_now(Stubborn().fit(X, y), "classifier", X, y)
    assert "training_accuracy_score" in found.metrics
    assert "training_log_loss" not in found.metrics
    assert "no probabilities today" in found.tags["autolog.metrics.skipped"]


def test_keeping_global_rng_gives_sklearn_a_private_generator() -> None:
    from sklearn.utils import check_random_state

    np.random.seed(3)
    with m.keeping_global_rng(True), m.keeping_global_rng(True):  # nested: one swap
        check_random_state(None).random_sample(5)
    with m.keeping_global_rng(False):
        pass
    assert check_random_state(None) is np.random.mtrand._rand
    assert np.random.random() == np.random.RandomState(3).random_sample()


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
@pytest.mark.parametrize("classes", [2, 4])
def test_labels_derived_from_probabilities_are_what_predict_returns(classes: int) -> None:
    """Every classifier trusted to predict the argmax of its probabilities does, on real fits."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils import all_estimators

    X, y = make_classification(
        n_samples=200,
        n_features=8,
        n_informative=6,
        n_redundant=0,
        n_classes=classes,
        random_state=classes,
    )
    counts = np.abs(X * 3).astype(int)
    checked, derived_for = set(), set()
    for name, cls in all_estimators(type_filter="classifier"):
        if name not in m._PROBA_ARGMAX:
            continue
        data = counts if name in ("MultinomialNB", "ComplementNB", "CategoricalNB") else X
        for est in (cls(), make_pipeline(StandardScaler(with_mean=False), cls())):
            est.fit(data, y)
            derived = m._labels_from_proba(est, est.predict_proba(data), est.classes_)
            if derived is not None:  # None where a row's top probability is tied
                np.testing.assert_array_equal(derived, est.predict(data), err_msg=name)
                derived_for.add(name)
        checked.add(name)
    assert checked == m._PROBA_ARGMAX
    assert len(derived_for) >= len(checked) - 2


def test_labels_are_not_derived_on_a_tie_or_for_an_unknown_classifier() -> None:
    from sklearn.svm import SVC

    proba = np.array([[0.5, 0.5], [0.2, 0.8]])
    lr = LogisticRegression()
    assert m._labels_from_proba(lr, proba, np.array([0, 1])) is None
    assert m._labels_from_proba(lr, proba[1:], np.array([0, 1])).tolist() == [1]
    assert m._labels_from_proba(SVC(probability=True), proba[1:], np.array([0, 1])) is None


def test_sklearns_own_estimators_predict_without_a_second_finiteness_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sklearn

    seen: dict[str, bool] = {}
    original = LogisticRegression.predict_proba

    def recording(self: Any, X: Any) -> Any:
        seen[type(self).__name__] = sklearn.get_config()["assume_finite"]
        return original(self, X)

    monkeypatch.setattr(LogisticRegression, "predict_proba", recording)

    class Users(LogisticRegression):  # not scikit-learn's: its checks are its own
        pass

    X, y = make_classification(n_samples=60, random_state=0)
    m.training_metrics_now(LogisticRegression().fit(X, y), "classifier", X, y)
    m.training_metrics_now(Users().fit(X, y), "classifier", X, y)
    assert seen == {"LogisticRegression": True, "Users": False}
    assert sklearn.get_config()["assume_finite"] is False  # the user's setting, unchanged
