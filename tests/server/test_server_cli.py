"""`autolog server` and `autolog server db upgrade` as a user runs them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import requests
from trackingserver import ServerProcess, free_port

from autolog.backends.sql.schema import SCHEMA_REVISION


def _autolog(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autolog", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_db_upgrade_creates_the_schema_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = _autolog("server", "db", "upgrade", "--store", url, cwd=tmp_path)
    assert first.returncode == 0 and f"empty -> {SCHEMA_REVISION}" in first.stderr
    second = _autolog("server", "db", "upgrade", "--store", url, cwd=tmp_path)
    assert second.returncode == 0 and f"{SCHEMA_REVISION} -> {SCHEMA_REVISION}" in second.stderr


def test_a_database_at_another_revision_is_refused_with_the_command(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('0000')")
    done = _autolog(
        "server", "--store", f"sqlite:///{db}", "--port", str(free_port()), cwd=tmp_path
    )
    assert done.returncode == 2
    assert f"autolog server db upgrade --store sqlite:///{db}" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_server_starts_with_no_arguments_under_autolog_server(tmp_path: Path) -> None:
    proc = ServerProcess("unused", tmp_path / "unused")
    cmd = [sys.executable, "-m", "autolog", "server", "--port", str(proc.port)]
    child = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            try:
                r = requests.get(f"{proc.url}/api/autolog/v1/health", timeout=1)
                break
            except requests.RequestException:
                if child.poll() is not None:
                    raise AssertionError(child.stderr.read() if child.stderr else "") from None
                time.sleep(0.1)
        assert r.json()["server"] == "autolog"
        assert (tmp_path / "autolog-server" / "autolog.db").is_file()
    finally:
        child.terminate()
        child.wait(timeout=20)
        if child.stderr is not None:
            child.stderr.close()
