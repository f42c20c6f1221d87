"""What the system metrics sampler costs: CPU time per sample, as a share of one core.

Two measures, both with one live run in a throwaway file store:

1. per sample: the CPU time (time.thread_time, this thread only) of one reading of
   /proc plus the metrics handed to the run, median of 200 samples; divided by
   the default interval (10 s) it is the sampler's share of one core;
2. end to end: the process's CPU time (every thread) while the main thread sleeps
   5 s and the sampler samples one run every 0.02 s, less the same 5 s with the
   sampler off, per sample (wake-ups included); scaled to the default interval
   the same way.

The target is under 0.1 % of one core at the default interval.

    .venv/bin/python bench/system_metrics_cost.py
"""

from __future__ import annotations

import statistics
import tempfile
import time

import autolog
from autolog._tracking import system_metrics
from autolog._tracking.system_metrics import DEFAULT_INTERVAL

SAMPLES = 200
FAST_INTERVAL = 0.02
FAST_SECONDS = 5.0


def _per_sample_ms() -> float:
    sampler = system_metrics._Sampler()
    with autolog.start_run() as run:
        sampler.add(run, FAST_INTERVAL)
        watch = sampler.watches[run.id]
        times = []
        for _ in range(SAMPLES):
            watch.due = 0.0  # due now
            start = time.thread_time()
            sampler.sample_due()
            times.append(time.thread_time() - start)
        sampler.remove(run)
    return statistics.median(times) * 1000


def _idle_cpu_s(seconds: float) -> float:
    """Process CPU time (every thread, clock_gettime: nanoseconds) over `seconds` of sleep."""
    start = time.process_time()
    time.sleep(seconds)
    return time.process_time() - start


def _end_to_end_ms() -> tuple[float, int]:
    autolog.configure(system_metrics=False)
    with autolog.start_run():
        baseline = _idle_cpu_s(FAST_SECONDS)
    autolog.configure(system_metrics=FAST_INTERVAL)
    with autolog.start_run() as run:
        time.sleep(0.2)  # the thread starts and takes its first reading
        steps_before = system_metrics._sampler.watches[run.id].step
        sampling = _idle_cpu_s(FAST_SECONDS)
        samples = system_metrics._sampler.watches[run.id].step - steps_before
    return max(sampling - baseline, 0.0) / max(samples, 1) * 1000, samples


def main() -> None:
    with tempfile.TemporaryDirectory() as store:
        autolog.configure(tracking_uri=store, system_metrics=False)
        per_sample = _per_sample_ms()
        share = per_sample / 1000 / DEFAULT_INTERVAL * 100
        print(f"per sample (reading + logging, median of {SAMPLES}): {per_sample:.3f} ms CPU")
        print(f"  at the default {DEFAULT_INTERVAL:g} s interval: {share:.4f} % of one core")
        cost, samples = _end_to_end_ms()
        share = cost / 1000 / DEFAULT_INTERVAL * 100
        print(
            f"whole process, {samples} samples every {FAST_INTERVAL:g} s, less the same time"
            f" idle: {cost:.3f} ms CPU per sample"
        )
        print(f"  at the default {DEFAULT_INTERVAL:g} s interval: {share:.4f} % of one core")
        autolog.flush()


if __name__ == "__main__":
    main()
