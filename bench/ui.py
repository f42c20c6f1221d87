"""The web UI in headless Chromium: autolog's runs page and curve against MLflow's runs page.

    python bench/ui.py [--runs 10000] [--mlflow-runs 2000] [--points 100000] [--repeat 3]
        [--dir build/bench-ui]

Stores (kept in --dir and reused when their size matches): `--runs` runs of 20 params
and 10 metrics (a) in the database of `autolog server` (SQLite) and (b) in a local
directory store served by `autolog ui`, each with one run holding a `--points`-point
curve; (c) `--mlflow-runs` runs of the same shape in MLflow's SQLite store, served by
`mlflow server` (skipped when MLflow is not installed).

Measured in Debian's Chromium (Selenium, cache off, a fresh page each time), the median
of `--repeat` loads:
- visible: navigation start to the first run names painted (a MutationObserver added
  before the page's own scripts, the same for both UIs);
- interactive: then to the load event and the first idle period after the rows;
- bytes: what crossed the network for the page until interactive (transferSize);
- curve: autolog's run page, the chart's request sent to the curve drawn (uPlot), and
  navigation start to drawn.
Targets (issue 12): visible <= 1 s, curve <= 300 ms, <= 300 KB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PARAMS, METRICS = 20, 10
T0 = 1_700_000_000_000
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

# Runs before the page's scripts: when run names first enter the DOM, note the time of the
# next frame (painted), then of the first idle period after the load event (interactive).
OBSERVER = """
(() => {
  const marks = (window.__bench = {});
  const idle = () => {
    if (document.readyState !== 'complete') {
      addEventListener('load', idle, {once: true});
      return;
    }
    requestIdleCallback(() => { marks.interactive = performance.now(); }, {timeout: 10000});
  };
  const found = () => {
    marks.inserted = performance.now();
    requestAnimationFrame(() => { marks.visible = performance.now(); idle(); });
  };
  const watch = new MutationObserver((records) => {
    if (marks.inserted) return;
    for (const r of records) for (const n of r.addedNodes) {
      if (n.textContent && n.textContent.includes('bench-run-')) {
        watch.disconnect();
        found();
        return;
      }
    }
  });
  watch.observe(document, {childList: true, subtree: true});
})();
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- stores --------------------------------------------------------------------------------------


def _run_data(i: int) -> tuple[dict[str, str], dict[str, float]]:
    params = {f"param_{k:02d}": str((i * (k + 3)) % (k + 7)) for k in range(PARAMS)}
    metrics = {f"metric_{k}": ((i * 7919 + k * 104729) % 10007) / 10007 for k in range(METRICS)}
    return params, metrics


def fill_autolog(backend: Any, runs: int, points: int) -> str:
    """Write `runs` runs and one curve run into `backend`; the curve run's id."""
    from autolog.backends.base import Batch, RunMeta

    exp = backend.get_or_create_experiment("bench-ui")
    for i in range(runs):
        run_id = uuid.uuid4().hex
        start = T0 + i * 1000
        backend.create_run(RunMeta(run_id, f"bench-run-{i:05d}", exp.id, start,
                                   experiment_name="bench-ui"))  # fmt: skip
        params, metrics = _run_data(i)
        batch = Batch(params=params, tags={"autolog.user": "bench"},
                      metrics={k: [(v, 0, start)] for k, v in metrics.items()},
                      status="FINISHED", end_time=start + 500)  # fmt: skip
        backend.write_batch(run_id, batch)
        backend.finish_run(run_id)
        if i and i % 2000 == 0:
            print(f"  {i} runs", flush=True)
    curve = uuid.uuid4().hex
    backend.create_run(RunMeta(curve, "bench-run-curve", exp.id, T0 + runs * 1000 + 1,
                               experiment_name="bench-ui"))  # fmt: skip
    loss = [(1.0 / (1 + s / 1000) + (s % 97) / 5000, s, T0 + s) for s in range(points)]
    for start in range(0, points, 20_000):
        backend.write_batch(curve, Batch(metrics={"loss": loss[start : start + 20_000]}))
    backend.write_batch(curve, Batch(status="FINISHED", end_time=T0 + runs * 1000 + 9))
    backend.finish_run(curve)
    return curve


def autolog_stores(base: Path, runs: int, points: int) -> dict[str, Any]:
    """The server's database and the local store, built once per size."""
    marker = base / "autolog.json"
    if marker.exists():
        info: dict[str, Any] = json.loads(marker.read_text())
        if info.get("runs") == runs and info.get("points") == points:
            return info
    shutil.rmtree(base / "server", ignore_errors=True)
    shutil.rmtree(base / "local", ignore_errors=True)
    from autolog.backends import backend_for_uri
    from autolog.backends.file import LocalObjectStore
    from autolog.backends.sql.database import make_engine, upgrade
    from autolog.backends.sql.store import SqlBackend

    (base / "server").mkdir(parents=True)
    url = f"sqlite:///{base / 'server' / 'autolog.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    t = time.perf_counter()
    print(f"writing {runs} runs into the server's database ...", flush=True)
    sql = SqlBackend(url, LocalObjectStore(base / "server" / "artifacts"))
    server_curve = fill_autolog(sql, runs, points)
    sql.close()
    print(f"  {time.perf_counter() - t:.0f} s; now into a local store ...", flush=True)
    t = time.perf_counter()
    local = backend_for_uri(str(base / "local"))
    local_curve = fill_autolog(local, runs, points)
    local.close()
    print(f"  {time.perf_counter() - t:.0f} s", flush=True)
    info = {"runs": runs, "points": points, "store": url, "server_curve": server_curve,
            "local_curve": local_curve}  # fmt: skip
    marker.write_text(json.dumps(info))
    return info


def mlflow_store(base: Path, runs: int) -> str | None:
    """MLflow's SQLite store with `runs` runs; its URI (None without MLflow)."""
    try:
        from mlflow.entities import Metric, Param, RunStatus, RunTag
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    except ImportError:
        return None
    from mlflow.entities import ExperimentTag

    uri = f"sqlite:///{base / 'mlflow' / 'mlflow.db'}"
    marker = base / "mlflow.json"
    # A classic-ML experiment: MLflow's UI then opens on its runs table, not the GenAI view.
    kind = ExperimentTag("mlflow.experimentKind", "custom_model_development")
    if marker.exists() and json.loads(marker.read_text()).get("runs") == runs:
        exp = json.loads(marker.read_text())["experiment"]
        SqlAlchemyStore(uri, str(base / "mlflow" / "artifacts")).set_experiment_tag(exp, kind)
        return uri
    shutil.rmtree(base / "mlflow", ignore_errors=True)
    (base / "mlflow").mkdir(parents=True)
    print(f"writing {runs} runs into MLflow's store ...", flush=True)
    t = time.perf_counter()
    store = SqlAlchemyStore(uri, str(base / "mlflow" / "artifacts"))
    exp = store.create_experiment("bench-ui")
    store.set_experiment_tag(exp, kind)
    for i in range(runs):
        start = T0 + i * 1000
        run = store.create_run(exp, "bench", start, [RunTag("mlflow.user", "bench")],
                               f"bench-run-{i:05d}")  # fmt: skip
        params, metrics = _run_data(i)
        store.log_batch(run.info.run_id, [Metric(k, v, start, 0) for k, v in metrics.items()],
                        [Param(k, v) for k, v in params.items()], [])  # fmt: skip
        store.update_run_info(run.info.run_id, RunStatus.FINISHED, start + 500, None)
        if i and i % 500 == 0:
            print(f"  {i} runs", flush=True)
    print(f"  {time.perf_counter() - t:.0f} s", flush=True)
    marker.write_text(json.dumps({"runs": runs, "experiment": exp}))
    return uri


# -- servers -------------------------------------------------------------------------------------


class Process:
    def __init__(self, cmd: list[str], url: str, ready: str, log: Path) -> None:
        import requests

        self.url = url
        self.log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(url + ready, timeout=5).raise_for_status()
                return
            except requests.RequestException:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit(f"{cmd} did not start; see {log}") from None
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


# -- the browser ---------------------------------------------------------------------------------


class Chromium:
    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="bench-ui-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-component-update",
                     "--no-first-run", "--disable-sync", "--disable-quic",
                     "--disable-dev-shm-usage", "--window-size=1400,2400",
                     f"--user-data-dir={self.profile}"):  # fmt: skip
            options.add_argument(flag)
        self.driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        self.driver.set_page_load_timeout(300)
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": OBSERVER})

    def wait(self, script: str, timeout: float = 180) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.driver.execute_script(script)
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"timed out waiting for {script!r} on {self.driver.current_url}")

    def runs_page(self, url: str) -> dict[str, float]:
        self.driver.get("about:blank")
        self.driver.get(url)
        marks = self.wait("return window.__bench && window.__bench.interactive && window.__bench")
        time.sleep(1.0)  # requests still on their way after the idle period count too
        size = self.driver.execute_script(
            "return performance.getEntriesByType('navigation').concat("
            "performance.getEntriesByType('resource')).reduce((a, e) => a + e.transferSize, 0)"
        )
        return {"visible_ms": marks["visible"], "interactive_ms": marks["interactive"],
                "bytes": float(size)}  # fmt: skip

    def curve(self, url: str) -> dict[str, float]:
        self.driver.get("about:blank")
        self.driver.get(url)
        ms = self.wait(
            "const f = document.querySelector(\"figure.chart[data-key='loss']\");"
            "return f && f.dataset.drawn && [f.dataset.ms, performance.now(), f.dataset.points]"
        )
        return {"draw_ms": float(ms[0]), "navigation_to_drawn_ms": float(ms[1]),
                "points": float(ms[2])}  # fmt: skip

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


def median(samples: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}


def measure(browser: Chromium, fn: Any, url: str, repeat: int) -> dict[str, float]:
    fn(url)  # a first load warms the server's caches and Chromium's compiled scripts
    return median([fn(url) for _ in range(repeat)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--mlflow-runs", type=int, default=2_000)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "bench-ui")
    parser.add_argument("--only", choices=["server", "ui", "mlflow"], action="append",
                        help="measure only these (repeatable; default: all three)")  # fmt: skip
    args = parser.parse_args()
    base = args.dir.resolve()
    base.mkdir(parents=True, exist_ok=True)
    info = autolog_stores(base, args.runs, args.points)
    only = set(args.only or ["server", "ui", "mlflow"])
    mlflow_uri = mlflow_store(base, args.mlflow_runs) if "mlflow" in only else None
    import requests

    results: dict[str, Any] = {"runs": args.runs, "points": args.points}
    browser = Chromium()
    procs: list[Process] = []
    try:
        targets = [
            ("server", "autolog server", info["server_curve"],
             ["server", "--store", info["store"], "--artifacts",
              str(base / "server" / "artifacts")], "/api/autolog/v1/health"),
            ("ui", "autolog ui", info["local_curve"],
             ["ui", "--tracking-uri", str(base / "local")], "/"),
        ]  # fmt: skip
        for target, name, curve, cmd, ready in targets:
            if target not in only:
                continue
            port = free_port()
            proc = Process([sys.executable, "-m", "autolog", *cmd, "--port", str(port)],
                           f"http://127.0.0.1:{port}", ready, base / f"{target}.log")  # fmt: skip
            procs.append(proc)
            exps = requests.get(proc.url + "/", timeout=60).text
            exp_id = exps.split('href="/experiments/', 1)[1].split('"', 1)[0]
            print(f"measuring {name} ...", flush=True)
            results[name] = {
                "runs_page": measure(browser, browser.runs_page,
                                     f"{proc.url}/experiments/{exp_id}", args.repeat),
                "curve": measure(browser, browser.curve, f"{proc.url}/runs/{curve}", args.repeat),
            }  # fmt: skip
        if mlflow_uri is not None:
            port = free_port()
            exp = json.loads((base / "mlflow.json").read_text())["experiment"]
            mlflow = Process(
                [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", mlflow_uri,
                 "--default-artifact-root", str(base / "mlflow" / "artifacts"), "--host",
                 "127.0.0.1", "--port", str(port), "--workers", "1"],
                f"http://127.0.0.1:{port}", "/health", base / "mlflow.log",
            )  # fmt: skip
            procs.append(mlflow)
            print("measuring mlflow server ...", flush=True)
            url = f"{mlflow.url}/#/experiments/{exp}/runs"
            try:
                page = measure(browser, browser.runs_page, url, args.repeat)
                results["mlflow server"] = {"runs": args.mlflow_runs, "runs_page": page}
            except TimeoutError as exc:
                browser.driver.save_screenshot(str(base / "mlflow-timeout.png"))
                print(f"MLflow's runs page: {exc}", flush=True)
    finally:
        browser.close()
        for p in procs:
            p.stop()
    report(results)


def report(results: dict[str, Any]) -> None:
    print(json.dumps(results, indent=2))
    print(f"\n{results['runs']} runs (20 params, 10 metrics); median of the loads")
    mlflow = results.get("mlflow server")
    for name in ("autolog server", "autolog ui"):
        if name not in results:
            continue
        page, curve = results[name]["runs_page"], results[name]["curve"]
        line = (f"{name:15} rows visible {page['visible_ms']:7.0f} ms, interactive"
                f" {page['interactive_ms']:7.0f} ms, {page['bytes'] / 1024:7.1f} KB;"
                f" {curve['points']:.0f}-point curve {curve['draw_ms']:5.0f} ms"
                f" (navigation to drawn {curve['navigation_to_drawn_ms']:.0f} ms)")  # fmt: skip
        print(line)
        if mlflow:
            m = mlflow["runs_page"]
            print(f"{'':15} vs MLflow: visible x{m['visible_ms'] / page['visible_ms']:.1f} faster,"
                  f" interactive x{m['interactive_ms'] / page['interactive_ms']:.1f},"
                  f" bytes x{m['bytes'] / page['bytes']:.0f} fewer")  # fmt: skip
    if mlflow:
        m = mlflow["runs_page"]
        print(f"{'mlflow server':15} rows visible {m['visible_ms']:7.0f} ms, interactive"
              f" {m['interactive_ms']:7.0f} ms, {m['bytes'] / 1024:7.1f} KB"
              f" ({mlflow['runs']} runs)")  # fmt: skip


if __name__ == "__main__":
    main()
