"""MLflow's model registry routes, over autolog's registry in the server's database.

Registered models, versions, aliases, tags and descriptions are autolog's (versions
numbered by a unique constraint, every change an event of the append-only history), so
`models:/name@alias` resolves the same through MLflow's client and autolog's. A version's
source must be something this server stores (`models:/<logged model id>`, `runs:/<run>/<path>`
or an `mlflow-artifacts:` URI it handed out); the download URI is built by the server.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from autolog._registry.entities import ModelState, ModelVersion
from autolog._registry.names import check_model_name
from autolog._registry.store import RegistryStore, registry_store
from autolog._search import like_regex
from autolog._server.app import reply
from autolog._server.identity import allowed, created, readable
from autolog._server.mlflow_api import common as c
from autolog._server.mlflow_api.artifacts import artifact_target
from autolog._server.mlflow_api.logged_models import model_artifact_uri
from autolog._server.mlflow_api.tokens import decode_token, encode_token
from autolog._server.routes import Resource
from autolog._validation import check_id, check_key, check_relative_path, check_tag_value
from autolog.errors import InvalidValueError, ModelNotFoundError, NotFoundError

__all__ = ["ROUTES"]

_CLAUSE_RE = re.compile(
    r"^\s*(\w+|tags?\.(?:`[^`]+`|\"[^\"]+\"|[\w.]+))\s*(=|!=|LIKE|ILIKE)\s*'((?:[^'\\]|\\.)*)'\s*$",
    re.IGNORECASE,
)


def _registry(request: Request) -> RegistryStore:
    return registry_store(c.backend(request))


def _version_number(data: dict[str, Any]) -> int:
    number = c.integer(data, "version")
    if number is None or number < 1:
        raise InvalidValueError(f"version {data.get('version')!r} must be a positive integer")
    return number


def version_json(state: ModelState, v: ModelVersion) -> dict[str, Any]:
    record = state.records[v.version]
    out: dict[str, Any] = {
        "name": v.name,
        "version": str(v.version),
        "creation_timestamp": v.created_at,
        "last_updated_timestamp": v.created_at,
        "user_id": v.creator or "",
        "current_stage": "None",
        "description": v.description,
        "source": record.get("mlflow_source") or v.source,
        "run_id": v.run_id,
        "status": "READY",
        "tags": [{"key": k, "value": val} for k, val in sorted(v.tags.items())],
        "aliases": list(v.aliases),
    }
    if record.get("model_id"):
        out["model_id"] = record["model_id"]
    return out


def model_json(registry: RegistryStore, state: ModelState) -> dict[str, Any]:
    model = state.to_model()
    latest = [version_json(state, registry.version(state, None))] if model.versions else []
    return {
        "name": model.name,
        "creation_timestamp": model.created_at,
        "last_updated_timestamp": model.updated_at,
        "user_id": model.creator or "",
        "description": model.description,
        "latest_versions": latest,
        "tags": [{"key": k, "value": v} for k, v in sorted(model.tags.items())],
        "aliases": [{"alias": a, "version": str(n)} for a, n in sorted(model.aliases.items())],
    }


# -- registered models -----------------------------------------------------------------------


async def create_model(request: Request) -> Response:
    data = await c.params(request)
    name = check_model_name(c.text(data, "name"))
    tags = [(check_key(k, "tag"), check_tag_value(k, v)) for k, v in c.pairs(data, "tags")]
    description = c.text(data, "description", required=False)
    who = c.user(request)

    def create() -> dict[str, Any]:
        registry = _registry(request)
        if not registry.create_model(name, who):
            raise c.AlreadyExistsError(
                f"registered model {name!r} already exists; register a new version of it, or"
                " choose another name"
            )
        for key, value in tags:
            registry.set_model_tag(name, key, value, who)
        if description:
            registry.set_model_description(name, description, who)
        return model_json(registry, registry.load(name))

    made = await run_in_threadpool(create)
    await created(request, "model", name)
    return reply({"registered_model": made})


async def get_model(request: Request) -> Response:
    data = await c.params(request)
    name = c.text(data, "name")

    def get() -> dict[str, Any]:
        registry = _registry(request)
        return model_json(registry, registry.load(name))

    return reply({"registered_model": await run_in_threadpool(get)})


async def update_model(request: Request) -> Response:
    data = await c.params(request)
    name = c.text(data, "name")
    description = c.text(data, "description", required=False)

    def update() -> dict[str, Any]:
        registry = _registry(request)
        registry.set_model_description(name, description, c.user(request))
        return model_json(registry, registry.load(name))

    return reply({"registered_model": await run_in_threadpool(update)})


async def delete_model(request: Request) -> Response:
    data = await c.params(request)
    name = c.text(data, "name")
    who = c.user(request)
    await run_in_threadpool(
        lambda: _registry(request).delete_model(name, who, force=True, comment=None)
    )
    return reply({})


def _name_filter(text: object, fields: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Clauses `field op 'value'` joined by AND, for the registry searches."""
    if text is None or text == "":
        return []
    if not isinstance(text, str):
        raise InvalidValueError(f"filter {text!r} must be a string")
    out = []
    for part in re.split(r"\s+AND\s+", text, flags=re.IGNORECASE):
        match = _CLAUSE_RE.match(part)
        name = "" if match is None else match.group(1)
        if name.lower().startswith("tag"):
            name = "tag:" + name.partition(".")[2].strip('`"')
        elif name.lower() in fields:
            name = name.lower()
        if match is None or not (name in fields or name.startswith("tag:")):
            raise InvalidValueError(
                f"filter clause {part!r} is not supported; use {', '.join(fields)} or tags.KEY"
                " with =, !=, LIKE or ILIKE and a quoted value, joined with AND"
            )
        value = re.sub(r"\\(.)", r"\1", match.group(3))
        out.append((name, match.group(2).upper(), value))
    return out


def _holds(clauses: list[tuple[str, str, str]], values: dict[str, str]) -> bool:
    """Whether every clause holds; a missing tag passes only !=."""
    for name, op, wanted in clauses:
        value = values.get(name)
        if value is None:
            if op != "!=":
                return False
            continue
        if op == "=" and value != wanted:
            return False
        if op == "!=" and value == wanted:
            return False
        if "LIKE" in op and like_regex(wanted, op == "ILIKE").fullmatch(value) is None:
            return False
    return True


def _max_results(data: dict[str, Any], default: int) -> int:
    n = c.integer(data, "max_results", default) or default
    if not 1 <= n <= 10_000:
        raise InvalidValueError(f"max_results {n} must be between 1 and 10000")
    return n


async def search_models(request: Request) -> Response:
    data = await c.params(request)
    clauses = _name_filter(data.get("filter"), ("name",))
    max_results = _max_results(data, 100)
    token = data.get("page_token") or None
    after = decode_token(token, "registered_models", (str,))[0] if token else None
    only = await readable(request, "model")

    def search() -> dict[str, Any]:
        registry = _registry(request)
        found = [
            s for s in registry.load_all()
            if (only is None or s.name in only)
            and (after is None or s.name > after)
            and _holds(clauses, {"name": s.name, **{f"tag:{k}": v for k, v in s.tags.items()}})
        ]  # fmt: skip
        out: dict[str, Any] = {
            "registered_models": [model_json(registry, s) for s in found[:max_results]]
        }
        if len(found) > max_results:
            out["next_page_token"] = encode_token(
                "registered_models", [found[max_results - 1].name]
            )
        return out

    return reply(await run_in_threadpool(search))


async def latest_versions(request: Request) -> Response:
    data = await c.params(request)
    name = c.text(data, "name")

    def get() -> list[dict[str, Any]]:
        registry = _registry(request)
        state = registry.load(name)
        if not state.live_versions():
            return []
        return [version_json(state, registry.version(state, None))]

    return reply({"model_versions": await run_in_threadpool(get)})


async def set_model_tag(request: Request) -> Response:
    data = await c.params(request)
    name, key = c.text(data, "name"), c.text(data, "key")
    value = c.text(data, "value", required=False)
    who = c.user(request)
    await run_in_threadpool(lambda: _registry(request).set_model_tag(name, key, value, who))
    return reply({})


async def delete_model_tag(request: Request) -> Response:
    data = await c.params(request)
    name, key = c.text(data, "name"), c.text(data, "key")
    who = c.user(request)
    await run_in_threadpool(lambda: _registry(request).delete_model_tag(name, key, who))
    return reply({})


async def set_alias(request: Request) -> Response:
    data = await c.params(request)
    name, alias = c.text(data, "name"), c.text(data, "alias")
    number = _version_number(data)
    who = c.user(request)
    await run_in_threadpool(lambda: _registry(request).set_alias(name, alias, number, who))
    return reply({})


async def delete_alias(request: Request) -> Response:
    data = await c.params(request)
    name, alias = c.text(data, "name"), c.text(data, "alias")
    who = c.user(request)
    await run_in_threadpool(lambda: _registry(request).delete_alias(name, alias, who))
    return reply({})


async def get_by_alias(request: Request) -> Response:
    data = await c.params(request)
    name, alias = c.text(data, "name"), c.text(data, "alias")

    def get() -> dict[str, Any]:
        registry = _registry(request)
        state = registry.load(name)
        return version_json(state, registry.version_by_alias(state, alias))

    return reply({"model_version": await run_in_threadpool(get)})


# -- model versions --------------------------------------------------------------------------


def _source_record(request: Request, source: str, model_id: str | None) -> dict[str, Any]:
    """What a version records of its source, after checking it names something stored here."""
    backend, tables = c.backend(request), c.tables(request)
    if source.startswith("models:/m-") or (model_id and source.startswith("models:/")):
        model = tables.get_logged_model(check_id(model_id or source[len("models:/") :]))
        run_id = model.source_run_id or ""
        path = f"models/{model.id}" if run_id else ""
        return {
            "source": f"runs:/{run_id}/{path}" if run_id else source,
            "run_id": run_id,
            "artifact_path": path,
            "model_id": model.id,
            "download_uri": model_artifact_uri(model),
        }
    if source.startswith("runs:/"):
        run_id, _, rest = source[len("runs:/") :].partition("/")
        path = check_relative_path(rest, "model artifact path")
    elif source.startswith("mlflow-artifacts:/"):
        kind, run_id, path = artifact_target(source[len("mlflow-artifacts:") :].lstrip("/"))
        if kind != "run":
            model = tables.get_logged_model(run_id)
            return {"source": source, "run_id": "", "artifact_path": path, "model_id": model.id,
                    "download_uri": source}  # fmt: skip
    else:
        raise InvalidValueError(
            f"model version source {source!r} is not stored by this server; register"
            " models:/<logged model id> (what mlflow.<flavor>.log_model returns) or"
            " runs:/<run id>/<artifact path>"
        )
    run = backend.get_run(check_id(run_id))
    uri = c.artifact_uri(run.experiment_id, run.id)
    return {
        "source": f"runs:/{run.id}/{path}",
        "run_id": run.id,
        "artifact_path": path,
        "download_uri": f"{uri}/{path}" if path else uri,
    }


async def create_version(request: Request) -> Response:
    data = await c.params(request)
    name = check_model_name(c.text(data, "name"))
    source = c.text(data, "source")
    model_id = c.text(data, "model_id", required=False) or None
    tags = {check_key(k, "tag"): check_tag_value(k, v) for k, v in c.pairs(data, "tags")}
    description = c.text(data, "description", required=False)
    who = c.user(request)

    record = await run_in_threadpool(_source_record, request, source, model_id)
    # The source must be something the caller may read: a run, or a logged model's experiment.
    kind: Resource = "run" if record["run_id"] else "experiment"
    key = str(record["run_id"] or record["model_id"])
    if not await allowed(request, kind, key, "reader"):
        raise NotFoundError(f"model version source {source!r}: no {kind} {key!r} that you may read")

    def create() -> dict[str, Any]:
        registry = _registry(request)
        given_run = data.get("run_id")
        if given_run and record["run_id"] and given_run != record["run_id"]:
            raise InvalidValueError(
                f"run_id {given_run!r} is not the run of source {source!r}"
                f" ({record['run_id']}); leave run_id out or pass that run"
            )
        record.update(tags=tags, description=description, mlflow_source=source)
        registry.load(name)  # MLflow creates the model first: a missing one is an error
        version = registry.create_version(name, record, who)
        return version_json(registry.load(name), version)

    return reply({"model_version": await run_in_threadpool(create)})


async def get_version(request: Request) -> Response:
    data = await c.params(request)
    name = c.text(data, "name")
    number = _version_number(data)

    def get() -> dict[str, Any]:
        registry = _registry(request)
        state = registry.load(name)
        return version_json(state, registry.version(state, number))

    return reply({"model_version": await run_in_threadpool(get)})


async def update_version(request: Request) -> Response:
    data = await c.params(request)
    name = c.text(data, "name")
    number = _version_number(data)
    description = c.text(data, "description", required=False)
    who = c.user(request)

    def update() -> dict[str, Any]:
        registry = _registry(request)
        registry.set_version_description(name, number, description, who)
        state = registry.load(name)
        return version_json(state, registry.version(state, number))

    return reply({"model_version": await run_in_threadpool(update)})


async def delete_version(request: Request) -> Response:
    data = await c.params(request)
    name = c.text(data, "name")
    number = _version_number(data)
    who = c.user(request)
    await run_in_threadpool(
        lambda: _registry(request).delete_version(name, number, who, force=True, comment=None)
    )
    return reply({})


async def download_uri(request: Request) -> Response:
    data = await c.params(request)
    name = c.text(data, "name")
    number = _version_number(data)

    def get() -> str:
        registry = _registry(request)
        state = registry.load(name)
        version = registry.version(state, number)
        uri = state.records[version.version].get("download_uri")
        if not uri:
            # A version registered through autolog's own API: its files are in its run.
            run = c.backend(request).get_run(version.run_id)
            uri = f"{c.artifact_uri(run.experiment_id, run.id)}/{version.artifact_path}"
        return str(uri)

    return reply({"artifact_uri": await run_in_threadpool(get)})


async def search_versions(request: Request) -> Response:
    data = await c.params(request)
    clauses = _name_filter(data.get("filter"), ("name", "run_id"))
    max_results = _max_results(data, 1000)
    token = data.get("page_token") or None
    after = decode_token(token, "model_versions", (str, int)) if token else None
    only = await readable(request, "model")

    def search() -> dict[str, Any]:
        registry = _registry(request)
        names = [v for n, op, v in clauses if n == "name" and op == "="]
        states = [registry.load(names[0])] if len(names) == 1 else registry.load_all()
        states = [s for s in states if only is None or s.name in only]
        found = []
        for state in states:
            for number in sorted(state.live_versions(), reverse=True):
                if after is not None and (state.name, -number) <= (after[0], -int(after[1])):
                    continue
                v = state.to_version(number)
                tags = {f"tag:{k}": val for k, val in v.tags.items()}
                if _holds(clauses, {"name": v.name, "run_id": v.run_id, **tags}):
                    found.append((state, v))
        out: dict[str, Any] = {
            "model_versions": [version_json(s, v) for s, v in found[:max_results]]
        }
        if len(found) > max_results:
            last = found[max_results - 1][1]
            out["next_page_token"] = encode_token("model_versions", [last.name, last.version])
        return out

    try:
        return reply(await run_in_threadpool(search))
    except ModelNotFoundError:
        return reply({"model_versions": []})


async def set_version_tag(request: Request) -> Response:
    data = await c.params(request)
    name, key = c.text(data, "name"), c.text(data, "key")
    number = _version_number(data)
    value = c.text(data, "value", required=False)
    who = c.user(request)
    await run_in_threadpool(
        lambda: _registry(request).set_version_tag(name, number, key, value, who)
    )
    return reply({})


async def delete_version_tag(request: Request) -> Response:
    data = await c.params(request)
    name, key = c.text(data, "name"), c.text(data, "key")
    number = _version_number(data)
    who = c.user(request)
    await run_in_threadpool(lambda: _registry(request).delete_version_tag(name, number, key, who))
    return reply({})


_M = "/api/2.0/mlflow/registered-models"
_V = "/api/2.0/mlflow/model-versions"

#: (method, path, endpoint)
ROUTES = [
    ("POST", f"{_M}/create", create_model),
    ("GET", f"{_M}/get", get_model),
    ("PATCH", f"{_M}/update", update_model),
    ("DELETE", f"{_M}/delete", delete_model),
    ("GET", f"{_M}/search", search_models),
    ("POST", f"{_M}/get-latest-versions", latest_versions),
    ("POST", f"{_M}/set-tag", set_model_tag),
    ("DELETE", f"{_M}/delete-tag", delete_model_tag),
    ("POST", f"{_M}/alias", set_alias),
    ("DELETE", f"{_M}/alias", delete_alias),
    ("GET", f"{_M}/alias", get_by_alias),
    ("POST", f"{_V}/create", create_version),
    ("GET", f"{_V}/get", get_version),
    ("PATCH", f"{_V}/update", update_version),
    ("DELETE", f"{_V}/delete", delete_version),
    ("GET", f"{_V}/search", search_versions),
    ("GET", f"{_V}/get-download-uri", download_uri),
    ("POST", f"{_V}/set-tag", set_version_tag),
    ("DELETE", f"{_V}/delete-tag", delete_version_tag),
]
