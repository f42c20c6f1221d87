"""The web UI of `autolog server --auth token` in headless Chromium: signing in and out, and
what a reader of a model is shown (no forms that change it).

The users are made as an administrator makes them: `autolog server init`, then
`autolog server user add NAME --password-stdin` and `autolog server grant`. The data is
logged through the MLflow REST API with the administrator's token. Every scenario ends with
no console errors and a screenshot under build/screenshots/.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from ui_support import Browser, Served, free_port

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
M = "/api/2.0/mlflow"


def autolog_cli(*args: str, stdin: str = "") -> str:
    """Run `autolog ARGS` in a child process; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "autolog", *args],
        input=stdin, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@dataclass
class Site:
    served: Served
    experiment: str  # id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("ui-auth")
    store = f"sqlite:///{root / 'db.sqlite'}"
    token = autolog_cli("server", "init", "--store", store).split()[-1]
    for user in ("maria", "rita"):
        autolog_cli("server", "user", "add", user, "--password-stdin", "--store", store,
                    stdin=PASSWORD + "\n")  # fmt: skip
    port = free_port()
    served = Served(
        ["server", "--store", store, "--artifacts", str(root / "artifacts"), "--port", str(port),
         "--auth", "token"],
        port, root / "server.log", "/api/autolog/v1/health",
    )  # fmt: skip
    try:
        admin = {"Authorization": f"Bearer {token}"}

        def call(method: str, route: str, body: dict[str, Any]) -> Any:
            resp = requests.request(method, served.url + M + route, json=body, headers=admin,
                                    timeout=30)  # fmt: skip
            assert resp.status_code == 200, resp.text
            return resp.json()

        exp = call("POST", "/experiments/create", {"name": "ui-auth"})["experiment_id"]
        now = int(time.time() * 1000)
        runs = [
            call("POST", "/runs/create", {"experiment_id": exp, "run_name": f"r{i}",
                                          "start_time": now})["run"]["info"]["run_id"]
            for i in (1, 2)
        ]  # fmt: skip
        call("POST", "/registered-models/create", {"name": "cancer"})
        for run in runs:
            body = {"name": "cancer", "source": f"runs:/{run}/model", "run_id": run}
            call("POST", "/model-versions/create", body)
        call("POST", "/registered-models/alias", {"name": "cancer", "alias": "champion",
                                                  "version": "1"})  # fmt: skip
        grants = [("model", "cancer", "maintainer", "maria"), ("model", "cancer", "reader", "rita"),
                  ("experiment", "ui-auth", "reader", "rita")]  # fmt: skip
        for kind, name, role, user in grants:
            autolog_cli("server", "grant", kind, name, role, "--user", user, "--store", store)
        yield Site(served, exp)
    finally:
        served.stop()


@pytest.fixture(autouse=True)
def no_console_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    for b in request.node.funcargs.get("browsers", {}).values():
        errors = b.console_errors()
        assert errors == [], errors


@pytest.fixture(scope="module")
def browsers(site: Site, browser_factory: Any) -> dict[str, Browser]:
    """One browser (its own cookies) per user."""
    return {user: browser_factory(site.served.url) for user in ("maria", "rita")}


def sign_in(b: Browser, user: str, password: str) -> None:
    b.wait(lambda d: b.find_all("form[action='/login'] input[name=user]"))
    b.find("input[name=user]").send_keys(user)
    b.find("input[name=password]").send_keys(password)
    b.find("form[action='/login'] button[type=submit]").click()


def test_sign_in_and_out(site: Site, browsers: dict[str, Browser]) -> None:
    b = browsers["maria"]
    b.open("/models")
    b.wait(lambda d: "/login" in d.current_url)
    assert "next=/models" in b.driver.current_url
    b.screenshot("auth-sign-in")
    sign_in(b, "maria", "not her password")
    alert = b.wait(lambda d: b.find_all("[role=alert]"))[0]
    assert "Wrong user name or password" in alert.text
    (refused,) = b.console_errors()  # the form's reply: 401
    assert "/login" in refused and "401" in refused
    sign_in(b, "maria", PASSWORD)
    b.wait(lambda d: d.current_url.endswith("/models") and b.find_all("#current-user"))
    assert b.find("#current-user").text == "maria"
    assert "cancer" in b.find("#models").text
    b.screenshot("auth-signed-in")
    # An experiment maria holds no role on is not listed, and its page is not shown.
    b.open("/")
    b.wait(lambda d: b.find_all("#current-user"))
    assert "ui-auth" not in b.find("main").text
    b.open(f"/experiments/{site.experiment}")
    assert "ui-auth" not in b.driver.page_source
    missing = b.console_errors()  # the page's 404, as for an experiment that is not there
    assert missing and all(f"/experiments/{site.experiment}" in e for e in missing), missing
    assert "that you may read" in b.find("#error").text
    b.screenshot("auth-experiment-not-shown")
    b.find("main a[href='/']").click()
    b.wait(lambda d: b.find_all(".who form[action='/logout'] button"))
    b.find(".who form[action='/logout'] button").click()
    b.wait(lambda d: "/login" in d.current_url and b.find_all("input[name=user]"))
    b.open("/models")
    b.wait(lambda d: "/login?next=" in d.current_url)
    assert not b.find_all("#current-user")
    b.screenshot("auth-signed-out")


def test_a_reader_sees_no_alias_button(site: Site, browsers: dict[str, Browser]) -> None:
    b = browsers["rita"]
    b.open("/models/cancer")
    sign_in(b, "rita", PASSWORD)
    b.wait(lambda d: b.find_all("#versions"))
    assert "@champion" in b.find("#versions").text
    assert not b.find_all("#alias-form") and not b.find_all("#alias-submit")
    assert not b.find_all("#description-form")
    b.screenshot("auth-reader-model")
    # A reader of the experiment sees it listed and opens it.
    b.open("/")
    b.wait(lambda d: b.find_all("#experiments a"))
    assert [a.text for a in b.find_all("#experiments a")] == ["ui-auth"]


def test_a_maintainer_sees_the_alias_button(browsers: dict[str, Browser]) -> None:
    b = browsers["maria"]
    b.open("/models/cancer")
    if b.find_all("input[name=user]"):  # signed out by the scenario before
        sign_in(b, "maria", PASSWORD)
    b.wait(lambda d: b.find_all("#alias-form"))
    b.find("#alias-name").send_keys("champion")
    b.find("#alias-version option[value='2']").click()
    b.find("#alias-submit").click()
    b.wait(lambda d: b.find_all("#notice"))
    first = b.find("#history tbody tr").text
    assert "alias_moved" in first and "maria" in first
    b.screenshot("auth-maintainer-alias-moved")


def test_a_session_cookie_cannot_write_through_the_api(site: Site) -> None:
    """A browser session (a cookie) authorizes the UI's own forms only, never an API write."""
    session = requests.Session()
    login = session.get(site.served.url + "/login", timeout=10)
    csrf = login.text.split("name=csrf value=")[1].split(">")[0].strip("\"'")
    form = {"csrf": csrf, "user": "maria", "password": PASSWORD, "next": "/"}
    assert session.post(site.served.url + "/login", data=form, timeout=10).ok
    write = session.post(site.served.url + M + "/registered-models/set-tag",
                         json={"name": "cancer", "key": "k", "value": "v"}, timeout=10)  # fmt: skip
    assert write.status_code == 403 and write.json()["error_code"] == "PERMISSION_DENIED"
