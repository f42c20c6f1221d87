"""How much autolog adds over boto3 itself when logging to S3 on localhost.

Starts moto's S3 server on 127.0.0.1 (the one the tests use, in a process of its
own) and times:

1. `log_artifact` of a 200 MB model file (the call, and the whole run around
   it), against `upload_file` of the same file with the same transfer settings
   (and with boto3's default settings);
2. `download_artifacts` of the model, against `download_file`;
3. a run with 10,000 metric points, from `start_run` until the run is ended,
   written and compacted, against one `put_object` of the same points as JSON;
4. the S3 requests a short run costs (counted by a proxy in front of the server):
   the first run of a process, a bare run (params and metrics), the same with the
   run context captured, and one that also logs a small scikit-learn model.

The boto3 calls are the floor: what the bytes cost on this server. Run with
`python bench/s3_logging.py [--size-mb 200] [--points 10000] [--repeat 3]`, or
`--requests-only` for part 4 alone.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from s3server import FaultProxy, s3_environment  # noqa: E402 - found through the path above

BUCKET = "autolog-bench"
MiB = 1024 * 1024


def timed(fn: Callable[[], object], repeat: int, cleanup: Callable[[], object]) -> float:
    """The median wall time of `fn` over `repeat` runs, `cleanup` after each."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        cleanup()
    return statistics.median(times)


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


def count_requests(endpoint: str, runs: int) -> None:
    """Print the S3 requests of short runs, counted by a proxy in front of `endpoint`."""
    from sklearn.linear_model import LogisticRegression

    import autolog
    from autolog._tracking.settings import tracking

    x = [[0.0, 1.0], [1.0, 0.0], [0.9, 0.2], [0.1, 0.8]]
    model = LogisticRegression().fit(x, [0, 1, 1, 0])
    with FaultProxy(endpoint) as proxy:
        tracking.reset()
        os.environ["AUTOLOG_S3_ENDPOINT_URL"] = proxy.endpoint
        prefix = f"requests-{uuid.uuid4().hex[:8]}"
        autolog.configure(tracking_uri=f"s3://{BUCKET}/{prefix}", experiment="requests")

        def short_run(with_model: bool = False) -> None:
            with autolog.start_run():
                autolog.log_params({"alpha": 0.1, "solver": "lbfgs"})
                if with_model:
                    autolog.log_model(model, "model")
                autolog.log_metrics({"accuracy": 0.9, "loss": 0.2})
            autolog.flush()

        def measure(name: str, times: int, **kw: bool) -> None:
            before, kinds = proxy.requests, collections.Counter(proxy.by_kind)
            for _ in range(times):
                short_run(**kw)
            each = (proxy.requests - before) / times
            delta = proxy.by_kind - kinds
            detail = ", ".join(f"{k} {v / times:g}" for k, v in sorted(delta.items()))
            print(f"  {name:44} {each:5.1f}  ({detail})")

        print("S3 requests per short run (log_params, log_metrics, end; then flush)")
        autolog.configure(disable_capture=["git", "source", "packages", "system"])
        measure("the first run of a process", 1)
        measure(f"a bare run (mean of {runs})", runs)
        autolog.configure(disable_capture=[])
        short_run()  # the process context is captured once; later runs reuse it
        measure(f"with the run context captured (mean of {runs})", runs)
        measure(f"  and a small sklearn model (mean of {runs})", runs, with_model=True)
        tracking.reset()
    os.environ["AUTOLOG_S3_ENDPOINT_URL"] = endpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--short-runs", type=int, default=5, help="runs per request count")
    parser.add_argument("--requests-only", action="store_true", help="only count requests")
    args = parser.parse_args()

    server, endpoint = start_server()
    os.environ.update(s3_environment(endpoint))
    os.environ["AUTOLOG_DISABLE_CAPTURE"] = "git,source,packages,system"  # bytes only
    if args.requests_only:
        count_requests(endpoint, args.short_runs)
        server.terminate()
        server.wait()
        return

    from boto3.s3.transfer import TransferConfig

    import autolog
    from autolog._tracking.settings import tracking
    from autolog.backends.s3 import S3ObjectStore

    store = S3ObjectStore(BUCKET, "bench")
    client: Any = store._s3()
    ours = TransferConfig(
        multipart_threshold=store.multipart_threshold,
        multipart_chunksize=store.multipart_chunksize,
        max_concurrency=store.max_concurrency,
    )
    work = Path(tempfile.mkdtemp(prefix="autolog-bench-"))
    model = work / "model.bin"
    with open(model, "wb") as fh:
        for _ in range(args.size_mb):
            fh.write(os.urandom(MiB))

    def empty_bucket() -> None:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for obj in page.get("Contents", ()):
                client.delete_object(Bucket=BUCKET, Key=obj["Key"])

    rows: list[tuple[str, float, float | None]] = []
    autolog.configure(tracking_uri=f"s3://{BUCKET}/runs")
    with autolog.start_run():  # warm-up: connections, experiment, conditional-write check
        autolog.log_text("warm", "warm.txt")
    autolog.flush()

    # 1. a model file: the log_artifact call alone, and the whole run around it
    def log_model_call() -> None:
        with autolog.start_run():
            autolog.flush()
            start = time.perf_counter()
            autolog.log_artifact(model, "model")
            calls.append(time.perf_counter() - start)
        autolog.flush()

    calls: list[float] = []
    t_run = timed(log_model_call, args.repeat, empty_bucket)
    t_call = statistics.median(calls)
    t_floor = timed(
        lambda: client.upload_file(str(model), BUCKET, "floor/model.bin", Config=ours),
        args.repeat,
        empty_bucket,
    )
    t_default = timed(
        lambda: client.upload_file(str(model), BUCKET, "floor/model.bin"),
        args.repeat,
        empty_bucket,
    )
    rows.append((f"log_artifact({args.size_mb} MB)", t_call, t_floor))
    rows.append(("  the whole run around it", t_run, t_floor))
    rows.append(("  upload_file, boto3's default config", t_default, None))

    # 2. downloading it back
    with autolog.start_run() as run:
        autolog.log_artifact(model, "model")
    autolog.flush()
    client.upload_file(str(model), BUCKET, "floor/model.bin", Config=ours)
    out = work / "out"

    def clear_out() -> None:
        shutil.rmtree(out, ignore_errors=True)

    def download_floor() -> None:
        out.mkdir(parents=True, exist_ok=True)
        client.download_file(BUCKET, "floor/model.bin", str(out / "m"), Config=ours)

    t_down = timed(
        lambda: autolog.download_artifacts(run.id, "model/model.bin", out), args.repeat, clear_out
    )
    t_down_floor = timed(download_floor, args.repeat, clear_out)
    rows.append((f"download_artifacts({args.size_mb} MB)", t_down, t_down_floor))
    empty_bucket()

    # 3. a run with many metric points: start to ended, written and compacted
    def log_points() -> None:
        with autolog.start_run():
            start = time.perf_counter()
            for step in range(args.points):
                autolog.log_metric("loss", 1.0 / (step + 1), step=step)
            calls.append(time.perf_counter() - start)
        autolog.flush()

    calls = []
    t_points = timed(log_points, args.repeat, empty_bucket)
    now = int(time.time() * 1000)
    body = json.dumps(
        {"metrics": {"loss": [[1.0 / (s + 1), s, now] for s in range(args.points)]}},
        separators=(",", ":"),
    ).encode()
    t_points_floor = timed(
        lambda: client.put_object(Bucket=BUCKET, Key=f"floor/{uuid.uuid4().hex}", Body=body),
        args.repeat,
        empty_bucket,
    )
    rows.append((f"run with {args.points} metric points", t_points, t_points_floor))
    rows.append((f"  the {args.points} log_metric calls", statistics.median(calls), None))

    print(f"S3 on localhost (moto in another process), median of {args.repeat}")
    print(f"{'':40} {'autolog':>9} {'boto3':>9} {'ratio':>7}")
    for name, mine, floor in rows:
        if floor is None:
            print(f"{name:40} {mine:8.3f}s")
        else:
            print(f"{name:40} {mine:8.3f}s {floor:8.3f}s {mine / floor:6.2f}x")
    print(f"(the points as one JSON object: {len(body) / 1e6:.2f} MB)")
    print()
    count_requests(endpoint, args.short_runs)
    tracking.reset()
    store.close()
    server.terminate()
    server.wait()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
