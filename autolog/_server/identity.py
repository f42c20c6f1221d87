"""Who is calling, and whether they may: the one interface the pages and routes ask.

The authentication layer (when the server runs with `--auth token` or `--auth proxy`) sets
`request.state.identity` and `app.state.authorizer`; without it (`--auth none`, loopback
only) everyone is the anonymous administrator and every check answers yes.

The middleware (`autolog._server.guard`) has already checked each route's rule from the
route table before a handler runs. What a handler still does itself:

- a listing or search (a rule on the resource "user") narrows its result with
  `await readable(request, "experiment")` (or "model"): None means everything;
- a route that creates an experiment or a registered model calls
  `await created(request, "experiment", id)` (or "model", name): the caller becomes its
  owner, and everyone else gets the server's default role;
- a check finer than the route's rule (deleting needs the owner) asks `allowed(...)` with
  the experiment's id, the run's id or the model's name;
- a web form posts its CSRF token in a field named `csrf` (form-urlencoded) or the header
  X-CSRF-Token; a browser session may post only to routes of the UI section.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request

from autolog._server.routes import Resource, Role

__all__ = [
    "ANONYMOUS",
    "Authorizer",
    "Identity",
    "allowed",
    "created",
    "csrf_token",
    "identity",
    "readable",
]


@dataclass(frozen=True)
class Identity:
    """The caller: a user name (None when authentication is off) and whether they are admin.

    `scope` is "read" for a read-only token; `via` says how the caller proved who they are:
    "none" (authentication off), "token", "proxy" or "cookie" (the web UI's session).
    """

    name: str | None
    admin: bool = False
    scope: str = "write"
    via: str = "none"


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


async def readable(request: Request, kind: Literal["experiment", "model"]) -> frozenset[str] | None:
    """The ids of experiments (or names of models) the caller may read; None means all.

    Listings and searches pass this to the store as a filter, so a caller never learns the
    name of an experiment or model they cannot read.
    """
    authorizer = getattr(request.app.state, "authorizer", None)
    if authorizer is None:
        return None
    found: frozenset[str] | None = await authorizer.readable(identity(request), kind)
    return found


async def created(request: Request, kind: Literal["experiment", "model"], key: str) -> None:
    """Record the caller as the owner of the experiment (id) or model (name) just created."""
    authorizer = getattr(request.app.state, "authorizer", None)
    if authorizer is not None:
        await authorizer.created(identity(request), kind, key)
