"""One HTTP client per tracking server: a persistent connection, gzipped bodies, clear errors.

Used by the HTTP backend (autolog's native API) and the MLflow REST backend. Every
request's headers are built in `Client.headers`, the one place that adds what a server
needs to know about the caller (its user agent; later its credentials).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from autolog.backends import _wire as wire
from autolog.backends._credentials import token_for
from autolog.errors import AutologError, StoreError

__all__ = ["Client", "ServerUnreachable", "Timeout"]

#: (connect, read) seconds: a request of the background sender may wait long for a busy
#: server; exiting processes pass shorter ones.
Timeout = tuple[float, float]
DEFAULT_TIMEOUT: Timeout = (5.0, 300.0)
# Bodies smaller than this are not worth compressing.
_GZIP_OVER = 1024


class ServerUnreachable(StoreError):
    """The server did not answer, or answered 5xx / 429: worth retrying later."""


ErrorDecoder = Callable[[int, Any, str], AutologError]


class Client:
    """A requests.Session (one persistent connection, reused) to one server."""

    def __init__(self, base: str, prefix: str = wire.API_PREFIX) -> None:
        self.base = base.rstrip("/")
        self.prefix = prefix
        self.session = _new_session()
        self._pid = os.getpid()
        self.decode_error: ErrorDecoder = wire.error_from_json
        # Sent in a header only: never in a URL, a log line or an error message.
        self._token = token_for(self.base)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The headers of every request to this server, plus `extra`."""
        auth = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        return {"User-Agent": "autolog", **auth, **(extra or {})}

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
        timeout: Timeout = DEFAULT_TIMEOUT,
        absolute: bool = False,
        allow_nan: bool = False,
    ) -> requests.Response:
        """Send a request to `prefix + path` (or `path` when `absolute`); raise on errors.

        A server that cannot be reached, or answers 5xx or 429, raises ServerUnreachable;
        any other error reply raises the autolog exception its body names. `allow_nan`
        sends non-finite floats in `body` as Python's json writes them (NaN, Infinity).
        """
        extra = dict(headers or {})
        if body is not None:
            data = json.dumps(body, separators=(",", ":"), allow_nan=allow_nan).encode("utf-8")
            extra["Content-Type"] = "application/json"
            if gzip_body and len(data) > _GZIP_OVER:
                data = gzip.compress(data, compresslevel=1)
                extra["Content-Encoding"] = "gzip"
        url = self.base + (path if absolute else self.prefix + path)
        if self._pid != os.getpid():
            # A forked child: the pooled connections are its parent's (two processes on one
            # socket would read each other's replies). Left to the parent, not closed.
            self.session, self._pid = _new_session(), os.getpid()
        try:
            resp = self.session.request(
                method,
                url,
                params=params,
                data=data,
                headers=self.headers(extra),
                stream=stream,
                timeout=timeout,
            )
        except requests.RequestException as exc:
            raise ServerUnreachable(
                f"the tracking server {self.base} did not answer {method} {path}: {exc}; check"
                " that the server runs there and that the URI is right"
            ) from None
        if resp.status_code >= 400:
            try:
                payload = resp.json()
            except ValueError:
                payload = None
            fallback = f"{method} {path} failed with HTTP {resp.status_code}: {resp.text[:200]}"
            error = self.decode_error(resp.status_code, payload, fallback)
            if resp.status_code >= 500 or resp.status_code == 429:
                raise ServerUnreachable(f"{self.base} answered {resp.status_code}: {error}")
            raise error
        return resp

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, **kwargs).json()

    def close(self) -> None:
        self.session.close()


def _new_session() -> requests.Session:
    session = requests.Session()
    # Connections the server closed while idle are opened again, never reported.
    retry = Retry(total=2, connect=2, read=0, status=0, other=0, backoff_factor=0.05)
    adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=4)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
