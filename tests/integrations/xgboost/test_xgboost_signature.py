"""`xgboost.train`'s model gets a signature read from the training DMatrix (real XGBoost)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

import autolog
from autolog._models import ColSpec, Signature, TensorSpec, load_model
from autolog.errors import InvalidInputError

pytestmark = pytest.mark.usefixtures("autolog_xgboost")


def _frame(n: int = 60) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=n),
            "rooms": rng.integers(1, 5, size=n),
            "new": rng.normal(size=n) > 0,
            "city": pd.Categorical(rng.choice(["a", "b"], size=n)),
            "score": rng.normal(size=n).astype("float32"),
        }
    )
    return frame, (frame["size"] > 0).to_numpy(dtype=int)


def _train(data: xgb.DMatrix) -> xgb.Booster:
    return xgb.train({"objective": "binary:logistic"}, data, num_boost_round=2)


def _model_uri() -> str:
    (run,) = autolog.search_runs()
    return f"runs:/{run.id}/model"


def test_a_dataframe_dmatrix_gives_named_typed_columns() -> None:
    frame, y = _frame()
    booster = _train(xgb.DMatrix(frame, label=y, enable_categorical=True))
    model = load_model(_model_uri(), flavor="python_function")
    assert model.signature == Signature(
        (
            ColSpec("double", "size"),
            ColSpec("long", "rooms"),
            ColSpec("boolean", "new"),
            ColSpec("string", "city"),
            ColSpec("double", "score"),
        )
    )
    reordered = frame[["score", "city", "new", "rooms", "size"]]
    expected = booster.predict(xgb.DMatrix(frame, enable_categorical=True))
    got = model.predict(reordered)  # columns put back in order by the signature
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(InvalidInputError, match="rooms"):
        model.predict(frame.drop(columns="rooms"))


def test_an_array_dmatrix_gives_a_tensor_of_its_columns() -> None:
    X = np.random.default_rng(1).normal(size=(40, 3))
    _train(xgb.DMatrix(X, label=(X[:, 0] > 0).astype(int)))
    model = load_model(_model_uri(), flavor="python_function")
    assert model.signature == Signature((TensorSpec("float64", (-1, 3)),))
    assert model.predict(X.astype("float32")).shape == (40,)
    with pytest.raises(InvalidInputError, match="3"):
        model.predict(X[:, :2])


def test_feature_names_without_types_are_doubles() -> None:
    X = np.random.default_rng(2).normal(size=(40, 2))
    _train(xgb.DMatrix(X, label=(X[:, 0] > 0).astype(int), feature_names=["u", "v"]))
    model = load_model(_model_uri(), flavor="python_function")
    assert model.signature == Signature((ColSpec("double", "u"), ColSpec("double", "v")))


def test_mlflow_reads_the_signature_and_predicts() -> None:
    mlflow_pyfunc = pytest.importorskip("mlflow.pyfunc")
    frame, y = _frame()
    frame = frame.drop(columns="city")  # MLflow cannot enforce its own type for categories
    booster = _train(xgb.DMatrix(frame, label=y))
    (run,) = autolog.search_runs()
    path = autolog.download_artifacts(run.id, "model")
    model = mlflow_pyfunc.load_model(str(path))
    assert model.metadata.get_input_schema().input_names() == list(frame.columns)
    expected = booster.predict(xgb.DMatrix(frame))
    np.testing.assert_allclose(np.asarray(model.predict(frame)), expected, rtol=1e-6)
