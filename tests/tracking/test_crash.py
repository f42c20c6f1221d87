"""A child killed with SIGKILL while logging: the store reads cleanly, nothing flushed is lost."""

from __future__ import annotations

import os
import selectors
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest
from children import start_child

import autolog
from autolog._entities import RunStatus
from autolog._tracking import runs as _runs

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# Compaction every few flushes and a short flush interval, so that the kill can land
# in the middle of a batch write, a compaction or the deletions after one.
CHILD = textwrap.dedent(
    """
    import autolog
    from autolog._tracking.settings import tracking

    tracking.writer().compact_every = 3
    with autolog.start_run(name="doomed") as run:
        autolog.log_param("alpha", 0.5)
        print("RUN", run.id, flush=True)
        i = 0
        while True:
            for _ in range(50):
                autolog.log_metric("m", i * 0.5, step=i)
                i += 1
            autolog.set_tag("logged", str(i))
            autolog.flush()
            print("FLUSHED", i, flush=True)
    """
)


def run_until_killed(store: Path, cwd: Path, flushes: int) -> tuple[str, int]:
    """Start the child, SIGKILL it after `flushes` flushes; return its run id and the
    number of points it had flushed when it was killed."""
    proc = start_child(CHILD, store, cwd, env={"AUTOLOG_FLUSH_INTERVAL": "0.01"})
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    lines: list[str] = []
    partial = b""
    deadline = time.monotonic() + 60
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while sum(line.startswith("FLUSHED") for line in lines) < flushes:
                assert time.monotonic() < deadline, lines[-3:]
                if not selector.select(1.0):
                    continue
                chunk = os.read(fd, 65536)
                assert chunk, proc.communicate()[1]
                *done, partial = (partial + chunk).split(b"\n")
                lines.extend(line.decode() for line in done)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        out, _err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # Lines printed before the kill landed count too: each was printed after its flush.
    lines.extend((partial + out).decode().splitlines())
    flushed = [int(line.split()[1]) for line in lines if line.startswith("FLUSHED ")]
    run_id = next(line.split()[1] for line in lines if line.startswith("RUN "))
    return run_id, flushed[-1]


@pytest.mark.parametrize("flushes", [1, 4, 15])
def test_store_reads_cleanly_after_sigkill(store_dir: Path, tmp_path: Path, flushes: int) -> None:
    run_id, flushed = run_until_killed(store_dir, tmp_path, flushes)
    run = autolog.get_run(run_id)
    assert run.status is RunStatus.RUNNING  # nothing could end it
    assert run.name == "doomed"
    assert run.params == {"alpha": "0.5"}
    assert int(run.tags["logged"]) >= flushed
    assert [r.id for r in autolog.search_runs()] == [run_id]
    assert [r.id for r in autolog.search_runs(filter="metrics.m >= 0")] == [run_id]
    history = autolog.get_metric_history(run_id, "m")
    steps = [m.step for m in history]
    # Everything flushed is there; what the writer managed after it comes in order,
    # with no gap and no point twice.
    assert len(steps) >= flushed
    assert steps == list(range(len(steps)))
    assert [m.value for m in history] == [s * 0.5 for s in steps]
    assert run.metrics["m"] == steps[-1] * 0.5
    assert autolog.list_artifacts(run_id) == []
    # Another process can still end and compact the crashed run.
    _runs.resume_run(run_id).end("KILLED")
    assert autolog.get_run(run_id).status is RunStatus.KILLED
    assert [m.step for m in autolog.get_metric_history(run_id, "m")] == steps
    assert list((store_dir / "runs" / run_id / "log" / "batches").iterdir()) == []
