"""The `autolog` command (also `python -m autolog`).

Commands live in the modules named in `COMMAND_MODULES`; each exposes
`register(subparsers)`, which adds its commands with `add_command()`. A command
is a parser plus a handler `(args) -> int`. Adding a command module means
writing it and adding its name to the list; nothing else here changes.

Exit codes: 0 success; 2 bad input (a usage error or any `AutologError`, shown
as one `autolog: error: ...` message, never a traceback); 1 anything else
(`AUTOLOG_DEBUG=1` prints the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from autolog._cli.table import format_time
from autolog._entities import Run
from autolog._tracking.api import get_run, search_runs, set_tracking_uri
from autolog._tracking.settings import tracking
from autolog.errors import AutologError, InvalidValueError, RunNotFoundError

if TYPE_CHECKING:
    from typing import TypeAlias

    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = [
    "COMMAND_MODULES",
    "Handler",
    "add_command",
    "build_parser",
    "main",
    "positive_int",
    "resolve_run",
]

#: The modules whose `register(subparsers)` adds commands, in the order `--help` lists them.
COMMAND_MODULES: list[str] = [
    "autolog._cli.runs",
    "autolog._cli.login",
    "autolog._cli.run",
    "autolog._cli.models",
    "autolog._cli.server",
    "autolog._cli.remote",
    "autolog._cli.ui",
    "autolog._cli.data",
    "autolog._cli.reproduce",
    "autolog._cli.plot",
    "autolog._cli.doctor",
]

#: What a command runs: parsed arguments in, exit code out.
Handler = Callable[[argparse.Namespace], int]

MIN_PREFIX = 6

_EXAMPLES = """\
examples:
  autolog runs --filter "metrics.rmse < 0.5" --order-by "metrics.rmse ASC"
  autolog show 3f2a9c                  a run by a unique prefix of its id
  autolog artifacts 3f2a9c model --download ./out

The store is --tracking-uri, else $AUTOLOG_TRACKING_URI, else ./autolog-runs.
"""


def _global_options() -> argparse.ArgumentParser:
    """Options accepted both before and after the command name."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--tracking-uri",
        metavar="URI",
        # SUPPRESS: the command's parser must not overwrite a value given before the command.
        default=argparse.SUPPRESS,
        help="the store to read: a path, file:, s3://..., http://server:5000 (default:"
        " $AUTOLOG_TRACKING_URI or ./autolog-runs)",
    )
    return parent


def add_command(
    subparsers: Subparsers,
    name: str,
    handler: Handler,
    *,
    help: str,
    description: str | None = None,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """Add the command `name`, run by `handler(args)`; return its parser to add arguments to.

    Works on nested subparsers too, for command groups such as `autolog models list`.
    """
    parser = subparsers.add_parser(
        name,
        help=help,
        description=description or help,
        epilog=epilog,
        parents=[_global_options()],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The `autolog` parser with every command of `COMMAND_MODULES` registered."""
    from autolog import __version__

    parser = argparse.ArgumentParser(
        prog="autolog",
        description="Look at the runs, metrics and artifacts autolog recorded.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"autolog {__version__}")
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        default=None,
        help="the store to read (also accepted after the command)",
    )
    parser.set_defaults(handler=None)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def positive_int(text: str) -> int:
    """An argparse `type` for counts such as --max-results: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def resolve_run(ref: str) -> Run:
    """The run whose id is `ref` or starts with `ref` (at least 6 characters, unique)."""
    try:
        return get_run(ref)
    except RunNotFoundError:
        if len(ref) < MIN_PREFIX:
            raise RunNotFoundError(
                f"no run with id {ref!r} in {tracking.backend().uri}; give the full id or a"
                f" prefix of at least {MIN_PREFIX} characters (see `autolog runs`)"
            ) from None
    # The prefix as a LIKE pattern (the search reads the index; it need not list every run).
    # Run ids are letters, digits, '-' and '_': anything else matches none.
    matches: list[Run] = []
    if all(c.isascii() and (c.isalnum() or c in "-_") for c in ref):
        pattern = ref.replace("_", "\\_")
        found = search_runs(filter=f"id LIKE '{pattern}%'")
        matches = [r for r in found if r.id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunNotFoundError(
            f"no run with id or id prefix {ref!r} in {tracking.backend().uri}; list runs"
            " with `autolog runs`"
        )
    shown = "; ".join(f"{r.id} ({r.name}, {format_time(r.start_time)})" for r in matches[:10])
    more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
    raise InvalidValueError(
        f"run id prefix {ref!r} matches {len(matches)} runs: {shown}{more}; give more"
        " characters of the id"
    )


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 1


def _error(message: str) -> None:
    print(f"autolog: error: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `autolog` command with `argv` (default: sys.argv[1:]); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse's usage errors (2), --help and --version (0)
        return _exit_code(exc)
    if args.handler is None:
        parser.print_help(sys.stderr)
        return 2
    previous_uri = tracking.settings.tracking_uri
    try:
        if args.tracking_uri is not None:
            set_tracking_uri(args.tracking_uri)
        code: int = args.handler(args)
        sys.stdout.flush()
        return code
    except AutologError as exc:
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (`| head`) went away: stop quietly, and keep the interpreter's
        # final flush from failing again on the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as exc:
        _error(str(exc))
        return 1
    except Exception as exc:  # noqa: BLE001 - the last resort: one line instead of a traceback
        if os.environ.get("AUTOLOG_DEBUG", "") in ("1", "true", "yes"):
            traceback.print_exc()
        _error(
            f"internal error: {type(exc).__name__}: {exc} (run again with AUTOLOG_DEBUG=1"
            " for the traceback, and please report it)"
        )
        return 1
    finally:
        tracking.settings.tracking_uri = previous_uri
