"""Copy a store (a directory or S3) into a tracking server, idempotently (`autolog push`).

Runs keep their ids. What the server already has is not sent again: a run whose params,
tags, latest metrics and status already match is skipped; otherwise each metric sends
only the points after the ones the server holds, in one batch whose name is derived from
its content (a push interrupted and run again applies it once). Artifacts the server
holds with the same size are skipped. Registered models keep their version numbers: the
server's versions of a model must be the first ones of the store's (a push never
renumbers), and the history's events are appended by id, once.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from autolog._entities import Metric, Run
from autolog.backends import backend_for_uri
from autolog.backends._wire import batch_to_json
from autolog.backends.base import Backend, Batch, RegistryBackend, RunMeta, StoredModel
from autolog.backends.http import HttpBackend, upload
from autolog.errors import InvalidValueError, RunNotFoundError

__all__ = ["push"]


def push(source: str, target: str, experiments: list[str] | None = None) -> dict[str, int]:
    """Copy the store at `source` into the autolog server at `target`; return what was sent.

    `experiments` names the experiments to copy (all when None); the registry is copied
    whole. Counts: runs, metric points, artifacts, models, versions and events sent.
    """
    src = backend_for_uri(source)
    dst = backend_for_uri(target)
    counts: Counter[str] = Counter(runs=0, points=0, artifacts=0, models=0, versions=0, events=0)
    try:
        if not isinstance(dst, HttpBackend):
            raise InvalidValueError(
                f"{target!r} is not an autolog tracking server; `autolog push` copies into"
                " one (start it with `autolog server`)"
            )
        known = {e.name: e for e in src.list_experiments()}
        names = list(known) if experiments is None else experiments
        for name in names:
            if name not in known:
                raise InvalidValueError(
                    f"experiment {name!r} is not in {source}; it has {', '.join(map(repr, known))}"
                )
            _push_experiment(src, dst, known[name].id, name, counts)
        if isinstance(src, RegistryBackend):
            for stored in src.list_registered_models():
                _push_model(stored, dst, counts)
    finally:
        src.close()
        dst.close()
    return dict(counts)


def _push_experiment(
    src: Backend, dst: HttpBackend, exp_id: str, name: str, counts: Counter[str]
) -> None:
    target_exp = dst.get_or_create_experiment(name)
    runs = src.list_runs([exp_id])
    for run in runs:
        there = _server_run(dst, run.id)
        if there is None or not _same(run, there):
            dst.create_run(
                RunMeta(run.id, run.name, target_exp.id, run.start_time, run.parent_id, name)
            )
            batch = _missing(src, dst, run, there)
            counts["points"] += sum(len(p) for p in batch.metrics.values())
            if not batch.is_empty():
                # Named by its content: sent twice (a push run again), applied once.
                text = json.dumps(batch_to_json(batch), sort_keys=True).encode()
                dst.outbox.add(
                    {
                        "type": "batch",
                        "run_id": run.id,
                        "name": "push-" + hashlib.sha256(text).hexdigest()[:40],
                        "batch": batch_to_json(batch),
                    }
                )
            counts["runs"] += 1
    dst.flush()  # every run's creation before its artifacts
    for run in runs:
        counts["artifacts"] += _push_artifacts(src, dst, run.id)


def _server_run(dst: HttpBackend, run_id: str) -> Run | None:
    try:
        return dst.get_run(run_id)
    except RunNotFoundError:
        return None


def _key(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, default=repr)


def _same(mine: Run, theirs: Run) -> bool:
    return (
        mine.params == theirs.params
        and mine.tags == theirs.tags
        and _key({k: repr(v) for k, v in mine.metrics.items()})
        == _key({k: repr(v) for k, v in theirs.metrics.items()})
        and (mine.status, mine.end_time) == (theirs.status, theirs.end_time)
    )


def _points(history: list[Metric]) -> list[tuple[float, int, int]]:
    return [(m.value, m.step, m.timestamp) for m in history]


def _missing(src: Backend, dst: HttpBackend, run: Run, there: Run | None) -> Batch:
    """What the server lacks of `run`: params, tags, the points after its own, the status."""
    batch = Batch(params=dict(run.params), tags=dict(run.tags))
    for key in run.metrics:
        points = _points(src.get_metric_history(run.id, key))
        if there is not None and key in there.metrics:
            held = _points(dst.get_metric_history(run.id, key))
            if [repr(p) for p in points[: len(held)]] == [repr(p) for p in held]:
                points = points[len(held) :]
            else:
                points = [p for p in points if repr(p) not in {repr(h) for h in held}]
        if points:
            batch.metrics[key] = points
    if run.end_time is not None:
        batch.status, batch.end_time = run.status.value, run.end_time
    return batch


def _files(backend: Backend, run_id: str, path: str = "") -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for info in backend.list_artifacts(run_id, path):
        if info.is_dir:
            out.update(_files(backend, run_id, info.path))
        else:
            out[info.path] = info.size
    return out


def _push_artifacts(src: Backend, dst: HttpBackend, run_id: str) -> int:
    held = _files(dst, run_id)
    sent = 0
    with tempfile.TemporaryDirectory(prefix="autolog-push-") as tmp:
        for path, size in _files(src, run_id).items():
            if path in held and held[path] == size:
                continue
            local = src.download_artifacts(run_id, path, Path(tmp))
            upload(dst.client, run_id, path, local, None, dst.direct)
            local.unlink()
            sent += 1
    return sent


def _push_model(stored: StoredModel, dst: HttpBackend, counts: Counter[str]) -> None:
    name = stored.meta["name"]
    if dst.create_registered_model(name, stored.meta):
        counts["models"] += 1
    there = dst.read_registered_model(name)
    held = there.versions if there is not None else []
    mine = sorted(stored.versions, key=lambda v: int(v["version"]))
    for theirs, ours in zip(held, mine, strict=False):
        if theirs != ours:
            raise InvalidValueError(
                f"registered model {name!r} has a version {theirs['version']} on the server that"
                " differs from the store's: the server's model is another one. Rename one of"
                " them (a push never renumbers versions)"
            )
    for version in mine[len(held) :]:
        record = {k: v for k, v in version.items() if k != "version"}
        number = dst.create_model_version(name, record)
        if number != version["version"]:
            raise InvalidValueError(
                f"registered model {name!r}: the server numbered the store's version"
                f" {version['version']} as {number}; versions were registered there meanwhile"
            )
        counts["versions"] += 1
    for event in stored.events:
        if dst.append_model_event(name, event):
            counts["events"] += 1
