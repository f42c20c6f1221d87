"""Bad inputs to every public function: a specific error naming the bad value, nothing lost.

Each case runs inside an active run that already holds a param, a metric history, a
tag and an artifact; after the bad call the run must still accept logging and, once
ended, hold everything logged before and after the call.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import autolog
from autolog._entities import RunStatus
from autolog.errors import (
    ArtifactNotFoundError,
    AutologError,
    ExperimentNotFoundError,
    FilterSyntaxError,
    InvalidInputError,
    InvalidKeyError,
    InvalidValueError,
    NoActiveRunError,
    ParamConflictError,
    RunNotFoundError,
    UnknownSchemeError,
)

MISSING_RUN = "0" * 32
BAD_KEYS: list[Any] = [
    None,
    5,
    "",
    "x" * 251,
    "has@at",
    "semi;colon",
    "../up",
    "a/../b",
    "/abs",
    "./dot",
    "nul\x00byte",
    "back\\slash",
    "new\nline",
    "trailing\n",
]
BAD_PATHS = [
    "../up",
    "a/../../b",
    "/etc/passwd",
    "C:/x",
    "nul\x00",
    "back\\slash",
    "%2e%2e/x",
    "a%2fb",
    "%2E%2E",
    "%5c",
    "%00",
]
BAD_IDS: list[Any] = [None, 5, "", "../x", "a/b", "a.b", "x" * 65, "nul\x00", "abc\n"]

Case = tuple[str, Callable[[Path], object], type[AutologError], str]


def _cases() -> list[Case]:
    """(id, call, expected exception, fragment of its message naming the bad value)."""
    cases: list[Case] = []

    def add(name: str, call: Callable[[Path], object], exc: type[AutologError], frag: str) -> None:
        cases.append((name, call, exc, frag))

    for i, key in enumerate(BAD_KEYS):
        frag = repr(key)
        add(f"log_param-key-{i}", lambda _, k=key: autolog.log_param(k, 1), InvalidKeyError, frag)
        add(
            f"log_params-key-{i}",
            lambda _, k=key: autolog.log_params({"ok": 1, k: 2}),
            InvalidKeyError,
            frag,
        )
        add(
            f"log_metric-key-{i}",
            lambda _, k=key: autolog.log_metric(k, 1.0),
            InvalidKeyError,
            frag,
        )
        add(
            f"log_metrics-key-{i}",
            lambda _, k=key: autolog.log_metrics({"ok": 1.0, k: 2.0}),
            InvalidKeyError,
            frag,
        )
        add(f"set_tag-key-{i}", lambda _, k=key: autolog.set_tag(k, "v"), InvalidKeyError, frag)
        add(
            f"set_tags-key-{i}",
            lambda _, k=key: autolog.set_tags({"ok": "v", k: "v"}),
            InvalidKeyError,
            frag,
        )
        add(
            f"get_metric_history-key-{i}",
            lambda _, k=key: autolog.get_metric_history(MISSING_RUN, k),
            InvalidKeyError,
            frag,
        )
        add(
            f"start_run-tag-{i}",
            lambda _, k=key: autolog.start_run(nested=True, tags={k: 1}),
            InvalidKeyError,
            frag,
        )

    for i, value in enumerate(["1.5", b"1", None, [1.0], {"a": 1}, object(), 1j]):
        add(
            f"log_metric-value-{i}",
            lambda _, v=value: autolog.log_metric("m", v),
            InvalidValueError,
            "'m'",
        )
        add(
            f"log_metrics-value-{i}",
            lambda _, v=value: autolog.log_metrics({"a": 1.0, "m": v}),
            InvalidValueError,
            "'m'",
        )
    for i, step in enumerate([1.5, "1", True, None.__class__]):
        add(
            f"log_metric-step-{i}",
            lambda _, s=step: autolog.log_metric("m", 1.0, step=s),
            InvalidValueError,
            repr(step),
        )
        add(
            f"log_metrics-step-{i}",
            lambda _, s=step: autolog.log_metrics({"m": 1.0}, step=s),
            InvalidValueError,
            repr(step),
        )
    for i, ts in enumerate(["now", True, float("nan"), float("inf"), [1]]):
        add(
            f"log_metric-timestamp-{i}",
            lambda _, t=ts: autolog.log_metric("m", 1.0, timestamp=t),
            InvalidValueError,
            repr(ts),
        )
        add(
            f"log_metrics-timestamp-{i}",
            lambda _, t=ts: autolog.log_metrics({"m": 1.0}, timestamp=t),
            InvalidValueError,
            repr(ts),
        )

    add(
        "log_param-long-value",
        lambda _: autolog.log_param("long", "x" * 6001),
        InvalidValueError,
        "'long'",
    )
    add(
        "log_param-conflict", lambda _: autolog.log_param("alpha", 0.2), ParamConflictError, "'0.2'"
    )
    add(
        "log_params-conflict",
        lambda _: autolog.log_params({"new": 1, "alpha": 0.3}),
        ParamConflictError,
        "'0.3'",
    )
    add(
        "log_params-not-a-dict",
        lambda _: autolog.log_params([("a", 1)]),  # type: ignore[arg-type]
        InvalidValueError,
        "list",
    )
    add(
        "log_metrics-not-a-dict",
        lambda _: autolog.log_metrics([("a", 1)]),  # type: ignore[arg-type]
        InvalidValueError,
        "list",
    )
    add(
        "set_tag-long-value",
        lambda _: autolog.set_tag("long", "x" * 8001),
        InvalidValueError,
        "'long'",
    )
    add(
        "set_tags-long-value",
        lambda _: autolog.set_tags({"ok": 1, "long": "x" * 8001}),
        InvalidValueError,
        "'long'",
    )
    add(
        "set_tags-not-a-dict",
        lambda _: autolog.set_tags("a=b"),  # type: ignore[arg-type]
        InvalidValueError,
        "str",
    )

    for i, path in enumerate(BAD_PATHS):
        frag = repr(path)
        add(f"log_text-path-{i}", lambda _, p=path: autolog.log_text("t", p), InvalidKeyError, frag)
        add(f"log_dict-path-{i}", lambda _, p=path: autolog.log_dict({}, p), InvalidKeyError, frag)
        add(
            f"log_artifact-path-{i}",
            lambda d, p=path: autolog.log_artifact(d / "f.txt", p),
            InvalidKeyError,
            frag,
        )
        add(
            f"log_artifacts-path-{i}",
            lambda d, p=path: autolog.log_artifacts(d, p),
            InvalidKeyError,
            frag,
        )
        add(
            f"list_artifacts-path-{i}",
            lambda _, p=path: autolog.list_artifacts(_active_id(), p),
            InvalidKeyError,
            frag,
        )
        add(
            f"download_artifacts-path-{i}",
            lambda d, p=path: autolog.download_artifacts(_active_id(), p, d / "dl"),
            InvalidKeyError,
            frag,
        )
    for i, path in enumerate(["", ".", "./", None, 5]):
        add(
            f"log_text-empty-path-{i}",
            lambda _, p=path: autolog.log_text("t", p),
            InvalidKeyError,
            repr(path),
        )
    add(
        "log_text-not-text",
        lambda _: autolog.log_text(b"bytes", "t.txt"),  # type: ignore[arg-type]
        InvalidValueError,
        "bytes",
    )
    add(
        "log_dict-unserializable",
        lambda _: autolog.log_dict({(1, 2): 1}, "d.json"),
        InvalidValueError,
        "dict",
    )
    add(
        "log_artifact-missing",
        lambda d: autolog.log_artifact(d / "missing.txt"),
        InvalidInputError,
        "missing.txt",
    )
    add(
        "log_artifact-directory",
        lambda d: autolog.log_artifact(d),
        InvalidInputError,
        "log_artifacts",
    )
    add(
        "log_artifacts-file",
        lambda d: autolog.log_artifacts(d / "f.txt"),
        InvalidInputError,
        "f.txt",
    )

    for i, run_id in enumerate(BAD_IDS):
        frag = repr(run_id)
        add(f"get_run-id-{i}", lambda _, r=run_id: autolog.get_run(r), InvalidKeyError, frag)
        add(
            f"get_metric_history-id-{i}",
            lambda _, r=run_id: autolog.get_metric_history(r, "m"),
            InvalidKeyError,
            frag,
        )
        add(
            f"list_artifacts-id-{i}",
            lambda _, r=run_id: autolog.list_artifacts(r),
            InvalidKeyError,
            frag,
        )
        add(
            f"download_artifacts-id-{i}",
            lambda d, r=run_id: autolog.download_artifacts(r, "", d / "dl"),
            InvalidKeyError,
            frag,
        )
    add("get_run-missing", lambda _: autolog.get_run(MISSING_RUN), RunNotFoundError, MISSING_RUN)
    add(
        "get_metric_history-missing",
        lambda _: autolog.get_metric_history(MISSING_RUN, "m"),
        RunNotFoundError,
        MISSING_RUN,
    )
    add(
        "list_artifacts-missing-run",
        lambda _: autolog.list_artifacts(MISSING_RUN),
        RunNotFoundError,
        MISSING_RUN,
    )
    add(
        "download_artifacts-missing-run",
        lambda d: autolog.download_artifacts(MISSING_RUN, "", d / "dl"),
        RunNotFoundError,
        MISSING_RUN,
    )
    add(
        "download_artifacts-missing-file",
        lambda d: autolog.download_artifacts(_active_id(), "nope.txt", d / "dl"),
        ArtifactNotFoundError,
        "'nope.txt'",
    )

    for i, name in enumerate([None, 5, "", "   ", "x" * 257, "a\x00b", "tab\tname"]):
        frag = repr(name)
        add(
            f"set_experiment-{i}",
            lambda _, n=name: autolog.set_experiment(n),
            InvalidKeyError,
            frag,
        )
        add(
            f"get_experiment-{i}",
            lambda _, n=name: autolog.get_experiment(n),
            InvalidKeyError,
            frag,
        )
        if name is None:
            continue  # None means "generate one" or "leave as it is" below
        add(
            f"start_run-name-{i}",
            lambda _, n=name: autolog.start_run(name=n, nested=True),
            InvalidKeyError,
            frag,
        )
        add(
            f"configure-experiment-{i}",
            lambda _, n=name: autolog.configure(experiment=n),
            InvalidKeyError,
            frag,
        )
        if isinstance(name, str) and name != "":
            add(
                f"start_run-experiment-{i}",
                lambda _, n=name: autolog.start_run(nested=True, experiment=n),
                InvalidKeyError,
                frag,
            )
            add(
                f"search_runs-experiment-{i}",
                lambda _, n=name: autolog.search_runs(n),
                InvalidKeyError,
                frag,
            )
    add(
        "get_experiment-missing",
        lambda _: autolog.get_experiment("nope"),
        ExperimentNotFoundError,
        "'nope'",
    )
    add(
        "search_runs-missing-experiment",
        lambda _: autolog.search_runs("nope"),
        ExperimentNotFoundError,
        "'nope'",
    )
    add(
        "search_runs-experiment-type",
        lambda _: autolog.search_runs(5),  # type: ignore[arg-type]
        InvalidValueError,
        "5",
    )
    add(
        "search_runs-filter",
        lambda _: autolog.search_runs(filter="metrics.m <<< 1"),
        FilterSyntaxError,
        "<",
    )
    add(
        "search_runs-filter-unknown",
        lambda _: autolog.search_runs(filter="bogus.m < 1"),
        FilterSyntaxError,
        "bogus",
    )
    add(
        "search_runs-order-by",
        lambda _: autolog.search_runs(order_by=["metrics.m SIDEWAYS"]),
        FilterSyntaxError,
        "SIDEWAYS",
    )
    for i, n in enumerate([0, -1, "5", 1.5, True]):
        add(
            f"search_runs-max-results-{i}",
            lambda _, n=n: autolog.search_runs(max_results=n),
            InvalidValueError,
            repr(n),
        )
    add(
        "search_runs-status",
        lambda _: autolog.search_runs(status="DONE"),
        InvalidValueError,
        "'DONE'",
    )

    add(
        "start_run-tags-not-a-dict",
        lambda _: autolog.start_run(nested=True, tags="a"),  # type: ignore[arg-type]
        InvalidValueError,
        "str",
    )
    add(
        "start_run-tag-long-value",
        lambda _: autolog.start_run(nested=True, tags={"t": "x" * 8001}),
        InvalidValueError,
        "'t'",
    )
    add("start_run-not-nested", lambda _: autolog.start_run(), InvalidInputError, "nested=True")
    for i, status in enumerate(["RUNNING", "DONE", 5, None]):
        add(
            f"end_run-status-{i}",
            lambda _, s=status: autolog.end_run(s),
            InvalidValueError,
            repr(status),
        )

    for i, interval in enumerate([0, -1.0, "1", True, float("nan")]):
        add(
            f"configure-flush-interval-{i}",
            lambda _, v=interval: autolog.configure(flush_interval=v),
            InvalidValueError,
            repr(interval),
        )
    add(
        "configure-capture",
        lambda _: autolog.configure(disable_capture=["gpu"]),
        InvalidValueError,
        "'gpu'",
    )
    add(
        "configure-uri-scheme",
        lambda _: autolog.configure(tracking_uri="bogus://x"),
        UnknownSchemeError,
        "'bogus'",
    )
    for i, uri in enumerate(["", "   ", None, 5]):
        add(
            f"set_tracking_uri-{i}",
            lambda _, u=uri: autolog.set_tracking_uri(u),
            InvalidValueError,
            repr(uri),
        )
    add(
        "set_tracking_uri-scheme",
        lambda _: autolog.set_tracking_uri("bogus://x"),
        UnknownSchemeError,
        "file",
    )
    for i, timeout in enumerate([-1, "1", True]):
        add(
            f"flush-timeout-{i}",
            lambda _, t=timeout: autolog.flush(t),
            InvalidValueError,
            repr(timeout),
        )
    return cases


CASES = _cases()


def _active_id() -> str:
    run = autolog.active_run()
    assert run is not None
    return run.id


@pytest.mark.parametrize(
    ("call", "exc", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_raises_a_clear_error_and_loses_nothing(
    tmp_path: Path, call: Callable[[Path], object], exc: type[AutologError], fragment: str
) -> None:
    (tmp_path / "f.txt").write_text("data")
    autolog.configure(disable_capture=["git", "source", "packages", "system"])
    with autolog.start_run(name="keep") as run:
        autolog.log_param("alpha", 0.1)
        for step in range(3):
            autolog.log_metric("loss", 1.0 / (step + 1), step=step)
        autolog.set_tag("stage", "dev")
        autolog.log_text("kept", "kept.txt")
        with pytest.raises(exc) as info:
            call(tmp_path)
        assert fragment in str(info.value), f"{fragment!r} not in {str(info.value)!r}"
        # A specific subclass, never the bare base class.
        assert type(info.value) is not AutologError
        assert autolog.active_run() is run
        autolog.log_metric("loss", 0.1, step=3)
        autolog.log_param("after", 1)
    stored = autolog.get_run(run.id)
    assert stored.status is RunStatus.FINISHED
    assert stored.params == {"alpha": "0.1", "after": "1"}
    assert stored.tags["stage"] == "dev"
    assert [m.step for m in autolog.get_metric_history(run.id, "loss")] == [0, 1, 2, 3]
    assert stored.metrics["loss"] == 0.1
    assert [f.path for f in autolog.list_artifacts(run.id)] == ["kept.txt"]


def test_a_bad_start_run_starts_nothing() -> None:
    before = len(autolog.search_runs())
    with pytest.raises(InvalidKeyError):
        autolog.start_run(tags={"bad@key": 1})
    with pytest.raises(InvalidKeyError):
        autolog.start_run(name="")
    assert autolog.active_run() is None
    assert len(autolog.search_runs()) == before


def test_end_run_with_no_run_and_a_bad_call_outside_a_run() -> None:
    with pytest.raises(NoActiveRunError, match="start_run"):
        autolog.end_run()
    with pytest.raises(InvalidKeyError):
        autolog.log_metric("bad@key", 1.0)
    run = autolog.active_run()
    if run is not None:
        run.end()


def test_errors_are_also_the_builtin_kinds_users_catch() -> None:
    with pytest.raises(ValueError):
        autolog.get_run("../x")
    with pytest.raises(LookupError):
        autolog.get_run(MISSING_RUN)
