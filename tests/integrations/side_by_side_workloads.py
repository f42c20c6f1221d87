"""The workloads run side by side under `mlflow.autolog()` and `autolog.enable()`.

Each takes `start_run`, the tool's own (for the workload that opens a run itself),
and trains on small fixed data with fixed seeds, so both tools see the same fits.
Imported by the test module, and by the MLflow subprocess it starts (by path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import xgboost as xgb
from sklearn import metrics
from sklearn.cluster import KMeans
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

StartRun = Callable[[], Any]


def _classes(n: int = 300, classes: int = 2) -> tuple[Any, Any, Any, Any]:
    X, y = make_classification(
        n_samples=n, n_features=6, n_informative=4, n_classes=classes, random_state=0
    )
    return train_test_split(X, y, test_size=0.25, random_state=0)  # type: ignore[no-any-return]


def logistic_regression_with_test_metrics(start_run: StartRun) -> None:
    X_train, X_test, y_train, y_test = _classes()
    clf = LogisticRegression(C=0.5, max_iter=200).fit(X_train, y_train)
    # Through the module at call time: both tools patch `sklearn.metrics`'s attributes.
    metrics.accuracy_score(y_test, clf.predict(X_test))
    metrics.f1_score(y_test, clf.predict(X_test))


def multiclass_naive_bayes(start_run: StartRun) -> None:
    X_train, _, y_train, _ = _classes(400, classes=4)
    GaussianNB().fit(X_train, y_train)


def random_forest_regression(start_run: StartRun) -> None:
    X, y = make_regression(n_samples=200, n_features=5, n_targets=2, noise=5.0, random_state=0)
    RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, y)


def pipeline(start_run: StartRun) -> None:
    X_train, _, y_train, _ = _classes()
    make_pipeline(StandardScaler(), SVC(probability=True, random_state=0)).fit(X_train, y_train)


def grid_search(start_run: StartRun) -> None:
    X_train, _, y_train, _ = _classes()
    grid = {"max_depth": [2, 4], "min_samples_leaf": [1, 5]}
    GridSearchCV(DecisionTreeClassifier(random_state=0), grid, cv=3).fit(X_train, y_train)


def kmeans(start_run: StartRun) -> None:
    X, _, _, _ = _classes()
    KMeans(n_clusters=3, n_init=2, random_state=0).fit(X)


def xgb_classifier_early_stopping(start_run: StartRun) -> None:
    X_train, X_test, y_train, y_test = _classes(400)
    model = xgb.XGBClassifier(
        n_estimators=200,
        learning_rate=0.8,
        max_depth=3,
        early_stopping_rounds=3,
        eval_metric=["error", "logloss"],
        random_state=0,
    )
    model.fit(X_train, y_train, eval_set=[(X_test, y_test)], verbose=False)


def xgboost_train_with_evals(start_run: StartRun) -> None:
    X_train, X_test, y_train, y_test = _classes(400)
    dtrain, dvalid = xgb.DMatrix(X_train, y_train), xgb.DMatrix(X_test, y_test)
    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.5, "seed": 0}
    params["eval_metric"] = ["logloss", "auc"]
    xgb.train(
        params,
        dtrain,
        num_boost_round=20,
        evals=[(dtrain, "train"), (dvalid, "valid")],
        verbose_eval=False,
    )


def cross_validation(start_run: StartRun) -> None:
    X_train, _, y_train, _ = _classes()
    cross_val_score(LogisticRegression(max_iter=200), X_train, y_train, cv=3)


def three_fits_in_one_run(start_run: StartRun) -> None:
    X_train, _, y_train, _ = _classes()
    with start_run():
        LogisticRegression(max_iter=200).fit(X_train, y_train)
        DecisionTreeClassifier(max_depth=3, random_state=0).fit(X_train, y_train)
        GaussianNB().fit(X_train, y_train)


WORKLOADS: dict[str, Callable[[StartRun], None]] = {
    f.__name__: f
    for f in (
        logistic_regression_with_test_metrics,
        multiclass_naive_bayes,
        random_forest_regression,
        pipeline,
        grid_search,
        kmeans,
        xgb_classifier_early_stopping,
        xgboost_train_with_evals,
        cross_validation,
        three_fits_in_one_run,
    )
}
