"""The search grammar: filters and order-by clauses parsed into a tree a backend can evaluate.

`parse_query` turns a filter into a `Query` of `Clause`s on `Field`s, and
`parse_orders` turns order-by clauses into `Order`s. A backend either evaluates
them in Python (`Query.matches`, `sort_runs`: the layout backend) or translates
them (to SQL, to a request), with the semantics written here.

Filter grammar::

    filter  := clause (AND clause)*
    clause  := IDENT OP VALUE | IDENT IS [NOT] NULL | IDENT [NOT] IN (VALUE, ...)
    IDENT   := metrics.KEY | params.KEY | tags.KEY | attributes.NAME | NAME
    OP      := = | == | != | < | <= | > | >= | LIKE | ILIKE | NOT LIKE | NOT ILIKE
    VALUE   := 'string' | "string" | number

- Keywords (AND, LIKE, ILIKE, NOT, IN, IS, NULL) are case-insensitive. There is no OR:
  run two searches and combine the results.
- Prefixes have aliases: `metric.`, `param.`, `tag.`, `attribute.` and `attr.`. The first dot
  ends the prefix, so `params.clf.C` is the param `clf.C`. An unquoted KEY is made of letters,
  digits and `_ . : /`; write any other key in backticks or double quotes:
  metrics.`val-loss`, tags."model type".
- NAME is one of `id` (or `run_id`), `name` (or `run_name`), `status`, `start_time`,
  `end_time`, `duration`, `experiment`, `experiment_id`, `parent_id`.
- Strings take single or double quotes; a backslash before the quote or a backslash stands
  for that character. Numbers are ints or floats with an optional sign and exponent.
- Metrics, `start_time`, `end_time` (ms since the epoch) and `duration` (seconds) compare
  numerically and need a number. Params, tags and the other attributes are strings: an
  unquoted number given for them is compared by its text. `<`, `<=`, `>`, `>=` on params and
  tags compare numerically when both sides parse as numbers, else as strings. `status`
  compares case-insensitively to RUNNING, FINISHED, FAILED or KILLED.
- LIKE and ILIKE (case-insensitive) match the whole value; `%` matches any run of
  characters and `_` one character; a backslash makes the next character literal.
- A run without the key (or with `end_time`, `duration`, `parent_id` unset) matches only
  `IS NULL`; even `!=` and `NOT IN` do not match it, as in SQL.

Example: ``metrics.rmse < 0.5 and params.model LIKE 'xgb%' and status = 'finished'``

Order-by clauses are ``IDENT [ASC|DESC]`` (ASC by default), one per string, applied in turn;
runs without the key sort last in either direction. Metrics sort numerically, params and
tags numerically when every present value parses as a number else as strings, attributes
natively. Ties are broken by `start_time DESC`, then `id`, which is also the default order.
"""

from __future__ import annotations

import difflib
import functools
import operator
import re
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from autolog._entities import Run, RunStatus
from autolog.errors import FilterSyntaxError, InvalidValueError

__all__ = [
    "Clause",
    "Field",
    "FieldKind",
    "Order",
    "Query",
    "ValueType",
    "like_regex",
    "parse_orders",
    "parse_query",
    "sort_runs",
]

FieldKind = Literal["metric", "param", "tag", "attribute"]
ValueType = Literal["number", "text", "status"]
_Value = str | float | None

_PREFIXES: dict[str, FieldKind] = {"metrics": "metric", "metric": "metric", "params": "param",
             "param": "param", "tags": "tag", "tag": "tag", "attributes": "attribute",
             "attribute": "attribute", "attr": "attribute"}  # fmt: skip
_ATTRS: dict[str, Callable[[Run], _Value]] = {
    "id": lambda r: r.id,
    "name": lambda r: r.name,
    "status": lambda r: r.status.value,
    "start_time": lambda r: r.start_time,
    "end_time": lambda r: r.end_time,
    "duration": lambda r: r.duration,
    "experiment": lambda r: r.experiment,
    "experiment_id": lambda r: r.experiment_id,
    "parent_id": lambda r: r.parent_id,
}
_ATTR_ALIASES = {"run_id": "id", "run_name": "name"}
_STATUSES = [s.value for s in RunStatus]
_NUMERIC_ATTRS = {"start_time", "end_time", "duration"}
_KEYWORDS = {"AND", "OR", "NOT", "LIKE", "ILIKE", "IN", "IS", "NULL", "ASC", "DESC"}
_CMP: dict[str, Callable[[Any, Any], bool]] = {"=": operator.eq, "!=": operator.ne,
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}  # fmt: skip
_WORD_START = set(string.ascii_letters + "_")
_WORD_CHARS = set(string.ascii_letters + string.digits + "_")
_KEY_CHARS = _WORD_CHARS | set(".:/")


# -- the query tree ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """What a clause or an order names: a metric, param or tag key, or a run attribute.

    `key` is the metric, param or tag key, or an attribute's canonical name (`id`,
    `name`, `status`, `start_time`, `end_time`, `duration`, `experiment`,
    `experiment_id`, `parent_id`). `type` says how values compare: metrics and the
    times are numbers, `status` a run status, everything else text.
    """

    kind: FieldKind
    key: str
    type: ValueType

    @property
    def label(self) -> str:
        """The field as messages name it, e.g. "metric 'rmse'"."""
        return f"{self.kind} {self.key!r}"

    def read(self, run: Run) -> _Value:
        """The value of this field in `run`, or None when the run has none."""
        if self.kind == "metric":
            return run.metrics.get(self.key)
        if self.kind == "param":
            return run.params.get(self.key)
        if self.kind == "tag":
            return run.tags.get(self.key)
        return _ATTRS[self.key](run)


@dataclass(frozen=True)
class Clause:
    """One comparison of a filter: `field op values`.

    `op` is one of =, !=, <, <=, >, >=, LIKE, ILIKE, NOT LIKE, NOT ILIKE, IN, NOT IN,
    IS NULL, IS NOT NULL. `values` holds floats for number fields, upper-case names
    for `status` (except in LIKE patterns), strings otherwise, and nothing for IS [NOT] NULL.
    """

    field: Field
    op: str
    values: tuple[str | float, ...] = ()

    def matches(self, run: Run) -> bool:
        """Whether `run` satisfies this clause (a run without the field only matches IS NULL)."""
        value = self.field.read(run)
        if self.op.startswith("IS"):
            return (value is None) == (self.op == "IS NULL")
        if value is None:
            return False
        negated = self.op.startswith("NOT")
        if "LIKE" in self.op:
            rx = like_regex(str(self.values[0]), "ILIKE" in self.op or self.field.type == "status")
            return (rx.fullmatch(str(value)) is None) == negated
        if self.op.endswith("IN"):
            return (value in self.values) != negated
        cmp, wanted = _CMP[self.op], self.values[0]
        if self.field.kind in ("param", "tag") and self.op not in ("=", "!="):
            return _ordered(cmp, str(value), str(wanted))
        return cmp(value, wanted)


@dataclass(frozen=True)
class Query:
    """A parsed filter: every clause must hold (there is no OR)."""

    clauses: tuple[Clause, ...] = ()

    def matches(self, run: Run) -> bool:
        """Whether `run` satisfies every clause."""
        return all(clause.matches(run) for clause in self.clauses)


@dataclass(frozen=True)
class Order:
    """One order-by clause: a field and a direction."""

    field: Field
    descending: bool = False


# Ties are broken by start time, newest first, then by id, which makes the order total.
_DEFAULT_ORDER = (
    Order(Field("attribute", "start_time", "number"), descending=True),
    Order(Field("attribute", "id", "text")),
)


# -- parsing -----------------------------------------------------------------------------------


class _Tok(NamedTuple):
    """One token of a filter or order-by clause."""

    kind: str  # word, ident, string, number, op, punct or end
    text: str  # as written, for messages
    pos: int
    value: str = ""  # string contents, number text, upper-cased word, or an ident's key
    prefix: str = ""  # an ident's prefix as written


def _syntax_error(src: str, label: str, pos: int, problem: str) -> FilterSyntaxError:
    """Build the error for `problem` at `pos`, quoting `src` with a caret under the spot."""
    # Non-printables would shift or break the caret line, so they are shown as spaces.
    shown = "".join(c if c.isprintable() else " " for c in src)
    return FilterSyntaxError(
        f"invalid {label} {src!r} at position {pos}: {problem}\n    {shown}\n    {' ' * pos}^"
    )


def _read_quoted(src: str, start: int, label: str) -> tuple[str, int]:
    """Return the contents of the quoted text opening at `start` and the index after it."""
    quote, i, out = src[start], start + 1, []
    while i < len(src):
        if src[i] == "\\" and i + 1 < len(src) and src[i + 1] in (quote, "\\"):
            out.append(src[i + 1])
            i += 2
        elif src[i] == quote:
            return "".join(out), i + 1
        else:
            out.append(src[i])
            i += 1
    problem = f"unterminated string {src[start:]!r}: add the closing {quote}"
    raise _syntax_error(src, label, start, problem)


def _read_number(src: str, start: int, label: str) -> int | None:
    """Return the index after the number opening at `start`, or None if none opens there."""
    i = start + 1 if src[start] in "+-" else start
    if not src[i + (src[i : i + 1] == ".") :][:1].isdigit():
        return None
    digits = i
    while i < len(src) and (src[i].isdigit() or (src[i] == "." and "." not in src[digits:i])):
        i += 1
    if i < len(src) and src[i] in "eE":
        j = i + 2 if src[i + 1 : i + 2] in ("+", "-") else i + 1
        if src[j : j + 1].isdigit():
            i = j
            while i < len(src) and src[i].isdigit():
                i += 1
    if i < len(src) and (src[i] in _KEY_CHARS or src[i] in "'\"`"):
        end = i + 1
        while end < len(src) and src[end] in _KEY_CHARS:
            end += 1
        problem = f"malformed number {src[start:end]!r}; write a number such as 0.5 or -1e-3"
        raise _syntax_error(src, label, start, problem)
    return i


def _tokenize(src: str, label: str) -> list[_Tok]:
    """Split `src` into tokens, ending with an `end` token."""
    toks: list[_Tok] = []
    i = 0
    while i < len(src):
        c, start = src[i], i
        if c.isspace():
            i += 1
            continue
        if c in "'\"":
            value, i = _read_quoted(src, i, label)
            toks.append(_Tok("string", src[start:i], start, value))
        elif (end := _read_number(src, i, label)) is not None:
            i = end
            toks.append(_Tok("number", src[start:i], start, src[start:i]))
        elif c in _WORD_START:
            while i < len(src) and src[i] in _WORD_CHARS:
                i += 1
            head = src[start:i]
            if src[i : i + 1] != ".":
                toks.append(_Tok("word", head, start, head.upper()))
                continue
            i += 1
            if src[i : i + 1] in ("`", '"'):
                key, i = _read_quoted(src, i, label)
            else:
                while i < len(src) and src[i] in _KEY_CHARS:
                    i += 1
                key = src[start + len(head) + 1 : i]
            if not key:
                problem = f"expected a key after {src[start:i]!r}, such as {head}.loss"
                raise _syntax_error(src, label, i, problem)
            toks.append(_Tok("ident", src[start:i], start, key, head))
        elif src.startswith(("<=", ">=", "==", "!="), i):
            i += 2
            toks.append(_Tok("op", src[start:i], start))
        elif c in "<>=(),":
            i += 1
            toks.append(_Tok("op" if c in "<>=" else "punct", c, start))
        else:
            problem = f"unexpected character {c!r}; expected a name, operator, string or number"
            last = toks[-1] if toks else None
            if last and last.kind == "ident" and last.pos + len(last.text) == i:
                end = i
                while end < len(src) and not src[end].isspace() and src[end] not in "<>=!(),'\"":
                    end += 1
                quoted = f"{last.prefix}.`{last.value}{src[i:end]}`"
                problem += f"; to use {c!r} in a key, quote the key as in {quoted}"
            raise _syntax_error(src, label, start, problem)
    toks.append(_Tok("end", "", len(src)))
    return toks


def _hint(word: str, choices: Iterable[str]) -> str:
    """Return a ' (did you mean ...?)' suffix for a close match of `word`, or ''."""
    close = difflib.get_close_matches(word.lower(), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Parser:
    """A recursive-descent parser over the tokens of one filter or order-by clause."""

    def __init__(self, src: str, label: str) -> None:
        self.src, self.label = src, label
        self.toks = _tokenize(src, label)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def next(self) -> _Tok:
        tok = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    def is_word(self, tok: _Tok, *words: str) -> bool:
        return tok.kind == "word" and tok.value in words

    def fail(self, tok: _Tok, problem: str) -> FilterSyntaxError:
        return _syntax_error(self.src, self.label, tok.pos, problem)

    def expected(self, tok: _Tok, what: str, hint: str = "") -> FilterSyntaxError:
        got = repr(tok.text) if tok.kind != "end" else f"the end of the {self.label}"
        return self.fail(tok, f"expected {what}, got {got}{hint}")

    def field(self) -> Field:
        """Parse IDENT."""
        tok = self.next()
        if tok.kind == "ident":
            kind = _PREFIXES.get(tok.prefix.lower())
            if kind is None:
                problem = (
                    f"unknown prefix {tok.prefix!r} in {tok.text!r}"
                    f"{_hint(tok.prefix, _PREFIXES)}; use metrics., params., tags. or"
                    " attributes."
                )
                raise self.fail(tok, problem)
            if kind == "attribute":
                return self.attribute(tok, tok.value)
            return Field(kind, tok.value, "number" if kind == "metric" else "text")
        if tok.kind == "word" and tok.value not in _KEYWORDS:
            return self.attribute(tok, tok.text)
        raise self.expected(tok, "a name such as 'metrics.rmse', 'params.alpha' or 'status'")

    def attribute(self, tok: _Tok, raw: str) -> Field:
        """Resolve the attribute NAME `raw`, written at `tok`."""
        name = _ATTR_ALIASES.get(raw.lower(), raw.lower())
        if name not in _ATTRS:
            valid = ", ".join([*_ATTRS, *_ATTR_ALIASES])
            problem = (
                f"unknown attribute {raw!r}{_hint(raw, [*_ATTRS, *_ATTR_ALIASES])}; valid"
                f" attributes are {valid}; for a metric, param or tag write"
                f" metrics.{raw}, params.{raw} or tags.{raw}"
            )
            raise self.fail(tok, problem)
        kind: ValueType = (
            "number" if name in _NUMERIC_ATTRS else "status" if name == "status" else "text"
        )
        return Field("attribute", name, kind)

    def operator(self, after: _Tok) -> str:
        """Parse OP, IN, NOT IN, IS NULL or IS NOT NULL; return it upper-cased and spaced."""
        tok = self.next()
        if tok.kind == "op":
            return "=" if tok.text == "==" else tok.text
        if self.is_word(tok, "LIKE", "ILIKE", "IN"):
            return tok.value
        if self.is_word(tok, "NOT"):
            nxt = self.next()
            if self.is_word(nxt, "LIKE", "ILIKE", "IN"):
                return f"NOT {nxt.value}"
            raise self.expected(nxt, "LIKE, ILIKE or IN after NOT")
        if self.is_word(tok, "IS"):
            nxt = self.next()
            negated = self.is_word(nxt, "NOT")
            nxt = self.next() if negated else nxt
            if self.is_word(nxt, "NULL"):
                return "IS NOT NULL" if negated else "IS NULL"
            raise self.expected(nxt, f"NULL after {'IS NOT' if negated else 'IS'}")
        raise self.expected(tok, f"a comparison operator such as '<' or '=' after {after.text!r}")

    def value(self, after: str) -> _Tok:
        """Parse VALUE, which follows the text `after`."""
        tok = self.next()
        if tok.kind in ("string", "number"):
            return tok
        hint = f"; quote it as '{tok.text}'" if tok.kind in ("word", "ident") else ""
        raise self.expected(tok, f"a quoted string or a number after {after!r}", hint)

    def clause(self) -> Clause:
        """Parse one clause."""
        first = self.peek()
        fld = self.field()
        op_tok = self.peek()
        op = self.operator(first)
        if "LIKE" in op and fld.type == "number":
            raise self.fail(
                op_tok,
                f"{op} compares strings but {first.text!r} is numeric; use"
                " '=', '<' or '>' with a number",
            )
        values: list[_Tok] = []
        if op.endswith("IN"):
            # Token texts keep their quotes, so only punctuation has the text "(", "," or ")".
            if (opener := self.next()).text != "(":
                raise self.expected(opener, f"'(' after {op}, as in {op} ('a', 'b')")
            values.append(self.value("("))
            while (sep := self.next()).text == ",":
                values.append(self.value(","))
            if sep.text != ")":
                raise self.expected(sep, f"',' or ')' in the {op} list")
        elif not op.startswith("IS"):
            values.append(self.value(op))
        last = self.toks[self.i - 1]
        return self.build(fld, op, values, self.src[first.pos : last.pos + len(last.text)])

    def build(self, fld: Field, op: str, toks: list[_Tok], clause: str) -> Clause:
        """Check the values of `clause` against `fld` and return the clause."""
        values: list[str | float] = []
        for tok in toks:
            if fld.type == "number" and tok.kind != "number":
                raise self.fail(
                    tok,
                    f"{fld.label} is numeric, so clause {clause!r} needs a number;"
                    f" got the string {tok.text}, write it without quotes",
                )
            if fld.type == "status" and "LIKE" not in op and tok.value.upper() not in _STATUSES:
                statuses = ", ".join(_STATUSES)
                problem = f"unknown status {tok.text} in clause {clause!r}; use one of {statuses}"
                raise self.fail(tok, problem)
            value = tok.value.upper() if fld.type == "status" else tok.value
            values.append(float(value) if fld.type == "number" else value)
        return Clause(fld, op, tuple(values))


@functools.lru_cache(maxsize=256)
def like_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """Translate a SQL LIKE pattern into a regex to be matched against the whole value."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _as_float(text: str) -> float | None:
    """Return `text` as a float, or None when it is not a number."""
    try:
        number = float(text)
    except ValueError:
        return None
    # NaN orders against nothing and would scramble a sort, so "nan" counts as text.
    return None if number != number else number


def _ordered(cmp: Callable[[Any, Any], bool], a: str, b: str) -> bool:
    """Compare two param or tag strings numerically when both are numbers, else as strings."""
    fa, fb = _as_float(a), _as_float(b)
    return cmp(fa, fb) if fa is not None and fb is not None else cmp(a, b)


def parse_query(text: str | None) -> Query:
    """Parse a filter string (grammar in the module docstring) into a Query."""
    if text is None:
        return Query()
    if not isinstance(text, str):
        raise InvalidValueError(
            f"filter {text!r} is a {type(text).__name__}; expected a str such as"
            ' "metrics.rmse < 0.5", or None'
        )
    if not text.strip():
        return Query()
    parser = _Parser(text, "filter")
    clauses = [parser.clause()]
    while parser.is_word(parser.peek(), "AND"):
        parser.next()
        clauses.append(parser.clause())
    tok = parser.peek()
    if parser.is_word(tok, "OR"):
        raise parser.fail(
            tok, "OR is not supported; run one search per alternative and combine the results"
        )
    if tok.kind != "end":
        raise parser.expected(tok, "AND or the end of the filter")
    return Query(tuple(clauses))


def _parse_order_clause(clause: object) -> Order:
    """Parse one order-by clause."""
    if not isinstance(clause, str):
        raise InvalidValueError(
            f"order_by clause {clause!r} is a {type(clause).__name__}; expected a str such as"
            " 'metrics.rmse ASC'"
        )
    parser = _Parser(clause, "order_by clause")
    fld = parser.field()
    first = parser.toks[0]
    descending = parser.is_word(parser.peek(), "DESC")
    if parser.is_word(parser.peek(), "ASC", "DESC"):
        parser.next()
    tok = parser.peek()
    if tok.kind != "end":
        hint = "; pass several clauses as a list" if tok.text == "," else ""
        raise parser.expected(tok, f"ASC, DESC or nothing after {first.text!r}", hint)
    return Order(fld, descending)


def parse_orders(clauses: Sequence[str] | str | None) -> tuple[Order, ...]:
    """Parse order-by clauses, then add the tie-breakers `start_time DESC` and `id`."""
    if isinstance(clauses, str):
        clauses = [clauses]
    return (*(_parse_order_clause(c) for c in clauses or ()), *_DEFAULT_ORDER)


def sort_runs(runs: Sequence[Run], orders: Sequence[Order]) -> list[Run]:
    """Return `runs` sorted by `orders`, missing values (and NaN) last in either direction."""
    out = list(runs)
    # Stable sorts from the last key to the first give a multi-key sort; partitioning
    # keeps missing values last whatever the direction.
    for order in reversed(orders):
        fld = order.field
        pairs = [(fld.read(r), r) for r in out]
        # A NaN would leave the order undefined, so it sorts with the missing values.
        present = [(v, r) for v, r in pairs if v is not None and v == v]
        missing = [r for v, r in pairs if v is None or v != v]
        numeric_text = fld.kind in ("param", "tag") and all(
            _as_float(str(v)) is not None for v, _ in present
        )
        key: Callable[[Any], Any] = (
            (lambda p: _as_float(str(p[0]))) if numeric_text else (lambda p: p[0])
        )
        present.sort(key=key, reverse=order.descending)
        out = [r for _, r in present] + missing
    return out
