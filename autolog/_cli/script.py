"""Running an unmodified script with autologging on (`autolog run train.py ...`).

The script runs in this process, as `python train.py ...` would run it
(`__name__ == "__main__"`, `sys.argv`, `sys.path[0]` set alike), inside a
script-level root run: every autologged fit logs into it or into a child of it.
The run records the script, its arguments and its exit status; the script's
own exit code is passed through. An exception ends the run FAILED with the
error recorded, prints the traceback as Python would, and exits 1.
"""

from __future__ import annotations

import runpy
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from autolog import _tags
from autolog._entities import RunStatus
from autolog._patching.enable import enable
from autolog._safety import capture_internal_errors
from autolog._tracking import runs as _runs
from autolog.errors import InvalidInputError

__all__ = ["run_script"]


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message") prints it and exits 1
    return 1


def run_script(
    target: str,
    args: Sequence[str] = (),
    *,
    module: bool = False,
    run_name: str | None = None,
    integrations: Sequence[str] | None = None,
    log_models: bool = True,
    tags: Mapping[str, str] | None = None,
) -> int:
    """Run `target` (a script path, or a module name when `module`) with autologging on.

    Returns the exit code the script would have had: 0, its `sys.exit` code, 1 on
    an uncaught exception, 130 on KeyboardInterrupt.
    """
    if module:
        name = target
        argv0 = target
    else:
        path = Path(target)
        if not path.is_file():
            raise InvalidInputError(
                f"script {target!r} does not exist or is not a file; give the path of a Python"
                " script, or use -m for a module"
            )
        name = path.name
        argv0 = str(path)
    sys.argv[:] = [argv0, *args]
    if not module:
        sys.path.insert(0, str(Path(argv0).resolve().parent))
    enable(integrations=integrations, log_models=log_models)
    run = _runs.start_run(
        name=run_name or name,
        root=True,
        tags={
            _tags.RUN_TYPE: "script",
            _tags.SCRIPT: target,
            _tags.SCRIPT_ARGS: " ".join(args)[:4000],
            **(tags or {}),
        },
    )
    code = 0
    status = RunStatus.FINISHED
    error: BaseException | None = None
    try:
        if module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(argv0, run_name="__main__")
    except SystemExit as exc:
        code = _exit_code(exc)
        if code != 0:
            status = RunStatus.FAILED
    except KeyboardInterrupt as exc:
        code, status, error = 130, RunStatus.KILLED, exc
        traceback.print_exc()
    except BaseException as exc:  # noqa: BLE001 - the script's error: recorded, then shown
        code, status, error = 1, RunStatus.FAILED, exc
        traceback.print_exception(type(exc), exc, _user_traceback(exc))
    with capture_internal_errors("ending the script run"):
        run.set_tag(_tags.EXIT_CODE, code)
        if error is not None:
            run.fail(error)
        else:
            run.end(status)
    sys.stdout.flush()
    return code


def _user_traceback(exc: BaseException) -> TracebackType | None:
    """The traceback without autolog's and runpy's own frames on top."""
    tb = exc.__traceback__
    ours = {str(Path(__file__).resolve()), runpy.__file__ or "", "<frozen runpy>"}
    while tb is not None and (
        tb.tb_frame.f_code.co_filename in ours
        or str(Path(tb.tb_frame.f_code.co_filename).resolve()) in ours
    ):
        tb = tb.tb_next
    return tb
