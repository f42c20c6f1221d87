"""`autolog ui`'s own checks: a store that is not there, a server URI, a bad port."""

from __future__ import annotations

from pathlib import Path

import pytest

from autolog._cli.main import main


def test_a_missing_store_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    assert main(["ui", "--tracking-uri", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "--tracking-uri" in err


def test_a_server_is_opened_in_the_browser(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ui", "--tracking-uri", "http://127.0.0.1:5000"]) == 2
    assert "open http://127.0.0.1:5000 in a browser" in capsys.readouterr().err


def test_a_bad_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ui", "--tracking-uri", str(tmp_path), "--port", "70000"]) == 2
    assert "port 70000" in capsys.readouterr().err
