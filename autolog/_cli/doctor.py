"""`autolog doctor`: check a local or S3 store for damaged objects, and rebuild its index."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from autolog._cli.main import add_command
from autolog._cli.output import note, write_json, write_lines
from autolog._tracking.settings import tracking
from autolog.backends._layout import LayoutBackend

if TYPE_CHECKING:
    from autolog._cli.main import Subparsers

__all__ = ["register"]


def register(subparsers: Subparsers) -> None:
    """Add the `doctor` command."""
    p = add_command(
        subparsers,
        "doctor",
        _doctor,
        help="check the store for damaged objects and rebuild its index",
        description="Read every run object of a local or S3 store and list those that are"
        " damaged (truncated or not JSON, as a crash or a full disk can leave them), then"
        " rebuild the store's index from the objects. Exit code 1 when something is damaged.",
    )
    p.add_argument("--json", action="store_true", help="print the findings as JSON")


def _doctor(args: argparse.Namespace) -> int:
    backend = tracking.backend()
    if not isinstance(backend, LayoutBackend):
        note(f"autolog doctor checks local and S3 stores; {backend.uri} is checked by its server")
        return 0
    checked, damaged = backend.check()
    runs = backend.rebuild_index()
    if args.json:
        write_json({"store": backend.uri, "objects": checked, "runs": runs, "damaged": damaged})
        return 1 if damaged else 0
    lines = [f"damaged: {key}: {why}" for key, why in sorted(damaged.items())]
    indexed = "" if runs is None else f"; index rebuilt ({runs} runs)"
    lines.append(f"checked {checked} objects in {backend.uri}{indexed}")
    if damaged:
        lines.append(
            f"{len(damaged)} damaged object{'s' if len(damaged) != 1 else ''}: the runs are"
            " shown without them; move them out of the store once you have looked at them"
        )
    write_lines(lines)
    return 1 if damaged else 0
