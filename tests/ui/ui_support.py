"""What the web UI tests share: Debian's headless Chromium driven by Selenium, processes
serving the UI (`autolog server`, `autolog ui`), and runs logged by real training.

Chromium and chromedriver come from Debian's `chromium` and `chromium-driver` packages
(.ci/run installs them). Without them the tests skip, except under CI, where they fail.
(A module of its own, not conftest.py: tests/server has a conftest.py too.)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "starlette", reason="the server extra is not installed: pip install '.[server]'"
)
pytest.importorskip("selenium", reason="the dev extra is not installed: pip install '.[dev]'")

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
TRAIN = Path(__file__).with_name("train.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """A child process serving HTTP on 127.0.0.1, started and waited for."""

    def __init__(self, args: list[str], port: int, log: Path, ready: str) -> None:
        import requests

        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log
        self.log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autolog", *args], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(self.url + ready, timeout=2).raise_for_status()
                return
            except requests.RequestException:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{args} did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def train(tracking_uri: str, log: Path, script: Path = TRAIN) -> str:
    """Log the test runs of `script` (tests/ui/train.py) into `tracking_uri`, in a child
    process; what it printed."""
    env = {**os.environ, "AUTOLOG_TRACKING_URI": tracking_uri}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=240
    )
    log.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def chromium_or_skip() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        reason = f"{', '.join(missing)} missing: apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must install them: .ci/run does)")
        pytest.skip(reason)


class Browser:
    """A headless Chromium session with helpers for the scenarios."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.profile = tempfile.mkdtemp(prefix="autolog-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-component-update",
                     "--no-first-run", "--disable-sync", "--disable-quic",
                     "--disable-dev-shm-usage", "--window-size=1400,1000",
                     f"--user-data-dir={self.profile}"):  # fmt: skip
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        self.driver.set_page_load_timeout(60)

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def wait(self, condition: Any, timeout: float = 30) -> Any:
        return WebDriverWait(self.driver, timeout).until(lambda d: condition(d))

    def find(self, css: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def console_errors(self) -> list[str]:
        """Console messages of level SEVERE since the last call (CSP violations included)."""
        logs = self.driver.get_log("browser")
        return [e["message"] for e in logs if e["level"] == "SEVERE"]

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)
