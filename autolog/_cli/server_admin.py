"""`autolog server init|token|user|group|grant|default-role`: who may use the server.

These commands work on the server's database directly (run them where the server runs,
with the same --store). `init` creates the database and the first administrator and
prints their token once; nothing secret is ever stored or printed again.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from autolog._cli.main import add_command, positive_int
from autolog._cli.output import note, write_lines
from autolog.errors import InvalidValueError

if TYPE_CHECKING:
    from autolog._cli.main import Subparsers
    from autolog.backends.sql.auth import AuthStore

__all__ = ["add_commands"]


def add_commands(
    commands: Subparsers, store_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add the administration commands under `autolog server`."""

    def command(parent: Subparsers, name: str, handler: Any, help: str) -> argparse.ArgumentParser:
        parser = add_command(parent, name, handler, help=help)
        store_option(parser)
        return parser

    init = command(
        commands,
        "init",
        _init,
        "create the database and the first administrator; print their token",
    )
    init.add_argument("--admin", default="admin", help="the administrator's user name (admin)")

    token = add_command(commands, "token", _usage, help="create, list and revoke tokens")
    tokens = token.add_subparsers(title="commands", metavar="COMMAND")
    create = command(tokens, "create", _token_create, "create a token and print it (once)")
    create.add_argument("--user", required=True, help="the user the token acts as")
    create.add_argument("--read-only", action="store_true", help="the token may only read")
    create.add_argument("--expires-days", type=positive_int, help="expire after this many days")
    create.add_argument("--note", default="", help="what the token is for (shown by `list`)")
    listing = command(tokens, "list", _token_list, "list tokens (never their secrets)")
    listing.add_argument("--user", help="only this user's tokens")
    revoke = command(tokens, "revoke", _token_revoke, "revoke a token by its id")
    revoke.add_argument("id", help="the token's id (from `token list`; 6 characters suffice)")

    user = add_command(commands, "user", _usage, help="add, disable and enable users")
    users = user.add_subparsers(title="commands", metavar="COMMAND")
    add = command(users, "add", _user_add, "add a user")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="a server administrator")
    add.add_argument(
        "--password", action="store_true", help="ask for a password (for the web UI's sign-in)"
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    for name, handler, text in (
        ("disable", _user_disable, "disable a user: their tokens and sessions stop working"),
        ("enable", _user_enable, "enable a disabled user"),
        ("password", _user_password, "set a user's web UI password (asked, or --password-stdin)"),
    ):
        sub = command(users, name, handler, text)
        sub.add_argument("name")
        if name == "password":
            sub.add_argument("--password-stdin", action="store_true")
    command(users, "list", _user_list, "list users")

    group = add_command(commands, "group", _usage, help="add groups and members")
    groups = group.add_subparsers(title="commands", metavar="COMMAND")
    command(groups, "add", _group_add, "add a group").add_argument("name")
    member = command(groups, "member", _group_member, "add a user to a group (or --remove)")
    member.add_argument("group")
    member.add_argument("user")
    member.add_argument("--remove", action="store_true")

    grant = command(
        commands, "grant", _grant, "give a user or group a role on an experiment or a model"
    )
    grant.add_argument("kind", choices=["experiment", "model"])
    grant.add_argument("name", help="the experiment's name or id, or the model's name")
    grant.add_argument("role", choices=["reader", "writer", "maintainer", "owner", "none"])
    who = grant.add_mutually_exclusive_group(required=True)
    who.add_argument("--user")
    who.add_argument("--group")

    default = command(
        commands,
        "default-role",
        _default_role,
        "the role every signed-in user gets on new experiments (none by default)",
    )
    default.add_argument("role", nargs="?", choices=["reader", "writer", "maintainer", "none"])


def _usage(args: argparse.Namespace) -> int:
    note("usage: autolog server token|user|group COMMAND ...; see --help")
    return 2


def _store(args: argparse.Namespace, *, create: bool = False) -> AuthStore:
    from autolog._cli.server import default_store, require_server_extra
    from autolog.backends.sql.auth import AuthStore
    from autolog.backends.sql.database import check_schema, current_revision, make_engine, upgrade

    require_server_extra()
    url = args.store or default_store()
    engine = make_engine(url)
    if create and current_revision(engine) is None:
        upgrade(engine)
    check_schema(engine, url)
    return AuthStore(engine=engine)


def _init(args: argparse.Namespace) -> int:
    store = _store(args, create=True)
    try:
        if any(admin for _, admin, _ in store.users()):
            raise InvalidValueError(
                "this server is initialized already (it has an administrator); create tokens"
                " with `autolog server token create --user NAME`"
            )
        store.add_user(args.admin, admin=True)
        token_id, secret = store.create_token(args.admin, note="created by server init")
    finally:
        store.close()
    note(
        f"administrator {args.admin!r} created; their token (id {token_id}) is printed below,"
        " once: keep it in a password manager. Clients use it with"
        " AUTOLOG_TRACKING_TOKEN or `autolog login URL`."
    )
    write_lines(secret)
    return 0


def _expiry(days: int | None) -> int | None:
    return None if days is None else int((time.time() + days * 86400) * 1000)


def _token_create(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        token_id, secret = store.create_token(
            args.user,
            scope="read" if args.read_only else "write",
            expires_at=_expiry(args.expires_days),
            note=args.note,
        )
    finally:
        store.close()
    note(f"token {token_id} for {args.user!r} (shown once):")
    write_lines(secret)
    return 0


def _when(ms: int | None) -> str:
    return "never" if ms is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000))


def _token_list(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        found = store.tokens(args.user)
    finally:
        store.close()
    lines = ["ID            USER              SCOPE  EXPIRES           STATE    NOTE"]
    for tok in found:
        state = "revoked" if tok.revoked else "active"
        expires = _when(tok.expires_at)
        lines.append(
            f"{tok.id:<13} {tok.owner:<17} {tok.scope:<6} {expires:<17} {state:<8} {tok.note}"
        )
    write_lines(lines)
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        store.revoke_token(args.id)
    finally:
        store.close()
    note(f"token {args.id} revoked (servers stop accepting it within seconds)")
    return 0


def _password(args: argparse.Namespace) -> str:
    if getattr(args, "password_stdin", False):
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise InvalidValueError("the two passwords differ; run the command again")
    if len(password) < 8:
        raise InvalidValueError("the password is shorter than 8 characters; choose a longer one")
    return password


def _user_add(args: argparse.Namespace) -> int:
    password = _password(args) if args.password or args.password_stdin else None
    store = _store(args)
    try:
        if not store.add_user(args.name, admin=args.admin, password=password):
            raise InvalidValueError(f"user {args.name!r} exists already")
    finally:
        store.close()
    note(f"user {args.name!r} added" + (" (administrator)" if args.admin else ""))
    return 0


def _user_set(args: argparse.Namespace, disabled: bool) -> int:
    store = _store(args)
    try:
        store.set_user(args.name, disabled=disabled)
    finally:
        store.close()
    note(f"user {args.name!r} {'disabled' if disabled else 'enabled'}")
    return 0


def _user_disable(args: argparse.Namespace) -> int:
    return _user_set(args, True)


def _user_enable(args: argparse.Namespace) -> int:
    return _user_set(args, False)


def _user_password(args: argparse.Namespace) -> int:
    password = _password(args)
    store = _store(args)
    try:
        store.set_password(args.name, password)
    finally:
        store.close()
    note(f"password of {args.name!r} set")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        found = store.users()
    finally:
        store.close()
    write_lines(
        [
            f"{name}{' admin' if admin else ''}{' disabled' if off else ''}"
            for name, admin, off in found
        ]
    )
    return 0


def _group_add(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        if not store.add_group(args.name):
            raise InvalidValueError(f"group {args.name!r} exists already")
    finally:
        store.close()
    note(f"group {args.name!r} added")
    return 0


def _group_member(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        store.set_member(args.group, args.user, member=not args.remove)
    finally:
        store.close()
    note(f"{args.user!r} {'removed from' if args.remove else 'added to'} group {args.group!r}")
    return 0


def _grant(args: argparse.Namespace) -> int:
    from autolog.errors import NotFoundError

    store = _store(args)
    try:
        key = args.name
        if args.kind == "experiment":
            found = store.experiment_id(args.name)
            if found is None:
                raise NotFoundError(f"no experiment named {args.name!r} (or with that id)")
            key = found
        elif not store.exists("model", key):
            raise NotFoundError(f"no registered model named {key!r}")
        kind, who = ("user", args.user) if args.user else ("group", args.group)
        store.grant(args.kind, key, kind, who, args.role)
    finally:
        store.close()
    note(f"{kind} {who!r} is now {args.role} on {args.kind} {args.name!r}")
    return 0


def _default_role(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        if args.role is not None:
            store.set_setting("default_role", args.role)
        role = store.setting("default_role") or "none"
    finally:
        store.close()
    write_lines(role)
    return 0
