"""The pieces of the layout backend that read runs: a run's state as the fold of its
objects, and the page tokens of a search evaluated in Python.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from autolog._entities import RunStatus
from autolog._search import Order, Query
from autolog.backends._objects import ObjectStore
from autolog.errors import InvalidValueError

__all__ = [
    "COMPACT_FORMAT",
    "RunState",
    "Snapshot",
    "batch_json",
    "decode_compact",
    "dumps",
    "encode_compact",
    "make_token",
    "read_compact",
    "read_token",
    "search_scope",
]


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=True).encode("utf-8")


def batch_json(
    params: dict[str, str],
    tags: dict[str, str],
    metrics: dict[str, list[Any]],
    status: str | None,
    end_time: int | None,
) -> dict[str, Any]:
    # What Batch.to_json returns, without copying every point into a new list: json
    # writes tuples and lists alike, and a long run has many points.
    data: dict[str, Any] = {}
    if params:
        data["params"] = params
    if tags:
        data["tags"] = tags
    if metrics:
        data["metrics"] = metrics
    if status is not None:
        data["status"] = status
    if end_time is not None:
        data["end_time"] = end_time
    return data


def search_scope(experiment_ids: list[str] | None, query: Query, order_by: Sequence[Order]) -> str:
    """A short digest of a search, so a page token cannot continue another search."""
    text = repr((experiment_ids, query, tuple(order_by)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def make_token(offset: int, last_id: str, scope: str) -> str:
    raw = json.dumps({"o": offset, "l": last_id, "s": scope}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def read_token(token: object, scope: str) -> tuple[int, str]:
    """Return the offset and last run id a page token holds; InvalidValueError if it is bad."""
    problem = "is not a page token of this backend"
    data: Any = None
    if isinstance(token, str):
        with contextlib.suppress(ValueError):  # bad base64, UTF-8 or JSON
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    if isinstance(data, dict):
        offset, last_id = data.get("o"), data.get("l")
        if type(offset) is int and offset >= 0 and isinstance(last_id, str):
            if data.get("s") == scope:
                return offset, last_id
            problem = "belongs to another search (other experiments, filter or order)"
    raise InvalidValueError(
        f"page_token {token!r} {problem}; pass the next_page_token of the previous page of"
        " the same search, or None for the first page"
    )


@dataclass
class RunState:
    meta: dict[str, Any]
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # Points as stored, (value, step, timestamp) sequences; converted only when one
    # metric's history is asked for, since a read of a long run folds many of them.
    metrics: dict[str, list[Any]] = field(default_factory=dict)
    status: str = RunStatus.RUNNING.value
    end_time: int | None = None
    #: the latest point of each metric as a compact's header gives it, when its points
    #: were not read (a run read for its summary, or for one metric's history)
    latest: dict[str, tuple[float, int, int]] = field(default_factory=dict)

    def apply(self, data: dict[str, Any]) -> None:
        # Params are immutable: the first value written wins.
        for key, value in data.get("params", {}).items():
            self.params.setdefault(key, value)
        self.tags.update(data.get("tags", {}))
        for key, points in data.get("metrics", {}).items():
            self.metrics.setdefault(key, []).extend(points)
        if data.get("status") is not None:
            self.status = data["status"]
            self.end_time = data.get("end_time")

    def to_json(self) -> dict[str, Any]:
        return batch_json(self.params, self.tags, self.metrics, self.status, self.end_time)

    def latest_points(self) -> dict[str, tuple[float, int, int]]:
        """Each metric's latest point (highest step, then timestamp) as (value, step, time)."""
        out: dict[str, tuple[float, int, int]] = dict(self.latest)
        for key, points in self.metrics.items():
            if not points:
                continue
            best = out.get(key) or points[0]
            for p in points:
                if (p[1], p[2]) >= (best[1], best[2]):
                    best = p
            out[key] = (float(best[0]), int(best[1]), int(best[2]))
        return out

    def latest_metrics(self) -> dict[str, float]:
        return {key: point[0] for key, point in self.latest_points().items()}


@dataclass
class Snapshot:
    state: RunState
    compact_seq: int
    compact_keys: list[str]
    batch_keys: list[str]
    #: objects that could not be read (truncated or not JSON), by key, with the reason
    damaged: dict[str, str] = field(default_factory=dict)
    #: the name of the batch held in the run's creation object, unless a compact holds it
    first_batch: str | None = None
    #: the name of that batch when the newest compact holds it
    folded_first: str | None = None
    #: the names of every batch the state holds (the index checks a change log against it)
    names: frozenset[str] = frozenset()


def load_object(data: bytes, key: str, damaged: dict[str, str]) -> dict[str, Any] | None:
    """`data` parsed as a JSON object, or None after noting in `damaged` why it is not one.

    A crash or a full disk on a filesystem without atomic renames can leave a truncated
    object: it is skipped, and reported, rather than making the whole run unreadable.
    """
    try:
        obj = json.loads(data)
    except ValueError as exc:  # also UnicodeDecodeError
        damaged[key] = f"not valid JSON ({len(data)} bytes): {exc}"
        return None
    if not isinstance(obj, dict):
        damaged[key] = f"not a JSON object but {type(obj).__name__}"
        return None
    return obj


# -- compacts ------------------------------------------------------------------------------
#
# A compact is one JSON header line, then each metric's points as a JSON list, one after
# another: the header names each list's byte range (`points`) and each metric's latest
# point (`latest`), so a run's summary reads the header alone and one metric's history
# one range. Compacts written before this format are one JSON object holding every point
# in `state.metrics` (no `format`); they read as before.

COMPACT_FORMAT = 2
_HEAD_READ = 16 * 1024  # read first: most headers fit, and so do the points of short runs


def encode_compact(seq: int, batches: list[str], first: str | None, state: RunState) -> bytes:
    """The compact `seq` of `state` (read in full), folding `batches` and `first`."""
    segments, ranges, offset = [], {}, 0
    for key, points in state.metrics.items():
        segment = dumps(points)
        ranges[key] = [offset, len(segment)]
        offset += len(segment)
        segments.append(segment)
    header = {
        "format": COMPACT_FORMAT,
        "seq": seq,
        "batches": batches,
        "first": first,
        "state": batch_json(state.params, state.tags, {}, state.status, state.end_time),
        "latest": {key: list(point) for key, point in state.latest_points().items()},
        "points": ranges,
    }
    return dumps(header) + b"\n" + b"".join(segments)


def decode_compact(data: bytes) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """A whole compact's header and every metric's points; ValueError if it is damaged."""
    head, sep, body = data.partition(b"\n")
    header = json.loads(head)
    if not isinstance(header, dict):
        raise ValueError(f"the header is a {type(header).__name__}, not an object")
    if not sep:  # the older format: one object
        return header, dict(header.get("state", {}).get("metrics", {}))
    points = {}
    for key, (start, length) in header.get("points", {}).items():
        points[key] = json.loads(body[start : start + length])
    return header, points


def read_compact(
    store: ObjectStore,
    key: str,
    state: RunState,
    damaged: dict[str, str],
    points: bool | str = True,
) -> dict[str, Any] | None:
    """Apply the compact under `key` to `state`; return its header, None if it is damaged.

    `points` says which metric points to read: all (True), none (False: each metric's
    latest point comes from the header), or those of one metric key.
    """
    mode: Literal["all", "none", "one"] = (
        "all" if points is True else "none" if points is False else "one"
    )
    try:
        raw = store.get_range(key, 0, _HEAD_READ)
        newline = raw.find(b"\n")
        if newline < 0 and len(raw) == _HEAD_READ:
            raw = store.get(key)  # a header longer than the first read
            newline = raw.find(b"\n")
        if newline < 0:  # the older format: one object with every point
            header = json.loads(raw)
            if not isinstance(header, dict):
                raise ValueError(f"a {type(header).__name__}, not an object")
            state.apply(header["state"])
            return header
        header = json.loads(raw[:newline])
        if not isinstance(header, dict):
            raise ValueError(f"the header is a {type(header).__name__}, not an object")
        state.apply(header["state"])
        ranges: dict[str, list[int]] = header.get("points", {})
        body = newline + 1
        if mode == "none":
            state.latest.update({k: (float(v[0]), int(v[1]), int(v[2]))
                                 for k, v in header.get("latest", {}).items()})  # fmt: skip
            return header
        wanted = ranges if mode == "all" else {k: ranges[k] for k in (str(points),) if k in ranges}
        if mode == "all" and len(raw) < body + sum(length for _, length in ranges.values()):
            raw = store.get(key)
        for metric, (start, length) in wanted.items():
            at = body + start
            chunk = raw[at : at + length]
            if len(chunk) < length:
                chunk = store.get_range(key, at, length)
            state.metrics.setdefault(metric, []).extend(json.loads(chunk))
    except (ValueError, KeyError, TypeError) as exc:  # also UnicodeDecodeError
        damaged[key] = f"not a readable compact: {exc}"
        return None
    return header
