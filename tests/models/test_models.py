"""log_model / save_model / load_model: round trips of every flavor, integrity, signatures."""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import autolog
from autolog import _models
from autolog._models import (
    Flavor,
    ModelInfo,
    ModelVersionWarning,
    PyFuncModel,
    SavedFlavor,
    Signature,
    infer_signature,
    load_model,
    log_model,
    register_flavor,
    save_model,
    unregister_flavor,
)
from autolog._models._mlmodel import MLMODEL, dump_yaml, load_yaml, metadata_digest
from autolog._models._signature import ColSpec, TensorSpec, slice_example
from autolog._models._sklearn import SklearnFlavor
from autolog.errors import (
    InvalidInputError,
    InvalidValueError,
    ModelIntegrityError,
    ModelNotFoundError,
    RunNotFoundError,
)

# -- fixtures and models ---------------------------------------------------------------------------

_UNPICKLED: list[str] = []


class MeanRegressor(RegressorMixin, BaseEstimator):
    """A user estimator: predicts the training mean plus `shift`."""

    def __init__(self, shift: float = 0.0) -> None:
        self.shift = shift

    def fit(self, X: Any, y: Any) -> MeanRegressor:
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X: Any) -> Any:
        return np.full(len(X), self.mean_ + self.shift)


class _Trap:
    """Unpickling it records that a pickle was loaded."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_UNPICKLED.append, ("loaded",))


@pytest.fixture(autouse=True)
def _fresh_warnings() -> Iterator[None]:
    _models._load._warned.clear()
    yield
    _models._load._warned.clear()


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 120),
            "income": rng.normal(50.0, 10.0, 120),
            "city": rng.choice(["paris", "oslo", "rome"], 120),
        }
    )
    y = ((X["income"] > 50) ^ (X["city"] == "oslo")).to_numpy().astype(int)
    return X, y


@pytest.fixture(scope="module")
def pipeline(data: tuple[pd.DataFrame, np.ndarray]) -> Pipeline:
    X, y = data
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["age", "income"]), ("cat", OneHotEncoder(), ["city"])]
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(X, y)


@pytest.fixture(scope="module")
def arrays() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def logreg(arrays: tuple[np.ndarray, np.ndarray]) -> LogisticRegression:
    return LogisticRegression().fit(*arrays)


def _mlmodel(model_dir: Path) -> dict[str, Any]:
    return load_yaml((model_dir / MLMODEL).read_text())


def _rewrite_mlmodel(model_dir: Path, change: Any, *, rehash: bool) -> None:
    content = _mlmodel(model_dir)
    change(content)
    if rehash:
        content["autolog"]["metadata_sha256"] = metadata_digest(content)
    (model_dir / MLMODEL).write_text(dump_yaml(content))


# -- scikit-learn round trips ----------------------------------------------------------------------


def test_logistic_regression_round_trip_through_a_run(
    logreg: LogisticRegression, arrays: tuple[np.ndarray, np.ndarray]
) -> None:
    X, _ = arrays
    with autolog.start_run() as run:
        info = log_model(logreg, input_example=X)
    assert isinstance(info, ModelInfo)
    assert info.model_uri == f"runs:/{run.id}/model"
    assert (info.run_id, info.artifact_path, info.experiment) == (run.id, "model", "Default")
    assert set(info.flavors) == {"python_function", "sklearn"}
    assert info.signature == Signature(
        (TensorSpec("float64", (-1, 4)),), (TensorSpec("int64", (-1,)),)
    )
    loaded = load_model(info.model_uri)
    assert type(loaded) is LogisticRegression
    np.testing.assert_array_equal(loaded.predict_proba(X), logreg.predict_proba(X))

    names = {f.path for f in autolog.list_artifacts(run.id, "model")}
    assert names == {
        f"model/{n}"
        for n in (
            "MLmodel",
            "model.pkl",
            "input_example.json",
            "requirements.txt",
            "python_env.yaml",
            "conda.yaml",
        )
    }


def test_model_changed_after_log_model_is_logged_as_it_was(
    arrays: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = arrays
    model = LogisticRegression().fit(X, y)
    expected = model.predict_proba(X)
    with autolog.start_run():
        info = log_model(model)
        model.fit(X, 1 - y)  # re-fitted before the writer has written anything
    np.testing.assert_array_equal(load_model(info.model_uri).predict_proba(X), expected)


def test_pipeline_with_column_transformer_on_a_dataframe(
    pipeline: Pipeline, data: tuple[pd.DataFrame, np.ndarray], tmp_path: Path
) -> None:
    X, _ = data
    info = save_model(pipeline, tmp_path / "pipe", input_example=X)
    assert info.signature is not None
    assert info.signature.inputs == (
        ColSpec("long", "age"),
        ColSpec("double", "income"),
        ColSpec("string", "city"),
    )
    assert info.signature.outputs == (ColSpec("long"),)
    loaded = load_model(tmp_path / "pipe")
    assert isinstance(loaded, Pipeline)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))

    example = json.loads((tmp_path / "pipe" / "input_example.json").read_text())
    assert example["columns"] == ["age", "income", "city"]
    assert len(example["data"]) == 5
    assert example["data"][0] == [int(X.age[0]), float(X.income[0]), str(X.city[0])]


def test_user_estimator_subclass(tmp_path: Path) -> None:
    model = MeanRegressor(shift=0.5).fit(np.zeros((3, 2)), [1.0, 2.0, 3.0])
    save_model(model, tmp_path / "m", input_example=np.zeros((3, 2)))
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is MeanRegressor
    assert loaded.get_params() == {"shift": 0.5}
    assert loaded.predict(np.zeros((2, 2))).tolist() == [2.5, 2.5]


def test_cloudpickle_format(tmp_path: Path) -> None:
    pytest.importorskip("cloudpickle")
    from sklearn.preprocessing import FunctionTransformer

    model = FunctionTransformer(lambda x: x * 3)  # a lambda: plain pickle cannot write it
    with pytest.raises(InvalidValueError, match="cloudpickle"):
        save_model(model, tmp_path / "plain")
    save_model(model, tmp_path / "cp", format="cloudpickle")
    conf = _mlmodel(tmp_path / "cp")["flavors"]["sklearn"]
    assert conf["serialization_format"] == "cloudpickle"
    assert "cloudpickle==" in (tmp_path / "cp" / "requirements.txt").read_text()
    assert load_model(tmp_path / "cp").transform(np.ones((1, 2))).tolist() == [[3.0, 3.0]]


def test_sklearn_file_is_a_plain_pickle(logreg: LogisticRegression, tmp_path: Path) -> None:
    # MLflow's loader calls pickle.load on it; joblib.load reads it too.
    import joblib

    save_model(logreg, tmp_path / "m")
    with open(tmp_path / "m" / "model.pkl", "rb") as f:
        assert type(pickle.load(f)) is LogisticRegression
    assert type(joblib.load(tmp_path / "m" / "model.pkl")) is LogisticRegression


# -- XGBoost round trips ---------------------------------------------------------------------------


def _xgb_data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(120, 4)), columns=["a", "b", "c", "d"])
    y = rng.integers(0, 3, 120)
    return X, y


@pytest.mark.parametrize("fmt", ["ubj", "json"])
def test_booster_round_trip(fmt: str, tmp_path: Path) -> None:
    X, y = _xgb_data()
    dtrain = xgb.DMatrix(X, label=y)
    booster = xgb.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "nthread": 1},
        dtrain,
        num_boost_round=6,
        evals=[(dtrain, "train")],
        early_stopping_rounds=3,
        verbose_eval=False,
    )
    info = save_model(booster, tmp_path / "b", input_example=X, format=fmt)
    assert info.flavors["xgboost"]["model_format"] == fmt
    assert info.flavors["xgboost"]["model_class"] == "xgboost.core.Booster"
    assert (tmp_path / "b" / f"model.{fmt}").is_file()
    assert info.signature is not None and info.signature.outputs == (
        TensorSpec("float32", (-1, 3)),
    )
    loaded = load_model(tmp_path / "b")
    assert type(loaded) is xgb.Booster
    assert loaded.feature_names == ["a", "b", "c", "d"]
    assert loaded.best_iteration == booster.best_iteration
    np.testing.assert_array_equal(loaded.predict(xgb.DMatrix(X)), booster.predict(xgb.DMatrix(X)))


def _fitted(cls: type[xgb.XGBModel]) -> tuple[xgb.XGBModel, pd.DataFrame]:
    X, y = _xgb_data()
    params = {
        "n_estimators": 5,
        "max_depth": 3,
        "learning_rate": 0.3,
        "random_state": 7,
        "n_jobs": 1,
    }
    if cls is xgb.XGBRanker:
        return cls(**params).fit(X, y, qid=np.repeat(np.arange(12), 10)), X
    if cls is xgb.XGBRegressor:
        return cls(**params).fit(X, y.astype(float)), X
    return cls(**params).fit(X, y), X


@pytest.mark.parametrize("fmt", ["ubj", "json"])
@pytest.mark.parametrize("cls", [xgb.XGBClassifier, xgb.XGBRegressor, xgb.XGBRanker])
def test_sklearn_api_models_round_trip(cls: type[xgb.XGBModel], fmt: str, tmp_path: Path) -> None:
    model, X = _fitted(cls)
    with autolog.start_run():
        info = log_model(model, input_example=X, format=fmt)
    loaded = load_model(info.model_uri)
    assert type(loaded) is cls
    original = model.get_params()
    restored = loaded.get_params()
    # repr: `missing` is NaN, which equals nothing.
    assert {k: repr(restored[k]) for k, v in original.items() if v is not None} == {
        k: repr(v) for k, v in original.items() if v is not None
    }
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    if cls is xgb.XGBClassifier:
        np.testing.assert_array_equal(loaded.classes_, model.classes_)
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
        assert loaded.n_classes_ == 3


def test_xgb_custom_objective_is_listed_as_not_restored(tmp_path: Path) -> None:
    X, y = _xgb_data()

    def squared(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return y_pred - y_true, np.ones_like(y_pred)

    model = xgb.XGBRegressor(n_estimators=3, objective=squared, n_jobs=1).fit(X, y.astype(float))
    save_model(model, tmp_path / "m")
    stored = json.loads((tmp_path / "m" / "params.json").read_text())
    assert stored["not_restored"] == ["objective"]
    assert math.isnan(stored["params"]["missing"])
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_unfitted_xgb_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="not fitted"):
        save_model(xgb.XGBClassifier(), tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_format_of_another_flavor_is_refused(logreg: LogisticRegression, tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match=r"'ubj'.*\['pickle', 'cloudpickle'\]"):
        save_model(logreg, tmp_path / "m", format="ubj")


def test_object_of_no_flavor_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match=r"builtins\.dict.*sklearn, xgboost"):
        save_model({"not": "a model"}, tmp_path / "m")


# -- integrity -------------------------------------------------------------------------------------


def test_tampered_file_is_refused_before_it_is_unpickled(
    logreg: LogisticRegression, tmp_path: Path
) -> None:
    save_model(logreg, tmp_path / "m")
    (tmp_path / "m" / "model.pkl").write_bytes(pickle.dumps(_Trap()))
    _UNPICKLED.clear()
    with pytest.raises(ModelIntegrityError, match=r"'model\.pkl'.*may have been modified"):
        load_model(tmp_path / "m")
    assert _UNPICKLED == []


def test_tampered_file_in_a_run_is_refused(logreg: LogisticRegression, store_dir: Path) -> None:
    with autolog.start_run() as run:
        info = log_model(logreg)
    autolog.flush()
    stored = store_dir / "runs" / run.id / "artifacts" / "model" / "requirements.txt"
    stored.write_text("scikit-learn\n")
    with pytest.raises(ModelIntegrityError, match=r"requirements\.txt"):
        load_model(info.model_uri)


def test_missing_file_is_refused(logreg: LogisticRegression, tmp_path: Path) -> None:
    save_model(logreg, tmp_path / "m", input_example=np.zeros((2, 4)))
    (tmp_path / "m" / "input_example.json").unlink()
    with pytest.raises(ModelIntegrityError, match=r"'input_example\.json'.*missing"):
        load_model(tmp_path / "m")


def test_edited_mlmodel_is_refused(logreg: LogisticRegression, tmp_path: Path) -> None:
    save_model(logreg, tmp_path / "m")

    def point_elsewhere(content: dict[str, Any]) -> None:
        content["flavors"]["sklearn"]["pickled_model"] = "other.pkl"

    _rewrite_mlmodel(tmp_path / "m", point_elsewhere, rehash=False)
    with pytest.raises(ModelIntegrityError, match=r"MLmodel file .* was changed"):
        load_model(tmp_path / "m")


def test_model_file_outside_the_directory_is_refused(
    logreg: LogisticRegression, tmp_path: Path
) -> None:
    save_model(logreg, tmp_path / "m")

    def escape(content: dict[str, Any]) -> None:
        content["flavors"]["sklearn"]["pickled_model"] = "../evil.pkl"

    _rewrite_mlmodel(tmp_path / "m", escape, rehash=True)
    with pytest.raises(ModelIntegrityError, match="not a file inside the model directory"):
        load_model(tmp_path / "m")


def test_directory_without_mlmodel(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="has no MLmodel file"):
        load_model(tmp_path / "empty")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_model(tmp_path / "nowhere")


def test_mlmodel_without_hashes_is_refused(tmp_path: Path) -> None:
    # What another tool (MLflow itself) writes: autolog cannot verify it, so it refuses.
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / MLMODEL).write_text("flavors:\n  sklearn:\n    pickled_model: model.pkl\n")
    (tmp_path / "m" / "model.pkl").write_bytes(pickle.dumps(_Trap()))
    _UNPICKLED.clear()
    with pytest.raises(ModelIntegrityError, match="no autolog file hashes"):
        load_model(tmp_path / "m")
    assert _UNPICKLED == []


# -- flavors: unknown, chosen, registered ----------------------------------------------------------


class Polynomial:
    """A toy model of a library autolog does not know."""

    def __init__(self, coefs: list[float]) -> None:
        self.coefs = coefs

    def predict(self, X: Any) -> Any:
        x = np.asarray(X, dtype=float)[:, 0]
        return sum(c * x**i for i, c in enumerate(self.coefs))


class PolynomialFlavor(Flavor):
    name = "polynomial"
    libraries: Mapping[str, str] = {"numpy": "numpy"}
    formats = ("json",)

    def matches(self, model: object) -> bool:
        return isinstance(model, Polynomial)

    def save(self, model: object, format: str) -> SavedFlavor:
        assert isinstance(model, Polynomial)
        data = json.dumps(model.coefs).encode()
        return SavedFlavor({"coefs.json": data}, {"data": "coefs.json"}, {})

    def load(self, model_dir: Path, conf: Mapping[str, Any]) -> Any:
        return Polynomial(json.loads((model_dir / conf["data"]).read_text()))


@pytest.fixture
def polynomial_flavor() -> Iterator[PolynomialFlavor]:
    flavor = PolynomialFlavor()
    register_flavor(flavor)
    yield flavor
    if "polynomial" in _models._flavors._registered:
        unregister_flavor("polynomial")


def test_registered_flavor_round_trip(polynomial_flavor: PolynomialFlavor, tmp_path: Path) -> None:
    model = Polynomial([1.0, 2.0])
    X = np.array([[0.0], [1.0], [2.0]])
    info = save_model(model, tmp_path / "p", input_example=X)
    assert info.flavors["python_function"]["loader_module"] == "autolog._models._pyfunc"
    assert "autolog-ml==" in (tmp_path / "p" / "requirements.txt").read_text()
    loaded = load_model(tmp_path / "p")
    assert isinstance(loaded, Polynomial) and loaded.coefs == [1.0, 2.0]
    pyfunc = load_model(tmp_path / "p", flavor="python_function")
    assert pyfunc.predict(X).tolist() == [1.0, 3.0, 5.0]
    with pytest.raises(InvalidValueError, match="already registered"):
        register_flavor(PolynomialFlavor())


def test_unknown_flavor_lists_the_models_flavors(
    polynomial_flavor: PolynomialFlavor, tmp_path: Path
) -> None:
    save_model(Polynomial([1.0]), tmp_path / "p")
    unregister_flavor("polynomial")
    with pytest.raises(InvalidInputError, match=r"\['python_function', 'polynomial'\]"):
        load_model(tmp_path / "p")
    with pytest.raises(InvalidInputError, match="register a Flavor named 'polynomial'"):
        load_model(tmp_path / "p", flavor="polynomial")


def test_flavor_the_model_does_not_have(logreg: LogisticRegression, tmp_path: Path) -> None:
    save_model(logreg, tmp_path / "m")
    with pytest.raises(
        InvalidInputError, match=r"no flavor 'xgboost'.*\['python_function', 'sklearn'\]"
    ):
        load_model(tmp_path / "m", flavor="xgboost")
    assert type(load_model(tmp_path / "m", flavor="sklearn")) is LogisticRegression


def test_bad_flavor_registrations() -> None:
    class Nameless(PolynomialFlavor):
        name = "python_function"

    with pytest.raises(autolog.errors.InvalidKeyError, match="python_function"):
        register_flavor(Nameless())
    with pytest.raises(InvalidValueError, match=r"instance of autolog\.Flavor"):
        register_flavor(PolynomialFlavor)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="already registered"):
        register_flavor(SklearnFlavor())


# -- library versions ------------------------------------------------------------------------------


def test_version_mismatch_warns_once(
    logreg: LogisticRegression, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Save as scikit-learn 0.0.1 would have: the recorded version (and so the MLmodel's
    # own digest) says 0.0.1, consistently, as a model saved elsewhere would.
    with monkeypatch.context() as patch:
        patch.setattr(SklearnFlavor, "library_versions", lambda self: {"scikit-learn": "0.0.1"})
        save_model(logreg, tmp_path / "old")
    assert _mlmodel(tmp_path / "old")["flavors"]["sklearn"]["sklearn_version"] == "0.0.1"
    import sklearn

    with pytest.warns(
        ModelVersionWarning, match=f"scikit-learn 0.0.1 .* {sklearn.__version__}"
    ) as rec:
        load_model(tmp_path / "old")
    assert rec[0].filename == __file__  # points at the caller's line
    # The same mismatch again: no second warning (filterwarnings=error would raise).
    assert type(load_model(tmp_path / "old")) is LogisticRegression


def test_same_versions_do_not_warn(logreg: LogisticRegression, tmp_path: Path) -> None:
    save_model(logreg, tmp_path / "m")
    load_model(tmp_path / "m")  # filterwarnings=error turns any warning into a failure


# -- python_function and signatures ----------------------------------------------------------------


def test_pyfunc_checks_dataframe_input(
    pipeline: Pipeline, data: tuple[pd.DataFrame, np.ndarray], tmp_path: Path
) -> None:
    X, _ = data
    save_model(pipeline, tmp_path / "m", input_example=X)
    model = load_model(tmp_path / "m", flavor="python_function")
    assert isinstance(model, PyFuncModel)
    assert isinstance(model.get_raw_model(), Pipeline)
    assert model.metadata.signature == model.signature
    expected = pipeline.predict(X)
    np.testing.assert_array_equal(model.predict(X), expected)
    # Columns in another order, and one extra: reordered and dropped.
    shuffled = X[["city", "income", "age"]].assign(extra=1)
    np.testing.assert_array_equal(model.predict(shuffled), expected)
    np.testing.assert_array_equal(model.predict(X.to_dict(orient="list")), expected)

    with pytest.raises(InvalidInputError, match=r"no column 'income'.*Add the column"):
        model.predict(X.drop(columns="income"))
    with pytest.raises(InvalidInputError, match=r"column 'income' holds .* expects double"):
        model.predict(X.assign(income="high"))
    with pytest.raises(InvalidInputError, match=r"column 'age' holds float64 .*missing value"):
        model.predict(X.assign(age=X.age.astype(float)))
    with pytest.raises(InvalidInputError, match=r"column 'city' .* expects string"):
        model.predict(X.assign(city=1))
    with pytest.raises(InvalidInputError, match=r"expects a pandas DataFrame with columns"):
        model.predict(X.to_numpy())
    example = model.input_example()
    assert list(example.columns) == ["age", "income", "city"] and len(example) == 5


def test_pyfunc_checks_array_input(
    logreg: LogisticRegression, arrays: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, _ = arrays
    save_model(logreg, tmp_path / "m", input_example=X)
    model = load_model(tmp_path / "m", flavor="python_function")
    np.testing.assert_array_equal(model.predict(X), logreg.predict(X))
    np.testing.assert_array_equal(model.predict(X.astype(int)), logreg.predict(X.astype(int)))
    np.testing.assert_array_equal(model.predict(pd.DataFrame(X)), logreg.predict(X))
    with pytest.raises(InvalidInputError, match=r"3 columns .* expects 4"):
        model.predict(X[:, :3])
    with pytest.raises(InvalidInputError, match="dtype <U"):
        model.predict(X.astype(str))
    with pytest.raises(InvalidInputError, match="1 dimensions"):
        model.predict(X[:, 0])


def test_pyfunc_of_xgboost_booster(tmp_path: Path) -> None:
    X, y = _xgb_data()
    booster = xgb.train({"max_depth": 2, "nthread": 1}, xgb.DMatrix(X, label=y), num_boost_round=3)
    save_model(booster, tmp_path / "b", input_example=X)
    model = load_model(tmp_path / "b", flavor="python_function")
    np.testing.assert_array_equal(model.predict(X), booster.predict(xgb.DMatrix(X)))


def test_signature_choices(
    logreg: LogisticRegression, arrays: tuple[Any, Any], tmp_path: Path
) -> None:
    X, _ = arrays
    assert save_model(logreg, tmp_path / "a").signature is None  # no example: nothing to infer
    assert save_model(logreg, tmp_path / "b", input_example=X, signature=None).signature is None
    given = infer_signature(X, logreg.predict(X))
    assert save_model(logreg, tmp_path / "c", signature=given).signature == given
    assert load_model(tmp_path / "c", flavor="python_function").signature == given
    with pytest.raises(InvalidValueError, match="signature='yes'"):
        save_model(logreg, tmp_path / "d", signature="yes")  # type: ignore[arg-type]


def test_signature_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "i32": np.array([1], dtype=np.int32),
            "u8": np.array([1], dtype=np.uint8),
            "i64": [1],
            "f32": np.array([1.0], dtype=np.float32),
            "f64": [1.0],
            "b": [True],
            "s": pd.Series(["x"], dtype="string"),
            "obj": pd.Series(["x"], dtype=object),
            "cat": pd.Series(["x"], dtype="category"),
            "t": pd.to_datetime(["2024-01-01"]),
            "by": [b"x"],
        }
    )
    sig = infer_signature(frame)
    assert [s.type for s in sig.inputs] == [
        "integer",
        "integer",
        "long",
        "float",
        "double",
        "boolean",
        "string",
        "string",
        "string",
        "datetime",
        "binary",
    ]
    with pytest.raises(InvalidValueError, match="column 'x'"):
        infer_signature(pd.DataFrame({"x": [object()]}))


def test_signature_is_mlflow_json() -> None:
    sig = Signature((ColSpec("double", "a"),), (TensorSpec("int64", (-1,)),))
    as_dict = sig.to_dict()
    assert json.loads(as_dict["inputs"] or "") == [
        {"type": "double", "name": "a", "required": True}
    ]
    assert json.loads(as_dict["outputs"] or "") == [
        {"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}
    ]
    assert Signature.from_dict(as_dict) == sig


def test_input_example_is_sliced_before_copying() -> None:
    big = np.zeros((100_000, 3))
    example = slice_example(big)
    assert example.shape == (5, 3) and np.shares_memory(example, big)
    frame = pd.DataFrame(big)
    assert slice_example(frame).shape == (5, 3)
    with pytest.raises(InvalidValueError, match="input_example is a set"):
        slice_example({1, 2})


def test_input_example_with_missing_values_and_dates(tmp_path: Path) -> None:
    X = pd.DataFrame(
        {"x": [1.0, np.nan, 3.0], "t": pd.to_datetime(["2024-01-01", None, "2024-01-03"])}
    )
    model = MeanRegressor().fit(X, [1.0, 2.0, 3.0])
    save_model(model, tmp_path / "m", input_example=X)
    example = json.loads((tmp_path / "m" / "input_example.json").read_text())
    assert example["data"] == [
        [1.0, "2024-01-01T00:00:00"],
        [None, None],
        [3.0, "2024-01-03T00:00:00"],
    ]


# -- URIs, runs and save_model ---------------------------------------------------------------------


def test_log_model_without_an_active_run_starts_one(logreg: LogisticRegression) -> None:
    info = log_model(logreg, "clf")
    assert info.model_uri == f"runs:/{info.run_id}/clf"
    assert autolog.active_run() is not None and autolog.active_run().id == info.run_id  # type: ignore[union-attr]
    assert type(load_model(info.model_uri)) is LogisticRegression


def test_log_model_into_a_given_run_and_nested_name(logreg: LogisticRegression) -> None:
    outer = autolog.start_run()
    inner = autolog.start_run(nested=True)
    info = log_model(logreg, "models/clf", run=outer)
    inner.end()
    outer.end()
    assert info.run_id == outer.id
    assert type(load_model(f"runs:/{outer.id}/models/clf")) is LogisticRegression
    with pytest.raises(InvalidValueError, match=r"run=.*ActiveRun"):
        log_model(logreg, run="abc")  # type: ignore[arg-type]


def test_log_model_twice_under_one_name_is_refused(logreg: LogisticRegression) -> None:
    with autolog.start_run():
        log_model(logreg)
        with pytest.raises(InvalidInputError, match="already has a model named 'model'"):
            log_model(logreg)
        log_model(logreg, "model_2")


def test_runs_uri_errors(logreg: LogisticRegression) -> None:
    with autolog.start_run() as run:
        log_model(logreg)
    with pytest.raises(ModelNotFoundError, match=f"run {run.id} has no model at 'other'"):
        load_model(f"runs:/{run.id}/other")
    with pytest.raises(RunNotFoundError):
        load_model("runs:/0123456789abcdef/model")
    with pytest.raises(autolog.errors.InvalidKeyError):
        load_model("runs:/../model")
    with pytest.raises(InvalidInputError, match="scheme 'gs'"):
        load_model("gs://bucket/model")  # s3:// loads (tests/backends/test_s3_backend.py)


def test_file_uri_and_extra_files(logreg: LogisticRegression, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("trained on Tuesday")
    info = save_model(logreg, tmp_path / "m", extra_files=[notes])
    assert "extra_files/notes.txt" in info.files
    assert (tmp_path / "m" / "extra_files" / "notes.txt").read_text() == "trained on Tuesday"
    assert type(load_model((tmp_path / "m").as_uri())) is LogisticRegression
    with pytest.raises(InvalidValueError, match="wrap it in a list"):
        save_model(logreg, tmp_path / "n", extra_files=str(notes))  # type: ignore[arg-type]


def test_save_model_refuses_to_overwrite(logreg: LogisticRegression, tmp_path: Path) -> None:
    save_model(logreg, tmp_path / "m")
    before = (tmp_path / "m" / MLMODEL).read_bytes()
    with pytest.raises(InvalidInputError, match=r"non-empty directory.*never overwrites"):
        save_model(logreg, tmp_path / "m")
    assert (tmp_path / "m" / MLMODEL).read_bytes() == before
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInputError, match="is a file"):
        save_model(logreg, tmp_path / "file")
    (tmp_path / "empty").mkdir()
    save_model(logreg, tmp_path / "empty")  # an empty directory is fine
    save_model(logreg, tmp_path / "new" / "deeper")
    leftovers = [p.name for p in tmp_path.rglob(".*tmp-*")]
    assert leftovers == []


def test_models_uri(logreg: LogisticRegression) -> None:
    registry = pytest.importorskip("autolog._registry.api")
    with autolog.start_run() as run:
        log_model(logreg)
    registry.register_model(f"runs:/{run.id}/model", "churn")
    registry.set_alias("churn", "production", 1)
    assert type(load_model("models:/churn/1")) is LogisticRegression
    assert type(load_model("models:/churn@production")) is LogisticRegression


# -- the MLmodel file ------------------------------------------------------------------------------


def test_yaml_writer_matches_pyyaml() -> None:
    yaml = pytest.importorskip("yaml")
    content = {
        "plain": "mlflow.sklearn",
        "version": "3.11.7",
        "words": ["yes", "no", "on", "null", "true", "~", "", " x", "a: b", "# c", "-", "@x"],
        "quotes": "say \"hi\" \\ 'there'",
        "unicode": "caf\u00e9 \u2603 \U0001f600 \x85 \x7f \x9f \ufffe \u2028 \u2029",
        "control": "a\tb\nc\x00d\x1b",
        "numbers": [0, -3, 1.5, 1e-05, 1e16, -2.5e-300, float("inf"), float("-inf")],
        "flags": [True, False, None],
        "empty": {},
        "nothing": [],
        "list_of_maps": [{"pip": ["numpy==2.0", "-r requirements.txt"]}, {"a": 1, "b": {"c": 2}}],
        "odd key: #1": {"another": "value"},
        "12": "numeric-looking key",
    }
    text = dump_yaml(content)
    assert yaml.safe_load(text) == content
    assert load_yaml(text) == content
    nan = load_yaml(dump_yaml({"x": float("nan")}))["x"]
    assert math.isnan(nan) and math.isnan(yaml.safe_load(dump_yaml({"x": float("nan")}))["x"])


def test_yaml_writer_matches_pyyaml_on_random_strings() -> None:
    yaml = pytest.importorskip("yaml")
    import random

    rng = random.Random(0)
    alphabet = "ab:- #'\"\\{}[],&*!|>%@`?=~.0123456789eEyn\t\n\r\x00\x85\u2028\xe9\U0001f600"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        content = {text or "k": [text, {text or "k": text}]}
        dumped = dump_yaml(content)
        assert yaml.safe_load(dumped) == content, dumped
        assert load_yaml(dumped) == content, dumped


def test_mlmodel_written_by_hand_in_other_yaml_is_read(
    logreg: LogisticRegression, tmp_path: Path
) -> None:
    yaml = pytest.importorskip("yaml")
    save_model(logreg, tmp_path / "m")
    content = _mlmodel(tmp_path / "m")
    (tmp_path / "m" / MLMODEL).write_text(yaml.safe_dump(content, width=40, default_style="'"))
    assert type(load_model(tmp_path / "m")) is LogisticRegression


def test_import_autolog_imports_no_ml_library() -> None:
    code = (
        "import sys, autolog, autolog._models; "
        "bad = [m for m in ('sklearn', 'xgboost', 'pandas') if m in sys.modules]; "
        "assert not bad, bad"
    )
    env = {**os.environ, "AUTOLOG_STRICT": "1"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
