"""System metrics: a summary for short runs, a series for long ones, GPUs from a device source."""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Iterator

import pytest

import autolog
from autolog._tracking import context as _context
from autolog._tracking import system_metrics
from autolog._tracking.system_metrics import GpuFacts, GpuSample, check_setting
from autolog.errors import InvalidValueError

SUMMARY = {"system/wall_time_s", "system/cpu_time_s", "system/peak_rss_mb"}


class FakeGpus:
    """Two devices with fixed readings; `hold` makes `sample` wait until it is released."""

    def __init__(self) -> None:
        self.hold: threading.Event | None = None
        self.sampling = threading.Event()

    def facts(self) -> GpuFacts:
        return GpuFacts(["NVIDIA H100", "NVIDIA H100"], driver="550.54", cuda="12.4")

    def sample(self) -> list[GpuSample]:
        self.sampling.set()
        if self.hold is not None:
            self.hold.wait(30)
        gib = 1024**3
        return [GpuSample(0, 87.0, 20 * gib, 80 * gib), GpuSample(1, 3.0, 1 * gib, 80 * gib)]


@pytest.fixture
def fake_gpus() -> Iterator[FakeGpus]:
    gpus = FakeGpus()
    system_metrics.set_gpu_source(gpus)
    yield gpus
    if gpus.hold is not None:
        gpus.hold.set()
    system_metrics.set_gpu_source(None)


def _busy(seconds: float, run: autolog.ActiveRun | None = None, samples: int = 2) -> None:
    """Work for `seconds`, and on until `run` has `samples` samples (a busy machine is slow)."""
    end = time.monotonic() + seconds
    give_up = end + 60
    while time.monotonic() < end or (
        run is not None
        and system_metrics._sampler.watches[run.id].step < samples
        and time.monotonic() < give_up
    ):
        sum(range(1000))


def test_settings() -> None:
    assert check_setting(True) == 10.0
    assert check_setting(False) == 0.0
    assert check_setting("off") == 0.0
    assert check_setting(" 2.5 ") == 2.5
    assert check_setting(1) == 1.0
    for bad in ("often", -1, float("nan"), [1]):
        with pytest.raises(InvalidValueError, match="seconds between samples"):
            check_setting(bad)
    with pytest.raises(InvalidValueError, match="system_metrics='often'"):
        autolog.configure(system_metrics="often")  # type: ignore[arg-type]


def test_a_short_run_gets_a_summary_at_the_default_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(system_metrics.ENV)
    with autolog.start_run() as run:
        autolog.log_metric("m", 1.0)
    stored = autolog.get_run(run.id)
    assert {k for k in stored.metrics if k.startswith("system/")} == SUMMARY
    assert stored.metrics["system/wall_time_s"] < 10
    assert stored.metrics["system/peak_rss_mb"] > 10  # an interpreter with numpy loaded


def test_a_long_run_gets_a_series(fake_gpus: FakeGpus) -> None:
    autolog.configure(system_metrics=0.1)
    with autolog.start_run() as run:
        _busy(0.6, run)
    stored = autolog.get_run(run.id)
    cpu = autolog.get_metric_history(run.id, "system/cpu_percent")
    assert len(cpu) >= 2
    assert [p.step for p in cpu] == list(range(len(cpu)))
    assert all(p.value > 0 for p in cpu)  # the busy loop, in this process
    assert stored.metrics["system/rss_mb"] > 10
    assert 0 < stored.metrics["system/memory_percent"] < 100
    assert stored.metrics["system/memory_used_mb"] > 0
    assert stored.metrics["system/gpu_0/utilization_percent"] == 87.0
    assert stored.metrics["system/gpu_0/memory_used_mb"] == 20 * 1024
    assert stored.metrics["system/gpu_1/memory_percent"] == 1.25
    assert {"system/disk_read_mb", "system/network_receive_mb"} <= set(stored.metrics)
    assert stored.metrics["system/wall_time_s"] >= 0.6
    assert stored.metrics["system/cpu_time_s"] > 0.05


def test_host_facts_name_the_gpus(fake_gpus: FakeGpus) -> None:
    facts = system_metrics.host_facts()
    assert facts["autolog.host.gpu_count"] == "2"
    assert facts["autolog.host.gpu_model"] == "NVIDIA H100"
    assert facts["autolog.host.gpu_driver"] == "550.54"
    assert facts["autolog.host.cuda_version"] == "12.4"
    assert int(facts["autolog.host.cpu_count"]) >= 1
    assert int(facts["autolog.host.memory_total_mb"]) > 0
    _context.reset_cache()  # the run context holds the host facts, once per process
    with autolog.start_run() as run:
        pass
    assert autolog.get_run(run.id).tags["autolog.host.gpu_model"] == "NVIDIA H100"


def test_without_nvml_there_are_no_gpus() -> None:
    if importlib.util.find_spec("pynvml") is not None:
        pytest.skip("pynvml is installed; this is the case of a machine without it")
    source = system_metrics.NvmlSource()
    assert source.facts() is None
    assert source.sample() == []


def test_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(system_metrics.ENV, "0.05")
    autolog.enable(integrations=[], system_metrics=False)
    with autolog.start_run() as run:
        time.sleep(0.2)
    assert not [k for k in autolog.get_run(run.id).metrics if k.startswith("system/")]
    autolog.configure(system_metrics=True)
    with autolog.start_run() as run:
        pass
    assert set(autolog.get_run(run.id).metrics) >= SUMMARY


def test_one_thread_serves_every_run_and_children_are_not_sampled() -> None:
    autolog.configure(system_metrics=0.05)
    seconds: list[autolog.ActiveRun] = []

    def another_thread() -> None:
        with autolog.start_run() as second:  # a thread has a stack of its own: a second top run
            seconds.append(second)
            _busy(0.3, second)

    with autolog.start_run() as first, autolog.start_run(nested=True) as child:
        worker = threading.Thread(target=another_thread)
        worker.start()
        _busy(0.3, first)
        names = [t.name for t in threading.enumerate()]
        worker.join()
    assert names.count("autolog-system-metrics") == 1
    for run in (first, *seconds):
        assert len(autolog.get_metric_history(run.id, "system/rss_mb")) >= 2
    assert not [k for k in autolog.get_run(child.id).metrics if k.startswith("system/")]


def test_a_slow_reading_never_holds_up_the_run(fake_gpus: FakeGpus) -> None:
    autolog.configure(system_metrics=0.05)
    fake_gpus.hold = threading.Event()
    run = autolog.start_run()
    assert fake_gpus.sampling.wait(30)
    # The sampler is stuck in its reading; ending the run must not wait for it.
    run.end()
    fake_gpus.hold.set()
    stored = autolog.get_run(run.id)
    assert set(stored.metrics) >= SUMMARY
    assert "system/gpu_0/utilization_percent" not in stored.metrics


def test_short_runs_in_a_loop_share_an_io_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop of short runs does not read /proc (nor wake the sampler) for each of them."""
    monkeypatch.delenv(system_metrics.ENV)
    readings: list[float] = []
    real = system_metrics._io_baseline

    def counted() -> system_metrics.Usage:
        readings.append(time.monotonic())
        return real()

    monkeypatch.setattr(system_metrics, "_io_baseline", counted)
    wakes: list[float] = []
    lock = system_metrics._sampler.lock
    real_notify = lock.notify

    def notify(n: int = 1) -> None:
        wakes.append(time.monotonic())
        real_notify(n)

    monkeypatch.setattr(lock, "notify", notify)
    started = time.monotonic()
    ids = []
    for _ in range(30):
        with autolog.start_run() as run:
            autolog.log_metric("m", 1.0)
        ids.append(run.id)
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    # The sampler is woken (and reads /proc) at most once each BASELINE_FRESH seconds, not
    # for each of the 30 runs.
    most = 2 + elapsed / system_metrics.BASELINE_FRESH
    assert len(wakes) <= most and len(readings) <= most
    for run_id in ids:
        assert {k for k in autolog.get_run(run_id).metrics if k.startswith("system/")} == SUMMARY
