"""What a model's requirements.txt lists: every distribution loading it needs (fast checks).

The proof that the list is complete is tests/models/test_fresh_environment.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import autolog
from autolog._models import save_model


def _requirements(path: Path) -> dict[str, str]:
    lines = (path / "requirements.txt").read_text().split()
    return dict(line.split("==") for line in lines)


def _data() -> tuple[np.ndarray, np.ndarray]:
    X = np.random.default_rng(0).normal(size=(40, 3))
    return X, (X[:, 0] > 0).astype(int)


def test_an_xgbclassifier_needs_scikit_learn_and_autolog(tmp_path: Path) -> None:
    X, y = _data()
    save_model(xgb.XGBClassifier(n_estimators=2).fit(X, y), tmp_path / "m")
    found = _requirements(tmp_path / "m")
    assert found == {
        "xgboost": xgb.__version__,
        "scikit-learn": found["scikit-learn"],
        "numpy": np.__version__,
        "autolog-ml": autolog.__version__,
    }


def test_a_booster_needs_no_scikit_learn(tmp_path: Path) -> None:
    X, y = _data()
    booster = xgb.train({}, xgb.DMatrix(X, label=y), num_boost_round=1)
    save_model(booster, tmp_path / "b")
    assert set(_requirements(tmp_path / "b")) == {"xgboost", "numpy", "autolog-ml"}


def test_a_pipeline_lists_the_libraries_of_its_steps(tmp_path: Path) -> None:
    X, y = _data()
    pipeline = make_pipeline(
        FunctionTransformer(np.log1p), StandardScaler(), xgb.XGBClassifier(n_estimators=2)
    )
    save_model(pipeline.fit(np.abs(X), y), tmp_path / "p", format="cloudpickle")
    found = _requirements(tmp_path / "p")
    assert {"scikit-learn", "xgboost", "numpy", "cloudpickle", "autolog-ml"} == set(found)


def test_a_model_taking_a_dataframe_needs_pandas(tmp_path: Path) -> None:
    X, y = _data()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    save_model(LogisticRegression().fit(frame, y), tmp_path / "f", input_example=frame)
    assert _requirements(tmp_path / "f")["pandas"] == pd.__version__
    save_model(LogisticRegression().fit(X, y), tmp_path / "a", input_example=X)
    assert "pandas" not in _requirements(tmp_path / "a")
