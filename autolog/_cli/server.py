"""`autolog server`: run the tracking server; `autolog server db upgrade`: migrate its database."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from autolog._cli.main import add_command, positive_int
from autolog._cli.output import note
from autolog.errors import MissingDependencyError

if TYPE_CHECKING:
    from autolog._cli.main import Subparsers

__all__ = ["register"]

_EPILOG = """\
examples:
  autolog server                                   SQLite and artifacts under ./autolog-server/
  autolog server --store postgresql://u:p@db/autolog --artifacts s3://bucket/autolog \\
                 --host 0.0.0.0 --port 5000 --workers 4
  autolog server db upgrade --store postgresql://u:p@db/autolog

Clients log to it with AUTOLOG_TRACKING_URI=http://host:5000; MLflow's client works too
(mlflow.set_tracking_uri("http://host:5000")).
"""


def _default_store() -> str:
    return f"sqlite:///{(Path('autolog-server') / 'autolog.db').resolve()}"


def _default_artifacts() -> str:
    return str((Path("autolog-server") / "artifacts").resolve())


def register(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers,
        "server",
        _serve,
        help="run the tracking server (native API, MLflow REST API)",
        epilog=_EPILOG,
    )
    _store_option(parser)
    parser.add_argument(
        "--artifacts",
        metavar="DIR|S3URI",
        help="where artifacts go: a directory or s3://bucket/prefix"
        " (default: ./autolog-server/artifacts)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="the port (5000)")
    parser.add_argument("--workers", type=positive_int, default=1, help="worker processes (1)")
    parser.add_argument(
        "--pool-size",
        type=positive_int,
        default=5,
        help="database connections per worker (5); see docs/server.md for sizing",
    )
    commands = parser.add_subparsers(title="database commands", metavar="COMMAND")
    db = add_command(commands, "db", _db_help, help="manage the server's database")
    db_commands = db.add_subparsers(title="commands", metavar="COMMAND")
    upgrade = add_command(
        db_commands,
        "upgrade",
        _upgrade,
        help="bring the database's schema up to this version of autolog (run it once)",
    )
    _store_option(upgrade)


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        help="the database: sqlite:///path.db or postgresql://user:pass@host:5432/db"
        " (default: sqlite under ./autolog-server/)",
    )


def _require_server_extra() -> None:
    try:
        import sqlalchemy  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"the server needs the [server] extra ({exc.name} is missing): pip install"
            " 'autolog-ml[server]'"
        ) from None


def _db_help(args: argparse.Namespace) -> int:
    note("usage: autolog server db upgrade --store URL")
    return 2


def _upgrade(args: argparse.Namespace) -> int:
    _require_server_extra()
    from autolog.backends.sql.database import current_revision, make_engine, upgrade

    url = args.store or _default_store()
    engine = make_engine(url)
    try:
        before = current_revision(engine)
        after = upgrade(engine)
    finally:
        engine.dispose()
    note(f"database schema: {before or 'empty'} -> {after}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    _require_server_extra()
    import uvicorn

    from autolog.backends.sql.database import check_schema, current_revision, make_engine, upgrade

    store = args.store or _default_store()
    engine = make_engine(store)
    try:
        if engine.dialect.name == "sqlite" and current_revision(engine) is None:
            upgrade(engine)  # a new SQLite file: nothing to migrate, so create it here
        check_schema(engine, store)
    finally:
        engine.dispose()
    # uvicorn imports the application by name in each worker, which reads its configuration
    # from these variables (autolog._server.app.ServerConfig.from_environment).
    os.environ["AUTOLOG_SERVER_STORE"] = store
    os.environ["AUTOLOG_SERVER_ARTIFACTS"] = args.artifacts or _default_artifacts()
    os.environ["AUTOLOG_SERVER_POOL_SIZE"] = str(args.pool_size)
    note(f"autolog server on http://{args.host}:{args.port} (store {store})")
    uvicorn.run(
        "autolog._server.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )
    return 0
