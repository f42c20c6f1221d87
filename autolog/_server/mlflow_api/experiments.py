"""MLflow's experiment routes (`/api/2.0/mlflow/experiments/...`)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from autolog._entities import Experiment, Run, RunStatus
from autolog._search import parse_query
from autolog._server.app import reply
from autolog._server.identity import created, readable
from autolog._server.mlflow_api import common as c
from autolog._server.mlflow_api.tokens import decode_token, encode_token
from autolog._validation import check_key, check_name, check_tag_value
from autolog.errors import ExperimentNotFoundError, InvalidValueError

__all__ = ["ROUTES"]

VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")


def view_type(data: dict[str, Any], name: str) -> str:
    value = data.get(name) or "ACTIVE_ONLY"
    if value in (1, "1"):
        value = "ACTIVE_ONLY"
    elif value in (2, "2"):
        value = "DELETED_ONLY"
    elif value in (3, "3"):
        value = "ALL"
    if value not in VIEW_TYPES:
        raise InvalidValueError(f"{name} {value!r} is not one of {', '.join(VIEW_TYPES)}")
    return str(value)


def _get(request: Request, experiment_id: str) -> tuple[Experiment, bool]:
    backend = c.backend(request)
    exp_id = c.resolve_experiment_id(backend, experiment_id)
    exp = backend.get_experiment(exp_id)
    if exp.id != exp_id:  # found by name: MLflow's ids are ids only
        raise ExperimentNotFoundError(f"no experiment with id {experiment_id!r}")
    return exp, exp.id in c.tables(request).deleted_experiments()


async def get_experiment(request: Request) -> Response:
    data = await c.params(request)
    experiment_id = c.text(data, "experiment_id")
    exp, deleted = await run_in_threadpool(_get, request, experiment_id)
    return reply({"experiment": c.experiment_json(exp, deleted)})


def _by_name(request: Request, name: str) -> tuple[Experiment, bool]:
    backend = c.backend(request)
    if name == c.DEFAULT_EXPERIMENT:
        exp = backend.get_or_create_experiment(name)
    else:
        exp = backend.get_experiment(name)
        if exp.name != name:  # found by id: this route looks names up only
            raise ExperimentNotFoundError(f"no experiment named {name!r}")
    return exp, exp.id in c.tables(request).deleted_experiments()


async def get_by_name(request: Request) -> Response:
    data = await c.params(request)
    name = c.text(data, "experiment_name")
    exp, deleted = await run_in_threadpool(_by_name, request, name)
    return reply({"experiment": c.experiment_json(exp, deleted)})


def _create(request: Request, name: str, tags: list[tuple[str, str]]) -> str:
    backend = c.backend(request)
    try:
        backend.get_experiment(name)
    except ExperimentNotFoundError:
        pass
    else:
        raise c.AlreadyExistsError(
            f"an experiment named {name!r} already exists; use it (mlflow.set_experiment) or"
            " choose another name"
        )
    exp = backend.get_or_create_experiment(name)
    for key, value in tags:
        backend.set_experiment_tag(exp.id, key, value)
    return exp.id


async def create_experiment(request: Request) -> Response:
    data = await c.params(request)
    name = check_name(c.text(data, "name"), "experiment name")
    if data.get("artifact_location"):
        raise InvalidValueError(
            f"artifact_location {data['artifact_location']!r} is not accepted: this server"
            " decides where artifacts are stored; create the experiment without one"
        )
    tags = [(check_key(k, "tag"), check_tag_value(k, v)) for k, v in c.pairs(data, "tags")]
    exp_id = await run_in_threadpool(_create, request, name, tags)
    await created(request, "experiment", exp_id)
    return reply({"experiment_id": exp_id})


def _matches(query: Any, exp: Experiment) -> bool:
    # Experiments are matched with the runs grammar: `name` and `tags.KEY` are the fields.
    probe = Run(exp.id, exp.name, exp.name, exp.id, RunStatus.RUNNING, exp.created_at, None,
                None, tags=exp.tags)  # fmt: skip
    for clause in query.clauses:
        fld = clause.field
        if fld.kind != "tag" and not (fld.kind == "attribute" and fld.key == "name"):
            raise InvalidValueError(
                f"experiment filter on {fld.kind} {fld.key!r} is not supported; filter on"
                " name or tags.KEY, e.g. \"name LIKE 'fraud%'\""
            )
    return bool(query.matches(probe))


async def search_experiments(request: Request) -> Response:
    data = await c.params(request)
    view = view_type(data, "view_type")
    query = parse_query(data.get("filter") or None)
    max_results = c.integer(data, "max_results", 1000) or 1000
    if not 1 <= max_results <= 50_000:
        raise InvalidValueError(f"max_results {max_results} must be between 1 and 50000")
    token = data.get("page_token") or None
    after = decode_token(token, "experiments", (int, str)) if token else None
    only = await readable(request, "experiment")

    def search() -> tuple[list[dict[str, Any]], str | None]:
        backend = c.backend(request)
        deleted = c.tables(request).deleted_experiments()
        found = []
        exps = sorted(backend.list_experiments(only), key=lambda e: (-e.created_at, e.id))
        for exp in exps:
            if after is not None and (-exp.created_at, exp.id) <= (-after[0], after[1]):
                continue
            gone = exp.id in deleted
            if (view == "ACTIVE_ONLY" and gone) or (view == "DELETED_ONLY" and not gone):
                continue
            if _matches(query, exp):
                found.append(exp)
                if len(found) > max_results:
                    break
        more = len(found) > max_results
        page = found[:max_results]
        next_token = (
            encode_token("experiments", [page[-1].created_at, page[-1].id]) if more else None
        )
        return [c.experiment_json(e, e.id in deleted) for e in page], next_token

    exps, next_token = await run_in_threadpool(search)
    out: dict[str, Any] = {"experiments": exps}
    if next_token:
        out["next_page_token"] = next_token
    return reply(out)


async def _set_deleted(request: Request, deleted: bool) -> Response:
    data = await c.params(request)
    experiment_id = c.text(data, "experiment_id")

    def change() -> None:
        exp, _ = _get(request, experiment_id)
        c.tables(request).set_experiment_deleted(exp.id, deleted)

    await run_in_threadpool(change)
    return reply({})


async def delete_experiment(request: Request) -> Response:
    return await _set_deleted(request, True)


async def restore_experiment(request: Request) -> Response:
    return await _set_deleted(request, False)


async def update_experiment(request: Request) -> Response:
    data = await c.params(request)
    experiment_id = c.text(data, "experiment_id")
    new_name = c.text(data, "new_name", required=False)

    def change() -> None:
        exp, _ = _get(request, experiment_id)
        if new_name and new_name != exp.name:
            # autolog's clients derive an experiment's id from its name, so a renamed
            # experiment would split in two.
            raise InvalidValueError(
                f"renaming experiment {exp.name!r} to {new_name!r} is not supported by this"
                " server; create a new experiment with that name instead"
            )

    await run_in_threadpool(change)
    return reply({})


async def set_experiment_tag(request: Request) -> Response:
    data = await c.params(request)
    experiment_id = c.text(data, "experiment_id")
    key = check_key(c.text(data, "key"), "tag")
    value = check_tag_value(key, c.text(data, "value", required=False))

    def change() -> None:
        exp, _ = _get(request, experiment_id)
        c.backend(request).set_experiment_tag(exp.id, key, value)

    await run_in_threadpool(change)
    return reply({})


async def delete_experiment_tag(request: Request) -> Response:
    data = await c.params(request)
    experiment_id = c.text(data, "experiment_id")
    key = c.text(data, "key")

    def change() -> None:
        exp, _ = _get(request, experiment_id)
        c.tables(request).delete_experiment_tag(exp.id, key)

    await run_in_threadpool(change)
    return reply({})


_E = "/api/2.0/mlflow/experiments"

#: (method, path, endpoint)
ROUTES = [
    ("GET", f"{_E}/get-by-name", get_by_name),
    ("POST", f"{_E}/create", create_experiment),
    ("GET", f"{_E}/get", get_experiment),
    ("POST", f"{_E}/search", search_experiments),
    ("POST", f"{_E}/delete", delete_experiment),
    ("POST", f"{_E}/restore", restore_experiment),
    ("POST", f"{_E}/update", update_experiment),
    ("POST", f"{_E}/set-experiment-tag", set_experiment_tag),
    ("POST", f"{_E}/delete-experiment-tag", delete_experiment_tag),
]
