"""Tests of the run API (start_run, logging, ending, reading back) over memory and file stores."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import autolog
from autolog._entities import RunStatus
from autolog._tracking import runs as _runs
from autolog._tracking.settings import tracking
from autolog.backends import register_backend
from autolog.backends._layout import LayoutBackend
from autolog.backends.memory import MemoryObjectStore
from autolog.errors import (
    ExperimentNotFoundError,
    InvalidInputError,
    NoActiveRunError,
    ParamConflictError,
    RunNotFoundError,
    StoreError,
)


class RemoteLikeStore(MemoryObjectStore):
    """A memory store that counts as remote: artifact files are spooled and queued."""

    local = False


class OutageStore(RemoteLikeStore):
    """A remote-like store whose every operation fails while `down`."""

    def __init__(self) -> None:
        super().__init__(uuid.uuid4().hex)
        self.down = True

    def _check(self) -> None:
        if self.down:
            raise StoreError(f"{self.uri} is down (an injected outage)")

    def put(self, key: str, data: bytes) -> None:
        self._check()
        super().put(key, data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self._check()
        return super().put_if_absent(key, data)

    def get(self, key: str) -> bytes:
        self._check()
        return super().get(key)

    def list(self, prefix: str) -> list[str]:
        self._check()
        return super().list(prefix)


_remote_stores: dict[str, MemoryObjectStore] = {}
register_backend(
    "remotelike", lambda uri: LayoutBackend(_remote_stores.setdefault(uri, RemoteLikeStore(uri)))
)


@pytest.fixture(params=["file", "memory", "remote"], autouse=True)
def backend_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run every test over the file store, the in-memory store and a remote-like store."""
    if request.param == "memory":
        monkeypatch.setenv("AUTOLOG_TRACKING_URI", f"memory:{uuid.uuid4().hex}")
    elif request.param == "remote":
        monkeypatch.setenv("AUTOLOG_TRACKING_URI", f"remotelike:{uuid.uuid4().hex}")
    yield request.param
    _remote_stores.clear()


def test_start_run_records_name_tags_and_times() -> None:
    with autolog.start_run(name="first", tags={"team": "ml", "n": 3}) as run:
        assert autolog.active_run() is run
        assert run.status is RunStatus.RUNNING
    stored = autolog.get_run(run.id)
    assert stored.id == run.id
    assert stored.name == "first"
    assert stored.experiment == "Default"
    assert stored.status is RunStatus.FINISHED
    assert stored.tags["team"] == "ml"
    assert stored.tags["n"] == "3"
    assert stored.end_time is not None
    assert stored.end_time >= stored.start_time
    assert stored.duration is not None
    assert stored.parent_id is None
    assert autolog.active_run() is None


def test_generated_name_when_none_given() -> None:
    with autolog.start_run() as run:
        pass
    name = autolog.get_run(run.id).name
    assert name == run.name
    assert len(name.split("-")) == 3


def test_params_metrics_and_tags_round_trip() -> None:
    with autolog.start_run() as run:
        autolog.log_param("alpha", 0.1)
        autolog.log_params({"depth": 3, "solver": "lbfgs", "flag": True})
        autolog.log_metric("loss", 1.0, step=0)
        autolog.log_metric("loss", 0.5, step=1)
        autolog.log_metric("loss", 0.25, step=2)
        autolog.log_metrics({"acc": 0.9, "f1": 0.8}, step=2)
        autolog.set_tag("stage", "dev")
        autolog.set_tags({"stage": "prod", "owner": "me"})
    stored = autolog.get_run(run.id)
    assert stored.params == {"alpha": "0.1", "depth": "3", "solver": "lbfgs", "flag": "True"}
    assert stored.metrics == {"loss": 0.25, "acc": 0.9, "f1": 0.8}
    assert stored.tags["stage"] == "prod"
    assert stored.tags["owner"] == "me"
    history = autolog.get_metric_history(run.id, "loss")
    assert [(m.key, m.value, m.step) for m in history] == [
        ("loss", 1.0, 0),
        ("loss", 0.5, 1),
        ("loss", 0.25, 2),
    ]
    assert all(isinstance(m.timestamp, int) and m.timestamp > 0 for m in history)


def test_metric_history_is_in_step_order_and_latest_is_highest_step() -> None:
    with autolog.start_run() as run:
        for step in (5, 1, 3, 0, 4, 2):
            autolog.log_metric("m", float(step * 10), step=step)
    assert [m.step for m in autolog.get_metric_history(run.id, "m")] == [0, 1, 2, 3, 4, 5]
    assert autolog.get_run(run.id).metrics["m"] == 50.0


def test_explicit_timestamps_are_kept_including_zero() -> None:
    with autolog.start_run() as run:
        autolog.log_metric("t", 1.0, step=0, timestamp=0)
        autolog.log_metric("t", 2.0, step=1, timestamp=1_700_000_000_000)
        autolog.log_metrics({"u": 3.0}, step=0, timestamp=0)
    assert [m.timestamp for m in autolog.get_metric_history(run.id, "t")] == [0, 1_700_000_000_000]
    assert autolog.get_metric_history(run.id, "u")[0].timestamp == 0


def test_metric_values_of_numpy_and_special_floats() -> None:
    np = pytest.importorskip("numpy")
    with autolog.start_run() as run:
        autolog.log_metric("np32", np.float32(0.5), step=np.int64(3))
        autolog.log_metric("nan", float("nan"))
        autolog.log_metric("inf", float("inf"))
        autolog.log_metric("flag", True)
    stored = autolog.get_run(run.id)
    assert stored.metrics["np32"] == 0.5
    assert autolog.get_metric_history(run.id, "np32")[0].step == 3
    assert stored.metrics["nan"] != stored.metrics["nan"]
    assert stored.metrics["inf"] == float("inf")
    assert stored.metrics["flag"] == 1.0


def test_param_same_value_again_is_fine_a_different_one_is_an_error() -> None:
    with autolog.start_run() as run:
        autolog.log_param("alpha", 0.1)
        autolog.log_param("alpha", "0.1")
        autolog.log_params({"alpha": 0.1, "beta": 2})
        with pytest.raises(ParamConflictError, match=r"'alpha'.*'0\.1'.*'0\.2'"):
            autolog.log_param("alpha", 0.2)
        with pytest.raises(ParamConflictError, match="beta"):
            autolog.log_params({"gamma": 1, "beta": 3})
    stored = autolog.get_run(run.id)
    # The rejected log_params call recorded nothing, not even its valid entry.
    assert stored.params == {"alpha": "0.1", "beta": "2"}


def test_run_with_exception_ends_failed_with_the_error_recorded(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError), autolog.start_run() as run:
        autolog.log_metric("before", 1.0)
        _ = 1 / 0
    stored = autolog.get_run(run.id)
    assert stored.status is RunStatus.FAILED
    assert stored.metrics == {"before": 1.0}
    assert stored.tags["autolog.error"].startswith("ZeroDivisionError")
    text = autolog.download_artifacts(run.id, "error.txt", tmp_path / "dl").read_text()
    assert "ZeroDivisionError" in text
    assert "Traceback" in text


def test_keyboard_interrupt_ends_killed() -> None:
    with pytest.raises(KeyboardInterrupt), autolog.start_run() as run:
        raise KeyboardInterrupt
    assert autolog.get_run(run.id).status is RunStatus.KILLED


def test_system_exit_zero_is_finished_nonzero_is_failed() -> None:
    with pytest.raises(SystemExit), autolog.start_run() as ok:
        raise SystemExit(0)
    with pytest.raises(SystemExit), autolog.start_run() as bad:
        raise SystemExit(3)
    assert autolog.get_run(ok.id).status is RunStatus.FINISHED
    assert autolog.get_run(bad.id).status is RunStatus.FAILED


@pytest.mark.parametrize("status", ["FINISHED", "failed", RunStatus.KILLED])
def test_end_run_with_status(status: str | RunStatus) -> None:
    run = autolog.start_run()
    autolog.end_run(status)
    assert autolog.active_run() is None
    assert autolog.get_run(run.id).status.value == str(status).upper()
    assert autolog.last_run() == autolog.get_run(run.id)


def test_ending_twice_keeps_the_first_status() -> None:
    run = autolog.start_run()
    run.end("KILLED")
    run.end("FINISHED")
    assert autolog.get_run(run.id).status is RunStatus.KILLED


def test_end_run_without_active_run_is_an_error() -> None:
    with pytest.raises(NoActiveRunError, match="start_run"):
        autolog.end_run()


def test_starting_a_second_run_needs_nested() -> None:
    with autolog.start_run() as outer:
        with pytest.raises(InvalidInputError, match=f"{outer.id}.*nested=True"):
            autolog.start_run()
        with autolog.start_run(nested=True) as inner:
            assert autolog.active_run() is inner
            autolog.log_metric("inner", 1.0)
        assert autolog.active_run() is outer
        autolog.log_metric("outer", 2.0)
    assert autolog.get_run(inner.id).parent_id == outer.id
    assert autolog.get_run(inner.id).metrics == {"inner": 1.0}
    assert autolog.get_run(outer.id).metrics == {"outer": 2.0}


def test_log_without_a_run_starts_one_that_ends_at_shutdown() -> None:
    autolog.log_metric("auto", 1.0)
    run = autolog.active_run()
    assert run is not None
    assert run.auto
    assert autolog.get_run(run.id).status is RunStatus.RUNNING
    from autolog._tracking import lifecycle as _lifecycle

    _lifecycle.shutdown()
    assert autolog.get_run(run.id).status is RunStatus.FINISHED
    assert autolog.get_run(run.id).metrics == {"auto": 1.0}


def test_each_thread_has_its_own_active_run() -> None:
    seen: dict[str, str | None] = {}

    def worker() -> None:
        active = autolog.active_run()
        seen["before"] = active.id if active else None
        with autolog.start_run(name="in-thread") as run:
            seen["thread"] = run.id

    with autolog.start_run() as main:
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        assert autolog.active_run() is main
    assert seen["before"] is None
    assert autolog.get_run(str(seen["thread"])).parent_id is None


def test_run_ended_from_another_thread_is_no_longer_active() -> None:
    run = autolog.start_run()
    thread = threading.Thread(target=run.end)
    thread.start()
    thread.join()
    assert autolog.active_run() is None
    with autolog.start_run() as second:
        assert autolog.active_run() is second


def test_set_experiment_and_search_runs() -> None:
    exp = autolog.set_experiment("housing")
    assert exp.name == "housing"
    assert autolog.set_experiment("housing").id == exp.id
    for alpha, rmse in ((0.1, 0.4), (0.5, 0.6), (1.0, 0.3)):
        with autolog.start_run(tags={"model": "lasso"}):
            autolog.log_param("alpha", alpha)
            autolog.log_metric("rmse", rmse)
    with autolog.start_run(experiment="other"):
        autolog.log_metric("rmse", 0.1)
    runs = autolog.search_runs(
        experiment="housing", filter="metrics.rmse < 0.5", order_by=["metrics.rmse ASC"]
    )
    assert [r.metrics["rmse"] for r in runs] == [0.3, 0.4]
    assert all(r.experiment == "housing" for r in runs)
    assert len(autolog.search_runs()) == 4
    assert len(autolog.search_runs(max_results=2)) == 2
    assert len(autolog.search_runs(experiment=["housing", "other"])) == 4
    assert len(autolog.search_runs(status="finished")) == 4
    assert autolog.search_runs(status="FAILED") == []
    names = {e.name for e in autolog.list_experiments()}
    assert {"housing", "other"} <= names
    assert autolog.get_experiment("housing") == exp
    assert autolog.get_experiment(exp.id) == exp
    with pytest.raises(ExperimentNotFoundError, match=r"'nope'.*housing"):
        autolog.get_experiment("nope")
    with pytest.raises(ExperimentNotFoundError):
        autolog.search_runs(experiment="nope")


def test_artifacts_text_dict_file_and_directory(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.txt").write_text("BB")
    single = tmp_path / "model.bin"
    single.write_bytes(b"\x00\x01\x02")
    autolog.configure(disable_capture=["git", "source", "packages", "system"])
    with autolog.start_run() as run:
        autolog.log_text("hello", "notes/hello.txt")
        autolog.log_dict({"a": [1, 2], "b": None}, "config.json")
        autolog.log_artifact(single)
        autolog.log_artifact(single, "models/v1")
        autolog.log_artifacts(src, "data")
    top = {f.path: f for f in autolog.list_artifacts(run.id)}
    assert set(top) == {"config.json", "data", "model.bin", "models", "notes"}
    assert top["data"].is_dir and top["data"].size is None
    assert top["model.bin"].size == 3
    assert [f.path for f in autolog.list_artifacts(run.id, "data")] == ["data/a.txt", "data/sub"]
    assert autolog.list_artifacts(run.id, "data/sub/b.txt")[0].size == 2
    dl = tmp_path / "dl"
    assert json.loads(autolog.download_artifacts(run.id, "config.json", dl).read_text()) == {
        "a": [1, 2],
        "b": None,
    }
    folder = autolog.download_artifacts(run.id, "data", dl)
    assert (folder / "sub" / "b.txt").read_text() == "BB"
    assert (autolog.download_artifacts(run.id, "models/v1/model.bin", dl)).read_bytes() == (
        b"\x00\x01\x02"
    )
    everything = autolog.download_artifacts(run.id, dst=tmp_path / "all")
    assert (everything / "notes" / "hello.txt").read_text() == "hello"
    # The copy was taken when logged: changing the source afterwards changes nothing.
    single.write_bytes(b"changed")
    assert (autolog.download_artifacts(run.id, "model.bin", tmp_path / "again")).read_bytes() == (
        b"\x00\x01\x02"
    )


def test_run_with_no_artifacts_downloads_as_empty_directory(tmp_path: Path) -> None:
    autolog.configure(disable_capture=["git", "source", "packages", "system"])
    with autolog.start_run() as run:
        pass
    assert autolog.download_artifacts(run.id, "", tmp_path / "out").is_dir()


def test_reading_a_missing_run_is_a_clear_error() -> None:
    missing = uuid.uuid4().hex
    with pytest.raises(RunNotFoundError, match=missing):
        autolog.get_run(missing)
    with pytest.raises(RunNotFoundError, match=missing):
        autolog.get_metric_history(missing, "loss")
    with pytest.raises(RunNotFoundError, match=missing):
        autolog.list_artifacts(missing)


def test_last_run_is_none_before_any_run_ends() -> None:
    _runs._last_finished.clear()
    assert autolog.last_run() is None


def test_resume_run_logs_more_into_a_stored_run() -> None:
    with autolog.start_run() as run:
        autolog.log_param("alpha", 1)
        autolog.log_metric("m", 1.0, step=0)
    handle = _runs.resume_run(run.id)
    assert autolog.active_run() is None
    handle.log_metric("m", 2.0, step=1)
    handle.log_param("alpha", 1)
    with pytest.raises(ParamConflictError):
        handle.log_param("alpha", 2)
    autolog.flush()
    assert [m.value for m in autolog.get_metric_history(run.id, "m")] == [1.0, 2.0]
    assert autolog.get_run(run.id).status is RunStatus.FINISHED


def test_sync_mode_writes_before_the_call_returns() -> None:
    autolog.configure(sync=True)
    with autolog.start_run() as run:
        autolog.log_metric("m", 1.0)
        backend = tracking.backend()
        # Read the store directly: no flush happens on this path.
        assert backend.get_run(run.id).metrics == {"m": 1.0}


def test_flush_makes_everything_durable() -> None:
    with autolog.start_run() as run:
        for i in range(100):
            autolog.log_metric("m", float(i), step=i)
        autolog.flush()
        assert len(tracking.backend().get_metric_history(run.id, "m")) == 100


def test_context_is_captured_once_for_top_level_runs_only() -> None:
    with autolog.start_run() as outer, autolog.start_run(nested=True) as inner:
        pass
    assert "autolog.python" in autolog.get_run(outer.id).tags
    assert "autolog.python" not in autolog.get_run(inner.id).tags


def test_nested_runs_share_one_writer() -> None:
    with autolog.start_run(), autolog.start_run(nested=True):
        autolog.log_metric("x", 1.0)
    assert len(tracking.all_writers()) == 1


def test_starting_and_logging_never_wait_for_a_store_that_is_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = OutageStore()
    register_backend("outage", lambda uri: LayoutBackend(store))
    autolog.configure(
        tracking_uri=f"outage:{store.uri}", disable_capture=["git", "source", "packages"]
    )
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x00" * 5000)
    writer = tracking.writer()
    with caplog.at_level("WARNING", logger="autolog"):
        with autolog.start_run(experiment="offline", tags={"team": "a"}) as run:
            autolog.log_param("alpha", 1)
            autolog.log_artifact(weights, "model")
            autolog.log_artifacts(tmp_path, "everything")
        weights.unlink()  # the logged copy does not depend on it
        assert not writer.flush(timeout=10)
        store.down = False
        assert writer.flush(timeout=10)
    writer.take_errors()
    assert len([r for r in caplog.records if "could not write" in r.getMessage()]) == 1
    stored = autolog.get_run(run.id)
    assert (stored.experiment, stored.params, stored.tags["team"]) == (
        "offline",
        {"alpha": "1"},
        "a",
    )
    assert "autolog.python" in stored.tags  # the context's tags were written with the rest
    assert [r.id for r in autolog.search_runs("offline")] == [run.id]
    out = autolog.download_artifacts(run.id, dst=tmp_path / "back")
    assert (out / "model" / "weights.bin").read_bytes() == b"\x00" * 5000
    assert (out / "everything" / "weights.bin").read_bytes() == b"\x00" * 5000


def test_a_runs_experiment_is_readable_at_once() -> None:
    autolog.configure(flush_interval=60.0)  # no background flush in between
    with autolog.start_run(experiment="fresh") as run:
        assert autolog.get_experiment("fresh").name == "fresh"
        assert "fresh" in {e.name for e in autolog.list_experiments()}
        assert autolog.get_run(run.id).experiment == "fresh"


def test_log_computed_runs_in_the_writer_thread_and_stores_what_it_returns() -> None:
    threads = []

    def compute() -> dict[str, bytes]:
        threads.append(threading.current_thread())
        return {"derived/data.json": b'{"n": 1}'}

    with autolog.start_run() as run:
        run.log_computed(compute, "a test's computation")
    autolog.flush()
    assert threads and threads[0] is not threading.main_thread()
    assert autolog.download_artifacts(run.id, "derived/data.json").read_bytes() == b'{"n": 1}'


@pytest.mark.no_strict
def test_log_computed_swallows_an_error_of_its_own_and_the_run_goes_on() -> None:
    from autolog import _safety

    def broken() -> dict[str, bytes]:
        raise RuntimeError("cannot compute")

    with autolog.start_run() as run:
        run.log_computed(broken, "a test's computation")
        run.log_metric("m", 1.0)
    assert autolog.get_run(run.id).metrics["m"] == 1.0
    assert any("cannot compute" in str(e) for e in _safety.swallowed)
