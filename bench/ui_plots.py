"""The run page's training plots: what they cost the page, and what MLflow sends for the same.

    python bench/ui_plots.py [--repeat 20] [--dir build/bench-ui-plots]

Three autologged fits (LogisticRegression on breast cancer: binary; on digits: 10 classes,
10 curves a chart; LinearRegression on diabetes), each twice: with the plot data and with
`enable(log_plots=False)`. Served by `autolog ui` over a directory store, each run page is
fetched `--repeat` times (gzip, as a browser asks): the median time to the whole reply
and its bytes on the wire, with and without the plots. `plot_view` alone is timed in
this process. MLflow (when installed) fits the same models under `mlflow.sklearn.autolog
(log_models=False)`: the bytes of the PNGs its UI shows for them (one request each).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ("binary", "ten-class", "regression")


def _data(name: str) -> tuple[Any, Any, Any]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if name == "binary":
        X, y = load_breast_cancer(return_X_y=True)
        return X, y, LogisticRegression(max_iter=5000)
    if name == "ten-class":
        X, y = load_digits(return_X_y=True)
        return X, y, LogisticRegression(max_iter=5000)
    X, y = load_diabetes(return_X_y=True)
    return X, y, LinearRegression()


def train_autolog(store: str) -> dict[str, str]:
    """Each workload fitted with and without plot data; {name or name-noplots: run id}."""
    import autolog

    ids = {}
    for plots in (True, False):
        autolog.enable(integrations=["sklearn"], log_models=False, log_plots=plots)
        autolog.set_tracking_uri(store)
        for name in WORKLOADS:
            X, y, model = _data(name)
            with autolog.start_run(name=name) as run:
                model.fit(X, y)
            ids[name if plots else f"{name}-noplots"] = run.id
        autolog.disable()
    autolog.flush()
    return ids


def train_mlflow(uri: str) -> dict[str, dict[str, int]]:
    """Each workload under MLflow's autologging; {name: {png file: bytes}}."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.sklearn.autolog(log_models=False, silent=True)
    out = {}
    for name in WORKLOADS:
        X, y, model = _data(name)
        with mlflow.start_run() as run:
            model.fit(X, y)
        files = mlflow.MlflowClient().list_artifacts(run.info.run_id)
        out[name] = {f.path: f.file_size for f in files if f.path.endswith(".png")}
    return out


def _child(mode: str, target: str) -> Any:
    done = subprocess.run([sys.executable, __file__, "--worker", mode, target],
                          capture_output=True, text=True, check=True, timeout=600)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _page(url: str, repeat: int) -> tuple[float, int]:
    """(median ms to the whole reply, gzip bytes) of `repeat` fetches."""
    import requests

    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        reply = requests.get(url, headers={"Accept-Encoding": "gzip"}, stream=True, timeout=30)
        size = len(reply.raw.read(decode_content=False))
        times.append((time.perf_counter() - started) * 1000)
        reply.raise_for_status()
    return statistics.median(times), size


def _plot_view_ms(store: str, run_id: str, repeat: int) -> float:
    from autolog._server.ui.plots import PLOTS_ARTIFACT, plot_view
    from autolog.backends import backend_for_uri

    data = backend_for_uri(store).read_artifact(run_id, PLOTS_ARTIFACT)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        plot_view(data)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--dir", default=str(ROOT / "build" / "bench-ui-plots"))
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        mode, target = args.worker
        print(json.dumps(train_autolog(target) if mode == "autolog" else train_mlflow(target)))
        return
    base = Path(args.dir)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    store = str(base / "autolog")
    ids = _child("autolog", store)
    try:
        png = _child("mlflow", f"sqlite:///{base / 'mlflow.db'}")
    except (subprocess.CalledProcessError, json.JSONDecodeError) as exc:
        print(f"MLflow skipped: {str(getattr(exc, 'stderr', exc))[-300:]}")
        png = {}
    port = _free_port()
    log = open(base / "ui.log", "wb")  # noqa: SIM115 - closed below
    ui = subprocess.Popen([sys.executable, "-m", "autolog", "ui", "--tracking-uri", store,
                           "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        import requests

        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                requests.get(url + "/", timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.2)
        print("| run | page ms (plots / none) | page KB gzip (plots / none) | plot_view ms"
              " | MLflow PNGs KB |")  # fmt: skip
        print("|---|---|---|---|---|")
        for name in WORKLOADS:
            with_ms, with_bytes = _page(f"{url}/runs/{ids[name]}", args.repeat)
            no_ms, no_bytes = _page(f"{url}/runs/{ids[name + '-noplots']}", args.repeat)
            view_ms = _plot_view_ms(store, ids[name], args.repeat)
            pngs = png.get(name, {})
            mlflow_kb = f"{sum(pngs.values()) / 1024:.1f} ({len(pngs)} files)" if pngs else "-"
            print(f"| {name} | {with_ms:.1f} / {no_ms:.1f} | {with_bytes / 1024:.1f} /"
                  f" {no_bytes / 1024:.1f} | {view_ms:.2f} | {mlflow_kb} |")  # fmt: skip
    finally:
        ui.terminate()
        ui.wait(timeout=20)
        log.close()


if __name__ == "__main__":
    main()
