"""The backend contract: what every store of runs implements.

A backend stores batches; it knows nothing of scikit-learn or of the active
run. The run API (`autolog._tracking.runs`) turns log calls into `Batch` objects and the
background writer hands them over here. Backends are chosen by URI scheme in
`autolog.backends` (the package's `__init__`).
"""

from __future__ import annotations

import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from autolog._entities import Experiment, FileInfo, Metric, Run
from autolog._search import Order, Query, parse_orders
from autolog.backends._objects import Progress
from autolog.errors import ArtifactNotFoundError, InvalidValueError

__all__ = [
    "Backend",
    "Batch",
    "RegistryBackend",
    "RunMeta",
    "RunPage",
    "StoredModel",
    "check_max_results",
]


def check_max_results(max_results: object) -> int:
    """`max_results` of `Backend.search_runs` if it is a positive int, else InvalidValueError."""
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidValueError(
            f"max_results={max_results!r} is not allowed; pass a positive int such as 100"
        )
    return max_results


@dataclass(frozen=True)
class RunMeta:
    """What is fixed when a run is created.

    `experiment_name` names the run's experiment: a backend whose
    `local_experiment_id` gave the id without asking the store creates the
    experiment, if it is not there yet, when it writes the run's creation.
    """

    id: str
    name: str
    experiment_id: str
    start_time: int
    parent_id: str | None = None
    experiment_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        """What a store keeps of it (the experiment by id)."""
        return {
            "id": self.id,
            "name": self.name,
            "experiment_id": self.experiment_id,
            "start_time": self.start_time,
            "parent_id": self.parent_id,
        }


@dataclass
class Batch:
    """Everything logged to one run since the last flush.

    `metrics` maps a key to its points as `(value, step, timestamp)` tuples.
    """

    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, list[tuple[float, int, int]]] = field(default_factory=dict)
    status: str | None = None
    end_time: int | None = None

    def is_empty(self) -> bool:
        return not (self.params or self.tags or self.metrics or self.status)

    def prepend(self, earlier: Batch) -> None:
        """Fold into this batch a batch logged before it, as if it had been written first."""
        params = dict(earlier.params)
        for key, value in self.params.items():
            params.setdefault(key, value)  # params: the first value wins
        self.params = params
        self.tags = {**earlier.tags, **self.tags}  # tags: the last value wins
        for key, points in earlier.metrics.items():
            self.metrics[key] = [*points, *self.metrics.get(key, [])]
        if self.status is None and earlier.status is not None:
            self.status, self.end_time = earlier.status, earlier.end_time

    def followed_by(self, later: Batch) -> Batch:
        """A new batch: this one, then `later` (neither is changed)."""
        out = Batch(dict(later.params), dict(later.tags), dict(later.metrics))
        out.status, out.end_time = later.status, later.end_time
        out.prepend(self)
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.params:
            out["params"] = self.params
        if self.tags:
            out["tags"] = self.tags
        if self.metrics:
            out["metrics"] = {k: [list(p) for p in v] for k, v in self.metrics.items()}
        if self.status is not None:
            out["status"] = self.status
        if self.end_time is not None:
            out["end_time"] = self.end_time
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Batch:
        return cls(
            params=dict(data.get("params", {})),
            tags=dict(data.get("tags", {})),
            metrics={
                k: [(float(p[0]), int(p[1]), int(p[2])) for p in v]
                for k, v in data.get("metrics", {}).items()
            },
            status=data.get("status"),
            end_time=data.get("end_time"),
        )


@dataclass
class RunPage:
    """One page of a search: the runs, and the token that asks for the next page.

    The token is opaque to the caller and None on the last page.
    """

    runs: list[Run]
    next_page_token: str | None = None


class Backend(ABC):
    """Where runs, metrics and artifacts are stored. Usable as a context manager."""

    uri: str = ""
    #: True when the store is on this machine (see `ObjectStore.local`): artifact files are
    #: then written in the caller's thread; for a remote store they are queued.
    local: bool = False

    # experiments
    @abstractmethod
    def get_or_create_experiment(self, name: str) -> Experiment:
        """Return the experiment called `name`, creating it if needed (safe under races)."""

    @abstractmethod
    def get_experiment(self, name_or_id: str) -> Experiment:
        """Return an experiment by name or id; raise ExperimentNotFoundError."""

    @abstractmethod
    def list_experiments(self) -> list[Experiment]:
        """Return every experiment, oldest first."""

    def local_experiment_id(self, name: str) -> str | None:
        """The id experiment `name` has or will have, if known without a request; else None.

        A backend that returns an id creates the experiment in `create_run` when a
        run's `RunMeta.experiment_name` names it, so that starting a run never waits
        for (or fails with) the store. None makes `start_run` call
        `get_or_create_experiment` first.
        """
        return None

    # runs
    @abstractmethod
    def create_run(self, meta: RunMeta) -> None:
        """Record a new run."""

    @abstractmethod
    def write_batch(self, run_id: str, batch: Batch) -> None:
        """Store one batch of params, tags, metric points and status for a run."""

    def finish_run(self, run_id: str) -> None:  # noqa: B027 - an optional hook, empty by default
        """Tell the backend a run reached a terminal status (a chance to compact it)."""

    #: True when `write_run` stores a whole run in fewer writes than its parts take: the
    #: writer then hands it each run whose creation and end it has queued together (a fit).
    whole_runs: bool = False

    def write_run(
        self,
        meta: RunMeta,
        batch: Batch,
        *,
        artifacts: Mapping[str, bytes],
        records: Mapping[str, bytes],
        shared: Mapping[str, bytes],
    ) -> None:
        """Store a whole run at once: its creation, its artifact files, one batch holding
        everything it logged and its final status; then finish it. `records` are artifacts
        too, autologging's small records (importances, a data fingerprint, plot data),
        which a backend may keep with the run rather than as files of their own; `shared`
        go as `put_shared_artifacts` takes them. Called again with the same arguments
        after a failure.

        This default makes the calls one by one; a backend with `whole_runs` does it in fewer
        writes.
        """
        self.create_run(meta)
        if shared:
            self.put_shared_artifacts(meta.id, shared)
        for path, data in {**artifacts, **records}.items():
            self.put_artifact(meta.id, path, data)
        self.write_batch(meta.id, batch)
        self.finish_run(meta.id)

    @abstractmethod
    def get_run(self, run_id: str) -> Run:
        """Return a run; raise RunNotFoundError."""

    @abstractmethod
    def list_runs(self, experiment_ids: list[str] | None = None) -> list[Run]:
        """Return the runs of the given experiments (all when None)."""

    @abstractmethod
    def search_runs(
        self,
        experiment_ids: list[str] | None,
        query: Query,
        order_by: Sequence[Order],
        max_results: int,
        page_token: str | None = None,
    ) -> RunPage:
        """Return one page of the runs of the experiments (all when None) matching `query`.

        Runs come sorted by `order_by` (as `autolog._search.sort_runs` sorts them), at most
        `max_results` (a positive int) of them. `page_token` is the `next_page_token` of the
        previous page of the same search, None for the first; a token this backend did not
        give for this search raises InvalidValueError. Paging through a store that does not
        change returns every matching run once.
        """

    def count_runs(self, experiment_ids: list[str] | None, query: Query) -> dict[str, int]:
        """The number of runs matching `query` in each experiment (all when None) having any.

        This default pages through `search_runs`; a backend with an index counts there.
        """
        counts: dict[str, int] = {}
        orders = parse_orders(None)
        token: str | None = None
        while True:
            page = self.search_runs(experiment_ids, query, orders, 1000, token)
            for run in page.runs:
                counts[run.experiment_id] = counts.get(run.experiment_id, 0) + 1
            token = page.next_page_token
            if token is None:
                return counts

    @abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Return every point of a metric in step order."""

    # artifacts
    @abstractmethod
    def put_artifact(self, run_id: str, path: str, data: bytes) -> None:
        """Store `data` as the artifact at `path` (already validated) of a run."""

    def put_shared_artifacts(self, run_id: str, files: Mapping[str, bytes]) -> None:
        """Store each of `files` (path: bytes) as an artifact of a run: bytes that other runs
        are likely to store too (the requirements, the script), so a backend may keep one
        copy for all.

        This default stores them as `put_artifact` does.
        """
        for path, data in files.items():
            self.put_artifact(run_id, path, data)

    @abstractmethod
    def put_artifact_file(self, run_id: str, path: str, local: Path) -> None:
        """Store the local file `local` as the artifact at `path` of a run."""

    @abstractmethod
    def list_artifacts(self, run_id: str, path: str = "") -> list[FileInfo]:
        """Return the entries directly under `path` of a run's artifacts."""

    @abstractmethod
    def download_artifacts(
        self, run_id: str, path: str, dst: Path, progress: Progress | None = None
    ) -> Path:
        """Copy the artifact file or directory at `path` to `dst/path`; return that path.

        `progress`, if given, is called with the number of bytes copied since its last call.
        """

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """Return the bytes of the artifact file at `path` of a run; ArtifactNotFoundError if none.

        This default downloads the file; backends that can read it directly override it.
        """
        with tempfile.TemporaryDirectory(prefix="autolog-") as tmp:
            local = self.download_artifacts(run_id, path, Path(tmp))
            if not local.is_file():
                raise ArtifactNotFoundError(
                    f"artifact {path!r} of run {run_id} is a directory; name a file in it"
                    f" (see `autolog artifacts {run_id}`)"
                )
            return local.read_bytes()

    def close(self) -> None:  # noqa: B027 - backends without connections need nothing
        """Release connections."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass
class StoredModel:
    """Everything stored for one registered model, as `RegistryBackend` reads it.

    `meta` holds the model's name, `created_at` (ms), `created_ns` and `creator`;
    `versions` the version records by number, each with its `version`; `events` the
    events in the order of their `id`. The model registry folds these into its state.
    """

    meta: dict[str, Any]
    versions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


class RegistryBackend(ABC):
    """The storage operations of the model registry, beside `Backend`.

    A backend that implements them gives its tracking URI a model registry
    (`autolog._registry` folds what they store); one that does not, has none.
    Models are named by their exact name. Every object is a JSON-serializable dict,
    written once and never changed: the registry's changes are appended events.
    """

    uri: str = ""

    @abstractmethod
    def create_registered_model(self, name: str, meta: dict[str, Any]) -> bool:
        """Store `meta` as model `name` unless it exists; return whether it was written."""

    @abstractmethod
    def create_model_version(self, name: str, record: dict[str, Any]) -> int:
        """Store `record` as the next version of model `name`; return its number.

        The number is one above the highest ever taken (numbers are never reused), and
        two writers racing, in threads or processes, never get the same one. The version
        is stored as `{**record, "version": number}`. Raises ModelNotFoundError when model
        `name` was never created.
        """

    @abstractmethod
    def append_model_event(self, name: str, event: dict[str, Any]) -> bool:
        """Store `event` of model `name` unless an event with its `id` exists; return whether.

        An event's `id` (letters, digits, '-' and '_') orders the events: readers fold
        them in `id` order.
        """

    @abstractmethod
    def read_registered_model(self, name: str) -> StoredModel | None:
        """Everything stored for model `name`, or None when it was never created."""

    @abstractmethod
    def list_registered_models(self) -> list[StoredModel]:
        """Everything stored for every registered model (deleted ones too), in any order."""
