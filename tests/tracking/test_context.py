"""Tests of the run-context capture: system, source, git (with real repositories) and packages."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import autolog
from autolog._tracking import context as _context
from autolog._tracking import system_metrics
from autolog._tracking.context import (
    Capture,
    RunContext,
    process_context,
    reset_cache,
    strip_credentials,
)
from autolog._validation import check_relative_path
from autolog.errors import InvalidValueError

REPO_ROOT = Path(__file__).resolve().parents[2]

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git executable")
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")

ONLY_GIT = Capture(git=True, source=False, packages=False, system=False)
ONLY_SOURCE = Capture(git=False, source=True, packages=False, system=False)
ONLY_SYSTEM = Capture(git=False, source=False, packages=False, system=True)
ONLY_PACKAGES = Capture(git=False, source=False, packages=True, system=False)
NOTHING = Capture(git=False, source=False, packages=False, system=False)


@pytest.fixture(autouse=True)
def _fresh_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty cache, and git that ignores the user's own configuration."""
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.delenv("GIT_WORK_TREE", raising=False)
    monkeypatch.delenv(_context.DISABLE_CAPTURE_ENV, raising=False)
    reset_cache()
    yield
    reset_cache()


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` as a test author and return its stdout."""
    result = subprocess.run(
        ["git", "-c", "user.email=test@example.com", "-c", "user.name=Test", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def make_repo(path: Path) -> Path:
    """A repository on branch `main` with one commit holding `train.py` and `data.bin`."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    git(path, "symbolic-ref", "HEAD", "refs/heads/main")
    (path / "train.py").write_text("print('old')\n")
    (path / "data.bin").write_bytes(bytes(range(256)) * 4)
    git(path, "add", "train.py", "data.bin")
    git(path, "commit", "-q", "-m", "first")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def proc_for(
    script: Path | None,
    *,
    cwd: Path | None = None,
    argv: list[str] | None = None,
    main_file: str | None = None,
    main_module: str | None = None,
    shell: str | None = None,
) -> _context._Process:
    """A process description as if `script` had been run with `python script`."""
    if argv is None:
        argv = [str(script) if script is not None else "", "--epochs", "3"]
    return _context._Process(
        argv=argv,
        executable="/usr/bin/python3",
        cwd=str(cwd if cwd is not None else (script.parent if script else Path.cwd())),
        main_file=main_file if main_file is not None else (str(script) if script else None),
        main_module=main_module,
        shell=shell,
    )


def git_tags(ctx: RunContext) -> dict[str, str]:
    return {k: v for k, v in ctx.tags.items() if k.startswith("autolog.git.")}


class CountingPopen:
    """Wraps subprocess.Popen to count the git processes started."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.real = subprocess.Popen

    def __call__(self, args: Any, *a: Any, **kw: Any) -> Any:
        self.calls.append(list(args))
        return self.real(args, *a, **kw)


# --- Capture --------------------------------------------------------------------------------


def test_capture_defaults_to_everything() -> None:
    assert Capture() == Capture(git=True, source=True, packages=True, system=True)
    assert Capture.from_env({}) == Capture()
    assert Capture.from_env({"AUTOLOG_DISABLE_CAPTURE": ""}) == Capture()
    assert Capture.from_env({"AUTOLOG_DISABLE_CAPTURE": " , "}) == Capture()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("git", Capture(git=False)),
        ("git,packages", Capture(git=False, packages=False)),
        ("GIT, Packages", Capture(git=False, packages=False)),
        ("source system", Capture(source=False, system=False)),
        ("  git,,source\t", Capture(git=False, source=False)),
        ("all", NOTHING),
        ("ALL", NOTHING),
        ("git,all", NOTHING),
    ],
)
def test_capture_from_env(value: str, expected: Capture) -> None:
    assert Capture.from_env({"AUTOLOG_DISABLE_CAPTURE": value}) == expected


def test_capture_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOLOG_DISABLE_CAPTURE", "packages")
    assert Capture.from_env() == Capture(packages=False)


@pytest.mark.parametrize("value", ["gti", "git,pakages", "everything", "git;source"])
def test_capture_from_env_refuses_unknown_names(value: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        Capture.from_env({"AUTOLOG_DISABLE_CAPTURE": value})
    message = str(info.value)
    assert "AUTOLOG_DISABLE_CAPTURE" in message
    bad = [n for n in value.replace(",", " ").split() if n not in ("git", "source")]
    assert all(repr(n) in message for n in bad)
    for name in ("all", "git", "packages", "source", "system"):
        assert name in message


def test_capture_from_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Capture.from_names(frozenset({"git", "packages"})) == Capture(git=False, packages=False)
    assert Capture.from_names(["Source"]) == Capture(source=False)
    assert Capture.from_names("git,system") == Capture(git=False, system=False)
    assert Capture.from_names(()) == Capture()
    monkeypatch.setenv("AUTOLOG_DISABLE_CAPTURE", "all")
    assert Capture.from_names(None) == NOTHING
    with pytest.raises(InvalidValueError, match="'nope'"):
        Capture.from_names({"nope"})


def test_capture_is_hashable_and_frozen() -> None:
    assert hash(Capture()) == hash(Capture())
    with pytest.raises(AttributeError):
        Capture().git = False  # type: ignore[misc]


# --- strip_credentials ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:token@github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("https://ghp_abc123@github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("https://user@github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("https://oauth2:glpat-x_y@gitlab.com/g/p.git", "https://gitlab.com/g/p.git"),
        ("https://@host/x.git", "https://host/x.git"),
        ("http://user:pass@host/x.git", "http://host/x.git"),
        ("HTTPS://User:Pass@Host/x.git", "HTTPS://Host/x.git"),
        ("https://user:tok@host:8443/x.git", "https://host:8443/x.git"),
        ("https://host:8443/x.git", "https://host:8443/x.git"),
        ("https://user:tok@[::1]:8443/x.git", "https://[::1]:8443/x.git"),
        ("https://host/x.git?token=secret", "https://host/x.git"),
        ("https://host/x.git?a=1&private_token=secret#frag", "https://host/x.git"),
        ("https://user:pw@host?token=secret", "https://host"),
        ("https://host/x.git#readme", "https://host/x.git"),
        ("git+https://user:pw@host/x.git?t=1", "git+https://host/x.git"),
        # Sloppy passwords with raw reserved characters are cut, never partly leaked.
        ("https://user:p@ss@host/x.git", "https://host/x.git"),
        ("https://user:p#ss@host/x.git", "https://host/x.git"),
        ("https://user:p?ss@host/x.git", "https://host/x.git"),
        ("https://user:pa/ss@host/x.git", "https://host/x.git"),
        ("ssh://user:pass@host/x.git", "ssh://user@host/x.git"),
        ("ssh://git@github.com/org/repo.git", "ssh://git@github.com/org/repo.git"),
        ("ssh://git:secret@host:2222/repo.git", "ssh://git@host:2222/repo.git"),
        ("ssh://:secret@host/repo.git", "ssh://host/repo.git"),
        ("git+ssh://git:pw@host/r.git", "git+ssh://git@host/r.git"),
        ("git://host/repo.git", "git://host/repo.git"),
        ("ftp://user:pass@host/r.git", "ftp://host/r.git"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("github.com:org/repo.git", "github.com:org/repo.git"),
        ("file:///srv/git/repo.git", "file:///srv/git/repo.git"),
        ("/srv/git/repo.git", "/srv/git/repo.git"),
        ("../sibling/repo", "../sibling/repo"),
        ("C:\\repos\\x", "C:\\repos\\x"),
        ("", ""),
    ],
)
def test_strip_credentials(url: str, expected: str) -> None:
    assert strip_credentials(url) == expected
    assert strip_credentials(expected) == expected


def test_strip_credentials_never_keeps_a_secret() -> None:
    for url in [
        "https://u:SECRET@h/x",
        "https://SECRET@h/x",
        "http://u:SECRET@h:1/x?SECRET",
        "https://h/x?token=SECRET",
        "ssh://u:SECRET@h/x",
        "https://u:SEC/RET@h/x",
    ]:
        assert "SEC" not in strip_credentials(url), url


# --- system ---------------------------------------------------------------------------------


def test_system_tags(tmp_path: Path) -> None:
    import platform

    script = tmp_path / "train.py"
    script.write_text("")
    ctx = _context._compute(ONLY_SYSTEM, proc_for(script))
    tags = ctx.tags
    host = system_metrics.host_facts()
    assert {"autolog.host.cpu_count", "autolog.host.memory_total_mb"} <= set(host)
    assert set(tags) - set(host) == {
        "autolog.cwd",
        "autolog.user",
        "autolog.host",
        "autolog.python",
        "autolog.python.implementation",
        "autolog.platform",
        "autolog.command",
        "autolog.pid",
    }
    assert tags["autolog.python"] == platform.python_version()
    assert tags["autolog.python.implementation"] == platform.python_implementation()
    assert tags["autolog.platform"] == platform.platform()
    assert tags["autolog.pid"] == str(os.getpid())
    assert tags["autolog.cwd"] == str(tmp_path)
    assert tags["autolog.command"] == shlex.join(["/usr/bin/python3", str(script), "--epochs", "3"])
    assert ctx.artifacts == {}
    assert all(isinstance(v, str) for v in tags.values())


def test_command_is_truncated(tmp_path: Path) -> None:
    ctx = _context._compute(ONLY_SYSTEM, proc_for(None, argv=["x.py", "a" * 10_000]))
    assert len(ctx.tags["autolog.command"]) == 4000


def test_user_falls_back_to_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    def no_user() -> str:
        raise OSError("no passwd entry")

    monkeypatch.setattr(getpass, "getuser", no_user)
    monkeypatch.setenv("USER", "alice")
    assert _context._compute(ONLY_SYSTEM, proc_for(None)).tags["autolog.user"] == "alice"
    monkeypatch.delenv("USER")
    monkeypatch.setenv("USERNAME", "bob")
    assert _context._compute(ONLY_SYSTEM, proc_for(None)).tags["autolog.user"] == "bob"
    monkeypatch.delenv("USERNAME")
    assert "autolog.user" not in _context._compute(ONLY_SYSTEM, proc_for(None)).tags


# --- source ---------------------------------------------------------------------------------


def test_source_of_a_script(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_bytes(b"print('hi')\n")
    ctx = _context._compute(ONLY_SOURCE, proc_for(script))
    assert ctx.tags == {
        "autolog.source.type": "script",
        "autolog.source.path": str(script),
        "autolog.source.name": "train.py",
        "autolog.source.sha256": hashlib.sha256(b"print('hi')\n").hexdigest(),
        "autolog.source.copied": "true",
    }
    assert ctx.artifacts == {"context/source/train.py": b"print('hi')\n"}


def test_relative_argv0_is_resolved_against_the_process_cwd(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    script = tmp_path / "sub" / "train.py"
    script.write_text("")
    proc = proc_for(None, cwd=tmp_path, argv=["sub/train.py"], main_file="")
    assert _context._compute(ONLY_SOURCE, proc).tags["autolog.source.path"] == str(script)


def test_main_file_is_used_when_argv0_is_not_a_file(tmp_path: Path) -> None:
    script = tmp_path / "entry.py"
    script.write_text("x = 1\n")
    proc = proc_for(None, argv=["not-a-file"], main_file=str(script), cwd=tmp_path)
    tags = _context._compute(ONLY_SOURCE, proc).tags
    assert tags["autolog.source.type"] == "script"
    assert tags["autolog.source.path"] == str(script)


def test_source_of_a_module(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    main = pkg / "__main__.py"
    main.write_text("")
    proc = proc_for(
        None, argv=[str(main), "--fast"], main_file=str(main), main_module="pkg.__main__"
    )
    ctx = _context._compute(Capture(git=False, packages=False), proc)
    assert ctx.tags["autolog.source.type"] == "module"
    assert ctx.tags["autolog.source.module"] == "pkg"
    assert ctx.tags["autolog.source.path"] == str(main)
    assert ctx.tags["autolog.command"] == "/usr/bin/python3 -m pkg --fast"
    assert "context/source/__main__.py" in ctx.artifacts


def test_spec_named_main_is_a_script(tmp_path: Path) -> None:
    # `python some_dir/` runs some_dir/__main__.py with __spec__.name == "__main__".
    main = tmp_path / "__main__.py"
    main.write_text("")
    proc = proc_for(None, argv=[str(tmp_path)], main_file=str(main), main_module="__main__")
    assert _context._compute(ONLY_SOURCE, proc).tags["autolog.source.type"] == "script"


@pytest.mark.parametrize("argv0", ["", "-c", "-"])
def test_interactive_session_has_no_source(argv0: str) -> None:
    ctx = _context._compute(ONLY_SOURCE, proc_for(None, argv=[argv0]))
    assert ctx.tags == {"autolog.source.type": "interactive"}
    assert ctx.artifacts == {}


def test_notebook_has_no_source(tmp_path: Path) -> None:
    launcher = tmp_path / "ipykernel_launcher.py"
    launcher.write_text("")
    proc = proc_for(None, argv=[str(launcher), "-f", "kernel.json"], shell="notebook")
    ctx = _context._compute(ONLY_SOURCE, proc)
    assert ctx.tags == {"autolog.source.type": "notebook"}
    assert ctx.artifacts == {}


def test_script_that_imports_ipykernel_keeps_its_source(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("")
    tags = _context._compute(ONLY_SOURCE, proc_for(script, shell="notebook")).tags
    assert tags["autolog.source.type"] == "script"


def test_current_process_detects_a_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _context._current_process().shell is None
    monkeypatch.setitem(sys.modules, "ipykernel", sys)
    assert _context._current_process().shell == "notebook"


def test_large_source_is_hashed_not_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_context, "_MAX_SOURCE_BYTES", 1000)
    content = b"#" * 5000
    script = tmp_path / "big.py"
    script.write_bytes(content)
    ctx = _context._compute(ONLY_SOURCE, proc_for(script))
    assert ctx.tags["autolog.source.copied"] == "false"
    assert ctx.tags["autolog.source.sha256"] == hashlib.sha256(content).hexdigest()
    assert ctx.artifacts == {}


def test_default_source_limit_is_5_mb() -> None:
    assert _context._MAX_SOURCE_BYTES == 5 * 1024 * 1024


@posix_only
def test_odd_script_names_give_valid_artifact_paths(tmp_path: Path) -> None:
    script = tmp_path / "run%2e\\x.py"
    script.write_text("")
    ctx = _context._compute(ONLY_SOURCE, proc_for(script))
    assert ctx.tags["autolog.source.name"] == "run%2e\\x.py"
    (path,) = ctx.artifacts
    assert check_relative_path(path) == path


@posix_only
def test_undecodable_path_gives_encodable_tags(tmp_path: Path) -> None:
    script = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.py"))
    script.write_text("")
    ctx = _context._compute(ONLY_SOURCE, proc_for(script))
    for value in ctx.tags.values():
        value.encode("utf-8")
    assert ctx.tags["autolog.source.name"] == "caf\ufffd.py"


# --- git ------------------------------------------------------------------------------------


@needs_git
def test_git_clean_repo(repo: Path) -> None:
    ctx = _context._compute(ONLY_GIT, proc_for(repo / "train.py"))
    assert git_tags(ctx) == {
        "autolog.git.commit": git(repo, "rev-parse", "HEAD").strip(),
        "autolog.git.branch": "main",
        "autolog.git.dirty": "false",
        "autolog.git.root": os.path.normpath(git(repo, "rev-parse", "--show-toplevel").strip()),
    }
    assert ctx.artifacts == {}


@needs_git
def test_git_dirty_repo_has_the_diff(repo: Path) -> None:
    (repo / "train.py").write_text("print('new')\n")
    ctx = _context._compute(ONLY_GIT, proc_for(repo / "train.py"))
    assert ctx.tags["autolog.git.dirty"] == "true"
    assert ctx.tags["autolog.git.diff_truncated"] == "false"
    diff = ctx.artifacts["context/git.diff"]
    assert b"diff --git a/train.py b/train.py" in diff
    assert b"-print('old')" in diff
    assert b"+print('new')" in diff


@needs_git
def test_staged_change_is_dirty(repo: Path) -> None:
    (repo / "train.py").write_text("print('staged')\n")
    git(repo, "add", "train.py")
    ctx = _context._compute(ONLY_GIT, proc_for(repo / "train.py"))
    assert ctx.tags["autolog.git.dirty"] == "true"
    assert b"+print('staged')" in ctx.artifacts["context/git.diff"]


@needs_git
def test_untracked_files_do_not_make_a_repo_dirty(repo: Path) -> None:
    (repo / "notes.txt").write_text("scratch\n")
    (repo / "outputs").mkdir()
    (repo / "outputs" / "model.bin").write_bytes(b"\0" * 100)
    ctx = _context._compute(ONLY_GIT, proc_for(repo / "train.py"))
    assert ctx.tags["autolog.git.dirty"] == "false"
    assert ctx.artifacts == {}


@needs_git
def test_diff_applies_to_the_commit_binary_files_included(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("print('new')\nprint('ünïcode')\n", encoding="utf-8")
    (repo / "data.bin").write_bytes(bytes(reversed(range(256))) * 4)
    (repo / "naïve name.txt").write_text("tracked\n")
    git(repo, "add", "naïve name.txt")
    ctx = _context._compute(ONLY_GIT, proc_for(repo / "train.py"))
    diff = ctx.artifacts["context/git.diff"]
    assert b"GIT binary patch" in diff
    # Quoted paths would read "na\303\257ve"; core.quotepath=off keeps them as they are.
    assert "naïve name.txt".encode() in diff

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "checkout", "-q", ctx.tags["autolog.git.commit"])
    (tmp_path / "run.diff").write_bytes(diff)
    git(clone, "apply", str(tmp_path / "run.diff"))
    for name in ("train.py", "data.bin", "naïve name.txt"):
        assert (clone / name).read_bytes() == (repo / name).read_bytes()


@needs_git
def test_diff_prefixes_ignore_user_config(repo: Path) -> None:
    git(repo, "config", "diff.noprefix", "true")
    git(repo, "config", "color.ui", "always")
    (repo / "train.py").write_text("print('new')\n")
    diff = _context._compute(ONLY_GIT, proc_for(repo / "train.py")).artifacts["context/git.diff"]
    assert b"--- a/train.py" in diff
    assert b"\x1b[" not in diff


@needs_git
def test_large_diff_is_truncated(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_context, "_MAX_DIFF_BYTES", 300)
    (repo / "train.py").write_text("".join(f"print({i})\n" for i in range(1000)))
    ctx = _context._compute(ONLY_GIT, proc_for(repo / "train.py"))
    assert ctx.tags["autolog.git.dirty"] == "true"
    assert ctx.tags["autolog.git.diff_truncated"] == "true"
    assert len(ctx.artifacts["context/git.diff"]) == 300


def test_default_diff_limit_is_10_mb() -> None:
    assert _context._MAX_DIFF_BYTES == 10 * 1024 * 1024


@needs_git
def test_detached_head_has_no_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    tags = _context._compute(ONLY_GIT, proc_for(repo / "train.py")).tags
    assert "autolog.git.branch" not in tags
    assert tags["autolog.git.commit"] == git(repo, "rev-parse", "HEAD").strip()


@needs_git
def test_branch_with_slashes(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature/x-1")
    tags = _context._compute(ONLY_GIT, proc_for(repo / "train.py")).tags
    assert tags["autolog.git.branch"] == "feature/x-1"


@needs_git
def test_remote_origin_without_credentials(repo: Path) -> None:
    git(repo, "remote", "add", "upstream", "https://up.example.com/u.git")
    git(repo, "remote", "add", "origin", "https://me:ghp_SECRET@github.com/me/repo.git")
    tags = _context._compute(ONLY_GIT, proc_for(repo / "train.py")).tags
    assert tags["autolog.git.remote"] == "https://github.com/me/repo.git"


@needs_git
def test_remote_first_when_no_origin(repo: Path) -> None:
    git(repo, "remote", "add", "my.fork", "git@github.com:me/repo.git")
    git(repo, "remote", "add", "zzz", "https://z.example.com/z.git")
    tags = _context._compute(ONLY_GIT, proc_for(repo / "train.py")).tags
    assert tags["autolog.git.remote"] == "git@github.com:me/repo.git"


@needs_git
def test_script_in_a_subdirectory(repo: Path) -> None:
    (repo / "src").mkdir()
    (repo / "src" / "fit.py").write_text("")
    tags = _context._compute(ONLY_GIT, proc_for(repo / "src" / "fit.py")).tags
    assert tags["autolog.git.root"] == os.path.normpath(
        git(repo, "rev-parse", "--show-toplevel").strip()
    )


@needs_git
def test_git_is_found_from_the_script_not_the_cwd(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    tags = _context._compute(ONLY_GIT, proc_for(repo / "train.py", cwd=elsewhere)).tags
    assert "autolog.git.commit" in tags


@needs_git
def test_git_is_found_from_the_cwd_without_a_script(repo: Path) -> None:
    tags = _context._compute(ONLY_GIT, proc_for(None, cwd=repo, argv=[""])).tags
    assert "autolog.git.commit" in tags


@needs_git
def test_not_a_repository_gives_no_git_tags(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "train.py").write_text("")
    ctx = _context._compute(Capture(packages=False), proc_for(plain / "train.py"))
    assert git_tags(ctx) == {}
    assert "autolog.source.sha256" in ctx.tags


@needs_git
def test_repository_without_commits_gives_no_git_tags(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    (empty / "train.py").write_text("")
    assert git_tags(_context._compute(ONLY_GIT, proc_for(empty / "train.py"))) == {}


def test_no_git_executable_gives_no_git_tags(
    repo_or_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    ctx = _context._compute(Capture(packages=False), proc_for(repo_or_dir / "train.py"))
    assert git_tags(ctx) == {}
    assert ctx.tags["autolog.source.type"] == "script"
    assert "autolog.pid" in ctx.tags


@pytest.fixture
def repo_or_dir(tmp_path: Path) -> Path:
    """A repository when git is installed, else a plain directory with the same script."""
    if shutil.which("git"):
        return make_repo(tmp_path / "repo")
    (tmp_path / "train.py").write_text("")
    return tmp_path


@posix_only
def test_hung_git_is_killed_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    fake_git = fake_bin / "git"
    # Not `exec`: the sleeping child holds the pipe too and must be killed with git.
    fake_git.write_text("#!/bin/sh\nsleep 30\necho late\n")
    fake_git.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(_context, "_GIT_TIMEOUT_S", 0.3)
    started = time.monotonic()
    assert _context._git(["status"], str(tmp_path)) is None
    assert git_tags(_context._compute(ONLY_GIT, proc_for(None, cwd=tmp_path, argv=[""]))) == {}
    assert time.monotonic() - started < 5


def test_default_git_timeout_is_5_s() -> None:
    assert _context._GIT_TIMEOUT_S == 5.0


@needs_git
def test_git_environment_and_arguments(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[list[str], dict[str, str]]] = []
    real = subprocess.Popen

    def spy(args: Any, *a: Any, **kw: Any) -> Any:
        seen.append((list(args), dict(kw["env"])))
        return real(args, *a, **kw)

    monkeypatch.setattr(subprocess, "Popen", spy)
    (repo / "train.py").write_text("changed\n")
    _context._compute(ONLY_GIT, proc_for(repo / "train.py"))
    assert [args[3] for args, _ in seen] == ["rev-parse", "status", "diff", "config"]
    for args, env in seen:
        assert args[:3] == ["git", "-c", "core.quotepath=off"]
        assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert seen[1][0][3:] == ["status", "--porcelain", "--untracked-files=no"]


@needs_git
@pytest.mark.parametrize(("dirty", "expected_calls"), [(False, 3), (True, 4)])
def test_git_call_count(
    repo: Path, monkeypatch: pytest.MonkeyPatch, dirty: bool, expected_calls: int
) -> None:
    if dirty:
        (repo / "train.py").write_text("changed\n")
    counter = CountingPopen()
    monkeypatch.setattr(subprocess, "Popen", counter)
    _context._compute(ONLY_GIT, proc_for(repo / "train.py"))
    assert len(counter.calls) == expected_calls


# --- packages -------------------------------------------------------------------------------


def test_requirements_lists_installed_distributions() -> None:
    ctx = _context._compute(ONLY_PACKAGES, proc_for(None))
    lines = ctx.artifacts["context/requirements.txt"].decode().splitlines()
    assert f"pytest=={pytest.__version__}" in lines
    names = [line.split("==")[0] for line in lines]
    assert names == sorted(names, key=str.lower)
    assert len({n.lower().replace("_", "-") for n in names}) == len(names)
    assert all(line.count("==") == 1 for line in lines)


class FakeDist:
    def __init__(self, name: Any, version: Any) -> None:
        self._name = name
        self.version = version

    @property
    def name(self) -> Any:
        if isinstance(self._name, Exception):
            raise self._name
        return self._name


def test_packages_dedupe_sort_and_library_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    dists = [
        FakeDist("zeta", "1"),
        FakeDist("numpy", "2.1.0"),
        FakeDist("Alpha", "3"),
        FakeDist("scikit_learn", "1.5.2"),
        FakeDist("numpy", "1.0"),  # later on sys.path: shadowed by the first
        FakeDist("beta", "0.1"),
        FakeDist(KeyError("Name"), "9"),  # a broken distribution is skipped
        FakeDist(None, "9"),
        FakeDist("XGBoost", "2.0.3"),
    ]
    monkeypatch.setattr(metadata, "distributions", lambda: iter(dists))
    ctx = _context._compute(ONLY_PACKAGES, proc_for(None))
    assert ctx.artifacts["context/requirements.txt"] == (
        b"Alpha==3\nbeta==0.1\nnumpy==2.1.0\nscikit_learn==1.5.2\nXGBoost==2.0.3\nzeta==1\n"
    )
    assert ctx.tags == {
        "autolog.lib.numpy": "2.1.0",
        "autolog.lib.scikit-learn": "1.5.2",
        "autolog.lib.xgboost": "2.0.3",
    }


# --- robustness ------------------------------------------------------------------------------


def test_a_failing_part_is_skipped_and_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*args: Any) -> Any:
        raise RuntimeError("git exploded")

    monkeypatch.setattr(_context, "_git_context", boom)
    monkeypatch.setattr(_context, "_source_context", boom)
    script = tmp_path / "train.py"
    script.write_text("")
    with caplog.at_level(logging.DEBUG, logger="autolog"):
        ctx = _context._compute(Capture(packages=False), proc_for(script))
    assert "autolog.pid" in ctx.tags
    assert not any(k.startswith(("autolog.git.", "autolog.source.")) for k in ctx.tags)
    messages = [r.getMessage() for r in caplog.records if r.name == "autolog"]
    assert any("git" in m for m in messages)
    assert any("source" in m for m in messages)
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "autolog")


def test_process_context_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> Any:
        raise RuntimeError("no process")

    monkeypatch.setattr(_context, "_current_process", boom)
    assert process_context(Capture()) == RunContext(tags={}, artifacts={})


def test_nothing_captured() -> None:
    assert process_context(NOTHING) == RunContext(tags={}, artifacts={})


# --- caching --------------------------------------------------------------------------------


def test_process_context_is_cached_per_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingPopen()
    monkeypatch.setattr(subprocess, "Popen", counter)
    first = process_context(Capture())
    calls = len(counter.calls)
    assert process_context(Capture()) is first
    assert len(counter.calls) == calls
    assert process_context(Capture(git=True, packages=False)) is not first
    assert process_context(Capture.from_env({})) is first
    reset_cache()
    again = process_context(Capture())
    assert again is not first
    assert again.tags["autolog.pid"] == first.tags["autolog.pid"]


def test_process_context_computes_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    computed: list[int] = []
    real = _context._compute

    def slow(capture: Capture, proc: _context._Process) -> RunContext:
        computed.append(1)
        time.sleep(0.2)
        return real(capture, proc)

    monkeypatch.setattr(_context, "_compute", slow)
    barrier = threading.Barrier(8)
    results: list[RunContext] = []

    def worker() -> None:
        barrier.wait()
        results.append(process_context(ONLY_SYSTEM))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == 8
    assert all(r is results[0] for r in results)
    assert computed == [1]


@posix_only
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_recomputes_even_with_the_lock_held() -> None:
    parent = process_context(ONLY_SYSTEM)
    # Another thread is inside process_context (holds the lock) at the moment of the fork.
    _context._cache.lock.acquire()
    try:
        read_fd, write_fd = os.pipe()
        with warnings.catch_warnings():
            # Python 3.12+ warns about fork() while other threads (of earlier tests) run.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.close(read_fd)
                tags = process_context(ONLY_SYSTEM).tags
                os.write(write_fd, json.dumps(tags).encode())
            finally:
                os._exit(0)
    finally:
        _context._cache.lock.release()
    os.close(write_fd)
    deadline = time.monotonic() + 20
    chunks = []
    os.set_blocking(read_fd, False)
    while time.monotonic() < deadline:
        try:
            chunk = os.read(read_fd, 65536)
        except BlockingIOError:
            time.sleep(0.02)
            continue
        if not chunk:
            break
        chunks.append(chunk)
    else:  # pragma: no cover - the child deadlocked
        os.kill(pid, 9)
    os.close(read_fd)
    os.waitpid(pid, 0)
    child_tags = json.loads(b"".join(chunks))
    assert child_tags["autolog.pid"] == str(pid)
    assert parent.tags["autolog.pid"] == str(os.getpid())


# --- the real process -----------------------------------------------------------------------

PRINT_CONTEXT = """\
import json, sys
from autolog._tracking.context import Capture, process_context
ctx = process_context(Capture())
print(json.dumps({"tags": ctx.tags, "artifacts": sorted(ctx.artifacts)}))
"""


def run_python(args: list[str], cwd: Path) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    env.pop("AUTOLOG_DISABLE_CAPTURE", None)
    out = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    return result


@needs_git
def test_real_script_in_a_git_repo(repo: Path) -> None:
    script = repo / "script.py"
    script.write_text(PRINT_CONTEXT)
    got = run_python(["script.py", "--lr", "0.1"], cwd=repo)
    tags = got["tags"]
    assert tags["autolog.source.type"] == "script"
    assert tags["autolog.source.path"] == os.path.normpath(script.resolve())
    assert tags["autolog.source.name"] == "script.py"
    assert tags["autolog.git.commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert tags["autolog.git.branch"] == "main"
    # script.py is untracked: the repository stays clean.
    assert tags["autolog.git.dirty"] == "false"
    assert tags["autolog.command"] == shlex.join([sys.executable, "script.py", "--lr", "0.1"])
    assert tags["autolog.pid"] != str(os.getpid())
    assert got["artifacts"] == ["context/requirements.txt", "context/source/script.py"]


@needs_git
def test_real_module_run(repo: Path) -> None:
    (repo / "pkg").mkdir()
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "__main__.py").write_text(PRINT_CONTEXT)
    git(repo, "add", "pkg")
    got = run_python(["-m", "pkg", "x"], cwd=repo)
    tags = got["tags"]
    assert tags["autolog.source.type"] == "module"
    assert tags["autolog.source.module"] == "pkg"
    assert tags["autolog.source.name"] == "__main__.py"
    assert tags["autolog.command"] == shlex.join([sys.executable, "-m", "pkg", "x"])
    assert tags["autolog.git.dirty"] == "true"
    assert "context/git.diff" in got["artifacts"]


def test_real_interactive_run(tmp_path: Path) -> None:
    got = run_python(["-c", PRINT_CONTEXT], cwd=tmp_path)
    assert got["tags"]["autolog.source.type"] == "interactive"
    assert "autolog.source.path" not in got["tags"]
    assert got["artifacts"] == ["context/requirements.txt"]


def test_import_is_cheap(tmp_path: Path) -> None:
    # A bare package object stands in for autolog/__init__.py, which imports everything else.
    code = (
        "import sys, types\n"
        "pkg = types.ModuleType('autolog'); pkg.__path__ = [sys.argv[1]]\n"
        "sys.modules['autolog'] = pkg\n"
        "import autolog.errors\n"
        "before = set(sys.modules)\n"
        "import autolog._tracking.context\n"
        "heavy = {'subprocess', 'importlib.metadata', 'platform', 'socket', 'getpass', 'hashlib'}\n"
        "print(sorted(heavy & (set(sys.modules) - before)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(REPO_ROOT / "autolog")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("given", ["all", ["all"], "git, packages", ["GIT", "packages"]])
def test_configure_and_the_env_var_accept_the_same_capture_names(
    given: str | list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    autolog.configure(disable_capture=given)
    text = given if isinstance(given, str) else ",".join(given)
    monkeypatch.setenv("AUTOLOG_DISABLE_CAPTURE", text)
    assert Capture.from_names(given) == Capture.from_env()


def test_configure_and_the_env_var_refuse_the_same_capture_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(InvalidValueError, match=r"unknown capture 'gpu'.*from: all, git"):
        autolog.configure(disable_capture=["git", "gpu"])
    monkeypatch.setenv("AUTOLOG_DISABLE_CAPTURE", "git,gpu")
    with pytest.raises(InvalidValueError, match=r"unknown capture 'gpu'.*from: all, git"):
        Capture.from_env()
