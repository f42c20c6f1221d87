"""What every command writes: its output to stdout (lines, JSON, a table), remarks to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from autolog._cli.table import Column, charset_for, render_table, terminal_width

__all__ = ["note", "write_json", "write_lines", "write_table"]


def write_lines(lines: Sequence[str] | str) -> None:
    """Print command output (a string or lines) to stdout."""
    text = lines if isinstance(lines, str) else "\n".join(lines)
    sys.stdout.write(text + "\n")


def write_json(data: Any) -> None:
    """Print `data` as indented JSON to stdout (NaN stays NaN, as Python's json reads it)."""
    write_lines(json.dumps(data, indent=2, allow_nan=True))


def write_table(columns: Sequence[Column]) -> None:
    """Print a table fitted to the terminal's width, in the characters stdout can show."""
    write_lines(render_table(columns, terminal_width(), charset_for(sys.stdout)))


def note(message: str) -> None:
    """Print a remark that is not the command's output (empty results, truncation) to stderr."""
    print(message, file=sys.stderr)
