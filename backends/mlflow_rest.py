"""The MLflow REST backend: runs go to an existing MLflow tracking server.

`autolog.backends.http.from_uri` chooses it when the server at an `http(s)://` URI answers
as MLflow's does (`/health` and `/api/2.0/mlflow/experiments/search`) and not as autolog's
(`/api/autolog/v1/health`), so autologged runs, metrics and models appear in a team's
existing MLflow UI.

Writes take the same way as with autolog's server: entries go to the on-disk spool
(`autolog.backends._outbox`) and a sender thread delivers them, here as MLflow's calls:
`experiments/get-by-name` (or `create`), `runs/create`, `runs/log-batch` (within MLflow's
limits per request), `runs/update` for the status, and artifacts PUT through
`/api/2.0/mlflow-artifacts/`. MLflow chooses its own run ids: each run carries autolog's
id in the tag `autolog.run_id`, by which it is found again (a creation sent twice finds
the run made the first time). A batch sent twice adds no point twice: MLflow keeps one
copy of identical points.

Reads (runs, history, artifacts) use MLflow's API; a run's `id` is autolog's id when it
has one, else MLflow's. Search filters and orders are applied here, on all the runs of
the experiments, with autolog's grammar. The model registry is not spoken to here
(MLflow's registry is not autolog's contract): register with MLflow's client.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from autolog import _tags
from autolog._entities import Experiment, FileInfo, Metric, Run, RunStatus
from autolog._search import Order, Query, sort_runs
from autolog._validation import check_id, check_name, check_relative_path
from autolog.backends import _wire as wire
from autolog.backends._http_client import Client, ServerUnreachable
from autolog.backends._layout import experiment_id_for
from autolog.backends._objects import Progress
from autolog.backends._outbox import Outbox, SpooledWrites, Transport, outbox_for, timeout_for
from autolog.backends._spool import Entry
from autolog.backends.base import Backend, Batch, RunMeta, RunPage, check_max_results
from autolog.errors import (
    ArtifactNotFoundError,
    AutologError,
    ExperimentNotFoundError,
    InvalidInputError,
    InvalidValueError,
    NotFoundError,
    RunNotFoundError,
    StoreError,
)

__all__ = ["MlflowRestBackend", "MlflowTransport", "is_mlflow_server"]

logger = logging.getLogger("autolog")

_API = "/api/2.0/mlflow"
_ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
_PROBE_TIMEOUT = (2.0, 5.0)
_BRIEF = (3.0, 5.0)
# MLflow's limits on one runs/log-batch request.
_MAX_METRICS, _MAX_PARAMS, _MAX_TAGS, _MAX_ENTITIES = 1000, 100, 100, 1000
_PARENT_TAG = "mlflow.parentRunId"  # MLflow's name: the parent run's (MLflow) id
_CHUNK = 1024 * 1024


# What each server answered as, once it answered (a server that did not is asked again).
_kinds: dict[str, bool] = {}


def is_mlflow_server(client: Client) -> bool:
    """True when the server answers as MLflow's tracking server and not as autolog's.

    A server that does not answer is taken for autolog's (writes wait in the spool) and
    asked again next time; an answer is remembered for the life of the process.
    """
    known = _kinds.get(client.base)
    if known is not None:
        return known
    try:
        client.call("GET", wire.API_PREFIX + "/health", absolute=True, timeout=_PROBE_TIMEOUT)
        _kinds[client.base] = False
        return False
    except ServerUnreachable:
        return False
    except AutologError:
        pass  # not autolog's server: is it MLflow's?
    try:
        client.call("GET", "/health", absolute=True, timeout=_PROBE_TIMEOUT)
        client.call(
            "GET",
            f"{_API}/experiments/search",
            params={"max_results": "1"},
            absolute=True,
            timeout=_PROBE_TIMEOUT,
        )
    except ServerUnreachable:
        return False
    except AutologError:
        _kinds[client.base] = False
        return False
    _kinds[client.base] = True
    return True


def _mlflow_error(status: int, data: Any, fallback: str) -> AutologError:
    message = fallback
    code = ""
    if isinstance(data, dict):
        message = f"MLflow server: {data.get('message') or fallback}"
        code = str(data.get("error_code") or "")
    if status == 404 or code == "RESOURCE_DOES_NOT_EXIST":
        return NotFoundError(message)
    if 400 <= status < 500:
        return InvalidValueError(message)
    return StoreError(message)


class _Runs:
    """autolog run id -> (MLflow run id, artifact URI), learned on creation or by the tag."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._known: dict[str, tuple[str, str]] = {}
        self._ours: dict[str, str] = {}  # MLflow run id -> autolog's
        self._experiments: dict[str, str] = {}  # name -> MLflow id
        self._lock = threading.Lock()

    def remember(self, run_id: str, info: dict[str, Any]) -> tuple[str, str]:
        found = (str(info["run_id"]), str(info.get("artifact_uri") or ""))
        with self._lock:
            self._known[run_id] = found
            self._ours[found[0]] = run_id
        return found

    def ours(self, mlflow_id: str | None) -> str | None:
        """autolog's id of the MLflow run `mlflow_id`, when known; else `mlflow_id`."""
        if mlflow_id is None:
            return None
        with self._lock:
            return self._ours.get(mlflow_id, mlflow_id)

    def experiment_id(self, name: str, timeout: tuple[float, float]) -> str:
        if name in self._experiments:
            return self._experiments[name]
        try:
            data = self.client.json(
                "GET", "/experiments/get-by-name", params={"experiment_name": name}, timeout=timeout
            )
            exp_id = str(data["experiment"]["experiment_id"])
        except NotFoundError:
            try:
                data = self.client.json(
                    "POST", "/experiments/create", body={"name": name}, timeout=timeout
                )
                exp_id = str(data["experiment_id"])
            except InvalidValueError:  # created by another process meanwhile
                data = self.client.json(
                    "GET",
                    "/experiments/get-by-name",
                    params={"experiment_name": name},
                    timeout=timeout,
                )
                exp_id = str(data["experiment"]["experiment_id"])
        self._experiments[name] = exp_id
        return exp_id

    def all_experiment_ids(self, timeout: tuple[float, float]) -> list[str]:
        return [str(e["experiment_id"]) for e in _all_experiments(self.client, timeout)]

    def find(self, run_id: str, timeout: tuple[float, float]) -> tuple[str, str] | None:
        """The MLflow id and artifact URI of autolog's run `run_id` (or an MLflow id)."""
        with self._lock:
            if run_id in self._known:
                return self._known[run_id]
        ids = self.all_experiment_ids(timeout)
        if ids:
            data = self.client.json(
                "POST",
                "/runs/search",
                body={
                    "experiment_ids": ids,
                    "filter": f"tags.`{_tags.MLFLOW_RUN_ID}` = '{run_id}'",
                    "max_results": 1,
                },
                timeout=timeout,
            )
            if data.get("runs"):
                return self.remember(run_id, data["runs"][0]["info"])
        try:
            data = self.client.json("GET", "/runs/get", params={"run_id": run_id}, timeout=timeout)
        except (NotFoundError, InvalidValueError):
            return None
        return self.remember(run_id, data["run"]["info"])


def _all_experiments(client: Client, timeout: tuple[float, float]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token = None
    while True:
        body: dict[str, Any] = {"max_results": 1000, "view_type": "ACTIVE_ONLY"}
        if token:
            body["page_token"] = token
        data = client.json("POST", "/experiments/search", body=body, timeout=timeout)
        out += data.get("experiments", [])
        token = data.get("next_page_token")
        if not token:
            return out


def _number(value: Any) -> float:
    return wire._float(value, "an MLflow metric value")


class MlflowTransport(Transport):
    """Delivers spooled entries as MLflow REST calls."""

    def __init__(self, client: Client, runs: _Runs) -> None:
        self.client = client
        self.runs = runs

    def deliver(self, entries: list[Entry], deadline: float | None) -> None:
        for entry in entries:
            kind = entry.data.get("type")
            try:
                if kind == "create":
                    self._create(wire.meta_from_json(entry.data.get("run")), deadline)
                elif kind == "batch":
                    batch = wire.batch_from_json(entry.data.get("batch"))
                    self._batch(check_id(entry.data.get("run_id")), batch, deadline)
                elif kind == "artifact":
                    self._artifact(entry, deadline)
            except ServerUnreachable:
                raise
            except (InvalidInputError, NotFoundError) as exc:
                # Refused for good (MLflow's checks, or a run that never reached it).
                logger.error("autolog: the MLflow server refused a %s: %s", kind, exc)
            entry.remove()

    def _create(self, meta: RunMeta, deadline: float | None) -> None:
        timeout = timeout_for(deadline)
        if self.runs.find(meta.id, timeout) is not None:
            return  # made by an earlier delivery whose reply was lost
        exp_id = (
            self.runs.experiment_id(meta.experiment_name, timeout)
            if meta.experiment_name
            else meta.experiment_id
        )
        tags = [{"key": _tags.MLFLOW_RUN_ID, "value": meta.id}]
        if meta.parent_id is not None:
            parent = self.runs.find(meta.parent_id, timeout)
            if parent is not None:
                tags.append({"key": _PARENT_TAG, "value": parent[0]})
        body = {
            "experiment_id": exp_id,
            "run_name": meta.name,
            "start_time": meta.start_time,
            "tags": tags,
        }
        data = self.client.json("POST", "/runs/create", body=body, timeout=timeout)
        self.runs.remember(meta.id, data["run"]["info"])

    def _batch(self, run_id: str, batch: Batch, deadline: float | None) -> None:
        timeout = timeout_for(deadline)
        found = self.runs.find(run_id, timeout)
        if found is None:
            raise RunNotFoundError(f"run {run_id} is not in the MLflow server {self.client.base}")
        mlflow_id = found[0]
        params = [{"key": k, "value": v} for k, v in batch.params.items()]
        tags = [{"key": k, "value": v} for k, v in batch.tags.items()]
        metrics = [
            {"key": k, "value": wire.float_to_json(v), "step": s, "timestamp": t}
            for k, points in batch.metrics.items()
            for v, s, t in points
        ]
        while params or tags or metrics:
            some_params, params = params[:_MAX_PARAMS], params[_MAX_PARAMS:]
            some_tags, tags = tags[:_MAX_TAGS], tags[_MAX_TAGS:]
            room = min(_MAX_METRICS, _MAX_ENTITIES - len(some_params) - len(some_tags))
            some_metrics, metrics = metrics[:room], metrics[room:]
            body = {
                "run_id": mlflow_id,
                "params": some_params,
                "tags": some_tags,
                "metrics": some_metrics,
            }
            self.client.json("POST", "/runs/log-batch", body=body, timeout=timeout_for(deadline))
        if batch.status is not None:
            update: dict[str, Any] = {"run_id": mlflow_id, "status": batch.status}
            if batch.end_time is not None:
                update["end_time"] = batch.end_time
            self.client.json("POST", "/runs/update", body=update, timeout=timeout)

    def _artifact(self, entry: Entry, deadline: float | None) -> None:
        run_id = check_id(entry.data.get("run_id"))
        path = check_relative_path(entry.data.get("path"), allow_empty=False)
        found = self.runs.find(run_id, timeout_for(deadline))
        if found is None:
            raise RunNotFoundError(f"run {run_id} is not in the MLflow server {self.client.base}")
        with open(entry.blob, "rb") as body:
            self.client.call(
                "PUT",
                _artifact_url(found[1], path),
                data=body,
                headers={"Content-Type": "application/octet-stream"},
                absolute=True,
                timeout=timeout_for(deadline),
            )


def _artifact_url(artifact_uri: str, path: str) -> str:
    """The mlflow-artifacts URL of `path` under a run's artifact URI."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme != "mlflow-artifacts":
        raise InvalidValueError(
            f"the MLflow server keeps this run's artifacts at {artifact_uri!r}, which autolog"
            " cannot reach through it; start `mlflow server` with artifact proxying"
            " (--serve-artifacts, the default since MLflow 2.0)"
        )
    root = parsed.path.strip("/")
    return f"{_ARTIFACTS}/{quote(root)}/{quote(path)}"


class MlflowRestBackend(SpooledWrites, Backend):
    """Runs stored by an MLflow tracking server, through its REST API."""

    local = False

    def __init__(self, uri: str, client: Client | None = None) -> None:
        self.uri = uri.rstrip("/")
        self.client = client or Client(self.uri)
        self.client.prefix = _API
        self.client.decode_error = _mlflow_error
        self.runs = _Runs(self.client)
        self.outbox: Outbox = outbox_for(self.uri, MlflowTransport(self.client, self.runs))

    # -- writing (queued) ---------------------------------------------------------------------

    def local_experiment_id(self, name: str) -> str:
        # A stand-in: MLflow numbers experiments itself; deliveries find them by name.
        return experiment_id_for(name)

    # -- experiments --------------------------------------------------------------------------

    def _experiment(self, data: dict[str, Any]) -> Experiment:
        tags = {t["key"]: t["value"] for t in data.get("tags", [])}
        return Experiment(
            str(data["experiment_id"]), data["name"], int(data.get("creation_time") or 0), tags
        )

    def get_or_create_experiment(self, name: str) -> Experiment:
        check_name(name, "experiment name")
        try:
            self.runs.experiment_id(name, _BRIEF)
            return self.get_experiment(name)
        except ServerUnreachable:
            return Experiment(experiment_id_for(name), name, int(time.time() * 1000), {})

    def get_experiment(self, name_or_id: str) -> Experiment:
        self._deliver()
        for params in ({"experiment_name": name_or_id}, {"experiment_id": name_or_id}):
            path = "/experiments/get-by-name" if "experiment_name" in params else "/experiments/get"
            try:
                return self._experiment(self.client.json("GET", path, params=params)["experiment"])
            except (NotFoundError, InvalidValueError):
                continue
        raise ExperimentNotFoundError(
            f"no experiment named {name_or_id!r} in the MLflow server {self.uri}"
        )

    def list_experiments(self) -> list[Experiment]:
        self._deliver()
        exps = [self._experiment(e) for e in _all_experiments(self.client, _BRIEF)]
        return sorted(exps, key=lambda e: (e.created_at, e.name))

    # -- runs ---------------------------------------------------------------------------------

    def _run(self, data: dict[str, Any], names: dict[str, str]) -> Run:
        info, body = data["info"], data.get("data", {})
        tags = {t["key"]: t["value"] for t in body.get("tags", [])}
        run_id = tags.get(_tags.MLFLOW_RUN_ID) or str(info["run_id"])
        self.runs.remember(run_id, info)
        status = info.get("status", "RUNNING")
        exp_id = str(info["experiment_id"])
        return Run(
            id=run_id,
            name=info.get("run_name") or tags.get("mlflow.runName", ""),
            experiment=names.get(exp_id, exp_id),
            experiment_id=exp_id,
            status=RunStatus(status) if status in RunStatus.__members__ else RunStatus.RUNNING,
            start_time=int(info.get("start_time") or 0),
            end_time=int(info["end_time"]) if info.get("end_time") else None,
            parent_id=self.runs.ours(tags.get(_PARENT_TAG)),
            params={p["key"]: p["value"] for p in body.get("params", [])},
            metrics={m["key"]: _number(m["value"]) for m in body.get("metrics", [])},
            tags={k: v for k, v in tags.items() if k != _tags.MLFLOW_RUN_ID},
        )

    def _names(self) -> dict[str, str]:
        return {str(e["experiment_id"]): e["name"] for e in _all_experiments(self.client, _BRIEF)}

    def get_run(self, run_id: str) -> Run:
        check_id(run_id)
        self._deliver()
        found = self.runs.find(run_id, _BRIEF)
        if found is None:
            raise RunNotFoundError(f"no run with id {run_id!r} in the MLflow server {self.uri}")
        data = self.client.json("GET", "/runs/get", params={"run_id": found[0]})
        return self._run(data["run"], self._names())

    def list_runs(self, experiment_ids: list[str] | None = None) -> list[Run]:
        self._deliver()
        names = self._names()
        ids = list(names) if experiment_ids is None else experiment_ids
        runs: list[Run] = []
        token = None
        while ids:
            body: dict[str, Any] = {"experiment_ids": ids, "max_results": 1000}
            if token:
                body["page_token"] = token
            data = self.client.json("POST", "/runs/search", body=body)
            runs += [self._run(r, names) for r in data.get("runs", [])]
            token = data.get("next_page_token")
            if not token:
                break
        # A parent listed after its child is known now.
        runs = [dataclasses.replace(r, parent_id=self.runs.ours(r.parent_id)) for r in runs]
        return sorted(runs, key=lambda r: (r.start_time, r.id))

    def search_runs(
        self,
        experiment_ids: list[str] | None,
        query: Query,
        order_by: Sequence[Order],
        max_results: int,
        page_token: str | None = None,
    ) -> RunPage:
        check_max_results(max_results)
        scope = repr((experiment_ids, query, tuple(order_by)))
        start = 0 if page_token is None else _read_token(page_token, scope)
        ordered = sort_runs(
            [r for r in self.list_runs(experiment_ids) if query.matches(r)], order_by
        )
        page = ordered[start : start + max_results]
        end = start + len(page)
        return RunPage(page, _make_token(end, scope) if end < len(ordered) else None)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        check_id(run_id)
        self._deliver()
        found = self.runs.find(run_id, _BRIEF)
        if found is None:
            raise RunNotFoundError(f"no run with id {run_id!r} in the MLflow server {self.uri}")
        data = self.client.json(
            "GET", "/metrics/get-history", params={"run_id": found[0], "metric_key": key}
        )
        points = [
            Metric(key, _number(m["value"]), int(m.get("step", 0)), int(m["timestamp"]))
            for m in data.get("metrics", [])
        ]
        return sorted(points, key=lambda m: (m.step, m.timestamp))

    # -- artifacts ----------------------------------------------------------------------------

    def list_artifacts(self, run_id: str, path: str = "") -> list[FileInfo]:
        check_id(run_id)
        rel = check_relative_path(path)
        self._deliver()
        found = self.runs.find(run_id, _BRIEF)
        if found is None:
            raise RunNotFoundError(f"no run with id {run_id!r} in the MLflow server {self.uri}")
        params = {"run_id": found[0], "path": rel}
        files = self.client.json("GET", "/artifacts/list", params=params).get("files", [])
        out = [FileInfo(f["path"], bool(f.get("is_dir")), f.get("file_size")) for f in files]
        if rel and len(out) == 1 and out[0].path == rel and not out[0].is_dir:
            return out
        return sorted(out, key=lambda f: f.path)

    def download_artifacts(
        self, run_id: str, path: str, dst: Path, progress: Progress | None = None
    ) -> Path:
        rel = check_relative_path(path)
        found = self.runs.find(run_id, _BRIEF)
        if found is None:
            raise RunNotFoundError(f"no run with id {run_id!r} in the MLflow server {self.uri}")
        files = self._files(run_id, rel)
        if not files:
            if rel == "":
                dst.mkdir(parents=True, exist_ok=True)
                return dst
            raise ArtifactNotFoundError(f"run {run_id} has no artifact {path!r}")
        for file in files:
            resp = self.client.call(
                "GET", _artifact_url(found[1], file), stream=True, absolute=True
            )
            target = dst / file
            target.parent.mkdir(parents=True, exist_ok=True)
            with resp, open(target, "wb") as out:
                for chunk in resp.iter_content(_CHUNK):
                    out.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
        return dst / rel if rel else dst

    def _files(self, run_id: str, rel: str) -> list[str]:
        out = []
        for info in self.list_artifacts(run_id, rel):
            if info.is_dir:
                out += self._files(run_id, info.path)
            else:
                out.append(info.path)
        return out

    def sync(self) -> int:
        """Deliver the spools exited processes left for this server; return the entry count."""
        sent = self.outbox.deliver_orphans()
        self.close()
        return sent


def _digest(scope: str) -> str:
    return hashlib.sha256(scope.encode("utf-8")).hexdigest()[:16]


def _make_token(offset: int, scope: str) -> str:
    raw = json.dumps({"o": offset, "s": _digest(scope)}).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _read_token(token: str, scope: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data["s"] == _digest(scope) and type(data["o"]) is int and data["o"] >= 0:
            return int(data["o"])
    except (ValueError, KeyError, TypeError):
        pass
    raise InvalidValueError(
        f"page_token {token!r} is not a page token of this search; pass the next_page_token"
        " of the previous page, or None for the first page"
    )
