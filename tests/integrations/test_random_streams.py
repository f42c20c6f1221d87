"""autolog never moves a random stream the user owns: Python's `random`, numpy's global
generator and a `RandomState` the user passed to an estimator.

One script seeds all three, then after each training call (and after logging a model)
draws from every stream and seeds them again. It runs twice in fresh processes, with
autolog enabled and without autolog imported at all; every draw must be the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import autolog

SCRIPT = """
import json, random, sys
import numpy as np

random.seed(1)
np.random.seed(1)
user = np.random.RandomState(7)   # a generator the user owns and passes to estimators
ON = sys.argv[1] == "on"
if ON:
    import autolog
    autolog.enable()

import xgboost as xgb
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

draws = []


def draw(after):
    draws.append([after, repr(random.random()), repr(np.random.random()),
                  repr(user.random_sample())])
    # Reseeding judges each step on its own: one that moves a stream shows alone.
    random.seed(len(draws))
    np.random.seed(len(draws))
    user.seed(len(draws))


X, y = make_classification(300, 5, random_state=0)
X_test, y_test = X[200:], y[200:]
X, y = X[:200], y[:200]
# More rows than autolog computes training metrics on: it samples them.
X_big, y_big = make_classification(120_000, 4, random_state=1)

RandomForestClassifier(5).fit(X, y)
draw("RandomForestClassifier.fit")
forest = RandomForestClassifier(5, random_state=user).fit(X, y)
draw("RandomForestClassifier(random_state=user).fit")
model = DummyClassifier(strategy="stratified", random_state=user).fit(X, y)
draw("DummyClassifier(stratified, random_state=user).fit")
y_pred = model.predict(X_test)
draw("DummyClassifier.predict")
accuracy_score(y_test, y_pred)
draw("accuracy_score on test data")
DummyClassifier(strategy="stratified").fit(X_big, y_big)
draw("DummyClassifier(stratified).fit, sampled training metrics")
LinearRegression().fit(X_big, y_big.astype(float))
draw("LinearRegression.fit, sampled training metrics")
pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
search = GridSearchCV(pipe, {"clf__C": [0.1, 1.0, 10.0]}, cv=3).fit(X, y)
draw("GridSearchCV.fit")
f1_score(y_test, search.predict(X_test))
roc_auc_score(y_test, search.predict_proba(X_test)[:, 1])
draw("f1_score, roc_auc_score on test data")
search = GridSearchCV(
    DummyClassifier(strategy="stratified", random_state=user), {"constant": [None]}, cv=3
).fit(X, y)
draw("GridSearchCV(DummyClassifier(random_state=user)).fit")
sgd = SGDClassifier(max_iter=5, tol=None)
for start in range(0, 200, 50):
    sgd.partial_fit(X[start:start + 50], y[start:start + 50], classes=[0, 1])
    draw(f"SGDClassifier.partial_fit rows {start}")
sgd_user = SGDClassifier(max_iter=5, tol=None, random_state=user)
sgd_user.partial_fit(X, y, classes=[0, 1])
draw("SGDClassifier(random_state=user).partial_fit")

params = {"objective": "binary:logistic", "nthread": 1, "subsample": 0.8, "eval_metric": "auc"}
dtrain, dvalid = xgb.DMatrix(X, label=y), xgb.DMatrix(X_test, label=y_test)
booster = xgb.train(params, dtrain, num_boost_round=5,
                    evals=[(dtrain, "train"), (dvalid, "valid")], verbose_eval=False)
draw("xgboost.train with evals")
clf_user = xgb.XGBClassifier(n_estimators=5, n_jobs=1, subsample=0.8, random_state=user)
clf_user.fit(X, y, eval_set=[(X_test, y_test)], verbose=False)
draw("XGBClassifier(random_state=user).fit")
xgb_user = xgb.XGBClassifier(n_estimators=3, n_jobs=1, random_state=user)
Pipeline([("scale", StandardScaler()), ("xgb", xgb_user)]).fit(X, y)
draw("Pipeline(XGBClassifier(random_state=user)).fit")
clf = xgb.XGBClassifier(n_estimators=5, n_jobs=1).fit(X, y)
draw("XGBClassifier.fit")

if ON:
    with autolog.start_run():
        autolog.log_model(forest, "forest", input_example=X[:5])
        autolog.log_model(booster, "booster", input_example=X[:5])
        autolog.log_model(clf, "xgb", input_example=X[:5])
        autolog.log_model(clf_user, "xgb_user", input_example=X[:5])
        autolog.log_model(model, "dummy_user", input_example=X[:5])
        dummy = DummyClassifier(strategy="stratified").fit(X, y)  # draws from numpy.random
        autolog.log_model(dummy, "dummy", input_example=X[:5])
    autolog.flush()
else:
    DummyClassifier(strategy="stratified").fit(X, y)
draw("log_model")
json.dump(draws, sys.stdout)
"""


def _draws(tmp_path: Path, mode: str) -> list[list[str]]:
    env = dict(os.environ)  # the test's own store (conftest.py), read back below
    result = subprocess.run(
        [sys.executable, str(tmp_path / "draws.py"), mode],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    draws: list[list[str]] = json.loads(result.stdout)
    return draws


def test_autolog_leaves_every_random_stream_of_the_user_alone(tmp_path: Path) -> None:
    (tmp_path / "draws.py").write_text(textwrap.dedent(SCRIPT))
    off, on = _draws(tmp_path, "off"), _draws(tmp_path, "on")
    assert len(on) == len(off) == 20
    streams = ("random", "numpy.random", "the user's RandomState")
    moved = []
    for without, with_autolog in zip(off, on, strict=True):
        changed = [
            s for s, a, b in zip(streams, without[1:], with_autolog[1:], strict=True) if a != b
        ]
        if changed:
            moved.append(f"{without[0]}: {', '.join(changed)}")
    assert not moved, "autolog moved these streams after these steps:\n" + "\n".join(moved)
    # ... while it recorded what each step trains (sampled training metrics included).
    runs = autolog.search_runs()
    metrics = {key for run in runs for key in run.metrics}
    assert {"accuracy_score_X_test", "f1_score_X_test", "best_cv_score"} <= metrics
    assert {"partial_fit_calls", "valid-auc", "validation_0-logloss"} <= metrics
    large = [run for run in runs if run.tags.get("autolog.data.X.shape", "").startswith("120000x")]
    computed = [{"training_accuracy_score", "training_r2_score"} & set(r.metrics) for r in large]
    assert len(computed) == 2 and all(computed)  # on all 120,000 rows
