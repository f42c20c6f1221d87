"""`autolog ui` over a local directory store, in headless Chromium: the runs table, a run's
XGBoost curve and the registry, with no database server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ui_support import Browser, Served, free_port, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("ui-local")
    store = root / "runs"
    train(str(store), root / "train.log")
    port = free_port()
    served = Served(["ui", "--tracking-uri", str(store), "--port", str(port)], port,
                    root / "ui.log", "/")  # fmt: skip
    yield served
    served.stop()


def test_local_store_in_the_browser(local_ui: Served, browser_factory: Any) -> None:
    b: Browser = browser_factory(local_ui.url)
    b.open("/")
    b.wait(lambda d: b.find_all("#experiments a"))[0].click()
    names = b.wait(lambda d: [e.text for e in b.find_all("#rows .row .name a")])
    assert len(names) == 5
    b.screenshot("local-runs-table")
    b.find("#filter").send_keys("params.n_estimators = '30'")
    b.find("#query button[type=submit]").click()
    b.wait(lambda d: len(b.find_all("#rows .row .name a")) == 1)
    b.find("#rows .row .name a").click()
    css = "figure.chart[data-key='validation_0-logloss']"
    b.wait(lambda d: b.find_all(css))
    b.driver.execute_script("arguments[0].scrollIntoView()", b.find(css))
    b.wait(lambda d: b.find(css).get_attribute("data-drawn"))
    b.screenshot("local-run")
    b.open("/models/cancer")
    b.wait(lambda d: b.find_all("#history tbody tr"))
    assert "alias_set" in b.find("#history").text
    assert b.console_errors() == []
