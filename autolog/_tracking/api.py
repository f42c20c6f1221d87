"""The module-level functions of the public API.

Log calls go to the active run of the calling thread, starting one if there is
none (it ends FINISHED at exit). Read calls first flush what this process has
queued, so a process always reads its own writes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from autolog import _search
from autolog._entities import Experiment, FileInfo, Metric, Run, RunStatus
from autolog._tracking import runs as _runs
from autolog._tracking import system_metrics as _system_metrics
from autolog._tracking.context import disabled_names
from autolog._tracking.runs import _stack, require_run
from autolog._tracking.settings import tracking
from autolog._validation import check_id, check_key, check_name, check_relative_path
from autolog.backends._objects import Progress
from autolog.errors import InvalidValueError, StoreError

__all__ = [
    "configure",
    "download_artifacts",
    "flush",
    "get_experiment",
    "get_metric_history",
    "get_run",
    "get_tracking_uri",
    "last_run",
    "list_artifacts",
    "list_experiments",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
]

_RUNNING = RunStatus.RUNNING
_STATUS = _search.Field("attribute", "status", "status")
# Runs asked of the backend at a time. Large, because the layout backend reads every run
# for each page; a server pages on its side.
_PAGE_SIZE = 50_000


def configure(
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    sync: bool | None = None,
    flush_interval: float | None = None,
    disable_capture: Sequence[str] | None = None,
    system_metrics: bool | float | None = None,
) -> None:
    """Change settings for runs started from now on; None leaves a setting as it is.

    Args:
        tracking_uri: where runs go: a path, `file:`, `memory:`, `s3://` or `http(s)://`.
        experiment: the experiment of new runs.
        sync: write every log call before it returns (slower; default False).
        flush_interval: seconds between background flushes (default 1.0).
        disable_capture: captures to skip: any of "git", "source", "packages", "system", or
            "all" (as the AUTOLOG_DISABLE_CAPTURE variable: a list or "git,packages").
        system_metrics: seconds between `system/...` samples (True: every 10 s; False: off).
    """
    interval = None if system_metrics is None else _system_metrics.check_setting(system_metrics)
    settings = tracking.settings
    if flush_interval is not None and (
        isinstance(flush_interval, bool)
        or not isinstance(flush_interval, (int, float))
        or not 0 < flush_interval < float("inf")
    ):
        raise InvalidValueError(
            f"flush_interval={flush_interval!r}; expected a positive number of seconds"
        )
    if disable_capture is not None:
        settings.disable_capture = disabled_names(disable_capture, "disable_capture")
    if tracking_uri is not None:
        set_tracking_uri(tracking_uri)
    if experiment is not None:
        settings.experiment = check_name(experiment, "experiment name")
    if sync is not None:
        settings.sync = bool(sync)
        for writer in tracking.all_writers():
            writer.flush()
            writer.sync = bool(sync)
    if interval is not None:
        settings.system_metrics = interval
    if flush_interval is not None:
        settings.flush_interval = float(flush_interval)
        for writer in tracking.all_writers():
            writer.flush_interval = float(flush_interval)


def set_tracking_uri(uri: str | Path) -> None:
    """Send new runs to `uri` (a path, `file:`, `memory:`, `s3://...` or `http(s)://...`)."""
    text = str(uri) if isinstance(uri, Path) else uri
    if not isinstance(text, str) or not text.strip():
        raise InvalidValueError(
            f"tracking URI {uri!r} is not a path or URI; use a path such as './autolog-runs'"
        )
    tracking.backend(text)  # fails now, with the list of schemes, if nothing handles it
    tracking.settings.tracking_uri = text


def get_tracking_uri() -> str:
    """The URI new runs go to."""
    return tracking.settings.resolved_uri()


def set_experiment(name: str) -> Experiment:
    """Make `name` the experiment of new runs, creating it if needed."""
    check_name(name, "experiment name")
    experiment = tracking.backend().get_or_create_experiment(name)
    tracking.settings.experiment = name
    return experiment


def get_experiment(name_or_id: str) -> Experiment:
    """Return an experiment by name or id."""
    check_name(name_or_id, "experiment name")
    tracking.flush()  # start_run queues the creation of its experiment
    return tracking.backend().get_experiment(name_or_id)


def list_experiments() -> list[Experiment]:
    """Every experiment in the store, oldest first."""
    tracking.flush()
    return tracking.backend().list_experiments()


def log_param(key: str, value: Any) -> None:
    """Record a param of the active run. Params are immutable once logged."""
    require_run().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Record several params of the active run."""
    require_run().log_params(params)


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    """Record one point of a metric of the active run (timestamp in epoch milliseconds)."""
    # Called once per point in training loops: the common case skips require_run().
    stack = _stack.get()
    if stack and stack[-1].status is _RUNNING:
        stack[-1].log_metric(key, value, step, timestamp)
    else:
        require_run().log_metric(key, value, step, timestamp)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
) -> None:
    """Record one point of each metric of the active run."""
    require_run().log_metrics(metrics, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    """Set a tag of the active run."""
    require_run().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags of the active run."""
    require_run().set_tags(tags)


def log_artifact(local_path: str | Path, artifact_path: str | None = None) -> None:
    """Copy a local file into the active run's artifacts (under `artifact_path` if given)."""
    require_run().log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | Path, artifact_path: str | None = None) -> None:
    """Copy a local directory's files into the active run's artifacts."""
    require_run().log_artifacts(local_dir, artifact_path)


def log_dict(data: Any, artifact_file: str) -> None:
    """Store a JSON-serializable value as an artifact of the active run."""
    require_run().log_dict(data, artifact_file)


def log_text(text: str, artifact_file: str) -> None:
    """Store a string as a UTF-8 artifact of the active run."""
    require_run().log_text(text, artifact_file)


def flush(timeout: float | None = None) -> None:
    """Write everything queued so far; raise StoreError if it could not be written in time.

    What could not be written stays queued and is retried in the background.
    """
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0
    ):
        raise InvalidValueError(f"flush timeout={timeout!r}; expected None or seconds >= 0")
    ok = tracking.flush(timeout)
    errors = [e for writer in tracking.all_writers() for e in writer.take_errors()]
    if not ok:
        if errors:
            why = f"the store failed: {errors[-1]}"
        else:
            why = "the store failed" if timeout is None else f"it took over {timeout} s"
        raise StoreError(
            f"autolog could not write everything to {get_tracking_uri()}: {why}. The data is"
            " kept in memory and retried in the background; call flush() again later"
        ) from (errors[-1] if errors else None)
    from autolog._safety import is_strict

    if errors and is_strict():
        raise StoreError(f"a background write failed: {errors[0]}") from errors[0]


def get_run(run_id: str) -> Run:
    """Return the stored state of a run."""
    check_id(run_id)
    tracking.flush()
    return tracking.backend().get_run(run_id)


def last_run() -> Run | None:
    """The last run this process ended, or None."""
    run_id = _runs.last_finished_id()
    return get_run(run_id) if run_id else None


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    """Every point of a metric of a run, in step order."""
    check_id(run_id)
    check_key(key)
    tracking.flush()
    return tracking.backend().get_metric_history(run_id, key)


def search_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str | None = None,
    order_by: Sequence[str] | str | None = None,
    max_results: int | None = None,
    status: RunStatus | str | None = None,
) -> list[Run]:
    """Runs matching `filter`, sorted by `order_by` (newest first by default).

    Args:
        experiment: an experiment name, or several; all experiments when None.
        filter: e.g. "metrics.rmse < 0.5 and params.alpha = '0.1'" (see docs/search.md).
        order_by: e.g. ["metrics.rmse ASC", "start_time DESC"].
        max_results: at most this many runs.
        status: only runs with this status.
    """
    if max_results is not None and (
        isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1
    ):
        raise InvalidValueError(
            f"max_results={max_results!r} is not allowed; pass a positive int such as 100,"
            " or None to return every matching run"
        )
    orders = _search.parse_orders(order_by)
    query, experiment_ids = _search_scope(experiment, filter, status)
    backend = tracking.backend()
    runs: list[Run] = []
    token: str | None = None
    while max_results is None or len(runs) < max_results:
        want = _PAGE_SIZE if max_results is None else min(_PAGE_SIZE, max_results - len(runs))
        page = backend.search_runs(experiment_ids, query, orders, want, token)
        runs.extend(page.runs)
        token = page.next_page_token
        if token is None:
            break
    return runs


def count_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str | None = None,
    status: RunStatus | str | None = None,
) -> dict[str, int]:
    """The number of runs matching `filter` in each experiment that has any, by experiment id.

    The arguments are those of `search_runs`.
    """
    query, experiment_ids = _search_scope(experiment, filter, status)
    return tracking.backend().count_runs(experiment_ids, query)


def _search_scope(
    experiment: str | Sequence[str] | None,
    filter: str | None,
    status: RunStatus | str | None,
) -> tuple[_search.Query, list[str] | None]:
    """The query and experiment ids of a search's arguments (after a flush)."""
    query = _search.parse_query(filter)
    if status is not None:
        wanted = str(status).upper()
        if wanted not in RunStatus.__members__:
            raise InvalidValueError(
                f"status {status!r} is not a run status; use one of {list(RunStatus.__members__)}"
            )
        query = _search.Query((*query.clauses, _search.Clause(_STATUS, "=", (wanted,))))
    tracking.flush()
    backend = tracking.backend()
    experiment_ids: list[str] | None = None
    if experiment is not None:
        if not isinstance(experiment, (str, list, tuple)):
            raise InvalidValueError(
                f"experiment={experiment!r}; expected an experiment name or a list of names"
            )
        names = [experiment] if isinstance(experiment, str) else list(experiment)
        experiment_ids = [
            backend.get_experiment(check_name(n, "experiment name")).id for n in names
        ]
    return query, experiment_ids


def list_artifacts(run_id: str, path: str = "") -> list[FileInfo]:
    """The files and directories directly under `path` of a run's artifacts."""
    check_id(run_id)
    rel = check_relative_path(path)
    tracking.flush()
    return tracking.backend().list_artifacts(run_id, rel)


def download_artifacts(run_id: str, path: str = "", dst: str | Path | None = None) -> Path:
    """Copy a run's artifact file or directory to `dst` (a new temp dir by default).

    Returns the local path of what was copied (`dst/path`).
    """
    return download_with_progress(run_id, path, dst)


def download_with_progress(
    run_id: str, path: str = "", dst: str | Path | None = None, progress: Progress | None = None
) -> Path:
    """`download_artifacts`, calling `progress` with the bytes copied since its last call."""
    check_id(run_id)
    rel = check_relative_path(path)
    tracking.flush()
    target = Path(dst) if dst is not None else Path(tempfile.mkdtemp(prefix="autolog-"))
    return tracking.backend().download_artifacts(run_id, rel, target, progress)
