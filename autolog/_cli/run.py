"""`autolog run`: run an unmodified script with autologging on."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from autolog._cli.main import add_command

if TYPE_CHECKING:
    from autolog._cli.main import Subparsers

__all__ = ["register"]

_EPILOG = """\
examples:
  autolog run train.py --epochs 3          a script, with its own arguments
  autolog run -m mypackage.train           a module, as python -m would run it
  autolog run --experiment churn train.py  runs go to the experiment "churn"

Options of `autolog run` go before the script; everything after the script is the
script's own arguments. The exit code is the script's.
"""


def register(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers,
        "run",
        _run,
        help="run a Python script with autologging on (no change to the script)",
        epilog=_EPILOG,
    )
    parser.add_argument("--experiment", metavar="NAME", help="the experiment of the run")
    parser.add_argument("--run-name", metavar="NAME", help="the run's name (default: the script)")
    parser.add_argument(
        "--integrations",
        metavar="NAMES",
        help="comma-separated integrations to enable (default: all installed)",
    )
    parser.add_argument("--no-models", action="store_true", help="do not save fitted models")
    parser.add_argument(
        "--tag", action="append", default=[], metavar="KEY=VALUE", help="a tag on the run"
    )
    parser.add_argument("-m", dest="module", action="store_true", help="run a module, not a file")
    parser.add_argument("target", metavar="SCRIPT", help="the script (or module with -m)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")


def _run(args: argparse.Namespace) -> int:
    from autolog._cli.script import run_script
    from autolog._tracking.api import configure

    if args.experiment:
        configure(experiment=args.experiment)
    names = [n.strip() for n in args.integrations.split(",")] if args.integrations else None
    return run_script(
        args.target,
        args.args,
        module=args.module,
        run_name=args.run_name,
        integrations=names,
        log_models=not args.no_models,
        tags=dict(_tag(t) for t in args.tag),
    )


def _tag(text: str) -> tuple[str, str]:
    from autolog.errors import InvalidValueError

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InvalidValueError(f"--tag {text!r}; expected KEY=VALUE, for example --tag team=churn")
    return key, value
