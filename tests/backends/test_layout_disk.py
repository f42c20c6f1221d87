"""A small run's footprint in the directory store, shared context objects, and old layouts.

A run written in one flush is one directory holding one object (`run.json`: creation,
first batch, links to shared artifacts); what repeats across runs (requirements, the
script) is stored once under `objects/`; a compact is read one metric at a time. Stores
written before read as they did.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import autolog
from autolog._search import parse_orders, parse_query
from autolog.backends._layout import LayoutBackend
from autolog.backends.base import Batch, RunMeta
from autolog.backends.file import FileBackend, LocalObjectStore

REQUIREMENTS = ("".join(f"package-{i}==1.{i}.0\n" for i in range(120))).encode()
SCRIPT = b"import autolog\n" + b"# training\n" * 200


def _small_run(backend: FileBackend, i: int) -> str:
    """A run as the writer stores one that ends within one flush, with its context."""
    run_id = uuid.uuid4().hex
    exp_id = backend.local_experiment_id("small")
    backend.create_run(RunMeta(run_id, f"run-{i}", exp_id, 1_000 + i, experiment_name="small"))
    backend.put_shared_artifacts(
        run_id, {"context/requirements.txt": REQUIREMENTS, "context/source/train.py": SCRIPT}
    )
    batch = Batch(
        params={f"p{k}": str(k * i) for k in range(10)},
        tags={"autolog.source": "train.py"},
        metrics={f"m{k}": [(0.5 + k, 0, 2_000 + i)] for k in range(5)},
        status="FINISHED",
        end_time=3_000 + i,
    )
    backend.write_batch(run_id, batch)
    backend.finish_run(run_id)
    return run_id


def _du_kb(path: Path) -> int:
    done = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[0])


def test_a_small_run_is_one_object_and_the_context_is_stored_once(tmp_path: Path) -> None:
    store = tmp_path / "store"
    backend = FileBackend(store)
    ids = [_small_run(backend, i) for i in range(50)]
    for run_id in ids:
        assert sorted(p.name for p in (store / "runs" / run_id).iterdir()) == ["run.json"]
    assert len(list((store / "objects").rglob("*"))) == 2 + 2  # two objects, two folders
    reader = FileBackend(store)
    assert len(reader.list_runs()) == 50
    run = reader.get_run(ids[7])
    assert run.params["p3"] == "21" and run.metrics["m4"] == 4.5 and run.end_time == 3_007
    assert reader.read_artifact(ids[7], "context/requirements.txt") == REQUIREMENTS
    listed = reader.list_artifacts(ids[7])
    assert [(f.path, f.is_dir) for f in listed] == [("context", True)]
    listed = reader.list_artifacts(ids[7], "context")
    assert [(f.path, f.size) for f in listed] == [
        ("context/requirements.txt", len(REQUIREMENTS)),
        ("context/source", None),
    ]
    assert reader.list_artifacts(ids[7], "context/source/train.py")[0].size == len(SCRIPT)
    out = reader.download_artifacts(ids[7], "", tmp_path / "dl")
    assert (out / "context" / "source" / "train.py").read_bytes() == SCRIPT
    one = reader.download_artifacts(ids[7], "context/requirements.txt", tmp_path / "one")
    assert one.read_bytes() == REQUIREMENTS
    # Later batches go beside it, and fold with it.
    backend.write_batch(ids[0], Batch(tags={"late": "yes"}, metrics={"m0": [(9.0, 1, 5)]}))
    assert FileBackend(store).get_run(ids[0]).tags["late"] == "yes"
    backend.compact(ids[0])
    late = FileBackend(store).get_run(ids[0])
    assert late.metrics["m0"] == 9.0 and late.params["p1"] == "0"
    assert [m.step for m in reader.get_metric_history(ids[0], "m0")] == [0, 1]


def test_disk_per_small_run_is_at_most_10_kb(tmp_path: Path) -> None:
    store = tmp_path / "store"
    backend = FileBackend(store)
    for i in range(200):
        _small_run(backend, i)
    backend.list_runs()  # the index is part of the store's size
    per_run = _du_kb(store) / 200
    assert per_run <= 10, f"{per_run:.1f} KB per run"


def test_a_store_in_the_old_layout_reads_as_before(tmp_path: Path) -> None:
    """Runs written before run.json and shared objects: meta.json, batches, copied context."""
    store = tmp_path / "store"
    backend = FileBackend(store)
    exp_id = backend.get_or_create_experiment("old").id
    run_id = uuid.uuid4().hex
    meta = {"id": run_id, "name": "old-run", "experiment_id": exp_id, "start_time": 5,
            "parent_id": None}  # fmt: skip
    objects = {
        f"runs/{run_id}/log/meta.json": meta,
        f"runs/{run_id}/log/batches/00000000000000000010-w-1-00000001.json": {
            "params": {"a": "1"}, "metrics": {"loss": [[0.5, 0, 10]]}},
        f"runs/{run_id}/log/batches/00000000000000000020-w-1-00000002.json": {
            "metrics": {"loss": [[0.25, 1, 20]]}, "status": "FINISHED", "end_time": 30},
    }  # fmt: skip
    for key, data in objects.items():
        backend.store.put(key, json.dumps(data).encode())
    backend.store.put(f"experiment-runs/{exp_id}/{run_id}", b"")
    backend.store.put(f"runs/{run_id}/artifacts/context/requirements.txt", REQUIREMENTS)
    reader = FileBackend(store)
    run = reader.get_run(run_id)
    assert (run.name, run.params, run.metrics, run.status.value) == (
        "old-run", {"a": "1"}, {"loss": 0.25}, "FINISHED")  # fmt: skip
    found = reader.search_runs(None, parse_query("metrics.loss < 0.3"), parse_orders(None), 10)
    assert [r.id for r in found.runs] == [run_id]
    assert reader.read_artifact(run_id, "context/requirements.txt") == REQUIREMENTS
    assert [f.path for f in reader.list_artifacts(run_id, "context")] == [
        "context/requirements.txt"
    ]
    reader.compact(run_id)
    assert reader.store.list(f"runs/{run_id}/log") == [
        f"runs/{run_id}/log/compact/0000000001.json",
        f"runs/{run_id}/log/meta.json",
    ]
    assert [m.value for m in FileBackend(store).get_metric_history(run_id, "loss")] == [0.5, 0.25]
    reader.write_batch(run_id, Batch(tags={"t": "new"}))  # an old run takes new batches
    assert FileBackend(store).get_run(run_id).tags == {"t": "new"}


def test_the_run_api_shares_the_context_of_a_process(store_dir: Path) -> None:
    autolog.configure(disable_capture=[])
    with autolog.start_run(name="one"):
        autolog.log_param("a", 1)
    with autolog.start_run(name="two"):
        autolog.log_param("a", 2)
    autolog.flush()
    runs = autolog.search_runs(order_by=["name"])
    assert [r.name for r in runs] == ["one", "two"]
    texts = [
        autolog.download_artifacts(r.id, "context/requirements.txt").read_bytes() for r in runs
    ]
    assert texts[0] == texts[1] and texts[0]
    assert len([p for p in (store_dir / "objects").rglob("*") if p.is_file()]) >= 1
    for run in runs:
        assert not (store_dir / "runs" / run.id / "artifacts" / "context").exists()


class _CountingStore(LocalObjectStore):
    """Counts the bytes read from compacts."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.read = 0

    def get(self, key: str) -> bytes:
        data = super().get(key)
        self.read += len(data) if "/compact/" in key else 0
        return data

    def get_range(self, key: str, start: int, length: int) -> bytes:
        data = super().get_range(key, start, length)
        self.read += len(data) if "/compact/" in key else 0
        return data


def test_one_metric_history_reads_only_that_metric(tmp_path: Path) -> None:
    """100 keys x 1,000 points: after compaction one key's history reads its own points."""
    backend = FileBackend(tmp_path / "store")
    run_id = uuid.uuid4().hex
    backend.create_run(RunMeta(run_id, "long", backend.local_experiment_id("long"), 1,
                               experiment_name="long"))  # fmt: skip
    keys = [f"metric_{k:03d}" for k in range(100)]
    for start in range(0, 1_000, 250):
        metrics = {k: [(i * 0.5, i, 10 + i) for i in range(start, start + 250)] for k in keys}
        backend.write_batch(run_id, Batch(metrics=metrics))
    backend.write_batch(run_id, Batch(status="FINISHED", end_time=5_000))
    backend.finish_run(run_id)
    (compact,) = backend.store.list(f"runs/{run_id}/log/compact")
    size = backend.store.size(compact)
    counting = LayoutBackend(_CountingStore(tmp_path / "store"))
    history = counting.get_metric_history(run_id, "metric_042")
    assert [m.step for m in history] == list(range(1_000)) and history[-1].value == 499.5
    assert counting.store.read < size / 20, (counting.store.read, size)  # its header and its points
    counting.store.read = 0
    run = counting.get_run(run_id)  # the summary: the header alone
    assert run.metrics["metric_099"] == 499.5 and run.status.value == "FINISHED"
    assert counting.store.read < size / 20, (counting.store.read, size)
    # Everything is still there for a full read (the next compaction reads it all).
    backend.write_batch(run_id, Batch(metrics={"metric_000": [(7.0, 1_000, 9_999)]}))
    backend.compact(run_id)
    assert len(backend.get_metric_history(run_id, "metric_000")) == 1_001
    assert len(backend.get_metric_history(run_id, "metric_001")) == 1_000


def test_an_autologged_fit_is_one_object_holding_its_small_artifacts(
    store_dir: Path, tmp_path: Path
) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    # Both fits within one writer cycle (the tests' default interval is short).
    autolog.configure(flush_interval=60.0)
    autolog.enable(integrations=["sklearn"], log_models=False)
    try:
        X = np.random.default_rng(0).normal(size=(60, 4))
        y = (X[:, 0] > 0).astype(int)
        LogisticRegression().fit(X, y)
        LogisticRegression(C=0.5).fit(X, y)
        autolog.flush()
    finally:
        autolog.disable()
    runs = autolog.search_runs(order_by=["params.C"])
    assert [r.params["C"] for r in runs] == ["0.5", "1.0"]
    for run in runs:
        # No directory of artifacts: the importances, the data fingerprint and the plot
        # data sit in run.json, the context in objects/.
        assert [p.name for p in (store_dir / "runs" / run.id).iterdir()] == ["run.json"]
        assert run.metrics["training_accuracy_score"] > 0.8
        paths = {f.path for f in autolog.list_artifacts(run.id)}
        assert {"feature_importances.json", "training_plots.json", "datasets"} <= paths
        out = autolog.download_artifacts(run.id, "", tmp_path / run.id)
        plots = json.loads((out / "training_plots.json").read_text())
        assert set(plots) >= {"confusion_matrix", "roc_curve", "precision_recall_curve"}
        assert json.loads((out / "datasets" / "train.json").read_text())["X"]["shape"] == [60, 4]
