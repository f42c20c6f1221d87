"""`autolog server`: run the tracking server; `autolog server db upgrade`: migrate its database."""

from __future__ import annotations

import argparse
import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING

from autolog._cli.main import add_command, positive_int
from autolog._cli.output import note
from autolog.errors import InvalidValueError, MissingDependencyError

if TYPE_CHECKING:
    from autolog._cli.main import Subparsers

__all__ = ["default_store", "register", "require_server_extra"]

_EPILOG = """\
examples:
  autolog server                                   SQLite and artifacts under ./autolog-server/
  autolog server --store postgresql://u:p@db/autolog --artifacts s3://bucket/autolog \\
                 --host 0.0.0.0 --port 5000 --workers 4
  autolog server db upgrade --store postgresql://u:p@db/autolog
  autolog server init --store ...                  the first administrator's token (once)
  autolog server --auth proxy --proxy-header X-Forwarded-User --trusted-proxy 10.0.0.5
  autolog server --artifacts s3://bucket/autolog --artifacts-direct
                                                   clients move artifacts to S3 themselves

Authentication: --auth none (loopback only), token (the default elsewhere), proxy.
Clients log to it with AUTOLOG_TRACKING_URI=http://host:5000; MLflow's client works too
(mlflow.set_tracking_uri("http://host:5000")).
"""


def default_store() -> str:
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
    parser.add_argument(
        "--artifacts-direct",
        action="store_true",
        help="with --artifacts s3://...: autolog clients move artifact bytes to and from the"
        " bucket through short-lived presigned URLs instead of through the server",
    )
    parser.add_argument(
        "--artifacts-direct-expiry",
        type=positive_int,
        default=300,
        metavar="SECONDS",
        help="with --artifacts-direct: how long a presigned URL stays valid (300)",
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
    parser.add_argument(
        "--auth",
        choices=["none", "token", "proxy"],
        help="who may call: none (loopback binds only; the default there), token (bearer"
        " tokens; the default elsewhere), proxy (an SSO proxy's identity header, and tokens)",
    )
    parser.add_argument(
        "--proxy-header", metavar="NAME", help="with --auth proxy: the header naming the user"
    )
    parser.add_argument(
        "--trusted-proxy",
        metavar="ADDR",
        action="append",
        default=[],
        help="with --auth proxy: an address (or network) whose identity header is believed",
    )
    parser.add_argument(
        "--allowed-host",
        metavar="NAME",
        action="append",
        default=[],
        help="a host name clients use to reach the server (Host header); repeatable."
        " Default: the loopback names on a loopback bind, any name elsewhere",
    )
    parser.add_argument(
        "--cors-origin",
        metavar="ORIGIN",
        action="append",
        default=[],
        help="a web origin allowed to call the API from a browser (none by default)",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    db = add_command(commands, "db", _db_help, help="manage the server's database")
    db_commands = db.add_subparsers(title="commands", metavar="COMMAND")
    upgrade = add_command(
        db_commands,
        "upgrade",
        _upgrade,
        help="bring the database's schema up to this version of autolog (run it once)",
    )
    _store_option(upgrade)
    from autolog._cli.server_admin import add_commands

    add_commands(commands, _store_option)


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        help="the database: sqlite:///path.db or postgresql://user:pass@host:5432/db"
        " (default: sqlite under ./autolog-server/)",
    )


def require_server_extra() -> None:
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
    require_server_extra()
    from autolog.backends.sql.database import current_revision, make_engine, upgrade

    url = args.store or default_store()
    engine = make_engine(url)
    try:
        before = current_revision(engine)
        after = upgrade(engine)
    finally:
        engine.dispose()
    note(f"database schema: {before or 'empty'} -> {after}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    require_server_extra()
    import uvicorn

    from autolog.backends.sql.database import check_schema, current_revision, make_engine, upgrade

    store = args.store or default_store()
    auth_env = _auth_environment(args)
    artifacts = args.artifacts or _default_artifacts()
    _check_direct(args, artifacts)
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
    os.environ["AUTOLOG_SERVER_ARTIFACTS"] = artifacts
    os.environ["AUTOLOG_SERVER_ARTIFACTS_DIRECT"] = "1" if args.artifacts_direct else ""
    os.environ["AUTOLOG_SERVER_DIRECT_EXPIRY"] = str(args.artifacts_direct_expiry)
    os.environ["AUTOLOG_SERVER_POOL_SIZE"] = str(args.pool_size)
    os.environ.update(auth_env)
    mode = auth_env["AUTOLOG_SERVER_AUTH"]
    note(f"autolog server on http://{args.host}:{args.port} (store {store}; --auth {mode})")
    if not auth_env["AUTOLOG_SERVER_ALLOWED_HOSTS"]:
        note("any Host name is answered; name the server's own with --allowed-host")
    uvicorn.run(
        "autolog._server.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        # The client address stays the connection's peer: --trusted-proxy is checked
        # against the address that really connected, never a forwarded claim.
        proxy_headers=False,
    )
    return 0


#: The longest life of a presigned URL (autolog._server.direct.MAX_EXPIRY, which checks again).
MAX_DIRECT_EXPIRY = 3600


def _check_direct(args: argparse.Namespace, artifacts: str) -> None:
    """Refuse --artifacts-direct settings here, before the workers start, with the message alone."""
    if args.artifacts_direct and not artifacts.startswith("s3://"):
        raise InvalidValueError(
            f"--artifacts-direct needs an S3 artifact store, and --artifacts is {artifacts!r}:"
            " use --artifacts s3://bucket/prefix, or drop --artifacts-direct (artifacts then"
            " stream through the server)"
        )
    if args.artifacts_direct_expiry > MAX_DIRECT_EXPIRY:
        raise InvalidValueError(
            f"--artifacts-direct-expiry {args.artifacts_direct_expiry} is out of range; give 1"
            f" to {MAX_DIRECT_EXPIRY} seconds (default 300)"
        )


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """Whether `host` (a bind address or name) is a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _auth_environment(args: argparse.Namespace) -> dict[str, str]:
    """The workers' authentication settings, after refusing unsafe combinations."""
    loopback = is_loopback(args.host)
    mode = args.auth or ("none" if loopback else "token")
    if mode == "none" and not loopback:
        raise InvalidValueError(
            f"--auth none lets anyone on the network do anything, so it is refused on"
            f" --host {args.host}: bind to 127.0.0.1, or use --auth token (run"
            " `autolog server init` for the first token) or --auth proxy"
        )
    if mode == "proxy" and not (args.proxy_header and args.trusted_proxy):
        raise InvalidValueError(
            "--auth proxy needs --proxy-header NAME (the header your SSO proxy sets) and"
            " --trusted-proxy ADDR (the proxy's address): the header is believed from it only"
        )
    if mode != "proxy" and (args.proxy_header or args.trusted_proxy):
        raise InvalidValueError("--proxy-header and --trusted-proxy go with --auth proxy only")
    for addr in args.trusted_proxy:
        try:
            ipaddress.ip_network(addr, strict=False)
        except ValueError:
            raise InvalidValueError(
                f"--trusted-proxy {addr!r} is not an IP address or network (e.g. 10.0.0.5 or"
                " 10.0.0.0/24)"
            ) from None
    hosts = list(args.allowed_host)
    if not hosts and loopback:
        hosts = list(LOOPBACK_HOSTS)
    return {
        "AUTOLOG_SERVER_AUTH": mode,
        "AUTOLOG_SERVER_PROXY_HEADER": args.proxy_header or "",
        "AUTOLOG_SERVER_TRUSTED_PROXIES": ",".join(args.trusted_proxy),
        "AUTOLOG_SERVER_ALLOWED_HOSTS": ",".join(h.lower() for h in hosts),
        "AUTOLOG_SERVER_CORS_ORIGINS": ",".join(args.cors_origin),
    }
