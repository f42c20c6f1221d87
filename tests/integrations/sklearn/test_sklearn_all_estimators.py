"""Every estimator of `sklearn.utils.all_estimators()`, fitted with and without autolog.

Each is built with its defaults (the meta-estimators, which need an estimator or
a list of steps, with the small one in CONSTRUCTORS), given random_state=0
where it takes one and a few iterations or trees where its default is slow,
fitted on tiny data suited to its tags, and asked for every prediction it
offers. With autolog the outputs must be identical, nothing may raise (strict
mode: autolog's own errors fail the test) and the fit must be one run.

Models are logged for one estimator in MODEL_EVERY (pickling and writing every
model costs more time than the rest of this file); the others use log_models=False.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA, SparseCoder
from sklearn.ensemble import (
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.feature_selection import RFE, RFECV, SelectFromModel, SequentialFeatureSelector
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.manifold import TSNE
from sklearn.model_selection import (
    FixedThresholdClassifier,
    GridSearchCV,
    RandomizedSearchCV,
    TunedThresholdClassifierCV,
)
from sklearn.multiclass import OneVsOneClassifier, OneVsRestClassifier, OutputCodeClassifier
from sklearn.multioutput import (
    ClassifierChain,
    MultiOutputClassifier,
    MultiOutputRegressor,
    RegressorChain,
)
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.random_projection import GaussianRandomProjection, SparseRandomProjection
from sklearn.semi_supervised import SelfTrainingClassifier
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils import all_estimators, get_tags
from sklearn_helpers import top_level_runs

import autolog

MODEL_EVERY = 8
N = 60
RNG = np.random.default_rng(0)
X = RNG.uniform(0.0, 1.0, size=(N, 4))
Y_CLASS = np.arange(N) % 3
Y_BINARY = (X[:, 0] + X[:, 1] > 1.0).astype(int)
Y_REG = 3.0 + X @ np.array([1.0, -2.0, 0.5, 0.0]) + RNG.normal(scale=0.1, size=N)  # > 0
Y_MULTI_REG = np.column_stack([Y_REG, X[:, 1] * 2.0])
Y_MULTI_LABEL = np.column_stack([Y_BINARY, (X[:, 2] > 0.5).astype(int)])
DOCS = [f"word{i % 7} token{i % 5} the cat{i % 3}" for i in range(N)]
RECORDS = [{"colour": ["red", "green", "blue"][i % 3], "size": float(i % 5)} for i in range(N)]
IMAGES = RNG.uniform(size=(4, 8, 8))
CATEGORIES = (np.arange(N * 4).reshape(N, 4) * 7) % 3
ATOMS = RNG.normal(size=(3, 4))


def _fitted_lr() -> LogisticRegression:
    return LogisticRegression().fit(X, Y_CLASS)


# Estimators whose constructor needs arguments, built around a small estimator, and a
# few whose defaults are too slow or too large for 60 rows.
CONSTRUCTORS: dict[str, Callable[[], Any]] = {
    "ClassifierChain": lambda: ClassifierChain(LogisticRegression()),
    "ColumnTransformer": lambda: ColumnTransformer(
        [("scale", StandardScaler(), [0, 1])], remainder="passthrough"
    ),
    "FeatureUnion": lambda: FeatureUnion([("pca", PCA(2)), ("scale", StandardScaler())]),
    "FixedThresholdClassifier": lambda: FixedThresholdClassifier(LogisticRegression()),
    "FrozenEstimator": lambda: FrozenEstimator(_fitted_lr()),
    "GridSearchCV": lambda: GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2),
    "MultiOutputClassifier": lambda: MultiOutputClassifier(LogisticRegression()),
    "MultiOutputRegressor": lambda: MultiOutputRegressor(Ridge()),
    "OneVsOneClassifier": lambda: OneVsOneClassifier(LogisticRegression()),
    "OneVsRestClassifier": lambda: OneVsRestClassifier(LogisticRegression()),
    "OutputCodeClassifier": lambda: OutputCodeClassifier(LogisticRegression()),
    "Pipeline": lambda: Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())]),
    "RFE": lambda: RFE(LogisticRegression(), n_features_to_select=2),
    "RFECV": lambda: RFECV(LogisticRegression(), cv=2),
    "RandomizedSearchCV": lambda: RandomizedSearchCV(
        LogisticRegression(), {"C": [0.1, 1.0]}, n_iter=2, cv=2
    ),
    "RegressorChain": lambda: RegressorChain(Ridge()),
    "SelectFromModel": lambda: SelectFromModel(LogisticRegression()),
    "SelfTrainingClassifier": lambda: SelfTrainingClassifier(LogisticRegression()),
    "SequentialFeatureSelector": lambda: SequentialFeatureSelector(
        LogisticRegression(), n_features_to_select=2, cv=2
    ),
    "SparseCoder": lambda: SparseCoder(dictionary=ATOMS),
    "GaussianRandomProjection": lambda: GaussianRandomProjection(n_components=2),
    "SparseRandomProjection": lambda: SparseRandomProjection(n_components=2),
    "TSNE": lambda: TSNE(max_iter=250),
    "StackingClassifier": lambda: StackingClassifier(
        [("lr", LogisticRegression()), ("tree", DecisionTreeClassifier())], cv=2
    ),
    "StackingRegressor": lambda: StackingRegressor(
        [("ridge", Ridge()), ("tree", DecisionTreeRegressor())], cv=2
    ),
    "TunedThresholdClassifierCV": lambda: TunedThresholdClassifierCV(LogisticRegression(), cv=2),
    "VotingClassifier": lambda: VotingClassifier(
        [("lr", LogisticRegression()), ("tree", DecisionTreeClassifier())]
    ),
    "VotingRegressor": lambda: VotingRegressor(
        [("ridge", Ridge()), ("tree", DecisionTreeRegressor())]
    ),
}
# Runs made while building the estimator (a FrozenEstimator wraps a fitted model).
PREFITTED = {"FrozenEstimator": 1}
# Estimators fitted on something other than (X, y): the arguments of fit, and the data
# their predictions and transforms are asked for.
SPECIAL_DATA: dict[str, tuple[tuple[Any, ...], Any]] = {
    "CountVectorizer": ((DOCS,), DOCS),
    "HashingVectorizer": ((DOCS,), DOCS),
    "TfidfVectorizer": ((DOCS,), DOCS),
    "DictVectorizer": ((RECORDS,), RECORDS),
    "FeatureHasher": ((RECORDS,), RECORDS),
    "LabelEncoder": ((Y_CLASS,), Y_CLASS),
    "LabelBinarizer": ((Y_CLASS,), Y_CLASS),
    "MultiLabelBinarizer": (([{1, 2}, {3}, {2, 3}],), [{1}, {2, 3}]),
    "IsotonicRegression": ((X[:, 0], Y_REG), X[:, 0]),
    "PatchExtractor": ((IMAGES,), IMAGES),
    "KernelCenterer": ((X @ X.T,), X @ X.T),
    "CategoricalNB": ((CATEGORIES, Y_CLASS), CATEGORIES),
    "TargetEncoder": ((CATEGORIES, Y_REG), CATEGORIES),
    "SelfTrainingClassifier": ((X, np.where(np.arange(N) % 4 == 0, -1, Y_CLASS)), X),
    "CCA": ((X, Y_MULTI_REG), X),
    "PLSCanonical": ((X, Y_MULTI_REG), X),
    "PLSSVD": ((X, Y_MULTI_REG), X),
}
BINARY_ONLY = {"FixedThresholdClassifier", "TunedThresholdClassifierCV"}
MULTI_LABEL = {"ClassifierChain", "MultiOutputClassifier"}
# Defaults that make a tiny fit slow: fewer trees, iterations and initializations
# (not for the estimators in KEEP_DEFAULTS, which refuse them).
FAST = {"n_estimators": 5, "max_iter": 30, "n_init": 1, "n_restarts_optimizer": 0}
KEEP_DEFAULTS = {"OrthogonalMatchingPursuitCV", "TSNE"}
PREDICTIONS = (
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "transform",
    "score_samples",
)
# Estimators of all_estimators() this test does not exercise, and why.
SKIPPED: dict[str, str] = {}

ESTIMATORS = sorted(all_estimators(), key=lambda pair: pair[0])


def _build(name: str, cls: type) -> Any:
    estimator = CONSTRUCTORS[name]() if name in CONSTRUCTORS else cls()
    params = estimator.get_params()
    fast = {} if name in KEEP_DEFAULTS else FAST
    estimator.set_params(
        **{k: 0 for k in params if k.endswith("random_state")},
        **{k: v for k, v in fast.items() if k in params and params[k] != "deprecated"},
    )
    return estimator


def _data(name: str, estimator: Any) -> tuple[tuple[Any, ...], Any]:
    if name in SPECIAL_DATA:
        return SPECIAL_DATA[name]
    try:
        tags = get_tags(estimator)
    except AttributeError:
        return (X, Y_CLASS), X
    kind = tags.estimator_type
    if name in MULTI_LABEL:
        return (X, Y_MULTI_LABEL), X
    if name in BINARY_ONLY:
        return (X, Y_BINARY), X
    if kind == "classifier":
        return (X, Y_CLASS), X
    if kind == "regressor":
        multi = tags.target_tags.multi_output and not tags.target_tags.single_output
        return (X, Y_MULTI_REG if multi or name.startswith("MultiOutput") else Y_REG), X
    if "y" in inspect.signature(type(estimator).fit).parameters:
        return (X, Y_CLASS), X  # supervised transformers want classes; the others ignore y
    return (X,), X


def _comparable(value: Any) -> Any:
    if hasattr(value, "tocsr"):  # sparse, possibly 2**20 columns wide: never densified
        matrix = value.tocsr()
        matrix.sort_indices()
        return [np.asarray(matrix.shape), matrix.data, matrix.indices, matrix.indptr]
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def _exercise(name: str, cls: type) -> dict[str, Any]:
    """Build, fit and ask for every prediction; exceptions recorded by type."""
    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        # The estimators' own warnings: deprecations, convergence on tiny data.
        warnings.simplefilter("ignore")
        estimator = _build(name, cls)
        fit_args, data = _data(name, estimator)
        if hasattr(estimator, "fit_predict") and not hasattr(estimator, "predict"):
            out["fit_predict"] = estimator.fit_predict(*fit_args)
        elif hasattr(estimator, "fit_transform") and not hasattr(estimator, "transform"):
            out["fit_transform"] = estimator.fit_transform(*fit_args)
        else:
            estimator.fit(*fit_args)
        for method in PREDICTIONS:
            if not hasattr(estimator, method):
                continue
            try:
                out[method] = _comparable(getattr(estimator, method)(data))
            except Exception as exc:
                out[method] = f"raised {type(exc).__name__}"
    return out


def _assert_same(bare: dict[str, Any], logged: dict[str, Any]) -> None:
    assert bare.keys() == logged.keys()
    for key, expected in bare.items():
        got = logged[key]
        if isinstance(expected, str):
            assert got == expected, key
        elif isinstance(expected, list):
            assert len(got) == len(expected)
            for a, b in zip(got, expected, strict=True):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=key)
        else:
            np.testing.assert_array_equal(np.asarray(got), np.asarray(expected), err_msg=key)


@pytest.mark.parametrize(
    ("index", "name", "cls"),
    [(i, name, cls) for i, (name, cls) in enumerate(ESTIMATORS)],
    ids=[name for name, _ in ESTIMATORS],
)
def test_estimator_fits_the_same_with_autolog_and_is_one_run(
    index: int, name: str, cls: type
) -> None:
    if name in SKIPPED:
        pytest.skip(SKIPPED[name])
    bare = _exercise(name, cls)
    autolog.enable(integrations=["sklearn"], log_models=index % MODEL_EVERY == 0)
    try:
        logged = _exercise(name, cls)
    finally:
        autolog.disable()
    _assert_same(bare, logged)
    runs = top_level_runs()
    ours = [r for r in runs if r.tags.get("estimator_name") == name]
    assert len(ours) == 1, [r.tags.get("estimator_name") for r in runs]
    assert len(runs) == 1 + PREFITTED.get(name, 0)
    assert ours[0].status.value == "FINISHED"
