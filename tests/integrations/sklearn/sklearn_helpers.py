"""Helpers shared by the scikit-learn autologging tests."""

from __future__ import annotations

from typing import Any

import numpy as np

import autolog
from autolog import Run


def all_runs() -> list[Run]:
    """Every run of the test's store, oldest first."""
    return sorted(autolog.search_runs(), key=lambda r: (r.start_time, r.name))


def top_level_runs() -> list[Run]:
    return [r for r in all_runs() if r.parent_id is None]


def only_run() -> Run:
    runs = all_runs()
    assert len(runs) == 1, [(r.name, r.tags.get("estimator_name")) for r in runs]
    return runs[0]


def artifact_paths(run_id: str, path: str = "") -> set[str]:
    """Every artifact file of a run, recursively."""
    found: set[str] = set()
    for info in autolog.list_artifacts(run_id, path):
        if info.is_dir:
            found |= artifact_paths(run_id, info.path)
        else:
            found.add(info.path)
    return found


def classification_data(n: int = 80, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype(int)
    return X, y


def load_model(uri: str) -> Any:
    loader = getattr(autolog, "load_model", None)
    if loader is None:
        from autolog._models import load_model as loader
    return loader(uri)
