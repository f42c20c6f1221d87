"""Pages as HTML: the template environment, the security headers, and the error page.

Every value reaches a page through a Jinja2 template with autoescaping on, so names,
params, tags and artifact names are text, never HTML. Scripts are static files only
(the Content-Security-Policy forbids inline script); data reaches them through JSON
endpoints or `data-` attributes.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from autolog._server.identity import csrf_token, identity
from autolog.errors import AutologError, InvalidInputError, NotFoundError

__all__ = ["CSP", "SECURITY_HEADERS", "json_reply", "render", "ui_page"]

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:;"
    " object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _time(ms: int | None) -> str:
    if ms is None:
        return ""
    t = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    return f"{value:.6g}"


@functools.lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["time"] = _time
    env.filters["duration"] = _duration
    env.filters["number"] = _number
    # A JSON text for a data- attribute; autoescaping then makes it attribute-safe.
    env.filters["json"] = lambda v: json.dumps(v, separators=(",", ":"), allow_nan=False)
    return env


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page `template` filled with `context`, with the header's user and the CSP."""
    who = identity(request)
    auth_on = getattr(request.app.state, "authorizer", None) is not None
    html = (
        _env()
        .get_template(template)
        .render(user=who.name, auth_on=auth_on, csrf=csrf_token(request), **context)
    )
    return HTMLResponse(html, status, headers=SECURITY_HEADERS)


def json_reply(data: Any, status: int = 200) -> Response:
    """A JSON reply for the pages' scripts (NaN and infinities as null)."""
    body = json.dumps(data, separators=(",", ":"), allow_nan=False, default=str)
    return Response(body, status, media_type="application/json", headers=SECURITY_HEADERS)


def error_page(request: Request, exc: AutologError) -> HTMLResponse:
    status = 404 if isinstance(exc, NotFoundError) else 400
    if not isinstance(exc, (NotFoundError, InvalidInputError)):
        status = 500
        logger.error("autolog ui: %s", exc)
    return render(request, "error.html", status, message=str(exc), title="Error")


Page = Callable[[Request], Awaitable[Response]]


def ui_page(handler: Page) -> Page:
    """`handler` with autolog's errors shown as an error page (JSON for /ui/api/ routes)."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except AutologError as exc:
            if request.url.path.startswith("/ui/api/"):
                status = 404 if isinstance(exc, NotFoundError) else 400
                return json_reply({"error": str(exc)}, status)
            return error_page(request, exc)

    return wrapper
