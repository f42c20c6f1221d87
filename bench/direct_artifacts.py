"""Artifacts through the tracking server, streamed or by presigned URL (`--artifacts-direct`).

Starts moto's S3 server (the tests' one, in a process of its own) and two `autolog
server` processes on SQLite over the same bucket, one streaming artifacts and one with
`--artifacts-direct`. For each it times, with autolog's HTTP backend, the upload of one
large file plus `--files` small ones (from queueing to the end of `flush`) and their
download, and reads the server process's CPU time (user + system, from /proc) spent on
them: what a shared server pays per byte. Where MLflow is installed, the same work with
MLflow's client and `mlflow server --artifacts-destination s3://...` (which streams). Run with
`python bench/direct_artifacts.py [--size-mb 100] [--files 20] [--repeat 3]`.
Loopback only: on a real network the streamed path also moves every byte twice.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from s3_logging import BUCKET, MiB, start_server  # noqa: E402 - bench/ is on the path
from s3server import s3_environment  # noqa: E402 - found through the path above
from trackingserver import ServerProcess, migrated_sqlite  # noqa: E402

from autolog.backends.base import RunMeta  # noqa: E402
from autolog.backends.http import HttpBackend  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` and its descendants alive now (Linux)."""
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, seconds)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks = int(fields[11]) + int(fields[12])
        stats[int(entry.name)] = (int(fields[1]), ticks / os.sysconf("SC_CLK_TCK"))
    tree, total = {pid}, 0.0
    for _ in range(4):  # a few generations: uvicorn/gunicorn workers
        tree |= {p for p, (parent, _) in stats.items() if parent in tree}
    for p in tree:
        total += stats.get(p, (0, 0.0))[1]
    return total


def measure_mlflow(
    endpoint: str, root: Path, big: Path, files: int, repeat: int
) -> dict[str, float]:
    """The same work with MLflow's client and `mlflow server --artifacts-destination s3://`."""
    import subprocess

    import mlflow
    import requests
    from trackingserver import free_port

    port = free_port()
    env = {**os.environ, "MLFLOW_S3_ENDPOINT_URL": endpoint}
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
           f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination",
           f"s3://{BUCKET}/mlflow", "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                requests.get(f"{url}/health", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.2)
        mlflow.set_tracking_uri(url)
        mlflow.set_experiment("bench")
        small = root / "mlflow-small"
        small.mkdir(exist_ok=True)
        for i in range(files):
            (small / f"{i}.txt").write_bytes(b"x" * 4096)
        ups, downs, up_cpu, down_cpu = [], [], [], []
        for _ in range(repeat):
            with mlflow.start_run() as run:
                cpu, start = cpu_seconds(proc.pid), time.perf_counter()
                mlflow.log_artifact(str(big), "model")
                mlflow.log_artifacts(str(small), "small")
                ups.append(time.perf_counter() - start)
                up_cpu.append(cpu_seconds(proc.pid) - cpu)
            with tempfile.TemporaryDirectory() as tmp:
                cpu, start = cpu_seconds(proc.pid), time.perf_counter()
                mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=tmp)
                downs.append(time.perf_counter() - start)
                down_cpu.append(cpu_seconds(proc.pid) - cpu)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "upload_s": statistics.median(ups),
        "upload_server_cpu_s": statistics.median(up_cpu),
        "download_s": statistics.median(downs),
        "download_server_cpu_s": statistics.median(down_cpu),
    }


def measure(server: ServerProcess, big: Path, files: int, repeat: int) -> dict[str, float]:
    assert server.proc is not None
    pid = server.proc.pid
    ups, downs, up_cpu, down_cpu = [], [], [], []
    for _ in range(repeat):
        backend = HttpBackend(server.url)
        rid = uuid.uuid4().hex
        meta = RunMeta(
            rid, "bench", backend.local_experiment_id("bench"), 1, experiment_name="bench"
        )
        backend.create_run(meta)
        backend.flush()
        cpu, start = cpu_seconds(pid), time.perf_counter()
        backend.put_artifact_file(rid, "model/big.bin", big)
        for i in range(files):
            backend.put_artifact(rid, f"small/{i}.txt", b"x" * 4096)
        backend.flush()
        ups.append(time.perf_counter() - start)
        up_cpu.append(cpu_seconds(pid) - cpu)
        with tempfile.TemporaryDirectory() as tmp:
            cpu, start = cpu_seconds(pid), time.perf_counter()
            backend.download_artifacts(rid, "", Path(tmp))
            downs.append(time.perf_counter() - start)
            down_cpu.append(cpu_seconds(pid) - cpu)
        backend.close()
    return {
        "upload_s": statistics.median(ups),
        "upload_server_cpu_s": statistics.median(up_cpu),
        "download_s": statistics.median(downs),
        "download_server_cpu_s": statistics.median(down_cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    moto, endpoint = start_server()
    root = Path(tempfile.mkdtemp(prefix="autolog-bench-direct-"))
    os.environ.update(s3_environment(endpoint))
    os.environ["AUTOLOG_SPOOL_DIR"] = str(root / "spool")
    big = root / "big.bin"
    with open(big, "wb") as f:
        for _ in range(args.size_mb):
            f.write(os.urandom(MiB))
    servers = []
    try:
        results = {}
        for name, flags in (("streamed", ()), ("direct", ("--artifacts-direct",))):
            server = ServerProcess(
                migrated_sqlite(root / f"{name}.db"),
                root / name,
                artifact_uri=f"s3://{BUCKET}/{name}",
            ).start(*flags)
            servers.append(server)
            results[name] = measure(server, big, args.files, args.repeat)
        try:
            import mlflow  # noqa: F401
        except ImportError:
            print("MLflow is not installed: its figures are left out")
        else:
            results["mlflow"] = measure_mlflow(endpoint, root, big, args.files, args.repeat)
        print(
            f"{args.size_mb} MB file + {args.files} files of 4 KB, median of {args.repeat}"
            " (moto S3 and the server on loopback)"
        )
        print(f"  {'':10} {'upload s':>9} {'server CPU':>11} {'download s':>11} {'server CPU':>11}")
        for name, r in results.items():
            print(
                f"  {name:10} {r['upload_s']:9.2f} {r['upload_server_cpu_s']:11.2f}"
                f" {r['download_s']:11.2f} {r['download_server_cpu_s']:11.2f}"
            )
        if "mlflow" in results:
            m = results["mlflow"]
            print("  as a fraction of MLflow's (lower is better):")
            for name in ("streamed", "direct"):
                r = results[name]
                print(
                    f"  {name:10}"
                    + "".join(
                        f" {r[k] / m[k]:{w}.2f}"
                        for k, w in (
                            ("upload_s", 9),
                            ("upload_server_cpu_s", 11),
                            ("download_s", 11),
                            ("download_server_cpu_s", 11),
                        )
                    )
                )
    finally:
        for server in servers:
            server.stop()
        moto.terminate()
        moto.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
