"""The usage patterns of XGBoost's documentation give the same results under autolog.

Each pattern runs once with the integration off and once with it on; predictions,
evaluation histories and everything else the user gets back must be identical,
and every training under autolog must leave a finished run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

import autolog
from autolog._entities import RunStatus

# Imported fixtures are used by pytest, not by name.


@pytest.fixture(autouse=True)
def _integration_off_at_the_end() -> Iterator[None]:
    yield
    autolog.disable("xgboost")


def _split(seed: int = 0, n: int = 300) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    y = (x[:, 0] - x[:, 1] + rng.normal(scale=0.7, size=n) > 0).astype(int)
    cut = n * 3 // 4
    return x[:cut], y[:cut], x[cut:], y[cut:]


def basic_train() -> Any:
    x, y, xt, yt = _split()
    dtrain, dtest = xgb.DMatrix(x, label=y), xgb.DMatrix(xt, label=yt)
    param = {"max_depth": 2, "eta": 1, "objective": "binary:logistic", "eval_metric": "auc"}
    evals_result: dict[str, Any] = {}
    bst = xgb.train(
        param,
        dtrain,
        10,
        evals=[(dtrain, "train"), (dtest, "eval")],
        evals_result=evals_result,
        verbose_eval=False,
    )
    return bst.predict(dtest), evals_result


def train_with_early_stopping() -> Any:
    x, y, xt, yt = _split(1)
    dtrain, dtest = xgb.DMatrix(x, label=y), xgb.DMatrix(xt, label=yt)
    evals_result: dict[str, Any] = {}
    bst = xgb.train(
        {"objective": "binary:logistic", "eval_metric": ["error", "logloss"], "eta": 0.5},
        dtrain,
        500,
        evals=[(dtest, "eval")],
        early_stopping_rounds=5,
        evals_result=evals_result,
        verbose_eval=False,
    )
    best = bst.predict(dtest, iteration_range=(0, bst.best_iteration + 1))
    return bst.predict(dtest), best, bst.best_iteration, bst.best_score, evals_result


def cross_validation() -> Any:
    x, y, _, _ = _split(2)
    dtrain = xgb.DMatrix(x, label=y)
    return xgb.cv(
        {"max_depth": 2, "eta": 1, "objective": "binary:logistic"},
        dtrain,
        num_boost_round=10,
        nfold=4,
        metrics={"error"},
        seed=0,
        early_stopping_rounds=3,
    )


def sklearn_with_eval_set_and_early_stopping() -> Any:
    x, y, xt, yt = _split(3)
    clf = xgb.XGBClassifier(
        tree_method="hist", early_stopping_rounds=3, n_estimators=200, eval_metric="logloss"
    )
    clf.fit(x, y, eval_set=[(xt, yt)], verbose=False)
    return clf.predict_proba(xt), clf.best_iteration, clf.best_score, clf.evals_result()


def user_callbacks() -> Any:
    x, y, xt, yt = _split(4)
    dtrain, dtest = xgb.DMatrix(x, label=y), xgb.DMatrix(xt, label=yt)
    seen: list[int] = []

    class Recorder(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            seen.append(epoch)
            return False

    callbacks = [xgb.callback.LearningRateScheduler(lambda epoch: 0.5 / (1 + epoch)), Recorder()]
    evals_result: dict[str, Any] = {}
    bst = xgb.train(
        {"objective": "binary:logistic"},
        dtrain,
        8,
        evals=[(dtest, "eval")],
        callbacks=callbacks,
        evals_result=evals_result,
        verbose_eval=False,
    )
    assert len(callbacks) == 2
    return bst.predict(dtest), evals_result, seen


def ranking() -> Any:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, 5))
    qid = np.sort(rng.integers(0, 40, size=400))
    y = rng.integers(0, 3, size=400)
    ranker = xgb.XGBRanker(tree_method="hist", lambdarank_num_pair_per_sample=4, n_estimators=6)
    ranker.fit(x, y, qid=qid, eval_set=[(x, y)], eval_qid=[qid], verbose=False)
    return ranker.predict(x), ranker.evals_result()


def multi_class() -> Any:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(300, 4))
    y = np.digitize(x[:, 0] + x[:, 1], [-0.7, 0.7])
    dtrain = xgb.DMatrix(x, label=y)
    evals_result: dict[str, Any] = {}
    bst = xgb.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 3},
        dtrain,
        6,
        evals=[(dtrain, "train")],
        evals_result=evals_result,
        verbose_eval=False,
    )
    clf = xgb.XGBClassifier(n_estimators=5).fit(x, y)
    return bst.predict(dtrain), evals_result, clf.predict_proba(x)


def continued_training() -> Any:
    x, y, xt, yt = _split(7)
    dtrain, dtest = xgb.DMatrix(x, label=y), xgb.DMatrix(xt, label=yt)
    params = {"objective": "binary:logistic", "max_depth": 3}
    first = xgb.train(params, dtrain, 4)
    evals_result: dict[str, Any] = {}
    second = xgb.train(
        params,
        dtrain,
        4,
        xgb_model=first,
        evals=[(dtest, "eval")],
        evals_result=evals_result,
        verbose_eval=False,
    )
    reg = xgb.XGBRegressor(n_estimators=3).fit(x, y)
    more = xgb.XGBRegressor(n_estimators=3).fit(x, y, xgb_model=reg.get_booster())
    return first.predict(dtest), second.predict(dtest), evals_result, more.predict(xt)


def custom_objective_and_metric() -> Any:
    x, y, xt, yt = _split(8)
    dtrain, dtest = xgb.DMatrix(x, label=y), xgb.DMatrix(xt, label=yt)

    def logregobj(predt: np.ndarray, dmatrix: Any) -> tuple[np.ndarray, np.ndarray]:
        p = 1.0 / (1.0 + np.exp(-predt))
        return p - dmatrix.get_label(), p * (1.0 - p)

    def error(predt: np.ndarray, dmatrix: Any) -> tuple[str, float]:
        return "my-error", float(np.mean((predt > 0.0) != dmatrix.get_label()))

    evals_result: dict[str, Any] = {}
    bst = xgb.train(
        {"max_depth": 2, "disable_default_eval_metric": 1},
        dtrain,
        5,
        evals=[(dtest, "eval")],
        obj=logregobj,
        custom_metric=error,
        evals_result=evals_result,
        verbose_eval=False,
    )
    return bst.predict(dtest, output_margin=True), evals_result


def pandas_categorical() -> Any:
    rng = np.random.default_rng(9)
    frame = pd.DataFrame(
        {
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], size=200)),
            "size": rng.normal(size=200),
        }
    )
    y = (frame["size"] + (frame["colour"] == "red") > 0.5).astype(int)
    clf = xgb.XGBClassifier(n_estimators=4, enable_categorical=True, tree_method="hist")
    clf.fit(frame, y, eval_set=[(frame, y)], verbose=False)
    return clf.predict_proba(frame), clf.evals_result()


PATTERNS: dict[str, Callable[[], Any]] = {
    f.__name__: f
    for f in (
        basic_train,
        train_with_early_stopping,
        cross_validation,
        sklearn_with_eval_set_and_early_stopping,
        user_callbacks,
        ranking,
        multi_class,
        continued_training,
        custom_objective_and_metric,
        pandas_categorical,
    )
}


def _assert_identical(bare: Any, logged: Any, where: str = "result") -> None:
    if isinstance(bare, np.ndarray):
        np.testing.assert_array_equal(logged, bare, err_msg=where)
    elif isinstance(bare, pd.DataFrame):
        pd.testing.assert_frame_equal(logged, bare, check_exact=True)
    elif isinstance(bare, dict):
        assert list(logged) == list(bare), where
        for key in bare:
            _assert_identical(bare[key], logged[key], f"{where}[{key!r}]")
    elif isinstance(bare, (list, tuple)):
        assert type(logged) is type(bare) and len(logged) == len(bare), where
        for i, (b, g) in enumerate(zip(bare, logged, strict=True)):
            _assert_identical(b, g, f"{where}[{i}]")
    else:
        assert logged == bare, where


@pytest.mark.parametrize("name", list(PATTERNS))
def test_pattern_gives_identical_results_under_autolog(name: str) -> None:
    pattern = PATTERNS[name]
    autolog.disable("xgboost")
    bare = pattern()
    assert autolog.search_runs() == []
    autolog.enable("xgboost")
    logged = pattern()
    _assert_identical(bare, logged)
    runs = autolog.search_runs()
    assert runs, "no run was recorded"
    assert all(r.status is RunStatus.FINISHED for r in runs)
