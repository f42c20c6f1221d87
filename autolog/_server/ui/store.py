"""What the pages read from: the application's backend and its model registry."""

from __future__ import annotations

from starlette.requests import Request

from autolog._registry.store import RegistryStore, registry_store
from autolog._server.identity import identity
from autolog.backends.base import Backend, RegistryBackend
from autolog.errors import ModelNotFoundError

__all__ = ["acting_user", "backend", "registry"]


def backend(request: Request) -> Backend:
    """The store the application serves (the server's SqlBackend, or `autolog ui`'s)."""
    found: Backend = request.app.state.backend
    return found


def registry(request: Request) -> RegistryStore:
    """The model registry of the served store; ModelNotFoundError when it has none."""
    found = backend(request)
    if not isinstance(found, RegistryBackend):
        raise ModelNotFoundError(f"the store {found.uri} has no model registry")
    return registry_store(found)


def acting_user(request: Request) -> str | None:
    """Who a change is recorded as: the signed-in user, else the local user of `autolog ui`."""
    name = identity(request).name
    if name is not None:
        return name
    local: str | None = getattr(request.app.state, "local_user", None)
    return local
