"""The model registry's storage operations (`RegistryBackend`) in the SQL store.

Each model, version and event is the JSON document the registry wrote, in a row of its
own. A version's number comes from `max(version) + 1` inside a write transaction, and
(model, version) is the primary key: two servers racing for a number cannot both get
it, and the loser takes the next one. Rows are never updated or deleted, so numbers are
never reused and the events are the append-only history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from autolog.backends.base import StoredModel
from autolog.backends.sql import schema as t
from autolog.errors import InvalidKeyError, ModelNotFoundError, StoreError

__all__ = ["SqlRegistry"]

_ATTEMPTS = 100
_EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}\Z")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


class SqlRegistry:
    """`RegistryBackend` over the tables of `autolog.backends.sql.schema` (a mixin)."""

    uri: str
    write: Any
    read: Any
    _insert: Any

    def _model_id(self, conn: Connection, name: str) -> int | None:
        rm = t.registered_models
        found: int | None = conn.execute(select(rm.c.id).where(rm.c.name == name)).scalar()
        return found

    def create_registered_model(self, name: str, meta: dict[str, Any]) -> bool:
        with self.write() as conn:
            created = conn.execute(
                self._insert(t.registered_models)
                .values(name=name, meta=_dumps({**meta, "name": name}))
                .on_conflict_do_nothing()
                .returning(t.registered_models.c.id)
            ).scalar()
        return created is not None

    def create_model_version(self, name: str, record: dict[str, Any]) -> int:
        mv = t.model_versions
        for _ in range(_ATTEMPTS):
            try:
                with self.write() as conn:
                    model_id = self._model_id(conn, name)
                    if model_id is None:
                        raise ModelNotFoundError(
                            f"no registered model named {name!r} in {self.uri}; create it first"
                        )
                    top = conn.execute(
                        select(func.coalesce(func.max(mv.c.version), 0)).where(
                            mv.c.model_id == model_id
                        )
                    ).scalar()
                    number = int(top or 0) + 1
                    run_id = record.get("run_id")
                    conn.execute(
                        mv.insert().values(
                            model_id=model_id,
                            version=number,
                            run_id=run_id if isinstance(run_id, str) else None,
                            record=_dumps({**record, "version": number}),
                        )
                    )
                return number
            except IntegrityError:
                continue  # another writer took that number first: take the next
        raise StoreError(
            f"could not create a version of model {name!r} in {self.uri} after {_ATTEMPTS}"
            " attempts; too many processes are registering at once"
        )

    def append_model_event(self, name: str, event: dict[str, Any]) -> bool:
        event_id = event.get("id")
        if not isinstance(event_id, str) or not _EVENT_ID_RE.match(event_id):
            raise InvalidKeyError(
                f"event id {event_id!r} of model {name!r} is not allowed; use 1 to 128 letters,"
                " digits, '-' or '_' that sort in time order"
            )
        with self.write() as conn:
            model_id = self._model_id(conn, name)
            if model_id is None:
                raise ModelNotFoundError(
                    f"no registered model named {name!r} in {self.uri}; create it first"
                )
            written = conn.execute(
                self._insert(t.model_events)
                .values(model_id=model_id, event_id=event_id, event=_dumps(event))
                .on_conflict_do_nothing()
                .returning(t.model_events.c.event_id)
            ).scalar()
        return written is not None

    def _stored(self, conn: Connection, ids: list[int]) -> dict[int, StoredModel]:
        rm, mv, me = t.registered_models, t.model_versions, t.model_events
        out: dict[int, StoredModel] = {}
        for model_id, meta in conn.execute(select(rm.c.id, rm.c.meta).where(rm.c.id.in_(ids))):
            out[model_id] = StoredModel(json.loads(meta))
        versions = select(mv.c.model_id, mv.c.record).where(mv.c.model_id.in_(ids))
        for model_id, record in conn.execute(versions.order_by(mv.c.model_id, mv.c.version)):
            out[model_id].versions.append(json.loads(record))
        events = select(me.c.model_id, me.c.event).where(me.c.model_id.in_(ids))
        for model_id, event in conn.execute(events.order_by(me.c.model_id, me.c.event_id)):
            out[model_id].events.append(json.loads(event))
        return out

    def read_registered_model(self, name: str) -> StoredModel | None:
        with self.read() as conn:
            model_id = self._model_id(conn, name)
            return None if model_id is None else self._stored(conn, [model_id])[model_id]

    def list_registered_models(self, only: Collection[str] | None = None) -> list[StoredModel]:
        """Every model, or those whose name is in `only` (the ones a caller may read)."""
        rm = t.registered_models
        query = (
            select(rm.c.id) if only is None else select(rm.c.id).where(rm.c.name.in_(list(only)))
        )
        with self.read() as conn:
            ids = list(conn.execute(query).scalars())
            stored = self._stored(conn, ids) if ids else {}
        return [stored[i] for i in ids]
