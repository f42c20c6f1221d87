"""Plain-text formatting shared by the CLI commands: tables, trees, times, sizes and numbers.

Nothing here reads a store; every function takes values and returns strings,
so any command module (runs, models, ...) can lay out its output the same way.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, TextIO

__all__ = [
    "ASCII",
    "UNICODE",
    "Charset",
    "Column",
    "TreeNode",
    "charset_for",
    "fit_columns",
    "format_duration",
    "format_number",
    "format_numbers",
    "format_size",
    "format_time",
    "key_value_lines",
    "one_line",
    "render_table",
    "render_tree",
    "terminal_width",
    "truncate",
]

SEPARATOR = "  "


class Charset(NamedTuple):
    """The characters drawn for cut-off text and tree branches."""

    ellipsis: str
    tee: str  # a branch with siblings below it
    elbow: str  # the last branch
    pipe: str  # continues an ancestor's branch
    blank: str  # below an ancestor's last branch


UNICODE = Charset("…", "├─ ", "└─ ", "│  ", "   ")
ASCII = Charset("...", "|- ", "`- ", "|  ", "   ")


def charset_for(stream: TextIO) -> Charset:
    """UNICODE if `stream` can encode it (a UTF-8 terminal or pipe), else ASCII."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "".join(UNICODE).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return ASCII
    return UNICODE


def terminal_width(stream: TextIO | None = None) -> int | None:
    """Columns to fit output into, or None (no limit) when writing to a pipe or file.

    `COLUMNS` in the environment wins, so `COLUMNS=120 autolog runs | less` still fits.
    """
    stream = stream if stream is not None else sys.stdout
    if os.environ.get("COLUMNS", "").strip().isdigit():
        return max(int(os.environ["COLUMNS"]), 20)
    isatty = getattr(stream, "isatty", None)
    if isatty is None or not isatty():
        return None
    return max(shutil.get_terminal_size().columns, 20)


def one_line(text: str) -> str:
    """`text` with line breaks and other control characters shown as spaces."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else " " for c in text)


def truncate(text: str, width: int, charset: Charset = UNICODE) -> str:
    """`text` cut to at most `width` characters, ending in an ellipsis when cut."""
    if len(text) <= width:
        return text
    if width <= len(charset.ellipsis):
        return text[:width]
    return text[: width - len(charset.ellipsis)] + charset.ellipsis


def format_number(value: float, digits: int = 4) -> str:
    """A metric value in few characters: `0.4312`, `200`, `12345.7`, `1.235e-07`."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    size = abs(value)
    if 1e-4 <= size < 10**digits:
        return f"{value:.{digits}g}"
    if 10**digits <= size < 1e9:
        return f"{value:.1f}"
    return f"{value:.{digits - 1}e}"


def format_numbers(
    values: Sequence[float | None], digits: int = 4, missing: str = "-"
) -> list[str]:
    """Metric values of one column with a shared number of decimals, so the points line up.

    Each value keeps at least `digits` significant digits; a column that would get too
    wide that way (values of very different sizes) falls back to `format_number` per value.
    """
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite or any(v != 0 and not 1e-4 <= abs(v) < 1e9 for v in finite):
        return [missing if v is None else format_number(v, digits) for v in values]
    if all(v == int(v) for v in finite):
        decimals = 0
    else:
        decimals = max(
            max(0, digits - 1 - math.floor(math.log10(abs(v)))) if v else 0 for v in finite
        )
    texts = [missing if v is None else f"{v:.{decimals}f}" for v in values]
    if decimals > 6 or max(len(t) for t in texts) > 12:
        return [missing if v is None else format_number(v, digits) for v in values]
    return texts


def format_duration(seconds: float | None) -> str:
    """`1.2s`, `3m04s`, `2h05m`, `3d04h`; `running` for None."""
    if seconds is None:
        return "running"
    # Below 59.95 s: above it one decimal would round to "60.0s", which reads as a minute.
    if seconds < 59.95:
        return f"{max(seconds, 0.0):.1f}s"
    total = round(seconds)
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    if total < 86400:
        return f"{total // 3600}h{total % 3600 // 60:02d}m"
    return f"{total // 86400}d{total % 86400 // 3600:02d}h"


def format_time(ms: int | None) -> str:
    """Milliseconds since the epoch as local time, `YYYY-MM-DD HH:MM:SS`; `-` for None."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def format_size(size: int | None) -> str:
    """Bytes as `312 B`, `12.3 KiB`, `4.0 MiB`; empty for None."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


@dataclass
class Column:
    """One column of a table and how it may give way when the terminal is narrow.

    Attributes:
        header: the title line text.
        align: "<" (text) or ">" (numbers).
        max_width: the widest it gets even when there is room (long values are cut).
        soft_min: it shrinks to this before any column is dropped.
        min_width: it shrinks to this once nothing more can be dropped.
        drop: dropped when the table does not fit; higher goes first. None: never dropped.
        group: a label printed above a run of neighbouring columns with the same group.
    """

    header: str
    align: str = "<"
    max_width: int | None = None
    soft_min: int | None = None
    min_width: int | None = None
    drop: int | None = None
    group: str = ""
    cells: list[str] = field(default_factory=list)

    def natural(self) -> int:
        width = max([len(self.header), *(len(c) for c in self.cells)])
        return min(width, self.max_width) if self.max_width else width

    def floor(self, soft: bool) -> int:
        hard = self.min_width if self.min_width is not None else self.natural()
        if soft and self.soft_min is not None:
            return min(max(self.soft_min, hard), self.natural())
        return min(hard, self.natural())


def _shrink(columns: Sequence[Column], widths: list[int], soft: bool, width: int) -> bool:
    """Narrow the widest columns above their floors until the table fits; True if it does."""
    floors = [c.floor(soft) for c in columns]
    while _total(columns, widths) > width:
        room = [i for i, w in enumerate(widths) if w > floors[i]]
        if not room:
            return False
        widest = max(room, key=lambda i: (widths[i], i))
        widths[widest] -= 1
    return True


def _total(columns: Sequence[Column], widths: list[int]) -> int:
    """The width of the table, with room for the group labels."""
    padded = list(widths)
    _pad_groups(columns, padded)
    return sum(padded) + len(SEPARATOR) * (len(columns) - 1)


def _group_runs(columns: Sequence[Column]) -> list[tuple[int, int]]:
    """(first, last) indexes of each run of neighbouring columns with the same group."""
    runs: list[tuple[int, int]] = []
    for i, col in enumerate(columns):
        if runs and columns[runs[-1][0]].group == col.group:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _pad_groups(columns: Sequence[Column], widths: list[int]) -> int:
    """Widen each group's last column so its label fits above it; return the width added."""
    added = 0
    for first, last in _group_runs(columns):
        span = sum(widths[first : last + 1]) + len(SEPARATOR) * (last - first)
        need = len(columns[first].group) - span
        if need > 0:
            widths[last] += need
            added += need
    return added


def _fit(columns: list[Column], width: int | None) -> tuple[list[Column], list[int]]:
    """Choose which columns to keep and how wide each is so the table fits in `width`."""
    kept = list(columns)
    while True:
        widths = [c.natural() for c in kept]
        if width is None or _shrink(kept, widths, True, width):
            break
        droppable = [c for c in kept if c.drop is not None]
        if not droppable:
            # Group labels that still do not fit are cut rather than widening the table.
            if not _shrink(kept, widths, False, width):
                return kept, widths
            break
        victim = max(droppable, key=lambda c: (c.drop or 0, kept.index(c)))
        kept.remove(victim)
    _pad_groups(kept, widths)
    return kept, widths


def fit_columns(columns: Sequence[Column], width: int | None) -> list[Column]:
    """The columns `render_table` keeps to fit the table into `width` (all of them for None)."""
    return _fit(list(columns), width)[0]


def render_table(
    columns: Sequence[Column], width: int | None = None, charset: Charset = UNICODE
) -> list[str]:
    """The lines of a table (group line, header line, one per row) fitted into `width`.

    Every column's `cells` must have the same length. Cells are cut with the
    charset's ellipsis; a column with neither `soft_min` nor `min_width` is never cut.
    """
    kept, widths = _fit(list(columns), width)

    def cell(text: str, col: Column, w: int) -> str:
        text = truncate(one_line(text), w, charset)
        return text.rjust(w) if col.align == ">" else text.ljust(w)

    lines: list[str] = []
    if any(c.group for c in kept):
        parts: list[str] = []
        for first, last in _group_runs(kept):
            span = sum(widths[first : last + 1]) + len(SEPARATOR) * (last - first)
            parts.append(truncate(kept[first].group, span, charset).ljust(span))
        lines.append(SEPARATOR.join(parts).rstrip())
    lines.append(
        SEPARATOR.join(cell(c.header, c, w) for c, w in zip(kept, widths, strict=True)).rstrip()
    )
    rows = len(kept[0].cells) if kept else 0
    for r in range(rows):
        lines.append(
            SEPARATOR.join(
                cell(c.cells[r], c, w) for c, w in zip(kept, widths, strict=True)
            ).rstrip()
        )
    return lines


@dataclass
class TreeNode:
    """A file (size set) or a directory (children set) in a tree listing."""

    name: str
    size: int | None = None
    children: list[TreeNode] | None = None

    def total(self) -> tuple[int, int]:
        """(number of files, bytes) under this node, itself included."""
        if self.children is None:
            return 1, self.size or 0
        files = size = 0
        for child in self.children:
            f, s = child.total()
            files, size = files + f, size + s
        return files, size


def render_tree(
    nodes: Sequence[TreeNode], charset: Charset = UNICODE, indent: str = ""
) -> list[str]:
    """Lines of a tree: names with branch lines, then sizes in an aligned column.

    A directory shows as `name/` with the total size of the files below it and their count.
    """
    rows: list[tuple[str, str, str]] = []

    def walk(items: Sequence[TreeNode], prefix: str, top: bool) -> None:
        for i, node in enumerate(items):
            last = i == len(items) - 1
            branch = "" if top else (charset.elbow if last else charset.tee)
            if node.children is None:
                rows.append((prefix + branch + node.name, format_size(node.size), ""))
                continue
            files, size = node.total()
            count = f"({files} file{'s' if files != 1 else ''})"
            rows.append((prefix + branch + node.name + "/", format_size(size), count))
            below = "" if top else (charset.blank if last else charset.pipe)
            walk(node.children, prefix + below, False)

    walk(nodes, "", True)
    if not rows:
        return []
    name_width = max(len(name) for name, _, _ in rows)
    size_width = max(len(size) for _, size, _ in rows)
    return [
        f"{indent}{name.ljust(name_width)}{SEPARATOR}{size.rjust(size_width)}{SEPARATOR}{count}".rstrip()
        for name, size, count in rows
    ]


def key_value_lines(pairs: Sequence[tuple[str, str]], indent: str = "") -> list[str]:
    """`key  value` lines with the values aligned; a value's extra lines stay under it."""
    if not pairs:
        return []
    width = max(len(k) for k, _ in pairs)
    out: list[str] = []
    for key, value in pairs:
        first, *rest = value.splitlines() or [""]
        out.append(f"{indent}{key.ljust(width)}{SEPARATOR}{first}".rstrip())
        pad = " " * (len(indent) + width + len(SEPARATOR))
        out.extend(f"{pad}{line}".rstrip() for line in rest)
    return out
