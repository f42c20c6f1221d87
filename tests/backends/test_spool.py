"""The on-disk spool: a live process's directory is never taken by another's orphans()."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from autolog.backends._spool import Spool, entries_of

fcntl = pytest.importorskip("fcntl")  # takeover needs flock; without it there is none


def test_a_new_spool_directory_is_never_taken_as_an_orphan(tmp_path: Path) -> None:
    """New spools are made while another spool looks for orphans, in a tight loop.

    A directory that became visible before its owner locked it was taken as an exited
    process's, delivered and deleted under its owner (a FileNotFoundError in the owner's
    next append: 8 clients starting at once against one server hit it in CI).
    """
    errors: list[BaseException] = []
    taken: list[Path] = []
    done = threading.Event()

    def owners() -> None:
        try:
            for i in range(300):
                spool = Spool("http://127.0.0.1:1", tmp_path)
                spool.append({"i": i})
                spool.append({"i": i, "second": True})
                assert [e.data for e in spool.pending()] == [{"i": i}, {"i": i, "second": True}]
                for entry in spool.pending():
                    entry.remove()
                spool.release_if_empty()
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)
        finally:
            done.set()

    def looker() -> None:
        other = Spool("http://127.0.0.1:1", tmp_path)
        while not done.is_set():
            with other.orphans() as directories:
                taken.extend(d for d in directories if any(d.glob("*.json")))

    threads = [threading.Thread(target=owners), threading.Thread(target=looker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and taken == []
    base = Spool("http://127.0.0.1:1", tmp_path).base
    assert sorted(p.name for p in base.iterdir()) == ["uri"]  # every spool released


def test_an_exited_owners_directory_is_taken_over_with_its_entries(tmp_path: Path) -> None:
    gone = Spool("http://127.0.0.1:1", tmp_path)
    gone.append({"n": 1})
    gone._lock_file.close()  # what the process's exit does to its lock
    alive = Spool("http://127.0.0.1:1", tmp_path)
    alive.append({"n": 2})
    with alive.orphans() as directories:
        assert directories == [gone.pending()[0].path.parent]
        assert [e.data for e in gone.pending()] == [{"n": 1}]
    assert gone.pending()  # not removed while it still holds an entry
    for entry in alive.pending():
        entry.remove()
    alive.release_if_empty()  # closes its lock


_FORKS = """
import os, sys, time
from pathlib import Path
from autolog.backends._spool import Spool
spool = Spool("http://127.0.0.1:1", Path(sys.argv[1]))
spool.append({"n": 1})
child = os.fork()
if child == 0:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # the test reads the parent's output to its end
        os.dup2(devnull, fd)
    time.sleep(60)  # outlives its parent, which exits with its entry undelivered
    os._exit(0)
print(child, flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")
def test_a_forked_child_does_not_keep_its_parents_spool_locked(tmp_path: Path) -> None:
    parent = subprocess.run(
        [sys.executable, "-c", _FORKS, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert parent.returncode == 0, parent.stderr
    child = int(parent.stdout)
    try:
        alive = Spool("http://127.0.0.1:1", tmp_path)
        with alive.orphans() as directories:  # the parent has exited; its child lives on
            assert [[e.data for e in entries_of(d)] for d in directories] == [[{"n": 1}]]
    finally:
        os.kill(child, signal.SIGKILL)
