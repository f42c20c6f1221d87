"""What every integration records alike (`autolog._patching.record`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer

import autolog
from autolog._patching import record
from autolog._patching.enable import AutologOptions
from autolog._tracking import runs as _runs
from autolog._validation import MAX_PARAM_VALUE_LENGTH


def scorer(y: Any) -> float:
    return 0.0


class Opaque:
    pass


def test_render_param_one_rule_for_every_library() -> None:
    render = record.render_param
    assert render("gini") == "gini"
    assert render(None) == "None" and render(True) == "True"
    assert (
        render(0.1) == "0.1" and render(np.float64(0.25)) == "0.25" and render(np.int32(3)) == "3"
    )
    assert render(["a", 1, None]) == "['a', 1, None]"
    assert render(("l1",)) == "('l1',)" and render((1, 2)) == "(1, 2)"
    assert render({"k": "v", "n": [1]}) == "{'k': 'v', 'n': [1]}"
    assert render(scorer) == f"{__name__}.scorer"
    assert render(Opaque) == f"{__name__}.Opaque"
    assert render(LogisticRegression(C=0.5)) == "LogisticRegression(C=0.5)"  # MLflow's form
    assert render([LogisticRegression()]) == "[LogisticRegression()]"
    # A function param's memory address left out: it differs at every run.
    assert render(FunctionTransformer(scorer)) == "FunctionTransformer(func=<function scorer>)"
    assert render(Opaque()) == "Opaque"  # its repr names a memory address
    assert render(np.arange(3)) == "[0, 1, 2]"
    assert render(np.zeros((20, 2))) == "array(shape=(20, 2), dtype=float64)"
    assert render(Path("data") / "x.csv") == str(Path("data") / "x.csv")
    assert render(list(range(60))).endswith(", 49, ...]")
    long = render("x" * (MAX_PARAM_VALUE_LENGTH + 10))
    assert len(long) == MAX_PARAM_VALUE_LENGTH and long.endswith("...")


def test_log_params_skips_keys_the_run_already_holds() -> None:
    with autolog.start_run() as run:
        run.log_param("C", "user")
        record.log_params(run, {"C": 1.0, "penalty": "l2"})
    assert autolog.get_run(run.id).params == {"C": "user", "penalty": "l2"}


def test_log_dataset_writes_tags_and_the_fingerprint() -> None:
    found = {"hash": "h", "X": {"kind": "ndarray", "shape": [3, 2], "content_hash": "hx"}}
    with autolog.start_run() as run:
        record.log_dataset(run, found)
    stored = autolog.get_run(run.id)
    assert stored.tags["autolog.data.hash"] == "h"
    assert stored.tags["autolog.data.X.shape"] == "3x2"
    assert stored.tags["autolog.data.X.hash"] == "hx"
    text = autolog.download_artifacts(run.id, record.DATASET_ARTIFACT).read_text()
    assert json.loads(text) == {**found, "name": "train", "role": "train"}
    assert stored.inputs == [
        {
            "name": "train",
            "role": "train",
            "hash": "h",
            "kind": "ndarray",
            "shape": [3, 2],
            "artifact": "datasets/train.json",
        }
    ]


def test_log_input_names_are_made_safe_and_inputs_list_training_data_first() -> None:
    with autolog.start_run() as run:
        record.log_input(run, {"hash": "e", "X": {"kind": "DMatrix"}}, "../my eval@1", "eval")
        record.log_input(run, {"hash": "t", "X": {"kind": "ndarray"}}, "X_test", "test")
        record.log_dataset(run, {"hash": "h", "X": {"kind": "ndarray"}})
        run.set_tag("autolog.input.broken", "not json")
    inputs = autolog.get_run(run.id).inputs
    assert [(i["name"], i["role"]) for i in inputs] == [
        ("train", "train"),
        ("_my_eval_1", "eval"),
        ("X_test", "test"),
    ]
    assert "datasets/_my_eval_1.json" in [
        f.path for f in autolog.list_artifacts(run.id, "datasets")
    ]


def test_first_rows_of_each_kind_of_data() -> None:
    frame = pd.DataFrame({"a": range(10)})
    assert record.first_rows(frame).shape == (5, 1)
    assert record.first_rows(np.ones((10, 2))).shape == (5, 2)
    assert record.first_rows([[1], [2]]) == [[1], [2]]
    assert record.first_rows(object()) is None and record.first_rows(None) is None


def test_a_model_that_cannot_be_saved_is_skipped_with_a_tag() -> None:
    run = _runs.start_run(activate=False)
    assert record.log_model(run, object(), AutologOptions(), example=None) is False
    run.end()
    stored = autolog.get_run(run.id)
    assert "no flavor handles it" in stored.tags["autolog.model.skipped"]
    assert "model" not in [f.path for f in autolog.list_artifacts(run.id)]


def test_input_examples_off_saves_the_signature_only() -> None:
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    model = LogisticRegression().fit(X, [0, 0, 1, 1])
    run = _runs.start_run(activate=False)
    options = AutologOptions(log_input_examples=False)
    assert record.log_model(run, model, options, record.first_rows(X)) is True
    run.end()
    paths = [f.path for f in autolog.list_artifacts(run.id, "model")]
    assert "model/input_example.json" not in paths
    assert "signature" in autolog.download_artifacts(run.id, "model/MLmodel").read_text()


def test_feature_importances_schema_sorts_by_the_main_type_and_writes_null() -> None:
    run = _runs.start_run(activate=False)
    record.log_feature_importances(
        run,
        "Model",
        ["a", "b", "c"],
        {"main": np.array([0.1, np.nan, 0.7]), "other": [1.0, 2.0, float("inf")]},
    )
    run.end()
    found = json.loads(autolog.download_artifacts(run.id, record.IMPORTANCES_ARTIFACT).read_text())
    assert found == {
        "model": "Model",
        "types": ["main", "other"],
        "features": ["c", "a", "b"],  # not-a-number last
        "importances": {"main": [0.7, 0.1, None], "other": [None, 1.0, 2.0]},
        "features_total": 3,
    }
    assert autolog.get_run(run.id).metrics["feature_importance.c"] == 0.7
