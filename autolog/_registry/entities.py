"""Result types of the model registry, and the fold of stored objects that produces them."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ModelEvent", "ModelState", "ModelVersion", "RegisteredModel"]


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model. Times are milliseconds since the epoch.

    `lineage` is captured when the version is registered and never changes: the
    source run and experiment, the run's git commit, data fingerprints, the model's
    flavors and library versions, and the run's metrics at that moment.
    """

    name: str
    version: int
    source: str
    run_id: str
    artifact_path: str
    created_at: int
    creator: str | None
    aliases: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""
    lineage: dict[str, Any] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        """The URI that loads this version: `models:/<name>/<version>`."""
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "run_id": self.run_id,
            "artifact_path": self.artifact_path,
            "created_at": self.created_at,
            "creator": self.creator,
            "aliases": list(self.aliases),
            "tags": dict(self.tags),
            "description": self.description,
            "lineage": dict(self.lineage),
        }


@dataclass(frozen=True)
class RegisteredModel:
    """A named model and the current state of its versions, aliases, tags and description."""

    name: str
    created_at: int
    creator: str | None
    updated_at: int
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: list[int] = field(default_factory=list)

    @property
    def latest_version(self) -> int | None:
        """The highest version not deleted, or None when there is none."""
        return self.versions[-1] if self.versions else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "created_at": self.created_at,
            "creator": self.creator,
            "updated_at": self.updated_at,
            "description": self.description,
            "tags": dict(self.tags),
            "aliases": dict(self.aliases),
            "versions": list(self.versions),
            "latest_version": self.latest_version,
        }


@dataclass(frozen=True)
class ModelEvent:
    """One entry of a registered model's append-only history.

    `type` is one of: model_created, version_created, alias_set, alias_moved,
    alias_deleted, model_tag_set, model_tag_deleted, version_tag_set,
    version_tag_deleted, model_description_set, version_description_set,
    version_deleted, model_deleted. `old_value` and `new_value` are what the
    alias, tag or description was before and after (versions as strings).
    """

    name: str
    type: str
    time: int
    user: str | None
    version: int | None = None
    key: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    comment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "time": self.time,
            "user": self.user,
            "version": self.version,
            "key": self.key,
            "old_value": self.old_value,
            "new_value": self.new_value,
            "comment": self.comment,
        }


@dataclass
class ModelState:
    """A registered model as the fold of its stored objects, before it becomes a result."""

    name: str
    created_at: int
    creator: str | None
    first_created_at: int
    first_creator: str | None
    first_created_ns: int
    deleted: bool = False
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    deleted_versions: dict[int, dict[str, Any]] = field(default_factory=dict)
    version_tags: dict[int, dict[str, str]] = field(default_factory=dict)
    version_descriptions: dict[int, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    last_ns: int = 0

    def add_record(self, record: dict[str, Any]) -> None:
        n = int(record["version"])
        self.records[n] = record
        self.version_tags[n] = dict(record.get("tags") or {})
        self.version_descriptions[n] = str(record.get("description") or "")
        self.last_ns = max(self.last_ns, int(record["created_ns"]))

    def live(self, version: int) -> bool:
        return version in self.records and version not in self.deleted_versions

    def live_versions(self) -> list[int]:
        return sorted(v for v in self.records if v not in self.deleted_versions)

    def apply(self, ev: dict[str, Any]) -> None:
        self.events.append(ev)
        self.last_ns = max(self.last_ns, int(ev["ns"]))
        kind, key, v = ev["type"], ev.get("key"), ev.get("version")
        # A change aimed at a version deleted before it (a race) is void.
        if v is not None and not self.live(v) and kind != "version_deleted":
            return
        if kind in ("alias_set", "alias_moved") and key is not None and v is not None:
            self.aliases[key] = v
        elif kind == "alias_deleted" and key is not None:
            self.aliases.pop(key, None)
        elif kind == "model_tag_set" and key is not None:
            self.tags[key] = str(ev.get("to"))
        elif kind == "model_tag_deleted" and key is not None:
            self.tags.pop(key, None)
        elif kind == "version_tag_set" and key is not None and v is not None:
            self.version_tags[v][key] = str(ev.get("to"))
        elif kind == "version_tag_deleted" and key is not None and v is not None:
            self.version_tags[v].pop(key, None)
        elif kind == "model_description_set":
            self.description = str(ev.get("to") or "")
        elif kind == "version_description_set" and v is not None:
            self.version_descriptions[v] = str(ev.get("to") or "")
        elif kind == "version_deleted" and v is not None:
            self._delete_version(v, ev)
        elif kind == "model_deleted":
            through = int(ev.get("through_version") or 0)
            for n in list(self.records):
                if n <= through:
                    self._delete_version(n, ev)
            self.deleted = True
            self.aliases.clear()
            self.tags.clear()
            self.description = ""
        elif kind == "model_created":
            self.deleted = False
            self.created_at = int(ev["time"])
            self.creator = ev.get("user")
        # Unknown kinds come from newer versions of autolog: skipped, not fatal.

    def _delete_version(self, v: int, ev: dict[str, Any]) -> None:
        self.deleted_versions.setdefault(v, ev)
        for alias in [a for a, n in self.aliases.items() if n == v]:
            del self.aliases[alias]

    def updated_at(self) -> int:
        times = [self.created_at]
        times += [int(r["created_at"]) for r in self.records.values()]
        times += [int(e["time"]) for e in self.events]
        return max(times)

    def to_model(self) -> RegisteredModel:
        return RegisteredModel(
            name=self.name,
            created_at=self.created_at,
            creator=self.creator,
            updated_at=self.updated_at(),
            description=self.description,
            tags=dict(self.tags),
            aliases=dict(sorted(self.aliases.items())),
            versions=self.live_versions(),
        )

    def to_version(self, v: int) -> ModelVersion:
        r = self.records[v]
        return ModelVersion(
            name=self.name,
            version=v,
            source=r["source"],
            run_id=r["run_id"],
            artifact_path=r["artifact_path"],
            created_at=int(r["created_at"]),
            creator=r.get("creator"),
            aliases=sorted(a for a, n in self.aliases.items() if n == v),
            tags=dict(self.version_tags[v]),
            description=self.version_descriptions[v],
            lineage=copy.deepcopy(r.get("lineage") or {}),  # records are cached: hand out copies
        )

    def history(self) -> list[ModelEvent]:
        # model.json records the first creation; a re-creation after a delete is an event.
        first = ModelEvent(self.name, "model_created", self.first_created_at, self.first_creator)
        items: list[tuple[int, str, ModelEvent]] = [(self.first_created_ns, "", first)]
        for v, r in self.records.items():
            ev = ModelEvent(
                self.name,
                "version_created",
                int(r["created_at"]),
                r.get("creator"),
                v,
                new_value=r["source"],
            )
            items.append((int(r["created_ns"]), f"v{v:010d}", ev))
        for e in self.events:
            old, new = e.get("from"), e.get("to")
            ev = ModelEvent(
                self.name,
                e["type"],
                int(e["time"]),
                e.get("user"),
                e.get("version"),
                e.get("key"),
                None if old is None else str(old),
                None if new is None else str(new),
                e.get("comment"),
            )
            items.append((int(e["ns"]), e["id"], ev))
        items.sort(key=lambda item: (item[0], item[1]))
        return [item[2] for item in items]
