"""What the pages read from: the application's backend and its model registry."""

from __future__ import annotations

import math
import sys

from starlette.requests import Request

from autolog._entities import Run
from autolog._registry.store import RegistryStore, registry_store
from autolog._server.identity import identity
from autolog.backends.base import Backend, RegistryBackend
from autolog.errors import ModelNotFoundError

__all__ = ["acting_user", "backend", "chart_history", "metric_summaries", "registry"]

#: (points stored, min, max) of one metric's finite values.
Summary = tuple[int, float | None, float | None]


def _sql(store: Backend) -> object | None:
    """The SQL store's chart queries when `store` is the server's SqlBackend, else None."""
    sql = sys.modules.get("autolog.backends.sql.store")
    if sql is not None and isinstance(store, sql.SqlBackend):
        from autolog.backends.sql import charts

        return charts
    return None


def chart_history(
    store: Backend, run_id: str, key: str, width: int
) -> tuple[int, list[float], list[float | None]]:
    """A metric's history cut to `width` pixels: (points stored, steps, values).

    The server's database buckets it in one query; other stores read the history and
    `downsample` cuts it here.
    """
    from autolog._server.ui.downsample import downsample

    charts = _sql(store)
    if charts is not None:
        found = charts.metric_buckets(store, run_id, key, width)  # type: ignore[attr-defined]
        if found is not None:
            return found  # type: ignore[no-any-return]
    points = store.get_metric_history(run_id, key)
    xs, ys = downsample(points, width)
    return len(points), xs, ys


def metric_summaries(store: Backend, run: Run, limit: int) -> dict[str, Summary]:
    """(points, min, max) of the run's metrics; read from whole histories for at most `limit`
    metrics when the store cannot aggregate them itself (the rest: one point, no min or max).
    """
    charts = _sql(store)
    if charts is not None:
        return charts.metric_summaries(store, run.id)  # type: ignore[attr-defined,no-any-return]
    out: dict[str, Summary] = {}
    for i, key in enumerate(sorted(run.metrics)):
        if i >= limit:
            out[key] = (1, None, None)
            continue
        values = [m.value for m in store.get_metric_history(run.id, key)]
        finite = [v for v in values if math.isfinite(v)]
        out[key] = (len(values), min(finite, default=None), max(finite, default=None))
    return out


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
