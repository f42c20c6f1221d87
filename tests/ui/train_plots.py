"""Runs with evaluation plot data for the UI tests, logged by autologged scikit-learn into the
store that AUTOLOG_TRACKING_URI names: a binary and a 3-class LogisticRegression (one of its
labels is HTML), a LinearRegression, and two runs whose `training_plots.json` is damaged.

Run as a script in a child process (`python tests/ui/train_plots.py`); the tests import
`datasets` and `model` to compute the expected values from the same data.
"""

from __future__ import annotations

import json
from typing import Any

import autolog

XSS = "<img src=x onerror=alert(1)>"
CLASSES = [XSS, "cat", "dog"]


def datasets() -> dict[str, tuple[Any, Any]]:
    """The training data of each run, by run name."""
    import numpy as np
    from sklearn.datasets import make_classification, make_regression

    X2, y2 = make_classification(n_samples=300, n_features=6, flip_y=0.1, random_state=0)
    X3, codes = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=3, flip_y=0.1, random_state=1
    )
    Xr, yr = make_regression(n_samples=300, n_features=4, noise=15.0, random_state=2)
    return {
        "binary": (X2, y2),
        "three-class": (X3, np.array(CLASSES)[codes]),
        "regression": (Xr, yr),
    }


def model(name: str) -> Any:
    """A new, unfitted estimator of the run `name`."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    return LinearRegression() if name == "regression" else LogisticRegression(max_iter=1000)


#: Plot data that is JSON but not what the page expects: wrong types, a huge value.
ODD = {
    "confusion_matrix": {"labels": ["a", "b"], "matrix": [[1, 2], "three"]},
    "roc_curve": {"curves": [{"label": "a", "fpr": [0, 1e308], "tpr": [0, 1], "auc": 1}]},
    "residuals": {"outputs": [{"quantiles": {"0.5": 1e999}}]},
}


def main() -> None:
    import warnings

    warnings.simplefilter("ignore")
    autolog.enable()
    autolog.set_experiment("ui-plots")
    ids = {}
    for name, (X, y) in datasets().items():
        with autolog.start_run(name=name) as run:
            model(name).fit(X, y)
        ids[name] = run.id
    for name, text in (
        ("damaged", '{"confusion_matrix": {"labels": [1, 2'),
        ("odd", json.dumps(ODD).replace("Infinity", "1e999")),
    ):
        with autolog.start_run(name=name) as run:
            autolog.log_text(text, "training_plots.json")
        ids[name] = run.id
    autolog.flush()
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
