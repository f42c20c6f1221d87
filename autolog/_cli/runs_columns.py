"""The `--columns` option of `autolog runs`: which columns a user asked for.

`--columns` grammar (comma-separated; the option may be repeated)::

    columns := ["+"] item ("," item)*
    item    := params.KEY | metrics.KEY | tags.KEY | attributes.NAME | NAME

KEY may be a glob (`*`, `?`, `[...]`, matched case-sensitively against the keys of
the listed runs, in sorted order) and may be quoted in backticks or double quotes
(needed for a key holding a comma). The prefixes take the aliases of the search
grammar (`metric.`, `param.`, `tag.`, `attribute.`, `attr.`). NAME is an attribute:
`id`, `name`, `status`, `start_time`, `end_time`, `duration`, `experiment`,
`experiment_id`, `parent_id` (or the search grammar's `run_id`, `run_name`, and
`start`, `end`). A list is the whole table, in its order, after the run id and name
(which lead unless the list names them); a list starting with "+" adds its columns to
the default ones instead.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from autolog._cli.table import format_duration, format_time
from autolog._entities import Run
from autolog.errors import InvalidValueError

__all__ = ["ATTRIBUTES", "Attribute", "ColumnItem", "ColumnList", "parse_columns"]

# The search grammar's prefixes and aliases, naming the Run attribute each column reads.
_KIND_OF_PREFIX = {"metrics": "metrics", "metric": "metrics", "params": "params",
                   "param": "params", "tags": "tags", "tag": "tags", "attributes": "attributes",
                   "attribute": "attributes", "attr": "attributes"}  # fmt: skip


@dataclass(frozen=True)
class Attribute:
    """How a run attribute shows in a table: its header, its cell, and its widths."""

    header: str
    cell: Callable[[Run], str]
    max_width: int | None = None
    soft_min: int | None = None
    min_width: int | None = None


ATTRIBUTES: dict[str, Attribute] = {
    "id": Attribute("RUN ID", lambda r: r.id),
    "name": Attribute("NAME", lambda r: r.name, 40, 16, 8),
    "experiment": Attribute("EXPERIMENT", lambda r: r.experiment, 24, 10, 6),
    "experiment_id": Attribute("EXPERIMENT ID", lambda r: r.experiment_id),
    "status": Attribute("STATUS", lambda r: r.status.value),
    "start_time": Attribute("START", lambda r: format_time(r.start_time)),
    "end_time": Attribute("END", lambda r: format_time(r.end_time)),
    "duration": Attribute("DURATION", lambda r: format_duration(r.duration)),
    "parent_id": Attribute("PARENT ID", lambda r: r.parent_id or "-"),
}
_ATTRIBUTE_ALIASES = {"run_id": "id", "run_name": "name", "start": "start_time", "end": "end_time"}
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class ColumnItem:
    """One item of --columns: an attribute, or a param, metric or tag key or glob."""

    kind: str  # "attributes", "params", "metrics" or "tags"
    key: str  # an attribute name, or a key or glob
    text: str  # as written, for messages

    def matches(self, keys: Iterable[str]) -> list[str]:
        """The keys among `keys` this item names (sorted for a glob)."""
        if _GLOB.search(self.key):
            return sorted(k for k in keys if fnmatch.fnmatchcase(k, self.key))
        return [self.key] if self.key in keys else []


@dataclass(frozen=True)
class ColumnList:
    """A parsed `--columns` value: its items, and whether they add to the default columns."""

    items: tuple[ColumnItem, ...]
    add: bool


def _split(text: str) -> list[str]:
    """`text` split at commas outside backticks and double quotes."""
    parts, current, quote = [], "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in '`"':
            quote = char
        elif char == ",":
            parts.append(current)
            current = ""
            continue
        current += char
    if quote:
        raise InvalidValueError(
            f"--columns {text!r} opens a {quote} quote it never closes; close it after the key"
        )
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _item(text: str) -> ColumnItem:
    prefix, dot, rest = text.partition(".")
    kind = _KIND_OF_PREFIX.get(prefix.lower()) if dot else None
    if kind is None and dot:
        raise InvalidValueError(
            f"--columns item {text!r} has the prefix {prefix!r}; use params., metrics., tags. or"
            " attributes. (for example metrics.rmse)"
        )
    name = rest if kind is not None else text
    if len(name) >= 2 and name[0] in '`"' and name[-1] == name[0]:
        name = name[1:-1]
    if not name:
        raise InvalidValueError(f"--columns item {text!r} names no key; write e.g. {text}rmse")
    if kind is not None and kind != "attributes":
        return ColumnItem(kind, name, text)
    attribute = _ATTRIBUTE_ALIASES.get(name.lower(), name.lower())
    if attribute not in ATTRIBUTES:
        close = difflib.get_close_matches(attribute, [*ATTRIBUTES, *_ATTRIBUTE_ALIASES], n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InvalidValueError(
            f"--columns item {text!r} is not an attribute; {hint}attributes are"
            f" {', '.join(ATTRIBUTES)}; write params.{name}, metrics.{name} or tags.{name}"
            " for a param, metric or tag"
        )
    return ColumnItem("attributes", attribute, text)


def parse_columns(values: Sequence[str]) -> ColumnList:
    """The `--columns` values (each comma-separated) as one list; see the module docstring."""
    texts = [v.strip() for v in values]
    add = bool(texts) and texts[0].startswith("+")
    items: list[ColumnItem] = []
    for text in texts:
        if text.startswith("+"):
            if not add:
                raise InvalidValueError(
                    f"--columns {text!r} starts with '+' but the first --columns does not;"
                    " start the first with '+' to add to the default columns, or drop the '+'"
                )
            text = text[1:]
        items.extend(_item(part) for part in _split(text))
    if not items:
        raise InvalidValueError(
            "--columns names no columns; list some, e.g. --columns 'metrics.*_X_test,params.C'"
        )
    return ColumnList(tuple(items), add)
