"""MLflow reads the models autolog writes: mlflow.pyfunc / mlflow.sklearn / mlflow.xgboost.

Runs only where MLflow is installed (`/work/mlvenv/bin/python -m pytest
tests/models/test_mlflow_compat.py`). MLflow refuses to unpickle anything unless
MLFLOW_ALLOW_PICKLE_DESERIALIZATION is true, so the scikit-learn tests set it.
"""

from __future__ import annotations

import pickle
import platform
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

with warnings.catch_warnings():
    # MLflow warns about its own type hints while it imports.
    warnings.simplefilter("ignore")
    pytest.importorskip("mlflow")
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    import mlflow.xgboost

import xgboost as xgb
import yaml
from mlflow.models import Model
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import autolog
from autolog._models import (
    Flavor,
    SavedFlavor,
    load_model,
    log_model,
    register_flavor,
    save_model,
    unregister_flavor,
)
from autolog.errors import ModelIntegrityError

# Warnings MLflow raises about itself (deprecations, schema hints) are not ours to fix.
pytestmark = [pytest.mark.filterwarnings("ignore::Warning:mlflow.*")]


@pytest.fixture(autouse=True)
def _allow_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")


@pytest.fixture(scope="module")
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 100),
            "income": rng.normal(50.0, 10.0, 100),
            "city": rng.choice(["paris", "oslo", "rome"], 100),
        }
    )
    y = ((X["income"] > 50) ^ (X["city"] == "oslo")).to_numpy().astype(int)
    return X, y


def test_logistic_regression_on_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    model = LogisticRegression().fit(X, X[:, 0] > 0)
    save_model(model, tmp_path / "m", input_example=X)

    native = mlflow.sklearn.load_model(str(tmp_path / "m"))
    assert type(native) is LogisticRegression
    np.testing.assert_array_equal(native.predict_proba(X), model.predict_proba(X))

    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    np.testing.assert_array_equal(pyfunc.predict(X), model.predict(X))
    # MLflow enforces the signature autolog wrote: a wrong column count fails there too.
    with pytest.raises(mlflow.exceptions.MlflowException):
        pyfunc.predict(X[:, :2])


def test_pipeline_on_a_dataframe_through_a_run(
    frame: tuple[pd.DataFrame, np.ndarray], store_dir: Path
) -> None:
    X, y = frame
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["age", "income"]), ("cat", OneHotEncoder(), ["city"])]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(X, y)
    with autolog.start_run() as run:
        log_model(model, input_example=X)
    autolog.flush()
    model_dir = store_dir / "runs" / run.id / "artifacts" / "model"

    pyfunc = mlflow.pyfunc.load_model(str(model_dir))
    np.testing.assert_array_equal(pyfunc.predict(X), model.predict(X))
    names = [c.name for c in pyfunc.metadata.signature.inputs.inputs]
    assert names == ["age", "income", "city"]
    np.testing.assert_array_equal(
        mlflow.sklearn.load_model(str(model_dir)).predict_proba(X), model.predict_proba(X)
    )

    meta = Model.load(str(model_dir))
    assert meta.run_id == run.id and meta.artifact_path == "model"
    example = meta.load_input_example(str(model_dir))
    pd.testing.assert_frame_equal(example.reset_index(drop=True), X.head(5), check_dtype=False)


@pytest.mark.parametrize("fmt", ["ubj", "json"])
def test_xgb_classifier(fmt: str, frame: tuple[pd.DataFrame, np.ndarray], tmp_path: Path) -> None:
    X, y = frame
    X = X[["age", "income"]]
    model = xgb.XGBClassifier(n_estimators=5, max_depth=3, n_jobs=1).fit(X, y)
    save_model(model, tmp_path / "m", input_example=X, format=fmt)

    native = mlflow.xgboost.load_model(str(tmp_path / "m"))
    assert type(native) is xgb.XGBClassifier
    np.testing.assert_array_equal(native.predict_proba(X), model.predict_proba(X))

    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    np.testing.assert_array_equal(np.asarray(pyfunc.predict(X)), model.predict(X))


def test_xgb_booster(frame: tuple[pd.DataFrame, np.ndarray], tmp_path: Path) -> None:
    X, y = frame
    X = X[["age", "income"]]
    booster = xgb.train({"objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(X, label=y), 4)
    save_model(booster, tmp_path / "b", input_example=X)
    native = mlflow.xgboost.load_model(str(tmp_path / "b"))
    assert type(native) is xgb.Booster
    dm = xgb.DMatrix(X)
    np.testing.assert_array_equal(native.predict(dm), booster.predict(dm))
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "b"))
    np.testing.assert_array_equal(np.asarray(pyfunc.predict(X)), booster.predict(dm))


def test_mlflow_model_without_autolog_hashes_is_refused(tmp_path: Path) -> None:
    # autolog cannot verify what another tool wrote, so it refuses rather than unpickle it.
    model = LogisticRegression().fit(np.eye(2), [0, 1])
    mlflow.sklearn.save_model(model, str(tmp_path / "m"), serialization_format="pickle")
    assert type(pickle.loads((tmp_path / "m" / "model.pkl").read_bytes())) is LogisticRegression
    with pytest.raises(ModelIntegrityError, match="no autolog file hashes"):
        load_model(tmp_path / "m")


def test_mlflow_reads_the_environment_files(tmp_path: Path) -> None:
    model = LogisticRegression().fit(np.eye(2), [0, 1])
    save_model(model, tmp_path / "m")
    from mlflow.utils.environment import _PythonEnv

    env = _PythonEnv.from_yaml(str(tmp_path / "m" / "python_env.yaml"))
    assert env.python == platform.python_version()
    assert env.dependencies == ["-r requirements.txt"]
    reqs = (tmp_path / "m" / "requirements.txt").read_text().split()
    assert any(r.startswith("scikit-learn==") for r in reqs)
    conda = yaml.safe_load((tmp_path / "m" / "conda.yaml").read_text())
    assert conda["dependencies"][-1] == {"pip": reqs}


class _Doubler:
    def predict(self, X: object) -> np.ndarray:
        return np.asarray(X, dtype=float)[:, 0] * 2


class _DoublerFlavor(Flavor):
    name = "doubler"
    formats = ("none",)

    def matches(self, model: object) -> bool:
        return isinstance(model, _Doubler)

    def save(self, model: object, format: str) -> SavedFlavor:
        return SavedFlavor({"doubler.txt": b"x2"}, {}, {})

    def load(self, model_dir: Path, conf: Mapping[str, Any]) -> Any:
        return _Doubler()


def test_registered_flavor_through_mlflow_pyfunc(tmp_path: Path) -> None:
    # MLflow imports the loader_module autolog wrote, autolog._models._pyfunc, which loads
    # the model with autolog (so with its hash checks) and hands MLflow its predict().
    register_flavor(_DoublerFlavor())
    try:
        save_model(_Doubler(), tmp_path / "d", input_example=np.ones((2, 1)))
        pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "d"))
        assert np.asarray(pyfunc.predict(np.array([[1.0], [4.0]]))).tolist() == [2.0, 8.0]
    finally:
        unregister_flavor("doubler")
