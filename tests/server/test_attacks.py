"""The attack classes seen against tracking servers, each refused by a real server process.

Path traversal in artifact paths, client-supplied storage locations, SSRF, unpickling,
DNS rebinding, CORS, clickjacking, oversized and malformed requests, token guessing.
The route lists are data: the MLflow-compatible routes join them when they are served.
"""

from __future__ import annotations

import ast
import http.client
import json
import pickle
import socket
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from trackingserver import Postgres, ServerProcess, migrated_sqlite

from autolog.backends.sql.auth import AuthStore

N = "/api/autolog/v1"
M = "/api/2.0/mlflow"
A = "/api/2.0/mlflow-artifacts/artifacts"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Target:
    server: ServerProcess
    root: Path
    token: str
    run: str
    experiment: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def raw(
        self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """A request with the target sent exactly as written (no client normalization)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            has_host = any(k.lower() == "host" for k in headers or {})
            conn.putrequest(method, target, skip_host=has_host, skip_accept_encoding=True)
            for k, v in {**self.auth, **(headers or {}), "Content-Length": str(len(body))}.items():
                conn.putheader(k, v)
            conn.endheaders(body)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def post(self, path: str, body: Any) -> requests.Response:
        return requests.post(self.server.url + path, json=body, headers=self.auth, timeout=30)


def stamp() -> dict[str, int]:
    """The times autolog's registry writes on a model or version record."""
    ns = time.time_ns()
    return {"created_at": ns // 1_000_000, "created_ns": ns}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("attacks")
    if request.param == "sqlite":
        store = migrated_sqlite(root / "autolog.db")
    else:
        pg: Postgres = request.getfixturevalue("postgres")
        store = pg.create_database(f"x_{uuid.uuid4().hex[:12]}", template="migrated")
    auth = AuthStore(store)
    auth.add_user("root", admin=True)
    token = auth.create_token("root")[1]
    auth.close()
    server = ServerProcess(store, root / "artifacts").start("--auth", "token")
    found = Target(server, root, token, uuid.uuid4().hex)
    meta = {"id": found.run, "experiment_id": "e1", "experiment_name": None, "name": "r",
            "start_time": 1, "parent_id": None}  # fmt: skip
    assert found.post(f"{N}/experiments", {"name": "attacks"}).status_code == 200
    meta["experiment_id"] = found.post(f"{N}/experiments", {"name": "attacks"}).json()["id"]
    found.experiment = str(meta["experiment_id"])
    assert found.post(f"{N}/ingest", {"entries": [{"type": "create", "run": meta}]}).json()[
        "results"
    ] == [{"ok": True}]
    status, _ = found.raw("PUT", f"{N}/runs/{found.run}/artifacts/model/MLmodel", b"flavors: {}")
    assert status == 200
    yield found
    server.stop()


# -- path traversal -------------------------------------------------------------------------------

TRAVERSALS = [
    "../../../../../../etc/passwd",
    "..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e/%252e%252e/%252e%252e/etc/passwd",
    "..%5c..%5c..%5c..%5cetc%5cpasswd",
    "..\\..\\..\\..\\etc\\passwd",
    "model/MLmodel%00/../../../../etc/passwd",
    "model%23/../../../../../etc/passwd",
    "model%3f/../../../../../etc/passwd",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "//proc/self/root/etc/passwd",
    "model/../../../../../../proc/self/root/etc/passwd",
    "....//....//....//etc/passwd",
    "model/./MLmodel/../../../../etc/passwd",
]

#: Routes that read an artifact path: (method, URL with {run} and {path}, where the path goes).
ARTIFACT_READS = [
    ("GET", N + "/runs/{run}/artifacts/{path}"),
    ("GET", N + "/runs/{run}/artifact-list?path={path}"),
    ("GET", A + "/{exp}/{run}/artifacts/{path}"),
    ("GET", A + "/{path}"),
    ("GET", A + "?path={exp}/{run}/artifacts/{path}"),
    ("GET", A + "?path={path}"),
    ("GET", M + "/artifacts/list?run_id={run}&path={path}"),
]
ARTIFACT_WRITES = [
    ("PUT", N + "/runs/{run}/artifacts/{path}"),
    ("PUT", A + "/{exp}/{run}/artifacts/{path}"),
    ("PUT", A + "/{path}"),
]


@pytest.mark.parametrize("payload", TRAVERSALS)
@pytest.mark.parametrize(("method", "route"), ARTIFACT_READS)
def test_path_traversal_reads_nothing_outside(
    target: Target, method: str, route: str, payload: str
) -> None:
    status, body = target.raw(
        method, route.format(run=target.run, exp=target.experiment, path=payload)
    )
    assert status < 500 and b"root:" not in body, (status, body[:200])
    if status == 200:  # only a plain name inside the run ('....' is one): nothing there
        assert json.loads(body)["files"] == [], body[:200]
    else:
        assert 400 <= status < 500, (status, body[:200])


@pytest.mark.parametrize("payload", TRAVERSALS)
@pytest.mark.parametrize(("method", "route"), ARTIFACT_WRITES)
def test_path_traversal_writes_nothing_outside(
    target: Target, method: str, route: str, payload: str
) -> None:
    name = f"autolog-evil-{uuid.uuid4().hex[:8]}"
    evil = payload.replace("etc/passwd", f"tmp/{name}").replace("etc%2fpasswd", f"tmp%2f{name}")
    evil = evil.replace("etc%5cpasswd", f"tmp%5c{name}").replace("etc\\passwd", f"tmp\\{name}")
    status, body = target.raw(
        method, route.format(run=target.run, exp=target.experiment, path=evil), b"owned"
    )
    written = [p for p in (Path("/tmp") / name, target.root / name) if p.exists()]
    assert not written
    if status == 200:
        # Accepted only as a plain name inside the run (a '%2e' kept literally, say).
        inside = target.root / "artifacts" / "runs" / target.run / "artifacts"
        for found in target.root.rglob(f"*{name}*"):
            assert found.resolve().is_relative_to(inside.resolve()), found
        stored = json.loads(body).get("path", "")
        assert ".." not in stored.split("/") and not stored.startswith("/"), stored
    else:
        assert 400 <= status < 500, (status, body[:200])


def test_symlinks_inside_the_store_are_not_followed(target: Target) -> None:
    run_dir = target.root / "artifacts" / "runs" / target.run / "artifacts"
    (run_dir / "link.txt").symlink_to("/etc/passwd")
    (run_dir / "linkdir").symlink_to("/etc")
    try:
        for path in ("link.txt", "linkdir/passwd"):
            status, body = target.raw("GET", f"{N}/runs/{target.run}/artifacts/{path}")
            assert 400 <= status < 500 and b"root:" not in body, (path, status)
        status, body = target.raw("GET", f"{N}/runs/{target.run}/artifact-list?path=linkdir")
        assert 400 <= status < 500 and b"passwd" not in body
        status, _ = target.raw("PUT", f"{N}/runs/{target.run}/artifacts/linkdir/evil", b"x")
        assert 400 <= status < 500 and not Path("/etc/evil").exists()
    finally:
        (run_dir / "link.txt").unlink()
        (run_dir / "linkdir").unlink()


# -- client-supplied storage locations and SSRF ----------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A socket that would see any outbound connection the server made to it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    sock.setblocking(False)
    yield sock
    sock.close()


def bad_sources(target: Target, port: int) -> list[dict[str, Any]]:
    run = target.run
    return [
        {"run_id": run, "artifact_path": "model", "source": "file:///etc"},
        {"run_id": run, "artifact_path": "model", "source": "/etc/passwd"},
        {"run_id": run, "artifact_path": "model", "source": "s3://someone-else/models"},
        {
            "run_id": run,
            "artifact_path": "model",
            "source": "http://169.254.169.254/latest/meta-data/",
        },
        {"run_id": run, "artifact_path": "model", "source": f"http://127.0.0.1:{port}/x"},
        {"run_id": run, "artifact_path": "model", "source": f"runs:/{run}/../../etc"},
        {"run_id": run, "artifact_path": "../../etc", "source": f"runs:/{run}/../../etc"},
        {"run_id": "../x", "artifact_path": "model", "source": "runs:/../x/model"},
        {"run_id": uuid.uuid4().hex, "artifact_path": "model", "source": "runs:/unknown/model"},
        {"source": f"http://127.0.0.1:{port}/x"},
    ]


def test_model_version_sources_outside_the_servers_runs_are_refused(
    target: Target, listener: socket.socket
) -> None:
    name = f"m-{uuid.uuid4().hex[:6]}"
    assert target.post(f"{N}/registry/models", {"name": name, "meta": stamp()}).json()["created"]
    for record in bad_sources(target, listener.getsockname()[1]):
        body = {"name": name, "record": {**record, **stamp()}}
        resp = target.post(f"{N}/registry/versions", body)
        assert 400 <= resp.status_code < 500, (record, resp.text)
    good = {"run_id": target.run, "artifact_path": "model", "source": f"runs:/{target.run}/model",
            **stamp()}  # fmt: skip
    assert target.post(f"{N}/registry/versions", {"name": name, "record": good}).status_code == 200
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected: the server made no outbound request


def bad_mlflow_sources(target: Target, port: int) -> list[str]:
    run, exp = target.run, target.experiment
    return [
        "file:///etc",
        "/etc/passwd",
        "s3://someone-else/models",
        "http://169.254.169.254/latest/meta-data/",
        f"http://127.0.0.1:{port}/x",
        f"runs:/{run}/../../etc",
        "runs:/../x/model",
        f"runs:/{uuid.uuid4().hex}/model",
        "models:/m-0123456789abcdef",
        "models:/../../etc",
        "mlflow-artifacts:/../../etc/passwd",
        f"mlflow-artifacts://127.0.0.1:{port}/x",
        f"mlflow-artifacts:/{exp}/{run}/artifacts/../../../../etc",
        f"mlflow-artifacts:/{exp}/../../../etc/passwd",
    ]


def test_mlflow_model_version_sources_outside_the_servers_runs_are_refused(
    target: Target, listener: socket.socket
) -> None:
    name = f"m-{uuid.uuid4().hex[:6]}"
    assert target.post(f"{M}/registered-models/create", {"name": name}).status_code == 200
    for source in bad_mlflow_sources(target, listener.getsockname()[1]):
        resp = target.post(f"{M}/model-versions/create", {"name": name, "source": source})
        assert 400 <= resp.status_code < 500, (source, resp.text)
    good = {"name": name, "source": f"runs:/{target.run}/model", "run_id": target.run}
    resp = target.post(f"{M}/model-versions/create", good)
    assert resp.status_code == 200, resp.text
    with pytest.raises(BlockingIOError):
        listener.accept()


#: Routes where a client could name a storage location: (path, body with {url}).
STORAGE_LOCATIONS: list[tuple[str, dict[str, Any]]] = [
    (N + "/experiments", {"name": "ssrf-{n}", "artifact_location": "{url}"}),
    (M + "/experiments/create", {"name": "ssrf-{n}", "artifact_location": "{url}"}),
    (M + "/model-versions/create", {"name": "ssrf-{n}", "source": "{url}"}),
    (M + "/model-versions/create", {"name": "ssrf-{n}", "source": "runs:/{url}"}),
]


@pytest.mark.parametrize(("route", "body"), STORAGE_LOCATIONS)
def test_no_outbound_request_for_a_client_location(
    target: Target, listener: socket.socket, route: str, body: dict[str, Any]
) -> None:
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/latest/meta-data"
    for location in (url, "http://169.254.169.254/latest/meta-data/", "file:///etc"):
        filled = json.loads(
            json.dumps(body).replace("{url}", location).replace("{n}", uuid.uuid4().hex[:6])
        )
        resp = target.post(route, filled)
        assert resp.status_code < 500
        # Accepted or refused, the location is never where the server stores anything.
        assert location not in resp.text or resp.status_code >= 400
    with pytest.raises(BlockingIOError):
        listener.accept()


# -- deserialization ------------------------------------------------------------------------------


class Boom:
    """Unpickling this writes a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (Path(self.marker), "unpickled"))


def test_the_server_never_unpickles(target: Target) -> None:
    marker = target.root / f"unpickled-{uuid.uuid4().hex[:6]}"
    payload = pickle.dumps(Boom(str(marker)))
    for path in ("model/model.pkl", "model/model.joblib", "model/python_model.pkl"):
        assert target.raw("PUT", f"{N}/runs/{target.run}/artifacts/{path}", payload)[0] == 200
    name = f"pickled-{uuid.uuid4().hex[:6]}"
    target.post(f"{N}/registry/models", {"name": name, "meta": stamp()})
    record = {"run_id": target.run, "artifact_path": "model", "source": f"runs:/{target.run}/model",
              **stamp()}  # fmt: skip
    assert (
        target.post(f"{N}/registry/versions", {"name": name, "record": record}).status_code == 200
    )
    run = f"{N}/runs/{target.run}"
    reads = [f"{N}/registry/model?name={name}", f"{N}/registry/models", run,
             f"{run}/artifacts/model/model.pkl", f"{run}/artifact-list?path=model"]  # fmt: skip
    for path in reads:
        assert target.raw("GET", path)[0] == 200
    assert not marker.exists()


def test_no_server_module_can_unpickle() -> None:
    banned = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "skops", "autolog._models"}
    found = []
    for path in (ROOT / "autolog" / "_server").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            found += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in banned or n in banned
            ]
    assert not found


# -- browser side ---------------------------------------------------------------------------------


def test_a_foreign_host_name_is_refused(target: Target) -> None:
    """DNS rebinding: a page of evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    for host in ("evil.example", f"evil.example:{target.server.port}", "127.0.0.1.evil.example"):
        status, body = target.raw("GET", f"{N}/experiments", headers={"Host": host})
        assert status == 400 and b"--allowed-host" in body
    for host in (f"127.0.0.1:{target.server.port}", f"localhost:{target.server.port}"):
        assert target.raw("GET", f"{N}/experiments", headers={"Host": host})[0] == 200


def test_no_cors_unless_configured(target: Target) -> None:
    origin = {"Origin": "http://evil.example"}
    pre = requests.options(
        target.server.url + f"{N}/experiments",
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
        timeout=30,
    )
    get = requests.get(
        target.server.url + f"{N}/experiments", headers={**origin, **target.auth}, timeout=30
    )
    for resp in (pre, get):
        assert not any(h.lower().startswith("access-control-") for h in resp.headers)


@pytest.mark.parametrize(
    ("path", "auth"),
    [
        (f"{N}/health", True),
        (f"{N}/experiments", True),
        (f"{N}/experiments", False),
        (f"{N}/no-such-route", True),
        ("/login", False),
    ],
)
def test_security_headers_on_every_reply(target: Target, path: str, auth: bool) -> None:
    resp = requests.get(target.server.url + path, headers=target.auth if auth else {}, timeout=30)
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    csp = dict(p.strip().split(" ", 1) for p in resp.headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp["default-src"]


# -- resource exhaustion and malformed requests ---------------------------------------------------


def test_a_declared_huge_body_is_refused_before_it_is_read(target: Target) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", target.server.port, timeout=30)
    conn.putrequest("POST", f"{N}/ingest")
    for k, v in {
        **target.auth,
        "Content-Length": str(10**12),
        "Content-Type": "application/json",
    }.items():
        conn.putheader(k, v)
    conn.endheaders(b"{")
    assert conn.getresponse().status == 413
    conn.close()


def gzip_bomb(megabytes: int) -> bytes:
    """A small gzip body that expands to `megabytes` MB (over the server's body limit)."""
    out = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"0" * 1024 * 1024
    return b"".join([*(out.compress(chunk) for _ in range(megabytes)), out.flush()])


MALFORMED: list[tuple[str, bytes, dict[str, str]]] = [
    ("not json", b"{not json", {}),
    ("an array", b"[1, 2]", {}),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, {}),
    ("bad utf-8", b'{"name": "\xff\xfe"}', {}),
    ("gzip bomb", gzip_bomb(300), {"Content-Encoding": "gzip"}),
    ("bad gzip", b"\x1f\x8bnot gzip", {"Content-Encoding": "gzip"}),
    ("unknown encoding", b"{}", {"Content-Encoding": "br"}),
    (
        "wrong types",
        b'{"name": 5, "entries": "x", "experiment_ids": 3, "max_results": "a",'
        b' "record": [], "event": 1, "meta": null, "filter": 7, "order_by": 8}',
        {},
    ),
]
#: Bodies wrong for one route only.
MALFORMED_FOR = {
    f"{N}/ingest": [("too many entries", json.dumps({"entries": [{}] * 10_001}).encode(), {})],
    f"{N}/runs/search": [("huge page", b'{"max_results": 1000000000}', {})],
    f"{M}/runs/create": [
        ("its fields' wrong types", b'{"experiment_id": [], "start_time": "x", "tags": 3}', {})
    ],
}
#: Routes none of whose fields the generic "wrong types" body names: it is a valid request there
#: (MLflow's runs/create needs no field at all).
NO_GENERIC_FIELDS = {f"{M}/runs/create"}
POST_ROUTES = [
    f"{N}/{p}"
    for p in ("experiments", "ingest", "runs/list", "runs/search", "registry/models",
              "registry/versions", "registry/events")
] + [
    f"{M}/{p}"
    for p in ("experiments/create", "experiments/search", "experiments/set-experiment-tag",
              "runs/create", "runs/update", "runs/log-batch", "runs/log-metric", "runs/search",
              "runs/log-inputs", "logged-models", "logged-models/search",
              "registered-models/create", "registered-models/get-latest-versions",
              "model-versions/create")
]  # fmt: skip


@pytest.mark.parametrize("route", POST_ROUTES)
def test_malformed_requests_get_a_4xx(target: Target, route: str) -> None:
    generic = [m for m in MALFORMED if not (m[0] == "wrong types" and route in NO_GENERIC_FIELDS)]
    for what, body, headers in generic + MALFORMED_FOR.get(route, []):
        status, reply = target.raw(
            "POST", route, body, {"Content-Type": "application/json", **headers}
        )
        assert 400 <= status < 500, (what, status, reply[:300])


def test_odd_requests_get_a_4xx(target: Target) -> None:
    checks = [
        ("GET", f"{N}/runs/{'x' * 5000}", {}),
        ("GET", f"{N}/runs/%ff%fe", {}),
        ("GET", f"{N}/experiment?name_or_id=" + "a" * 10_000, {}),
        ("GET", f"{N}/registry/model?name=%00", {}),
        ("GET", f"{N}/experiments", {"Authorization": "Bearer " + "x" * 20_000}),
        ("GET", f"{N}/experiments", {"Authorization": "Basic YWRtaW46cGFzc3dvcmQxMjM0"}),
        ("GET", f"{N}/runs/{target.run}/metric-history?key=" + "k" * 5000, {}),
    ]
    for method, path, headers in checks:
        status, reply = target.raw(method, path, headers=headers)
        assert 200 <= status < 500, (path[:80], status, reply[:200])


def test_failed_token_checks_are_rate_limited(target: Target) -> None:
    """Last in the module: it exhausts this address's allowance of failures."""
    statuses = []
    for _ in range(40):
        resp = requests.get(
            target.server.url + f"{N}/experiments",
            headers={"Authorization": f"Bearer alt_{uuid.uuid4().hex}"},
            timeout=30,
        )
        statuses.append(resp.status_code)
    assert set(statuses) == {401, 429} and statuses[-1] == 429
    # The good token still works (it was seen valid before).
    assert requests.get(target.server.url + f"{N}/experiments", headers=target.auth, timeout=30).ok
