"""The model registry as immutable objects in an `ObjectStore`, next to the runs.

The layout (keys relative to the store's root)::

    registry/models/<seg>/model.json                   name, created_at, creator
    registry/models/<seg>/versions/<n:010d>.json       one version: source, lineage, ...
    registry/models/<seg>/events/<ns:020d>-<rand>.json one change: alias, tag, description,
                                                       deletion (who, when, from, to, comment)

`<seg>` is a readable slug of the name plus 16 hex digits of its sha256
(`churn-model-3f2a...`): any valid name maps to a key segment of lowercase
letters, digits and '-', never too long, the same on a case-insensitive disk.

Nothing is edited or deleted. `model.json` is written create-if-absent. A new
version takes number max+1 with create-if-absent and retries on conflict, so
two processes never get the same number; deleting a version only writes an
event, so numbers are never reused. Everything mutable (aliases, tags,
descriptions, deletions) is the fold of the events in key order. An event key
starts with a nanosecond time that is greater than every event and version the
writer saw when it decided to write (a Lamport clock over wall time), so a
change made after reading another change always sorts after it, whatever the
clocks say; the random suffix breaks ties between truly concurrent changes.
Objects are immutable, so each process caches what it has read.
"""

from __future__ import annotations

import contextlib
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
    encode_name,
)
from autolog._validation import check_key, check_tag_value
from autolog.backends._objects import ObjectNotFound, ObjectStore
from autolog.errors import InvalidValueError, ModelNotFoundError, StoreError

__all__ = ["PREFIX", "RegistryStore", "registry_store"]

PREFIX = "registry/models"
_CREATE_ATTEMPTS = 100
_CACHE_LIMIT = 200_000


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8")


# -- the store ---------------------------------------------------------------------------------


class RegistryStore:
    """Registered models, versions and their history in one ObjectStore.

    Every method that changes something takes the acting `user`, so that a server
    can pass the authenticated user instead of the local one.
    """

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._cache: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._last_ns = 0

    # -- reading -------------------------------------------------------------------------------

    def _read(self, key: str) -> dict[str, Any]:
        data = self._cache.get(key)
        if data is None:
            try:
                data = json.loads(self.store.get(key))
            except ValueError as exc:
                raise StoreError(
                    f"registry object {key!r} in {self.store.uri} is corrupt: {exc}"
                ) from exc
            if not isinstance(data, dict):
                raise StoreError(f"registry object {key!r} in {self.store.uri} is not an object")
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = data
        return data

    def _fold(self, name: str, prefix: str, keys: list[str]) -> ModelState:
        meta = self._read(f"{prefix}/model.json")
        if meta.get("name") != name:
            raise StoreError(
                f"registered model names {name!r} and {meta.get('name')!r} map to the same key"
                f" {prefix!r} in {self.store.uri}; rename one of them"
            )
        created_at, creator, created_ns = (
            int(meta["created_at"]),
            meta.get("creator"),
            int(meta["created_ns"]),
        )
        state = ModelState(
            name, created_at, creator, created_at, creator, created_ns, last_ns=created_ns
        )
        for key in keys:
            if key.startswith(f"{prefix}/versions/"):
                state.add_record(self._read(key))
        for key in keys:
            if key.startswith(f"{prefix}/events/"):
                ev = self._read(key)
                v = ev.get("version")
                if v is not None and v not in state.records:
                    # Listed before the version object appeared (non-atomic listing).
                    with contextlib.suppress(ObjectNotFound):
                        state.add_record(self._read(_version_key(prefix, v)))
                state.apply(ev)
        return state

    def _keys(self, name: str) -> tuple[str, list[str]]:
        prefix = f"{PREFIX}/{encode_name(name)}"
        keys = self.store.list(prefix)
        if f"{prefix}/model.json" not in keys:
            raise ModelNotFoundError(
                f"no registered model named {name!r} in {self.store.uri}; {self._known()}"
            )
        return prefix, keys

    def load(self, name: str, *, include_deleted: bool = False) -> ModelState:
        """The current state of model `name`; ModelNotFoundError if unknown (or deleted)."""
        check_model_name(name)
        state = self._fold(name, *self._keys(name))
        if state.deleted and not include_deleted:
            raise ModelNotFoundError(
                f"registered model {name!r} was deleted; see `autolog models history {name}`,"
                f" or register a new version to re-create it. {self._known()}"
            )
        return state

    def load_all(self) -> list[ModelState]:
        """Every registered model that is not deleted, by name."""
        groups: dict[str, list[str]] = {}
        for key in self.store.list(PREFIX):
            groups.setdefault(key[len(PREFIX) + 1 :].split("/", 1)[0], []).append(key)
        states = []
        for seg, keys in groups.items():
            prefix = f"{PREFIX}/{seg}"
            if f"{prefix}/model.json" not in keys:
                continue
            name = self._read(f"{prefix}/model.json").get("name")
            if not isinstance(name, str) or encode_name(name) != seg:
                continue  # not written by the registry
            state = self._fold(name, prefix, keys)
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
        prefix = f"{PREFIX}/{encode_name(state.name)}"
        for _ in range(_CREATE_ATTEMPTS):
            ns = self._next_ns(state.last_ns)
            event_id = f"{ns:020d}-{uuid.uuid4().hex[:12]}"
            ev = {"id": event_id, "ns": ns, "time": ns // 1_000_000, "user": user, **data}
            ev = {k: v for k, v in ev.items() if v is not None}
            if self.store.put_if_absent(f"{prefix}/events/{event_id}.json", _dumps(ev)):
                state.apply(ev)
                return
        raise StoreError(f"could not write an event of model {state.name!r} in {self.store.uri}")

    def create_version(self, name: str, record: dict[str, Any], user: str | None) -> ModelVersion:
        """Add version max+1 (never reused) holding `record`; create the model if needed."""
        check_model_name(name)
        prefix = f"{PREFIX}/{encode_name(name)}"
        ns = self._next_ns(0)
        meta = {"name": name, "created_at": ns // 1_000_000, "created_ns": ns, "creator": user}
        self.store.put_if_absent(f"{prefix}/model.json", _dumps(meta))
        state = self.load(name, include_deleted=True)
        if state.deleted:
            self._event(state, {"type": "model_created"}, user)
        tried = 0
        for _ in range(_CREATE_ATTEMPTS):
            listed = [
                int(k.rsplit("/", 1)[1].split(".")[0])
                for k in self.store.list(f"{prefix}/versions")
            ]
            n = max([*listed, tried, 0]) + 1
            ns = self._next_ns(state.last_ns)
            data = {
                **record,
                "name": name,
                "version": n,
                "created_at": ns // 1_000_000,
                "created_ns": ns,
                "creator": user,
            }
            encoded = _dumps(data)
            if self.store.put_if_absent(_version_key(prefix, n), encoded):
                # Read back what was written, so the result equals what a reader folds.
                state.add_record(json.loads(encoded))
                return state.to_version(n)
            tried = n
        raise StoreError(
            f"could not create a version of model {name!r} in {self.store.uri} after"
            f" {_CREATE_ATTEMPTS} attempts; too many processes are registering at once"
        )

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


def _version_key(prefix: str, version: int) -> str:
    return f"{prefix}/versions/{version:010d}.json"


def _versions_text(versions: list[int]) -> str:
    return ", ".join(str(v) for v in versions) if versions else "none"


_stores: weakref.WeakKeyDictionary[ObjectStore, RegistryStore] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def registry_store(store: ObjectStore) -> RegistryStore:
    """The RegistryStore (and its cache) of `store`, one per store object."""
    with _stores_lock:
        registry = _stores.get(store)
        if registry is None:
            registry = _stores[store] = RegistryStore(store)
        return registry
