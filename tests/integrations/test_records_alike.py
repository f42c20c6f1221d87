"""Integrations record alike: the same artifact schemas and tags whatever the library."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from sklearn.ensemble import RandomForestClassifier

import autolog


@pytest.fixture
def both() -> Iterator[None]:
    autolog.enable(["sklearn", "xgboost"])
    try:
        with xgb.config_context(nthread=1):
            yield
    finally:
        autolog.disable()


def _artifact(run_id: str, path: str) -> Any:
    return json.loads(autolog.download_artifacts(run_id, path).read_text())


@pytest.mark.usefixtures("both")
def test_feature_importances_have_one_schema_across_libraries() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(x, y)
    runs = {r.tags["estimator_name"]: r for r in autolog.search_runs()}
    assert set(runs) == {"RandomForestClassifier", "XGBClassifier"}
    for name, run in runs.items():
        found = _artifact(run.id, "feature_importances.json")
        assert set(found) == {"model", "types", "features", "importances", "features_total"}
        assert found["model"] == name and found["features_total"] == 4
        assert sorted(found["features"]) == ["x0", "x1", "x2", "x3"] or sorted(
            found["features"]
        ) == ["f0", "f1", "f2", "f3"]
        assert list(found["importances"]) == found["types"]
        main = found["importances"][found["types"][0]]
        assert main == sorted(main, reverse=True) and len(main) == 4
        assert run.metrics[f"feature_importance.{found['features'][0]}"] == pytest.approx(main[0])
        data = _artifact(run.id, "datasets/train.json")
        assert data["X"]["shape"] == [120, 4]
        assert run.tags["autolog.data.X.shape"] == "120x4"
        assert "signature" in autolog.download_artifacts(run.id, "model/MLmodel").read_text()
