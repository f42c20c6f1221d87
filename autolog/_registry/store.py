"""The model registry's state: folded from what a `RegistryBackend` stores.

A registered model is stored as a meta object, one immutable record per version and
append-only events (see `autolog.backends.base.RegistryBackend`; the layout
backend's keys are in `autolog.backends._layout_registry`). Version numbers come
from the backend (max+1, never reused); deleting a version only writes an event.
Everything mutable (aliases, tags, descriptions, deletions) is the fold of the
events in id order. An event id starts with a nanosecond time that is greater than
every event and version the writer saw when it decided to write (a Lamport clock
over wall time), so a change made after reading another change always sorts after
it, whatever the clocks say; the random suffix breaks ties between truly
concurrent changes.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
import weakref
from datetime import datetime, timezone
from typing import Any

from autolog._registry.entities import ModelState, ModelVersion
from autolog._registry.names import (
    check_alias,
    check_comment,
    check_description,
    check_model_name,
)
from autolog._validation import check_key, check_tag_value
from autolog.backends.base import RegistryBackend, StoredModel
from autolog.errors import InvalidValueError, ModelNotFoundError, StoreError

__all__ = ["RegistryStore", "registry_store"]

_CREATE_ATTEMPTS = 100


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- the store ---------------------------------------------------------------------------------


class RegistryStore:
    """Registered models, versions and their history, read and written through a backend.

    Every method that changes something takes the acting `user`, so that a server
    can pass the authenticated user instead of the local one.
    """

    def __init__(self, backend: RegistryBackend) -> None:
        self.backend = backend
        self._lock = threading.Lock()
        self._last_ns = 0

    # -- reading -------------------------------------------------------------------------------

    def _fold(self, name: str, stored: StoredModel) -> ModelState:
        meta = stored.meta
        if meta.get("name") != name:
            raise StoreError(
                f"registered model names {name!r} and {meta.get('name')!r} are stored as one"
                f" model in {self.backend.uri}; rename one of them"
            )
        created_at, creator, created_ns = (
            int(meta["created_at"]),
            meta.get("creator"),
            int(meta["created_ns"]),
        )
        state = ModelState(
            name, created_at, creator, created_at, creator, created_ns, last_ns=created_ns
        )
        for record in stored.versions:
            state.add_record(record)
        for ev in stored.events:
            state.apply(ev)
        return state

    def load(self, name: str, *, include_deleted: bool = False) -> ModelState:
        """The current state of model `name`; ModelNotFoundError if unknown (or deleted)."""
        check_model_name(name)
        stored = self.backend.read_registered_model(name)
        if stored is None:
            raise ModelNotFoundError(
                f"no registered model named {name!r} in {self.backend.uri}; {self._known()}"
            )
        state = self._fold(name, stored)
        if state.deleted and not include_deleted:
            raise ModelNotFoundError(
                f"registered model {name!r} was deleted; see `autolog models history {name}`,"
                f" or register a new version to re-create it. {self._known()}"
            )
        return state

    def load_all(self) -> list[ModelState]:
        """Every registered model that is not deleted, by name."""
        states = []
        for stored in self.backend.list_registered_models():
            name = stored.meta.get("name")
            if isinstance(name, str):
                state = self._fold(name, stored)
                if not state.deleted:
                    states.append(state)
        return sorted(states, key=lambda s: s.name)

    def _known(self) -> str:
        names = [s.name for s in self.load_all()]
        if not names:
            return "the registry is empty; register a model with `autolog models register`"
        shown = ", ".join(repr(n) for n in names[:10]) + (" ..." if len(names) > 10 else "")
        return f"registered models: {shown}"

    def version(self, state: ModelState, version: int | None) -> ModelVersion:
        """Version `version` of a loaded model (None: the latest), or ModelNotFoundError."""
        live = state.live_versions()
        if version is None:
            if not live:
                raise ModelNotFoundError(f"registered model {state.name!r} has no versions left")
            return state.to_version(live[-1])
        if version in state.deleted_versions:
            ev = state.deleted_versions[version]
            raise ModelNotFoundError(
                f"version {version} of model {state.name!r} was deleted by {ev.get('user')} on"
                f" {_iso(int(ev['time']))}; live versions: {_versions_text(live)}"
            )
        if version not in state.records:
            raise ModelNotFoundError(
                f"registered model {state.name!r} has no version {version}; its versions are"
                f" {_versions_text(live)} (see `autolog models show {state.name}`)"
            )
        return state.to_version(version)

    def version_by_alias(self, state: ModelState, alias: str) -> ModelVersion:
        check_alias(alias)
        if alias not in state.aliases:
            known = ", ".join(f"{a} -> {v}" for a, v in sorted(state.aliases.items())) or "none"
            raise ModelNotFoundError(
                f"registered model {state.name!r} has no alias {alias!r} (its aliases: {known});"
                f" set it with `autolog models alias {state.name} {alias} VERSION`"
            )
        return state.to_version(state.aliases[alias])

    # -- writing -------------------------------------------------------------------------------

    def _next_ns(self, seen: int) -> int:
        with self._lock:
            ns = max(time.time_ns(), seen + 1, self._last_ns + 1)
            self._last_ns = ns
            return ns

    def _event(self, state: ModelState, data: dict[str, Any], user: str | None) -> None:
        for _ in range(_CREATE_ATTEMPTS):
            ns = self._next_ns(state.last_ns)
            event_id = f"{ns:020d}-{uuid.uuid4().hex[:12]}"
            ev = {"id": event_id, "ns": ns, "time": ns // 1_000_000, "user": user, **data}
            ev = {k: v for k, v in ev.items() if v is not None}
            if self.backend.append_model_event(state.name, ev):
                state.apply(ev)
                return
        raise StoreError(f"could not write an event of model {state.name!r} in {self.backend.uri}")

    def create_model(self, name: str, user: str | None) -> bool:
        """Create model `name` without versions (or re-create a deleted one); False if it exists."""
        check_model_name(name)
        ns = self._next_ns(0)
        meta = {"name": name, "created_at": ns // 1_000_000, "created_ns": ns, "creator": user}
        if self.backend.create_registered_model(name, meta):
            return True
        state = self.load(name, include_deleted=True)
        if not state.deleted:
            return False
        self._event(state, {"type": "model_created"}, user)
        return True

    def create_version(self, name: str, record: dict[str, Any], user: str | None) -> ModelVersion:
        """Add version max+1 (never reused) holding `record`; create the model if needed."""
        check_model_name(name)
        ns = self._next_ns(0)
        meta = {"name": name, "created_at": ns // 1_000_000, "created_ns": ns, "creator": user}
        self.backend.create_registered_model(name, meta)
        state = self.load(name, include_deleted=True)
        if state.deleted:
            self._event(state, {"type": "model_created"}, user)
        ns = self._next_ns(state.last_ns)
        data = {
            **record,
            "name": name,
            "created_at": ns // 1_000_000,
            "created_ns": ns,
            "creator": user,
        }
        number = self.backend.create_model_version(name, data)
        # Through JSON, so the result equals what a reader folds from the stored record.
        state.add_record(json.loads(json.dumps({**data, "version": number})))
        return state.to_version(number)

    def set_alias(
        self, name: str, alias: str, version: int, user: str | None, comment: str | None = None
    ) -> ModelVersion:
        check_alias(alias)
        comment = check_comment(comment)
        state = self.load(name)
        self.version(state, version)  # raises for an unknown or deleted version
        old = state.aliases.get(alias)
        if old != version:
            kind = "alias_set" if old is None else "alias_moved"
            ev = {"type": kind, "key": alias, "version": version, "from": old, "to": version}
            self._event(state, {**ev, "comment": comment}, user)
        return state.to_version(version)

    def delete_alias(
        self, name: str, alias: str, user: str | None, comment: str | None = None
    ) -> None:
        comment = check_comment(comment)
        state = self.load(name)
        old = self.version_by_alias(state, alias).version
        ev = {"type": "alias_deleted", "key": alias, "from": old, "comment": comment}
        self._event(state, ev, user)

    def set_model_tag(self, name: str, key: str, value: Any, user: str | None) -> None:
        check_key(key, "tag")
        text = check_tag_value(key, value)
        state = self.load(name)
        ev = {"type": "model_tag_set", "key": key, "from": state.tags.get(key), "to": text}
        self._event(state, ev, user)

    def delete_model_tag(self, name: str, key: str, user: str | None) -> None:
        check_key(key, "tag")
        state = self.load(name)
        if key not in state.tags:
            raise ModelNotFoundError(
                f"registered model {name!r} has no tag {key!r}; its tags: {sorted(state.tags)}"
            )
        self._event(state, {"type": "model_tag_deleted", "key": key, "from": state.tags[key]}, user)

    def set_version_tag(
        self, name: str, version: int, key: str, value: Any, user: str | None
    ) -> None:
        check_key(key, "tag")
        text = check_tag_value(key, value)
        state = self.load(name)
        old = self.version(state, version).tags.get(key)
        ev = {"type": "version_tag_set", "version": version, "key": key, "from": old, "to": text}
        self._event(state, ev, user)

    def delete_version_tag(self, name: str, version: int, key: str, user: str | None) -> None:
        check_key(key, "tag")
        state = self.load(name)
        tags = self.version(state, version).tags
        if key not in tags:
            raise ModelNotFoundError(
                f"version {version} of model {name!r} has no tag {key!r}; its tags: {sorted(tags)}"
            )
        ev = {"type": "version_tag_deleted", "version": version, "key": key, "from": tags[key]}
        self._event(state, ev, user)

    def set_model_description(self, name: str, description: str, user: str | None) -> None:
        check_description(description)
        state = self.load(name)
        ev = {"type": "model_description_set", "from": state.description, "to": description}
        self._event(state, ev, user)

    def set_version_description(
        self, name: str, version: int, description: str, user: str | None
    ) -> None:
        check_description(description)
        state = self.load(name)
        old = self.version(state, version).description
        ev = {"type": "version_description_set", "version": version, "from": old, "to": description}
        self._event(state, ev, user)

    def delete_version(
        self, name: str, version: int, user: str | None, *, force: bool, comment: str | None
    ) -> None:
        comment = check_comment(comment)
        state = self.load(name)
        aliases = self.version(state, version).aliases
        if aliases and not force:
            raise InvalidValueError(
                f"version {version} of model {name!r} is still the target of alias(es)"
                f" {', '.join(aliases)}; move or delete them first, or pass force=True"
                " (--force) to delete the aliases with it"
            )
        ev = {"type": "version_deleted", "version": version, "from": ",".join(aliases) or None}
        self._event(state, {**ev, "comment": comment}, user)

    def delete_model(
        self, name: str, user: str | None, *, force: bool, comment: str | None
    ) -> None:
        comment = check_comment(comment)
        state = self.load(name)
        if state.aliases and not force:
            shown = ", ".join(f"{a} -> {v}" for a, v in sorted(state.aliases.items()))
            raise InvalidValueError(
                f"registered model {name!r} still has aliases ({shown}); delete them first, or"
                " pass force=True (--force) to delete the model with its aliases"
            )
        ev = {
            "type": "model_deleted",
            "through_version": max(state.records, default=0),
            "from": ",".join(str(v) for v in state.live_versions()) or None,
            "comment": comment,
        }
        self._event(state, ev, user)


def _versions_text(versions: list[int]) -> str:
    return ", ".join(str(v) for v in versions) if versions else "none"


_stores: weakref.WeakKeyDictionary[RegistryBackend, RegistryStore] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def registry_store(backend: RegistryBackend) -> RegistryStore:
    """The RegistryStore (and its Lamport clock) of `backend`, one per backend object."""
    with _stores_lock:
        registry = _stores.get(backend)
        if registry is None:
            registry = _stores[backend] = RegistryStore(backend)
        return registry
