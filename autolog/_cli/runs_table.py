"""The columns of the `autolog runs` table: the default choice and `--columns`.

Default columns, after the run's id, name, status, start and duration: the metrics
that tell most about each listed run, then the params that tell the runs apart.

- Metrics rank: named in --filter or --order-by; computed after training on held-out
  data (`accuracy_score_X_test`, the `<function>_<data>` keys of post-training
  metrics); validation and cross-validation scores (`best_cv_score`,
  `mean_test_score`, XGBoost's `valid-auc`); other metrics the user logged; training
  metrics (`training_*`, `train-*`, `*_X_train`); autolog's bookkeeping last (feature
  importances, fit times, spreads and ranks of a search). Each listed run first gets
  its best metric as a column (so the one run with test metrics shows them even among
  many that lack them), then the rest of the `METRIC_COLUMNS` go by rank.
- Params: those named in --filter or --order-by, a search's chosen values (`best_*`),
  then those whose value differs between the listed runs: first those that differ
  between siblings (children of one parent, or top-level runs), plain values before
  object reprs and lists, most common first, up to `PARAM_COLUMNS`. A param with one
  value everywhere tells the runs apart by nothing.
- A column whose values are all `nan`, `None` or empty is left out.

`--columns` lists columns instead, or adds to these: see runs_columns.py.
"""

from __future__ import annotations

import difflib
import math
import re
import shlex
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from autolog import _tags
from autolog._cli.runs_columns import ATTRIBUTES, ColumnItem, ColumnList
from autolog._cli.table import (
    UNICODE,
    Charset,
    Column,
    format_numbers,
)
from autolog._entities import Run

__all__ = [
    "METRIC_COLUMNS",
    "PARAM_COLUMNS",
    "SYSTEM_TAG_PREFIX",
    "RunsTable",
    "mentioned_keys",
    "metric_rank",
    "runs_table",
    "tree_order",
]

METRIC_COLUMNS = 6
PARAM_COLUMNS = 4
_HEADER_WIDTH = 24  # a longer key is cut in a header
SYSTEM_TAG_PREFIX = _tags.PREFIX
_KINDS = ("params", "metrics", "tags")
_EMPTY_VALUES = frozenset({"", "nan", "NaN", "None", "none", "null"})

# Post-training metrics are logged as `<function>_<data>` (integrations/_post_training.py).
_POST_TRAINING = re.compile(
    r"^(?:\w+?(?:_score|_error|_loss|_deviance)|matthews_corrcoef)_(?P<data>\w+?)(?:-\d+)?$"
)
_HELD_OUT_WORDS = frozenset({"test", "val", "valid", "validation", "eval", "holdout", "cv", "oob"})
_TRAINING_WORDS = frozenset({"train", "training"})
_BOOKKEEPING_WORDS = frozenset({"std", "rank", "time", "calls", "iteration"})
_HELD_OUT, _VALIDATION, _OTHER, _TRAINING, _BOOKKEEPING = range(1, 6)


# -- which columns by default --------------------------------------------------------------


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]


def metric_rank(key: str) -> int:
    """How much a metric tells about a run: 1 (held-out data) to 5 (autolog's bookkeeping)."""
    words = set(_words(key))
    if key.startswith("feature_importance.") or words & _BOOKKEEPING_WORDS:
        return _BOOKKEEPING  # first: `mean_score_time` reads like a post-training metric
    post = _POST_TRAINING.match(key)
    if post is not None and not set(_words(post["data"])) & _TRAINING_WORDS:
        return _HELD_OUT
    if words & _TRAINING_WORDS:
        return _TRAINING
    if words & _HELD_OUT_WORDS or key == "best_score":  # XGBoost's early-stopping score
        return _VALIDATION
    return _OTHER


# A params.KEY or metrics.KEY reference in a filter or order-by (see autolog/_search.py).
_MENTION = re.compile(
    r"(?<![\w.`\"'])(metrics?|params?)\.(`[^`]+`|\"[^\"]+\"|[A-Za-z0-9_.:/]+)", re.IGNORECASE
)


def mentioned_keys(text: str) -> dict[str, list[str]]:
    """The params and metrics a filter or order-by names, in order."""
    found: dict[str, list[str]] = {"params": [], "metrics": []}
    for match in _MENTION.finditer(text):
        kind = "params" if match.group(1).lower().startswith("param") else "metrics"
        key = match.group(2)
        if key[0] in '`"':
            key = key[1:-1]
        if key not in found[kind]:
            found[kind].append(key)
    return found


def _first_seen(mappings: Iterable[Mapping[str, object]]) -> dict[str, int]:
    """Each key and the position it first appears at (the order runs logged them)."""
    order: dict[str, int] = {}
    for mapping in mappings:
        for key in mapping:
            order.setdefault(key, len(order))
    return order


def _is_empty(value: object) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    return str(value).strip() in _EMPTY_VALUES


def _all_empty(values: Sequence[Mapping[str, object]], key: str) -> bool:
    return all(_is_empty(mapping[key]) for mapping in values if key in mapping)


def _varies(values: Sequence[Mapping[str, object]], key: str) -> bool:
    """Whether the runs that have `key` disagree on its value."""
    return len({repr(mapping[key]) for mapping in values if key in mapping}) > 1


def default_metrics(rows: Sequence[Run], pinned: Sequence[str]) -> list[str]:
    """Up to METRIC_COLUMNS metric keys: pinned, each run's best, then the best overall.

    In that order, which is the order they give way in on a narrow terminal (last first).
    """
    values = [r.metrics for r in rows]
    seen = _first_seen(values)
    usable = [k for k in seen if not _all_empty(values, k)]

    def order(key: str) -> tuple[int, int, int]:
        pin = pinned.index(key) if key in pinned else len(pinned)
        return (pin, metric_rank(key), seen[key])

    chosen = [k for k in pinned if k in seen][:METRIC_COLUMNS]
    for run in rows:
        own = [k for k in run.metrics if k in usable]
        if own and len(chosen) < METRIC_COLUMNS and not any(k in chosen for k in own):
            chosen.append(min(own, key=order))
    for key in sorted(usable, key=order):
        if len(chosen) >= METRIC_COLUMNS:
            break
        if key not in chosen:
            chosen.append(key)
    return chosen


def _varies_among_siblings(rows: Sequence[Run], key: str) -> bool:
    """Whether runs of one parent (or top-level runs) disagree on param `key`.

    A search's own `verbose=0` and its candidates' `verbose=False` are params of different
    estimators under one name: they tell no two comparable runs apart.
    """
    groups: dict[str | None, set[str]] = {}
    for run in rows:
        if key in run.params:
            groups.setdefault(run.parent_id, set()).add(run.params[key])
    return any(len(found) > 1 for found in groups.values())


def _is_composite(rows: Sequence[Run], key: str) -> bool:
    """Whether param `key` holds object reprs or long lists (`[('scale', Standard...`)."""
    return any(
        len(value) > _SCALAR_WIDTH or value[:1] in ("[", "(", "{") or "(" in value
        for run in rows
        if (value := run.params.get(key)) is not None
    )


_SCALAR_WIDTH = 40


def default_params(rows: Sequence[Run], pinned: Sequence[str]) -> list[str]:
    """Up to PARAM_COLUMNS param keys: pinned, a search's `best_*`, then those that vary.

    Params that differ between siblings come first, and plain values (numbers, names)
    before object reprs and lists.
    """
    values = [r.params for r in rows]
    seen = _first_seen(values)
    present = Counter(key for mapping in values for key in mapping)
    chosen = [k for k in pinned if k in seen]
    best = [k for k in seen if k.startswith("best_") and not _all_empty(values, k)]
    varying = sorted(
        (k for k in seen if _varies(values, k) and not _all_empty(values, k)),
        key=lambda k: (
            not _varies_among_siblings(rows, k),
            _is_composite(rows, k),
            -present[k],
            seen[k],
        ),
    )
    for key in [*best, *varying]:
        if key not in chosen:
            chosen.append(key)
    return chosen[:PARAM_COLUMNS]


# -- the table -----------------------------------------------------------------------------


@dataclass
class RunsTable:
    """The columns of a runs table, and what the listed runs hold that it does not show."""

    columns: list[Column]
    hidden: dict[str, list[str]] = field(default_factory=dict)  # kind -> keys not shown
    unmatched: list[str] = field(default_factory=list)  # --columns items no run has

    def footer(self, cut: int) -> str:
        """A line saying what is not shown (`cut` columns did not fit) and how to show it."""
        counts = [(kind, len(keys)) for kind, keys in self.hidden.items() if keys]
        parts = [f"{n} {kind if n != 1 else kind[:-1]}" for kind, n in counts]
        if cut:
            parts.append(f"{cut} column{'s' if cut != 1 else ''} too wide for the terminal")
        if not parts:
            return ""
        example = [f"{kind}.{keys[0]}" for kind, keys in self.hidden.items() if keys][:2]
        if example:
            how = f"show some with --columns {shlex.quote('+' + ','.join(example))}"
        else:
            how = "pick the ones to show with --columns"
        return f"not shown: {', '.join(parts)}; {how} (see --help)"


def _key_column(kind: str, key: str, rows: Sequence[Run], drop: int | None) -> Column:
    values: list[Mapping[str, object]] = [getattr(r, kind) for r in rows]
    if len(rows) > 1 and all(key in v for v in values) and not _varies(values, key):
        drop = None if drop is None else drop + 50  # tells the rows apart by nothing
    if kind == "metrics":
        cells = format_numbers([r.metrics.get(key) for r in rows])
        # Numbers are never cut (the column is dropped instead); a header only when it is
        # long or nothing is left to drop: "accura…" over a number tells nothing.
        width = max(len(c) for c in cells)
        return Column(
            key,
            align=">",
            soft_min=max(width, min(len(key), _HEADER_WIDTH)),
            min_width=width,
            group=kind,
            drop=drop,
            cells=cells,
        )
    return Column(
        key,
        max_width=_HEADER_WIDTH,
        soft_min=max(6, min(len(key), _HEADER_WIDTH)),
        min_width=4,
        group=kind,
        drop=drop,
        cells=[str(v.get(key, "-")) for v in values],
    )


def _attribute_column(name: str, rows: Sequence[Run], drop: int | None, names: list[str]) -> Column:
    """The column of an attribute; `names` are the run names indented as in the tree."""
    a = ATTRIBUTES[name]
    return Column(
        a.header,
        max_width=a.max_width,
        soft_min=a.soft_min,
        min_width=a.min_width,
        drop=drop,
        cells=names if name == "name" else [a.cell(r) for r in rows],
    )


def runs_table(
    runs: Sequence[Run],
    mentioned: str = "",
    charset: Charset = UNICODE,
    columns: ColumnList | None = None,
) -> RunsTable:
    """The table of `runs`, children indented under their parents: default or `columns`.

    `mentioned` is filter or order-by text: the params and metrics it names come first.
    """
    ordered = tree_order(runs, charset)
    rows = [run for run, _ in ordered]
    names = [prefix + run.name for run, prefix in ordered]
    keys = {kind: list(_first_seen(getattr(r, kind) for r in rows)) for kind in _KINDS}
    table = RunsTable([])
    shown: dict[str, list[str]] = {kind: [] for kind in _KINDS}
    if columns is None or columns.add:
        table.columns = _default_columns(rows, names, mentioned_keys(mentioned), shown)
    if columns is not None and not columns.add:
        named = {item.key for item in columns.items if item.kind == "attributes"}
        for attribute in ("id", "name"):  # a row needs telling apart, unless asked otherwise
            if attribute not in named:
                table.columns.append(_attribute_column(attribute, rows, None, names))
    taken = {(c.group or "attributes", c.header) for c in table.columns}
    for item in [] if columns is None else columns.items:
        # A column the user named outlasts the default ones; of two, the later goes first.
        if item.kind == "attributes":
            header = ATTRIBUTES[item.key].header
            if ("attributes", header) not in taken:
                taken.add(("attributes", header))
                table.columns.append(_attribute_column(item.key, rows, 1, names))
            continue
        found = item.matches(keys[item.kind])
        if not found:
            table.unmatched.append(_unmatched(item, keys[item.kind]))
        for key in found:
            if (item.kind, key) not in taken:
                taken.add((item.kind, key))
                shown[item.kind].append(key)
                table.columns.append(_key_column(item.kind, key, rows, 1))
    if columns is None or columns.add:
        order = {"params": _param_order(rows), "metrics": _metric_order(rows)}
        for kind in _KINDS:
            rest = [k for k in keys[kind] if k not in shown[kind]]
            if kind == "tags":  # autolog's own tags are many and seldom worth a column
                rest = [k for k in rest if not k.startswith(SYSTEM_TAG_PREFIX)]
            table.hidden[kind] = sorted(rest, key=order[kind]) if kind in order else rest
    return table


def _param_order(rows: Sequence[Run]) -> Callable[[str], tuple[int, int]]:
    values = [r.params for r in rows]
    seen = _first_seen(values)
    present = Counter(key for mapping in values for key in mapping)
    return lambda k: (-present[k], seen[k])


def _metric_order(rows: Sequence[Run]) -> Callable[[str], tuple[int, int]]:
    seen = _first_seen(r.metrics for r in rows)
    return lambda k: (metric_rank(k), seen[k])


def _unmatched(item: ColumnItem, keys: Sequence[str]) -> str:
    close = difflib.get_close_matches(item.key, keys, n=1)
    hint = f"; did you mean {item.kind}.{close[0]}?" if close else ""
    return f"--columns {item.text!r}: no listed run has such a {item.kind[:-1]}{hint}"


def _default_columns(
    rows: Sequence[Run],
    names: list[str],
    pinned: Mapping[str, Sequence[str]],
    shown: dict[str, list[str]],
) -> list[Column]:
    # Drop order on a narrow terminal: columns whose value is the same in every row, START
    # and DURATION, the later params and metrics, the first param, the first metric last.
    columns = [
        _attribute_column("id", rows, None, names),
        _attribute_column("name", rows, None, names),
        _attribute_column("status", rows, None, names),
        _attribute_column("start_time", rows, 40, names),
        _attribute_column("duration", rows, 39, names),
    ]
    if len({r.experiment_id for r in rows}) > 1:
        columns.insert(2, _attribute_column("experiment", rows, 100, names))
    shown["params"] = default_params(rows, pinned.get("params", ()))
    shown["metrics"] = default_metrics(rows, pinned.get("metrics", ()))
    for i, key in enumerate(shown["params"]):
        columns.append(_key_column("params", key, rows, 21 + 2 * i if i else 10))
    chosen = shown["metrics"]
    pins = [k for k in pinned.get("metrics", ()) if k in chosen]
    order = _metric_order(rows)
    for key in [*pins, *sorted((k for k in chosen if k not in pins), key=order)]:
        i = chosen.index(key)
        columns.append(_key_column("metrics", key, rows, 20 + 2 * i if i else 9))
    return columns


def tree_order(runs: Sequence[Run], charset: Charset) -> list[tuple[Run, str]]:
    """`runs` with each child moved under its parent (when listed), and its name prefix."""
    listed = {run.id for run in runs}
    children: dict[str, list[Run]] = {}
    roots: list[Run] = []
    for run in runs:
        if run.parent_id in listed and run.parent_id != run.id:
            children.setdefault(run.parent_id, []).append(run)
        else:
            roots.append(run)
    out: list[tuple[Run, str]] = []
    seen: set[str] = set()

    def walk(run: Run, lead: str, branch: str) -> None:
        seen.add(run.id)
        out.append((run, lead + branch))
        kids = [k for k in children.get(run.id, []) if k.id not in seen]
        below = lead + (
            "" if not branch else charset.blank if branch == charset.elbow else charset.pipe
        )
        for i, kid in enumerate(kids):
            walk(kid, below, charset.elbow if i == len(kids) - 1 else charset.tee)

    for run in roots:
        walk(run, "", "")
    # Parent links that loop (only in a damaged store) leave runs unreached: list them flat.
    out.extend((run, "") for run in runs if run.id not in seen)
    return out
