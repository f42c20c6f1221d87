"""`autolog ui`: the web UI over a local directory or S3 store, on 127.0.0.1."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from autolog._cli.main import add_command
from autolog._cli.output import note
from autolog.backends import default_tracking_uri
from autolog.errors import InvalidValueError, MissingDependencyError

if TYPE_CHECKING:
    from autolog._cli.main import Subparsers

__all__ = ["register"]

_EPILOG = """\
examples:
  autolog ui --open                            the runs in ./autolog-runs, on http://127.0.0.1:5050
  autolog ui --tracking-uri s3://bucket/runs --port 8080

It listens on 127.0.0.1 only and needs no database server. To share runs with others,
run `autolog server` instead (docs/server.md).
"""


def register(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers,
        "ui",
        _serve,
        help="open the web UI over a local directory or S3 store",
        epilog=_EPILOG,
    )
    parser.add_argument("--port", type=int, default=5050, help="the port on 127.0.0.1 (5050)")
    parser.add_argument(
        "--open", action="store_true", help="open the UI in the default web browser too"
    )


def _serve(args: argparse.Namespace) -> int:
    try:
        import jinja2  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError(
            f"`autolog ui` needs the [server] extra ({exc.name} is missing): pip install"
            " 'autolog-ml[server]'"
        ) from None
    uri = args.tracking_uri or default_tracking_uri()
    if uri.startswith(("http://", "https://")):
        raise InvalidValueError(
            f"tracking URI {uri!r} is a server: open {uri} in a browser instead of `autolog ui`"
        )
    if "://" not in uri or uri.startswith("file://"):
        path = Path(uri[len("file://") :] if uri.startswith("file://") else uri).expanduser()
        if not path.is_dir():
            raise InvalidValueError(
                f"there is no store at {str(path)!r}: log runs there first, or pass"
                " --tracking-uri DIR"
            )
        uri = str(path.resolve())
    if not 0 < args.port < 65536:
        raise InvalidValueError(f"port {args.port} is not a TCP port; use 1 to 65535")
    # uvicorn builds the application in its own import (autolog._server.ui.local), which
    # reads the store from this variable: the CLI layer does not import the server's.
    os.environ["AUTOLOG_UI_TRACKING_URI"] = uri
    url = f"http://127.0.0.1:{args.port}"
    note(f"autolog ui on {url} (store {uri}); Ctrl-C stops it")
    if args.open:
        import threading
        import webbrowser

        # Once uvicorn listens (it starts in well under a second); a failure only loses the tab.
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(
        "autolog._server.ui.local:app_from_environment",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
    )
    return 0
