"""Loading models MLflow saved (sklearn and xgboost flavors): refused, unless trusted.

They have no autolog file hashes, so autolog cannot verify them: `load_model`
refuses and says why, and `load_model(uri, trust_unverified=True)` loads them.
Models are saved by the installed MLflow; the tests skip where it is absent.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # MLflow warns about its own type hints while it imports
    pytest.importorskip("mlflow", reason="the MLflow-saved models come from the installed mlflow")
    import mlflow.sklearn
    import mlflow.xgboost

import autolog
from autolog._models import load_model, save_model
from autolog.errors import ModelIntegrityError


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


@pytest.fixture(autouse=True)
def _quiet_mlflow() -> None:
    warnings.filterwarnings("ignore", module="mlflow")


# Given requirements spare MLflow inferring them, which loads the model in a subprocess.
SKLEARN = {"pip_requirements": ["scikit-learn"]}
XGBOOST = {"pip_requirements": ["xgboost"]}


@pytest.mark.parametrize("fmt", ["skops", "cloudpickle", "pickle"])
def test_an_mlflow_sklearn_model_is_refused_then_loaded_when_trusted(
    fmt: str, data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = data
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    mlflow.sklearn.save_model(model, str(tmp_path / "m"), serialization_format=fmt, **SKLEARN)
    with pytest.raises(ModelIntegrityError, match=r"saved by MLflow.*trust_unverified=True"):
        load_model(tmp_path / "m")
    loaded = load_model(tmp_path / "m", trust_unverified=True)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_the_python_function_flavor_keeps_mlflows_signature_and_example(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = data
    model = LogisticRegression().fit(X, y)
    mlflow.sklearn.save_model(model, str(tmp_path / "m"), input_example=X[:3], **SKLEARN)
    pyfunc = load_model(tmp_path / "m", flavor="python_function", trust_unverified=True)
    np.testing.assert_array_equal(pyfunc.predict(X), model.predict(X))
    assert pyfunc.signature is not None and pyfunc.signature.is_tensor
    np.testing.assert_array_equal(pyfunc.input_example(), X[:3])


def test_mlflow_xgboost_models_load_when_trusted(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = data
    classifier = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y)
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=y), 3)
    mlflow.xgboost.save_model(classifier, str(tmp_path / "c"), **XGBOOST)
    mlflow.xgboost.save_model(booster, str(tmp_path / "b"), **XGBOOST)
    with pytest.raises(ModelIntegrityError, match="no autolog file hashes"):
        load_model(tmp_path / "b")
    loaded = load_model(tmp_path / "c", trust_unverified=True)
    assert type(loaded) is xgb.XGBClassifier
    np.testing.assert_array_equal(loaded.predict_proba(X), classifier.predict_proba(X))
    again = load_model(tmp_path / "b", trust_unverified=True)
    np.testing.assert_array_equal(again.predict(xgb.DMatrix(X)), booster.predict(xgb.DMatrix(X)))


def test_an_mlflow_model_registered_through_autolog_loads_by_its_models_uri(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = data
    model = LogisticRegression().fit(X, y)
    mlflow.sklearn.save_model(model, str(tmp_path / "m"), **SKLEARN)
    with autolog.start_run() as run:
        autolog.log_artifacts(tmp_path / "m", "model")
    autolog.register_model(f"runs:/{run.id}/model", "imported")
    with pytest.raises(ModelIntegrityError, match="trust_unverified"):
        load_model("models:/imported/1")
    loaded = load_model("models:/imported/1", trust_unverified=True)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_trust_does_not_skip_the_hashes_of_an_autolog_model(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = data
    save_model(LogisticRegression().fit(X, y), tmp_path / "a")
    other = tmp_path / "other"
    save_model(LogisticRegression(C=0.1).fit(X, y), other)
    shutil.copy(other / "model.pkl", tmp_path / "a" / "model.pkl")  # a changed file
    with pytest.raises(ModelIntegrityError, match="sha256"):
        load_model(tmp_path / "a", trust_unverified=True)
