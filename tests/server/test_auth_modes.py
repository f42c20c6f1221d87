"""The authentication modes, the administration commands, the web sign-in and the client's token.

Real server processes on 127.0.0.1; `autolog server ...` commands run as child processes.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sklearn.linear_model import LogisticRegression
from trackingserver import ServerProcess, migrated_sqlite

import autolog

N = "/api/autolog/v1"


def cli(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autolog", *args], input=stdin, capture_output=True, text=True,
        timeout=120, env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.fixture(scope="module")
def no_cache() -> Iterator[None]:
    """Servers started in this module check the database on every request (no 5 s cache)."""
    os.environ["AUTOLOG_SERVER_AUTH_CACHE"] = "0"
    yield
    del os.environ["AUTOLOG_SERVER_AUTH_CACHE"]


@pytest.fixture(scope="module")
def token_server(
    tmp_path_factory: pytest.TempPathFactory, no_cache: None
) -> Iterator[tuple[ServerProcess, str, str]]:
    """A `--auth token` server set up by `autolog server init`: (server, store, admin token)."""
    root = tmp_path_factory.mktemp("modes")
    store = f"sqlite:///{root / 'autolog.db'}"
    init = cli("server", "init", "--store", store)
    assert init.returncode == 0, init.stderr
    token = init.stdout.strip()
    server = ServerProcess(store, root / "artifacts").start("--auth", "token")
    yield server, store, token
    server.stop()


# -- modes and commands ---------------------------------------------------------------------------


def test_auth_none_is_refused_off_loopback(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'db.sqlite'}"
    for args, words in (
        (["--host", "0.0.0.0", "--auth", "none"], ["--auth none", "0.0.0.0", "--auth token"]),
        (["--host", "10.1.2.3", "--auth", "none"], ["refused"]),
        (["--auth", "proxy"], ["--proxy-header", "--trusted-proxy"]),
        (
            ["--auth", "proxy", "--proxy-header", "X-User", "--trusted-proxy", "nowhere"],
            ["nowhere"],
        ),
    ):
        done = cli("server", "--store", store, "--port", "1", *args)
        assert done.returncode == 2 and all(w in done.stderr for w in words), done.stderr


def test_token_is_the_default_off_loopback() -> None:
    from autolog._cli.main import build_parser
    from autolog._cli.server import _auth_environment

    def env(*args: str) -> dict[str, str]:
        return _auth_environment(build_parser().parse_args(["server", *args]))

    assert env()["AUTOLOG_SERVER_AUTH"] == "none"
    assert env()["AUTOLOG_SERVER_ALLOWED_HOSTS"] == "localhost,127.0.0.1,::1"
    wide = env("--host", "0.0.0.0", "--allowed-host", "Tracker.Example.com")
    assert wide["AUTOLOG_SERVER_AUTH"] == "token"
    assert wide["AUTOLOG_SERVER_ALLOWED_HOSTS"] == "tracker.example.com"
    assert env("--host", "::1")["AUTOLOG_SERVER_AUTH"] == "none"
    assert env("--host", "10.0.0.2")["AUTOLOG_SERVER_AUTH"] == "token"


def test_init_prints_one_token_and_stores_only_its_hash(
    token_server: tuple[ServerProcess, str, str],
) -> None:
    server, store, token = token_server
    assert re.fullmatch(r"alt_[A-Za-z0-9_-]{43}", token)
    again = cli("server", "init", "--store", store)
    assert (
        again.returncode == 2
        and "initialized already" in again.stderr
        and "alt_" not in again.stdout
    )
    listed = cli("server", "token", "list", "--store", store)
    assert listed.returncode == 0 and "admin" in listed.stdout and token not in listed.stdout
    db = Path(store.removeprefix("sqlite:///"))
    assert all(token.encode() not in p.read_bytes() for p in db.parent.glob("autolog.db*"))
    ok = requests.get(
        server.url + f"{N}/experiments", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert ok.status_code == 200
    assert requests.get(server.url + f"{N}/experiments", timeout=30).status_code == 401


def test_users_groups_grants_and_revocation_from_the_cli(
    token_server: tuple[ServerProcess, str, str],
) -> None:
    server, store, _ = token_server
    steps = [
        ["user", "add", "ann"], ["user", "add", "bob"], ["group", "add", "team"],
        ["group", "member", "team", "bob"], ["default-role", "none"],
    ]  # fmt: skip
    for step in steps:
        done = cli("server", *step, "--store", store)
        assert done.returncode == 0, (step, done.stderr)
    ann = cli("server", "token", "create", "--user", "ann", "--store", store).stdout.strip()
    bob = cli("server", "token", "create", "--user", "bob", "--store", store).stdout.strip()

    def get(path: str, token: str, **kw: object) -> requests.Response:
        return requests.get(
            server.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30, **kw
        )  # type: ignore[arg-type]

    made = requests.post(server.url + f"{N}/experiments", json={"name": "ann-exp"},
                         headers={"Authorization": f"Bearer {ann}"}, timeout=30)  # fmt: skip
    assert made.status_code == 200
    assert get(f"{N}/experiment", bob, params={"name_or_id": "ann-exp"}).status_code == 404
    granted = cli(
        "server", "grant", "experiment", "ann-exp", "reader", "--group", "team", "--store", store
    )
    assert granted.returncode == 0, granted.stderr
    assert get(f"{N}/experiment", bob, params={"name_or_id": "ann-exp"}).status_code == 200
    assert cli("server", "user", "disable", "bob", "--store", store).returncode == 0
    assert get(f"{N}/experiments", bob).status_code == 401
    ann_id = next(
        line.split()[0]
        for line in cli(
            "server", "token", "list", "--user", "ann", "--store", store
        ).stdout.splitlines()[1:2]
    )
    assert cli("server", "token", "revoke", ann_id, "--store", store).returncode == 0
    assert get(f"{N}/experiments", ann).status_code == 401


def test_proxy_mode_believes_the_header_from_trusted_addresses_only(
    tmp_path: Path, no_cache: None
) -> None:
    store = migrated_sqlite(tmp_path / "db.sqlite")
    trusted = ServerProcess(store, tmp_path / "a1").start(
        "--auth", "proxy", "--proxy-header", "X-Remote-User", "--trusted-proxy", "127.0.0.0/8"
    )
    try:
        resp = requests.post(trusted.url + f"{N}/experiments", json={"name": "sso"},
                             headers={"X-Remote-User": "carol"}, timeout=30)  # fmt: skip
        assert resp.status_code == 200, resp.text
        assert requests.get(trusted.url + f"{N}/experiments", timeout=30).status_code == 401
        other = requests.get(
            trusted.url + f"{N}/experiments", headers={"X-Remote-User": "dave"}, timeout=30
        )
        assert "sso" not in other.text  # dave was made a user, and carol owns "sso"
    finally:
        trusted.stop()
    untrusted = ServerProcess(store, tmp_path / "a2").start(
        "--auth", "proxy", "--proxy-header", "X-Remote-User", "--trusted-proxy", "10.9.9.9"
    )
    try:
        resp = requests.get(
            untrusted.url + f"{N}/experiments", headers={"X-Remote-User": "carol"}, timeout=30
        )
        assert resp.status_code == 401 and "not a trusted proxy" in resp.text
    finally:
        untrusted.stop()


def test_cors_only_for_configured_origins(tmp_path: Path) -> None:
    store = migrated_sqlite(tmp_path / "db.sqlite")
    server = ServerProcess(store, tmp_path / "a").start("--cors-origin", "https://app.example")
    try:
        for origin, allowed in (("https://app.example", True), ("https://evil.example", False)):
            pre = requests.options(
                server.url + f"{N}/experiments",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
                timeout=30,
            )
            assert (pre.headers.get("access-control-allow-origin") == origin) == allowed
    finally:
        server.stop()


# -- the web sign-in -----------------------------------------------------------------------------


def test_web_sign_in_sets_a_strict_cookie_that_never_writes_the_api(
    token_server: tuple[ServerProcess, str, str],
) -> None:
    server, store, _ = token_server
    added = cli(
        "server",
        "user",
        "add",
        "webby",
        "--password-stdin",
        "--store",
        store,
        stdin="correct horse\n",
    )
    assert added.returncode == 0, added.stderr
    web = requests.Session()
    form = web.get(server.url + "/login?next=/experiments", timeout=30)
    assert (
        form.status_code == 200
        and "<script" not in form.text
        and " on" not in form.text.lower().replace(" one", "")
    )
    csrf = re.search(r"name=csrf value=([\w-]+)", form.text)
    assert csrf is not None
    data = {"csrf": csrf.group(1), "user": "webby", "password": "wrong password", "next": "/x"}
    assert (
        web.post(server.url + "/login", data=data, allow_redirects=False, timeout=30).status_code
        == 401
    )
    csrf = re.search(r"name=csrf value=([\w-]+)", web.get(server.url + "/login", timeout=30).text)
    assert csrf is not None
    forged = requests.post(server.url + "/login", data={**data, "password": "correct horse"},
                           allow_redirects=False, timeout=30)  # fmt: skip
    assert forged.status_code == 403  # no nonce cookie: a form posted from another site
    data = {**data, "csrf": csrf.group(1), "password": "correct horse", "next": "//evil.example/"}
    signed = web.post(server.url + "/login", data=data, allow_redirects=False, timeout=30)
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    cookie = signed.headers["set-cookie"]
    assert (
        "autolog_session=" in cookie
        and "HttpOnly" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
    )
    assert web.get(server.url + f"{N}/experiments", timeout=30).status_code == 200
    write = web.post(server.url + f"{N}/experiments", json={"name": "from-a-cookie"}, timeout=30)
    assert write.status_code == 403 and "bearer token" in write.text
    value = web.cookies["autolog_session"]
    tampered = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    assert (
        requests.get(
            server.url + f"{N}/experiments", cookies={"autolog_session": tampered}, timeout=30
        ).status_code
        == 401
    )
    web.post(server.url + "/logout", timeout=30)
    assert web.get(server.url + f"{N}/experiments", timeout=30).status_code == 401


# -- the client's token --------------------------------------------------------------------------


def test_the_token_never_reaches_runs_logs_or_messages(
    token_server: tuple[ServerProcess, str, str], spool_dir: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    server, store, token = token_server
    monkeypatch.setenv("AUTOLOG_TRACKING_URI", server.url)
    monkeypatch.setenv("AUTOLOG_TRACKING_TOKEN", token)
    caplog.set_level(logging.DEBUG)
    autolog.set_experiment("leak-check")
    with autolog.start_run("leak") as run:
        autolog.log_params({"C": 0.5})
        autolog.log_metric("loss", 0.1)
        autolog.log_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), "model")
    version = autolog.register_model(f"runs:/{run.id}/model", "leak-model")
    autolog.set_alias("leak-model", "champion", version.version)
    stored = autolog.get_run(run.id)
    assert stored.params == {"C": "0.5"}
    # The wrong token: refused, and the message does not repeat it.
    wrong = f"alt_{uuid.uuid4().hex}"
    monkeypatch.setenv("AUTOLOG_TRACKING_TOKEN", wrong)
    monkeypatch.setenv("AUTOLOG_TRACKING_URI", server.url.replace("127.0.0.1", "localhost"))
    with pytest.raises(autolog.errors.AutologError) as refused:
        autolog.get_run(run.id)
    assert wrong not in str(refused.value) and "token" in str(refused.value)
    places = [Path(store.removeprefix("sqlite:///")).parent, spool_dir]
    files = [p for place in places for p in place.rglob("*") if p.is_file()]
    assert len(files) > 5
    texts = [str(stored), caplog.text, *(p.read_bytes().decode("latin-1") for p in files)]
    for secret in (token, wrong):
        assert not [t[:80] for t in texts if secret in t]


def test_login_keeps_the_token_readable_by_its_owner_only(
    token_server: tuple[ServerProcess, str, str], tmp_path: Path
) -> None:
    server, _, token = token_server
    creds = tmp_path / "cfg" / "credentials"
    env = {"AUTOLOG_CREDENTIALS": str(creds), "AUTOLOG_TRACKING_TOKEN": ""}
    bad = cli("login", server.url, "--token-stdin", stdin="alt_wrong\n", env=env)
    assert bad.returncode == 2 and "refused the token" in bad.stderr and not creds.exists()
    done = cli("login", server.url, "--token-stdin", stdin=token + "\n", env=env)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600 and token not in done.stderr + done.stdout
    listed = cli("runs", "--tracking-uri", server.url, env=env)
    assert listed.returncode == 0, listed.stderr
    creds.chmod(0o644)
    loose = cli("runs", "--tracking-uri", server.url, env=env)
    assert loose.returncode == 2 and "chmod 600" in loose.stderr
