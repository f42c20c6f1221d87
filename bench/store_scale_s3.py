"""An S3 store at 1,000 / 10,000 runs: what listing and searching cost in requests and time.

    python bench/store_scale_s3.py [--sizes 1000,10000] [--repeat 3] [--new 10]

Starts moto's S3 server (the one the tests use) in a process of its own and a counting
proxy in front of it (`tests/s3server.FaultProxy`, no faults). Each size gets a fresh
prefix of small runs (10 params, 5 metrics, 5 tags, finished), written through the
backend API (`S3Backend.create_run` / `write_batch`) straight to the server, from 16
threads. Then, through the proxy, with a fresh client for every read (as a new
`autolog` process would have; the index file in the cache is kept, as on a user's
machine):

- the first read, which builds the index (`index build`);
- `autolog runs -n 20` when nothing changed (the steady state);
- `search_runs("metrics.m1 < 0.5", order_by ["metrics.m1 ASC"], max 100)`;
- `autolog runs -n 20` after --new runs were written by another client;
- `autolog runs -n 20` when nothing changed for longer than the change log's margin
  (5 minutes, shortened to 5 s for this row): right after a burst of writes, a read
  lists the burst's entries of the log again (one request per 1,000), as the row before
  it shows.

For each: the median time and the S3 requests it made (LIST, GET, ...). The times are
moto's on this machine (moto answers a listing by scanning the whole bucket, so its
listings grow with the bucket where S3's do not): the request counts are the figures to
carry to a real bucket.

MLflow cannot keep runs in a bucket: its tracking data (runs, params, metrics) lives in a
database or a local directory, and S3 holds its artifacts alone. Its rows are the same
listing and search against its SQLite store (filled as `bench/store_scale.py` fills it),
with MLFLOW_S3_ENDPOINT_URL pointed at the proxy: they make no S3 request.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from s3server import FaultProxy, s3_environment  # noqa: E402 - found through the path above

BUCKET = "autolog-scale"
N_PARAMS, N_METRICS, N_TAGS = 10, 5, 5
FILTER, ORDER = "metrics.m1 < 0.5", "metrics.m1 ASC"


def start_server() -> tuple[subprocess.Popen[str], str]:
    """moto's S3 server in a process of its own, so that it does not share our GIL."""
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]);"
        "from s3server import S3Server; s = S3Server().start(); s.create_bucket(sys.argv[2]);"
        "print(s.endpoint, flush=True); time.sleep(10**6)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(TESTS), BUCKET], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def fill(endpoint: str, bucket: str, prefix: str, n: int, offset: int = 0) -> None:
    """Write `n` small finished runs under `prefix`, from 16 threads (a backend each)."""
    from autolog.backends.base import Batch, RunMeta
    from autolog.backends.s3 import S3Backend

    def part(index: int) -> None:
        rng = random.Random(index)
        backend = S3Backend(bucket, prefix, endpoint_url=endpoint)
        exp_id = backend.local_experiment_id("scale")
        now = int(time.time() * 1000)
        for i in range(offset + index, offset + n, 16):
            run_id = uuid.uuid4().hex
            backend.create_run(RunMeta(run_id, f"run-{i}", exp_id, now, experiment_name="scale"))
            backend.write_batch(
                run_id,
                Batch(
                    params={
                        f"p{k}": str(rng.choice([0.1, 1, 10, "gini"])) for k in range(N_PARAMS)
                    },
                    tags={f"t{k}": f"tag-{(i + k) % 7}" for k in range(N_TAGS)},
                    metrics={f"m{k}": [(rng.random(), 0, now)] for k in range(1, N_METRICS + 1)},
                    status="FINISHED",
                    end_time=now + 500,
                ),
            )
        backend.close()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(part, range(16)))


def measure(proxy: FaultProxy, fn: Any, repeat: int) -> tuple[float, float, str]:
    """Median seconds, mean requests per call and their kinds, over `repeat` calls."""
    times = []
    before, kinds = proxy.requests, collections.Counter(proxy.by_kind)
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    delta = proxy.by_kind - kinds
    detail = ", ".join(f"{k} {v / repeat:g}" for k, v in sorted(delta.items()))
    return statistics.median(times), (proxy.requests - before) / repeat, detail


def bench_size(endpoint: str, proxy: FaultProxy, n: int, repeat: int, new: int) -> None:
    import autolog
    from autolog._cli.main import main
    from autolog._tracking.settings import tracking
    from autolog.backends import _index_changes
    from autolog.backends.s3 import S3ObjectStore

    # A bucket per size: moto scans the whole bucket to answer a listing.
    bucket, prefix = f"{BUCKET}-{n}-{uuid.uuid4().hex[:6]}", "team"
    maker = S3ObjectStore(BUCKET, endpoint_url=endpoint)
    maker._s3().create_bucket(Bucket=bucket)
    maker.close()
    uri = f"s3://{bucket}/{prefix}"
    t0 = time.perf_counter()
    fill(endpoint, bucket, prefix, n)
    print(f"\n== {n:,} runs == (written in {time.perf_counter() - t0:.1f} s)", flush=True)

    def runs() -> None:
        tracking.reset()  # a fresh client: the index file is opened and brought up to date
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(["--tracking-uri", uri, "runs", "-n", "20"])
        if code != 0:
            raise SystemExit(f"autolog runs exited with {code}")

    def search() -> None:
        tracking.reset()
        autolog.configure(tracking_uri=uri)
        found = autolog.search_runs(filter=FILTER, order_by=[ORDER], max_results=100)
        values = [r.metrics["m1"] for r in found]
        if len(found) != 100 or values != sorted(values):
            raise SystemExit(f"search gave {len(found)} runs, or out of order")

    rows = [("index build (first read)", *measure(proxy, runs, 1))]
    rows.append(("runs -n 20, nothing changed", *measure(proxy, runs, repeat)))
    rows.append(("search, nothing changed", *measure(proxy, search, repeat)))
    fill(endpoint, bucket, prefix, new, offset=n)
    rows.append((f"runs -n 20 after {new} new runs", *measure(proxy, runs, 1)))
    rows.append(("runs -n 20, nothing changed", *measure(proxy, runs, repeat)))
    # Those reads list again the change log's last 5 minutes (the writes above): a margin
    # for clocks and late writes. Once the writes are older than it, a read is one LIST;
    # the margin is shortened here rather than waited for.
    window, _index_changes.WINDOW_NS = _index_changes.WINDOW_NS, 5 * 10**9
    time.sleep(6)
    runs()
    rows.append(("  the same, writes older than margin", *measure(proxy, runs, repeat)))
    _index_changes.WINDOW_NS = window
    mlflow = _mlflow_rows(proxy, n, repeat)
    rows += mlflow
    print(f"{'':34} {'time':>10} {'requests':>9}  by kind")
    for name, seconds, requests, detail in rows:
        print(f"{name:34} {seconds * 1000:7.0f} ms {requests:9.1f}  {detail}", flush=True)
    tracking.reset()


def _mlflow_rows(proxy: FaultProxy, n: int, repeat: int) -> list[tuple[str, float, float, str]]:
    """MLflow's listing and search of the same runs in its SQLite tracking store (where its
    runs live, wherever its artifacts are), with any S3 request it might make counted.
    """
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return []
    from store_scale import fill_mlflow, time_mlflow  # the local bench, beside this file

    os.environ["MLFLOW_S3_ENDPOINT_URL"] = proxy.endpoint  # any S3 request is counted
    folder = Path(tempfile.mkdtemp(prefix="autolog-s3-scale-mlflow-"))
    try:
        uri, exp_id, run_id = fill_mlflow(folder, n)
        before = proxy.requests
        times = time_mlflow(uri, exp_id, run_id, repeat)
        requests = (proxy.requests - before) / (4 * repeat + 1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return [
        ("MLflow: search_runs(max 20)", times["runs -n 20"], requests, "SQLite, no S3 request"),
        ("MLflow: search", times["search"], requests, "SQLite, no S3 request"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--new", type=int, default=10, help="runs written between two reads")
    args = parser.parse_args()
    server, endpoint = start_server()
    cache = Path(tempfile.mkdtemp(prefix="autolog-s3-scale-"))
    os.environ.update(s3_environment(endpoint))
    os.environ["XDG_CACHE_HOME"] = str(cache)  # the index files of this bench only
    os.environ["AUTOLOG_DISABLE_CAPTURE"] = "all"
    try:
        with FaultProxy(endpoint) as proxy:
            # Reads go through the counting proxy; writes (fill) straight to the server.
            os.environ["AUTOLOG_S3_ENDPOINT_URL"] = proxy.endpoint
            print("S3 (moto on localhost, in another process); reads counted by a proxy")
            for n in (int(s) for s in args.sizes.split(",")):
                bench_size(endpoint, proxy, n, args.repeat, args.new)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
