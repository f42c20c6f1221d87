"""`autolog data`: the data fingerprints the store has seen, and the runs that used each.

Data versions are recorded on runs: the fingerprint of the data a model was trained on
(`autolog.data.hash`, computed by autologging), the fingerprints of the data it was
evaluated on (the run's inputs with role "eval": XGBoost's eval sets, or "test": the data
a metric scored after training) and the DVC data version of the project a script ran in
(`autolog.dvc.hash`). `autolog data` lists each with the runs that carry it, oldest
first: a data version's history.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from autolog import _tags
from autolog._cli.main import add_command
from autolog._cli.output import note, write_json, write_lines
from autolog._cli.table import (
    Column,
    charset_for,
    format_time,
    key_value_lines,
    render_table,
    terminal_width,
)
from autolog._entities import Run
from autolog._tracking.api import search_runs
from autolog._tracking.settings import tracking
from autolog.errors import InvalidValueError

if TYPE_CHECKING:
    from autolog._cli.main import Subparsers

__all__ = ["DataVersion", "data_versions", "register"]

#: Tag holding each kind of data version, and the word for how a run used it.
KINDS = {_tags.DATA_HASH: ("train", "trained on"), _tags.DVC_HASH: ("dvc", "ran on")}
#: How a run used data of each kind (the run inputs' roles "eval" and "test" included).
VERBS = {
    "train": "trained on",
    "dvc": "ran on",
    "eval": "evaluated on during training",
    "test": "evaluated on",
}

_EPILOG = """\
examples:
  autolog data                      every data fingerprint, with how many runs used it
  autolog data show 3f2a9c1b        the runs that trained on one (a prefix is enough)
"""


@dataclass
class DataVersion:
    """One data fingerprint and the runs that carry it, oldest first."""

    hash: str
    kind: str
    runs: list[Run] = field(default_factory=list)

    def describe(self) -> str:
        """The data's shape (training data) or its paths (DVC), from the newest run."""
        tags = self.runs[-1].tags
        if self.kind == "dvc":
            return tags.get(_tags.DVC_OUTPUTS, "")
        if self.kind in ("eval", "test"):
            for found in self.runs[-1].inputs:
                if (found.get("hash"), found.get("role")) == (self.hash, self.kind):
                    shape = found.get("shape")
                    return f"{found['name']} {shape}" if shape is not None else str(found["name"])
            return ""
        parts = [
            f"{part} {tags[_tags.data_tag(part, 'shape')]}"
            for part in ("X", "y")
            if _tags.data_tag(part, "shape") in tags
        ]
        return ", ".join(parts)


def data_versions(runs: Sequence[Run]) -> list[DataVersion]:
    """Group `runs` by the data versions they carry; the most recently used first."""
    found: dict[tuple[str, str], DataVersion] = {}
    for run in sorted(runs, key=lambda r: r.start_time or 0):
        for tag, (kind, _) in KINDS.items():
            value = run.tags.get(tag)
            if value:
                found.setdefault((kind, value), DataVersion(value, kind)).runs.append(run)
        for used in run.inputs:
            role, digest = used.get("role"), used.get("hash")
            if role in ("eval", "test") and isinstance(digest, str) and digest:
                version = found.setdefault((role, digest), DataVersion(digest, role))
                if not version.runs or version.runs[-1] is not run:
                    version.runs.append(run)
    return sorted(found.values(), key=lambda v: -(v.runs[-1].start_time or 0))


def register(subparsers: Subparsers) -> None:
    """Add `autolog data` and `autolog data show`."""
    group = add_command(
        subparsers,
        "data",
        _list,
        help="data fingerprints and versions seen in the store, with the runs that used them",
        epilog=_EPILOG,
    )
    group.add_argument("--json", action="store_true", help="print a JSON list")
    sub = group.add_subparsers(title="data commands", metavar="COMMAND")
    p = add_command(sub, "show", _show, help="the runs that used one data fingerprint")
    p.add_argument("hash", metavar="HASH", help="a fingerprint, or a unique prefix of one")
    p.add_argument("--json", action="store_true", help="print JSON")


def _list(args: argparse.Namespace) -> int:
    versions = data_versions(search_runs())
    if args.json:
        write_json([_summary(v) for v in versions])
        return 0
    if not versions:
        note(f"no run in {tracking.backend().uri} records a data fingerprint")
        return 0
    columns = [
        Column("HASH", cells=[v.hash for v in versions]),
        Column("KIND", cells=[v.kind for v in versions]),
        Column("RUNS", align=">", cells=[str(len(v.runs)) for v in versions]),
        Column("FIRST USED", drop=2, cells=[format_time(v.runs[0].start_time) for v in versions]),
        Column("LAST USED", drop=3, cells=[format_time(v.runs[-1].start_time) for v in versions]),
        Column("DATA", max_width=60, min_width=10, cells=[v.describe() for v in versions]),
    ]
    write_lines(render_table(columns, terminal_width(), charset_for(sys.stdout)))
    return 0


def _summary(version: DataVersion) -> dict[str, object]:
    return {
        "hash": version.hash,
        "kind": version.kind,
        "data": version.describe(),
        "runs": [
            {"id": r.id, "name": r.name, "experiment": r.experiment, "start_time": r.start_time}
            for r in version.runs
        ],
    }


def _show(args: argparse.Namespace) -> int:
    prefix = args.hash.strip().lower()
    if not prefix:
        raise InvalidValueError(
            "autolog data show needs a fingerprint; list them with `autolog data`"
        )
    matches = [v for v in data_versions(search_runs()) if v.hash.startswith(prefix)]
    if not matches:
        raise InvalidValueError(
            f"no data fingerprint starts with {args.hash!r} in {tracking.backend().uri};"
            " list them with `autolog data`"
        )
    if len({v.hash for v in matches}) > 1:
        shown = ", ".join(sorted({v.hash for v in matches})[:10])
        raise InvalidValueError(
            f"{args.hash!r} starts {len(matches)} data fingerprints ({shown}); give more characters"
        )
    if args.json:
        write_json([_summary(v) for v in matches])
        return 0
    lines: list[str] = []
    for version in matches:
        verb = VERBS[version.kind]
        lines.extend(
            key_value_lines(
                [
                    ("Data", version.hash),
                    ("Kind", version.kind),
                    ("Describes", version.describe() or "-"),
                    ("Runs", f"{len(version.runs)} {verb} it"),
                ]
            )
        )
        runs = version.runs
        columns = [
            Column("RUN ID", cells=[r.id for r in runs]),
            Column("NAME", max_width=40, soft_min=12, min_width=8, cells=[r.name for r in runs]),
            Column("EXPERIMENT", drop=2, max_width=30, cells=[r.experiment for r in runs]),
            Column("STARTED", drop=1, cells=[format_time(r.start_time) for r in runs]),
            Column("STATUS", cells=[r.status.value for r in runs]),
        ]
        lines.append("")
        lines.extend(render_table(columns, terminal_width(), charset_for(sys.stdout)))
    write_lines(lines)
    return 0
