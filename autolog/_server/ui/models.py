"""The registry's pages: the models, one model's versions, lineage and history, and the
forms a maintainer uses to move an alias and edit descriptions."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from autolog._registry.names import check_model_name, check_version
from autolog._server.identity import allowed
from autolog._server.ui.render import render, ui_page
from autolog._server.ui.store import acting_user, registry
from autolog.errors import InvalidValueError

__all__ = ["model_page", "models_page", "move_alias", "set_description"]

#: The largest form body accepted.
MAX_FORM = 64 * 1024


@ui_page
async def models_page(request: Request) -> Response:
    states = await run_in_threadpool(registry(request).load_all)
    models = [s.to_model() for s in states if await allowed(request, "model", s.name, "reader")]
    return render(request, "models.html", title="Models", models=models)


@ui_page
async def model_page(request: Request) -> Response:
    name = check_model_name(request.path_params["name"])
    state = await run_in_threadpool(registry(request).load, name)
    model = state.to_model()
    versions = [state.to_version(v) for v in reversed(model.versions)]
    return render(
        request,
        "model.html",
        title=name,
        model=model,
        versions=versions,
        history=list(reversed(state.history())),
        maintainer=await allowed(request, "model", name, "maintainer"),
        message=request.query_params.get("done", ""),
    )


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded form of a POST (one value per field)."""
    raw = await request.body()
    if len(raw) > MAX_FORM:
        raise InvalidValueError(f"the form is over {MAX_FORM} bytes")
    fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def _forbidden(request: Request, name: str) -> Response:
    message = f"changing model {name!r} needs the maintainer role on it; ask its owner"
    return render(request, "error.html", 403, message=message, title="Not allowed")


def _back(name: str, done: str) -> Response:
    return RedirectResponse(f"/models/{quote(name, safe='')}?done={quote(done)}", status_code=303)


@ui_page
async def move_alias(request: Request) -> Response:
    """Point alias `alias` at version `version` (created if new); `comment` is kept in history."""
    name = check_model_name(request.path_params["name"])
    if not await allowed(request, "model", name, "maintainer"):
        return _forbidden(request, name)
    form = await _form(request)
    alias = form.get("alias", "").strip()
    version = check_version(form.get("version", ""))
    assert version is not None
    comment = form.get("comment", "").strip() or None
    user = acting_user(request)
    store = registry(request)
    await run_in_threadpool(store.set_alias, name, alias, version, user, comment)
    return _back(name, f"alias {alias} -> version {version}")


@ui_page
async def set_description(request: Request) -> Response:
    """Set the model's description, or a version's when the form names `version`."""
    name = check_model_name(request.path_params["name"])
    if not await allowed(request, "model", name, "maintainer"):
        return _forbidden(request, name)
    form = await _form(request)
    text = form.get("description", "")
    user = acting_user(request)
    store = registry(request)
    version: Any = form.get("version", "")
    if version:
        number = check_version(version)
        assert number is not None
        await run_in_threadpool(store.set_version_description, name, number, text, user)
        return _back(name, f"description of version {number} saved")
    await run_in_threadpool(store.set_model_description, name, text, user)
    return _back(name, "description saved")
