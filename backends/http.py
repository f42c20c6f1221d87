"""The HTTP backend: runs go to an autolog tracking server (`http://host:port`).

Writes never wait for the server: `create_run`, `write_batch` and the artifact methods
append an entry to an on-disk spool and return (`autolog.backends._outbox`); a sender
thread delivers everything queued in one gzipped request per writer cycle, over one
persistent connection, and uploads artifacts after the run's creation (straight to the
bucket by presigned URL when the server runs with `--artifacts-direct`: `_direct.py`). While the
server is slow or down the entries wait on disk and the sender retries with backoff; a
process that exits first leaves them for the next process (or `autolog sync`). Each
batch carries a name unique within its run, which the server records with it: an entry
delivered twice is applied once; creations and artifact uploads are idempotent.

Reads (runs, search, history, artifacts) first deliver what is queued, so a process
reads its own writes, then ask the server. A server that turns out to be an MLflow
tracking server is spoken to through `autolog.backends.mlflow_rest` instead.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from autolog._entities import Experiment, FileInfo, Metric, Run
from autolog._search import Order, Query
from autolog._validation import check_id, check_name, check_relative_path
from autolog.backends import _wire as wire
from autolog.backends._direct import DirectArtifacts
from autolog.backends._http_client import DEFAULT_TIMEOUT, Client, ServerUnreachable
from autolog.backends._layout import experiment_id_for
from autolog.backends._objects import Progress
from autolog.backends._outbox import Outbox, SpooledWrites, Transport, outbox_for, timeout_for
from autolog.backends._spool import Entry
from autolog.backends.base import Backend, RegistryBackend, RunPage, StoredModel
from autolog.errors import ArtifactNotFoundError, AutologError

__all__ = ["HttpBackend", "NativeTransport", "ServerUnreachable", "from_uri", "sync"]

logger = logging.getLogger("autolog")

# Entries per ingest request: well under the server's limit, a few MB at most.
_GROUP = 2000
_CHUNK = 1024 * 1024
# (connect, read) seconds for the requests a training script makes itself.
_BRIEF = (3.0, 5.0)


class NativeTransport(Transport):
    """Delivers spooled entries through the native API: `ingest`, then artifact PUTs
    (straight to the bucket when the server hands out presigned URLs)."""

    def __init__(self, client: Client, direct: DirectArtifacts | None = None) -> None:
        self.client = client
        self.direct = direct

    def deliver(self, entries: list[Entry], deadline: float | None) -> None:
        group: list[Entry] = []
        for entry in entries:
            if entry.data.get("type") == "artifact":
                self._send(group, deadline)
                group = []
                self._upload(entry, deadline)
            else:
                group.append(entry)
                if len(group) >= _GROUP:
                    self._send(group, deadline)
                    group = []
        self._send(group, deadline)

    def _send(self, group: list[Entry], deadline: float | None) -> None:
        if not group:
            return
        body = {"entries": [e.data for e in group]}
        timeout = timeout_for(deadline)
        reply = self.client.json("POST", "/ingest", body=body, gzip_body=True, timeout=timeout)
        for entry, result in zip(group, reply["results"], strict=True):
            if result.get("ok"):
                entry.remove()
            elif not result.get("retry"):
                # Bad input fails the same way every time: report it and drop the entry.
                logger.error(
                    "autolog's server refused %s: %s", entry.data.get("type"), result.get("message")
                )
                entry.remove()

    def _upload(self, entry: Entry, deadline: float | None) -> None:
        data = entry.data
        try:
            upload(self.client, data["run_id"], data["path"], entry.blob, deadline, self.direct)
        except ServerUnreachable:
            raise
        except AutologError as exc:
            logger.error("autolog's server refused artifact %r: %s", data.get("path"), exc)
        entry.remove()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _artifact_url(run_id: str, path: str) -> str:
    return f"/runs/{quote(run_id)}/artifacts/{quote(path)}"


def upload(
    client: Client,
    run_id: str,
    path: str,
    local: Path,
    deadline: float | None,
    direct: DirectArtifacts | None = None,
) -> None:
    """Store a file as an artifact: straight to the bucket by a presigned URL when the
    server offers one (`direct`), else PUT through the server, streamed, with its sha256
    for the server to check."""
    sha = _sha256(local)
    if direct is not None and direct.upload(run_id, path, local, sha, timeout_for(deadline)):
        return
    with open(local, "rb") as f:
        headers = {"X-Autolog-Sha256": sha, "Content-Type": "application/octet-stream"}
        client.call(
            "PUT", _artifact_url(run_id, path), data=f, headers=headers,
            timeout=timeout_for(deadline),
        )  # fmt: skip


class HttpBackend(SpooledWrites, Backend, RegistryBackend):
    """Runs stored by an autolog tracking server."""

    local = False

    def __init__(self, uri: str, client: Client | None = None) -> None:
        self.uri = uri.rstrip("/")
        self.client = client or Client(self.uri)
        self.direct = DirectArtifacts(self.client)
        self.outbox: Outbox = outbox_for(self.uri, NativeTransport(self.client, self.direct))

    # -- writing (queued) ---------------------------------------------------------------------

    def local_experiment_id(self, name: str) -> str:
        return experiment_id_for(name)  # the server derives it the same way

    # -- reading ------------------------------------------------------------------------------

    def get_or_create_experiment(self, name: str) -> Experiment:
        try:
            # Briefly: `set_experiment` in a training script must not wait for a slow server.
            data = self.client.json("POST", "/experiments", body={"name": name}, timeout=_BRIEF)
        except ServerUnreachable:
            # Training must not wait for the server: the id is derived from the name, and
            # the first run's creation creates the experiment on the server.
            check_name(name, "experiment name")
            return Experiment(experiment_id_for(name), name, int(time.time() * 1000), {})
        return wire.experiment_from_json(data)

    def get_experiment(self, name_or_id: str) -> Experiment:
        self._deliver()
        data = self.client.json("GET", "/experiment", params={"name_or_id": name_or_id})
        return wire.experiment_from_json(data)

    def list_experiments(self) -> list[Experiment]:
        self._deliver()
        data = self.client.json("GET", "/experiments")
        return [wire.experiment_from_json(e) for e in data["experiments"]]

    def get_run(self, run_id: str) -> Run:
        check_id(run_id)
        self._deliver()
        return wire.run_from_json(self.client.json("GET", f"/runs/{run_id}"))

    def list_runs(self, experiment_ids: list[str] | None = None) -> list[Run]:
        self._deliver()
        data = self.client.json("POST", "/runs/list", body={"experiment_ids": experiment_ids})
        return [wire.run_from_json(r) for r in data["runs"]]

    def search_runs(
        self,
        experiment_ids: list[str] | None,
        query: Query,
        order_by: Sequence[Order],
        max_results: int,
        page_token: str | None = None,
    ) -> RunPage:
        self._deliver()
        body = {
            "experiment_ids": experiment_ids,
            "filter": wire.query_to_json(query),
            "order_by": wire.orders_to_json(list(order_by)),
            "max_results": max_results,
            "page_token": page_token,
        }
        data = self.client.json("POST", "/runs/search", body=body)
        return RunPage([wire.run_from_json(r) for r in data["runs"]], data["next_page_token"])

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        check_id(run_id)
        self._deliver()
        data = self.client.json("GET", f"/runs/{run_id}/metric-history", params={"key": key})
        return [wire.metric_from_json(key, p) for p in data["points"]]

    def list_artifacts(self, run_id: str, path: str = "") -> list[FileInfo]:
        check_id(run_id)
        rel = check_relative_path(path)
        self._deliver()
        data = self.client.json("GET", f"/runs/{run_id}/artifact-list", params={"path": rel})
        return [wire.file_info_from_json(f) for f in data["files"]]

    def download_artifacts(
        self, run_id: str, path: str, dst: Path, progress: Progress | None = None
    ) -> Path:
        rel = check_relative_path(path)
        files = self._files(run_id, rel)
        if not files:
            if rel == "":
                dst.mkdir(parents=True, exist_ok=True)
                return dst
            raise ArtifactNotFoundError(
                f"run {run_id} has no artifact {path!r}; see `autolog artifacts {run_id}`"
            )
        for file in files:
            self._download(run_id, file, dst / file, progress)
        return dst / rel if rel else dst

    def _files(self, run_id: str, rel: str) -> list[str]:
        out = []
        for info in self.list_artifacts(run_id, rel):
            if info.is_dir:
                out += self._files(run_id, info.path)
            else:
                out.append(info.path)
        return out

    def _download(self, run_id: str, path: str, target: Path, progress: Progress | None) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.autolog-tmp")
        try:
            if self.direct.download(run_id, path, tmp, progress, DEFAULT_TIMEOUT):
                tmp.replace(target)
                return
            resp = self.client.call("GET", _artifact_url(run_id, path), stream=True)
            with resp, open(tmp, "wb") as out:
                for chunk in resp.iter_content(_CHUNK):
                    out.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)

    # -- registry -----------------------------------------------------------------------------

    def create_registered_model(self, name: str, meta: dict[str, Any]) -> bool:
        data = self.client.json(
            "POST", "/registry/models", body={"name": name, "meta": meta}, allow_nan=True
        )
        return bool(data["created"])

    def create_model_version(self, name: str, record: dict[str, Any]) -> int:
        self._deliver()  # the run the version comes from, first
        data = self.client.json(
            "POST", "/registry/versions", body={"name": name, "record": record}, allow_nan=True
        )
        return int(data["version"])

    def append_model_event(self, name: str, event: dict[str, Any]) -> bool:
        data = self.client.json(
            "POST", "/registry/events", body={"name": name, "event": event}, allow_nan=True
        )
        return bool(data["written"])

    def read_registered_model(self, name: str) -> StoredModel | None:
        data = self.client.json("GET", "/registry/model", params={"name": name})["model"]
        return None if data is None else StoredModel(data["meta"], data["versions"], data["events"])

    def list_registered_models(self) -> list[StoredModel]:
        data = self.client.json("GET", "/registry/models")["models"]
        return [StoredModel(m["meta"], m["versions"], m["events"]) for m in data]


def from_uri(uri: str) -> Backend:
    """The backend for `http://host:port` or `https://...`: autolog's server or MLflow's."""
    from autolog.backends import mlflow_rest

    client = Client(uri)
    if mlflow_rest.is_mlflow_server(client):
        return mlflow_rest.MlflowRestBackend(uri, client)
    return HttpBackend(uri, client)


def sync(uri: str) -> int:
    """Deliver the spools that exited processes left for server `uri`; return the entry count."""
    from autolog.backends import mlflow_rest

    backend = from_uri(uri)
    if isinstance(backend, mlflow_rest.MlflowRestBackend):
        return backend.sync()
    assert isinstance(backend, HttpBackend)
    sent = backend.outbox.deliver_orphans()
    backend.close()
    return sent
