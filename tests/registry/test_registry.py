"""Tests of the model registry (autolog._registry.api) on real stores.

Tests that take `store_uri` run once per store: the file store, the memory store
and S3 (a real S3 server on localhost, from the `s3_uri` fixture of
tests/conftest.py; skipped where that fixture is not available). Tests that
take `logic_store_uri` run on the file and memory stores, and on S3 too with
AUTOLOG_REGISTRY_TEST_S3=1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from processes import communicate_all

import autolog
from autolog._registry import api as reg
from autolog._registry.store import registry_store
from autolog._tracking.runs import resume_run
from autolog._tracking.settings import tracking
from autolog.backends import register_backend
from autolog.backends._layout_registry import PREFIX, encode_name
from autolog.backends._objects import ObjectStore
from autolog.backends.base import Backend
from autolog.errors import (
    InvalidKeyError,
    InvalidValueError,
    ModelIntegrityError,
    ModelNotFoundError,
    RunNotFoundError,
)

MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    loader_module: autolog.sklearn
    python_version: 3.11.5
  sklearn:
    pickled_model: model.pkl
    sklearn_version: 1.5.0
run_id: {run_id}
"""


def _use_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "file":
        uri = str(tmp_path / "runs")
    elif kind == "memory":
        uri = f"memory:registry-{uuid.uuid4().hex[:8]}"
    else:
        try:
            uri = str(request.getfixturevalue("s3_uri"))
        except pytest.FixtureLookupError:
            pytest.skip("no s3_uri fixture (tests/conftest.py) in this checkout")
    autolog.set_tracking_uri(uri)
    return uri


@pytest.fixture(params=["file", "memory", "s3"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The tracking URI of the store under test (file, memory, S3), made the current one."""
    return _use_store(request.param, request, tmp_path)


# Tests of the fold's logic, which reads and writes objects as the tests above do, run on S3
# only when asked (AUTOLOG_REGISTRY_TEST_S3=1): the local S3 server costs ~25 ms a request.
_LOGIC_STORES = ["file", "memory"] + (["s3"] if os.environ.get("AUTOLOG_REGISTRY_TEST_S3") else [])


@pytest.fixture(params=_LOGIC_STORES)
def logic_store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """As `store_uri`, for tests of registry logic rather than of the store's operations."""
    return _use_store(request.param, request, tmp_path)


def log_model_run(
    tmp_path: Path,
    *,
    payload: bytes = b"weights",
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    path: str = "model",
) -> str:
    """Start and end a run that logged a model directory (MLmodel + model.pkl); return its id."""
    with autolog.start_run() as run:
        src = tmp_path / f"model-{run.id}"
        src.mkdir()
        (src / "MLmodel").write_text(MLMODEL.format(run_id=run.id))
        (src / "model.pkl").write_bytes(payload)
        run.log_metrics(metrics or {"accuracy": 0.9})
        run.set_tags(tags or {})
        run.log_params(params or {})
        run.log_artifacts(src, path)
    return run.id


def model_key(run_id: str, path: str = "model") -> str:
    return f"runs/{run_id}/artifacts/{path}/MLmodel"


def store() -> ObjectStore:
    """The object store under the current tracking URI."""
    objects = getattr(tracking.backend(), "store", None)
    assert isinstance(objects, ObjectStore)
    return objects


# -- the life of a model -----------------------------------------------------------------------


def test_lifecycle_register_alias_move_history(store_uri: str, tmp_path: Path) -> None:
    run1 = log_model_run(tmp_path, payload=b"one")
    run2 = log_model_run(tmp_path, payload=b"two")

    v1 = reg.register_model(f"runs:/{run1}/model", "churn", description="first try")
    assert (v1.name, v1.version, v1.run_id, v1.source) == ("churn", 1, run1, f"runs:/{run1}/model")
    assert v1.description == "first try" and v1.aliases == [] and v1.uri == "models:/churn/1"
    v2 = reg.register_model(f"runs:/{run2}/model", "churn")
    assert v2.version == 2

    reg.set_alias("churn", "production", 1, comment="baseline goes live")
    assert reg.get_model_version_by_alias("churn", "production").version == 1
    assert reg.resolve_models_uri("models:/churn@production") == f"runs:/{run1}/model"
    moved = reg.set_alias("churn", "production", 2, comment="v2 beats v1")
    assert moved.aliases == ["production"]
    assert reg.resolve_models_uri("models:/churn@production") == f"runs:/{run2}/model"
    assert reg.resolve_models_uri("models:/churn/1") == f"runs:/{run1}/model"
    assert reg.resolve_models_uri("models:/churn/latest") == f"runs:/{run2}/model"

    model = reg.get_registered_model("churn")
    assert model.versions == [1, 2] and model.latest_version == 2
    assert model.aliases == {"production": 2}
    assert reg.get_model_version("churn", 1).aliases == []
    assert reg.get_model_version("churn", "latest").version == 2

    history = reg.get_model_history("churn")
    assert [e.type for e in history] == [
        "model_created",
        "version_created",
        "version_created",
        "alias_set",
        "alias_moved",
    ]
    set_, move = history[3], history[4]
    assert (set_.key, set_.old_value, set_.new_value, set_.comment) == (
        "production",
        None,
        "1",
        "baseline goes live",
    )
    assert (move.key, move.old_value, move.new_value, move.comment) == (
        "production",
        "1",
        "2",
        "v2 beats v1",
    )
    assert all(e.user for e in history) and history[3].time <= history[4].time
    # Setting an alias to the version it already names changes nothing, and says so in no event.
    reg.set_alias("churn", "production", 2)
    assert len(reg.get_model_history("churn")) == 5


def test_lineage_is_captured_at_registration_and_kept(logic_store_uri: str, tmp_path: Path) -> None:
    run_id = log_model_run(
        tmp_path,
        metrics={"rmse": 0.25, "r2": 0.8},
        tags={"autolog.git.commit": "abc123", "autolog.data.train.sha256": "d00d"},
        params={"autolog.data.train.rows": "500", "alpha": "0.1"},
    )
    mv = reg.register_model(f"runs:/{run_id}/model", "housing")
    lineage = mv.lineage
    assert lineage["run_id"] == run_id and lineage["experiment"] == "Default"
    assert lineage["git_commit"] == "abc123"
    assert lineage["data"] == {
        "autolog.data.train.sha256": "d00d",
        "autolog.data.train.rows": "500",
    }
    assert lineage["flavors"] == ["python_function", "sklearn"]
    assert lineage["library_versions"] == {"python": "3.11.5", "sklearn": "1.5.0"}
    assert lineage["metrics"] == {"rmse": 0.25, "r2": 0.8}

    # The run changes afterwards; the version keeps what it saw.
    later = resume_run(run_id)
    later.log_metric("rmse", 0.01)
    later.set_tag("autolog.git.commit", "fff999")
    autolog.flush()
    assert autolog.get_run(run_id).metrics["rmse"] == 0.01
    assert reg.get_model_version("housing", 1).lineage == lineage


def test_tags_and_descriptions_are_editable_and_recorded(
    logic_store_uri: str, tmp_path: Path
) -> None:
    run_id = log_model_run(tmp_path)
    reg.register_model(f"runs:/{run_id}/model", "churn", tags={"stage": "candidate"})
    reg.register_model(f"runs:/{run_id}/model", "churn")

    reg.set_registered_model_tag("churn", "team", "risk")
    reg.set_registered_model_tag("churn", "team", "growth")
    reg.set_model_version_tag("churn", 1, "stage", "validated")
    reg.set_model_version_tag("churn", "2", "reviewed", True)
    reg.update_registered_model("churn", "predicts churn in 30 days")
    updated = reg.update_model_version("churn", 1, "trained on March")

    assert updated.tags == {"stage": "validated"} and updated.description == "trained on March"
    model = reg.get_registered_model("churn")
    assert model.tags == {"team": "growth"}
    assert model.description == "predicts churn in 30 days"
    assert reg.get_model_version("churn", 2).tags == {"reviewed": "True"}

    reg.delete_registered_model_tag("churn", "team")
    reg.delete_model_version_tag("churn", 1, "stage")
    assert reg.get_registered_model("churn").tags == {}
    assert reg.get_model_version("churn", 1).tags == {}
    with pytest.raises(ModelNotFoundError, match="no tag 'team'"):
        reg.delete_registered_model_tag("churn", "team")

    kinds = [
        (e.type, e.version, e.key, e.old_value, e.new_value) for e in reg.get_model_history("churn")
    ]
    assert ("model_tag_set", None, "team", "risk", "growth") in kinds
    assert ("version_tag_set", 1, "stage", "candidate", "validated") in kinds
    assert ("version_description_set", 1, None, "", "trained on March") in kinds
    assert ("model_tag_deleted", None, "team", "growth", None) in kinds


def test_search_models_and_versions(logic_store_uri: str, tmp_path: Path) -> None:
    runs = [log_model_run(tmp_path) for _ in range(3)]
    reg.register_model(f"runs:/{runs[0]}/model", "churn-xgb")
    reg.register_model(f"runs:/{runs[1]}/model", "churn-xgb", tags={"env": "prod"})
    reg.register_model(f"runs:/{runs[2]}/model", "Churn_Linear")
    reg.register_model(f"runs:/{runs[2]}/model", "housing")
    reg.set_registered_model_tag("housing", "team", "pricing")

    names = [m.name for m in reg.search_registered_models()]
    assert names == ["Churn_Linear", "churn-xgb", "housing"]
    assert [m.name for m in reg.search_registered_models("churn%")] == names[:2]
    assert [m.name for m in reg.search_registered_models("%XGB")] == ["churn-xgb"]
    assert [m.name for m in reg.search_registered_models(tags={"team": "pricing"})] == ["housing"]
    assert [m.name for m in reg.search_registered_models(tags={"team": None})] == ["housing"]
    assert reg.search_registered_models(tags={"team": "other"}) == []

    versions = reg.search_model_versions("churn-xgb")
    assert [v.version for v in versions] == [2, 1]  # newest first
    assert [(v.name, v.version) for v in reg.search_model_versions(run_id=runs[2])] == [
        ("Churn_Linear", 1),
        ("housing", 1),
    ]
    assert [v.version for v in reg.search_model_versions(tags={"env": "prod"})] == [2]
    assert len(reg.search_model_versions(name_like="churn%")) == 3
    assert len(reg.search_model_versions(max_results=2)) == 2
    with pytest.raises(ModelNotFoundError, match="no registered model named 'nope'"):
        reg.search_model_versions("nope")


# -- deleting ----------------------------------------------------------------------------------


def test_delete_version_refused_while_aliased(logic_store_uri: str, tmp_path: Path) -> None:
    run_id = log_model_run(tmp_path)
    for _ in range(2):
        reg.register_model(f"runs:/{run_id}/model", "churn")
    reg.set_alias("churn", "production", 2)

    with pytest.raises(InvalidValueError, match=r"alias\(es\) production.*force=True"):
        reg.delete_model_version("churn", 2)
    assert reg.get_registered_model("churn").versions == [1, 2]

    reg.delete_model_version("churn", 2, force=True, comment="bad data")
    assert reg.get_registered_model("churn").aliases == {}
    assert reg.get_registered_model("churn").versions == [1]
    with pytest.raises(ModelNotFoundError, match="version 2 of model 'churn' was deleted by"):
        reg.get_model_version("churn", 2)
    with pytest.raises(ModelNotFoundError, match="no alias 'production'"):
        reg.resolve_models_uri("models:/churn@production")
    assert reg.resolve_models_uri("models:/churn/latest") == f"runs:/{run_id}/model"
    # The number of a deleted version is never given again.
    assert reg.register_model(f"runs:/{run_id}/model", "churn").version == 3
    deleted = [e for e in reg.get_model_history("churn") if e.type == "version_deleted"]
    assert [(e.version, e.old_value, e.comment) for e in deleted] == [(2, "production", "bad data")]


def test_delete_model_refused_while_aliased_then_recreated(store_uri: str, tmp_path: Path) -> None:
    run_id = log_model_run(tmp_path)
    reg.register_model(f"runs:/{run_id}/model", "churn")
    reg.register_model(f"runs:/{run_id}/model", "churn")
    reg.set_alias("churn", "champion", 1)
    reg.set_registered_model_tag("churn", "team", "risk")

    with pytest.raises(InvalidValueError, match=r"still has aliases \(champion -> 1\)"):
        reg.delete_registered_model("churn")
    reg.delete_alias("churn", "champion", comment="retiring")
    reg.delete_registered_model("churn", comment="replaced")

    with pytest.raises(ModelNotFoundError, match="'churn' was deleted"):
        reg.get_registered_model("churn")
    assert reg.search_registered_models() == []
    assert reg.get_model_history("churn")[-1].type == "model_deleted"

    # Registering the name again re-creates the model, with nothing carried over but
    # the numbering.
    mv = reg.register_model(f"runs:/{run_id}/model", "churn")
    assert mv.version == 3
    model = reg.get_registered_model("churn")
    assert (model.versions, model.tags, model.aliases) == ([3], {}, {})
    types = [e.type for e in reg.get_model_history("churn")]
    assert types[-4:] == ["alias_deleted", "model_deleted", "model_created", "version_created"]


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a/b", "x@y", "back\\slash", "", "   ", " padded", "..", "\x00", 7]
)
def test_bad_model_names_are_refused(name: object, tmp_path: Path) -> None:
    run_id = log_model_run(tmp_path)
    with pytest.raises(InvalidKeyError, match="registered model name"):
        reg.register_model(f"runs:/{run_id}/model", name)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        ("latest", "reserved"),
        ("LATEST", "reserved"),
        ("3", "reserved"),
        ("v3", "reserved"),
        ("Version12", "reserved"),
        ("a/b", "not allowed"),
        ("../x", "not allowed"),
        ("", "not allowed"),
        ("-flag", "not allowed"),
        ("x" * 65, "not allowed"),
        (None, "expected a str"),
    ],
)
def test_bad_aliases_are_refused(alias: object, message: str, tmp_path: Path) -> None:
    run_id = log_model_run(tmp_path)
    reg.register_model(f"runs:/{run_id}/model", "churn")
    with pytest.raises(InvalidKeyError, match=message):
        reg.set_alias("churn", alias, 1)  # type: ignore[arg-type]
    assert reg.get_model_history("churn")[-1].type == "version_created"


@pytest.mark.parametrize("version", [0, -1, "x", "1.5", True, None, "latest!"])
def test_bad_versions_are_refused(version: object, tmp_path: Path) -> None:
    run_id = log_model_run(tmp_path)
    reg.register_model(f"runs:/{run_id}/model", "churn")
    with pytest.raises(InvalidValueError, match="expected a positive whole number"):
        reg.get_model_version("churn", version)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/", "registered model name"),
        ("models:/churn", "names no version"),
        ("models:/churn/", "names no version"),
        ("models:/churn/0", "not a version number"),
        ("models:/churn/Production", r"use models:/churn@production \(aliases replace"),
        ("models:/churn/1/extra", "not a version number or .latest.; expected"),
        ("models:/churn@", "not allowed"),
        ("models:/churn@latest", "reserved"),
        ("models://churn/1", "not a models:/ URI"),
        ("churn", "not a models:/ URI"),
    ],
)
def test_malformed_models_uris(uri: str, message: str) -> None:
    with pytest.raises(InvalidKeyError, match=message):
        reg.resolve_models_uri(uri)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/churn/1", "not a runs:/ URI"),
        ("runs:/", "not a valid id"),
        ("runs:/abc", "names no artifact path"),
        ("runs:/abc/", "names no artifact path"),
        ("runs:/abc/../../etc", "contains '..'"),
        ("runs:/ab%2e/model", "not a valid id"),
        ("runs:/abc/%2e%2e/x", "percent-encoded"),
    ],
)
def test_malformed_run_uris(uri: str, message: str) -> None:
    with pytest.raises(InvalidKeyError, match=message):
        reg.register_model(uri, "churn")


def test_unknown_things_have_clear_errors(logic_store_uri: str, tmp_path: Path) -> None:
    run_id = log_model_run(tmp_path)
    with pytest.raises(ModelNotFoundError, match="registry is empty"):
        reg.get_registered_model("churn")
    reg.register_model(f"runs:/{run_id}/model", "churn")
    with pytest.raises(ModelNotFoundError, match=r"no registered model named 'churm'.*'churn'"):
        reg.resolve_models_uri("models:/churm/1")
    with pytest.raises(ModelNotFoundError, match="has no version 5; its versions are 1"):
        reg.resolve_models_uri("models:/churn/5")
    with pytest.raises(ModelNotFoundError, match=r"no alias 'prod' \(its aliases: none\)"):
        reg.resolve_models_uri("models:/churn@prod")
    with pytest.raises(ModelNotFoundError, match="has no version 9"):
        reg.set_alias("churn", "prod", 9)
    with pytest.raises(RunNotFoundError):
        reg.register_model("runs:/0123456789abcdef/model", "churn")
    with pytest.raises(
        ModelNotFoundError,
        match=r"no model at 'weights' \(no weights/MLmodel\); its top-level artifact directories:"
        r" .*'model'",
    ):
        reg.register_model(f"runs:/{run_id}/weights", "churn")
    assert reg.get_registered_model("churn").versions == [1]


def test_changed_or_missing_model_files_fail_integrity(
    logic_store_uri: str, tmp_path: Path
) -> None:
    run_id = log_model_run(tmp_path)
    reg.register_model(f"runs:/{run_id}/model", "churn")
    reg.set_alias("churn", "production", 1)
    objects = store()
    objects.put(model_key(run_id), objects.get(model_key(run_id)) + b"sha256: forged\n")
    with pytest.raises(ModelIntegrityError, match="changed after it was registered"):
        reg.resolve_models_uri("models:/churn@production")
    objects.delete(model_key(run_id))
    with pytest.raises(ModelIntegrityError, match=r"files at .* are gone"):
        reg.resolve_models_uri("models:/churn/1")


def test_backend_without_object_store_is_refused() -> None:
    class NoStore(Backend):
        """A backend that keeps no object store, as the HTTP backend will be."""

        uri = "nostore:x"

    NoStore.__abstractmethods__ = frozenset()  # only the registry's check runs here
    register_backend("nostore", lambda uri: NoStore())
    autolog.set_tracking_uri("nostore:x")
    with pytest.raises(
        InvalidValueError, match=r"'nostore:x' is served by NoStore.*no model registry"
    ):
        reg.get_registered_model("churn")


# -- keys and the fold -------------------------------------------------------------------------


def test_every_name_maps_to_a_distinct_safe_key(logic_store_uri: str, tmp_path: Path) -> None:
    names = [
        "churn",
        "Churn",
        "CHURN",
        "churn model",
        "münchen-Ø",
        "a.b",
        "...x",
        "%2e%2e",
        "x" * 256,
    ]
    run_id = log_model_run(tmp_path)
    segments = {encode_name(n) for n in names}
    assert len(segments) == len(names)
    assert all(len(s) <= 65 and s.replace("-", "").isalnum() and s == s.lower() for s in segments)
    for name in names:
        reg.register_model(f"runs:/{run_id}/model", name)
    assert sorted(m.name for m in reg.search_registered_models()) == sorted(names)
    keys = store().list(PREFIX)
    assert {k.split("/")[2] for k in keys} == segments
    assert all(reg.get_model_version(n, 1).name == n for n in names)


def test_a_later_event_wins_even_after_a_clock_jump(logic_store_uri: str, tmp_path: Path) -> None:
    """An event written by a machine whose clock runs ahead cannot hide later changes."""
    run_id = log_model_run(tmp_path)
    reg.register_model(f"runs:/{run_id}/model", "churn")
    reg.register_model(f"runs:/{run_id}/model", "churn")
    ahead = 4_000_000_000 * 10**9  # the year 2096
    event = {
        "id": f"{ahead:020d}-feedfacecafe",
        "ns": ahead,
        "time": ahead // 10**6,
        "user": "skewed",
        "type": "alias_set",
        "key": "production",
        "version": 1,
        "to": 1,
    }
    prefix = f"{PREFIX}/{encode_name('churn')}"
    store().put(f"{prefix}/events/{event['id']}.json", json.dumps(event).encode())
    assert reg.get_registered_model("churn").aliases == {"production": 1}

    reg.set_alias("churn", "production", 2)
    assert reg.get_registered_model("churn").aliases == {"production": 2}
    last = reg.get_model_history("churn")[-1]
    assert (last.type, last.old_value, last.new_value) == ("alias_moved", "1", "2")


def test_another_reader_sees_every_change(tmp_path: Path) -> None:
    """A second process's view (its own backend and cache) folds the same state."""
    from autolog.backends.file import FileBackend

    run_id = log_model_run(tmp_path)
    reg.register_model(f"runs:/{run_id}/model", "churn")
    other = registry_store(FileBackend(tmp_path / "runs"))
    assert other.load("churn").to_model().versions == [1]
    reg.register_model(f"runs:/{run_id}/model", "churn")
    reg.set_alias("churn", "production", 2)
    assert other.load("churn").to_model().aliases == {"production": 2}
    other.set_alias("churn", "production", 1, user="ops", comment="rollback")
    assert reg.get_model_version_by_alias("churn", "production").version == 1
    assert reg.get_model_history("churn")[-1].user == "ops"


def test_concurrent_alias_moves_fold_to_the_last_event(tmp_path: Path) -> None:
    run_id = log_model_run(tmp_path)
    for _ in range(8):
        reg.register_model(f"runs:/{run_id}/model", "churn")
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def move(version: int) -> None:
        try:
            barrier.wait()
            for _ in range(5):
                reg.set_alias("churn", "production", version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=move, args=(v,)) for v in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    moves = [e for e in reg.get_model_history("churn") if e.key == "production"]
    assert moves and reg.get_registered_model("churn").aliases == {
        "production": int(moves[-1].new_value or 0)
    }


# -- many processes ----------------------------------------------------------------------------

_REGISTER_SCRIPT = textwrap.dedent(
    """
    import json, pathlib, sys, time
    import autolog
    from autolog._registry import api as _registry

    go, work, index = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
    with autolog.start_run() as run:
        src = work / f"model-{index}"
        src.mkdir()
        (src / "MLmodel").write_text("flavors:\\n  sklearn:\\n    sklearn_version: 1.5.0\\n")
        (src / "model.pkl").write_text(f"model of process {index}")
        run.log_artifacts(src, "model")
    autolog.flush()
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.002)
    mv = _registry.register_model(f"runs:/{run.id}/model", "shared")
    print(json.dumps({"run": run.id, "version": mv.version, "index": index}), flush=True)
    """
)


@pytest.mark.parametrize("kind", ["file", "s3"])
def test_processes_registering_at_once_get_versions_1_to_n(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """8 processes, each with its own run and model, register versions of one name at once.

    On S3 the server is tests/s3server.py's `S3Server`, whose conditional writes are
    atomic as on S3 (moto's own server lets two concurrent creates of one key both win).
    """
    processes = 8
    uri = str(tmp_path / "runs")
    if kind == "s3":
        try:
            uri = str(request.getfixturevalue("s3_uri"))
        except pytest.FixtureLookupError:
            pytest.skip("no s3_uri fixture (tests/conftest.py) in this checkout")
    autolog.set_tracking_uri(uri)
    go = tmp_path / "go"
    env = {
        **os.environ,
        "AUTOLOG_TRACKING_URI": uri,
        "AUTOLOG_DISABLE_CAPTURE": "git,packages,system,source",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _REGISTER_SCRIPT, str(go), str(tmp_path), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(processes)
    ]
    for proc in procs:  # every process has its run and model before any registers
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == "ready\n", proc.stderr.read() if proc.stderr else line
    go.touch()
    results = []
    for proc, (out, err) in zip(procs, communicate_all(procs, 120), strict=True):
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))

    assert sorted(r["version"] for r in results) == list(range(1, processes + 1))
    assert len({r["run"] for r in results}) == processes
    for r in results:
        mv = reg.get_model_version("shared", r["version"])
        assert mv.run_id == r["run"] and mv.source == f"runs:/{r['run']}/model"
        assert reg.resolve_models_uri(f"models:/shared/{r['version']}") == mv.source
        data = store().get(f"runs/{r['run']}/artifacts/model/model.pkl")
        assert data == f"model of process {r['index']}".encode()
    assert reg.get_registered_model("shared").versions == list(range(1, processes + 1))


def test_register_logged_model_helper(tmp_path: Path) -> None:
    run_id = log_model_run(tmp_path, path="estimator")
    mv = reg.register_logged_model(run_id, "estimator", "auto")
    assert (mv.version, mv.source) == (1, f"runs:/{run_id}/estimator")
    with pytest.raises(InvalidKeyError):
        reg.register_logged_model(run_id, "../x", "auto")


# -- with real models (autolog._models) ----------------------------------------------------------


def _train(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 3))
    y = (x[:, seed % 3] > 0).astype(int)
    return LogisticRegression().fit(x, y)


def _log_real_model(model: Any, metrics: dict[str, float]) -> str:
    from autolog._models import log_model

    with autolog.start_run() as run:
        log_model(model, "model")
        run.log_metrics(metrics)
    return run.id


def test_load_by_alias_follows_the_alias(store_uri: str) -> None:
    from autolog._models import load_model

    first, second = _train(0), _train(1)
    run1 = _log_real_model(first, {"accuracy": 0.8})
    run2 = _log_real_model(second, {"accuracy": 0.9})
    reg.register_model(f"runs:/{run1}/model", "churn")
    v2 = reg.register_model(f"runs:/{run2}/model", "churn")
    assert v2.lineage["flavors"] == ["python_function", "sklearn"]
    assert v2.lineage["model_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert {"scikit-learn", "python"} <= set(v2.lineage["library_versions"])
    assert v2.lineage["metrics"] == {"accuracy": 0.9}

    reg.set_alias("churn", "production", 1)
    loaded = load_model("models:/churn@production")
    np.testing.assert_array_equal(loaded.coef_, first.coef_)
    reg.set_alias("churn", "production", 2)
    loaded = load_model("models:/churn@production")
    np.testing.assert_array_equal(loaded.coef_, second.coef_)
    np.testing.assert_array_equal(load_model("models:/churn/1").coef_, first.coef_)
    np.testing.assert_array_equal(load_model("models:/churn/latest").coef_, second.coef_)
    moves = [e for e in reg.get_model_history("churn") if e.key == "production"]
    assert [(e.old_value, e.new_value) for e in moves] == [(None, "1"), ("1", "2")]


def test_load_of_a_tampered_version_fails(store_uri: str) -> None:
    from autolog._models import load_model

    run_id = _log_real_model(_train(0), {"accuracy": 0.8})
    reg.register_model(f"runs:/{run_id}/model", "churn")
    reg.set_alias("churn", "production", 1)
    objects = store()
    pickled = f"runs/{run_id}/artifacts/model/model.pkl"
    original = objects.get(pickled)
    objects.put(pickled, original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(ModelIntegrityError, match=r"model\.pkl"):
        load_model("models:/churn@production")
    objects.put(pickled, original)
    assert load_model("models:/churn@production").coef_.shape == (1, 3)
    # A changed MLmodel (new hashes that match forged files) is caught by the registry itself.
    mlmodel = model_key(run_id)
    objects.put(mlmodel, objects.get(mlmodel).replace(b"model_uuid", b"model_uuid_"))
    with pytest.raises(ModelIntegrityError, match="changed after it was registered"):
        load_model("models:/churn/1")
