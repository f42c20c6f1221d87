"""The evaluation plots of a run page in headless Chromium, on `autolog ui` over a directory
store and on `autolog server`: runs logged by autologged scikit-learn (tests/ui/train_plots.py)
show the values scikit-learn computes on the same data, and damaged plot data a sentence.

One process and one browser per kind of server; every test ends with no console errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from selenium.common.exceptions import NoAlertPresentException
from sklearn.metrics import confusion_matrix
from train_plots import XSS, datasets, model
from ui_support import Browser, Served, free_port, train

pytestmark = pytest.mark.slow

TRAIN_PLOTS = Path(__file__).with_name("train_plots.py")


class Site:
    """A server with the runs of train_plots.py, and a browser on it."""

    def __init__(self, served: Served, ids: dict[str, str], browser: Browser) -> None:
        self.served, self.ids, self.browser = served, ids, browser

    def open(self, name: str) -> Browser:
        self.browser.open(f"/runs/{self.ids[name]}")
        self.browser.wait(lambda d: self.browser.find_all("#run-name"))
        return self.browser

    def stored(self, name: str) -> dict[str, Any]:
        """The run's training_plots.json, as the UI serves the file."""
        url = f"{self.served.url}/ui/api/runs/{self.ids[name]}/raw"
        reply = requests.get(url, params={"path": "training_plots.json"}, timeout=10)
        reply.raise_for_status()
        found: dict[str, Any] = reply.json()
        return found


@pytest.fixture(scope="module", params=["ui", "server"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, browser_factory: Any
) -> Iterator[Site]:
    root = tmp_path_factory.mktemp(f"plots-{request.param}")
    port = free_port()
    if request.param == "ui":
        store = root / "runs"
        printed = train(str(store), root / "train.log", TRAIN_PLOTS)
        served = Served(
            ["ui", "--tracking-uri", str(store), "--port", str(port)], port, root / "ui.log", "/"
        )
    else:
        served = Served(
            [
                "server",
                "--store",
                f"sqlite:///{root / 'db.sqlite'}",
                "--artifacts",
                str(root / "artifacts"),
                "--port",
                str(port),
            ],
            port,
            root / "server.log",
            "/api/autolog/v1/health",
        )
    try:
        if request.param == "server":
            printed = train(served.url, root / "train.log", TRAIN_PLOTS)
        ids = json.loads(printed.strip().splitlines()[-1])
        yield Site(served, ids, browser_factory(served.url))
    finally:
        served.stop()


@pytest.fixture(autouse=True)
def no_console_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "site" in request.fixturenames:
        assert request.getfixturevalue("site").browser.console_errors() == []


@pytest.fixture(scope="module")
def predictions() -> dict[str, tuple[Any, Any]]:
    """(y, prediction) of each run, from the same estimator fitted on the same data."""
    out = {}
    for name, (X, y) in datasets().items():
        out[name] = (y, model(name).fit(X, y).predict(X))
    return out


def texts(b: Browser, css: str) -> list[str]:
    return [e.text for e in b.find_all(css)]


@pytest.mark.parametrize("name", ["binary", "three-class"])
def test_the_confusion_matrix_holds_sklearn_s_counts(
    site: Site, predictions: dict[str, tuple[Any, Any]], name: str
) -> None:
    b = site.open(name)
    y, predicted = predictions[name]
    labels = sorted(set(y.tolist()))
    expected = confusion_matrix(y, predicted, labels=labels)
    assert texts(b, "#confusion-matrix thead th[scope=col]") == [str(v) for v in labels]
    assert texts(b, "#confusion-matrix tbody th[scope=row]") == [str(v) for v in labels]
    rows = range(1, len(labels) + 1)
    cells = [texts(b, f"#confusion-matrix tbody tr:nth-child({i}) td") for i in rows]
    assert cells == [[str(v) for v in row] for row in expected]
    # Shaded by count: the largest darkest, a larger count never lighter.
    shaded = sorted(
        (int(e.text), int(e.get_attribute("class").split("shade-")[1]))
        for e in b.find_all("#confusion-matrix td")
    )
    assert shaded[-1][1] == 9 and [s for _, s in shaded] == sorted(s for _, s in shaded)
    b.screenshot(f"plots-{name}")


@pytest.mark.parametrize(("name", "curves"), [("binary", 1), ("three-class", 3)])
def test_roc_and_precision_recall_curves_are_drawn(site: Site, name: str, curves: int) -> None:
    b = site.open(name)
    stored = site.stored(name)
    for figure, key, area, short in (
        ("roc-curve", "roc_curve", "auc", "AUC"),
        ("precision-recall-curve", "precision_recall_curve", "average_precision", "AP"),
    ):
        paths = b.find_all(f"#{figure} svg path.series")
        assert len(paths) == curves
        for path in paths:
            box = b.driver.execute_script("return arguments[0].getBBox()", path)
            assert box["width"] > 100 and box["height"] > 100  # a curve across the frame
        legend = b.find_all(f"#{figure} ul.legend li")
        assert len(legend) == curves
        for item, curve in zip(legend, stored[key]["curves"], strict=True):
            assert float(item.get_attribute("data-area")) == curve[area]
            assert item.text == f"{curve['label']} ({short} {curve[area]:.4f})"
    assert len(b.find_all("#roc-curve svg path.diagonal")) == 1


def test_a_regressor_shows_residual_quantiles_and_a_scatter(
    site: Site, predictions: dict[str, tuple[Any, Any]]
) -> None:
    b = site.open("regression")
    y, predicted = predictions["regression"]
    residual = y - predicted
    (table,) = b.find_all("#plots table.residuals")
    head = [e.text for e in table.find_elements("css selector", "thead th")]
    values = [float(e.text) for e in table.find_elements("css selector", "tbody td")]
    found = dict(zip(head, values, strict=True))
    assert head[0] == "0 %" and head[-3:] == ["100 %", "mean", "std"]
    for label, q in (("0 %", 0.0), ("5 %", 0.05), ("50 %", 0.5), ("99 %", 0.99), ("100 %", 1)):
        assert found[label] == pytest.approx(np.quantile(residual, q), rel=1e-5, abs=1e-9)
    assert found["std"] == pytest.approx(residual.std(), rel=1e-5)
    assert not b.find_all("#confusion-matrix")
    (dots,) = b.find_all("#predicted-vs-true svg path.series.dots")
    assert (
        dots.get_attribute("d").count("h0") == site.stored("regression")["residuals"]["sample_rows"]
    )
    box = b.driver.execute_script("return arguments[0].getBBox()", dots)
    assert box["width"] > 200 and box["height"] > 150
    b.screenshot("plots-regression")


def test_damaged_plot_data_is_named_and_the_page_renders(site: Site) -> None:
    b = site.open("damaged")
    (problem,) = texts(b, "#plots p.plot-problem")
    assert problem.startswith("The plot data could not be read: training_plots.json")
    assert b.find("#run-name").text == "damaged" and b.find_all("#artifacts-link")
    b = site.open("odd")
    problems = texts(b, "#plots p.plot-problem")
    assert [p.split(" data could not be read")[0] for p in problems] == [
        "The confusion matrix",
        "The ROC curve",
        "The residuals",
    ]
    assert not b.find_all("#plots table, #plots svg")
    b.screenshot("plots-damaged")


def test_labels_are_text_never_html(site: Site) -> None:
    b = site.open("three-class")
    assert XSS in texts(b, "#confusion-matrix th")
    assert any(t.startswith(XSS + " (AUC ") for t in texts(b, "#roc-curve ul.legend li"))
    assert not b.find_all("main img")
    with pytest.raises(NoAlertPresentException):
        b.driver.switch_to.alert.text  # noqa: B018 - reading it is the check
