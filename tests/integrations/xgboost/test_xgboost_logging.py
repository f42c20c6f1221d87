"""What XGBoost autologging records: params, metric histories, importances, data, model.

Every test trains real XGBoost models on small data and reads the run back from
the file store, comparing it with what XGBoost itself reports (evals_result,
best_iteration, get_score).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

import autolog
from autolog._entities import Run, RunStatus

IMPORTANCE_TYPES = ["gain", "weight", "cover", "total_gain", "total_cover"]

# Imported fixtures are used by pytest, not by name.
pytestmark = pytest.mark.usefixtures("autolog_xgboost")


def _binary(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.8, size=n) > 0).astype(int)
    return x, y


def _regression(n: int = 240, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    return x, x[:, 0] * 2 - x[:, 2] + rng.normal(scale=0.3, size=n)


def _only_run() -> Run:
    runs = autolog.search_runs()
    assert len(runs) == 1, [r.tags.get("autolog.xgboost.call") for r in runs]
    return runs[0]


def _history(run: Run, key: str) -> tuple[list[float], list[int]]:
    points = autolog.get_metric_history(run.id, key)
    return [p.value for p in points], [p.step for p in points]


def _artifact_json(run: Run, path: str) -> Any:
    return json.loads(autolog.download_artifacts(run.id, path).read_text())


def _assert_histories(
    run: Run, evals_result: dict[str, dict[str, list[float]]], start: int = 0
) -> None:
    """Every series of `evals_result` is logged with the same values, one point per iteration.

    With early stopping, one more step (MLflow's convention) holds the best iteration's
    value, which is then the metric's latest value.
    """
    best = run.metrics.get("best_iteration")
    for data, metrics in evals_result.items():
        for metric, values in metrics.items():
            key = f"{data}-{metric}".replace("@", "_at_")
            logged, steps = _history(run, key)
            if best is not None:
                assert steps[-1] == start + len(values), key
                assert logged[-1] == float(values[int(best) - start]) == run.metrics[key], key
                logged, steps = logged[:-1], steps[:-1]
            assert logged == [float(v) for v in values], key
            assert steps == list(range(start, start + len(values))), key


def _recorded_scores(recorded: dict[str, Any], kind: str) -> dict[str, float]:
    return dict(zip(recorded["features"], recorded["importances"][kind], strict=True))


def _assert_importances(run: Run, booster: Any) -> None:
    recorded = _artifact_json(run, "feature_importances.json")
    names = booster.feature_names or [f"f{i}" for i in range(booster.num_features())]
    assert sorted(recorded["features"]) == sorted(names)
    assert recorded["features_total"] == len(names)
    assert recorded["types"] == IMPORTANCE_TYPES
    for kind in IMPORTANCE_TYPES:  # what get_score gives, 0 for a feature it leaves out
        scores = booster.get_score(importance_type=kind)
        expected = {name: float(scores.get(name, 0.0)) for name in names}
        assert _recorded_scores(recorded, kind) == pytest.approx(expected)
    gains = recorded["importances"]["gain"]
    assert gains == sorted(gains, reverse=True)  # most important first
    top = recorded["features"][0]
    assert run.metrics[f"feature_importance.{top}"] == pytest.approx(gains[0])


def test_train_with_evals_and_early_stopping() -> None:
    x, y = _binary()
    names, types = [f"c{i}" for i in range(5)], ["q"] * 5
    dtrain = xgb.DMatrix(x[:160], y[:160], feature_names=names, feature_types=types)
    dvalid = xgb.DMatrix(x[160:], y[160:], feature_names=names, feature_types=types)
    evals_result: dict[str, Any] = {}
    booster = xgb.train(
        {"objective": "binary:logistic", "eval_metric": ["logloss", "auc"], "max_depth": 3},
        dtrain,
        num_boost_round=200,
        evals=[(dtrain, "train"), (dvalid, "eval")],
        early_stopping_rounds=5,
        evals_result=evals_result,
        verbose_eval=False,
    )
    run = _only_run()
    assert run.status is RunStatus.FINISHED
    assert run.tags["autolog.xgboost.call"] == "xgboost.train"
    assert "autolog.xgboost.evals" not in run.tags
    assert run.params["objective"] == "binary:logistic"
    assert run.params["eval_metric"] == "['logloss', 'auc']"
    assert run.params["max_depth"] == "3"
    assert run.params["num_boost_round"] == "200"
    assert run.params["early_stopping_rounds"] == "5"
    assert run.params["verbose_eval"] == "False"
    assert run.params["evals"] == "train,eval"
    # Data, results and absent callables are not params.
    assert not {"dtrain", "evals_result", "custom_objective", "callbacks"} & set(run.params)
    _assert_histories(run, evals_result)
    rounds = len(evals_result["eval"]["auc"])
    assert rounds < 200  # it did stop early
    assert run.metrics["best_iteration"] == booster.best_iteration
    assert run.metrics["best_score"] == pytest.approx(booster.best_score)
    assert run.metrics["stopped_iteration"] == rounds - 1
    _assert_importances(run, booster)
    data = _artifact_json(run, "datasets/train.json")
    assert data["X"]["kind"] == "DMatrix"
    assert data["X"]["shape"] == [160, 5]
    assert data["X"]["columns"] == names
    assert data["X"]["dtypes"] == types
    assert data["X"]["content_hash"] is None  # a DMatrix gives its data back only as a copy
    assert data["hash"] is None
    assert data["y"]["shape"] == [160]
    assert data["y"]["content_hash"]
    assert run.tags["autolog.data.X.kind"] == "DMatrix"
    assert run.tags["autolog.data.X.shape"] == "160x5"
    assert run.tags["autolog.data.y.hash"] == data["y"]["content_hash"]
    assert "autolog.data.hash" not in run.tags
    assert run.tags["estimator_name"] == "Booster"


@pytest.mark.parametrize(
    ("cls", "task"),
    [
        ("XGBClassifier", "binary"),
        ("XGBRegressor", "regression"),
        ("XGBRFClassifier", "binary"),
        ("XGBRFRegressor", "regression"),
    ],
)
def test_each_sklearn_api_class(cls: str, task: str) -> None:
    x, y = _binary() if task == "binary" else _regression()
    model = getattr(xgb, cls)(n_estimators=8, max_depth=3, random_state=0)
    model.fit(x[:160], y[:160], eval_set=[(x[:160], y[:160]), (x[160:], y[160:])], verbose=False)
    run = _only_run()
    assert run.status is RunStatus.FINISHED
    assert run.tags["autolog.xgboost.call"] == f"xgboost.{cls}.fit"
    assert run.params["n_estimators"] == "8"
    assert run.params["max_depth"] == "3"
    assert run.params["evals"] == "validation_0,validation_1"
    _assert_histories(run, model.evals_result())
    _assert_importances(run, model.get_booster())
    data = _artifact_json(run, "datasets/train.json")
    assert data["X"]["shape"] == [160, x.shape[1]]
    assert data["y"]["shape"] == [160]
    assert run.tags["autolog.data.hash"] == data["hash"]
    assert run.tags["estimator_name"] == cls
    assert run.tags["estimator_class"] == f"xgboost.sklearn.{cls}"


def test_sklearn_early_stopping() -> None:
    x, y = _binary(400)
    model = xgb.XGBClassifier(n_estimators=300, early_stopping_rounds=3, learning_rate=0.8)
    model.fit(x[:300], y[:300], eval_set=[(x[300:], y[300:])], verbose=False)
    run = _only_run()
    assert run.params["early_stopping_rounds"] == "3"
    history = model.evals_result()["validation_0"]["logloss"]
    assert len(history) < 300
    _assert_histories(run, model.evals_result())
    assert run.metrics["best_iteration"] == model.best_iteration
    assert run.metrics["best_score"] == pytest.approx(model.best_score)
    assert run.metrics["stopped_iteration"] == len(history) - 1


def test_gblinear_records_the_one_importance_it_has() -> None:
    x, y = _regression()
    booster = xgb.train({"booster": "gblinear"}, xgb.DMatrix(x, y), 3)
    run = _only_run()
    recorded = _artifact_json(run, "feature_importances.json")
    assert recorded["types"] == ["weight"]
    scores = booster.get_score(importance_type="weight")
    assert _recorded_scores(recorded, "weight") == pytest.approx(scores)


def test_ranker_with_query_ids() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 4))
    qid = np.repeat(np.arange(30), 10)
    y = rng.integers(0, 4, size=300)
    ranker = xgb.XGBRanker(n_estimators=6, eval_metric=["ndcg@3", "ndcg"], random_state=0)
    ranker.fit(x, y, qid=qid, eval_set=[(x, y)], eval_qid=[qid])
    run = _only_run()
    assert run.tags["autolog.xgboost.call"] == "xgboost.XGBRanker.fit"
    assert "validation_0-ndcg_at_3" in run.metrics
    assert "validation_0-ndcg" in run.metrics
    _assert_histories(run, ranker.evals_result())
    _assert_importances(run, ranker.get_booster())


def squared_error_objective(predt: np.ndarray, dtrain: Any) -> tuple[np.ndarray, np.ndarray]:
    y = dtrain.get_label()
    return predt - y, np.ones_like(predt)


def max_abs_error(predt: np.ndarray, dtrain: Any) -> tuple[str, float]:
    return "max_abs", float(np.max(np.abs(predt - dtrain.get_label())))


def test_custom_objective_and_metric_are_recorded_by_name() -> None:
    x, y = _regression()
    dtrain = xgb.DMatrix(x, y)
    evals_result: dict[str, Any] = {}
    xgb.train(
        {"max_depth": 2, "disable_default_eval_metric": 1},
        dtrain,
        num_boost_round=6,
        evals=[(dtrain, "train")],
        obj=squared_error_objective,
        custom_metric=max_abs_error,
        evals_result=evals_result,
        verbose_eval=False,
    )
    run = _only_run()
    assert run.params["custom_objective"] == f"{__name__}.squared_error_objective"
    assert run.params["custom_metric"] == f"{__name__}.max_abs_error"
    assert "obj" not in run.params
    _assert_histories(run, evals_result)
    assert list(evals_result["train"]) == ["max_abs"]


def test_sklearn_custom_objective_and_metric() -> None:
    x, y = _regression()

    def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(np.mean(np.abs(y_true - y_pred)))

    model = xgb.XGBRegressor(n_estimators=5, objective=squared_error_sk, eval_metric=mae)
    model.fit(x, y, eval_set=[(x, y)], verbose=False)
    run = _only_run()
    assert run.params["objective"] == f"{__name__}.squared_error_sk"
    assert run.params["custom_objective"] == f"{__name__}.squared_error_sk"
    local = f"{__name__}.test_sklearn_custom_objective_and_metric.<locals>.mae"
    assert run.params["eval_metric"] == local  # functions by module.qualname
    assert run.params["custom_metric"] == local
    _assert_histories(run, model.evals_result())


def squared_error_sk(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return y_pred - y_true, np.ones_like(y_pred)


def test_continued_training_steps_follow_the_booster() -> None:
    x, y = _binary()
    dtrain = xgb.DMatrix(x[:160], y[:160])
    dvalid = xgb.DMatrix(x[160:], y[160:])
    params = {"objective": "binary:logistic", "max_depth": 2}
    first = xgb.train(params, dtrain, 4, evals=[(dvalid, "eval")], verbose_eval=False)
    evals_result: dict[str, Any] = {}
    second = xgb.train(
        params,
        dtrain,
        3,
        evals=[(dvalid, "eval")],
        xgb_model=first,
        evals_result=evals_result,
        verbose_eval=False,
    )
    assert second.num_boosted_rounds() == 7
    runs = autolog.search_runs()
    assert len(runs) == 2
    continued = next(r for r in runs if "xgb_model" in r.params)
    assert continued.params["xgb_model"] == "Booster"
    _assert_histories(continued, evals_result, start=4)
    _assert_importances(continued, second)


def test_sklearn_continued_training() -> None:
    x, y = _binary()
    first = xgb.XGBClassifier(n_estimators=3).fit(x, y)
    second = xgb.XGBClassifier(n_estimators=2)
    second.fit(x, y, eval_set=[(x, y)], xgb_model=first, verbose=False)
    runs = autolog.search_runs()
    assert len(runs) == 2
    continued = next(r for r in runs if "xgb_model" in r.params)
    assert continued.params["xgb_model"].startswith("XGBClassifier(")  # its repr, as MLflow
    _assert_histories(continued, second.evals_result(), start=3)


def test_cv_records_mean_and_std_per_round() -> None:
    x, y = _binary()
    dtrain = xgb.DMatrix(x, y)
    result = xgb.cv(
        {"objective": "binary:logistic", "max_depth": 2},
        dtrain,
        num_boost_round=40,
        nfold=3,
        metrics=["logloss", "error"],
        early_stopping_rounds=3,
        seed=7,
    )
    assert isinstance(result, pd.DataFrame)
    run = _only_run()
    assert run.tags["autolog.xgboost.call"] == "xgboost.cv"
    assert run.params["nfold"] == "3"
    assert run.params["metrics"] == "['logloss', 'error']"
    assert run.params["seed"] == "7"
    assert "as_pandas" not in run.params
    for column in result.columns:
        logged, steps = _history(run, column)
        # cv trims its result to the best iteration; the history keeps every round run.
        assert logged[: len(result)] == list(result[column]), column
        assert steps[0] == 0
    assert run.metrics["best_iteration"] == len(result) - 1
    assert "feature_importances.json" not in [a.path for a in autolog.list_artifacts(run.id)]


def test_no_evals_is_said_in_a_tag() -> None:
    x, y = _regression()
    xgb.train({"max_depth": 2}, xgb.DMatrix(x, y), 3)
    run = _only_run()
    assert run.tags["autolog.xgboost.evals"] == "none"
    assert all(k.startswith("feature_importance.") for k in run.metrics)  # no eval metrics
    _assert_importances(run, xgb.train({"max_depth": 2}, xgb.DMatrix(x, y), 3))


def test_sklearn_without_eval_set_is_said_in_a_tag() -> None:
    x, y = _regression()
    xgb.XGBRegressor(n_estimators=3).fit(x, y)
    run = _only_run()
    assert run.tags["autolog.xgboost.evals"] == "none"
    assert "evals" not in run.params


def test_user_callbacks_are_kept_and_their_list_untouched() -> None:
    x, y = _binary()
    dtrain = xgb.DMatrix(x[:160], y[:160])
    dvalid = xgb.DMatrix(x[160:], y[160:])

    class CountRounds(xgb.callback.TrainingCallback):
        def __init__(self) -> None:
            super().__init__()
            self.rounds = 0

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            self.rounds += 1
            return False

    counter = CountRounds()
    # A user EarlyStopping placed first stops training before later callbacks run on
    # the last round: that round's metrics must still be logged.
    stopper = xgb.callback.EarlyStopping(rounds=2, save_best=True)
    callbacks = [stopper, counter]
    evals_result: dict[str, Any] = {}
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 4, "eta": 0.8},
        dtrain,
        100,
        evals=[(dvalid, "eval")],
        callbacks=callbacks,
        evals_result=evals_result,
        verbose_eval=False,
    )
    assert callbacks == [stopper, counter]
    run = _only_run()
    assert run.params["callbacks"] == "[EarlyStopping, CountRounds]"
    rounds = len(evals_result["eval"]["logloss"])
    assert counter.rounds == rounds - 1  # the stopping round skipped it
    _assert_histories(run, evals_result)
    assert run.metrics["best_iteration"] == booster.best_iteration
    assert run.metrics["stopped_iteration"] == rounds - 1


def test_params_given_as_pairs_keep_repeated_keys() -> None:
    x, y = _binary()
    dtrain = xgb.DMatrix(x, y)
    params = [("objective", "binary:logistic"), ("eval_metric", "auc"), ("eval_metric", "error")]
    evals_result: dict[str, Any] = {}
    xgb.train(
        params, dtrain, 3, evals=[(dtrain, "train")], evals_result=evals_result, verbose_eval=False
    )
    run = _only_run()
    assert run.params["eval_metric"] == "['auc', 'error']"
    _assert_histories(run, evals_result)


def test_params_already_in_the_user_run_are_kept() -> None:
    x, y = _binary()
    with autolog.start_run() as run:
        autolog.log_param("max_depth", "99")
        xgb.train({"max_depth": 3, "eta": 0.3}, xgb.DMatrix(x, y), 2)
    stored = autolog.get_run(run.id)
    assert stored.params["max_depth"] == "99"
    assert stored.params["eta"] == "0.3"
    assert stored.params["num_boost_round"] == "2"


def test_multiclass_with_pandas_features() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(150, 3)), columns=["width", "height", "depth"])
    labels = rng.integers(0, 3, size=150)
    model = xgb.XGBClassifier(n_estimators=4, max_depth=2)
    model.fit(frame, labels, eval_set=[(frame, labels)], verbose=False)
    run = _only_run()
    _assert_histories(run, model.evals_result())
    assert "validation_0-mlogloss" in run.metrics
    recorded = _artifact_json(run, "feature_importances.json")
    assert sorted(recorded["features"]) == ["depth", "height", "width"]
    data = _artifact_json(run, "datasets/train.json")
    assert data["X"]["columns"] == ["width", "height", "depth"]


def test_sklearn_data_hash_follows_the_content() -> None:
    x, y = _binary()
    xgb.XGBClassifier(n_estimators=2).fit(x, y)
    xgb.XGBClassifier(n_estimators=2).fit(x.copy(), y)
    x[0, 0] += 1.0
    xgb.XGBClassifier(n_estimators=2).fit(x, y)
    hashes = [_artifact_json(r, "datasets/train.json")["hash"] for r in autolog.search_runs()]
    assert len(hashes) == 3
    assert None not in hashes
    assert sorted(Counter(hashes).values()) == [1, 2]


def test_log_datasets_off_records_no_fingerprint() -> None:
    autolog.enable("xgboost", log_datasets=False)
    x, y = _binary()
    xgb.train({"max_depth": 2}, xgb.DMatrix(x, y), 2)
    run = _only_run()
    assert "datasets" not in [a.path for a in autolog.list_artifacts(run.id)]


def test_booster_model_round_trip() -> None:
    x, y = _binary()
    dtrain = xgb.DMatrix(x, y)
    booster = xgb.train({"objective": "binary:logistic"}, dtrain, 5)
    run = _only_run()
    loaded = autolog.load_model(f"runs:/{run.id}/model")
    assert isinstance(loaded, xgb.Booster)
    np.testing.assert_array_equal(loaded.predict(dtrain), booster.predict(dtrain))


def test_sklearn_model_round_trip() -> None:
    x, y = _binary()
    model = xgb.XGBClassifier(n_estimators=5).fit(x, y)
    run = _only_run()
    loaded = autolog.load_model(f"runs:/{run.id}/model")
    assert type(loaded) is xgb.XGBClassifier
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_registered_model_name_registers_each_model() -> None:
    from autolog._registry import api as _registry

    autolog.enable("xgboost", registered_model_name="churn-xgb")
    x, y = _binary()
    xgb.XGBClassifier(n_estimators=2).fit(x, y)
    run = _only_run()
    version = _registry.get_model_version("churn-xgb", 1)
    assert version.run_id == run.id


def test_log_models_off_logs_no_model() -> None:
    autolog.enable("xgboost", log_models=False)
    x, y = _binary()
    xgb.XGBClassifier(n_estimators=2).fit(x, y)
    run = _only_run()
    assert "model" not in [a.path for a in autolog.list_artifacts(run.id)]


def test_input_examples_off_still_logs_the_signature() -> None:
    autolog.enable("xgboost", log_input_examples=False)
    x, y = _binary()
    xgb.XGBClassifier(n_estimators=2).fit(pd.DataFrame(x, columns=list("abcde")), y)
    run = _only_run()
    paths = [f.path for f in autolog.list_artifacts(run.id, "model")]
    assert "model/MLmodel" in paths and "model/input_example.json" not in paths
    mlmodel = autolog.download_artifacts(run.id, "model/MLmodel").read_text()
    assert "signature" in mlmodel and '\\"name\\": \\"e\\"' in mlmodel


def _cuda_available() -> bool:
    if not xgb.build_info().get("USE_CUDA") or shutil.which("nvidia-smi") is None:
        return False
    try:
        xgb.train({"device": "cuda"}, xgb.DMatrix(np.ones((4, 1)), np.ones(4)), 1)
    except xgb.core.XGBoostError:
        return False
    return True


@pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA GPU and a CUDA build of XGBoost")
def test_cuda_training_is_logged_the_same_way() -> None:
    x, y = _binary()
    model = xgb.XGBClassifier(n_estimators=5, device="cuda", tree_method="hist")
    model.fit(x, y, eval_set=[(x, y)], verbose=False)
    run = _only_run()
    assert run.params["device"] == "cuda"
    _assert_histories(run, model.evals_result())
    _assert_importances(run, model.get_booster())
    dtrain = xgb.DMatrix(x, y)
    evals_result: dict[str, Any] = {}
    xgb.train(
        {"device": "cuda", "objective": "binary:logistic"},
        dtrain,
        5,
        evals=[(dtrain, "train")],
        evals_result=evals_result,
        verbose_eval=False,
    )
    runs = autolog.search_runs()
    assert len(runs) == 2
    train_run = next(r for r in runs if r.tags["autolog.xgboost.call"] == "xgboost.train")
    _assert_histories(train_run, evals_result)
