"""The web UI's sign-in: `GET /login` (the form), `POST /login`, `POST /logout`.

A password is checked against its scrypt hash; a good one gets a signed session cookie
(HttpOnly, SameSite=Strict, Secure over HTTPS) that lasts 12 hours. The form carries a
CSRF token tied to a nonce cookie of its own. Failed sign-ins are counted per client
address and per user name (429 past the limit). The pages are plain HTML with no script.
"""

from __future__ import annotations

import html
import secrets
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from autolog._server.auth import SESSION_COOKIE, SESSION_HOURS, Authorizer

__all__ = ["routes"]

_NONCE_COOKIE = "autolog_login"


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<title>Sign in - autolog</title><link rel=icon href="data:,">'
        "<link rel=stylesheet href=/ui/static/app.css></head><body><main>"
        f"{body}</main></body></html>",
        status,
    )


def _next(value: str | None) -> str:
    """Where to go after signing in: a path on this server only (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _authorizer(request: Request) -> Authorizer | None:
    found = getattr(request.app.state, "authorizer", None)
    return found if isinstance(found, Authorizer) else None


def _form(authorizer: Authorizer, nonce: str, target: str, message: str = "") -> str:
    note = f"<p role=alert>{html.escape(message)}</p>" if message else ""
    csrf = authorizer.sessions.csrf("login:" + nonce)
    return (
        f"<h1>Sign in</h1>{note}<form method=post action=/login>"
        f"<input type=hidden name=csrf value={html.escape(csrf, quote=True)}>"
        f'<input type=hidden name=next value="{html.escape(target, quote=True)}">'
        "<label>User <input name=user autocomplete=username required></label>"
        "<label>Password <input name=password type=password autocomplete=current-password"
        " required></label><button type=submit>Sign in</button></form>"
    )


def _https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (directly, or through a TLS proxy)."""
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.lower() == "https"


def _with_nonce(response: Response, request: Request, nonce: str) -> Response:
    response.set_cookie(
        _NONCE_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict",
        secure=_https(request), path="/login",
    )  # fmt: skip
    return response


async def login_form(request: Request) -> Response:
    authorizer = _authorizer(request)
    if authorizer is None:
        return _page("<p>This server runs without authentication (--auth none).</p>")
    nonce = secrets.token_urlsafe(16)
    target = _next(request.query_params.get("next"))
    return _with_nonce(_page(_form(authorizer, nonce, target)), request, nonce)


async def login(request: Request) -> Response:
    authorizer = _authorizer(request)
    if authorizer is None:
        return _page("<p>This server runs without authentication (--auth none).</p>", 404)
    raw = await request.body()
    if len(raw) > 16 * 1024:
        return _page("<p>The form is too large.</p>", 413)
    form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    nonce = request.cookies.get(_NONCE_COOKIE, "")
    csrf, user, password = (str(form.get(k, "")) for k in ("csrf", "user", "password"))
    target = _next(str(form.get("next", "")))
    fresh = secrets.token_urlsafe(16)
    if not nonce or not authorizer.sessions.check_csrf("login:" + nonce, csrf):
        page = _form(authorizer, fresh, target, "The form expired; sign in again.")
        return _with_nonce(_page(page, 403), request, fresh)
    client = request.client.host if request.client else ""
    limiter = authorizer.failures
    if limiter.blocked(client) or limiter.blocked("user:" + user):
        page = _form(authorizer, fresh, target, "Too many failed sign-ins; wait a minute.")
        return _with_nonce(_page(page, 429), request, fresh)
    if not await run_in_threadpool(authorizer.login, user, password):
        limiter.fail(client)
        limiter.fail("user:" + user)
        page = _form(authorizer, fresh, target, "Wrong user name or password.")
        return _with_nonce(_page(page, 401), request, fresh)
    response = RedirectResponse(target, 303)
    response.set_cookie(
        SESSION_COOKIE, authorizer.sessions.cookie(user), max_age=SESSION_HOURS * 3600,
        httponly=True, samesite="strict", secure=_https(request), path="/",
    )  # fmt: skip
    response.delete_cookie(_NONCE_COOKIE, path="/login")
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def routes() -> list[BaseRoute]:
    """The sign-in routes."""
    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]
