"""What `autolog.log_model` costs the caller for a small LogisticRegression.

Times log_model (signature and input example included) with time.perf_counter
and prints the median of 50 calls, each into its own run of a throwaway file
store. The files are written by the background writer; that time is reported
separately (flush), since the caller does not wait for it.

    .venv/bin/python bench/log_model_cost.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
import timeit

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import autolog
from autolog._models import log_model

CALLS = 50


def _reference_ms() -> float:
    # A fixed pure-Python loop (about 0.1-0.2 ms on an idle modern core): a slower figure
    # means the machine was busy and every timing below is inflated by the same factor.
    return min(timeit.repeat("sum(range(10000))", number=200, repeat=5)) / 200 * 1e3


def main() -> None:
    print(f"reference loop: {_reference_ms():.3f} ms (machine load indicator)")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(1000, 10)), columns=[f"f{i}" for i in range(10)])
    y = (X["f0"] + rng.normal(scale=0.5, size=1000) > 0).astype(int)
    on_frame = LogisticRegression().fit(X, y)
    on_array = LogisticRegression().fit(X.to_numpy(), y)
    cases = (
        ("DataFrame example", on_frame, X),
        ("ndarray example", on_array, X.to_numpy()),
        ("no example", on_array, None),
    )
    with tempfile.TemporaryDirectory() as store:
        autolog.configure(
            tracking_uri=store, disable_capture=["git", "source", "packages", "system"]
        )
        for label, model, example in cases:
            costs, flushes = [], []
            for i in range(CALLS + 3):
                with autolog.start_run(name=f"bench-{i}"):
                    t0 = time.perf_counter()
                    log_model(model, input_example=example)
                    t1 = time.perf_counter()
                    autolog.flush()
                    t2 = time.perf_counter()
                if i >= 3:  # the first calls pay for imports and warm-up
                    costs.append(t1 - t0)
                    flushes.append(t2 - t1)
            autolog.flush()  # the last run's end, before the store is deleted
            print(
                f"log_model, LogisticRegression 1000x10, {label}: median"
                f" {statistics.median(costs) * 1e3:.2f} ms (min {min(costs) * 1e3:.2f}, max"
                f" {max(costs) * 1e3:.2f}) over {CALLS} calls; background write (flush) median"
                f" {statistics.median(flushes) * 1e3:.2f} ms"
            )


if __name__ == "__main__":
    main()
