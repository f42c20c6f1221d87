"""The web UI of `autolog server` in headless Chromium, over runs logged by autologged
scikit-learn and XGBoost training (tests/ui/train.py) through the server.

One server and one browser for the module; every scenario ends with no console errors
(a CSP violation is one) and a screenshot under build/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.keys import Keys
from ui_support import Browser, Served, free_port, train

XSS = "<img src=x onerror=alert(1)>"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("ui-server")
    port = free_port()
    served = Served(
        ["server", "--store", f"sqlite:///{root / 'db.sqlite'}", "--artifacts",
         str(root / "artifacts"), "--port", str(port)],
        port, root / "server.log", "/api/autolog/v1/health",
    )  # fmt: skip
    try:
        train(served.url, root / "train.log")
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def browser(server: Served, browser_factory: Any) -> Browser:
    b: Browser = browser_factory(server.url)
    return b


@pytest.fixture(autouse=True)
def no_console_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "browser" in request.fixturenames:
        b: Browser = request.getfixturevalue("browser")
        assert b.console_errors() == []


def experiment_id(server: Served) -> str:
    exps = requests.get(f"{server.url}/api/autolog/v1/experiments", timeout=10).json()
    return next(e["id"] for e in exps["experiments"] if e["name"] == "ui-test")


def row_names(b: Browser) -> list[str]:
    return [e.text for e in b.find_all("#rows .row .name a")]


def open_table(b: Browser, server: Served, query: str = "") -> None:
    b.open(f"/experiments/{experiment_id(server)}{query}")
    b.wait(lambda d: row_names(b) or "0 runs" in b.find("#status-line").text)


def apply_query(b: Browser, filter_text: str | None = None, order: str | None = None) -> None:
    before = b.find("#status-line").text
    for field, value in (("#filter", filter_text), ("#order", order)):
        if value is not None:
            box = b.find(field)
            box.send_keys(Keys.CONTROL, "a")
            box.send_keys(Keys.DELETE)
            box.send_keys(value)
    b.find("#query button[type=submit]").click()
    b.wait(lambda d: b.find("#status-line").text != before or not b.find_all(".error.hidden"))


def canvas_ink(b: Browser, css: str) -> int:
    """How many pixels of the canvas under `css` are painted."""
    script = """
      const c = document.querySelector(arguments[0]);
      if (!c) return -1;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
      return n;"""
    return int(b.driver.execute_script(script, css))


def test_experiments_list(browser: Browser) -> None:
    browser.open("/")
    link = browser.wait(lambda d: browser.find_all("#experiments a"))[0]
    assert link.text == "ui-test"
    browser.screenshot("experiments")
    link.click()
    browser.wait(lambda d: row_names(browser))
    browser.screenshot("runs-table")


def test_runs_table_filter_sort_and_columns(browser: Browser, server: Served) -> None:
    open_table(browser, server)
    assert len(row_names(browser)) == 5  # four trainings and the XSS run; grid children grouped
    apply_query(browser, filter_text="params.n_estimators = '30'")
    browser.wait(lambda d: len(row_names(browser)) == 1)
    apply_query(browser, filter_text="params.n_estimators >= 5", order="params.n_estimators DESC")
    browser.wait(lambda d: len(row_names(browser)) == 3)
    url = urlparse(browser.driver.current_url)
    state = parse_qs(url.query)
    assert state["filter"] == ["params.n_estimators >= 5"]
    assert state["order"] == ["params.n_estimators DESC"]
    # Pick a column: its header shows, its values come, and it is kept in the URL.
    browser.find("#columns summary").click()
    box = browser.find("#picker input[value='params.n_estimators']")
    if not box.is_selected():
        box.click()
    header = "#thead .cell[data-order='params.n_estimators']"
    browser.wait(lambda d: browser.find_all(header))
    assert browser.find(header).text == "n_estimators ▼"
    col = browser.find_all("#thead .cell").index(browser.find(header))
    values = browser.wait(
        lambda d: [r.find_elements("css selector", ".cell")[col].text
                   for r in browser.find_all("#rows .row")] or None
    )  # fmt: skip
    assert values == ["30", "20", "5"]
    assert "params.n_estimators" in parse_qs(urlparse(browser.driver.current_url).query)["col"]
    browser.screenshot("runs-filtered-sorted")
    # The link keeps the view: opening it again shows the same rows.
    open_table(browser, server, "?" + urlparse(browser.driver.current_url).query)
    browser.wait(lambda d: len(row_names(browser)) == 3)


def test_filter_error_shows_the_caret(browser: Browser, server: Served) -> None:
    open_table(browser, server)
    apply_query(browser, filter_text="metrics.x << 1")
    error = browser.wait(lambda d: browser.find("#query-error").text)
    assert "position 11" in error and "^" in error
    start = browser.driver.execute_script("return document.getElementById('filter').selectionStart")
    assert start == 11
    browser.screenshot("runs-filter-error")
    apply_query(browser, filter_text="")
    browser.wait(lambda d: len(row_names(browser)) == 5)


def test_child_runs_are_grouped(browser: Browser, server: Served) -> None:
    open_table(browser, server)
    twisty = browser.wait(lambda d: browser.find_all("#rows .twisty"))[0]
    assert twisty.text.endswith("2")
    twisty.click()
    browser.wait(lambda d: len(browser.find_all("#rows .row.child")) == 2)
    names = row_names(browser)
    assert all("candidate" in n for n in names[-2:]) or len(names) == 7


def find_run(server: Served, filter_text: str) -> str:
    """The id of the first run matching `filter_text`, through the table's endpoint."""
    url = f"{server.url}/ui/api/experiments/{experiment_id(server)}/runs"
    found = requests.get(url, params={"filter": filter_text}, timeout=10).json()
    return str(found["rows"][0]["id"])


def open_run(b: Browser, server: Served, filter_text: str) -> None:
    b.open(f"/runs/{find_run(server, filter_text)}")


def test_xgboost_run_page_draws_its_curve(browser: Browser, server: Served) -> None:
    open_run(browser, server, "params.n_estimators = '30'")
    css = "figure.chart[data-key='validation_0-logloss']"
    # Charts are drawn when they come into view.
    browser.driver.execute_script("arguments[0].scrollIntoView()", browser.find(css))
    browser.wait(lambda d: browser.find(css).get_attribute("data-drawn"))
    assert int(browser.find(css).get_attribute("data-points")) == 30
    assert canvas_ink(browser, css + " canvas") > 100
    # Params, metrics with min and max, importances, model and its registered version.
    assert browser.find("#params").text
    assert "validation_0-logloss" in browser.find("#metrics").text
    assert browser.find_all("#importances progress")
    assert "cancer" in browser.find("#versions").text
    assert "Git commit" in browser.find("#context").text
    browser.screenshot("run-xgboost")


def test_artifact_previews(browser: Browser, server: Served) -> None:
    open_run(browser, server, "params.n_estimators = '30'")
    browser.find("#artifacts-link").click()
    names = browser.wait(lambda d: [a.text for a in browser.find_all("#files a")])
    assert "model/" in names and "feature_importances.json" in names
    browser.find_all("#files a")[names.index("model/")].click()
    browser.wait(lambda d: [a for a in browser.find_all("#files a") if a.text == "MLmodel"])[
        0
    ].click()
    browser.wait(lambda d: browser.find_all("#signature-inputs"))
    assert "mean radius" in browser.find("#signature-inputs").text
    browser.screenshot("artifact-mlmodel")
    open_run(browser, server, "params.best_C >= 0")
    browser.find("#artifacts-link").click()
    link = browser.wait(
        lambda d: [a for a in browser.find_all("#files a") if a.text == "cv_results.csv"]
    )[0]
    link.click()
    assert browser.wait(lambda d: browser.find_all("#csv tbody tr"))
    browser.screenshot("artifact-csv")


def test_compare_three_runs(browser: Browser, server: Served) -> None:
    open_table(browser, server, "?filter=params.n_estimators+%3E%3D+5")
    browser.wait(lambda d: len(row_names(browser)) == 3)
    for box in browser.find_all("#rows .row input[type=checkbox]"):
        box.click()
    link = browser.find("#compare")
    browser.wait(lambda d: "disabled" not in link.get_attribute("class"))
    assert len(parse_qs(urlparse(browser.driver.current_url).query)["sel"]) == 3
    link.click()
    browser.wait(lambda d: browser.find_all("#compare-table"))
    headers = browser.find_all("#compare-table thead th a")
    assert len(headers) == 3
    assert browser.find_all("#compare-table tr.differ")  # n_estimators differs
    same = browser.find_all("#compare-table tr.same")
    assert same and same[0].is_displayed()
    browser.find("#only-differences").click()
    assert not same[0].is_displayed()
    browser.wait(lambda d: browser.find("#curves").get_attribute("data-drawn"))
    assert canvas_ink(browser, "#parallel") > 100
    assert canvas_ink(browser, "#scatter") > 100
    browser.screenshot("compare")


def test_move_an_alias_and_see_the_history(browser: Browser) -> None:
    browser.open("/models")
    browser.wait(lambda d: browser.find_all("#models a"))[0].click()
    browser.wait(lambda d: browser.find_all("#alias-form"))
    assert "@champion" in browser.find("#versions").text
    browser.find("#alias-name").send_keys("champion")
    browser.find("#alias-version option[value='2']").click()
    browser.find("#alias-form input[name=comment]").send_keys("better recall")
    browser.find("#alias-submit").click()
    browser.wait(lambda d: browser.find_all("#notice"))
    first = browser.find("#history tbody tr").text
    assert "alias_moved" in first and "champion" in first and "better recall" in first
    rows = browser.find_all("#versions tbody tr")
    assert "@champion" in rows[0].text  # version 2, listed first
    browser.screenshot("model-alias-moved")


def test_names_params_and_tags_are_text_never_html(browser: Browser, server: Served) -> None:
    open_table(browser, server)
    assert XSS in row_names(browser)
    assert not browser.find_all("#rows img")
    open_run(browser, server, "params.note LIKE '%script%'")
    browser.wait(lambda d: browser.find_all("#run-name"))
    assert browser.find("#run-name").text == XSS
    assert "<script>alert(2)</script>" in browser.find("#params").text
    assert "<b>bold</b>" in browser.find("#tags").text
    assert not browser.find_all("main img") and not browser.find_all("#tags b")
    with pytest.raises(NoAlertPresentException):
        browser.driver.switch_to.alert.text  # noqa: B018 - reading it is the check
    browser.screenshot("xss-run")


def test_pages_forbid_inline_script_and_are_compressed(server: Served) -> None:
    reply = requests.get(server.url + "/", headers={"Accept-Encoding": "gzip"}, timeout=10)
    csp = reply.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    js = requests.get(server.url + "/ui/static/runs.js", timeout=10)
    assert js.headers.get("Content-Encoding") == "gzip"
    # The APIs' replies are not compressed by the UI's middleware.
    api = requests.get(server.url + "/api/autolog/v1/experiments", timeout=10)
    assert api.headers.get("Content-Encoding") is None


def test_artifacts_are_served_sandboxed(server: Served) -> None:
    run_id = find_run(server, "params.n_estimators = '30'")
    url = f"{server.url}/ui/api/runs/{run_id}/raw"
    text = requests.get(url, params={"path": "feature_importances.json"}, timeout=10)
    assert text.status_code == 200
    assert text.headers["Content-Type"] == "application/octet-stream"
    assert text.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in text.headers["Content-Security-Policy"]
    escape = requests.get(url, params={"path": "../../etc/passwd"}, timeout=10)
    assert escape.status_code == 400 and "error" in escape.json()


def test_history_is_downsampled_on_the_server(server: Served) -> None:
    run_id = find_run(server, "params.n_estimators = '30'")
    url = f"{server.url}/ui/api/runs/{run_id}/history"
    full = requests.get(url, params={"key": "validation_0-logloss", "width": 100}, timeout=10)
    cut = requests.get(url, params={"key": "validation_0-logloss", "width": 5}, timeout=10)
    assert len(full.json()["x"]) == 30
    assert len(cut.json()["x"]) <= 10 and cut.json()["n"] == 30
    assert min(cut.json()["y"]) == min(full.json()["y"])
