"""Tests of the immutable-object layout over the memory and the local-directory stores."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from autolog._entities import RunStatus
from autolog._search import parse_orders, parse_query
from autolog.backends._layout import LayoutBackend, experiment_id_for
from autolog.backends._objects import ObjectNotFound, ObjectStore
from autolog.backends.base import Batch, RunMeta
from autolog.backends.file import LocalObjectStore
from autolog.backends.memory import MemoryObjectStore
from autolog.errors import (
    ArtifactNotFoundError,
    ExperimentNotFoundError,
    InvalidKeyError,
    InvalidValueError,
    RunNotFoundError,
)

EXP = experiment_id_for("Default")
ESCAPES = [
    "../x",
    "../../x",
    "a/../../x",
    "a/b/../../../x",
    "/etc/passwd",
    "/tmp/x",
    "C:/x",
    "c:\\x",
    "nul\x00",
    "a/\x00/b",
    "back\\slash",
    "..\\..\\x",
    "%2e%2e/x",
    "%2E%2E/%2e%2e/x",
    "a%2f..%2f..%2fx",
    "..%2fx",
    "%5c..%5cx",
    "x%00",
]


def make_store(kind: str, root: Path) -> ObjectStore:
    """A fresh store of `kind`: each call over the same root sees the same objects."""
    if kind == "memory":
        return _shared_memory.setdefault(root, MemoryObjectStore(str(root)))
    return LocalObjectStore(root)


_shared_memory: dict[Path, MemoryObjectStore] = {}


@pytest.fixture(params=["memory", "file"])
def new_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], LayoutBackend]]:
    """A factory of backends over one store, as separate processes would have."""
    root = tmp_path / "store"
    yield lambda: LayoutBackend(make_store(request.param, root))
    _shared_memory.pop(root, None)


@pytest.fixture
def backend(new_backend: Callable[[], LayoutBackend]) -> LayoutBackend:
    return new_backend()


def new_run(backend: LayoutBackend, **kw: str | None) -> str:
    run_id = uuid.uuid4().hex
    backend.create_run(RunMeta(run_id, "r", EXP, 1_000, kw.get("parent_id")))
    return run_id


def points(n: int, start: int = 0) -> list[tuple[float, int, int]]:
    return [(float(i), i, 1_000 + i) for i in range(start, start + n)]


def test_fold_params_first_tags_last_metrics_all(backend: LayoutBackend) -> None:
    run_id = new_run(backend)
    backend.write_batch(run_id, Batch(params={"a": "1"}, tags={"t": "x"}, metrics={"m": points(2)}))
    backend.write_batch(run_id, Batch(params={"a": "2", "b": "3"}, tags={"t": "y"}))
    backend.write_batch(run_id, Batch(metrics={"m": [(9.0, 0, 5_000)], "n": [(1.0, 0, 1)]}))
    backend.write_batch(run_id, Batch())  # empty: writes nothing
    run = backend.get_run(run_id)
    assert run.params == {"a": "1", "b": "3"}
    assert run.tags == {"t": "y"}
    # Latest value: highest step, then highest timestamp.
    assert run.metrics == {"m": 1.0, "n": 1.0}
    assert run.status is RunStatus.RUNNING
    assert run.end_time is None
    history = backend.get_metric_history(run_id, "m")
    assert [(m.value, m.step, m.timestamp) for m in history] == [
        (0.0, 0, 1_000),
        (9.0, 0, 5_000),
        (1.0, 1, 1_001),
    ]
    assert backend.get_metric_history(run_id, "absent") == []
    backend.write_batch(run_id, Batch(status="FAILED", end_time=2_000))
    run = backend.get_run(run_id)
    assert run.status is RunStatus.FAILED
    assert run.end_time == 2_000


def test_compaction_folds_batches_into_one_object(backend: LayoutBackend) -> None:
    run_id = new_run(backend)
    for i in range(5):
        backend.write_batch(run_id, Batch(tags={"i": str(i)}, metrics={"m": points(10, i * 10)}))
    before = backend.get_run(run_id)
    backend.compact(run_id)
    keys = backend.store.list(f"runs/{run_id}")
    assert keys == [f"runs/{run_id}/log/compact/0000000001.json", f"runs/{run_id}/run.json"]
    assert backend.get_run(run_id) == before
    assert len(backend.get_metric_history(run_id, "m")) == 50
    # Later batches fold on top of the compact; a second compaction replaces the first.
    backend.write_batch(run_id, Batch(tags={"i": "last"}, metrics={"m": points(5, 50)}))
    assert backend.get_run(run_id).tags == {"i": "last"}
    backend.finish_run(run_id)
    keys = backend.store.list(f"runs/{run_id}")
    assert keys == [f"runs/{run_id}/log/compact/0000000002.json", f"runs/{run_id}/run.json"]
    assert [m.step for m in backend.get_metric_history(run_id, "m")] == list(range(55))
    backend.compact(run_id)  # nothing new: nothing written
    assert len(backend.store.list(f"runs/{run_id}/log/compact")) == 1


def test_a_run_with_one_batch_is_left_as_it_is(backend: LayoutBackend) -> None:
    run_id = new_run(backend)
    backend.write_batch(
        run_id,
        Batch(params={"a": "1"}, metrics={"m": points(3)}, status="FINISHED", end_time=5),
    )
    # The first batch joins the run's creation object: a short run is one object.
    assert backend.store.list(f"runs/{run_id}") == [f"runs/{run_id}/run.json"]
    backend.finish_run(run_id)  # nothing to fold: no compact
    assert backend.store.list(f"runs/{run_id}") == [f"runs/{run_id}/run.json"]
    run = backend.get_run(run_id)
    assert (run.params, run.metrics, run.status, run.end_time) == (
        {"a": "1"},
        {"m": 2.0},
        RunStatus.FINISHED,
        5,
    )
    assert [m.step for m in backend.get_metric_history(run_id, "m")] == [0, 1, 2]
    # A second batch makes it worth folding; a compact and one batch after it too.
    backend.write_batch(run_id, Batch(tags={"t": "x"}, metrics={"m": points(1, 3)}))
    backend.compact(run_id)
    assert [k for k in backend.store.list(f"runs/{run_id}/log") if "/batches/" in k] == []
    backend.write_batch(run_id, Batch(metrics={"m": points(1, 4)}))
    backend.compact(run_id)
    assert backend.store.list(f"runs/{run_id}/log/compact") == [
        f"runs/{run_id}/log/compact/0000000002.json"
    ]
    assert [m.step for m in backend.get_metric_history(run_id, "m")] == [0, 1, 2, 3, 4]
    assert backend.get_run(run_id).tags == {"t": "x"}
    with pytest.raises(RunNotFoundError):
        backend.compact(uuid.uuid4().hex)  # still an error for a run that is not there


class _CountingStore(MemoryObjectStore):
    def __init__(self) -> None:
        super().__init__(uuid.uuid4().hex)
        self.creates: list[str] = []

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self.creates.append(key)
        return super().put_if_absent(key, data)


def test_a_runs_creation_creates_its_experiment_once() -> None:
    store = _CountingStore()
    backend = LayoutBackend(store)
    exp_id = backend.local_experiment_id("housing")
    assert exp_id == experiment_id_for("housing") and store.creates == []
    runs = [uuid.uuid4().hex for _ in range(3)]
    for run_id in runs:
        backend.create_run(RunMeta(run_id, "r", exp_id, 1, experiment_name="housing"))
    assert store.creates == [f"experiments/{exp_id}/meta.json"]
    assert [e.name for e in backend.list_experiments()] == ["housing"]
    assert {r.id for r in backend.list_runs([exp_id])} == set(runs)
    assert backend.get_run(runs[0]).experiment == "housing"
    # Another process's backend creates it again (create-if-absent: a no-op) and reads it.
    other = LayoutBackend(store)
    other.create_run(RunMeta(uuid.uuid4().hex, "r", exp_id, 2, experiment_name="housing"))
    assert store.creates == [f"experiments/{exp_id}/meta.json"] * 2
    assert other.get_experiment("housing").id == exp_id
    # One created or found by get_or_create_experiment is not created again.
    backend.get_or_create_experiment("other")
    backend.create_run(
        RunMeta(uuid.uuid4().hex, "r", experiment_id_for("other"), 3, experiment_name="other")
    )
    assert len(store.creates) == 3


def test_concurrent_writers_and_compactors_lose_and_duplicate_nothing(
    new_backend: Callable[[], LayoutBackend],
) -> None:
    run_id = new_run(new_backend())
    writers, batches, per_batch = 4, 30, 10
    errors: list[BaseException] = []

    def work(w: int) -> None:
        backend = new_backend()  # its own writer id, as another process would have
        try:
            for b in range(batches):
                start = (w * batches + b) * per_batch
                backend.write_batch(run_id, Batch(metrics={"m": points(per_batch, start)}))
                if b % 3 == w % 3:
                    backend.compact(run_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    reader = new_backend()
    steps = [m.step for m in reader.get_metric_history(run_id, "m")]
    assert steps == list(range(writers * batches * per_batch))
    reader.compact(run_id)
    assert [m.step for m in reader.get_metric_history(run_id, "m")] == steps
    assert reader.store.list(f"runs/{run_id}/log/batches") == []
    assert len(reader.store.list(f"runs/{run_id}/log/compact")) == 1


def test_reader_racing_a_compactor_sees_a_growing_consistent_history(
    new_backend: Callable[[], LayoutBackend],
) -> None:
    run_id = new_run(new_backend())
    total_batches, per_batch = 60, 5
    done = threading.Event()
    reading = threading.Event()
    errors: list[BaseException] = []
    seen_counts: list[int] = []

    def write_and_compact() -> None:
        backend = new_backend()
        try:
            assert reading.wait(10)
            for b in range(total_batches):
                backend.write_batch(run_id, Batch(metrics={"m": points(per_batch, b * per_batch)}))
                if b % 2:
                    backend.compact(run_id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def read() -> None:
        backend = new_backend()
        try:
            while not done.is_set():
                steps = [m.step for m in backend.get_metric_history(run_id, "m")]
                # Whole batches in write order: a prefix of what was written, no repeats.
                assert steps == list(range(len(steps)))
                assert len(steps) % per_batch == 0
                seen_counts.append(len(steps))
                reading.set()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write_and_compact)] + [
        threading.Thread(target=read) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert seen_counts
    final = [m.step for m in new_backend().get_metric_history(run_id, "m")]
    assert final == list(range(total_batches * per_batch))


class _SplitListingStore(MemoryObjectStore):
    """A store whose listing of a run's log is not atomic: it lists the compacts, lets
    `between` run once, then lists the batches (as a directory walk or a paged bucket
    listing may)."""

    def __init__(self) -> None:
        super().__init__("split")
        self.between: Callable[[], None] | None = None

    def list(self, prefix: str) -> list[str]:
        if not prefix.endswith("/log/") or self.between is None:
            return super().list(prefix)
        hook, self.between = self.between, None
        first = [k for k in super().list(prefix) if "/batches/" not in k]
        hook()
        rest = [k for k in super().list(prefix) if "/batches/" in k]
        return sorted(first + rest)


def test_a_read_over_a_non_atomic_listing_is_still_consistent() -> None:
    store = _SplitListingStore()
    reader, compactor = LayoutBackend(store), LayoutBackend(store)
    run_id = new_run(reader)
    reader.write_batch(run_id, Batch(metrics={"m": points(3)}))
    # Between the two halves of the listing, a compaction folds in and deletes the batch.
    store.between = lambda: compactor.compact(run_id)
    assert [m.step for m in reader.get_metric_history(run_id, "m")] == list(range(3))
    reader.write_batch(run_id, Batch(metrics={"m": points(3, 3)}))
    store.between = lambda: compactor.compact(run_id)
    assert [m.step for m in reader.get_metric_history(run_id, "m")] == list(range(6))
    store.between = lambda: compactor.compact(run_id)
    reader.write_batch(run_id, Batch(metrics={"m": points(3, 6)}))
    store.between = lambda: compactor.compact(run_id)
    reader.compact(run_id)
    assert [m.step for m in reader.get_metric_history(run_id, "m")] == list(range(9))


class _GatedStore(MemoryObjectStore):
    """A store in which one compactor's create-if-absent waits until it is let go."""

    def __init__(self) -> None:
        super().__init__("gated")
        self.gate: threading.Event | None = None
        self.at_gate = threading.Event()

    def put_if_absent(self, key: str, data: bytes) -> bool:
        if self.gate is not None and threading.current_thread().name == "stale":
            self.at_gate.set()
            self.gate.wait(10)
        return super().put_if_absent(key, data)


def test_a_stale_compactor_leaves_no_stray_compact() -> None:
    store = _GatedStore()
    backend = LayoutBackend(store)
    run_id = new_run(backend)
    # Two batches: a run with one batch and no compact has nothing to fold.
    backend.write_batch(run_id, Batch(metrics={"m": points(2)}))
    backend.write_batch(run_id, Batch(metrics={"m": points(1, 2)}))
    store.gate = threading.Event()
    stale = threading.Thread(target=backend.compact, args=(run_id,), name="stale")
    stale.start()
    assert store.at_gate.wait(10)
    # While it waits with compact 1 in mind, others write compact 1 and compact 2 (which
    # deletes compact 1, so the stale create-if-absent of compact 1 succeeds).
    backend.compact(run_id)
    backend.write_batch(run_id, Batch(metrics={"m": points(3, 3)}))
    backend.compact(run_id)
    store.gate.set()
    stale.join()
    compacts = store.list(f"runs/{run_id}/log/compact")
    assert compacts == [f"runs/{run_id}/log/compact/0000000002.json"]
    assert [m.step for m in backend.get_metric_history(run_id, "m")] == list(range(6))


def test_runs_and_experiments(new_backend: Callable[[], LayoutBackend]) -> None:
    one, two = new_backend(), new_backend()
    exp = one.get_or_create_experiment("housing")
    assert exp.id == experiment_id_for("housing")
    assert two.get_or_create_experiment("housing") == exp  # a second creation changes nothing
    other = two.get_or_create_experiment("other")
    assert [e.name for e in one.list_experiments()] == ["housing", "other"]
    assert one.get_experiment("housing") == exp
    assert one.get_experiment(exp.id) == exp
    with pytest.raises(ExperimentNotFoundError, match=r"'missing'.*'housing'"):
        one.get_experiment("missing")
    with pytest.raises(ExperimentNotFoundError):
        one.get_experiment("0" * 16)
    r1 = uuid.uuid4().hex
    r2 = uuid.uuid4().hex
    one.create_run(RunMeta(r1, "a", exp.id, 1))
    two.create_run(RunMeta(r2, "b", other.id, 2, parent_id=r1))
    assert {r.id for r in one.list_runs()} == {r1, r2}
    assert [r.id for r in one.list_runs([exp.id])] == [r1]
    assert [r.experiment for r in one.list_runs([other.id])] == ["other"]
    assert one.get_run(r2).parent_id == r1
    with pytest.raises(RunNotFoundError, match="0" * 32):
        one.get_run("0" * 32)


def test_artifacts_list_and_download(backend: LayoutBackend, tmp_path: Path) -> None:
    run_id = new_run(backend)
    backend.put_artifact(run_id, "model/model.pkl", b"model")
    backend.put_artifact(run_id, "model/meta/MLmodel", b"flavors: {}")
    backend.put_artifact(run_id, "./notes.txt", b"n")
    local = tmp_path / "local.bin"
    local.write_bytes(b"12345")
    backend.put_artifact_file(run_id, "data/local.bin", local)
    assert [(f.path, f.is_dir, f.size) for f in backend.list_artifacts(run_id)] == [
        ("data", True, None),
        ("model", True, None),
        ("notes.txt", False, 1),
    ]
    assert [(f.path, f.is_dir) for f in backend.list_artifacts(run_id, "model")] == [
        ("model/meta", True),
        ("model/model.pkl", False),
    ]
    assert [f.path for f in backend.list_artifacts(run_id, "model/meta/")] == ["model/meta/MLmodel"]
    assert backend.list_artifacts(run_id, "model/model.pkl")[0].size == 5
    assert backend.list_artifacts(run_id, "nothing/here") == []
    dst = tmp_path / "dl"
    assert backend.download_artifacts(run_id, "notes.txt", dst).read_bytes() == b"n"
    folder = backend.download_artifacts(run_id, "model", dst)
    assert folder == dst / "model"
    assert (folder / "meta" / "MLmodel").read_bytes() == b"flavors: {}"
    everything = backend.download_artifacts(run_id, "", tmp_path / "all")
    assert sorted(
        p.relative_to(everything).as_posix() for p in everything.rglob("*") if p.is_file()
    ) == [
        "data/local.bin",
        "model/meta/MLmodel",
        "model/model.pkl",
        "notes.txt",
    ]
    with pytest.raises(ArtifactNotFoundError, match=r"'missing\.txt'"):
        backend.download_artifacts(run_id, "missing.txt", dst)
    empty = new_run(backend)
    assert backend.list_artifacts(empty) == []
    assert backend.download_artifacts(empty, "", tmp_path / "empty").is_dir()
    with pytest.raises(RunNotFoundError):
        backend.list_artifacts("0" * 32)


def _tree(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*")}


@pytest.mark.parametrize("bad", ESCAPES)
def test_no_artifact_path_escapes_the_store(
    backend: LayoutBackend, tmp_path: Path, bad: str
) -> None:
    run_id = new_run(backend)
    local = tmp_path / "local.txt"
    local.write_text("x")
    before = _tree(tmp_path)
    for attempt in (
        lambda: backend.put_artifact(run_id, bad, b"x"),
        lambda: backend.put_artifact_file(run_id, bad, local),
        lambda: backend.list_artifacts(run_id, bad),
        lambda: backend.download_artifacts(run_id, bad, tmp_path / "dl"),
    ):
        with pytest.raises(InvalidKeyError) as info:
            attempt()
        assert repr(bad) in str(info.value)
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("bad", ["../x", "a/b", "..", ".", "", "a\x00", "a\\b", "%2e%2e", "x\n"])
def test_no_run_id_escapes_the_store(backend: LayoutBackend, tmp_path: Path, bad: str) -> None:
    before = _tree(tmp_path)
    for attempt in (
        lambda: backend.create_run(RunMeta(bad, "n", EXP, 1)),
        lambda: backend.write_batch(bad, Batch(tags={"a": "b"})),
        lambda: backend.get_run(bad),
        lambda: backend.get_metric_history(bad, "m"),
        lambda: backend.compact(bad),
        lambda: backend.put_artifact(bad, "a.txt", b"x"),
        lambda: backend.list_artifacts(bad),
        lambda: backend.download_artifacts(bad, "", tmp_path / "dl"),
    ):
        with pytest.raises(InvalidKeyError):
            attempt()
    with pytest.raises(InvalidKeyError):
        backend.create_run(RunMeta(uuid.uuid4().hex, "n", bad, 1))
    assert _tree(tmp_path) == before


@pytest.mark.parametrize(
    "key", ["../x", "a/../../x", "/etc/passwd", "", "a//b", "a/./b", "a\x00", "a\\..\\b", "a/"]
)
def test_local_store_refuses_keys_that_leave_its_root(tmp_path: Path, key: str) -> None:
    store = LocalObjectStore(tmp_path / "root")
    before = _tree(tmp_path)
    for attempt in (
        lambda: store.put(key, b"x"),
        lambda: store.put_if_absent(key, b"x"),
        lambda: store.get(key),
        lambda: store.delete(key),
        lambda: store.put_file(key, tmp_path / "nope"),
    ):
        with pytest.raises(InvalidKeyError):
            attempt()
    assert _tree(tmp_path) == before


def test_local_store_objects_are_atomic_and_create_if_absent_is_exclusive(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "root")
    store.put("a/b.json", b"1")
    store.put("a/b.json", b"2")
    assert store.get("a/b.json") == b"2"
    assert store.put_if_absent("a/c.json", b"first")
    assert not store.put_if_absent("a/c.json", b"second")
    assert store.get("a/c.json") == b"first"
    assert store.list("a") == ["a/b.json", "a/c.json"]
    assert store.list("missing") == []
    # A temporary file left by a crash mid-write is never listed.
    (tmp_path / "root" / "a" / ".d.json.0123.autolog-tmp").write_bytes(b"partial")
    assert store.list("a") == ["a/b.json", "a/c.json"]
    store.delete("a/b.json")
    store.delete("a/b.json")
    with pytest.raises(ObjectNotFound):
        store.get("a/b.json")
    assert not store.exists("a/b.json")
    assert store.uri == f"file://{(tmp_path / 'root').resolve()}"


def test_many_threads_creating_one_compact_only_one_wins(tmp_path: Path) -> None:
    stores = [LocalObjectStore(tmp_path / "root") for _ in range(8)]
    results: list[bool] = []
    barrier = threading.Barrier(len(stores))

    def create(store: LocalObjectStore, i: int) -> None:
        barrier.wait()
        results.append(store.put_if_absent("k/compact.json", str(i).encode()))

    threads = [threading.Thread(target=create, args=(s, i)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert stores[0].list("k") == ["k/compact.json"]


# -- search pages ------------------------------------------------------------------------------


def _run_at(backend: LayoutBackend, start_time: int, rmse: float) -> str:
    run_id = uuid.uuid4().hex
    backend.create_run(RunMeta(run_id, f"r{start_time}", EXP, start_time))
    backend.write_batch(run_id, Batch(metrics={"rmse": [(rmse, 0, start_time)]}))
    return run_id


def test_a_page_resumes_after_its_last_run_when_runs_arrive_between_pages(
    backend: LayoutBackend,
) -> None:
    """A run written between pages shifts the offsets; the token still resumes after its run."""
    for i in range(6):
        _run_at(backend, 1_000 + i, float(i))
    query, orders = parse_query("metrics.rmse >= 0"), parse_orders("metrics.rmse")
    first = backend.search_runs(None, query, orders, 3)
    assert [r.metrics["rmse"] for r in first.runs] == [0.0, 1.0, 2.0]
    _run_at(backend, 2_000, -1.0)  # sorts first, before the page already read
    second = backend.search_runs(None, query, orders, 3, first.next_page_token)
    assert [r.metrics["rmse"] for r in second.runs] == [3.0, 4.0, 5.0]
    assert second.next_page_token is None


@pytest.mark.parametrize("token", ["", "garbage", "e30", "eyJvIjotMSwibCI6IngiLCJzIjoiIn0", "☃"])
def test_a_bad_page_token_is_refused_with_the_fix(backend: LayoutBackend, token: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        backend.search_runs(None, parse_query(None), parse_orders(None), 10, token)
    message = str(info.value)
    assert repr(token) in message
    assert "next_page_token of the previous page" in message


def test_a_page_token_of_another_search_is_refused(backend: LayoutBackend) -> None:
    for i in range(3):
        _run_at(backend, 1_000 + i, float(i))
    page = backend.search_runs(None, parse_query(None), parse_orders(None), 1)
    assert page.next_page_token is not None
    with pytest.raises(InvalidValueError, match="belongs to another search"):
        backend.search_runs(None, parse_query(None), parse_orders("name"), 1, page.next_page_token)
    with pytest.raises(InvalidValueError, match="belongs to another search"):
        backend.search_runs([EXP], parse_query(None), parse_orders(None), 1, page.next_page_token)


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, None])
def test_search_runs_refuses_a_bad_max_results(backend: LayoutBackend, bad: object) -> None:
    with pytest.raises(InvalidValueError, match=f"max_results={bad!r}"):
        backend.search_runs(None, parse_query(None), parse_orders(None), bad)  # type: ignore[arg-type]
