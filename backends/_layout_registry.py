"""The model registry's objects in the layout of an `ObjectStore`, next to the runs.

The layout (keys relative to the store's root)::

    registry/models/<seg>/model.json                   name, created_at, creator
    registry/models/<seg>/versions/<n:010d>.json       one version: source, lineage, ...
    registry/models/<seg>/events/<id>.json             one change: alias, tag, description,
                                                       deletion (who, when, from, to, comment)

`<seg>` is a readable slug of the name plus 16 hex digits of its sha256
(`churn-model-3f2a...`): any valid name maps to a key segment of lowercase
letters, digits and '-', never too long, the same on a case-insensitive disk.

Nothing is edited or deleted. `model.json` and each event are written
create-if-absent. A new version takes number max+1 with create-if-absent and
retries on conflict, so two processes never get the same number. Objects are
immutable, so each backend caches what it has read.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from autolog.backends._objects import ObjectNotFound, ObjectStore
from autolog.backends.base import RegistryBackend, StoredModel
from autolog.errors import InvalidKeyError, ModelNotFoundError, StoreError

__all__ = ["PREFIX", "LayoutRegistry", "encode_name"]

PREFIX = "registry/models"
_CREATE_ATTEMPTS = 100
_CACHE_LIMIT = 200_000
_EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def encode_name(name: str) -> str:
    """The key segment of a registered model name: a slug plus a hash of the exact name."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48].strip("-") or "model"
    return f"{slug}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:16]}"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _version_key(prefix: str, version: int) -> str:
    return f"{prefix}/versions/{version:010d}.json"


class LayoutRegistry(RegistryBackend):
    """`RegistryBackend` over the `store` of a layout backend (mixed into `LayoutBackend`)."""

    store: ObjectStore
    #: Registry objects read so far, by key (they never change); set up by `LayoutBackend`.
    _registry_cache: dict[str, dict[str, Any]]

    def _registry_object(self, key: str) -> dict[str, Any]:
        cache = self._registry_cache
        data = cache.get(key)
        if data is None:
            try:
                data = json.loads(self.store.get(key))
            except ValueError as exc:
                raise StoreError(
                    f"registry object {key!r} in {self.store.uri} is corrupt: {exc}"
                ) from exc
            if not isinstance(data, dict):
                raise StoreError(f"registry object {key!r} in {self.store.uri} is not an object")
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[key] = data
        return data

    def _stored(self, prefix: str, keys: list[str]) -> StoredModel:
        """Read the objects of the model at `prefix` whose keys one listing gave."""
        meta = self._registry_object(f"{prefix}/model.json")
        versions = {
            int(v["version"]): v
            for v in (self._registry_object(k) for k in keys if k.startswith(f"{prefix}/versions/"))
        }
        events = [self._registry_object(k) for k in keys if k.startswith(f"{prefix}/events/")]
        for ev in events:
            v = ev.get("version")
            if isinstance(v, int) and v not in versions:
                # Listed before the version object appeared (listings are not atomic).
                try:
                    versions[v] = self._registry_object(_version_key(prefix, v))
                except ObjectNotFound:
                    continue
        return StoredModel(meta, [versions[v] for v in sorted(versions)], events)

    def create_registered_model(self, name: str, meta: dict[str, Any]) -> bool:
        prefix = f"{PREFIX}/{encode_name(name)}"
        return self.store.put_if_absent(f"{prefix}/model.json", _dumps({**meta, "name": name}))

    def create_model_version(self, name: str, record: dict[str, Any]) -> int:
        prefix = f"{PREFIX}/{encode_name(name)}"
        tried = 0
        for _ in range(_CREATE_ATTEMPTS):
            keys = self.store.list(prefix)
            if f"{prefix}/model.json" not in keys:
                raise ModelNotFoundError(
                    f"no registered model named {name!r} in {self.store.uri}; create it first"
                )
            listed = [
                int(k.rsplit("/", 1)[1].split(".")[0])
                for k in keys
                if k.startswith(f"{prefix}/versions/")
            ]
            n = max([*listed, tried, 0]) + 1
            if self.store.put_if_absent(_version_key(prefix, n), _dumps({**record, "version": n})):
                return n
            tried = n
        raise StoreError(
            f"could not create a version of model {name!r} in {self.store.uri} after"
            f" {_CREATE_ATTEMPTS} attempts; too many processes are registering at once"
        )

    def append_model_event(self, name: str, event: dict[str, Any]) -> bool:
        event_id = event.get("id")
        if not isinstance(event_id, str) or not _EVENT_ID_RE.match(event_id):
            raise InvalidKeyError(
                f"event id {event_id!r} of model {name!r} is not allowed; use 1 to 128 letters,"
                " digits, '-' or '_' that sort in time order"
            )
        key = f"{PREFIX}/{encode_name(name)}/events/{event_id}.json"
        return self.store.put_if_absent(key, _dumps(event))

    def read_registered_model(self, name: str) -> StoredModel | None:
        prefix = f"{PREFIX}/{encode_name(name)}"
        keys = self.store.list(prefix)
        if f"{prefix}/model.json" not in keys:
            return None
        return self._stored(prefix, keys)

    def list_registered_models(self) -> list[StoredModel]:
        groups: dict[str, list[str]] = {}
        for key in self.store.list(PREFIX):
            groups.setdefault(key[len(PREFIX) + 1 :].split("/", 1)[0], []).append(key)
        out = []
        for seg, keys in groups.items():
            prefix = f"{PREFIX}/{seg}"
            if f"{prefix}/model.json" not in keys:
                continue
            name = self._registry_object(f"{prefix}/model.json").get("name")
            if not isinstance(name, str) or encode_name(name) != seg:
                continue  # not written by the registry
            out.append(self._stored(prefix, keys))
        return out
