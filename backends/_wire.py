"""The JSON of autolog's native server API, shared by the server and the HTTP backend.

Decoding is strict: everything that comes from the other side of a connection is
checked (types, keys, ids, lengths) and bad input raises an `InvalidInputError`
naming the value, which the server answers with a 400.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from autolog import errors
from autolog._entities import Experiment, FileInfo, Metric, Run, RunStatus
from autolog._search import Clause, Field, Order, Query, parse_orders, parse_query
from autolog._validation import (
    check_id,
    check_key,
    check_name,
    check_param_value,
    check_tag_value,
)
from autolog.backends.base import Batch, RunMeta
from autolog.errors import AutologError, InvalidValueError

__all__ = [
    "API_PREFIX",
    "batch_from_json",
    "error_from_json",
    "error_json",
    "experiment_from_json",
    "experiment_to_json",
    "meta_from_json",
    "meta_to_json",
    "orders_from_json",
    "orders_to_json",
    "query_from_json",
    "query_to_json",
    "run_from_json",
    "run_to_json",
]

API_PREFIX = "/api/autolog/v1"

_OPS = {"=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE", "IN",
        "NOT IN", "IS NULL", "IS NOT NULL"}  # fmt: skip
_ATTRIBUTE_TYPES = {"id": "text", "name": "text", "status": "status", "start_time": "number",
                    "end_time": "number", "duration": "number", "experiment": "text",
                    "experiment_id": "text", "parent_id": "text"}  # fmt: skip
_KIND_TYPES = {"metric": "number", "param": "text", "tag": "text"}


def _want(data: Any, kind: type, what: str) -> Any:
    if not isinstance(data, kind) or (isinstance(data, bool) and kind is not bool):
        names: dict[type, str] = {dict: "an object", list: "an array", str: "a string"}
        expected = names.get(kind, kind.__name__)
        raise InvalidValueError(f"{what} is {data!r}; expected {expected}")
    return data


def _int(data: Any, what: str) -> int:
    if isinstance(data, bool) or not isinstance(data, int):
        raise InvalidValueError(f"{what} is {data!r}; expected an integer")
    return data


def _float(data: Any, what: str) -> float:
    # JSON has no NaN or infinity: they travel as the strings "NaN", "Infinity", "-Infinity".
    if isinstance(data, str) and data in ("NaN", "Infinity", "-Infinity"):
        return float(data.replace("Infinity", "inf"))
    if isinstance(data, bool) or not isinstance(data, (int, float)):
        raise InvalidValueError(f"{what} is {data!r}; expected a number")
    return float(data)


def float_to_json(value: float) -> float | str:
    """A float as strict JSON allows it (NaN and infinities as strings)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


# -- entities --------------------------------------------------------------------------------


def experiment_to_json(exp: Experiment) -> dict[str, Any]:
    return {"id": exp.id, "name": exp.name, "created_at": exp.created_at, "tags": exp.tags}


def experiment_from_json(data: Mapping[str, Any]) -> Experiment:
    return Experiment(data["id"], data["name"], data["created_at"], dict(data.get("tags") or {}))


def run_to_json(run: Run) -> dict[str, Any]:
    out = run.to_dict()
    out["metrics"] = {k: float_to_json(v) for k, v in run.metrics.items()}
    return out


def run_from_json(data: Mapping[str, Any]) -> Run:
    return Run(
        id=data["id"],
        name=data["name"],
        experiment=data["experiment"],
        experiment_id=data["experiment_id"],
        status=RunStatus(data["status"]),
        start_time=data["start_time"],
        end_time=data.get("end_time"),
        parent_id=data.get("parent_id"),
        params=dict(data.get("params") or {}),
        metrics={k: _float(v, f"metric {k!r}") for k, v in (data.get("metrics") or {}).items()},
        tags=dict(data.get("tags") or {}),
    )


def metric_to_json(m: Metric) -> list[Any]:
    return [float_to_json(m.value), m.step, m.timestamp]


def metric_from_json(key: str, data: list[Any]) -> Metric:
    return Metric(key, _float(data[0], "value"), int(data[1]), int(data[2]))


def file_info_to_json(f: FileInfo) -> dict[str, Any]:
    return {"path": f.path, "is_dir": f.is_dir, "size": f.size}


def file_info_from_json(data: Mapping[str, Any]) -> FileInfo:
    return FileInfo(data["path"], bool(data["is_dir"]), data.get("size"))


def meta_to_json(meta: RunMeta) -> dict[str, Any]:
    return {**meta.to_json(), "experiment_name": meta.experiment_name}


def meta_from_json(data: Any) -> RunMeta:
    _want(data, dict, "run")
    parent = data.get("parent_id")
    exp_name = data.get("experiment_name")
    return RunMeta(
        id=check_id(data.get("id")),
        name=check_name(data.get("name")),
        experiment_id=check_id(data.get("experiment_id"), "experiment id"),
        start_time=_int(data.get("start_time"), "start_time"),
        parent_id=None if parent is None else check_id(parent, "parent run id"),
        experiment_name=None if exp_name is None else check_name(exp_name, "experiment name"),
    )


def batch_to_json(batch: Batch) -> dict[str, Any]:
    out = batch.to_json()
    if batch.metrics:
        out["metrics"] = {
            k: [[float_to_json(v), s, t] for v, s, t in points]
            for k, points in batch.metrics.items()
        }
    return out


def _value(value: Any, kind: str, key: str) -> str:
    return str(_want(value, str, f"{kind} {key!r}"))


def _point(key: str, p: Any) -> tuple[float, int, int]:
    if not isinstance(p, list) or len(p) != 3:
        raise InvalidValueError(
            f"metric {key!r} has point {p!r}; expected [value, step, timestamp]"
        )
    what = f"metric {key!r}"
    return _float(p[0], what), _int(p[1], f"{what} step"), _int(p[2], what)


def batch_from_json(data: Any) -> Batch:
    """A batch sent by a client, every key and value checked."""
    _want(data, dict, "batch")
    # A server decodes hundreds of thousands of values a second: the messages of errors
    # are built only for the values that fail (`_value`, `_point`).
    params = {
        check_key(k, "param"): check_param_value(k, v if type(v) is str else _value(v, "param", k))
        for k, v in _want(data.get("params", {}), dict, "params").items()
    }
    tags = {
        check_key(k, "tag"): check_tag_value(k, v if type(v) is str else _value(v, "tag", k))
        for k, v in _want(data.get("tags", {}), dict, "tags").items()
    }
    metrics: dict[str, list[tuple[float, int, int]]] = {}
    for key, points in _want(data.get("metrics", {}), dict, "metrics").items():
        check_key(key, "metric")
        # The common point, [float, int, int] as json.loads makes it, checked inline
        # (`type(...) is` refuses bool); any other goes through `_point`.
        series = [
            (p[0], p[1], p[2])
            if type(p) is list
            and len(p) == 3
            and type(p[0]) is float
            and type(p[1]) is int
            and type(p[2]) is int
            else _point(key, p)
            for p in (points if type(points) is list else _want(points, list, f"metric {key!r}"))
        ]
        if series:
            metrics[key] = series
    status = data.get("status")
    if status is not None and status not in RunStatus.__members__:
        raise InvalidValueError(
            f"status {status!r} is not one of {', '.join(RunStatus.__members__)}"
        )
    end_time = data.get("end_time")
    return Batch(
        params=params,
        tags=tags,
        metrics=metrics,
        status=status,
        end_time=None if end_time is None else _int(end_time, "end_time"),
    )


# -- search ----------------------------------------------------------------------------------


def _field_to_json(f: Field) -> dict[str, Any]:
    return {"kind": f.kind, "key": f.key, "type": f.type}


def _field_from_json(data: Any) -> Field:
    _want(data, dict, "field")
    kind, key = data.get("kind"), data.get("key")
    if kind == "attribute":
        if key not in _ATTRIBUTE_TYPES:
            raise InvalidValueError(
                f"attribute {key!r} is unknown; use one of {', '.join(_ATTRIBUTE_TYPES)}"
            )
        type_ = _ATTRIBUTE_TYPES[key]
    elif kind in _KIND_TYPES:
        check_key(key, kind)
        type_ = _KIND_TYPES[kind]
    else:
        raise InvalidValueError(f"field kind {kind!r} is not metric, param, tag or attribute")
    return Field(kind, key, type_)  # type: ignore[arg-type]


def query_to_json(query: Query) -> list[dict[str, Any]]:
    return [
        {
            "field": _field_to_json(c.field),
            "op": c.op,
            "values": [float_to_json(v) if isinstance(v, float) else v for v in c.values],
        }
        for c in query.clauses
    ]


def query_from_json(data: Any) -> Query:
    """A query tree sent as JSON, or a filter string (parsed here)."""
    if data is None or isinstance(data, str):
        return parse_query(data)
    clauses = []
    for item in _want(data, list, "filter"):
        _want(item, dict, "clause")
        fld = _field_from_json(item.get("field"))
        op = item.get("op")
        if op not in _OPS:
            raise InvalidValueError(f"operator {op!r} is unknown; use one of {sorted(_OPS)}")
        raw = _want(item.get("values", []), list, "values")
        if op.startswith("IS"):
            values: tuple[str | float, ...] = ()
        elif fld.type == "number":
            values = tuple(_float(v, f"a value for {fld.label}") for v in raw)
        else:
            values = tuple(_want(v, str, f"a value for {fld.label}") for v in raw)
        if not op.startswith("IS") and (not values or (len(values) > 1 and "IN" not in op)):
            raise InvalidValueError(f"{op} on {fld.label} got {len(values)} values")
        clauses.append(Clause(fld, op, values))
    return Query(tuple(clauses))


def orders_to_json(orders: tuple[Order, ...] | list[Order]) -> list[dict[str, Any]]:
    return [{"field": _field_to_json(o.field), "descending": o.descending} for o in orders]


def orders_from_json(data: Any) -> tuple[Order, ...]:
    """Orders sent as JSON objects (complete, tie-breakers included) or as clause strings."""
    if data is None or isinstance(data, str):
        return parse_orders(data)
    items = _want(data, list, "order_by")
    if all(isinstance(i, str) for i in items):
        return parse_orders(items)
    return tuple(
        Order(_field_from_json(_want(i, dict, "order").get("field")), bool(i.get("descending")))
        for i in items
    )


# -- errors ----------------------------------------------------------------------------------

# Status codes and MLflow's error codes for autolog's exceptions; the first match wins.
_ERROR_CODES: list[tuple[type[AutologError], int, str]] = [
    (errors.NotFoundError, 404, "RESOURCE_DOES_NOT_EXIST"),
    (errors.InvalidInputError, 400, "INVALID_PARAMETER_VALUE"),
    (errors.StoreError, 503, "TEMPORARILY_UNAVAILABLE"),
]


def error_json(exc: AutologError) -> tuple[int, dict[str, Any]]:
    """The status and body a server answers an autolog exception with."""
    for cls, status, code in _ERROR_CODES:
        if isinstance(exc, cls):
            return status, {"error_code": code, "message": str(exc), "type": type(exc).__name__}
    return 500, {"error_code": "INTERNAL_ERROR", "message": str(exc), "type": type(exc).__name__}


def error_from_json(status: int, data: Any, fallback: str) -> AutologError:
    """The exception a client raises for a server's error reply."""
    message = fallback
    name = ""
    if isinstance(data, dict):
        message = str(data.get("message") or fallback)
        name = str(data.get("type") or "")
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, AutologError) and name in errors.__all__:
        return cls(message)
    if status == 404:
        return errors.NotFoundError(message)
    if 400 <= status < 500:
        return errors.InvalidValueError(message)
    return errors.StoreError(message)
