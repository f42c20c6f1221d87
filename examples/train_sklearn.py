"""Tune and evaluate a breast-cancer classifier: a scaled logistic regression, grid-searched.

Run it with tracking, without changing a line:

    autolog run examples/train_sklearn.py

(or put `import autolog; autolog.enable()` at its top), then look at what was
recorded with `autolog runs` and `autolog show <run id>`: the search's params,
its best candidates as child runs, cv_results.csv, training metrics, the test
metrics computed below (accuracy_score_X_test, ...), feature importances, a
fingerprint of the training data and the model, loadable with
`autolog.load_model("runs:/<run id>/model")`.

The data ships with scikit-learn: nothing is downloaded.
"""

from __future__ import annotations

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    pipeline = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))])
    search = GridSearchCV(pipeline, {"clf__C": [0.01, 0.1, 1.0, 10.0]}, cv=5, scoring="f1")
    search.fit(X_train, y_train)

    y_pred = search.predict(X_test)
    scores = search.decision_function(X_test)
    print(f"best C: {search.best_params_['clf__C']}  (cv f1 {search.best_score_:.3f})")
    print(f"test accuracy: {accuracy_score(y_test, y_pred):.3f}")
    print(f"test f1:       {f1_score(y_test, y_pred):.3f}")
    print(f"test ROC AUC:  {roc_auc_score(y_test, scores):.3f}")


if __name__ == "__main__":
    main()
