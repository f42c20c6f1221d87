"""`autolog reproduce RUN [--execute]`: turn a recorded run back into a re-run.

Without options it prints the recipe: the git commit (and the recorded diff when the
run's tree was dirty), the DVC checkout, the Python version and requirements, the
command line and the environment settings the run recorded, and warnings. With
`--execute` it performs the recipe in a work directory (a git worktree at the commit
with the diff applied, a fresh virtual environment from the recorded requirements or,
with `--reuse-env`, this interpreter), runs the same command under `autolog run` as
a new run tagged `autolog.reproduction.of`, and compares the two runs' params and
metrics: exit 0 when every metric matches within the tolerance, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autolog import _tags
from autolog._cli.compare import compare_runs
from autolog._cli.main import add_command, resolve_run
from autolog._cli.output import note, write_lines
from autolog._cli.table import format_time, terminal_width
from autolog._entities import Run
from autolog._patching.seeds import ENV_SETTINGS, UNSEEDED_TAG
from autolog._tracking.api import download_artifacts, search_runs
from autolog._tracking.settings import tracking
from autolog.errors import ArtifactNotFoundError, InvalidInputError, ReproductionError

if TYPE_CHECKING:
    from autolog._cli.main import Subparsers

__all__ = ["REPRODUCTION_TAG", "Recipe", "recipe_for", "register"]

REPRODUCTION_TAG = _tags.REPRODUCTION_OF
_PIP_FAILURE = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the"
    r" requirement) ([^\s(]+)"
)

_EPILOG = """\
examples:
  autolog reproduce 3f2a9c                       print the recipe
  autolog reproduce 3f2a9c --execute             check out, install, run, compare
  autolog reproduce 3f2a9c --execute --reuse-env --workdir /tmp/rerun
                                                 run with this Python's packages (no download)

Exit codes with --execute: 0 every metric matches within the tolerance, 1 otherwise,
2 the run cannot be reproduced (no git commit, a diff or package that does not apply).
"""


def register(subparsers: Subparsers) -> None:
    p = add_command(
        subparsers,
        "reproduce",
        _reproduce,
        help="print how to reproduce a run, or --execute it and compare the results",
        epilog=_EPILOG,
    )
    p.add_argument("run", metavar="RUN", help="a run id or a unique prefix of one")
    p.add_argument("--execute", action="store_true", help="perform the recipe and compare")
    p.add_argument("--workdir", metavar="DIR", help="where to check out and run (a new dir)")
    p.add_argument(
        "--reuse-env",
        action="store_true",
        help="run with this interpreter and its installed packages instead of a fresh"
        " virtual environment from the recorded requirements (nothing is downloaded)",
    )
    p.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance (1e-9)")
    p.add_argument("--atol", type=float, default=1e-12, help="absolute tolerance (1e-12)")


@dataclass
class Recipe:
    """What a run recorded about how to run it again."""

    run: Run
    children: list[Run]
    git_root: str | None = None
    commit: str | None = None
    remote: str | None = None
    dirty: bool = False
    script: str | None = None  # the script's path relative to the git root
    module: str | None = None
    args: list[str] = field(default_factory=list)
    cwd: str | None = None  # relative to the git root when inside it, else absolute
    python: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    dvc_root: str | None = None  # relative to the git root
    warnings: list[str] = field(default_factory=list)


def _inside(path: str, root: str) -> str | None:
    rel = os.path.relpath(path, root)
    return None if rel == ".." or rel.startswith(".." + os.sep) else rel


def recipe_for(run: Run, children: list[Run]) -> Recipe:
    """Read a run's recipe from its tags (and its children's, for seeds)."""
    tags = run.tags
    recipe = Recipe(run, children, python=tags.get(_tags.PYTHON))
    recipe.git_root = tags.get(_tags.GIT_ROOT)
    recipe.commit = tags.get(_tags.GIT_COMMIT)
    recipe.remote = tags.get(_tags.GIT_REMOTE)
    recipe.dirty = tags.get(_tags.GIT_DIRTY) == "true"
    words = shlex.split(tags.get(_tags.COMMAND, ""))
    if len(words) >= 3 and words[1] == "-m":
        recipe.module, recipe.args = words[2], words[3:]
    elif len(words) >= 2:
        recipe.args = words[2:]
    source = tags.get(_tags.SOURCE_PATH)
    cwd = tags.get(_tags.CWD)
    if recipe.git_root:
        if source:
            recipe.script = _inside(source, recipe.git_root)
        recipe.cwd = _inside(cwd, recipe.git_root) if cwd else None
        if recipe.cwd is None:
            recipe.cwd = cwd
        dvc = tags.get(_tags.DVC_ROOT)
        recipe.dvc_root = _inside(dvc, recipe.git_root) if dvc else None
    for one in (run, *children):
        for name in ENV_SETTINGS:
            value = one.tags.get(_tags.ENV_PREFIX + name)
            if value is not None:
                recipe.env.setdefault(name, value)
        seed = one.tags.get(_tags.SEED_PYTHONHASHSEED)
        if seed and seed != "unset":
            recipe.env.setdefault("PYTHONHASHSEED", seed)
        if UNSEEDED_TAG in one.tags:
            who = "the run" if one is run else f"child run {one.id[:8]} ({one.name})"
            recipe.warnings.append(f"{who} left randomness to chance: {one.tags[UNSEEDED_TAG]}")
    if not recipe.commit:
        recipe.warnings.append(
            "the script was not in a git repository: its code cannot be checked out"
        )
    elif recipe.script is None and recipe.module is None:
        recipe.warnings.append("the script lies outside the git repository it ran in")
    if tags.get(_tags.GIT_DIFF_TRUNCATED) == "true":
        recipe.warnings.append("the recorded diff was cut at 10 MiB: it cannot be applied whole")
    if _tags.DVC_HASH not in tags and any(_tags.DATA_HASH in r.tags for r in (run, *children)):
        recipe.warnings.append(
            "the data is not versioned (no DVC): a change is detected by its fingerprint,"
            " but the old data cannot be checked out"
        )
    if (
        recipe.python
        and recipe.python.rsplit(".", 1)[0] != platform.python_version().rsplit(".", 1)[0]
    ):
        recipe.warnings.append(
            f"the run used Python {recipe.python}; this is Python {platform.python_version()}"
        )
    return recipe


def _command(recipe: Recipe, script: str | None) -> list[str]:
    run = recipe.run
    words = [
        "autolog",
        "run",
        "--experiment",
        run.experiment,
        "--run-name",
        f"{run.name}-reproduction"[:200],
        "--tag",
        f"{REPRODUCTION_TAG}={run.id}",
    ]
    if recipe.module:
        return [*words, "-m", recipe.module, *recipe.args]
    return [*words, script or "SCRIPT", *recipe.args]


def recipe_lines(recipe: Recipe) -> list[str]:
    """The recipe as shell lines, ready to paste, with comments and warnings."""
    run, ref = recipe.run, recipe.run.id[:8]
    out = [
        f"# Reproduce run {run.id} ({run.name}), experiment {run.experiment!r},"
        f" {format_time(run.start_time)}"
    ]
    if recipe.commit:
        out.append(f"# 1. the code: commit {recipe.commit}")
        if recipe.git_root and Path(recipe.git_root).is_dir():
            out.append(
                f"git -C {shlex.quote(recipe.git_root)} worktree add --detach"
                f" reproduce-{ref} {recipe.commit}"
            )
        elif recipe.remote:
            out.append(f"git clone {shlex.quote(recipe.remote)} reproduce-{ref}")
            out.append(f"git -C reproduce-{ref} checkout --detach {recipe.commit}")
        out.append(f"cd reproduce-{ref}")
        if recipe.dirty:
            out.append("# the run's tree had uncommitted changes: apply the recorded diff")
            out.append(f"autolog artifacts {ref} context/git.diff --download .")
            out.append("git apply --binary context/git.diff")
    if recipe.dvc_root is not None:
        remote = run.tags.get(_tags.DVC_REMOTE)
        out.append(f"# 2. the data: DVC version {run.tags.get(_tags.DVC_HASH)}")
        pull = f"dvc pull -r {remote}" if remote else "dvc pull"
        out.append(f"(cd {shlex.quote(recipe.dvc_root)} && (dvc checkout || {pull}))")
    out.append(f"# 3. the environment: Python {recipe.python or '(not recorded)'}")
    out.append(f"autolog artifacts {ref} context/requirements.txt --download .")
    python = f"python{recipe.python.rsplit('.', 1)[0]}" if recipe.python else "python3"
    out.append(f"{python} -m venv .venv && .venv/bin/pip install -r context/requirements.txt")
    out.append("# 4. the command")
    if recipe.cwd and recipe.cwd != ".":
        out.append(f"cd {shlex.quote(recipe.cwd)}")
    script = None
    if recipe.script is not None:
        script = (
            os.path.relpath(recipe.script, recipe.cwd)
            if recipe.cwd and not Path(recipe.cwd).is_absolute()
            else recipe.script
        )
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(recipe.env.items()))
    out.append((env + " " if env else "") + shlex.join(_command(recipe, script)))
    out.extend(f"# warning: {w}" for w in recipe.warnings)
    return out


# -- --execute ---------------------------------------------------------------------------------


def _git(args: list[str], cwd: str | Path, what: str) -> None:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ReproductionError(f"{what} failed: git {' '.join(args)}: {done.stderr.strip()}")


def _checkout(recipe: Recipe, src: Path) -> None:
    if not recipe.commit:
        raise ReproductionError(
            f"run {recipe.run.id} recorded no git commit (its script was not in a git"
            " repository, or git capture was off): there is no code to check out"
        )
    root = recipe.git_root
    if root and Path(root).is_dir():
        _git(
            ["worktree", "add", "--detach", str(src), recipe.commit],
            root,
            "checking out the commit",
        )
        note(
            f"autolog: a git worktree of {root} at {src}"
            f" (remove it with `git worktree remove {src}`)"
        )
    elif recipe.remote:
        _git(["clone", "--quiet", recipe.remote, str(src)], src.parent, "cloning the repository")
        _git(["checkout", "--detach", recipe.commit], src, "checking out the commit")
    else:
        raise ReproductionError(
            f"the repository {root} of run {recipe.run.id} is gone and no remote was recorded"
        )
    if recipe.dirty:
        try:
            diff = download_artifacts(recipe.run.id, "context/git.diff", src.parent)
        except ArtifactNotFoundError:
            raise ReproductionError(
                f"run {recipe.run.id} was dirty but its diff was not stored"
            ) from None
        _git(
            ["apply", "--binary", "--whitespace=nowarn", str(diff)],
            src,
            "applying the recorded diff",
        )


def _dvc(recipe: Recipe, src: Path) -> None:
    if recipe.dvc_root is None:
        return
    if shutil.which("dvc") is None:
        recipe.warnings.append("dvc is not installed here: the DVC data was not checked out")
        return
    folder = src / recipe.dvc_root
    if subprocess.run(["dvc", "checkout"], cwd=folder, capture_output=True).returncode != 0:
        remote = recipe.run.tags.get(_tags.DVC_REMOTE)
        pulled = subprocess.run(
            ["dvc", "pull", *(["-r", remote] if remote else [])],
            cwd=folder,
            capture_output=True,
            text=True,
        )
        if pulled.returncode != 0:
            raise ReproductionError(
                f"dvc could not bring back the data in {folder}: {pulled.stderr.strip()[-500:]}"
            )


def _environment(recipe: Recipe, workdir: Path, reuse: bool) -> str:
    """The Python to run with: this one (--reuse-env) or a new venv from the requirements."""
    if reuse:
        return sys.executable
    from importlib.metadata import packages_distributions

    try:
        requirements = download_artifacts(recipe.run.id, "context/requirements.txt", workdir)
    except ArtifactNotFoundError:
        raise ReproductionError(
            f"run {recipe.run.id} recorded no requirements (package capture was off); rerun"
            " with --reuse-env to use this interpreter's packages"
        ) from None
    own = {n.lower() for n in packages_distributions().get("autolog", [])}
    lines = requirements.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if re.split(r"[=<>!~ ]", line, maxsplit=1)[0].lower() not in own]
    wanted = workdir / "requirements.txt"
    wanted.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
    venv = workdir / "venv"
    note(f"autolog: creating {venv} and installing {len(kept)} packages")
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
    if made.returncode != 0:
        raise ReproductionError(
            f"could not create a virtual environment at {venv}: {made.stderr.strip()}"
        )
    python = str(venv / ("Scripts" if os.name == "nt" else "bin") / "python")
    _pip(python, ["-r", str(wanted)], wanted)
    source = Path(__file__).resolve().parents[2]
    own_package = (
        str(source) if (source / "pyproject.toml").is_file() else f"autolog-ml=={_version()}"
    )
    _pip(python, [own_package], wanted)
    return python


def _version() -> str:
    from autolog import __version__

    return __version__


def _pip(python: str, args: list[str], requirements: Path) -> None:
    done = subprocess.run(
        [python, "-m", "pip", "install", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
    )
    if done.returncode == 0:
        return
    found = _PIP_FAILURE.search(done.stderr)
    package = found[1] if found else " ".join(args)
    raise ReproductionError(
        f"could not install {package} from the package registry: {done.stderr.strip()[-400:]}"
        f" -- edit {requirements} and install it into {Path(python).parent.parent} yourself,"
        " or rerun with --reuse-env to use this interpreter's packages"
    )


def _execute(recipe: Recipe, workdir: Path, reuse: bool) -> tuple[list[Run], int]:
    src = workdir / "src"
    _checkout(recipe, src)
    _dvc(recipe, src)
    python = _environment(recipe, workdir, reuse)
    cwd = (
        src / recipe.cwd
        if recipe.cwd and not Path(recipe.cwd).is_absolute()
        else Path(recipe.cwd or src)
    )
    script = str(src / recipe.script) if recipe.script else None
    env = {**os.environ, **recipe.env, "AUTOLOG_TRACKING_URI": tracking.backend().uri}
    command = [python, "-m", *_command(recipe, script)]  # "-m autolog run ..."
    note(f"autolog: running {shlex.join(command)} in {cwd}")
    started = int(time.time() * 1000)
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    sys.stderr.write(done.stdout + done.stderr)
    found = [
        r
        for r in search_runs(experiment=recipe.run.experiment)
        if r.tags.get(REPRODUCTION_TAG) == recipe.run.id and (r.start_time or 0) >= started - 1000
    ]
    if not found:
        raise ReproductionError(
            f"the reproduction (exit code {done.returncode}) recorded no run in"
            f" {tracking.backend().uri}"
        )
    new = max(found, key=lambda r: r.start_time or 0)
    return [new, *_children(new)], done.returncode


def _children(run: Run) -> list[Run]:
    return search_runs(filter=f"parent_id = '{run.id}'", order_by=["start_time ASC"])


def _reproduce(args: argparse.Namespace) -> int:
    run = resolve_run(args.run)
    children = _children(run)
    recipe = recipe_for(run, children)
    if not args.execute:
        write_lines(recipe_lines(recipe))
        return 0
    if args.workdir:
        workdir = Path(args.workdir).absolute()
        if workdir.exists() and any(workdir.iterdir()):
            raise InvalidInputError(
                f"--workdir {args.workdir!r} is not empty; give a new or empty directory"
            )
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        workdir = Path(tempfile.mkdtemp(prefix=f"autolog-reproduce-{run.id[:8]}-"))
    reproduced, code = _execute(recipe, workdir, args.reuse_env)
    original = [run, *children] if run.tags.get(_tags.RUN_TYPE) == "script" else [run]
    if len(original) == 1:
        reproduced = reproduced[:1]
    comparison = compare_runs(original, reproduced, rtol=args.rtol, atol=args.atol)
    lines = [f"reproduction: run {reproduced[0].id} ({reproduced[0].name}) in {workdir}"]
    if code != 0:
        lines.append(f"the reproduced command exited with code {code}")
    lines.extend(comparison.lines(terminal_width()))
    lines.extend(f"warning: {w}" for w in recipe.warnings)
    write_lines(lines)
    return 0 if comparison.matches and code == 0 else 1
