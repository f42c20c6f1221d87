"""Run status at process end: each case is a real child process against a file store."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from children import start_child

import autolog
from autolog._entities import Run, RunStatus

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

PRELUDE = """
import faulthandler, os, signal, sys, time
faulthandler.register(signal.SIGUSR1, all_threads=True)  # a hung child shows its stacks
# A fresh interpreter as a user starts it: a child inherits its parent's blocked and
# ignored signals, and some library loaded in the test process (not autolog) leaves SIGINT
# blocked or ignored there, so that a SIGINT never reached the sleeping child.
signal.pthread_sigmask(signal.SIG_SETMASK, set())
signal.signal(signal.SIGINT, signal.default_int_handler)
import autolog

def ready(run):
    print("RUN", run.id, flush=True)
    print("ready", flush=True)

def wait_in_a_run(seconds=60):
    with autolog.start_run() as run:
        autolog.log_metric("m", 1.0)
        ready(run)
        time.sleep(seconds)
"""


_children: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _kill_leftover_children() -> Iterator[None]:
    yield
    while _children:
        proc = _children.pop()
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


class Child:
    """A Python child process running `body` against the test's file store."""

    def __init__(self, body: str, store: Path, cwd: Path) -> None:
        script = PRELUDE + textwrap.dedent(body)
        self.proc = start_child(script, store, cwd, env={"PYTHONUNBUFFERED": "1"})
        _children.append(self.proc)
        self.lines: list[str] = []
        self._partial = b""

    def wait_for_line(self, wanted: str, timeout: float = 30.0) -> None:
        """Read stdout (unbuffered, so select() sees every byte) until `wanted` arrives."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while wanted not in self.lines:
                left = deadline - time.monotonic()
                assert left > 0, f"child never printed {wanted!r}; printed {self.lines}"
                if not selector.select(left):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError(
                        f"child exited before printing {wanted!r}: {self.finish()}"
                    )
                *done, self._partial = (self._partial + chunk).split(b"\n")
                self.lines.extend(line.decode() for line in done)

    def finish(self, timeout: float = 30.0) -> tuple[int, str, str]:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Hung: its threads' stacks (faulthandler, registered by PRELUDE) say where, and
            # its signal masks what it could not receive.
            status = Path(f"/proc/{self.proc.pid}/status")
            masks = [
                line for line in (status.read_text().splitlines() if status.exists() else [])
                if line.startswith(("SigBlk", "SigIgn", "SigPnd", "ShdPnd"))
            ]  # fmt: skip
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
            self.proc.kill()
            _, err = self.proc.communicate()
            raise AssertionError(
                f"child still running {timeout} s later; {masks}; its stacks:\n"
                f"{err.decode()[-6000:]}"
            ) from None
        self.lines.extend((self._partial + out).decode().splitlines())
        self._partial = b""
        return self.proc.returncode, "\n".join(self.lines), err.decode()

    @property
    def run_id(self) -> str:
        return next(line.split()[1] for line in self.lines if line.startswith("RUN "))


def run_child(body: str, store: Path, cwd: Path) -> tuple[Child, int, str, str]:
    child = Child(body, store, cwd)
    code, out, err = child.finish()
    return child, code, out, err


def signalled_child(body: str, signum: int, store: Path, cwd: Path) -> tuple[Child, int, str, str]:
    """Run `body`, send it `signum` once it printed "ready", and wait for it to end."""
    child = Child(body, store, cwd)
    child.wait_for_line("ready")
    child.proc.send_signal(signum)
    code, out, err = child.finish()
    return child, code, out, err


def stored(child: Child) -> Run:
    return autolog.get_run(child.run_id)


def test_normal_exit_ends_runs_finished(store_dir: Path, tmp_path: Path) -> None:
    child, code, _, err = run_child(
        """
        with autolog.start_run() as run:
            ready(run)
            for i in range(100):
                autolog.log_metric("m", float(i), step=i)
        loose = autolog.start_run()
        print("RUN2", loose.id, flush=True)
        autolog.log_metric("loose", 1.0)
        """,
        store_dir,
        tmp_path,
    )
    assert code == 0, err
    assert stored(child).status is RunStatus.FINISHED
    assert len(autolog.get_metric_history(child.run_id, "m")) == 100
    loose_id = next(line.split()[1] for line in child.lines if line.startswith("RUN2 "))
    loose = autolog.get_run(loose_id)
    # Never ended by the script: ended at exit, with everything it logged drained.
    assert loose.status is RunStatus.FINISHED
    assert loose.metrics == {"loose": 1.0}


def test_auto_started_run_is_finished_at_exit(store_dir: Path, tmp_path: Path) -> None:
    child, code, _, err = run_child(
        """
        autolog.log_param("alpha", 1)
        ready(autolog.active_run())
        """,
        store_dir,
        tmp_path,
    )
    assert code == 0, err
    run = stored(child)
    assert run.status is RunStatus.FINISHED
    assert run.params == {"alpha": "1"}


def test_uncaught_exception_ends_failed(store_dir: Path, tmp_path: Path) -> None:
    child, code, _, err = run_child(
        """
        with autolog.start_run() as run:
            ready(run)
            autolog.log_metric("before", 1.0)
            raise RuntimeError("boom in training")
        """,
        store_dir,
        tmp_path,
    )
    assert code == 1
    assert "RuntimeError: boom in training" in err  # the user's traceback is untouched
    run = stored(child)
    assert run.status is RunStatus.FAILED
    assert run.metrics == {"before": 1.0}
    assert run.tags["autolog.error"] == "RuntimeError: boom in training"
    error = autolog.download_artifacts(run.id, "error.txt", tmp_path / "dl").read_text()
    assert "boom in training" in error


def test_uncaught_exception_outside_with_ends_failed(store_dir: Path, tmp_path: Path) -> None:
    child, code, _, err = run_child(
        """
        run = autolog.start_run()
        ready(run)
        autolog.log_metric("before", 1.0)
        raise ValueError("no with block")
        """,
        store_dir,
        tmp_path,
    )
    assert code == 1
    assert "ValueError: no with block" in err
    run = stored(child)
    assert run.status is RunStatus.FAILED
    assert run.tags["autolog.error"] == "ValueError: no with block"
    assert run.metrics == {"before": 1.0}


def test_sigterm_ends_killed_and_drains(store_dir: Path, tmp_path: Path) -> None:
    child, code, _, err = signalled_child(
        """
        with autolog.start_run() as run:
            for i in range(50):
                autolog.log_metric("m", float(i), step=i)
            ready(run)
            time.sleep(60)
        """,
        signal.SIGTERM,
        store_dir,
        tmp_path,
    )
    # The default action still happens: the process is killed by SIGTERM.
    assert code == -signal.SIGTERM, err
    run = stored(child)
    assert run.status is RunStatus.KILLED
    assert run.end_time is not None
    assert [m.step for m in autolog.get_metric_history(run.id, "m")] == list(range(50))


def test_sigterm_calls_the_users_own_handler_too(store_dir: Path, tmp_path: Path) -> None:
    child, code, out, err = signalled_child(
        """
        def on_term(signum, frame):
            print("user handler called", flush=True)
            sys.exit(7)

        signal.signal(signal.SIGTERM, on_term)
        wait_in_a_run()
        """,
        signal.SIGTERM,
        store_dir,
        tmp_path,
    )
    assert code == 7, err
    assert "user handler called" in out
    run = stored(child)
    assert run.status is RunStatus.KILLED
    assert run.metrics == {"m": 1.0}
    # Already ended KILLED by SIGTERM: the SystemExit that followed records no error.
    assert "autolog.error" not in run.tags


def test_sigterm_with_an_auto_started_run(store_dir: Path, tmp_path: Path) -> None:
    child, code, _, err = signalled_child(
        """
        autolog.log_metric("m", 1.0)
        ready(autolog.active_run())
        time.sleep(60)
        """,
        signal.SIGTERM,
        store_dir,
        tmp_path,
    )
    assert code == -signal.SIGTERM, err
    assert stored(child).status is RunStatus.KILLED


def test_keyboard_interrupt_inside_with_ends_killed(store_dir: Path, tmp_path: Path) -> None:
    child, code, _, err = signalled_child(
        "wait_in_a_run()",
        signal.SIGINT,
        store_dir,
        tmp_path,
    )
    assert code != 0
    assert "KeyboardInterrupt" in err
    run = stored(child)
    assert run.status is RunStatus.KILLED
    assert run.metrics == {"m": 1.0}


def test_keyboard_interrupt_outside_with_ends_killed(store_dir: Path, tmp_path: Path) -> None:
    child, code, _, err = run_child(
        """
        run = autolog.start_run()
        ready(run)
        raise KeyboardInterrupt
        """,
        store_dir,
        tmp_path,
    )
    assert code != 0
    assert "KeyboardInterrupt" in err
    assert stored(child).status is RunStatus.KILLED


def test_an_ignored_sigterm_stays_ignored(store_dir: Path, tmp_path: Path) -> None:
    child, code, _, err = signalled_child(
        """
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        wait_in_a_run(1.0)
        """,
        signal.SIGTERM,
        store_dir,
        tmp_path,
    )
    assert code == 0, err
    assert stored(child).status is RunStatus.FINISHED


def test_sigterm_while_writing_in_sync_mode(store_dir: Path, tmp_path: Path) -> None:
    # In sync mode nearly every moment is spent inside autolog's own store write: the
    # signal lands there, and must neither deadlock nor lose what was written.
    child = Child(
        """
        autolog.configure(sync=True)
        with autolog.start_run() as run:
            i = 0
            while True:
                autolog.log_metric("m", float(i), step=i)
                i += 1
                if i == 100:
                    ready(run)
        """,
        store_dir,
        tmp_path,
    )
    child.wait_for_line("ready")
    child.proc.send_signal(signal.SIGTERM)
    code, _, err = child.finish(timeout=60)
    assert code == -signal.SIGTERM, err
    run = stored(child)
    assert run.status is RunStatus.KILLED
    steps = [m.step for m in autolog.get_metric_history(run.id, "m")]
    assert len(steps) >= 100
    assert steps == list(range(len(steps)))


def test_a_forked_child_does_not_end_the_parents_run(store_dir: Path, tmp_path: Path) -> None:
    child, code, _, err = run_child(
        """
        with autolog.start_run() as run:
            ready(run)
            autolog.log_metric("parent", 1.0)
            autolog.flush()
            pid = os.fork()
            if pid == 0:
                autolog.log_metric("child", 2.0)
                sys.exit(0)  # a normal exit: the exit handlers run in the child
            os.waitpid(pid, 0)
            status = autolog.get_run(run.id).status
            print("after child:", status, flush=True)
        """,
        store_dir,
        tmp_path,
    )
    assert code == 0, err
    assert "after child: RUNNING" in child.lines
    run = stored(child)
    assert run.status is RunStatus.FINISHED
    assert run.metrics == {"parent": 1.0, "child": 2.0}
