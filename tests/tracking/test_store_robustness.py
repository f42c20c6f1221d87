"""The directory store and its index under stress: many writers with a reader, and a full disk.

- 8 processes x 4 threads each log a run while another process lists the runs in a loop:
  every listing is a consistent table (no run half-shown, no failure) and at the end
  every point is there.
- A script logging a model and 10,000 points into a store on a 2 MB tmpfs that fills up:
  the script keeps its output and exit code, autolog says once what it could not write,
  and the store is readable once space is freed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest
from children import start_child
from processes import communicate_all

import autolog
from autolog._cli.main import main
from autolog._entities import RunStatus

pytestmark = pytest.mark.slow

PROCESSES = 8
THREADS = 4
POINTS = 300

# Each thread logs its own run: two params in one call, then POINTS points of `m` with
# value = step, flushed every 50, then ends the run. So a consistent snapshot of a run
# has both params or neither, and a FINISHED run has its last point.
WRITER = textwrap.dedent(
    f"""
    import sys, threading
    import autolog
    from autolog._tracking.settings import tracking

    proc = int(sys.argv[1])
    tracking.writer().compact_every = 3
    barrier = threading.Barrier({THREADS})

    def work(t):
        barrier.wait()
        run = autolog.start_run(name=f"p{{proc}}-t{{t}}")
        run.log_params({{"proc": proc, "thread": t}})
        for i in range({POINTS}):
            run.log_metric("m", float(i), step=i)
            if i % 50 == 49:
                autolog.flush()
        run.end()

    threads = [threading.Thread(target=work, args=(t,)) for t in range({THREADS})]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    """
)

READER = textwrap.dedent(
    f"""
    import contextlib, io, json, os, sys
    from autolog._cli.main import main
    from autolog._tracking.settings import tracking

    stop = sys.argv[1]
    reads = problems = 0
    while True:
        last = os.path.exists(stop)
        tracking.reset()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["runs", "--json", "-n", "1000"])
        if code != 0:
            print("exit code", code, file=sys.stderr)
            problems += 1
        for run in json.loads(out.getvalue() or "[]"):
            params, latest = run["params"], run["metrics"].get("m")
            if set(params) not in (set(), {{"proc", "thread"}}):
                print("half-shown params", run, file=sys.stderr)
                problems += 1
            if latest is not None and not params:
                print("metrics before params", run, file=sys.stderr)
                problems += 1
            if run["status"] == "FINISHED" and latest != {POINTS - 1}:
                print("finished without its last point", run, file=sys.stderr)
                problems += 1
        reads += 1
        if last:
            break
    print(reads, problems)
    """
)


def test_many_writers_and_a_reader_in_a_loop(tmp_path: Path) -> None:
    store = tmp_path / "runs"
    stop = tmp_path / "stop"
    reader_dir = tmp_path / "reader"
    reader_dir.mkdir()
    reader = start_child(READER, store, reader_dir, args=[str(stop)], text=True)
    writers = [
        start_child(WRITER, store, tmp_path, args=[str(p)], text=True) for p in range(PROCESSES)
    ]
    try:
        for proc, (_, err) in zip(writers, communicate_all(writers, 300), strict=True):
            assert proc.returncode == 0, err
            assert "could not write" not in err, err
    finally:
        stop.write_text("")
        out, err = reader.communicate(timeout=300)
    assert reader.returncode == 0, err
    reads, problems = (int(x) for x in out.split())
    assert problems == 0, err
    assert reads >= 2, out
    runs = autolog.search_runs()
    assert len(runs) == PROCESSES * THREADS
    for run in runs:
        assert run.status is RunStatus.FINISHED
        assert run.metrics["m"] == POINTS - 1
        history = autolog.get_metric_history(run.id, "m")
        assert [p.step for p in history] == list(range(POINTS))


FULL_DISK_SCRIPT = textwrap.dedent(
    """
    import sys
    import autolog
    from sklearn.linear_model import LogisticRegression

    autolog.enable()
    with autolog.start_run(name="full-disk"):
        model = LogisticRegression(max_iter=50).fit([[0.0, 1.0], [1.0, 0.0]] * 20, [0, 1] * 20)
        for i in range(10_000):
            autolog.log_metric("loss", 1.0 / (i + 1), step=i)
    print("script finished", model.predict([[0.0, 1.0]])[0])
    sys.exit(3)
    """
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Path:
    """A 2 MB tmpfs, unmounted afterwards; the test is skipped where it cannot be mounted."""
    where = tmp_path / "disk"
    where.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command to make a small tmpfs")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a 2 MB tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_full_disk_during_training(
    small_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sklearn")
    store = small_disk / "runs"
    # Leave the store about 60 KB: the model fits, the 10,000 points do not.
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    filler.write_bytes(b"\0" * (free - 60 * 1024))
    workdir = tmp_path / f"work-{uuid.uuid4().hex[:6]}"
    workdir.mkdir()
    env = {"AUTOLOG_STRICT": "0", "AUTOLOG_FLUSH_INTERVAL": "0.2"}
    proc = start_child(FULL_DISK_SCRIPT, store, workdir, env=env, text=True)
    assert proc.stderr is not None
    first: list[str] = []
    while line := proc.stderr.readline():  # autolog's warnings, until it says it cannot write
        first.append(line)
        if "could not write" in line:
            break
    assert any("No space left on device" in line for line in first), first
    filler.unlink()  # space is freed while the script runs or waits at exit
    out, rest = proc.communicate(timeout=300)
    err = "".join(first) + rest
    assert proc.returncode == 3, err
    assert out.strip() == "script finished 0", out
    assert err.count("could not write") == 1, err  # said once, not once per write
    assert "Traceback" not in err, err
    assert main(["--tracking-uri", str(store), "runs", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in runs] == ["full-disk"]
    autolog.configure(tracking_uri=str(store))
    history = autolog.get_metric_history(runs[0]["id"], "loss")
    assert len(history) == 10_000  # kept in memory and written once there was room
    assert autolog.list_artifacts(runs[0]["id"], "model")
    assert main(["--tracking-uri", str(store), "doctor"]) == 0
    assert not [p for p in store.rglob("*") if p.name.endswith(".autolog-tmp")]
