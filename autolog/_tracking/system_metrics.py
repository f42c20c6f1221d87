"""System resource use of a run: a background sampler of `system/...` metrics, and host facts.

One daemon thread per process serves every live top-level run. Each run is sampled
every `interval` seconds from its start (default 10 s; `AUTOLOG_SYSTEM_METRICS=off`
or a number of seconds; `configure(system_metrics=...)`):

    system/cpu_percent            the process's CPU use since the last sample, % of one core
    system/rss_mb                 the process's resident memory
    system/memory_used_mb, system/memory_percent    the machine's memory in use
    system/disk_read_mb, system/disk_write_mb       the process's disk I/O since the run started
    system/network_receive_mb, system/network_transmit_mb
                                  the host's (network namespace's) traffic since the run started
    system/gpu_<i>/utilization_percent, system/gpu_<i>/memory_used_mb,
    system/gpu_<i>/memory_percent  per GPU, when NVML is available (extra `gpu`)

Every run ends with a summary: `system/wall_time_s`, `system/cpu_time_s` (the process's
CPU time during the run) and `system/peak_rss_mb` (the process's peak so far); a run
shorter than one interval has only that. Linux is read from /proc directly; elsewhere
psutil is used when installed, else what `os` and `resource` tell. The training thread
only registers and unregisters its run; every read happens in the sampler thread.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from autolog import _tags
from autolog._safety import capture_internal_errors
from autolog._tracking.settings import tracking
from autolog.errors import InvalidValueError

if TYPE_CHECKING:
    from autolog._tracking.runs import ActiveRun

__all__ = [
    "DEFAULT_INTERVAL",
    "ENV",
    "GpuFacts",
    "GpuSample",
    "GpuSource",
    "NvmlSource",
    "Usage",
    "check_setting",
    "host_facts",
    "read_usage",
    "run_ended",
    "run_started",
    "set_gpu_source",
]

ENV = "AUTOLOG_SYSTEM_METRICS"
DEFAULT_INTERVAL = 10.0
_MB = 1024 * 1024


def check_setting(value: object, origin: str = "system_metrics") -> float:
    """The sampling interval `value` asks for, in seconds; 0 means off.

    True is the default interval, False or "off" is off, a number is seconds.
    Raises InvalidValueError for anything else.
    """
    if isinstance(value, bool):
        return DEFAULT_INTERVAL if value else 0.0
    number: object = value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("off", "false", "no", "none", "0"):
            return 0.0
        if text in ("on", "true", "yes", ""):
            return DEFAULT_INTERVAL
        try:
            number = float(text)
        except ValueError:
            number = None
    if isinstance(number, (int, float)) and 0 <= number < float("inf"):
        return float(number)
    raise InvalidValueError(
        f"{origin}={value!r}; expected a number of seconds between samples (default"
        f" {DEFAULT_INTERVAL:g}), True, or False/'off' to record no system metrics"
    )


def _interval() -> float:
    configured = tracking.settings.system_metrics
    if configured is not None:
        return configured
    return check_setting(os.environ.get(ENV, ""), ENV)


# -- what the OS tells ------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """One reading of the process's and the machine's resource use; None where unknown."""

    cpu_time: float  # seconds of CPU the process used, all threads
    rss: int | None = None
    memory_used: int | None = None
    memory_total: int | None = None
    disk_read: int | None = None
    disk_write: int | None = None
    network_receive: int | None = None
    network_transmit: int | None = None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:  # absent (not Linux) or not readable (a hardened /proc)
        return None


def _fields(text: str | None, sep: str = ":") -> dict[str, int]:
    found: dict[str, int] = {}
    for line in (text or "").splitlines():
        name, _, rest = line.partition(sep)
        words = rest.split()
        if words and words[0].isdigit():
            found[name.strip()] = int(words[0])
    return found


def _network() -> tuple[int, int] | None:
    text = _read("/proc/self/net/dev")
    if text is None:
        return None
    receive = transmit = 0
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        words = rest.split()
        if name.strip() != "lo" and len(words) >= 9:
            receive += int(words[0])
            transmit += int(words[8])
    return receive, transmit


def read_usage() -> Usage:
    """Read the process's and the machine's resource use now."""
    times = os.times()
    cpu = times.user + times.system
    statm = _read("/proc/self/statm")
    if statm is None:
        return _usage_elsewhere(cpu)
    rss = int(statm.split()[1]) * os.sysconf("SC_PAGE_SIZE")
    memory = _fields(_read("/proc/meminfo"))
    total = memory.get("MemTotal")
    available = memory.get("MemAvailable")
    io = _fields(_read("/proc/self/io"))
    network = _network()
    return Usage(
        cpu_time=cpu,
        rss=rss,
        memory_used=(total - available) * 1024 if total and available is not None else None,
        memory_total=total * 1024 if total else None,
        disk_read=io.get("read_bytes"),
        disk_write=io.get("write_bytes"),
        network_receive=network[0] if network else None,
        network_transmit=network[1] if network else None,
    )


def _io_baseline() -> Usage:
    """What a new run's disk and network counts start from.

    The only parts of a run's first reading a sample uses (see `_metrics`), at a
    fraction of `read_usage()`'s cost (/proc/meminfo is the costly read): every run
    started takes one, and a run may be a single short fit.
    """
    io_text = _read("/proc/self/io")
    network = _network()
    if io_text is None and network is None:  # not Linux: read_usage reads elsewhere
        return read_usage()
    io = _fields(io_text)
    return Usage(
        cpu_time=_cpu_time(),
        disk_read=io.get("read_bytes"),
        disk_write=io.get("write_bytes"),
        network_receive=network[0] if network else None,
        network_transmit=network[1] if network else None,
    )


def _usage_elsewhere(cpu: float) -> Usage:
    try:
        import psutil
    except ImportError:
        return Usage(cpu_time=cpu)
    process = psutil.Process()
    memory = psutil.virtual_memory()
    io = getattr(process, "io_counters", None)
    counters = io() if io is not None else None
    net = psutil.net_io_counters()
    return Usage(
        cpu_time=cpu,
        rss=process.memory_info().rss,
        memory_used=memory.total - memory.available,
        memory_total=memory.total,
        disk_read=getattr(counters, "read_bytes", None),
        disk_write=getattr(counters, "write_bytes", None),
        network_receive=getattr(net, "bytes_recv", None),
        network_transmit=getattr(net, "bytes_sent", None),
    )


def _peak_rss() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # bytes vs KiB


# -- GPUs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuFacts:
    """What a machine's GPUs are: one model name per device, the driver and CUDA versions."""

    models: list[str]
    driver: str | None = None
    cuda: str | None = None


@dataclass(frozen=True)
class GpuSample:
    """One GPU's use at one moment."""

    index: int
    utilization: float  # percent
    memory_used: int  # bytes
    memory_total: int  # bytes


class GpuSource(Protocol):
    """Where GPU facts and samples come from: NVML, or a fake one in tests."""

    def facts(self) -> GpuFacts | None: ...

    def sample(self) -> list[GpuSample]: ...


class NvmlSource:
    """NVIDIA GPUs through NVML (`pynvml`, from the nvidia-ml-py package)."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._handles: list[Any] | None = None

    def _devices(self) -> list[Any]:
        if self._handles is None:
            self._handles = []
            try:
                import pynvml

                pynvml.nvmlInit()
                count = pynvml.nvmlDeviceGetCount()
                self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
                self._nvml = pynvml
            except Exception:  # noqa: BLE001 - no library, no driver or no GPU: no GPU metrics
                self._handles = []
        return self._handles

    def facts(self) -> GpuFacts | None:
        handles = self._devices()
        if not handles:
            return None
        nvml = self._nvml
        models = [_text(nvml.nvmlDeviceGetName(h)) for h in handles]
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        cuda = None
        version = getattr(nvml, "nvmlSystemGetCudaDriverVersion_v2", None)
        if version is not None:
            number = int(version())
            cuda = f"{number // 1000}.{number % 1000 // 10}"
        return GpuFacts(models, driver, cuda)

    def sample(self) -> list[GpuSample]:
        nvml = self._nvml
        found = []
        for i, handle in enumerate(self._devices()):
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            rates = nvml.nvmlDeviceGetUtilizationRates(handle)
            found.append(GpuSample(i, float(rates.gpu), int(memory.used), int(memory.total)))
        return found


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


_gpu: list[GpuSource] = []  # the source in use, made on first use


def _gpu_source() -> GpuSource:
    if not _gpu:
        _gpu.append(NvmlSource())
    return _gpu[0]


def set_gpu_source(source: GpuSource | None) -> None:
    """Read GPUs from `source` from now on (None: NVML again); for tests and other vendors."""
    _gpu[:] = [source] if source is not None else []
    _host.clear()


# -- host facts --------------------------------------------------------------------------------

_host: dict[str, str] = {}


def host_facts() -> dict[str, str]:
    """Tags describing the machine (CPU, memory, GPUs), computed once per process."""
    if not _host:
        facts = {_tags.HOST_CPU_COUNT: str(os.cpu_count() or 0)}
        model = _cpu_model()
        if model:
            facts[_tags.HOST_CPU_MODEL] = model
        total = read_usage().memory_total
        if total:
            facts[_tags.HOST_MEMORY_TOTAL_MB] = str(total // _MB)
        gpus = _gpu_source().facts()
        if gpus is not None and gpus.models:
            facts[_tags.HOST_GPU_COUNT] = str(len(gpus.models))
            facts[_tags.HOST_GPU_MODEL] = ", ".join(sorted(set(gpus.models)))
            if gpus.driver:
                facts[_tags.HOST_GPU_DRIVER] = gpus.driver
            if gpus.cuda:
                facts[_tags.HOST_CUDA_VERSION] = gpus.cuda
        _host.update(facts)
    return dict(_host)


def _cpu_model() -> str | None:
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("model name", "Model", "Hardware") and value.strip():
            return value.strip()
    import platform

    return platform.processor() or None


# -- the sampler -------------------------------------------------------------------------------


@dataclass
class _Watch:
    """One run being sampled."""

    run: ActiveRun
    interval: float
    started: float  # monotonic seconds
    start_cpu: float
    first: Usage | None  # the reading the run's I/O counts from, taken by the sampler
    due: float
    last_wall: float
    last_cpu: float
    step: int = 0


#: Seconds an I/O baseline serves the runs started after it (see `_Sampler.baseline`).
BASELINE_FRESH = 1.0


@dataclass
class _Sampler:
    """The process's sampler thread and the runs it serves."""

    clock: Callable[[], float] = time.monotonic
    lock: threading.Condition = field(default_factory=threading.Condition)
    watches: dict[str, _Watch] = field(default_factory=dict)
    thread: threading.Thread | None = None
    # The latest I/O baseline and when it was read: runs started within BASELINE_FRESH
    # seconds of it count their I/O from it, so that a loop of short fits does not wake
    # this thread for each run.
    baseline: Usage | None = None
    baseline_at: float = -math.inf
    # When the thread wakes next, and when it was last woken for a new run's baseline.
    next_wake: float = math.inf
    woken_at: float = -math.inf

    def add(self, run: ActiveRun, interval: float) -> None:
        now = self.clock()
        cpu = _cpu_time()
        watch = _Watch(run, interval, now, cpu, None, now + interval, now, cpu)
        with self.lock:
            fresh = now - self.baseline_at <= BASELINE_FRESH
            if fresh:
                watch.first = self.baseline
            self.watches[run.id] = watch
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._loop, name="autolog-system-metrics", daemon=True
                )
                self.thread.start()
            # Woken for a baseline at most once a BASELINE_FRESH: a run started meanwhile
            # gets the reading that wake takes (or, ended before it, needs none).
            stale = not fresh and now - self.woken_at > BASELINE_FRESH
            if stale:
                self.woken_at = now
            if stale or watch.due < self.next_wake:
                self.lock.notify()

    def remove(self, run: ActiveRun) -> _Watch | None:
        with self.lock:
            return self.watches.pop(run.id, None)

    def _loop(self) -> None:
        while True:
            with self.lock:
                while not self.watches:
                    # Idle: look again each BASELINE_FRESH, so that a new run (whose first
                    # sample is an interval away) need not wake this thread.
                    self.next_wake = self.clock() + BASELINE_FRESH
                    self.lock.wait(BASELINE_FRESH)
                new = [w for w in self.watches.values() if w.first is None]
                wake = min(w.due for w in self.watches.values())
                delay = wake - self.clock()
                if not new and delay > 0:
                    self.next_wake = wake
                    self.lock.wait(delay)  # woken early by a new run; the loop looks again
                    continue
            with capture_internal_errors("sampling system metrics"):
                if new:
                    # A new run's I/O counts from here: read in this thread, not at start_run.
                    baseline = _io_baseline()
                    with self.lock:
                        self.baseline, self.baseline_at = baseline, self.clock()
                        for watch in new:
                            watch.first = baseline
                else:
                    self.sample_due()

    def sample_due(self) -> None:
        """Read the system once and give the reading to every run whose sample is due."""
        usage = read_usage()
        gpus = _gpu_source().sample()
        stamp = time.time_ns() // 1_000_000
        now = self.clock()
        with self.lock:
            self.baseline, self.baseline_at = usage, now
            for watch in list(self.watches.values()):
                if watch.due > now:
                    continue
                metrics = _metrics(watch, usage, gpus, now)
                watch.run.log_metrics(metrics, step=watch.step, timestamp=stamp)
                watch.step += 1
                watch.last_wall, watch.last_cpu = now, usage.cpu_time
                # A sampler held up (a suspended laptop) skips the samples it missed.
                watch.due = max(watch.due + watch.interval, now + watch.interval / 2)


def _cpu_time() -> float:
    times = os.times()
    return times.user + times.system


def _metrics(watch: _Watch, usage: Usage, gpus: list[GpuSample], now: float) -> dict[str, float]:
    first = watch.first or usage
    metrics: dict[str, float] = {}
    elapsed = now - watch.last_wall
    if elapsed > 0:
        metrics["system/cpu_percent"] = round(100 * (usage.cpu_time - watch.last_cpu) / elapsed, 2)
    if usage.rss is not None:
        metrics["system/rss_mb"] = round(usage.rss / _MB, 2)
    if usage.memory_used is not None and usage.memory_total:
        metrics["system/memory_used_mb"] = round(usage.memory_used / _MB, 2)
        metrics["system/memory_percent"] = round(100 * usage.memory_used / usage.memory_total, 2)
    for name in ("disk_read", "disk_write", "network_receive", "network_transmit"):
        now_value, start_value = getattr(usage, name), getattr(first, name)
        if now_value is not None and start_value is not None:
            metrics[f"system/{name}_mb"] = round((now_value - start_value) / _MB, 3)
    for gpu in gpus:
        prefix = f"system/gpu_{gpu.index}"
        metrics[f"{prefix}/utilization_percent"] = gpu.utilization
        metrics[f"{prefix}/memory_used_mb"] = round(gpu.memory_used / _MB, 2)
        if gpu.memory_total:
            metrics[f"{prefix}/memory_percent"] = round(100 * gpu.memory_used / gpu.memory_total, 2)
    return metrics


_sampler = _Sampler()


def run_started(run: ActiveRun) -> None:
    """Sample `run` from now on, unless system metrics are off."""
    with capture_internal_errors("starting system metrics"):
        interval = _interval()
        if interval > 0:
            _sampler.add(run, interval)


def run_ended(run: ActiveRun) -> None:
    """Stop sampling `run` and log its summary: wall time, CPU time and peak RSS."""
    with capture_internal_errors("ending system metrics"):
        watch = _sampler.remove(run)
        if watch is None:
            return
        summary = {
            "system/wall_time_s": round(_sampler.clock() - watch.started, 3),
            "system/cpu_time_s": round(_cpu_time() - watch.start_cpu, 3),
        }
        peak = _peak_rss()
        if peak:
            summary["system/peak_rss_mb"] = round(peak / _MB, 2)
        run.log_metrics(summary, step=watch.step)


def _after_fork_in_child() -> None:
    global _sampler
    # The parent's thread does not exist in the child and its runs are not the child's.
    _sampler = _Sampler()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
