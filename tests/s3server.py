"""A real S3-compatible server on localhost for tests, and a proxy that injects faults.

`S3Server` runs moto's S3 over HTTP in a thread of this process; clients reach it
with boto3 exactly as they would reach AWS, MinIO or Ceph. moto checks
`If-None-Match: *` but not atomically (two concurrent conditional PUTs can both
succeed), so the server runs conditional writes one at a time, as S3 guarantees.

`FaultProxy` stands between boto3 and the server: it forwards every request and,
deterministically (every `fail_every`-th request), fails one instead: a 503 or a
500 answer, a connection dropped before the request reaches the server, or one
dropped after the server applied it (the answer is lost), or a GET whose body is
cut short. It can also play a store that ignores or rejects conditional writes.

The pytest fixtures that start them live in `conftest.py`.
"""

from __future__ import annotations

import collections
import http.client
import itertools
import socket
import struct
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar

import boto3
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

# Dummy credentials: distinctive, so tests can look for them where they must not be.
ACCESS_KEY_ID = "AKIAAUTOLOGTESTKEY42"
SECRET_ACCESS_KEY = "autolog/TestSecret+DoNotLeak0123456789abcd"
REGION = "us-east-1"
BUCKET = "autolog-test"

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "expect",
}


class _QuietMotoHandler(MotoRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip werkzeug's line per request: thousands of them would bury test output."""


class _AtomicConditionalWrites:
    """WSGI middleware: conditional PUT/POST requests run one at a time."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        conditional = environ.get("HTTP_IF_NONE_MATCH") or environ.get("HTTP_IF_MATCH")
        if conditional and environ.get("REQUEST_METHOD") in ("PUT", "POST"):
            with self.lock:
                return list(self.app(environ, start_response))
        result: Iterable[bytes] = self.app(environ, start_response)
        return result


_Server = TypeVar("_Server", bound="_BackgroundServer")


class _BackgroundServer:
    """A server answering from a daemon thread; subclasses set `_server` and `_thread`."""

    _server: BaseWSGIServer | ThreadingHTTPServer
    _thread: threading.Thread

    def start(self: _Server) -> _Server:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self: _Server) -> _Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class S3Server(_BackgroundServer):
    """moto's S3 over HTTP on 127.0.0.1, on a free port, in a daemon thread."""

    def __init__(self) -> None:
        app = _AtomicConditionalWrites(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_QuietMotoHandler
        )
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-s3", daemon=True
        )

    def client(self) -> Any:
        """A boto3 client that talks to the server directly (not through any proxy)."""
        return boto3.session.Session(
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            region_name=REGION,
        ).client("s3", endpoint_url=self.endpoint)

    def create_bucket(self, name: str) -> None:
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        finally:
            client.close()


_ERROR_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
    "<Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
)


class FaultProxy(_BackgroundServer):
    """An HTTP proxy to `target` that fails every `fail_every`-th request (0: none).

    Failures cycle through `modes`: "503" (SlowDown), "500" (InternalError),
    "drop" (connection closed, request never forwarded), "lost" (forwarded and
    applied, then the connection is closed before the answer) and "truncate"
    (a GET's body cut in half; other requests are treated as "lost").
    """

    MODES = ("503", "drop", "500", "lost", "truncate")

    def __init__(
        self,
        target: str,
        *,
        fail_every: int = 0,
        modes: tuple[str, ...] = MODES,
        strip_conditional: bool = False,
        reject_conditional: bool = False,
    ) -> None:
        self.target = target.removeprefix("http://")
        self.fail_every = fail_every
        self.modes = modes
        self.strip_conditional = strip_conditional
        self.reject_conditional = reject_conditional
        self.requests = 0
        # Requests by kind: GET, PUT, HEAD, DELETE, POST, and LIST (a GET with list-type).
        self.by_kind: collections.Counter[str] = collections.Counter()
        self.failures: dict[str, int] = dict.fromkeys(modes, 0)
        # Body bytes received, by (method or LIST, sender): "boto3" for a process with credentials
        # (botocore's User-Agent), "other" for the holder of a presigned URL.
        self.received: collections.Counter[tuple[str, str]] = collections.Counter()
        # Answer 403 to every request not from botocore (an expired or foreign presigned URL).
        self.refuse_presigned = False
        # Requests, by the same (method or LIST, sender).
        self.senders: collections.Counter[tuple[str, str]] = collections.Counter()
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="s3-fault-proxy", daemon=True
        )

    def next_fault(self, kind: str = "") -> str | None:
        """Count one request; return the fault to inject into it, if any."""
        with self._lock:
            n = next(self._counter)
            self.requests = n
            self.by_kind[kind] += 1
            if self.fail_every <= 0 or n % self.fail_every:
                return None
            mode = self.modes[(n // self.fail_every - 1) % len(self.modes)]
            self.failures[mode] = self.failures.get(mode, 0) + 1
            return mode

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: FaultProxy

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the proxy's counters say what happened."""

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _drop(self) -> None:
        self.close_connection = True
        # An abortive close: the client sees a reset, as from a failing load balancer.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _error(self, status: int, code: str, message: str) -> None:
        body = _ERROR_BODY.format(code=code, message=message).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        owner = self.owner
        body = self._read_body()
        listing = self.command == "GET" and "list-type=" in self.path
        sender = "boto3" if "botocore" in self.headers.get("User-Agent", "").lower() else "other"
        with owner._lock:
            owner.received["LIST" if listing else self.command, sender] += len(body)
            owner.senders["LIST" if listing else self.command, sender] += 1
        if sender == "other" and owner.refuse_presigned:
            return self._error(403, "AccessDenied", "Request has expired")
        fault = owner.next_fault("LIST" if listing else self.command)
        conditional = "If-None-Match" in self.headers and self.command in ("PUT", "POST")
        if fault == "503":
            return self._error(503, "SlowDown", "Please reduce your request rate.")
        if fault == "500":
            return self._error(500, "InternalError", "We encountered an internal error.")
        if fault == "drop":
            return self._drop()
        if conditional and owner.reject_conditional:
            return self._error(501, "NotImplemented", "If-None-Match is not implemented")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        if conditional and owner.strip_conditional:
            headers.pop("If-None-Match", None)
        headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(owner.target, timeout=60)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            status, reply_headers = response.status, response.getheaders()
        finally:
            upstream.close()
        if fault == "lost" or (fault == "truncate" and (self.command != "GET" or len(data) < 2)):
            return self._drop()
        self.send_response(status)
        for name, value in reply_headers:
            if name.lower() in _HOP_BY_HOP or name.lower() == "content-length":
                continue
            self.send_header(name, value)
        if self.command == "HEAD" or status in (204, 304):
            length = dict((k.lower(), v) for k, v in reply_headers).get("content-length", "0")
            self.send_header("Content-Length", length)
            self.end_headers()
            return None
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if fault == "truncate":
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            return self._drop()
        self.wfile.write(data)
        return None


def s3_environment(endpoint: str) -> dict[str, str]:
    """The environment a process needs to reach `endpoint` with the test credentials."""
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AUTOLOG_S3_ENDPOINT_URL": endpoint,
        # Keep a developer's own AWS set-up out of the tests.
        "AWS_CONFIG_FILE": "/nonexistent/autolog-test-aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/autolog-test-aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


#: AWS variables of the developer's environment that tests must not see.
UNSET_AWS = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
)
