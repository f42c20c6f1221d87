"""Installed distributions: a version and an entry-point group, read without importlib.metadata.

`autolog.enable()` checks each library's version and reads the
`autolog.integrations` entry points. `importlib.metadata` answers both, but
importing it (email, zipfile, csv, inspect...) costs more than the whole of
`enable()` otherwise does. Here the `.dist-info` / `.egg-info` folders of the
directories on `sys.path` are read directly, the way importlib.metadata finds
them: in `sys.path` order, the first distribution of a (normalized) name wins.

Where that could differ from importlib.metadata (a zip file on `sys.path`, or a
distribution finder of another package on `sys.meta_path`), importlib.metadata
answers instead.
"""

from __future__ import annotations

import re
import sys
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Protocol

from autolog.errors import IntegrationNotEnabled

__all__ = ["Library", "check_version", "entry_points", "version"]

_SUFFIXES = (".dist-info", ".egg-info")


class Library(Protocol):
    """What an integration says of the library it patches (its class variables)."""

    @property
    def module(self) -> str:
        """The import name, e.g. "sklearn"."""

    @property
    def distribution(self) -> str:
        """The PyPI name, e.g. "scikit-learn"."""

    @property
    def min_version(self) -> str:
        """Supported: min_version <= version < max_version."""

    @property
    def max_version(self) -> str: ...

    @property
    def extra(self) -> str:
        """The autolog extra that installs the library."""


def check_version(integration: str, library: Library) -> str:
    """The installed version of `library`, or IntegrationNotEnabled saying why it cannot be used."""
    installed = version(library.distribution)
    if installed is None:
        raise IntegrationNotEnabled(
            f"{library.distribution} is not installed, so the {integration} integration is off;"
            f" install it with pip install 'autolog-ml[{library.extra}]'"
        )
    if not (
        _version_key(library.min_version)
        <= _version_key(installed)
        < _version_key(library.max_version)
    ):
        raise IntegrationNotEnabled(
            f"{library.distribution} {installed} is installed; the {integration} integration"
            f" supports >={library.min_version},<{library.max_version}"
        )
    return installed


def _version_key(text: str) -> tuple[int, ...]:
    """`"1.9.1"` -> (1, 9, 1); pre/post-release suffixes are ignored ("2.0.0rc1" -> (2, 0, 0))."""
    match = re.match(r"\d+(?:\.\d+)*", text)
    numbers = [int(p) for p in match.group(0).split(".")] if match else []
    return tuple([*numbers, 0, 0, 0][:3])


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _simple() -> bool:
    """Whether every distribution is a folder in a directory of sys.path."""
    if any(Path(entry).is_file() for entry in sys.path if entry):
        return False
    # The standard finder is importlib's PathFinder; any other finder may find more.
    return not any(
        hasattr(finder, "find_distributions") and finder is not PathFinder
        for finder in sys.meta_path
    )


# The last listing, and what it was made of: sys.path and each directory's mtime (a folder
# installed or removed changes its directory's mtime).
_listed: list[tuple[tuple[tuple[str, int], ...], dict[str, Path]]] = []


def _distributions() -> dict[str, Path]:
    """Each distribution's metadata folder by normalized name, the first on sys.path."""
    stamps = []
    for entry in sys.path:
        try:
            stamps.append((entry, Path(entry or ".").stat().st_mtime_ns))
        except OSError:
            continue
    key = tuple(stamps)
    if _listed and _listed[0][0] == key:
        return _listed[0][1]
    found: dict[str, Path] = {}
    for entry, _ in stamps:
        try:
            folders = [f for f in Path(entry or ".").iterdir() if f.name.endswith(_SUFFIXES)]
        except OSError:  # not a directory, or not readable
            continue
        for folder in folders:
            project = folder.name.rpartition(".")[0].partition("-")[0]
            found.setdefault(_normalized(project), folder)
    _listed[:] = [(key, found)]
    return found


def _metadata_version(folder: Path) -> str | None:
    for file in ("METADATA", "PKG-INFO"):
        try:
            with open(folder / file, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if not line.strip():
                        break  # the headers end at the first empty line
                    if line.startswith("Version:"):
                        return line.partition(":")[2].strip()
        except OSError:
            continue
    return None


def version(distribution: str) -> str | None:
    """The installed version of `distribution` (its PyPI name), or None if not installed."""
    if not _simple():
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as metadata_version

        try:
            return metadata_version(distribution)
        except PackageNotFoundError:
            return None
    folder = _distributions().get(_normalized(distribution))
    return None if folder is None else _metadata_version(folder)


def entry_points(group: str) -> list[tuple[str, str]]:
    """The (name, value) of each entry point in `group`, over every distribution."""
    if not _simple():
        from importlib.metadata import entry_points as metadata_entry_points

        return [(ep.name, ep.value) for ep in metadata_entry_points(group=group)]
    found: list[tuple[str, str]] = []
    for folder in _distributions().values():
        try:
            text = (folder / "entry_points.txt").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found += _parse_group(text, group)
    return found


def _parse_group(text: str, group: str) -> list[tuple[str, str]]:
    """The entries of `[group]` in an entry_points.txt (an INI file, `name = value` lines)."""
    found: list[tuple[str, str]] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            found.append((name.strip(), value.strip()))
    return found
