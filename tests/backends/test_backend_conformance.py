"""The Backend conformance suite: the same tests over every backend.

Each test runs once per entry of `BACKENDS`, a function of the test's request and
tmp_path that returns the tracking URI of a fresh, empty store (S3 is a real
S3-compatible server on localhost, from the `s3_uri` fixture of tests/conftest.py; http is
a real `autolog server` process with SQLite or PostgreSQL behind it, one per module,
emptied before each test).
A new backend joins with one line there; `new_backend()` builds another backend
over the same store, as a second process would.

What is tested is the contract of `autolog.backends.base`: experiments, runs and
their batches, metric histories, search pages, artifacts, and the model
registry's storage operations (`RegistryBackend`).
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from trackingserver import ServerProcess, migrated_sqlite, wipe

from autolog._entities import RunStatus
from autolog._search import parse_orders, parse_query
from autolog.backends import backend_for_uri
from autolog.backends.base import Backend, Batch, RegistryBackend, RunMeta, StoredModel
from autolog.errors import (
    ArtifactNotFoundError,
    ExperimentNotFoundError,
    InvalidKeyError,
    InvalidValueError,
    ModelNotFoundError,
    RunNotFoundError,
)


def _http(database: str) -> Callable[[pytest.FixtureRequest, Path], str]:
    def fresh(request: pytest.FixtureRequest, tmp: Path) -> str:
        server: ServerProcess = request.getfixturevalue(f"http_{database}")
        wipe(server.store, server.artifacts)
        request.getfixturevalue("monkeypatch").setenv("AUTOLOG_SPOOL_DIR", str(tmp / "spool"))
        return server.url

    return fresh


@pytest.fixture(scope="module")
def http_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server process over SQLite, shared by the module's tests."""
    pytest.importorskip("sqlalchemy", reason="the server extra is not installed")
    root = tmp_path_factory.mktemp("server-sqlite")
    server = ServerProcess(migrated_sqlite(root / "autolog.db"), root / "artifacts").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http_postgresql(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server process over PostgreSQL, shared by the module's tests."""
    pg = request.getfixturevalue("postgres")
    store = pg.create_database(f"c_{uuid.uuid4().hex[:12]}", template="migrated")
    server = ServerProcess(store, tmp_path_factory.mktemp("server-pg") / "artifacts").start()
    yield server
    server.stop()


#: One line per backend: (request, tmp_path) -> the tracking URI of a fresh, empty store.
BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "memory": lambda request, tmp: f"memory:conformance-{uuid.uuid4().hex[:12]}",
    "file": lambda request, tmp: str(tmp / "store"),
    "s3": lambda request, tmp: str(request.getfixturevalue("s3_uri")),
    "http-sqlite": _http("sqlite"),
    "http-postgresql": _http("postgresql"),
}


@pytest.fixture(params=list(BACKENDS))
def new_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Backend]]:
    """A factory of backends over one fresh store; every backend made is closed at the end."""
    uri = BACKENDS[request.param](request, tmp_path)
    made: list[Backend] = []

    def make() -> Backend:
        made.append(backend_for_uri(uri))
        return made[-1]

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def backend(new_backend: Callable[[], Backend]) -> Backend:
    return new_backend()


@pytest.fixture
def registry(backend: Backend) -> RegistryBackend:
    assert isinstance(backend, RegistryBackend), f"{type(backend).__name__} has no registry"
    return backend


def start(backend: Backend, name: str = "r", start_time: int = 1_000, **kw: Any) -> str:
    """Create a run in experiment 'conformance'; return its id."""
    exp = backend.get_or_create_experiment(kw.pop("experiment", "conformance"))
    run_id = uuid.uuid4().hex
    backend.create_run(RunMeta(run_id, name, exp.id, start_time, kw.get("parent_id"), exp.name))
    return run_id


def pts(*values: float, step0: int = 0, ts0: int = 1_000) -> list[tuple[float, int, int]]:
    return [(v, step0 + i, ts0 + i) for i, v in enumerate(values)]


# -- experiments and runs ----------------------------------------------------------------------


def test_experiments(new_backend: Callable[[], Backend]) -> None:
    one, two = new_backend(), new_backend()
    exp = one.get_or_create_experiment("housing")
    assert exp.name == "housing"
    assert two.get_or_create_experiment("housing") == exp  # a second creation changes nothing
    other = two.get_or_create_experiment("other")
    assert other.id != exp.id
    assert [e.name for e in one.list_experiments()] == ["housing", "other"]
    assert one.get_experiment("housing") == exp
    assert one.get_experiment(exp.id) == exp
    with pytest.raises(ExperimentNotFoundError, match="'missing'"):
        one.get_experiment("missing")


def test_batches_fold_params_first_tags_last_and_status(backend: Backend) -> None:
    run_id = start(backend, "fold", start_time=1_000)
    run = backend.get_run(run_id)
    assert (run.name, run.experiment, run.status, run.end_time) == (
        "fold",
        "conformance",
        RunStatus.RUNNING,
        None,
    )
    backend.write_batch(run_id, Batch(params={"a": "1"}, tags={"t": "x"}, metrics={"m": pts(1)}))
    backend.write_batch(run_id, Batch(params={"a": "2", "b": "3"}, tags={"t": "y", "u": "z"}))
    backend.write_batch(run_id, Batch(metrics={"m": [(9.0, 0, 5_000)], "n": pts(4, 5)}))
    backend.write_batch(run_id, Batch())  # empty: changes nothing
    run = backend.get_run(run_id)
    assert run.params == {"a": "1", "b": "3"}
    assert run.tags == {"t": "y", "u": "z"}
    # The latest value is the point with the highest step, then the highest timestamp.
    assert run.metrics == {"m": 9.0, "n": 5.0}
    assert run.status is RunStatus.RUNNING
    backend.write_batch(run_id, Batch(status="FINISHED", end_time=4_000))
    backend.finish_run(run_id)
    run = backend.get_run(run_id)
    assert (run.status, run.end_time, run.duration) == (RunStatus.FINISHED, 4_000, 3.0)
    assert run.params == {"a": "1", "b": "3"}  # unchanged by finishing


def test_get_run_of_an_unknown_id(backend: Backend) -> None:
    with pytest.raises(RunNotFoundError, match="0" * 32):
        backend.get_run("0" * 32)


def test_list_runs_by_experiment(new_backend: Callable[[], Backend]) -> None:
    one, two = new_backend(), new_backend()
    r1 = start(one, "a", experiment="housing")
    r2 = start(two, "b", experiment="other", parent_id=r1)
    housing, other = one.get_experiment("housing"), one.get_experiment("other")
    assert {r.id for r in one.list_runs()} == {r1, r2}
    assert [r.id for r in one.list_runs([housing.id])] == [r1]
    assert {r.id for r in one.list_runs([housing.id, other.id])} == {r1, r2}
    (b,) = two.list_runs([other.id])
    assert (b.experiment, b.experiment_id, b.parent_id) == ("other", other.id, r1)


def test_metric_history_is_in_step_then_timestamp_order(backend: Backend) -> None:
    run_id = start(backend)
    backend.write_batch(run_id, Batch(metrics={"loss": [(0.5, 2, 30), (0.9, 0, 10)]}))
    backend.write_batch(run_id, Batch(metrics={"loss": [(0.7, 1, 20), (0.6, 1, 25)]}))
    backend.write_batch(run_id, Batch(metrics={"acc": [(1.0, 0, 1)]}))
    history = backend.get_metric_history(run_id, "loss")
    assert [(m.key, m.value, m.step, m.timestamp) for m in history] == [
        ("loss", 0.9, 0, 10),
        ("loss", 0.7, 1, 20),
        ("loss", 0.6, 1, 25),
        ("loss", 0.5, 2, 30),
    ]
    assert backend.get_metric_history(run_id, "absent") == []


# -- search ------------------------------------------------------------------------------------


def _search_all(
    backend: Backend,
    filter: str | None,
    order_by: list[str] | None,
    page_size: int,
    experiment_ids: list[str] | None = None,
) -> list[str]:
    """Page through a search `page_size` runs at a time; return the run names in order."""
    query, orders = parse_query(filter), parse_orders(order_by)
    names: list[str] = []
    token: str | None = None
    for _ in range(100):
        page = backend.search_runs(experiment_ids, query, orders, page_size, token)
        assert len(page.runs) <= page_size
        names += [r.name for r in page.runs]
        token = page.next_page_token
        if token is None:
            return names
        assert page.runs, "an empty page must be the last"
    raise AssertionError("the search never ended")


@pytest.fixture
def searched(backend: Backend) -> Backend:
    """Seven runs in two experiments, with metrics, params, tags and statuses to search."""
    runs = [
        ("a", 1_000, 0.30, "0.5", "tree", "FINISHED", "housing"),
        ("b", 2_000, 0.70, "0.05", "linear", "FINISHED", "housing"),
        ("c", 3_000, None, "abc", "tree", "FAILED", "housing"),
        ("d", 4_000, 0.10, "10", None, "FINISHED", "churn"),
        ("e", 5_000, 0.50, None, "Tree", "RUNNING", "churn"),
        ("f", 6_000, 0.50, "9", "forest", "FINISHED", "churn"),
        ("g", 7_000, float("nan"), "1", "tree", "KILLED", "housing"),
    ]
    for name, t, rmse, alpha, model, status, exp in runs:
        run_id = start(backend, name, start_time=t, experiment=exp)
        batch = Batch(metrics={"rmse": [(rmse, 0, t)]} if rmse is not None else {})
        batch.params = {"alpha": alpha} if alpha is not None else {}
        batch.tags = {"model": model} if model is not None else {}
        if status != "RUNNING":
            batch.status, batch.end_time = status, t + 500
        backend.write_batch(run_id, batch)
    return backend


# (filter, order_by, the names of the runs found, in order). One test runs them all, as
# writing the runs costs about a second on S3.
SEARCHES: list[tuple[str | None, list[str] | None, list[str]]] = [
    (None, None, ["g", "f", "e", "d", "c", "b", "a"]),
    (None, ["start_time ASC"], ["a", "b", "c", "d", "e", "f", "g"]),
    ("metrics.rmse < 0.5", ["metrics.rmse"], ["d", "a"]),
    # Missing values and NaN sort last in either direction; ties fall back to start_time.
    (None, ["metrics.rmse DESC"], ["b", "f", "e", "a", "d", "g", "c"]),
    ("metrics.rmse IS NULL", None, ["c"]),
    ("params.alpha > 1", None, ["f", "d", "c"]),  # numbers as numbers, "abc" as text
    # Not every alpha is a number, so alphas sort as text: "10" before "9".
    (None, ["params.alpha"], ["b", "a", "g", "d", "f", "c", "e"]),
    ("tags.model LIKE 'tree'", None, ["g", "c", "a"]),
    ("tags.model ILIKE 'TREE'", None, ["g", "e", "c", "a"]),
    ("tags.model != 'tree'", ["name"], ["b", "e", "f"]),  # a missing tag matches no !=
    ("tags.model NOT IN ('tree', 'forest')", None, ["e", "b"]),
    ("status = 'finished' and metrics.rmse >= 0.3", None, ["f", "b", "a"]),
    ("status IN ('FAILED', 'KILLED')", None, ["g", "c"]),
    (
        "attributes.duration > 0 and name LIKE '_'",
        ["end_time DESC"],
        ["g", "f", "d", "c", "b", "a"],
    ),
    ("end_time IS NULL", None, ["e"]),
    ("experiment = 'churn'", None, ["f", "e", "d"]),
    ("metrics.rmse > 100", None, []),
]


def test_search_filters_and_orders(searched: Backend) -> None:
    for filter, order_by, expected in SEARCHES:
        found = _search_all(searched, filter, order_by, 100)
        assert found == expected, f"filter {filter!r}, order_by {order_by!r}"


def test_search_pages_lose_and_repeat_no_run(searched: Backend) -> None:
    for filter, order_by in [
        (None, ["metrics.rmse"]),
        ("status = 'FINISHED'", ["params.alpha DESC"]),
    ]:
        whole = _search_all(searched, filter, order_by, 100)
        assert len(whole) == (7 if filter is None else 4)
        for page_size in (1, 3, 7, 8):
            paged = _search_all(searched, filter, order_by, page_size)
            assert paged == whole, f"pages of {page_size}, filter {filter!r}"


def test_search_pages_by_experiment(searched: Backend) -> None:
    churn = searched.get_experiment("churn").id
    housing = searched.get_experiment("housing").id
    assert _search_all(searched, None, ["name"], 2, [churn]) == ["d", "e", "f"]
    assert _search_all(searched, None, ["name"], 2, [churn, housing]) == list("abcdefg")


def test_the_last_page_has_no_token(searched: Backend) -> None:
    query, orders = parse_query(None), parse_orders(None)
    page = searched.search_runs(None, query, orders, 7)
    assert len(page.runs) == 7
    assert page.next_page_token is None
    first = searched.search_runs(None, query, orders, 4)
    assert first.next_page_token is not None
    rest = searched.search_runs(None, query, orders, 4, first.next_page_token)
    assert [r.id for r in first.runs + rest.runs] == [r.id for r in page.runs]
    assert rest.next_page_token is None


@pytest.mark.parametrize("token", ["garbage", "e30", "☃"])
def test_a_bad_page_token_names_itself_and_the_fix(backend: Backend, token: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        backend.search_runs(None, parse_query(None), parse_orders(None), 10, token)
    assert repr(token) in str(info.value)
    assert "next_page_token" in str(info.value)


def test_search_of_an_empty_store(backend: Backend) -> None:
    page = backend.search_runs(None, parse_query("metrics.m > 0"), parse_orders(None), 10)
    assert (page.runs, page.next_page_token) == ([], None)


# -- artifacts ---------------------------------------------------------------------------------


def test_artifacts_put_list_download_and_read(backend: Backend, tmp_path: Path) -> None:
    run_id = start(backend)
    backend.put_artifact(run_id, "model/model.pkl", b"model")
    backend.put_artifact(run_id, "model/meta/MLmodel", b"flavors: {}")
    backend.put_artifact(run_id, "notes.txt", b"n")
    local = tmp_path / "local.bin"
    local.write_bytes(bytes(range(256)))
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
    assert backend.list_artifacts(run_id, "data/local.bin")[0].size == 256
    dst = tmp_path / "dl"
    assert backend.download_artifacts(run_id, "notes.txt", dst) == dst / "notes.txt"
    assert (dst / "notes.txt").read_bytes() == b"n"
    folder = backend.download_artifacts(run_id, "model", dst)
    assert folder == dst / "model"
    assert (folder / "meta" / "MLmodel").read_bytes() == b"flavors: {}"
    assert (folder / "model.pkl").read_bytes() == b"model"
    everything = backend.download_artifacts(run_id, "", tmp_path / "all")
    files = sorted(p.relative_to(everything).as_posix() for p in everything.rglob("*"))
    assert [f for f in files if (everything / f).is_file()] == [
        "data/local.bin",
        "model/meta/MLmodel",
        "model/model.pkl",
        "notes.txt",
    ]
    assert backend.read_artifact(run_id, "data/local.bin") == bytes(range(256))
    assert backend.read_artifact(run_id, "model/meta/MLmodel") == b"flavors: {}"
    with pytest.raises(ArtifactNotFoundError, match=r"'missing\.txt'"):
        backend.download_artifacts(run_id, "missing.txt", dst)
    with pytest.raises(ArtifactNotFoundError, match=r"'model/missing'"):
        backend.read_artifact(run_id, "model/missing")


def test_a_run_without_artifacts(backend: Backend, tmp_path: Path) -> None:
    run_id = start(backend)
    assert backend.list_artifacts(run_id) == []
    assert backend.download_artifacts(run_id, "", tmp_path / "empty").is_dir()
    with pytest.raises(RunNotFoundError):
        backend.list_artifacts("0" * 32)


# -- the registry's operations -----------------------------------------------------------------


def _meta(name: str) -> dict[str, Any]:
    return {"name": name, "created_at": 1, "created_ns": 1_000_000, "creator": "ann"}


def _record(backend: Any, **extra: Any) -> dict[str, Any]:
    """A version record as autolog's registry writes one: the model of a run of the store.

    A server stores versions of its own runs only, so the run is created first.
    """
    run_id = start(backend)
    return {"run_id": run_id, "artifact_path": "model", "source": f"runs:/{run_id}/model",
            "created_at": 1, "created_ns": 1_000_000, **extra}  # fmt: skip


def _event(event_id: str, kind: str, **extra: Any) -> dict[str, Any]:
    """A model event as autolog's registry writes one."""
    return {"id": event_id, "type": kind, "ns": 1_000_000, "time": 1, **extra}


def test_registered_models_are_created_once(registry: RegistryBackend) -> None:
    assert registry.read_registered_model("churn") is None
    assert registry.create_registered_model("churn", _meta("churn"))
    assert not registry.create_registered_model("churn", {**_meta("churn"), "creator": "bob"})
    stored = registry.read_registered_model("churn")
    assert stored == StoredModel(_meta("churn"), [], [])
    assert registry.read_registered_model("Churn") is None  # names are exact


def test_versions_take_the_next_free_number(registry: RegistryBackend) -> None:
    with pytest.raises(ModelNotFoundError, match="'churn'"):
        registry.create_model_version("churn", _record(registry))
    registry.create_registered_model("churn", _meta("churn"))
    first, second = _record(registry, n=1.5), _record(registry)
    assert registry.create_model_version("churn", first) == 1
    assert registry.create_model_version("churn", second) == 2
    stored = registry.read_registered_model("churn")
    assert stored is not None
    assert stored.versions == [{**first, "version": 1}, {**second, "version": 2}]


def test_events_are_appended_once_and_read_in_id_order(registry: RegistryBackend) -> None:
    registry.create_registered_model("churn", _meta("churn"))
    second = _event("00000000000000000002-bbbbbbbbbbbb", "alias_set", to=1)
    first = _event("00000000000000000001-aaaaaaaaaaaa", "model_tag_set", key="k")
    assert registry.append_model_event("churn", second)
    assert registry.append_model_event("churn", first)
    assert not registry.append_model_event("churn", {**first, "type": "other"})
    stored = registry.read_registered_model("churn")
    assert stored is not None
    assert stored.events == [first, second]
    with pytest.raises(InvalidKeyError, match="event id"):
        registry.append_model_event("churn", _event("../x", "alias_set"))


def test_list_registered_models(new_backend: Callable[[], Backend]) -> None:
    one, two = new_backend(), new_backend()
    assert isinstance(one, RegistryBackend) and isinstance(two, RegistryBackend)
    assert one.list_registered_models() == []
    names = ["churn", "Churn", "münchen model", "x" * 200]
    for name in names:
        one.create_registered_model(name, _meta(name))
    record = _record(one)
    one.create_model_version("churn", record)
    listed = {m.meta["name"]: m for m in two.list_registered_models()}
    assert sorted(listed) == sorted(names)
    assert listed["churn"].versions == [{**record, "version": 1}]
    assert listed["Churn"].versions == []


def test_concurrent_versions_get_distinct_numbers(new_backend: Callable[[], Backend]) -> None:
    """Threads, each with its own backend (as processes would be), never share a number."""
    writers = [new_backend() for _ in range(6)]
    assert all(isinstance(w, RegistryBackend) for w in writers)
    registries = [w for w in writers if isinstance(w, RegistryBackend)]
    registries[0].create_registered_model("churn", _meta("churn"))
    records = [
        _record(registries[0], by=f"{i}-{k}") for i in range(len(registries)) for k in range(3)
    ]
    barrier = threading.Barrier(len(registries))
    numbers: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def register(index: int) -> None:
        try:
            barrier.wait()
            for k in range(3):
                n = registries[index].create_model_version("churn", records[index * 3 + k])
                with lock:
                    numbers.append(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(len(registries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 3 * len(registries) + 1))
    stored = registries[0].read_registered_model("churn")
    assert stored is not None
    assert [v["version"] for v in stored.versions] == sorted(numbers)
    assert len({v["by"] for v in stored.versions}) == len(numbers)


def test_registry_documents_keep_non_finite_numbers(registry: RegistryBackend) -> None:
    """A version's record holds its run's metrics, NaN and infinities included."""
    registry.create_registered_model("churn", {**_meta("churn"), "score": float("-inf")})
    record = _record(registry, metrics={"nan": float("nan"), "inf": float("inf")})
    assert registry.create_model_version("churn", record) == 1
    registry.append_model_event("churn", _event("e1", "x", value=float("nan")))
    stored = registry.read_registered_model("churn")
    assert stored is not None
    metrics = stored.versions[0]["metrics"]
    assert math.isnan(metrics["nan"]) and metrics["inf"] == float("inf")
    assert stored.meta["score"] == float("-inf") and math.isnan(stored.events[0]["value"])
    (listed,) = registry.list_registered_models()
    assert math.isnan(listed.versions[0]["metrics"]["nan"])
