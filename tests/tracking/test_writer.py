"""Tests of the background writer over a real layout on small fault-injecting stores."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autolog._tracking.writer import (
    ARTIFACT,
    ARTIFACT_FILE,
    CALL,
    CREATE,
    METRIC,
    PARAM,
    STATUS,
    TAG,
    Writer,
)
from autolog.backends._layout import LayoutBackend, experiment_id_for
from autolog.backends.base import Batch, RunMeta
from autolog.backends.memory import MemoryObjectStore
from autolog.errors import StoreError

EXP = experiment_id_for("Default")


class CountingStore(MemoryObjectStore):
    """A memory store that records the key of every put."""

    def __init__(self) -> None:
        super().__init__(uuid.uuid4().hex)
        self.puts: list[str] = []

    def put(self, key: str, data: bytes) -> None:
        super().put(key, data)
        # A run's first batch joins its creation object, `run.json`: count that write too.
        first_batch = key.endswith("/run.json") and b'"batch"' in data
        self.puts.append(f"{key}#batch" if first_batch else key)

    def batch_puts(self, run_id: str) -> list[str]:
        return [
            k
            for k in self.puts
            if k.startswith(f"runs/{run_id}/log/batches/") or k == f"runs/{run_id}/run.json#batch"
        ]


class FlakyStore(CountingStore):
    """Raises StoreError for the first `fail_first` puts, or for every put while `down`.

    With `write_then_fail`, a failing put stores the object before raising, as a
    network store whose reply times out after it kept the write would.
    """

    def __init__(self, fail_first: int = 0, *, write_then_fail: bool = False) -> None:
        super().__init__()
        self.fail_first = fail_first
        self.down = False
        self.write_then_fail = write_then_fail
        self.failures = 0

    def put(self, key: str, data: bytes) -> None:
        if self.down or self.failures < self.fail_first:
            self.failures += 1
            if self.write_then_fail:
                super().put(key, data)
            raise StoreError(f"injected failure {self.failures} writing {key}")
        super().put(key, data)


class GatedStore(CountingStore):
    """A store whose batch writes wait until `gate` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def put(self, key: str, data: bytes) -> None:
        if "/batches/" in key or (key.endswith("/run.json") and b'"batch"' in data):
            self.waiting.set()
            self.gate.wait(30)
        super().put(key, data)


@pytest.fixture
def make_writer() -> Iterator[Callable[..., Writer]]:
    """Build writers over a store; every one is closed at the end of the test."""
    made: list[Writer] = []

    def make(store: MemoryObjectStore, **kw: Any) -> Writer:
        kw.setdefault("flush_interval", 60.0)
        writer = Writer(LayoutBackend(store), **kw)
        made.append(writer)
        return writer

    yield make
    for writer in made:
        writer.close(timeout=5)


def create(writer: Writer) -> str:
    run_id = uuid.uuid4().hex
    writer.submit((CREATE, run_id, RunMeta(run_id, "r", EXP, 1)))
    return run_id


def metric(run_id: str, step: int, key: str = "m") -> tuple[Any, ...]:
    return (METRIC, run_id, key, float(step), step, 1_000 + step)


def steps(writer: Writer, run_id: str, key: str = "m") -> list[int]:
    return [m.step for m in writer.backend.get_metric_history(run_id, key)]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def test_one_batch_per_run_per_flush(make_writer: Callable[..., Writer]) -> None:
    store = CountingStore()
    writer = make_writer(store)
    a, b = create(writer), create(writer)
    for i in range(1000):
        writer.submit(metric(a, i))
        writer.submit(metric(b, i, key="n"))
    writer.submit((PARAM, a, "alpha", "1"))
    writer.submit((TAG, b, "t", "x"))
    assert writer.flush(timeout=10)
    assert len(store.batch_puts(a)) == 1
    assert len(store.batch_puts(b)) == 1
    assert steps(writer, a) == list(range(1000))
    assert steps(writer, b, "n") == list(range(1000))
    assert writer.backend.get_run(a).params == {"alpha": "1"}
    assert writer.backend.get_run(b).tags == {"t": "x"}
    assert writer.pending() == 0


def test_order_is_kept_within_and_across_batches(make_writer: Callable[..., Writer]) -> None:
    store = CountingStore()
    writer = make_writer(store)
    run = create(writer)
    writer.submit((TAG, run, "t", "1"))
    writer.submit((TAG, run, "t", "2"))
    writer.submit(metric(run, 0))
    assert writer.flush(timeout=10)
    writer.submit((TAG, run, "t", "3"))
    writer.submit((ARTIFACT, run, "a.txt", b"A"))
    writer.submit((TAG, run, "t", "4"))
    writer.submit(metric(run, 1))
    writer.submit((STATUS, run, "FINISHED", 2_000))
    assert writer.flush(timeout=10)
    stored = writer.backend.get_run(run)
    assert stored.tags == {"t": "4"}
    assert stored.status.value == "FINISHED"
    assert stored.end_time == 2_000
    assert steps(writer, run) == [0, 1]
    # Creation first; the artifact before the open batch, which takes the records logged
    # before and after it; compaction at the end.
    run_keys = [k for k in store.puts if run in k]
    assert run_keys[:2] == [f"runs/{run}/run.json", f"experiment-runs/{EXP}/{run}"]
    kinds = [
        "artifact" if "/artifacts/" in k else "batch"
        for k in store.puts
        if run in k and ("/batches/" in k or "/artifacts/" in k or k.endswith("#batch"))
    ]
    assert kinds == ["batch", "artifact", "batch"]
    assert store.list(f"runs/{run}/log/batches") == []  # compacted when it finished


def test_a_short_run_with_artifacts_is_one_batch_and_needs_no_compaction(
    make_writer: Callable[..., Writer],
) -> None:
    # What one autologged fit queues: creation, the context capture (a call returning
    # tags), params, the dataset artifact, metrics, the importances artifact, the status.
    store = CountingStore()
    writer = make_writer(store)
    run = create(writer)
    writer.submit((CALL, run, lambda: Batch(tags={"context": "captured"})))
    writer.submit((PARAM, run, "C", "1.0"))
    writer.submit((ARTIFACT, run, "datasets/train.json", b"{}"))
    writer.submit(metric(run, 0))
    writer.submit((ARTIFACT, run, "feature_importances.json", b"{}"))
    writer.submit((TAG, run, "t", "x"))
    writer.submit((STATUS, run, "FINISHED", 2_000))
    assert writer.flush(timeout=10)
    assert len(store.batch_puts(run)) == 1
    assert not [k for k in store.puts if "/compact/" in k]
    stored = writer.backend.get_run(run)
    assert stored.params == {"C": "1.0"}
    assert stored.tags == {"context": "captured", "t": "x"}
    assert stored.status.value == "FINISHED"
    assert steps(writer, run) == [0]
    assert writer.backend.read_artifact(run, "feature_importances.json") == b"{}"


def test_calls_run_in_order_with_the_runs_records(make_writer: Callable[..., Writer]) -> None:
    store = CountingStore()
    writer = make_writer(store)
    run = create(writer)
    seen: list[int] = []
    writer.submit(metric(run, 0))
    writer.submit((CALL, run, lambda: seen.append(len(steps(writer, run)))))
    writer.submit(metric(run, 1))
    assert writer.flush(timeout=10)
    assert seen == [1]
    assert steps(writer, run) == [0, 1]


def test_back_pressure_blocks_the_producer_instead_of_dropping(
    make_writer: Callable[..., Writer],
) -> None:
    store = GatedStore()
    writer = make_writer(store, max_pending=50, flush_interval=0.01)
    run = create(writer)
    submitted: list[int] = []

    def produce() -> None:
        for i in range(500):
            writer.submit(metric(run, i))
            submitted.append(i)

    producer = threading.Thread(target=produce)
    producer.start()
    assert store.waiting.wait(10)
    # The writer is stuck in a batch write: the producer fills the queue, then waits.
    wait_for(lambda: writer.pending() >= 50)
    time.sleep(0.1)
    assert producer.is_alive()
    assert len(submitted) <= 50
    store.gate.set()
    producer.join(10)
    assert not producer.is_alive()
    assert writer.flush(timeout=10)
    assert steps(writer, run) == list(range(500))


def test_back_pressure_while_the_store_is_down_then_nothing_lost(
    make_writer: Callable[..., Writer],
) -> None:
    store = FlakyStore()
    writer = make_writer(store, max_pending=40, flush_interval=0.01)
    run = create(writer)
    assert writer.flush(timeout=10)
    store.down = True
    done = threading.Event()

    def produce() -> None:
        for i in range(300):
            writer.submit(metric(run, i))
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    # Failed writes are held for retry and count against max_pending: memory stays bounded.
    wait_for(lambda: store.failures >= 3 and writer.pending() >= 40)
    time.sleep(0.1)
    assert not done.is_set()
    assert writer.pending() <= 40
    store.down = False
    producer.join(10)
    assert done.is_set()
    assert writer.flush(timeout=10)
    assert steps(writer, run) == list(range(300))


def test_retry_after_a_store_that_fails_then_recovers(
    make_writer: Callable[..., Writer], caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore(fail_first=5)
    writer = make_writer(store, flush_interval=0.01)
    with caplog.at_level(logging.WARNING, logger="autolog"):
        run = create(writer)
        for i in range(100):
            writer.submit(metric(run, i))
            writer.submit((TAG, run, "last", str(i)))
            if i % 10 == 9:
                writer.flush(timeout=10)
        writer.submit((STATUS, run, "FINISHED", 5_000))
        wait_for(lambda: writer.flush(timeout=10))
    assert store.failures == 5
    assert writer.pending() == 0
    assert steps(writer, run) == list(range(100))
    stored = writer.backend.get_run(run)
    assert stored.tags == {"last": "99"}
    assert stored.status.value == "FINISHED"
    errors = writer.take_errors()
    assert len(errors) == 5
    assert all(isinstance(e, StoreError) for e in errors)
    # One warning for the outage, not one per retry.
    warnings = [r for r in caplog.records if "could not write" in r.getMessage()]
    assert len(warnings) == 1


def test_flush_reports_failure_while_the_store_is_down(make_writer: Callable[..., Writer]) -> None:
    store = FlakyStore()
    writer = make_writer(store)
    run = create(writer)
    assert writer.flush(timeout=10)
    store.down = True
    writer.submit(metric(run, 0))
    assert not writer.flush(timeout=10)
    assert writer.pending() == 1
    store.down = False
    assert writer.flush(timeout=10)
    assert steps(writer, run) == [0]


def test_a_write_kept_by_the_store_but_reported_failed_is_not_duplicated(
    make_writer: Callable[..., Writer],
) -> None:
    store = FlakyStore(write_then_fail=True)
    writer = make_writer(store)
    run = create(writer)
    assert writer.flush(timeout=10)
    store.fail_first = store.failures + 3
    for i in range(10):
        writer.submit(metric(run, i))
    for _ in range(3):
        assert not writer.flush(timeout=10)
    assert writer.flush(timeout=10)
    assert steps(writer, run) == list(range(10))


def test_sync_mode_writes_in_the_calling_thread(make_writer: Callable[..., Writer]) -> None:
    store = CountingStore()
    writer = make_writer(store, sync=True)
    run = create(writer)
    writer.submit(metric(run, 0))
    assert steps(writer, run) == [0]
    writer.submit((TAG, run, "t", "v"))
    assert writer.backend.get_run(run).tags == {"t": "v"}
    assert writer._thread is None
    assert writer.pending() == 0
    assert writer.flush()


def test_flush_with_nothing_queued_and_before_any_thread(
    make_writer: Callable[..., Writer],
) -> None:
    writer = make_writer(CountingStore())
    assert writer.flush()
    assert writer.flush(timeout=0)
    run = create(writer)
    assert writer.flush(timeout=10)
    assert writer.backend.get_run(run).id == run


def test_flush_times_out_while_a_write_hangs(make_writer: Callable[..., Writer]) -> None:
    store = GatedStore()
    writer = make_writer(store)
    run = create(writer)
    writer.submit(metric(run, 0))
    assert not writer.flush(timeout=0.05)
    store.gate.set()
    assert writer.flush(timeout=10)
    assert steps(writer, run) == [0]


def test_close_drains_and_a_later_record_restarts_the_thread(
    make_writer: Callable[..., Writer],
) -> None:
    writer = make_writer(CountingStore())
    run = create(writer)
    writer.submit(metric(run, 0))
    writer.close(timeout=10)
    assert writer._thread is None
    assert steps(writer, run) == [0]
    writer.submit(metric(run, 1))
    assert writer.flush(timeout=10)
    assert steps(writer, run) == [0, 1]


def test_a_long_run_is_compacted_every_few_flushes(make_writer: Callable[..., Writer]) -> None:
    store = CountingStore()
    writer = make_writer(store, compact_every=3)
    run = create(writer)
    for i in range(7):
        writer.submit(metric(run, i))
        assert writer.flush(timeout=10)
    assert store.list(f"runs/{run}/log/compact") == [f"runs/{run}/log/compact/0000000002.json"]
    assert len(store.list(f"runs/{run}/log/batches")) == 1
    assert steps(writer, run) == list(range(7))


def test_many_threads_submitting_at_once(make_writer: Callable[..., Writer]) -> None:
    writer = make_writer(CountingStore(), flush_interval=0.005, max_pending=500)
    run = create(writer)

    def produce(t: int) -> None:
        for i in range(2000):
            writer.submit(metric(run, i, key=f"k{t}"))

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert writer.flush(timeout=10)
    for k in range(4):
        assert steps(writer, run, f"k{k}") == list(range(2000))


def test_tags_a_call_returns_join_the_next_batch(make_writer: Callable[..., Writer]) -> None:
    store = CountingStore()
    writer = make_writer(store)
    run = create(writer)
    context = Batch(tags={"ctx": "1", "shared": "captured"})
    writer.submit((CALL, run, lambda: context))
    writer.submit((TAG, run, "shared", "given"))
    writer.submit(metric(run, 0))
    writer.submit((STATUS, run, "FINISHED", 2_000))
    assert writer.flush(timeout=10)
    # One batch, hence nothing to compact: the short run is meta, marker and one batch.
    assert len(store.batch_puts(run)) == 1
    assert store.list(f"runs/{run}/log/compact") == []
    stored = writer.backend.get_run(run)
    assert stored.tags == {"ctx": "1", "shared": "given"}  # what was logged later wins
    assert (stored.status.value, steps(writer, run)) == ("FINISHED", [0])
    # With nothing queued behind the call, its batch is written on its own.
    other = create(writer)
    writer.submit((CALL, other, lambda: Batch(tags={"ctx": "2"})))
    assert writer.flush(timeout=10)
    assert len(store.batch_puts(other)) == 1
    assert writer.backend.get_run(other).tags == {"ctx": "2"}


def test_spooled_artifact_files_are_retried_then_removed(
    make_writer: Callable[..., Writer], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore()
    writer = make_writer(store, flush_interval=0.01)
    run = create(writer)
    assert writer.flush(timeout=10)
    src = tmp_path / "weights.bin"
    src.write_bytes(b"w" * 1000)
    copy = writer.spool(src)
    src.write_bytes(b"changed")  # the caller may change its file at once
    store.down = True
    with caplog.at_level(logging.WARNING, logger="autolog"):
        writer.submit((ARTIFACT_FILE, run, "model/weights.bin", copy))
        writer.submit(metric(run, 0))
        assert not writer.flush(timeout=10)
        assert not writer.flush(timeout=10)
        assert copy.is_file()  # kept for the next try
        store.down = False
        assert writer.flush(timeout=10)
    assert store.get(f"runs/{run}/artifacts/model/weights.bin") == b"w" * 1000
    assert not copy.exists()
    assert steps(writer, run) == [0]
    assert len([r for r in caplog.records if "could not write" in r.getMessage()]) == 1
    # A spooled copy removed behind the writer's back is reported and skipped, so it
    # cannot hold up the run's later writes.
    gone = writer.spool(src)
    gone.unlink()
    with caplog.at_level(logging.ERROR, logger="autolog"):
        writer.submit((ARTIFACT_FILE, run, "lost.bin", gone))
        writer.submit(metric(run, 1))
        assert writer.flush(timeout=10)
    assert steps(writer, run) == [0, 1]
    assert any("lost artifact 'lost.bin'" in r.getMessage() for r in caplog.records)
    spool_dir = copy.parent
    writer.close(timeout=5)
    assert not spool_dir.exists()  # close() removes the spool directory


def test_spool_of_an_unreadable_file_is_a_store_error(
    make_writer: Callable[..., Writer], tmp_path: Path
) -> None:
    writer = make_writer(CountingStore())
    good = tmp_path / "good.bin"
    good.write_bytes(b"g")
    copy = writer.spool(good)
    with pytest.raises(StoreError, match=r"missing\.bin.*spool directory"):
        writer.spool(tmp_path / "missing.bin")
    assert list(copy.parent.iterdir()) == [copy]  # no partial copy left behind


# -- a run queued whole ----------------------------------------------------------------------


def _whole_run(writer: Writer, calls: list[int]) -> str:
    """Queue a fit-like run: creation, a computing call, params, metrics, an artifact, end."""
    from autolog._tracking.writer import Computed

    run_id = create(writer)

    def compute() -> Computed:
        calls.append(1)
        return Computed(
            batch=Batch(tags={"computed": "yes"}, metrics={"late": [(0.5, 0, 1_000)]}),
            records={"plots.json": b'{"x": 1}'},
            shared={"context/requirements.txt": b"numpy==2\n"},
        )

    writer.submit((CALL, run_id, compute))
    writer.submit((PARAM, run_id, "alpha", "1"))
    writer.submit((TAG, run_id, "computed", "overridden later"))
    writer.submit(metric(run_id, 0))
    writer.submit((ARTIFACT, run_id, "importances.json", b"[1, 2]", True))
    writer.submit((ARTIFACT, run_id, "model/MLmodel", b"flavors: {}"))  # a file, always
    writer.submit((STATUS, run_id, "FINISHED", 2_000))
    return run_id


def test_a_run_queued_whole_is_written_as_one_object_and_its_marker(
    make_writer: Callable[..., Writer],
) -> None:
    store = CountingStore()
    writer = make_writer(store)
    calls: list[int] = []
    run_id = _whole_run(writer, calls)
    assert writer.flush(timeout=10)
    run_puts = [k for k in store.puts if run_id in k]
    assert run_puts == [
        f"runs/{run_id}/artifacts/model/MLmodel",
        f"experiment-runs/{EXP}/{run_id}",  # the index learns of the run first
        f"runs/{run_id}/run.json#batch",
    ]
    run = writer.backend.get_run(run_id)
    assert run.status.value == "FINISHED" and run.end_time == 2_000
    assert run.params == {"alpha": "1"}
    # The call's tag came first: the tag logged after it wins, as with separate batches.
    assert run.tags["computed"] == "overridden later"
    assert run.metrics == {"late": 0.5, "m": 0.0}
    backend = writer.backend
    assert backend.read_artifact(run_id, "plots.json") == b'{"x": 1}'
    assert backend.read_artifact(run_id, "importances.json") == b"[1, 2]"
    assert backend.read_artifact(run_id, "context/requirements.txt") == b"numpy==2\n"
    listed = {f.path: f.size for f in backend.list_artifacts(run_id)}
    assert listed == {"context": None, "importances.json": 6, "model": None, "plots.json": 8}
    assert backend.read_artifact(run_id, "model/MLmodel") == b"flavors: {}"
    assert calls == [1]


def test_a_whole_run_whose_write_fails_is_retried_without_computing_again(
    make_writer: Callable[..., Writer],
) -> None:
    store = FlakyStore(fail_first=3)
    writer = make_writer(store)
    calls: list[int] = []
    run_id = _whole_run(writer, calls)
    assert not writer.flush(timeout=10)  # the store failed: kept, and the caller told
    assert writer.pending() > 0
    while store.failures < 3:
        writer.flush(timeout=10)
    assert writer.flush(timeout=10)
    assert writer.pending() == 0
    run = writer.backend.get_run(run_id)
    assert run.params == {"alpha": "1"} and run.metrics == {"late": 0.5, "m": 0.0}
    assert writer.backend.read_artifact(run_id, "plots.json") == b'{"x": 1}'
    assert calls == [1]


def test_a_run_not_queued_whole_is_written_in_parts(make_writer: Callable[..., Writer]) -> None:
    store = CountingStore()
    writer = make_writer(store)
    run_id = create(writer)
    writer.submit(metric(run_id, 0))
    assert writer.flush(timeout=10)  # still running: its creation and first batch are stored
    assert writer.backend.get_run(run_id).status.value == "RUNNING"
    writer.submit(metric(run_id, 1))
    writer.submit((STATUS, run_id, "FINISHED", 2_000))
    assert writer.flush(timeout=10)
    assert steps(writer, run_id) == [0, 1]
    assert writer.backend.get_run(run_id).status.value == "FINISHED"


def test_a_large_record_of_a_whole_run_is_a_file_of_its_own(
    make_writer: Callable[..., Writer],
) -> None:
    store = CountingStore()
    writer = make_writer(store)
    run_id = create(writer)
    big = b"x" * 100_000
    writer.submit((ARTIFACT, run_id, "big.bin", big, True))
    writer.submit((ARTIFACT, run_id, "small.bin", b"\xff\xfe", True))  # not UTF-8: base64
    writer.submit((STATUS, run_id, "FINISHED", 2_000))
    assert writer.flush(timeout=10)
    assert f"runs/{run_id}/artifacts/big.bin" in store.puts
    assert f"runs/{run_id}/artifacts/small.bin" not in store.puts
    assert writer.backend.read_artifact(run_id, "big.bin") == big
    assert writer.backend.read_artifact(run_id, "small.bin") == b"\xff\xfe"
