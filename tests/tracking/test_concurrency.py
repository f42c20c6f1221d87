"""Many processes and threads logging to one file store at once: nothing lost or duplicated.

One set of 8 child processes does both kinds of logging at once (starting processes
is the slow part): each of its 4 threads logs 1,000 points under its own key into the
process's own run, and the same points into one run shared by every process.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest
from children import start_child
from processes import communicate_all

import autolog
from autolog._entities import RunStatus
from autolog._tracking import runs as _runs
from autolog.backends.base import RunMeta
from autolog.backends.file import FileBackend

pytestmark = pytest.mark.slow

PROCESSES = 8
THREADS = 4
POINTS = 1000

# Values encode (process, thread, step), so that a point written twice or under the
# wrong key is caught. The writers flush and compact often, so that the batches,
# compactions and reads of several processes interleave.
CHILD = textwrap.dedent(
    f"""
    import sys, threading
    import autolog
    from autolog._tracking import runs as _runs
    from autolog._tracking.settings import tracking

    proc, shared_id = int(sys.argv[1]), sys.argv[2]
    tracking.writer().compact_every = 5
    own = autolog.start_run(name=f"proc-{{proc}}")
    shared = _runs.resume_run(shared_id)
    barrier = threading.Barrier({THREADS})

    def work(t):
        key = f"p{{proc}}/t{{t}}"
        barrier.wait()
        for i in range({POINTS}):
            value = proc * 1e6 + t * 1e4 + i
            own.log_metric(key, value, step=i)
            shared.log_metric(key, value, step=i)
            if i % 250 == 249:
                autolog.flush()

    threads = [threading.Thread(target=work, args=(t,)) for t in range({THREADS})]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    own.end()
    print(own.id)
    # What is still queued is left to the exit handler, which must drain it.
    """
)


@pytest.fixture(scope="module")
def spawned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[str]]:
    """Run the children once; return the store, the shared run's id and each own run's id."""
    cwd = tmp_path_factory.mktemp("concurrency")
    store = cwd / "runs"
    backend = FileBackend(store)
    shared_id = uuid.uuid4().hex
    exp = backend.get_or_create_experiment("Default")
    backend.create_run(RunMeta(shared_id, "shared", exp.id, 1_000))
    procs = [
        start_child(
            CHILD,
            store,
            cwd,
            args=[str(p), shared_id],
            env={"AUTOLOG_FLUSH_INTERVAL": "0.05"},
            text=True,
        )
        for p in range(PROCESSES)
    ]
    own_ids = []
    for proc, (out, err) in zip(procs, communicate_all(procs, 240), strict=True):
        assert proc.returncode == 0, err
        assert "could not write" not in err, err
        own_ids.append(out.strip())
    return store, shared_id, own_ids


def check_points(run_id: str, proc: int) -> None:
    for t in range(THREADS):
        history = autolog.get_metric_history(run_id, f"p{proc}/t{t}")
        assert [m.step for m in history] == list(range(POINTS)), (proc, t, len(history))
        assert [m.value for m in history] == [proc * 1e6 + t * 1e4 + i for i in range(POINTS)]


def test_each_process_its_own_run(spawned: tuple[Path, str, list[str]]) -> None:
    store, shared_id, own_ids = spawned
    autolog.configure(tracking_uri=str(store))
    assert len(set(own_ids)) == PROCESSES
    runs = {r.id: r for r in autolog.search_runs()}
    assert set(runs) == {*own_ids, shared_id}
    for proc, run_id in enumerate(own_ids):
        run = runs[run_id]
        assert run.status is RunStatus.FINISHED
        assert run.name == f"proc-{proc}"
        assert set(run.metrics) == {f"p{proc}/t{t}" for t in range(THREADS)}
        check_points(run_id, proc)


def test_all_processes_share_one_run(spawned: tuple[Path, str, list[str]]) -> None:
    store, shared_id, _ = spawned
    autolog.configure(tracking_uri=str(store))
    shared = autolog.get_run(shared_id)
    assert shared.status is RunStatus.RUNNING
    assert len(shared.metrics) == PROCESSES * THREADS
    _runs.resume_run(shared_id).end()
    assert autolog.get_run(shared_id).status is RunStatus.FINISHED
    # Ending it compacted everything every process wrote into one object.
    log = store / "runs" / shared_id / "log"
    assert list((log / "batches").iterdir()) == []
    assert len(list((log / "compact").iterdir())) == 1
    for proc in range(PROCESSES):
        check_points(shared_id, proc)
