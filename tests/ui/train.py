"""Runs for the UI tests, logged by autologged scikit-learn and XGBoost into the store that
AUTOLOG_TRACKING_URI names (a directory or a server), then a model registered with an alias.

Run as a script in a child process: `python tests/ui/train.py`.
"""

from __future__ import annotations

import autolog


def main() -> None:
    import warnings

    import xgboost as xgb
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import GridSearchCV, train_test_split

    warnings.simplefilter("ignore")
    autolog.enable()
    autolog.set_experiment("ui-test")
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    for n in (5, 20):
        forest = RandomForestClassifier(n_estimators=n, random_state=0).fit(X_train, y_train)
        accuracy_score(y_test, forest.predict(X_test))
    GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1.0]}, cv=2).fit(X_train, y_train)
    booster = xgb.XGBClassifier(n_estimators=30, max_depth=3)
    booster.fit(X_train, y_train, eval_set=[(X_test, y_test)], verbose=False)
    with autolog.start_run(name="<img src=x onerror=alert(1)>"):
        autolog.log_param("note", "<script>alert(2)</script>")
        autolog.set_tag("html", "<b>bold</b>")
    autolog.flush()
    runs = autolog.search_runs(filter="params.n_estimators = '30'")
    xgb_run = runs[0]
    autolog.register_model(f"runs:/{xgb_run.id}/model", "cancer")
    forest_run = autolog.search_runs(filter="params.n_estimators = '20'")[0]
    autolog.register_model(f"runs:/{forest_run.id}/model", "cancer")
    autolog.set_alias("cancer", "champion", 1)


if __name__ == "__main__":
    main()
