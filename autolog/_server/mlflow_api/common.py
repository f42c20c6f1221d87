"""What every MLflow route shares: reading a request, MLflow's JSON shapes, errors, ids.

MLflow's client sends GET parameters in the query string and everything else as a JSON
body (DELETE included); ids are strings, int64 values numbers or strings, doubles numbers
or "NaN"/"Infinity". Replies follow MLflow's protobuf JSON: ids as strings, enums by name.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from autolog._entities import Experiment
from autolog._server.app import read_body
from autolog._server.identity import identity
from autolog.backends.sql.mlflow import MlflowTables, RunDocument
from autolog.backends.sql.store import SqlBackend
from autolog.errors import InvalidInputError, InvalidValueError

__all__ = [
    "DEFAULT_EXPERIMENT",
    "AlreadyExistsError",
    "artifact_uri",
    "backend",
    "clean",
    "experiment_json",
    "integer",
    "json_reply",
    "number",
    "pairs",
    "params",
    "resolve_experiment_id",
    "run_info",
    "run_text",
    "tables",
    "text",
    "user",
]

#: MLflow's default experiment: id "0" names the experiment called "Default".
DEFAULT_EXPERIMENT = "Default"

_INT_RE = re.compile(r"^-?[0-9]{1,19}\Z")
# One decoder for every request: json.loads with an argument builds a new one each call.
_DECODER = json.JSONDecoder(parse_constant=str)
#: A str as JSON text (json.dumps' own C encoder, without its per-call set-up).
_string: Callable[[str], str] = encode_basestring_ascii


class AlreadyExistsError(InvalidInputError):
    """MLflow's RESOURCE_ALREADY_EXISTS (an experiment or registered model of that name)."""

    mlflow_code = "RESOURCE_ALREADY_EXISTS"


def backend(request: Request) -> SqlBackend:
    found: SqlBackend = request.app.state.backend
    return found


def tables(request: Request) -> MlflowTables:
    found = getattr(request.app.state, "mlflow_tables", None)
    if found is None:
        found = request.app.state.mlflow_tables = MlflowTables(backend(request))
    assert isinstance(found, MlflowTables)
    return found


def user(request: Request, given: object = None) -> str | None:
    """The acting user: the signed-in one, else the user the client names."""
    name = identity(request).name
    if name is not None:
        return name
    return given if isinstance(given, str) and given else None


async def params(request: Request) -> dict[str, Any]:
    """The request's fields: the query string, then (except for GET) the JSON body."""
    data: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        data[key] = values[0] if len(values) == 1 else values
    data = {k: clean(v, k) for k, v in data.items()}
    if request.method != "GET":
        raw = await read_body(request)
        if raw:
            data.update(_parse(raw))
    return data


def _parse(raw: bytes) -> dict[str, Any]:
    """A JSON object body; NaN and infinities become MLflow's strings."""
    try:
        # NaN, Infinity and -Infinity literals (Python's json writes them) become strings.
        body = _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidValueError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidValueError(f"the request body is {type(body).__name__}; expected an object")
    # A NUL or a lone surrogate can only come as a \u escape: look deeper only then.
    if b"\\u0000" in raw or b"\\ud" in raw.lower():
        return dict(clean(body, "the request body"))
    return body


def clean(value: Any, where: str) -> Any:
    """`value` with NaN and infinities as MLflow's strings; text no database would store refused."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidValueError(f"{where} contains a NUL character; remove it")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidValueError(
                f"{where} is not valid Unicode text (a lone surrogate)"
            ) from None
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return json_float(value)
    if isinstance(value, list):
        return [clean(v, where) for v in value]
    if isinstance(value, dict):
        return {clean(k, where): clean(v, where) for k, v in value.items()}
    return value


def text(data: dict[str, Any], name: str, *, required: bool = True, default: str = "") -> str:
    """A string field; a missing optional one is `default`."""
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise InvalidValueError(f"missing value for required parameter {name!r}")
        return default
    if not isinstance(value, str):
        raise InvalidValueError(f"parameter {name!r} is {value!r}; expected a string")
    return value


def integer(data: dict[str, Any], name: str, default: int | None = None) -> int | None:
    """An int64 field, given as a JSON number or a string of digits."""
    value = data.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, str) and _INT_RE.match(value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**63:
        raise InvalidValueError(f"parameter {name!r} is {value!r}; expected an integer")
    return value


def number(data: dict[str, Any], name: str) -> float:
    """A double field: a JSON number, or "NaN", "Infinity", "-Infinity" or a numeric string."""
    value = data.get(name)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidValueError(f"parameter {name!r} is {value!r}; expected a number")
    return float(value)


def pairs(data: dict[str, Any], name: str) -> list[tuple[str, str]]:
    """A list of {key, value} objects (tags, params) as (key, value) pairs."""
    value = data.get(name) or []
    if not isinstance(value, list):
        raise InvalidValueError(f"parameter {name!r} is {value!r}; expected a list")
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise InvalidValueError(f"{name} entry {item!r} is not a {{key, value}} object")
        key = text(item, "key")
        out.append((key, text(item, "value", required=False)))
    return out


def json_float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def artifact_uri(experiment_id: str, run_id: str) -> str:
    """The artifact URI MLflow's client resolves against the server (mlflow-artifacts)."""
    return f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"


def resolve_experiment_id(backend: SqlBackend, experiment_id: str) -> str:
    """The store's id of an MLflow experiment id ("0" is the Default experiment)."""
    if experiment_id == "0":
        return backend.get_or_create_experiment(DEFAULT_EXPERIMENT).id
    return experiment_id


def experiment_json(exp: Experiment, deleted: bool) -> dict[str, Any]:
    return {
        "experiment_id": exp.id,
        "name": exp.name,
        "artifact_location": f"mlflow-artifacts:/{exp.id}",
        "lifecycle_stage": "deleted" if deleted else "active",
        "creation_time": exp.created_at,
        "last_update_time": exp.created_at,
        "tags": [{"key": k, "value": v} for k, v in sorted(exp.tags.items())],
    }


def run_info(
    run_id: str,
    name: str,
    experiment_id: str,
    user_id: str | None,
    status: str,
    start_time: int,
    end_time: int | None,
    deleted: bool,
) -> dict[str, Any]:
    """MLflow's `RunInfo` message."""
    info: dict[str, Any] = {
        "run_id": run_id,
        "run_uuid": run_id,
        "run_name": name,
        "experiment_id": experiment_id,
        "user_id": user_id or "",
        "status": status,
        "start_time": start_time,
        "artifact_uri": artifact_uri(experiment_id, run_id),
        "lifecycle_stage": "deleted" if deleted else "active",
    }
    if end_time is not None:
        info["end_time"] = end_time
    return info


_NO_LINKS = ',"inputs":{"dataset_inputs":[],"model_inputs":[]},"outputs":{"model_outputs":[]}}'


def run_text(doc: RunDocument) -> str:
    """A run as the JSON text of MLflow's `Run` message (its arrays as the database built them).

    Written as text, field by field (what `run_info` builds as a dict): a page of a thousand
    runs is built in a few milliseconds instead of tens through `json.dumps`.
    """
    s = _string
    run_id, exp_id = s(doc.id), s(doc.experiment_id)
    uri = s(artifact_uri(doc.experiment_id, doc.id))
    end = "" if doc.end_time is None else f',"end_time":{int(doc.end_time)}'
    stage = "deleted" if doc.deleted else "active"
    info = (
        f'{{"run_id":{run_id},"run_uuid":{run_id},"run_name":{s(doc.name)},'
        f'"experiment_id":{exp_id},"user_id":{s(doc.user_id or "")},"status":{s(doc.status)},'
        f'"start_time":{int(doc.start_time)},"artifact_uri":{uri},"lifecycle_stage":"{stage}"'
        f"{end}}}"
    )
    data = f'"data":{{"metrics":{doc.metrics},"params":{doc.params},"tags":{doc.tags}}}'
    if not doc.links:
        return f'{{"info":{info},{data}{_NO_LINKS}'
    inputs: dict[str, list[Any]] = {"dataset_inputs": [], "model_inputs": []}
    outputs: dict[str, list[Any]] = {"model_outputs": []}
    for kind, item in doc.links:
        if kind == "dataset":
            inputs["dataset_inputs"].append(item)
        elif kind == "model_input":
            inputs["model_inputs"].append(item)
        else:
            outputs["model_outputs"].append(item)
    return f'{{"info":{info},{data},"inputs":{dumps(inputs)},"outputs":{dumps(outputs)}}}'


def json_reply(text: str) -> Response:
    """A reply whose JSON text is already built."""
    return Response(text.encode("utf-8"), 200, media_type="application/json")


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)
