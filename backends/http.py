"""The HTTP backend: runs go to an autolog tracking server (`http://host:port`).

Writes never wait for the server: `create_run` and `write_batch` append an entry to
an on-disk spool (`autolog.backends._spool`) and return; a sender thread delivers
everything queued in one gzipped request (so one writer cycle, which hands over every
run's batch back to back, becomes one request), over one persistent connection. While
the server is slow or down the entries wait on disk, and the sender retries with
backoff; a process that exits first leaves them there for the next process (or
`autolog sync`) to deliver. Each batch carries a name unique within its run, which
the server records with it: an entry delivered twice is applied once.

Reads (runs, search, history, artifacts) first deliver what is queued, so a process
reads its own writes, then ask the server. Artifacts are uploaded once the run's
creation has been delivered; while the server is unreachable they are spooled too.
"""

from __future__ import annotations

import atexit
import contextlib
import gzip
import hashlib
import json
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from autolog._entities import Experiment, FileInfo, Metric, Run
from autolog._search import Order, Query
from autolog._validation import check_id, check_relative_path
from autolog.backends import _wire as wire
from autolog.backends._credentials import token_for
from autolog.backends._layout import experiment_id_for
from autolog.backends._objects import Progress
from autolog.backends._spool import Entry, Spool, entries_of
from autolog.backends.base import Backend, Batch, RegistryBackend, RunMeta, RunPage, StoredModel
from autolog.errors import ArtifactNotFoundError, AutologError, StoreError

__all__ = ["HttpBackend", "from_uri", "sync"]

logger = logging.getLogger("autolog")

_TIMEOUT = (5.0, 300.0)  # connect, read
# Entries per ingest request: well under the server's limit, a few MB at most.
_GROUP = 2000
_GZIP_OVER = 1024
_CHUNK = 1024 * 1024
_MAX_BACKOFF = 30.0
_ORPHAN_EVERY = 30.0
# The sender waits this long after the first entry of a cycle, so that the writer's
# back-to-back calls of one cycle leave in one request.
_GATHER = 0.005


class ServerUnreachable(StoreError):
    """The server did not answer (connection refused, timeout): worth retrying later."""


class _Client:
    """One requests.Session (a persistent connection) to one server."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "autolog"
        token = token_for(base)
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        gzip_body: bool = False,
    ) -> requests.Response:
        headers = dict(headers or {})
        if body is not None:
            data = json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
            if gzip_body and len(data) > _GZIP_OVER:
                data = gzip.compress(data, compresslevel=1)
                headers["Content-Encoding"] = "gzip"
        url = self.base + wire.API_PREFIX + path
        try:
            resp = self.session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                stream=stream,
                timeout=_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise ServerUnreachable(
                f"the tracking server {self.base} did not answer {method} {path}: {exc}; check"
                " that `autolog server` runs there and that the URI is right"
            ) from None
        if resp.status_code >= 400:
            try:
                payload = resp.json()
            except ValueError:
                payload = None
            fallback = f"{method} {path} failed with HTTP {resp.status_code}: {resp.text[:200]}"
            exc2 = wire.error_from_json(resp.status_code, payload, fallback)
            if resp.status_code >= 500 and not isinstance(exc2, AutologError):
                raise ServerUnreachable(str(exc2))
            raise exc2
        return resp

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, **kwargs).json()


class _Outbox:
    """The spool of one server in this process, and the thread that delivers it."""

    def __init__(self, uri: str, client: _Client) -> None:
        self.uri = uri
        self.client = client
        self.spool = Spool(uri)
        self._deliver_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._orphans_checked = 0.0
        self._warned: set[str] = set()
        self.failures = 0

    def add(self, data: dict[str, Any], blob: Path | bytes | None = None) -> None:
        self.spool.append(data, blob)
        self._start()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._loop, name="autolog-http-sender", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        backoff = 0.0
        while True:
            self._wake.wait(timeout=backoff or _ORPHAN_EVERY)
            self._wake.clear()
            time.sleep(_GATHER)
            try:
                self.deliver()
                backoff = 0.0
            except Exception as exc:  # noqa: BLE001 - kept on disk and retried
                backoff = min(_MAX_BACKOFF, max(0.5, backoff * 2))
                kept = f"the data is kept on disk in {self.spool.base} and retried"
                self._warn_once(type(exc).__name__, f"{exc}; {kept}")
                self._wake.clear()

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            logger.warning("autolog could not deliver to %s: %s", self.uri, message)

    def deliver(self) -> None:
        """Deliver every queued entry (ours, then exited processes'); raise if the server fails."""
        with self._deliver_lock:
            now = time.monotonic()
            if now - self._orphans_checked > _ORPHAN_EVERY:
                self._orphans_checked = now
                with self.spool.orphans() as directories:
                    for directory in directories:
                        self._deliver_entries(entries_of(directory))
            self._deliver_entries(self.spool.pending())
            self._warned.clear()

    def deliver_orphans(self) -> int:
        """Deliver the spools of exited processes now; return how many entries were sent."""
        sent = 0
        with self._deliver_lock, self.spool.orphans() as directories:
            for directory in directories:
                entries = entries_of(directory)
                self._deliver_entries(entries)
                sent += len(entries)
        return sent

    def _deliver_entries(self, entries: list[Entry]) -> None:
        group: list[Entry] = []
        for entry in entries:
            if entry.data.get("type") == "artifact":
                self._send(group)
                group = []
                self._upload(entry)
            else:
                group.append(entry)
                if len(group) >= _GROUP:
                    self._send(group)
                    group = []
        self._send(group)

    def _send(self, group: list[Entry]) -> None:
        if not group:
            return
        body = {"entries": [e.data for e in group]}
        results = self.client.json("POST", "/ingest", body=body, gzip_body=True)["results"]
        for entry, result in zip(group, results, strict=True):
            if result.get("ok"):
                entry.remove()
            elif not result.get("retry"):
                # Bad input fails the same way every time: report it and drop the entry.
                logger.error(
                    "autolog's server refused %s: %s", entry.data.get("type"), result.get("message")
                )
                entry.remove()

    def _upload(self, entry: Entry) -> None:
        data = entry.data
        try:
            upload(self.client, data["run_id"], data["path"], entry.blob)
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


def upload(client: _Client, run_id: str, path: str, local: Path) -> None:
    """PUT a file as an artifact, streamed, with its sha256 for the server to check."""
    sha = _sha256(local)
    with open(local, "rb") as f:
        headers = {"X-Autolog-Sha256": sha, "Content-Type": "application/octet-stream"}
        client.call("PUT", _artifact_url(run_id, path), data=f, headers=headers)


_outboxes: dict[tuple[str, str], _Outbox] = {}
_outboxes_lock = threading.Lock()


def _outbox(uri: str, client: _Client) -> _Outbox:
    from autolog.backends._spool import spool_root

    key = (str(spool_root()), uri)
    with _outboxes_lock:
        box = _outboxes.get(key)
        if box is None:
            box = _outboxes[key] = _Outbox(uri, client)
        return box


class HttpBackend(Backend, RegistryBackend):
    """Runs stored by an autolog tracking server."""

    local = False

    def __init__(self, uri: str) -> None:
        self.uri = uri.rstrip("/")
        self.client = _Client(self.uri)
        self.outbox = _outbox(self.uri, self.client)
        _backends.add(self)

    # -- writing (queued) ---------------------------------------------------------------------

    def local_experiment_id(self, name: str) -> str:
        return experiment_id_for(name)  # the server derives it the same way

    def create_run(self, meta: RunMeta) -> None:
        check_id(meta.id)
        self.outbox.add({"type": "create", "run": wire.meta_to_json(meta)})

    def write_batch(self, run_id: str, batch: Batch) -> None:
        check_id(run_id)
        if batch.is_empty():
            return
        self.outbox.add(
            {
                "type": "batch",
                "run_id": run_id,
                "name": uuid.uuid4().hex,
                "batch": wire.batch_to_json(batch),
            }
        )

    def finish_run(self, run_id: str) -> None:
        self.outbox.wake()

    def flush(self) -> None:
        """Deliver everything queued now; raise StoreError if the server cannot take it."""
        self.outbox.deliver()

    def _deliver(self) -> None:
        # Reads see this process's writes: deliver them first (if the server is down the
        # read itself says so).
        if self.outbox.spool.has_pending():
            with contextlib.suppress(ServerUnreachable):
                self.outbox.deliver()

    def put_artifact(self, run_id: str, path: str, data: bytes) -> None:
        rel = check_relative_path(path, allow_empty=False)
        check_id(run_id)
        entry = {"type": "artifact", "run_id": run_id, "path": rel}
        try:
            self.outbox.deliver()  # the run's creation first
            self.client.call(
                "PUT",
                _artifact_url(run_id, rel),
                data=data,
                headers={
                    "X-Autolog-Sha256": hashlib.sha256(data).hexdigest(),
                    "Content-Type": "application/octet-stream",
                },
            )
        except ServerUnreachable:
            self.outbox.add(entry, data)

    def put_artifact_file(self, run_id: str, path: str, local: Path) -> None:
        rel = check_relative_path(path, allow_empty=False)
        check_id(run_id)
        try:
            self.outbox.deliver()
            upload(self.client, run_id, rel, local)
        except ServerUnreachable:
            self.outbox.add({"type": "artifact", "run_id": run_id, "path": rel}, local)

    # -- reading ------------------------------------------------------------------------------

    def get_or_create_experiment(self, name: str) -> Experiment:
        data = self.client.json("POST", "/experiments", body={"name": name})
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
        resp = self.client.call("GET", _artifact_url(run_id, path), stream=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.autolog-tmp")
        try:
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
        data = self.client.json("POST", "/registry/models", body={"name": name, "meta": meta})
        return bool(data["created"])

    def create_model_version(self, name: str, record: dict[str, Any]) -> int:
        self._deliver()  # the run the version comes from, first
        data = self.client.json("POST", "/registry/versions", body={"name": name, "record": record})
        return int(data["version"])

    def append_model_event(self, name: str, event: dict[str, Any]) -> bool:
        data = self.client.json("POST", "/registry/events", body={"name": name, "event": event})
        return bool(data["written"])

    def read_registered_model(self, name: str) -> StoredModel | None:
        data = self.client.json("GET", "/registry/model", params={"name": name})["model"]
        return None if data is None else StoredModel(data["meta"], data["versions"], data["events"])

    def list_registered_models(self) -> list[StoredModel]:
        data = self.client.json("GET", "/registry/models")["models"]
        return [StoredModel(m["meta"], m["versions"], m["events"]) for m in data]

    def close(self) -> None:
        try:
            self.outbox.deliver()
        except AutologError as exc:
            left = len(self.outbox.spool.pending())
            logger.warning(
                "autolog kept %d entries for %s on disk in %s (%s); the next process that logs"
                " there, or `autolog sync %s`, delivers them",
                left,
                self.uri,
                self.outbox.spool.base,
                exc,
                self.uri,
            )
        self.outbox.spool.release_if_empty()


_backends: weakref.WeakSet[HttpBackend] = weakref.WeakSet()


def from_uri(uri: str) -> HttpBackend:
    """Build the backend for `http://host:port` or `https://...`."""
    return HttpBackend(uri)


def sync(uri: str) -> int:
    """Deliver the spools that exited processes left for server `uri`; return the entry count."""
    backend = HttpBackend(uri)
    sent = backend.outbox.deliver_orphans()
    backend.close()
    return sent


@atexit.register
def _deliver_at_exit() -> None:
    # Best effort: what cannot be delivered now stays on disk for the next process.
    for box in list(_outboxes.values()):
        try:
            box.deliver()
        except Exception:  # noqa: BLE001 - the spool keeps it
            continue
        finally:
            box.spool.release_if_empty()
