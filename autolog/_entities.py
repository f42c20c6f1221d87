"""Plain result types returned by the public API."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from autolog import _tags

__all__ = ["Experiment", "FileInfo", "Metric", "Run", "RunStatus"]


class RunStatus(str, enum.Enum):
    """The life-cycle state of a run."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    def __str__(self) -> str:
        return self.value

    @property
    def is_terminal(self) -> bool:
        return self is not RunStatus.RUNNING


@dataclass(frozen=True)
class Metric:
    """One point of a metric's history. `timestamp` is milliseconds since the epoch."""

    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True)
class Experiment:
    """A named group of runs."""

    id: str
    name: str
    created_at: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FileInfo:
    """One entry of a run's artifact listing; `size` is None for directories."""

    path: str
    is_dir: bool
    size: int | None


@dataclass(frozen=True)
class Run:
    """A snapshot of a run as stored. Times are milliseconds since the epoch."""

    id: str
    name: str
    experiment: str
    experiment_id: str
    status: RunStatus
    start_time: int
    end_time: int | None
    parent_id: str | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def inputs(self) -> list[dict[str, Any]]:
        """The datasets the run used, from its `autolog.input.<name>` tags, training data first.

        Each is `{"name", "role", "hash", "kind", "shape", "artifact"}`: role "train",
        "eval" (evaluated during training) or "test" (scored after it); `artifact` is
        the run's `datasets/<name>.json` holding the whole fingerprint.
        """
        found = []
        for key, value in self.tags.items():
            if not key.startswith(_tags.INPUT_PREFIX):
                continue
            try:
                summary = json.loads(value)
            except ValueError:  # a tag set by hand under autolog's prefix
                summary = None
            if isinstance(summary, dict):
                found.append({"name": key[len(_tags.INPUT_PREFIX) :], **summary})
        order = {"train": 0, "eval": 1, "test": 2}
        return sorted(found, key=lambda d: (order.get(str(d.get("role")), 3), d["name"]))

    @property
    def duration(self) -> float | None:
        """Seconds between start and end, or None while the run is still running."""
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time) / 1000.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "experiment": self.experiment,
            "experiment_id": self.experiment_id,
            "status": self.status.value,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "parent_id": self.parent_id,
            "params": dict(self.params),
            "metrics": dict(self.metrics),
            "tags": dict(self.tags),
        }
