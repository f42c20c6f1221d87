"""Direct artifact transfers of the HTTP backend: bytes to and from S3 by presigned URLs.

A server started with `--artifacts-direct` says so in its health reply
(`artifacts_direct: true`). The HTTP backend then asks it for a presigned URL per
artifact and moves the bytes to or from the bucket itself (see autolog._server.direct
for the server's side). Anything that goes wrong on the direct path other than the
server being unreachable (a store this machine cannot reach, a URL refused, a check
that fails) falls back to streaming through the server, which always works: a
direct transfer is an optimisation, never a new way to fail.

The requests to S3 go through a session of their own: the server's bearer token is
never sent to the bucket.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from autolog.backends._http_client import Client, ServerUnreachable, Timeout
from autolog.backends._objects import Progress
from autolog.errors import AutologError, NotFoundError

__all__ = ["DirectArtifacts"]

logger = logging.getLogger("autolog")

_CHUNK = 1024 * 1024
_PROBE_TIMEOUT: Timeout = (3.0, 5.0)


def _route(kind: str, run_id: str, path: str) -> str:
    return f"/runs/{quote(run_id)}/{kind}/{quote(path)}"


class DirectArtifacts:
    """Whether one server hands out presigned URLs, and the transfers through them."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._enabled: bool | None = None  # unknown until the server answers
        self._s3 = requests.Session()
        self._warned = False

    def enabled(self) -> bool:
        """Whether the server hands out presigned URLs (asked once, when it answers)."""
        if self._enabled is None:
            try:
                health = self.client.json("GET", "/health", timeout=_PROBE_TIMEOUT)
            except AutologError:
                return False  # asked again next time
            self._enabled = isinstance(health, dict) and health.get("artifacts_direct") is True
        return self._enabled

    def _fall_back(self, what: str, exc: BaseException) -> None:
        # The server may have been restarted without the flag: ask again next time.
        self._enabled = None
        log = logger.debug if self._warned else logger.warning
        self._warned = True
        log("autolog could not %s directly (%s); it goes through the server instead", what, exc)

    def upload(self, run_id: str, path: str, local: Path, sha256: str, timeout: Timeout) -> bool:
        """PUT `local` to the bucket through a presigned URL; False if it must be streamed.

        Raises ServerUnreachable when the server cannot be asked (the entry is retried).
        """
        if not self.enabled():
            return False
        declared = {"size": local.stat().st_size, "sha256": sha256}
        try:
            grant = self.client.json(
                "POST", _route("artifact-uploads", run_id, path), body=declared, timeout=timeout
            )
            self._send(grant, local, timeout)
            self.client.json(
                "POST", _route("artifact-commits", run_id, path), body=declared, timeout=timeout
            )
        except ServerUnreachable:
            raise
        except (AutologError, requests.RequestException, KeyError, TypeError) as exc:
            self._fall_back(f"upload artifact {path!r}", exc)
            return False
        return True

    def _send(self, grant: Any, local: Path, timeout: Timeout) -> None:
        with open(local, "rb") as f:
            resp = self._s3.request(
                grant["method"], grant["url"], data=f, headers=dict(grant["headers"]),
                timeout=timeout,
            )  # fmt: skip
        with resp:
            if resp.status_code >= 300:
                raise requests.HTTPError(f"the store answered HTTP {resp.status_code}")

    def download(
        self, run_id: str, path: str, tmp: Path, progress: Progress | None, timeout: Timeout
    ) -> bool:
        """GET an artifact file from the bucket into `tmp`; False if it must be streamed."""
        if not self.enabled():
            return False
        try:
            grant = self.client.json(
                "GET", _route("artifact-downloads", run_id, path), timeout=timeout
            )
            resp = self._s3.request(
                grant["method"], grant["url"], headers=dict(grant["headers"]), stream=True,
                timeout=timeout,
            )  # fmt: skip
            with resp:
                if resp.status_code != 200:
                    raise requests.HTTPError(f"the store answered HTTP {resp.status_code}")
                size = 0
                with open(tmp, "wb") as out:
                    for chunk in resp.iter_content(_CHUNK):
                        out.write(chunk)
                        size += len(chunk)
                        if progress is not None:
                            progress(len(chunk))
            if size != grant.get("size", size):
                raise requests.HTTPError(f"{size} bytes arrived, not {grant['size']}")
        except (ServerUnreachable, NotFoundError):
            raise  # retried later / the server's own answer
        except (AutologError, requests.RequestException, KeyError, TypeError) as exc:
            self._fall_back(f"download artifact {path!r}", exc)
            return False
        return True

    def close(self) -> None:
        self._s3.close()
