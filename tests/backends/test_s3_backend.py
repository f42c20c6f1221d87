"""The S3 backend against a real S3-compatible server on localhost (moto's, over HTTP).

1. Keys S3 refuses, and the layout the S3 and file stores share.
2. The run API end to end with an `s3://` tracking URI.
3. Eight processes logging to one bucket prefix.
4. Faults injected by a proxy between boto3 and the server.
5. No credential anywhere: runs, objects, messages, logs.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from s3server import (
    ACCESS_KEY_ID,
    BUCKET,
    SECRET_ACCESS_KEY,
    FaultProxy,
    S3Server,
    s3_environment,
)

import autolog
from autolog._tracking import settings as _tracking
from autolog.backends import _s3_config as s3_config
from autolog.backends import s3 as s3_backend
from autolog.backends._index_changes import parse_change
from autolog.backends._layout import LayoutBackend
from autolog.backends.base import Batch, RunMeta
from autolog.backends.file import LocalObjectStore
from autolog.backends.s3 import S3Backend, S3ObjectStore, from_uri, parse_s3_uri
from autolog.errors import (
    InvalidInputError,
    InvalidKeyError,
    InvalidValueError,
    MissingDependencyError,
    ModelIntegrityError,
    ModelNotFoundError,
    StoreError,
)

MiB = 1024 * 1024


def _s3_store(prefix: str | None = None, endpoint_url: str | None = None) -> S3ObjectStore:
    # A lowered multipart threshold: a 20 MB file goes up and down in 5 MB parts.
    return S3ObjectStore(
        BUCKET,
        prefix or f"t-{uuid.uuid4().hex[:12]}",
        endpoint_url=endpoint_url,
        multipart_threshold=5 * MiB,
        multipart_chunksize=5 * MiB,
    )


def _bucket_objects(server: S3Server, bucket: str, prefix: str) -> dict[str, bytes]:
    client = server.client()
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            out[obj["Key"]] = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    client.close()
    return out


# -- 1. what only S3 stores do (the ObjectStore conformance is in test_object_store_conformance.py)


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/../b", "./a", "a\\b", "a/."])
def test_keys_that_are_not_relative_paths(key: str, tmp_path: Path, s3_env: S3Server) -> None:
    for store in (LocalObjectStore(tmp_path / "store"), _s3_store()):
        with pytest.raises(InvalidKeyError):
            store.put(key, b"x")


def test_s3_keys_over_1024_bytes_are_refused(s3_env: S3Server) -> None:
    with pytest.raises(InvalidKeyError, match="1024 bytes"):
        _s3_store().put("a/" + "x" * 1100, b"1")


def test_same_layout_as_the_file_store(s3_env: S3Server, tmp_path: Path) -> None:
    listings = []
    for backend in (
        LayoutBackend(LocalObjectStore(tmp_path / "d")),
        S3Backend(BUCKET, uuid.uuid4().hex),
    ):
        exp = backend.get_or_create_experiment("layout")
        backend.create_run(RunMeta("0123456789abcdef0123456789abcdef", "r", exp.id, 1))
        backend.write_batch("0123456789abcdef0123456789abcdef", Batch(params={"a": "1"}))
        backend.write_batch(
            "0123456789abcdef0123456789abcdef", Batch(status="FINISHED", end_time=2)
        )
        backend.put_artifact("0123456789abcdef0123456789abcdef", "model/MLmodel", b"flavors: {}")
        backend.finish_run("0123456789abcdef0123456789abcdef")
        assert isinstance(backend, LayoutBackend)
        listings.append(backend.store.list(""))
        backend.close()
    # The same objects; a bucket also keeps the change log its index reads (_index_changes).
    changes = [k for k in listings[1] if k.startswith("changes/")]
    assert listings[0] == [k for k in listings[1] if k not in changes]
    assert "runs/0123456789abcdef0123456789abcdef/log/compact/0000000001.json" in listings[1]
    # The experiment's creation, the run's, then each of its two batches, in that order.
    announced = [parse_change(k) for k in changes]
    run_id = "0123456789abcdef0123456789abcdef"
    assert [(c.run_id, c.batch is not None) for c in announced if c is not None] == [
        (None, False), (run_id, False), (run_id, True), (run_id, True)
    ]  # fmt: skip


# -- URIs, the optional dependency, configuration ---------------------------------------


@pytest.mark.parametrize(
    ("uri", "bucket", "prefix"),
    [
        ("s3://ml-bucket", "ml-bucket", ""),
        ("s3://ml-bucket/", "ml-bucket", ""),
        ("s3://ml.bucket-1/team-a/exp/", "ml.bucket-1", "team-a/exp"),
        ("S3://ml-bucket/x", "ml-bucket", "x"),
    ],
)
def test_parse_s3_uri(uri: str, bucket: str, prefix: str) -> None:
    assert parse_s3_uri(uri) == (bucket, prefix)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://", "names no bucket"),
        ("s3:///team-a", "names no bucket"),
        ("s3://Ml_Bucket/x", "not valid"),
        ("s3://ab/x", "not valid"),
        ("s3://bucket..x/y", "not valid"),
        ("s3://192.168.1.10/y", "not valid"),
        ("s3://bucket:9000/y", "':' or '@'"),
        ("s3://ml-bucket/a//b", "empty, '.' or '..'"),
        ("s3://ml-bucket/a/../b", "empty, '.' or '..'"),
        ("s3://ml-bucket/a?versionId=3", "query or fragment"),
        ("s3://ml-bucket/a#frag", "query or fragment"),
        ("s3:ml-bucket/a", "expected s3://BUCKET/PREFIX"),
    ],
)
def test_bad_s3_uris(uri: str, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message.replace("?", r"\?")):
        from_uri(uri)
    with pytest.raises(InvalidValueError):
        autolog.configure(tracking_uri=uri)


@pytest.mark.parametrize(
    "uri",
    [
        f"s3://{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}@ml-bucket/x",
        f"s3://{ACCESS_KEY_ID}@ml-bucket/x",
        f"s3://ml-bucket/x?key={ACCESS_KEY_ID}&secret={SECRET_ACCESS_KEY}",
    ],
)
def test_uri_with_credentials_is_refused_without_echoing_them(uri: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        from_uri(uri)
    assert ACCESS_KEY_ID not in str(info.value)
    assert "TestSecret" not in str(info.value)


def test_missing_boto3_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3_config, "_lib", None)
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'autolog-ml\[s3\]'"):
        from_uri("s3://ml-bucket/x")
    with pytest.raises(ImportError, match="boto3"):  # also an ImportError, as users expect
        autolog.configure(tracking_uri="s3://ml-bucket/x")
    with pytest.raises(MissingDependencyError, match="boto3"):
        autolog.load_model("s3://ml-bucket/x/model")


def test_importing_the_backend_does_not_import_boto3() -> None:
    code = "import sys, autolog.backends.s3; print('boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_endpoint_and_multipart_settings_from_the_environment(
    s3_env: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOLOG_S3_MULTIPART_THRESHOLD", "8M")
    monkeypatch.setenv("AUTOLOG_S3_MULTIPART_CHUNKSIZE", "6291456")
    store = S3ObjectStore(BUCKET, "env")
    assert (store.multipart_threshold, store.multipart_chunksize) == (8 * MiB, 6 * MiB)
    assert store._endpoint() == s3_env.endpoint
    monkeypatch.delenv("AUTOLOG_S3_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env.endpoint)  # boto3's own variable
    other = S3ObjectStore(BUCKET, "env")
    other.put("k", b"v")
    assert store.get("k") == b"v"
    monkeypatch.setenv("AUTOLOG_S3_MULTIPART_THRESHOLD", "lots")
    with pytest.raises(InvalidValueError, match="AUTOLOG_S3_MULTIPART_THRESHOLD='lots'"):
        S3ObjectStore(BUCKET, "env")


# -- 2. the run API end to end ------------------------------------------------------------


def test_run_api_end_to_end(s3_uri: str, s3_env: S3Server, tmp_path: Path) -> None:
    autolog.configure(tracking_uri=s3_uri, experiment="s3-e2e")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text("flavors:\n  sklearn: {}\n")
    (model_dir / "model.pkl").write_bytes(os.urandom(300_000))
    for alpha in (0.1, 0.5):
        with autolog.start_run(name=f"alpha-{alpha}", tags={"team": "a"}) as run:
            autolog.log_params({"alpha": alpha, "solver": "lbfgs"})
            for step in range(50):
                autolog.log_metrics({"loss": 1.0 / (step + 1), "acc": alpha + step / 100}, step)
            autolog.log_dict({"alpha": alpha}, "config/params.json")
            autolog.log_text("hello", "notes.txt")
            autolog.log_artifacts(model_dir, "model")
    stored = autolog.get_run(run.id)
    assert stored.status is autolog.RunStatus.FINISHED
    assert stored.params == {"alpha": "0.5", "solver": "lbfgs"}
    assert stored.tags["team"] == "a"
    assert stored.metrics["acc"] == pytest.approx(0.99)
    history = autolog.get_metric_history(run.id, "loss")
    assert [m.step for m in history] == list(range(50))
    assert {f.path for f in autolog.list_artifacts(run.id)} >= {"config", "model", "notes.txt"}
    assert {f.path for f in autolog.list_artifacts(run.id, "model")} == {
        "model/MLmodel",
        "model/model.pkl",
    }
    # What `runs:/<id>/model` resolves to: the model directory, byte for byte.
    local = autolog.download_artifacts(run.id, "model", tmp_path / "dl")
    for name in ("MLmodel", "model.pkl"):
        assert (local / name).read_bytes() == (model_dir / name).read_bytes()
    found = autolog.search_runs("s3-e2e", filter="params.alpha = '0.5'", order_by="metrics.acc")
    assert [r.id for r in found] == [run.id]
    assert len(autolog.search_runs("s3-e2e", filter="metrics.loss < 1")) == 2
    # No loose batches are left: the creation object holds a run's only batch, or
    # compaction at run end folded several into one compact.
    backend = from_uri(s3_uri)
    keys = [k for k in backend.store.list(f"runs/{run.id}") if "/artifacts/" not in k]
    assert f"runs/{run.id}/run.json" in keys
    assert not [k for k in keys if "/log/batches/" in k]
    assert len([k for k in keys if "/log/compact/" in k]) <= 1
    assert backend.get_run(run.id) == stored  # a second client reads the same state
    backend.close()


def test_models_load_by_s3_runs_and_models_uris(
    s3_uri: str, s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.linear_model import LogisticRegression

    from autolog._models import load_model, log_model
    from autolog._registry import api as reg

    x = [[0.0, 1.0], [1.0, 0.0], [0.9, 0.2], [0.1, 0.8]]
    model = LogisticRegression().fit(x, [0, 1, 1, 0])
    expected = model.predict_proba(x).tolist()
    autolog.configure(tracking_uri=s3_uri, disable_capture=["git", "source", "packages", "system"])
    with autolog.start_run() as run:
        log_model(model, "model")
    autolog.flush()
    model_dir = f"{s3_uri}/runs/{run.id}/artifacts/model"
    # The model directory named directly: downloaded to a temporary directory, verified,
    # loaded, and the temporary directory removed.
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    assert load_model(model_dir).predict_proba(x).tolist() == expected
    assert load_model(model_dir + "/", flavor="python_function").predict(x).tolist() == [0, 1, 1, 0]
    assert list(temp.iterdir()) == []
    # runs:/ and models:/ against the S3 tracking store.
    reg.register_model(f"runs:/{run.id}/model", "churn")
    reg.set_alias("churn", "prod", 1)
    for uri in (f"runs:/{run.id}/model", "models:/churn/1", "models:/churn@prod"):
        assert load_model(uri).predict_proba(x).tolist() == expected, uri
    with pytest.raises(ModelNotFoundError, match="nothing is stored under it"):
        load_model(f"{s3_uri}/runs/{run.id}/artifacts/other")
    with pytest.raises(ModelNotFoundError, match="not the file itself"):
        load_model(model_dir + "/MLmodel")
    with pytest.raises(InvalidInputError, match="names a whole bucket"):
        load_model("s3://" + parse_s3_uri(s3_uri)[0])
    # A changed file is refused by its hash, as from a local directory.
    bucket, prefix = parse_s3_uri(s3_uri)
    client = s3_env.client()
    key = f"{prefix}/runs/{run.id}/artifacts/model/model.pkl"
    client.put_object(Bucket=bucket, Key=key, Body=b"not a model")
    client.close()
    with pytest.raises(ModelIntegrityError, match=r"model\.pkl"):
        load_model(model_dir)
    assert list(temp.iterdir()) == []


def test_tracking_uri_from_the_environment(
    s3_uri: str, s3_env: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOLOG_TRACKING_URI", s3_uri)
    _tracking.tracking.reset()
    autolog.log_metric("x", 1.0)
    run = autolog.active_run()
    assert run is not None
    autolog.end_run()
    assert autolog.get_tracking_uri() == s3_uri
    assert autolog.get_run(run.id).metrics == {"x": 1.0}
    bucket, prefix = parse_s3_uri(s3_uri)
    assert f"{prefix}/runs/{run.id}/run.json" in _bucket_objects(s3_env, bucket, prefix)


# -- 3. many processes, one prefix --------------------------------------------------------
#
# The registry's half (8 processes registering one model: versions 1..8) is in
# tests/registry/test_registry.py. Use `S3Server`, not moto's own `ThreadedMotoServer`: moto
# checks `If-None-Match: *` without a lock, so two concurrent creates can both win there.

_WORKER = textwrap.dedent(
    """
    import sys
    import autolog
    from autolog._tracking.runs import resume_run
    from autolog._tracking.settings import tracking

    worker, shared_id = int(sys.argv[1]), sys.argv[2]
    with autolog.start_run(name=f"worker-{worker}", experiment="crowd"):
        autolog.log_param("worker", worker)
        for step in range(100):
            autolog.log_metric("loss", worker + step / 1000, step=step)
            if step == 50:
                autolog.flush()
        autolog.log_text(f"from worker {worker}", "hello.txt")
    shared = resume_run(shared_id)
    for step in range(30):
        shared.log_metric(f"w{worker}", float(step), step=step)
    autolog.flush()
    tracking.backend().compact(shared_id)  # eight compactions race on one run
    """
)


def test_eight_processes_log_to_one_prefix(s3_uri: str, s3_env: S3Server) -> None:
    autolog.configure(tracking_uri=s3_uri)
    with autolog.start_run(name="shared", experiment="crowd") as shared:
        pass
    autolog.flush()
    env = {
        **os.environ,
        **s3_environment(s3_env.endpoint),
        "AUTOLOG_TRACKING_URI": s3_uri,
        "AUTOLOG_STRICT": "1",
        "AUTOLOG_FLUSH_INTERVAL": "0.05",
        "AUTOLOG_DISABLE_CAPTURE": "git,source,packages,system",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(w), shared.id],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for w in range(8)
    ]
    outputs = [proc.communicate(timeout=120)[0].decode() for proc in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out
    runs = {r.name: r for r in autolog.search_runs("crowd")}
    assert sorted(runs) == sorted([f"worker-{w}" for w in range(8)] + ["shared"])
    for w in range(8):
        run = runs[f"worker-{w}"]
        assert run.status is autolog.RunStatus.FINISHED
        assert run.params["worker"] == str(w)
        history = autolog.get_metric_history(run.id, "loss")
        assert [m.step for m in history] == list(range(100))
        text = autolog.download_artifacts(run.id, "hello.txt").read_text()
        assert text == f"from worker {w}"
    for w in range(8):
        points = autolog.get_metric_history(shared.id, f"w{w}")
        assert [m.value for m in points] == [float(s) for s in range(30)]
    backend = from_uri(s3_uri)
    backend.compact(shared.id)
    assert not [k for k in backend.store.list(f"runs/{shared.id}/log") if "/batches/" in k]
    assert len(autolog.get_metric_history(shared.id, "w7")) == 30
    backend.close()


# -- 4. faults ----------------------------------------------------------------------------


def test_training_finishes_through_faults_and_everything_arrives(
    s3_uri: str, s3_env: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sklearn.datasets import make_classification
    from sklearn.linear_model import SGDClassifier

    with FaultProxy(s3_env.endpoint, fail_every=3) as proxy:
        monkeypatch.setenv("AUTOLOG_S3_ENDPOINT_URL", proxy.endpoint)
        monkeypatch.setenv("AUTOLOG_S3_MULTIPART_THRESHOLD", "5M")
        monkeypatch.setenv("AUTOLOG_S3_MULTIPART_CHUNKSIZE", "5M")
        autolog.configure(tracking_uri=s3_uri, flush_interval=0.2, disable_capture=["packages"])
        x, y = make_classification(n_samples=400, random_state=0)
        model = SGDClassifier(random_state=0)
        weights = tmp_path / "weights.bin"
        weights.write_bytes(os.urandom(12 * MiB))
        with autolog.start_run(name="faulty") as run:
            autolog.log_params({"model": "SGDClassifier", "epochs": 20})
            for epoch in range(20):
                model.partial_fit(x, y, classes=[0, 1])
                autolog.log_metric("accuracy", float(model.score(x, y)), step=epoch)
                if epoch % 5 == 4:
                    time.sleep(0.25)  # let the writer flush mid-training, through the faults
            autolog.log_artifact(weights, "model")
            autolog.log_dict({"coef": model.coef_.tolist()}, "model/coef.json")
        autolog.flush()
        assert proxy.failed >= 5
        assert all(proxy.failures[mode] for mode in ("503", "drop", "500", "lost"))
    # Read back directly from the server, past the proxy.
    monkeypatch.setenv("AUTOLOG_S3_ENDPOINT_URL", s3_env.endpoint)
    backend = from_uri(s3_uri)
    stored = backend.get_run(run.id)
    assert stored.status is autolog.RunStatus.FINISHED
    assert stored.params == {"model": "SGDClassifier", "epochs": "20"}
    assert [m.step for m in backend.get_metric_history(run.id, "accuracy")] == list(range(20))
    out = backend.download_artifacts(run.id, "model", tmp_path / "back")
    assert (out / "weights.bin").read_bytes() == weights.read_bytes()
    assert json.loads((out / "coef.json").read_text())["coef"] == model.coef_.tolist()
    assert not [k for k in backend.store.list(f"runs/{run.id}/log") if "/batches/" in k]
    backend.close()


def test_failed_writes_are_kept_reported_once_and_retried(
    s3_uri: str,
    s3_env: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FaultProxy(s3_env.endpoint) as proxy:
        monkeypatch.setenv("AUTOLOG_S3_ENDPOINT_URL", proxy.endpoint)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # fail fast: the writer retries
        autolog.configure(tracking_uri=s3_uri, flush_interval=0.05, disable_capture=["packages"])
        run = autolog.start_run(name="outage")
        autolog.flush()
        proxy.fail_every, proxy.modes = 1, ("503",)  # the store goes down
        writer = _tracking.tracking.writer()
        errors: list[BaseException] = []
        with caplog.at_level(logging.WARNING, logger="autolog"):
            for step in range(30):
                autolog.log_metric("loss", 1.0 / (step + 1), step=step)
            deadline = time.monotonic() + 60
            while len(errors) < 3 and time.monotonic() < deadline:  # writer cycles, all failing
                time.sleep(0.05)
                errors += writer.take_errors()
        assert writer.pending() > 0
        assert len(errors) >= 3
        assert all(isinstance(e, StoreError) for e in errors)
        assert "SlowDown" in str(errors[0])
        reports = [r for r in caplog.records if "could not write" in r.getMessage()]
        assert len(reports) == 1
        proxy.fail_every = 0  # and comes back
        run.end()
        assert writer.flush(timeout=30)
        assert writer.pending() == 0
        writer.take_errors()  # failures from before the store came back
    monkeypatch.setenv("AUTOLOG_S3_ENDPOINT_URL", s3_env.endpoint)
    backend = from_uri(s3_uri)
    assert len(backend.get_metric_history(run.id, "loss")) == 30
    assert backend.get_run(run.id).status is autolog.RunStatus.FINISHED
    backend.close()


def test_store_without_conditional_writes_is_refused(
    s3_env: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FaultProxy(s3_env.endpoint, reject_conditional=True) as proxy:
        store = _s3_store(endpoint_url=proxy.endpoint)
        with pytest.raises(StoreError, match="does not support conditional writes"):
            store.put_if_absent("c/1", b"x")
    monkeypatch.setattr(s3_backend, "_conditional_writes_checked", set())
    with FaultProxy(s3_env.endpoint, strip_conditional=True) as proxy:
        store = _s3_store(endpoint_url=proxy.endpoint)
        with pytest.raises(StoreError, match="over an existing object"):
            store.put_if_absent("c/1", b"x")
        # Every later create is refused too: never a silent race.
        with pytest.raises(StoreError, match="does not support conditional writes"):
            store.put_if_absent("c/2", b"x")


def test_create_whose_answer_was_lost_still_counts_as_created(s3_env: S3Server) -> None:
    # Every 2nd request is applied by the server and its answer dropped; the retry
    # then finds the object, and it is ours.
    with FaultProxy(s3_env.endpoint, fail_every=2, modes=("lost",)) as proxy:
        store = _s3_store(endpoint_url=proxy.endpoint)
        results = [store.put_if_absent(f"v/{n}", f"mine-{n}".encode()) for n in range(6)]
        assert proxy.failures["lost"] >= 3
    assert results == [True] * 6
    direct = S3ObjectStore(BUCKET, store.prefix)
    assert not direct.put_if_absent("v/0", b"other")
    assert [direct.get(f"v/{n}") for n in range(6)] == [f"mine-{n}".encode() for n in range(6)]


def test_nothing_waits_for_a_store_that_is_down_and_everything_arrives_later(
    s3_uri: str,
    s3_env: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(300_000))
    original = weights.read_bytes()
    folder = tmp_path / "plots"
    folder.mkdir()
    (folder / "loss.svg").write_text("<svg/>")
    (folder / "sub").mkdir()
    (folder / "sub" / "acc.svg").write_text("<svg>acc</svg>")
    with FaultProxy(s3_env.endpoint, fail_every=1, modes=("503",)) as proxy:  # down from the start
        monkeypatch.setenv("AUTOLOG_S3_ENDPOINT_URL", proxy.endpoint)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # fail fast: the writer retries
        autolog.configure(
            tracking_uri=s3_uri,
            flush_interval=0.05,
            disable_capture=["git", "source", "packages", "system"],
        )
        # An explicit call that needs the store says so with autolog's own error.
        with pytest.raises(StoreError, match="SlowDown") as info:
            autolog.set_experiment("offline")
        assert type(info.value) is StoreError
        writer = _tracking.tracking.writer()
        with caplog.at_level(logging.WARNING, logger="autolog"):
            # Calls that only queue return at once, store or no store.
            with autolog.start_run(name="offline-run", experiment="offline") as run:
                autolog.log_param("alpha", 0.1)
                autolog.log_artifact(weights, "model")
                weights.write_bytes(b"changed after the call")  # the logged copy is kept
                autolog.log_artifacts(folder, "plots")
                autolog.log_metric("loss", 0.5)
            weights.unlink()
            assert not writer.flush(timeout=30)
            proxy.fail_every = 0  # the store comes back
            assert writer.flush(timeout=30)
        writer.take_errors()
    reports = [r for r in caplog.records if "could not write" in r.getMessage()]
    assert len(reports) == 1, [r.getMessage() for r in reports]
    assert writer._spool_dir is not None and list(writer._spool_dir.iterdir()) == []
    monkeypatch.setenv("AUTOLOG_S3_ENDPOINT_URL", s3_env.endpoint)
    backend = from_uri(s3_uri)
    stored = backend.get_run(run.id)
    assert (stored.experiment, stored.status, stored.params) == (
        "offline",
        autolog.RunStatus.FINISHED,
        {"alpha": "0.1"},
    )
    assert [r.id for r in backend.list_runs([backend.get_experiment("offline").id])] == [run.id]
    out = backend.download_artifacts(run.id, "", tmp_path / "back")
    assert (out / "model" / "weights.bin").read_bytes() == original
    assert (out / "plots" / "loss.svg").read_text() == "<svg/>"
    assert (out / "plots" / "sub" / "acc.svg").read_text() == "<svg>acc</svg>"
    backend.close()


@pytest.mark.parametrize("kind", ["file", "s3"])
def test_cli_download_shows_progress_and_copies_every_byte(
    kind: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from autolog._cli.main import main

    if kind == "s3":
        # Above the threshold, the download goes in concurrent ranges: progress from threads.
        monkeypatch.setenv("AUTOLOG_S3_MULTIPART_THRESHOLD", "5M")
        monkeypatch.setenv("AUTOLOG_S3_MULTIPART_CHUNKSIZE", "5M")
        autolog.configure(tracking_uri=request.getfixturevalue("s3_uri"))
    autolog.configure(disable_capture=["git", "source", "packages", "system"])
    files = {"model/weights.bin": os.urandom(12 * MiB + 7), "notes.txt": b"hi", "a/b/c": b"c"}
    for rel, data in files.items():
        (tmp_path / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / rel).write_bytes(data)
    with autolog.start_run() as run:
        autolog.log_artifacts(tmp_path / "src")
    autolog.flush()
    capsys.readouterr()
    assert main(["artifacts", run.id, "--download", "out", "--progress"]) == 0
    out, err = capsys.readouterr()
    head = "Downloading 3 files (12.0 MiB)..."
    assert err.startswith(f"\r{head}   0%") and err.endswith(f"\r{head} 100%\n")
    shown = [int(part.rsplit(" ", 1)[1].rstrip("%")) for part in err.strip().split("\r")]
    assert shown == sorted(shown) and len(shown) > 2 and len(shown) == len(set(shown))
    assert out.startswith(f"Downloaded 3 files (12.0 MiB) of run {run.id}")
    for rel, data in files.items():
        assert (tmp_path / "out" / rel).read_bytes() == data, rel
    # Without --progress and with stderr not a terminal: no progress line.
    assert main(["artifacts", run.id, "notes.txt", "--download", "again"]) == 0
    assert capsys.readouterr().err == ""
    assert (tmp_path / "again" / "notes.txt").read_bytes() == b"hi"


# -- 5. no credentials anywhere -----------------------------------------------------------


def test_no_credentials_in_runs_objects_messages_or_logs(
    s3_uri: str, s3_env: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = (ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    with caplog.at_level(logging.DEBUG, logger="autolog"):
        autolog.configure(tracking_uri=s3_uri)
        with autolog.start_run(name="secretive", tags={"k": "v"}) as run:
            autolog.log_param("p", 1)
            autolog.log_metric("m", 2.0)
            autolog.log_text("t", "t.txt")
        stored = autolog.get_run(run.id)
        missing = S3ObjectStore("no-such-bucket-autolog", "x")
        with pytest.raises(StoreError) as info:
            missing.put("k", b"v")
    assert "does not exist" in str(info.value)
    texts = [
        str(info.value),
        json.dumps([stored.params, stored.tags, stored.name]),
        caplog.text,
        autolog.get_tracking_uri(),
        _tracking.tracking.backend().uri,
    ]
    objects = _bucket_objects(s3_env, *parse_s3_uri(s3_uri))
    assert len(objects) >= 5
    for secret in secrets:
        for text in texts:
            assert secret not in text
        for key, data in objects.items():
            assert secret.encode() not in data, key
    assert _tracking.tracking.backend().uri == s3_uri
