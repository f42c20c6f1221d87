"""The middleware in front of every route: who is calling, and whether the route table lets them.

For each request, in order:

1. The Host header must be one the server answers to (`--allowed-host`; the loopback names
   when bound to loopback): a page on another site cannot reach a local server through
   DNS rebinding.
2. The route is found as Starlette finds it, and its rule is read from
   `autolog._server.routes.RULES`; a served route without a rule is refused.
3. The caller is identified: a bearer token (any mode but `none`), the identity header of
   a trusted proxy (`--auth proxy`), or the web UI's signed session cookie. A cookie
   authorizes reads and the web UI's own forms (with their CSRF token), never an API write.
4. The rule's role is checked on the resource its `locate` names: a path or query
   parameter, or a field of the JSON body (read here, then handed on unchanged).

Every reply carries X-Frame-Options: DENY, a Content-Security-Policy without inline
scripts, nosniff and no-referrer. A body over the route's limit gets 413 before it is read.
"""

from __future__ import annotations

import html
import ipaddress
import json
import zlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autolog._server.auth import SESSION_COOKIE, Authorizer, needed_role
from autolog._server.identity import ANONYMOUS, Identity
from autolog._server.routes import RULES, UI, Rule
from autolog.errors import InvalidValueError

__all__ = ["SECURITY_HEADERS", "Guard"]

SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
        b" img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none';"
        b" form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
#: The largest JSON body read to find a resource in it (ingest's own limit is larger).
_LOCATE_MAX = 64 * 1024 * 1024
_UI_RULES = frozenset((r.method, r.path) for r in UI)


def _page(refused: _Refused) -> bytes:
    """A refusal as a page of the web UI: its message, and the way back."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Not shown - autolog"
        '</title><link rel=icon href="data:,"><link rel=stylesheet href=/ui/static/app.css>'
        f"</head><body><main><h1>Not shown</h1><pre class=error id=error>"
        f"{html.escape(refused.message)}</pre><p><a href=/>Back to the experiments</a></p>"
        "</main></body></html>"
    ).encode()


def _host_name(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class BodyTooLarge(InvalidValueError):
    """A body (chunked, without Content-Length) grew past the route's limit."""


class _Refused(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: Iterable[tuple[str, str]] = ()
    ):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, list(headers)


class Guard:
    """Pure ASGI middleware: identity, authorization and browser protections (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        starlette: Any,
        mode: str,
        authorizer: Authorizer | None,
        allowed_hosts: tuple[str, ...],
        proxy_header: str = "",
        trusted_proxies: tuple[str, ...] = (),
        max_body: int,
        max_upload: int,
    ) -> None:
        self.app = app
        self.starlette = starlette
        self.mode = mode
        self.authorizer = authorizer
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.proxy_header = proxy_header.lower()
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]
        self.max_body, self.max_upload = max_body, max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            receive = await self._check(scope, receive)
        except _Refused as refused:
            await self._refuse(scope, send_secured, refused)
            return
        except BodyTooLarge as exc:
            await self._refuse(scope, send_secured, _Refused(413, "REQUEST_TOO_LARGE", str(exc)))
            return
        await self.app(scope, receive, send_secured)

    async def _refuse(self, scope: Scope, send: Send, refused: _Refused) -> None:
        if refused.status == 303:
            headers = [(b"location", refused.message.encode("latin-1")), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 303, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if refused.status == 404 and scope.get("state", {}).get("ui_page"):
            body, kind = _page(refused), b"text/html; charset=utf-8"
        else:
            body = json.dumps({"error_code": refused.code, "message": refused.message}).encode()
            kind = b"application/json"
        headers = [
            (b"content-type", kind),
            (b"content-length", str(len(body)).encode()),
        ]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in refused.headers]
        await send({"type": "http.response.start", "status": refused.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # -- the checks ---------------------------------------------------------------------------

    async def _check(self, scope: Scope, receive: Receive) -> Receive:
        headers = Headers(scope=scope)
        host = _host_name(headers.get("host", ""))
        if self.allowed_hosts and host not in self.allowed_hosts:
            raise _Refused(
                400,
                "BAD_REQUEST",
                f"this server does not answer to the host name {host[:100]!r}; if that name is"
                " right, start the server with --allowed-host for it",
            )
        method = scope["method"]
        rule, path_params, upload = self._rule(scope)
        limit = self.max_upload if upload else self.max_body
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise _Refused(
                413, "REQUEST_TOO_LARGE", f"the request body is over {limit} bytes; send less"
            )
        receive = _capped(receive, limit)
        if rule is None:
            return receive  # the router answers 404 or 405
        state = scope.setdefault("state", {})
        # A page of the web UI the caller may not read is a page saying so (a browser shows it).
        state["ui_page"] = (
            (rule.method, rule.path) in _UI_RULES
            and rule.method == "GET"
            and (not rule.path.startswith(("/ui/api/", "/ui/static/")))
        )
        if rule.resource == "public":
            # Anyone may call it: a caller who is signed in is named, a bad token ignored.
            try:
                who = await self._identify(scope, headers, rule)
            except _Refused:
                who = None
            if who is not None:
                state["identity"] = who
            return receive
        who = await self._identify(scope, headers, rule)
        if who is not None:
            state["identity"] = who
        if who is None:
            if method == "GET" and (rule.method, rule.path) in _UI_RULES:
                raise _Refused(303, "", "/login?next=" + quote(scope.get("path", "/"), safe="/"))
            hint = "set AUTOLOG_TRACKING_TOKEN or run `autolog login <server URL>`"
            raise _Refused(
                401,
                "UNAUTHENTICATED",
                f"{method} {scope['path']} needs a signed-in caller; {hint}",
                [("WWW-Authenticate", 'Bearer realm="autolog"')],
            )
        if who.via == "cookie" and method not in ("GET", "HEAD"):
            if (rule.method, rule.path) not in _UI_RULES:
                raise _Refused(
                    403,
                    "PERMISSION_DENIED",
                    "a browser session cannot write through the API; send a bearer token",
                )
            receive = await self._check_csrf(scope, headers, receive, state)
        needed = needed_role(rule.role)
        if needed > 1 and who.scope != "write":
            raise _Refused(
                403,
                "PERMISSION_DENIED",
                f"{method} {scope['path']} writes; this token is read-only",
            )
        if who.admin or rule.resource in ("user", "batch"):
            return receive
        if rule.resource == "admin":
            raise _Refused(403, "PERMISSION_DENIED", "only a server administrator may do this")
        key, receive = await self._locate(scope, headers, receive, rule, path_params)
        await self._authorize(who, rule, key)
        return receive

    def _rule(self, scope: Scope) -> tuple[Rule | None, dict[str, Any], bool]:
        """The rule of the route serving `scope`, its path parameters, and whether it uploads."""
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        for route in self.starlette.router.routes:
            match, child = route.matches(scope)
            if match is not Match.FULL:
                continue
            template = route.path + "/{path:path}" if isinstance(route, Mount) else route.path
            rule = RULES.get((method, template))
            if rule is None:
                raise _Refused(
                    403,
                    "PERMISSION_DENIED",
                    f"{method} {template} is not in the server's route table; nobody may call it",
                )
            upload = method == "PUT" and template.endswith("{path:path}")
            return rule, child.get("path_params", {}), upload
        return None, {}, False

    async def _identify(self, scope: Scope, headers: Headers, rule: Rule) -> Identity | None:
        if self.mode == "none" or self.authorizer is None:
            return ANONYMOUS
        client = (scope.get("client") or ("", 0))[0]
        limiter = self.authorizer.failures
        authorization = headers.get("authorization")
        if authorization is not None:
            kind, _, token = authorization.partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                raise _Refused(
                    401,
                    "UNAUTHENTICATED",
                    "the Authorization header must be `Bearer <token>`",
                    [("WWW-Authenticate", 'Bearer realm="autolog"')],
                )
            blocked = limiter.blocked(client)
            who = await self.authorizer.from_token(token.strip(), cached_only=blocked)
            if who is None and blocked:
                # Past the limit only tokens known good are looked at: no database work.
                raise _Refused(
                    429, "RATE_LIMITED", "too many failed sign-ins from this address; wait a minute"
                )
            if who is None:
                limiter.fail(client)
                raise _Refused(
                    401,
                    "UNAUTHENTICATED",
                    "the token is unknown, revoked or expired, or its user is disabled; create a"
                    " new one with `autolog server token create`",
                    [("WWW-Authenticate", 'Bearer realm="autolog", error="invalid_token"')],
                )
            return who
        if self.mode == "proxy":
            name = headers.get(self.proxy_header)
            if name is not None:
                if not self._trusted(client):
                    raise _Refused(
                        401,
                        "UNAUTHENTICATED",
                        f"the {self.proxy_header} header came from {client}, which is not a"
                        " trusted proxy (--trusted-proxy)",
                    )
                try:
                    who = await self.authorizer.from_user(name.strip(), "proxy", create=True)
                except InvalidValueError as exc:
                    raise _Refused(
                        401, "UNAUTHENTICATED", f"the proxy's user name: {exc}"
                    ) from None
                if who is None:
                    raise _Refused(401, "UNAUTHENTICATED", "this user is disabled")
                return who
        cookie = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
        if cookie:
            found = self.authorizer.sessions.read(cookie)
            if found is not None:
                who = await self.authorizer.from_user(found[0], "cookie")
                if who is not None:
                    scope.setdefault("state", {})["csrf"] = self.authorizer.sessions.csrf(found[1])
                    return who
        return None

    def _trusted(self, client: str) -> bool:
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(address in net for net in self.trusted)

    async def _check_csrf(
        self, scope: Scope, headers: Headers, receive: Receive, state: dict[str, Any]
    ) -> Receive:
        body, receive = await _read_all(receive, 1024 * 1024)
        token = headers.get("x-csrf-token", "")
        if not token and "form-urlencoded" in headers.get("content-type", ""):
            token = parse_qs(body.decode("latin-1")).get("csrf", [""])[0]
        if not token or token != state.get("csrf"):
            raise _Refused(
                403,
                "PERMISSION_DENIED",
                "the form's CSRF token is missing or wrong; reload the page",
            )
        return receive

    async def _locate(
        self,
        scope: Scope,
        headers: Headers,
        receive: Receive,
        rule: Rule,
        path_params: dict[str, Any],
    ) -> tuple[str, Receive]:
        where, _, name = rule.locate.partition(":")
        value: Any = None
        if where == "path":
            value = path_params.get(name)
        elif where == "query":
            values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name, [])
            value = values[0] if len(values) == 1 else None
        elif where == "json":
            body, receive = await _read_all(receive, _LOCATE_MAX)
            value = _json_field(body, headers.get("content-encoding", ""), name)
        if not isinstance(value, str) or not value:
            raise _Refused(
                400,
                "INVALID_PARAMETER_VALUE",
                f"{rule.method} {rule.path} names its {rule.resource} in {rule.locate}, and the"
                " request has none (or more than one)",
            )
        return value, receive

    async def _authorize(self, who: Identity, rule: Rule, key: str) -> None:
        assert self.authorizer is not None
        kind = rule.resource
        role = await self.authorizer.role(who, kind, key)
        needed = needed_role(rule.role)
        if role >= needed:
            return
        shown = key[:200]
        if role == 0:
            # Not readable and missing look the same: a name is never confirmed.
            raise _Refused(
                404,
                "RESOURCE_DOES_NOT_EXIST",
                f"no {kind} {shown!r} that you may read; ask its owner for a grant",
            )
        names = {v: k for k, v in {"reader": 1, "writer": 2, "maintainer": 3, "owner": 4}.items()}
        raise _Refused(
            403,
            "PERMISSION_DENIED",
            f"{rule.method} {rule.path} needs {rule.role} on {kind} {shown!r}; you are"
            f" {names.get(role, 'none')}",
        )


def _capped(receive: Receive, limit: int) -> Receive:
    """`receive`, failing once more than `limit` body bytes arrived (chunked bodies too)."""
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(f"the request body is over {limit} bytes; send less")
        return message

    return capped


async def _read_all(receive: Receive, limit: int) -> tuple[bytes, Receive]:
    """The whole body (at most `limit` bytes), and a `receive` that hands it on again."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _Refused(413, "REQUEST_TOO_LARGE", f"the request body is over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _json_field(body: bytes, encoding: str, name: str) -> Any:
    if encoding.lower() == "gzip":
        try:
            body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, _LOCATE_MAX)
        except zlib.error:
            return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return data.get(name) if isinstance(data, dict) else None
