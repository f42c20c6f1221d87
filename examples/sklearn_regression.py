"""Compare three regressors on the diabetes data, each evaluated on a held-out set.

    autolog run examples/sklearn_regression.py

records one run for the script and, inside it, one run per model (the first
fit logs into the script's run, the later ones become its child runs), each with
its params, training metrics, the test metrics computed below
(mean_squared_error_X_test, r2_score_X_test), feature importances and the model.

The data ships with scikit-learn: nothing is downloaded.
"""

from __future__ import annotations

from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import RidgeCV
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    models = {
        "ridge": make_pipeline(StandardScaler(), RidgeCV(alphas=[0.1, 1.0, 10.0])),
        "forest": RandomForestRegressor(n_estimators=100, min_samples_leaf=3, random_state=0),
        "boosting": HistGradientBoostingRegressor(max_iter=100, random_state=0),
    }
    print(f"{'model':<10} {'test RMSE':>10} {'test R2':>8}")
    for name, model in models.items():
        model.fit(X_train, y_train)
        y_pred = model.predict(X_test)
        rmse = mean_squared_error(y_test, y_pred) ** 0.5
        print(f"{name:<10} {rmse:>10.2f} {r2_score(y_test, y_pred):>8.3f}")


if __name__ == "__main__":
    main()
