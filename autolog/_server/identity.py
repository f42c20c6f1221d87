"""Who is calling, and whether they may: the one interface the pages and routes ask.

The authentication layer (when the server runs with `--auth token` or `--auth proxy`) sets
`request.state.identity` and `app.state.authorizer`; without it (`--auth none`, loopback
only) everyone is the anonymous administrator and every check answers yes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request

from autolog._server.routes import Resource, Role

__all__ = ["ANONYMOUS", "Authorizer", "Identity", "allowed", "csrf_token", "identity"]


@dataclass(frozen=True)
class Identity:
    """The caller: a user name (None when authentication is off) and whether they are admin."""

    name: str | None
    admin: bool = False


#: The caller when authentication is off: no name, allowed everything.
ANONYMOUS = Identity(None, admin=True)

#: Answers whether the request's caller holds `role` on the resource (kind, key).
Authorizer = Callable[[Request, Resource, str, Role], Awaitable[bool]]


def identity(request: Request) -> Identity:
    """The caller of `request`."""
    found = getattr(request.state, "identity", None)
    return found if isinstance(found, Identity) else ANONYMOUS


async def allowed(request: Request, resource: Resource, key: str, role: Role) -> bool:
    """Whether the caller holds `role` on the resource `key` of kind `resource`."""
    authorizer: Authorizer | None = getattr(request.app.state, "authorizer", None)
    if authorizer is None:
        return True
    return await authorizer(request, resource, key, role)


def csrf_token(request: Request) -> str:
    """The CSRF token a form of the web UI must carry (in a field named `csrf`); "" when off."""
    token = getattr(request.state, "csrf", "")
    return token if isinstance(token, str) else ""
