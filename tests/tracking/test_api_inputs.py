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

Call = Callable[[Path], object]
Case = tuple[str, Call, type[AutologError], str]


class Late:
    """An argument computed when the case runs, from the test's tmp_path."""

    def __init__(self, make: Callable[[Path], Any]) -> None:
        self.make = make


IN_TMP = Late(lambda tmp: tmp)
TMP_FILE = Late(lambda tmp: tmp / "f.txt")
DL = Late(lambda tmp: tmp / "dl")
ACTIVE = Late(lambda _: _active_id())


def call(fn: Callable[..., object], *args: Any, **kwargs: Any) -> Call:
    """`fn(*args, **kwargs)` as a case, with every Late argument filled in at run time."""

    def run(tmp: Path) -> object:
        def fill(value: Any) -> Any:
            return value.make(tmp) if isinstance(value, Late) else value

        return fn(*map(fill, args), **{k: fill(v) for k, v in kwargs.items()})

    return run


def _cases() -> list[Case]:
    """(id, call, expected exception, fragment of its message naming the bad value)."""
    cases: list[Case] = []

    def add(name: str, run: Call, exc: type[AutologError], frag: str) -> None:
        cases.append((name, run, exc, frag))

    a = autolog
    for i, key in enumerate(BAD_KEYS):
        for name, run in (
            ("log_param", call(a.log_param, key, 1)),
            ("log_params", call(a.log_params, {"ok": 1, key: 2})),
            ("log_metric", call(a.log_metric, key, 1.0)),
            ("log_metrics", call(a.log_metrics, {"ok": 1.0, key: 2.0})),
            ("set_tag", call(a.set_tag, key, "v")),
            ("set_tags", call(a.set_tags, {"ok": "v", key: "v"})),
            ("get_metric_history", call(a.get_metric_history, MISSING_RUN, key)),
            ("start_run-tags", call(a.start_run, nested=True, tags={key: 1})),
        ):
            add(f"{name}-key-{i}", run, InvalidKeyError, repr(key))

    for i, value in enumerate(["1.5", b"1", None, [1.0], {"a": 1}, object(), 1j]):
        add(f"log_metric-value-{i}", call(a.log_metric, "m", value), InvalidValueError, "'m'")
        add(f"log_metrics-value-{i}", call(a.log_metrics, {"a": 1.0, "m": value}),
            InvalidValueError, "'m'")  # fmt: skip
    for i, step in enumerate([1.5, "1", True, type(None)]):
        add(f"log_metric-step-{i}", call(a.log_metric, "m", 1.0, step=step), InvalidValueError,
            repr(step))  # fmt: skip
        add(f"log_metrics-step-{i}", call(a.log_metrics, {"m": 1.0}, step=step),
            InvalidValueError, repr(step))  # fmt: skip
    for i, ts in enumerate(["now", True, float("nan"), float("inf"), [1]]):
        add(f"log_metric-timestamp-{i}", call(a.log_metric, "m", 1.0, timestamp=ts),
            InvalidValueError, repr(ts))  # fmt: skip
        add(f"log_metrics-timestamp-{i}", call(a.log_metrics, {"m": 1.0}, timestamp=ts),
            InvalidValueError, repr(ts))  # fmt: skip

    cases.extend(
        [
            ("log_param-long-value", call(a.log_param, "long", "x" * 6001), InvalidValueError,
             "'long'"),
            ("log_param-conflict", call(a.log_param, "alpha", 0.2), ParamConflictError, "'0.2'"),
            ("log_params-conflict", call(a.log_params, {"new": 1, "alpha": 0.3}),
             ParamConflictError, "'0.3'"),
            ("log_params-not-a-dict", call(a.log_params, [("a", 1)]), InvalidValueError, "list"),
            ("log_metrics-not-a-dict", call(a.log_metrics, [("a", 1)]), InvalidValueError, "list"),
            ("set_tag-long-value", call(a.set_tag, "long", "x" * 8001), InvalidValueError,
             "'long'"),
            ("set_tags-long-value", call(a.set_tags, {"ok": 1, "long": "x" * 8001}),
             InvalidValueError, "'long'"),
            ("set_tags-not-a-dict", call(a.set_tags, "a=b"), InvalidValueError, "str"),
        ]
    )  # fmt: skip

    for i, path in enumerate(BAD_PATHS):
        for name, run in (
            ("log_text", call(a.log_text, "t", path)),
            ("log_dict", call(a.log_dict, {}, path)),
            ("log_artifact", call(a.log_artifact, TMP_FILE, path)),
            ("log_artifacts", call(a.log_artifacts, IN_TMP, path)),
            ("list_artifacts", call(a.list_artifacts, ACTIVE, path)),
            ("download_artifacts", call(a.download_artifacts, ACTIVE, path, DL)),
        ):
            add(f"{name}-path-{i}", run, InvalidKeyError, repr(path))
    for i, empty in enumerate(["", ".", "./", None, 5]):
        add(f"log_text-empty-path-{i}", call(a.log_text, "t", empty), InvalidKeyError, repr(empty))
    missing = Late(lambda tmp: tmp / "missing.txt")
    cases.extend(
        [
            ("log_text-not-text", call(a.log_text, b"bytes", "t.txt"), InvalidValueError, "bytes"),
            ("log_dict-unserializable", call(a.log_dict, {(1, 2): 1}, "d.json"), InvalidValueError,
             "dict"),
            ("log_artifact-missing", call(a.log_artifact, missing), InvalidInputError,
             "missing.txt"),
            ("log_artifact-directory", call(a.log_artifact, IN_TMP), InvalidInputError,
             "log_artifacts"),
            ("log_artifacts-file", call(a.log_artifacts, TMP_FILE), InvalidInputError, "f.txt"),
        ]
    )  # fmt: skip

    for i, run_id in enumerate(BAD_IDS):
        for name, run in (
            ("get_run", call(a.get_run, run_id)),
            ("get_metric_history", call(a.get_metric_history, run_id, "m")),
            ("list_artifacts", call(a.list_artifacts, run_id)),
            ("download_artifacts", call(a.download_artifacts, run_id, "", DL)),
        ):
            add(f"{name}-id-{i}", run, InvalidKeyError, repr(run_id))
    for name, run in (
        ("get_run", call(a.get_run, MISSING_RUN)),
        ("get_metric_history", call(a.get_metric_history, MISSING_RUN, "m")),
        ("list_artifacts", call(a.list_artifacts, MISSING_RUN)),
        ("download_artifacts", call(a.download_artifacts, MISSING_RUN, "", DL)),
    ):
        add(f"{name}-missing-run", run, RunNotFoundError, MISSING_RUN)
    add("download_artifacts-missing-file", call(a.download_artifacts, ACTIVE, "nope.txt", DL),
        ArtifactNotFoundError, "'nope.txt'")  # fmt: skip

    for i, exp_name in enumerate([None, 5, "", "   ", "x" * 257, "a\x00b", "tab\tname"]):
        frag = repr(exp_name)
        add(f"set_experiment-{i}", call(a.set_experiment, exp_name), InvalidKeyError, frag)
        add(f"get_experiment-{i}", call(a.get_experiment, exp_name), InvalidKeyError, frag)
        if exp_name is None:
            continue  # None means "generate one" or "leave as it is" below
        add(f"start_run-name-{i}", call(a.start_run, name=exp_name, nested=True), InvalidKeyError,
            frag)  # fmt: skip
        add(f"configure-experiment-{i}", call(a.configure, experiment=exp_name), InvalidKeyError,
            frag)  # fmt: skip
        if isinstance(exp_name, str) and exp_name != "":
            add(f"start_run-experiment-{i}", call(a.start_run, nested=True, experiment=exp_name),
                InvalidKeyError, frag)  # fmt: skip
            add(f"search_runs-experiment-{i}", call(a.search_runs, exp_name), InvalidKeyError, frag)
    cases.extend(
        [
            ("get_experiment-missing", call(a.get_experiment, "nope"), ExperimentNotFoundError,
             "'nope'"),
            ("search_runs-missing-experiment", call(a.search_runs, "nope"), ExperimentNotFoundError,
             "'nope'"),
            ("search_runs-experiment-type", call(a.search_runs, 5), InvalidValueError, "5"),
            ("search_runs-filter", call(a.search_runs, filter="metrics.m <<< 1"), FilterSyntaxError,
             "<"),
            ("search_runs-filter-unknown", call(a.search_runs, filter="bogus.m < 1"),
             FilterSyntaxError, "bogus"),
            ("search_runs-order-by", call(a.search_runs, order_by=["metrics.m SIDEWAYS"]),
             FilterSyntaxError, "SIDEWAYS"),
            ("search_runs-status", call(a.search_runs, status="DONE"), InvalidValueError, "'DONE'"),
            ("start_run-tags-not-a-dict", call(a.start_run, nested=True, tags="a"),
             InvalidValueError, "str"),
            ("start_run-tag-long-value", call(a.start_run, nested=True, tags={"t": "x" * 8001}),
             InvalidValueError, "'t'"),
            ("start_run-not-nested", call(a.start_run), InvalidInputError, "nested=True"),
            ("configure-capture", call(a.configure, disable_capture=["gpu"]), InvalidValueError,
             "'gpu'"),
            ("configure-uri-scheme", call(a.configure, tracking_uri="bogus://x"),
             UnknownSchemeError, "'bogus'"),
            ("set_tracking_uri-scheme", call(a.set_tracking_uri, "bogus://x"), UnknownSchemeError,
             "file"),
        ]
    )  # fmt: skip
    for i, n in enumerate([0, -1, "5", 1.5, True]):
        add(f"search_runs-max-results-{i}", call(a.search_runs, max_results=n),
            InvalidValueError, repr(n))  # fmt: skip
    for i, status in enumerate(["RUNNING", "DONE", 5, None]):
        add(f"end_run-status-{i}", call(a.end_run, status), InvalidValueError, repr(status))
    for i, interval in enumerate([0, -1.0, "1", True, float("nan")]):
        add(f"configure-flush-interval-{i}", call(a.configure, flush_interval=interval),
            InvalidValueError, repr(interval))  # fmt: skip
    for i, uri in enumerate(["", "   ", None, 5]):
        add(f"set_tracking_uri-{i}", call(a.set_tracking_uri, uri), InvalidValueError, repr(uri))
    for i, timeout in enumerate([-1, "1", True]):
        add(f"flush-timeout-{i}", call(a.flush, timeout), InvalidValueError, repr(timeout))
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
