"""`autolog sync`: deliver what could not reach a tracking server; `autolog push`: copy a store."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from autolog._cli.main import add_command
from autolog._cli.output import note, write_lines
from autolog.errors import InvalidValueError

if TYPE_CHECKING:
    from autolog._cli.main import Subparsers

__all__ = ["register"]

_SYNC_EPILOG = """\
examples:
  autolog sync                                    every server something is waiting for
  autolog sync --tracking-uri http://server:5000  one server

Logging to a tracking server never waits for it: what a process could not deliver
(the server was down or slow) stays on disk in the spool ($AUTOLOG_SPOOL_DIR, else
~/.cache/autolog/spool). The next process that logs to the same server delivers it;
this command does it now. Nothing is applied twice.
"""

_PUSH_EPILOG = """\
examples:
  autolog push ./autolog-runs http://server:5000
  autolog push s3://bucket/team-a http://server:5000 --experiment churn

Copies runs (params, tags, metric histories, status), their artifacts and models, and
the model registry (versions, aliases, tags, descriptions, history) into the server.
Running it again copies only what is new: nothing is duplicated.
"""


def register(subparsers: Subparsers) -> None:
    add_command(
        subparsers,
        "sync",
        _sync,
        help="deliver to a tracking server what earlier processes could not",
        epilog=_SYNC_EPILOG,
    )
    push = add_command(
        subparsers,
        "push",
        _push,
        help="copy a local (or S3) store into a tracking server, idempotently",
        epilog=_PUSH_EPILOG,
    )
    push.add_argument("source", metavar="STORE", help="the store to copy: a path or s3://...")
    push.add_argument("target", metavar="SERVER", help="the server: http(s)://host:port")
    push.add_argument(
        "--experiment",
        "-e",
        action="append",
        default=[],
        metavar="NAME",
        help="only this experiment (repeat for several; default: all)",
    )


def _is_server(uri: str) -> bool:
    return uri.lower().startswith(("http://", "https://"))


def _sync(args: argparse.Namespace) -> int:
    from autolog.backends._spool import spooled_uris
    from autolog.backends.http import sync

    uri = getattr(args, "tracking_uri", None)
    if uri is not None and not _is_server(uri):
        raise InvalidValueError(
            f"--tracking-uri {uri!r} is not a tracking server; `autolog sync` delivers to"
            " http(s)://host:port (a local or S3 store never needs it)"
        )
    uris = [uri] if uri is not None else spooled_uris()
    if not uris:
        note("nothing is waiting to be delivered")
        return 0
    for server in uris:
        sent = sync(server)
        write_lines(f"{server}: delivered {sent} entries")
    return 0


def _push(args: argparse.Namespace) -> int:
    from autolog._cli.push import push

    if not _is_server(args.target):
        raise InvalidValueError(
            f"push target {args.target!r} is not a tracking server; give http(s)://host:port"
        )
    counts = push(args.source, args.target, args.experiment or None)
    write_lines(
        f"pushed {args.source} to {args.target}: "
        + ", ".join(f"{n} {what}" for what, n in counts.items())
    )
    return 0
