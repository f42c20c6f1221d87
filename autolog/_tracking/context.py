"""Capture of the context needed to reproduce a run: system, entry-point source, git and packages.

The context is computed at most once per process and per `Capture` value, and
never raises: a part that fails is skipped and logged at debug level.
"""

from __future__ import annotations

import builtins
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autolog import _tags
from autolog.errors import InvalidValueError

__all__ = [
    "DISABLE_CAPTURE_ENV",
    "Capture",
    "RunContext",
    "current_user",
    "disabled_names",
    "process_context",
    "reset_cache",
    "strip_credentials",
]

DISABLE_CAPTURE_ENV = "AUTOLOG_DISABLE_CAPTURE"

_PARTS = ("git", "source", "packages", "system")
_VALID_NAMES = ", ".join(["all", *sorted(_PARTS)])
_MAX_COMMAND_LENGTH = 4000
_MAX_SOURCE_BYTES = 5 * 1024 * 1024
_MAX_DIFF_BYTES = 10 * 1024 * 1024
_GIT_TIMEOUT_S = 5.0
# Output of the small git calls (rev-parse, status, config) is never near this; it only bounds
# memory if a repository is pathological.
_MAX_GIT_OUTPUT_BYTES = 1024 * 1024
_LIBRARY_TAGS = ("numpy", "scikit-learn", "xgboost", "pandas", "scipy")
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# A ":" followed by something other than digits, outside an IPv6 literal's brackets.
_BAD_PORT_RE = re.compile(r"^(?:\[[^\]]*\]|[^\[\]:]*):(?!\d*$)")

_logger = logging.getLogger("autolog")

# The tags and artifacts one part of the context contributes.
_Part = tuple[dict[str, str], dict[str, bytes]]


@dataclass(frozen=True)
class Capture:
    """Which parts of the run context are captured."""

    git: bool = True
    source: bool = True
    packages: bool = True
    system: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Capture:
        """Return the captures that `AUTOLOG_DISABLE_CAPTURE` ("git,packages", "all") leaves on.

        Raises InvalidValueError for a name that is not a capture.
        """
        env = os.environ if environ is None else environ
        raw = env.get(DISABLE_CAPTURE_ENV, "")
        return cls._without(disabled_names(raw, DISABLE_CAPTURE_ENV))

    @classmethod
    def from_names(
        cls, disabled: Iterable[str] | None, environ: Mapping[str, str] | None = None
    ) -> Capture:
        """Return the captures left on when those in `disabled` are off; None reads the env.

        Raises InvalidValueError for a name that is not a capture.
        """
        if disabled is None:
            return cls.from_env(environ)
        return cls._without(disabled_names(disabled, "disable_capture"))

    @classmethod
    def _without(cls, off: frozenset[str]) -> Capture:
        if "all" in off:
            return cls(git=False, source=False, packages=False, system=False)
        return cls(**{part: part not in off for part in _PARTS})


def disabled_names(disabled: str | Iterable[str], origin: str) -> frozenset[str]:
    """The capture names in `disabled` ("git,packages", ["git"], "all"), checked and lowercased.

    The one check of capture names, for `configure(disable_capture=...)` and the
    `AUTOLOG_DISABLE_CAPTURE` variable alike; `origin` names the source in the error.
    """
    given = re.split(r"[\s,]+", disabled) if isinstance(disabled, str) else list(disabled)
    if not all(isinstance(n, str) for n in given):
        raise InvalidValueError(
            f"{origin}={disabled!r}; expected capture names (str) from: {_VALID_NAMES}"
        )
    off = frozenset(n.strip().lower() for n in given if n.strip())
    unknown = sorted(n for n in off if n != "all" and n not in _PARTS)
    if unknown:
        raise InvalidValueError(
            f"{origin}={disabled!r} names unknown capture {', '.join(map(repr, unknown))};"
            f" expected names from: {_VALID_NAMES} (for example {DISABLE_CAPTURE_ENV}=git,packages"
            " or disable_capture=['git', 'packages'])"
        )
    return off


@dataclass(frozen=True)
class RunContext:
    """Tags and artifacts describing the process a run was started from.

    The instance is shared by every caller in the process: do not mutate its dicts.
    """

    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class _Process:
    """What the capture looks at in the running interpreter, overridable by tests."""

    argv: Sequence[str]
    executable: str
    cwd: str
    main_file: str | None
    main_module: str | None
    shell: str | None  # "notebook" or "interactive" when IPython/Jupyter runs the code


class _Cache:
    """One process's computed contexts, replaced whole on reset so a fork keeps no held lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[Capture, RunContext] = {}


_cache = _Cache()
_fork_hook_registered = False


def process_context(capture: Capture) -> RunContext:
    """Return this process's run context for `capture`, computing it on the first call only."""
    _register_fork_hook()
    cache = _cache
    with cache.lock:
        found = cache.entries.get(capture)
        if found is None:
            try:
                found = _compute(capture, _current_process())
            except Exception:  # a tracking helper must never break the user's run
                _logger.debug("autolog: could not capture the run context", exc_info=True)
                found = RunContext()
            cache.entries[capture] = found
        return found


def reset_cache() -> None:
    """Forget computed contexts so the next call recomputes them (tests; a forked child)."""
    global _cache
    # A new lock rather than clearing under the old one: after a fork the old lock may be held
    # by a thread that does not exist in the child.
    _cache = _Cache()


def _register_fork_hook() -> None:
    global _fork_hook_registered
    if _fork_hook_registered:
        return
    _fork_hook_registered = True
    # Registered on first use rather than at import to keep importing free of side effects; the
    # child has another pid and must not reuse the parent's lock.
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=reset_cache)


def strip_credentials(url: str) -> str:
    """Return `url` without the user name, password or token it may embed.

    http(s) URLs lose the whole user-info part and their query and fragment; ssh URLs keep the
    user name (`git@`) but lose a password; scp-style remotes (`git@host:org/repo.git`) and local
    paths are returned unchanged.
    """
    match = _SCHEME_RE.match(url)
    if match is None:
        return url
    scheme = match[1].lower()
    # The user-info part ends at the last "@" before the first "/", even when a sloppy password
    # holds a raw "?", "#" or "@": cutting too much is better than leaking part of a secret.
    authority, slash, path = url[match.end() :].partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    if not at and "@" in path and _BAD_PORT_RE.search(authority):
        # "user:pa/ss@host": a password holding a raw "/", which looks like a bad port.
        userinfo, at, rest = url[match.end() :].rpartition("@")
        hostport, slash, path = rest.partition("/")
    user = userinfo.partition(":")[0]
    if at and user and scheme in _SSH_SCHEMES:
        hostport = f"{user}@{hostport}"
    tail = f"{hostport}{slash}{path}"
    if scheme.rpartition("+")[2] in ("http", "https"):
        tail = re.split(r"[?#]", tail, maxsplit=1)[0]
    return f"{url[: match.end()]}{tail}"


def _current_process() -> _Process:
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    module = getattr(spec, "name", None)
    shell: str | None = None
    if "ipykernel" in sys.modules:
        shell = "notebook"
    elif "IPython" in sys.modules and hasattr(builtins, "__IPYTHON__"):
        shell = "interactive"
    return _Process(
        argv=list(sys.argv),
        executable=sys.executable or "python",
        cwd=str(Path.cwd()),
        main_file=main_file if isinstance(main_file, str) else None,
        main_module=module if isinstance(module, str) else None,
        shell=shell,
    )


def _compute(capture: Capture, proc: _Process) -> RunContext:
    """Return the context of `proc`, each part computed independently of the others."""
    tags: dict[str, str] = {}
    artifacts: dict[str, bytes] = {}
    entry = _entry_point(proc)
    # git starts from the script's directory: the cwd may be anywhere, the script is the code.
    git_start = str(Path(entry.path).parent) if entry.path else proc.cwd
    parts: list[tuple[str, bool, Callable[[], _Part]]] = [
        ("system", capture.system, lambda: _system_context(proc, entry)),
        ("source", capture.source, lambda: _source_context(entry)),
        ("git", capture.git, lambda: _git_context(git_start)),
        ("dvc", capture.git, lambda: _dvc_context(git_start)),  # data versions go with code's
        ("packages", capture.packages, _packages_context),
    ]
    for name, enabled, compute in parts:
        if not enabled:
            continue
        try:
            part_tags, part_artifacts = compute()
        except Exception:  # a failing part is skipped; the others still count
            _logger.debug("autolog: could not capture the %s context", name, exc_info=True)
            continue
        # Merged only on success so a part that fails half-way leaves no partial tags.
        tags.update(part_tags)
        artifacts.update(part_artifacts)
    return RunContext(tags={k: _clean(v) for k, v in tags.items()}, artifacts=artifacts)


@dataclass(frozen=True)
class _EntryPoint:
    kind: str  # "script", "module", "interactive" or "notebook"
    path: str | None
    module: str | None


def _entry_point(proc: _Process) -> _EntryPoint:
    # IPython and Jupyter run from a launcher script that argv[0] names, and leave __main__
    # without a __file__: that launcher is not the user's code.
    if proc.shell is not None and proc.main_file is None:
        return _EntryPoint(proc.shell, None, None)
    path: str | None = None
    candidates = [proc.argv[0] if proc.argv else "", proc.main_file or ""]
    for candidate in candidates:
        # Relative to the process's cwd, not to ours (tests pass another).
        if candidate and _is_file(Path(proc.cwd, candidate)):
            path = os.path.normpath(Path(proc.cwd, candidate).absolute())
            break
    module = proc.main_module
    if module is not None and module != "__main__":
        # `python -m pkg` runs `pkg.__main__`; `pkg` is what reproduces the run.
        module = module.removesuffix(".__main__")
        return _EntryPoint("module", path, module)
    return _EntryPoint("script" if path else "interactive", path, None)


def _is_file(path: Path) -> bool:
    # Path.is_file() lets PermissionError through; an unreadable argv[0] is simply no source.
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _system_context(proc: _Process, entry: _EntryPoint) -> _Part:
    import platform
    import shlex
    import socket

    from autolog._tracking.system_metrics import host_facts

    tags = {
        _tags.HOST: socket.gethostname(),
        _tags.PYTHON: platform.python_version(),
        _tags.PYTHON_IMPLEMENTATION: platform.python_implementation(),
        _tags.PLATFORM: platform.platform(),
        _tags.PID: str(os.getpid()),
        _tags.CWD: proc.cwd,
        **host_facts(),
    }
    user = current_user()
    if user:
        tags[_tags.USER] = user
    args = list(proc.argv)
    if entry.kind == "module" and entry.module:
        # argv[0] is the module's file, which run as a script would break its relative imports.
        args[:1] = ["-m", entry.module]
    tags[_tags.COMMAND] = shlex.join([proc.executable, *args])[:_MAX_COMMAND_LENGTH]
    return tags, {}


def current_user() -> str | None:
    """The login name of the process's user, or None when the system has none."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - raises KeyError or OSError when the uid has no passwd entry
        return os.environ.get("USER") or os.environ.get("USERNAME") or None


def _source_context(entry: _EntryPoint) -> _Part:
    import hashlib

    tags = {_tags.SOURCE_TYPE: entry.kind}
    if entry.module:
        tags[_tags.SOURCE_MODULE] = entry.module
    artifacts: dict[str, bytes] = {}
    if entry.path is None:
        return tags, artifacts
    name = Path(entry.path).name
    digest = hashlib.sha256()
    with open(entry.path, "rb") as f:
        content = f.read(_MAX_SOURCE_BYTES + 1)
        digest.update(content)
        copied = len(content) <= _MAX_SOURCE_BYTES
        for chunk in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(chunk)
    tags[_tags.SOURCE_PATH] = entry.path
    tags[_tags.SOURCE_NAME] = name
    tags[_tags.SOURCE_SHA256] = digest.hexdigest()
    tags[_tags.SOURCE_COPIED] = "true" if copied else "false"
    if copied:
        artifacts[f"context/source/{_artifact_name(name)}"] = content
    return tags, artifacts


def _artifact_name(name: str) -> str:
    # Artifact paths refuse backslashes, control characters and percent-encodings.
    return re.sub(r"[\x00-\x1f\\%]", "_", name) or "_"


def _git_context(start: str) -> _Part:
    head = _git(["rev-parse", "--show-toplevel", "HEAD", "--abbrev-ref", "HEAD"], start)
    if head is None:
        return {}, {}
    lines = head[0].decode("utf-8", "surrogateescape").splitlines()
    if len(lines) != 3:
        return {}, {}
    root, commit, branch = os.path.normpath(lines[0]), lines[1].strip(), lines[2].strip()
    tags = {_tags.GIT_COMMIT: commit, _tags.GIT_ROOT: root}
    if branch and branch != "HEAD":
        tags[_tags.GIT_BRANCH] = branch
    artifacts: dict[str, bytes] = {}
    status = _git(["status", "--porcelain", "--untracked-files=no"], root)
    if status is not None:
        dirty = bool(status[0].strip())
        tags[_tags.GIT_DIRTY] = "true" if dirty else "false"
        if dirty:
            diff = _git(
                [
                    "diff",
                    "HEAD",
                    "--binary",
                    "--no-color",
                    "--no-ext-diff",
                    "--no-textconv",
                    # Fixed prefixes whatever diff.noprefix says, so `git apply` takes the file.
                    "--src-prefix=a/",
                    "--dst-prefix=b/",
                ],
                root,
                limit=_MAX_DIFF_BYTES,
            )
            if diff is not None and diff[0]:
                artifacts["context/git.diff"] = diff[0]
                tags[_tags.GIT_DIFF_TRUNCATED] = "true" if diff[1] else "false"
    remote = _remote_url(root)
    if remote:
        tags[_tags.GIT_REMOTE] = strip_credentials(remote)
    return tags, artifacts


def _dvc_context(start: str) -> _Part:
    from autolog._tracking.dvc import dvc_context  # on first use: keeps this import light

    return dvc_context(start)


def _remote_url(root: str) -> str | None:
    found = _git(["config", "-z", "--get-regexp", r"^remote\..*\.url$"], root)
    if found is None:
        return None
    urls: dict[str, str] = {}
    for entry in found[0].decode("utf-8", "surrogateescape").split("\0"):
        key, _, url = entry.partition("\n")
        if key.startswith("remote.") and key.endswith(".url") and url:
            urls.setdefault(key[len("remote.") : -len(".url")], url)
    if not urls:
        return None
    return urls.get("origin", next(iter(urls.values())))


def _git(
    args: list[str], cwd: str, *, limit: int = _MAX_GIT_OUTPUT_BYTES
) -> tuple[bytes, bool] | None:
    """Run git in `cwd`; return (stdout cut to `limit` bytes, whether it was cut) or None."""
    import signal
    import subprocess

    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
    try:
        proc = subprocess.Popen(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            # Its own process group, so that a timeout also kills the hooks or helpers git
            # started: one of them left holding the pipe would block the read below.
            start_new_session=sys.platform != "win32",
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
    except OSError:
        return None
    timed_out = threading.Event()

    def kill() -> None:
        try:
            if sys.platform != "win32":
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except OSError:
            pass  # already gone

    def on_timeout() -> None:
        timed_out.set()
        kill()

    # Read with a bounded buffer rather than communicate(), which would hold a diff of any size.
    timer = threading.Timer(_GIT_TIMEOUT_S, on_timeout)
    timer.daemon = True
    timer.start()
    try:
        assert proc.stdout is not None
        out = proc.stdout.read(limit + 1)
        truncated = len(out) > limit
        if truncated:
            kill()
        returncode = proc.wait()
    finally:
        timer.cancel()
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.poll() is None:  # only when the read itself failed
            kill()
            proc.wait()
    if truncated:
        return out[:limit], True
    if timed_out.is_set():
        _logger.debug("autolog: git %s timed out after %ss", " ".join(args), _GIT_TIMEOUT_S)
        return None
    if returncode != 0:
        return None
    return out, False


def _packages_context() -> _Part:
    from importlib import metadata

    # Keyed by normalized name; the first distribution on sys.path is the one that imports.
    found: dict[str, tuple[str, str]] = {}
    for dist in metadata.distributions():
        try:
            name, version = dist.name, dist.version
        except Exception:  # one broken distribution must not hide the others
            _logger.debug("autolog: skipping an unreadable distribution", exc_info=True)
            continue
        if not isinstance(name, str) or not isinstance(version, str) or not name:
            continue
        found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), (name, version))
    ordered = sorted(found.values(), key=lambda nv: (nv[0].lower(), nv[0]))
    lines = [f"{name}=={version}" for name, version in ordered]
    tags = {f"{_tags.LIB_PREFIX}{lib}": found[lib][1] for lib in _LIBRARY_TAGS if lib in found}
    requirements = "".join(f"{line}\n" for line in lines).encode("utf-8", "replace")
    return tags, {"context/requirements.txt": requirements}


def _clean(value: str) -> str:
    # Paths from argv or git may carry undecodable bytes as lone surrogates, which no store can
    # encode as UTF-8.
    return _SURROGATE_RE.sub("\ufffd", value)
