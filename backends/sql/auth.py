"""Users, groups, tokens, grants and owners in the SQL store (revision 0002_auth).

The storage side of the server's authentication: `autolog server init|user|token|group|
grant|default-role` and the server's checks both go through `AuthStore`. Nothing secret
is stored: a token is kept as the sha256 of its secret (a token is 256 random bits, so a
fast hash is enough), a password as a scrypt hash (slow on purpose: a password is
guessable, and only the web login checks one).

Roles are numbers, each including the ones below: 1 reader, 2 writer, 3 maintainer,
4 owner. A caller's role on an experiment or model is the highest of: owner (its
creator), the role every signed-in user has on it (set from the server's default when it
was created), and the grants to the caller and to the caller's groups. A resource with no
owner row (created before authentication was switched on) takes the default role.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, delete, func, literal, or_, select, union, update

from autolog.backends.sql import schema as t
from autolog.backends.sql.database import make_engine
from autolog.errors import InvalidValueError, NotFoundError

__all__ = [
    "ROLES",
    "AuthStore",
    "TokenInfo",
    "hash_password",
    "hash_token",
    "role_name",
    "role_number",
    "verify_password",
]

ROLES = {"reader": 1, "writer": 2, "maintainer": 3, "owner": 4}
KINDS = ("experiment", "model")
SCOPES = ("read", "write")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,255}\Z")
#: What every token starts with, so a leaked one is recognisable (and scannable).
TOKEN_PREFIX = "alt_"
# scrypt cost: 16 MiB and about 50 ms per check on a server core.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def role_number(name: str) -> int:
    """The number of role `name` ("none" is 0), or InvalidValueError naming the roles."""
    if name == "none":
        return 0
    if name not in ROLES:
        raise InvalidValueError(f"role {name!r} is unknown; use one of {', '.join(ROLES)} or none")
    return ROLES[name]


def role_name(number: int) -> str:
    """The name of role `number` ("none" for 0)."""
    for name, n in ROLES.items():
        if n == number:
            return name
    return "none"


def check_principal(name: str, what: str = "user name") -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidValueError(
            f"{what} {name!r} is not allowed; use 1 to 256 letters, digits or . _ @ + -"
            " (starting with a letter or digit)"
        )
    return name


def hash_token(token: str) -> str:
    """The stored form of a token: its sha256, in hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def hash_password(password: str) -> str:
    """A scrypt hash of `password`: `scrypt$n$r$p$salt$hash` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches the hash `stored` (False for no hash or a malformed one)."""
    if not stored or not isinstance(password, str) or len(password) > 1024:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=32,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class TokenInfo:
    """A token as `token list` shows it (never its secret) and the server checks it."""

    id: str
    owner: str
    scope: str
    note: str
    created_at: int
    expires_at: int | None
    revoked: bool
    admin: bool = False
    disabled: bool = False


class AuthStore:
    """The authentication tables of one database."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        if engine is None:
            assert url is not None
            engine = make_engine(url)
        self.engine = engine
        self.dialect = engine.dialect.name

    def _insert(self, table: Any) -> Any:
        from sqlalchemy.dialects import postgresql, sqlite

        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    def _write(self) -> Any:
        from autolog.backends.sql.database import write_transaction

        return write_transaction(self.engine)

    # -- users and groups ---------------------------------------------------------------------

    def add_user(self, name: str, *, admin: bool = False, password: str | None = None) -> bool:
        """Add a user; False when one of that name exists (it is left as it is)."""
        check_principal(name)
        row = {
            "name": name,
            "password": None if password is None else hash_password(password),
            "admin": admin,
            "disabled": False,
            "created_at": _now_ms(),
        }
        with self._write() as conn:
            added = conn.execute(
                self._insert(t.users)
                .values(**row)
                .on_conflict_do_nothing()
                .returning(t.users.c.name)
            ).scalar()
        return added is not None

    def _user_must_exist(self, conn: Any, name: str) -> None:
        if conn.execute(select(t.users.c.name).where(t.users.c.name == name)).first() is None:
            raise NotFoundError(f"no user named {name!r}; add one with `autolog server user add`")

    def set_password(self, name: str, password: str) -> None:
        with self._write() as conn:
            self._user_must_exist(conn, name)
            conn.execute(
                update(t.users)
                .where(t.users.c.name == name)
                .values(password=hash_password(password))
            )

    def set_user(
        self, name: str, *, disabled: bool | None = None, admin: bool | None = None
    ) -> None:
        values: dict[str, Any] = {}
        if disabled is not None:
            values["disabled"] = disabled
        if admin is not None:
            values["admin"] = admin
        with self._write() as conn:
            self._user_must_exist(conn, name)
            conn.execute(update(t.users).where(t.users.c.name == name).values(**values))

    def user(self, name: str) -> tuple[bool, bool, str | None] | None:
        """(admin, disabled, password hash) of a user, or None."""
        u = t.users
        with self.engine.connect() as conn:
            row = conn.execute(
                select(u.c.admin, u.c.disabled, u.c.password).where(u.c.name == name)
            ).first()
        return None if row is None else (bool(row[0]), bool(row[1]), row[2])

    def users(self) -> list[tuple[str, bool, bool]]:
        u = t.users
        with self.engine.connect() as conn:
            rows = conn.execute(select(u.c.name, u.c.admin, u.c.disabled).order_by(u.c.name))
            return [(r[0], bool(r[1]), bool(r[2])) for r in rows]

    def add_group(self, name: str) -> bool:
        check_principal(name, "group name")
        with self._write() as conn:
            added = conn.execute(
                self._insert(t.groups)
                .values(name=name, created_at=_now_ms())
                .on_conflict_do_nothing()
                .returning(t.groups.c.name)
            ).scalar()
        return added is not None

    def set_member(self, group: str, user: str, *, member: bool = True) -> None:
        with self._write() as conn:
            if (
                conn.execute(select(t.groups.c.name).where(t.groups.c.name == group)).first()
                is None
            ):
                raise NotFoundError(
                    f"no group named {group!r}; add one with `autolog server group add {group}`"
                )
            self._user_must_exist(conn, user)
            m = t.members
            if member:
                conn.execute(
                    self._insert(m)
                    .values(group_name=group, user_name=user)
                    .on_conflict_do_nothing()
                )
            else:
                conn.execute(delete(m).where(and_(m.c.group_name == group, m.c.user_name == user)))

    # -- tokens -------------------------------------------------------------------------------

    def create_token(
        self, owner: str, *, scope: str = "write", expires_at: int | None = None, note: str = ""
    ) -> tuple[str, str]:
        """A new token of `owner`: (its id, its secret). The secret is shown once, never stored."""
        if scope not in SCOPES:
            raise InvalidValueError(f"token scope {scope!r} is unknown; use read or write")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = hash_token(secret)
        token_id = digest[:12]
        with self._write() as conn:
            self._user_must_exist(conn, owner)
            conn.execute(
                t.tokens.insert().values(
                    id=token_id,
                    hash=digest,
                    owner=owner,
                    scope=scope,
                    note=note[:256],
                    created_at=_now_ms(),
                    expires_at=expires_at,
                    revoked=False,
                )
            )
        return token_id, secret

    def tokens(self, owner: str | None = None) -> list[TokenInfo]:
        k = t.tokens
        query = select(k).order_by(k.c.created_at, k.c.id)
        if owner is not None:
            query = query.where(k.c.owner == owner)
        with self.engine.connect() as conn:
            return [
                TokenInfo(r.id, r.owner, r.scope, r.note, r.created_at, r.expires_at, r.revoked)
                for r in conn.execute(query)
            ]

    def revoke_token(self, token_id: str) -> int:
        """Revoke the tokens whose id starts with `token_id` (at least 6 characters)."""
        if not re.fullmatch(r"[0-9a-f]{6,16}", token_id or ""):
            raise InvalidValueError(
                f"token id {token_id!r} is not one; see the ids with `autolog server token list`"
            )
        k = t.tokens
        with self._write() as conn:
            ids = list(conn.execute(select(k.c.id).where(k.c.id.startswith(token_id))).scalars())
            if len(ids) > 1:
                raise InvalidValueError(
                    f"token id {token_id!r} matches {len(ids)} tokens; give more characters"
                )
            if not ids:
                raise NotFoundError(
                    f"no token with id {token_id!r}; see `autolog server token list`"
                )
            conn.execute(update(k).where(k.c.id == ids[0]).values(revoked=True))
        return 1

    def token(self, digest: str) -> TokenInfo | None:
        """The token whose hash is `digest`, with its owner's flags; None when there is none."""
        k, u = t.tokens, t.users
        query = (
            select(k, u.c.admin, u.c.disabled)
            .select_from(k.join(u, u.c.name == k.c.owner))
            .where(k.c.hash == digest)
        )
        with self.engine.connect() as conn:
            r = conn.execute(query).first()
        if r is None:
            return None
        return TokenInfo(
            r.id, r.owner, r.scope, r.note, r.created_at, r.expires_at, bool(r.revoked),
            bool(r.admin), bool(r.disabled),
        )  # fmt: skip

    # -- grants, owners, settings -------------------------------------------------------------

    def grant(self, kind: str, key: str, principal_kind: str, principal: str, role: str) -> None:
        """Give `role` on (kind, key) to a user or group; role "none" takes the grant away."""
        if kind not in KINDS:
            raise InvalidValueError(f"resource kind {kind!r} is unknown; use experiment or model")
        if principal_kind not in ("user", "group"):
            raise InvalidValueError(f"{principal_kind!r} is neither user nor group")
        number = role_number(role)
        g = t.grants
        where = and_(
            g.c.kind == kind, g.c.key == key,
            g.c.principal_kind == principal_kind, g.c.principal == principal,
        )  # fmt: skip
        with self._write() as conn:
            table = t.users if principal_kind == "user" else t.groups
            if conn.execute(select(table.c.name).where(table.c.name == principal)).first() is None:
                raise NotFoundError(
                    f"no {principal_kind} named {principal!r}; add it with"
                    f" `autolog server {principal_kind} add {principal}`"
                )
            conn.execute(delete(g).where(where))
            if number:
                conn.execute(
                    g.insert().values(
                        kind=kind, key=key, principal_kind=principal_kind,
                        principal=principal, role=number,
                    )
                )  # fmt: skip

    def grants(self, kind: str, key: str) -> list[tuple[str, str, str]]:
        """(principal kind, principal, role name) of every grant on (kind, key)."""
        g = t.grants
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(g.c.principal_kind, g.c.principal, g.c.role)
                .where(and_(g.c.kind == kind, g.c.key == key))
                .order_by(g.c.principal_kind, g.c.principal)
            )
            return [(r[0], r[1], role_name(r[2])) for r in rows]

    def setting(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            value: str | None = conn.execute(
                select(t.settings.c.value).where(t.settings.c.name == name)
            ).scalar()
        return value

    def set_setting(self, name: str, value: str) -> None:
        s = t.settings
        with self._write() as conn:
            stmt = self._insert(s).values(name=name, value=value)
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"value": value}))

    def default_role(self) -> int:
        """The role every signed-in user gets on a new experiment (0: none; the default)."""
        value = self.setting("default_role")
        return role_number(value) if value else 0

    def secret(self) -> bytes:
        """The key that signs session cookies: made once, shared by every server process."""
        s = t.settings
        with self._write() as conn:
            conn.execute(
                self._insert(s)
                .values(name="session_key", value=secrets.token_hex(32))
                .on_conflict_do_nothing()
            )
            value = conn.execute(select(s.c.value).where(s.c.name == "session_key")).scalar()
        return bytes.fromhex(str(value))

    def record_owner(self, kind: str, key: str, owner: str | None) -> None:
        """Make `owner` the owner of a new resource, with the default role for everyone else.

        A resource that has an owner row already keeps it: only its creator owns it.
        """
        everyone = self.default_role() if kind == "experiment" else 0
        with self._write() as conn:
            conn.execute(
                self._insert(t.owners)
                .values(kind=kind, key=key, owner=owner, everyone=everyone)
                .on_conflict_do_nothing()
            )

    # -- what a user may do -------------------------------------------------------------------

    def _groups(self, user: str) -> Any:
        return select(t.members.c.group_name).where(t.members.c.user_name == user)

    def role(self, user: str, kind: str, key: str) -> int:
        """The role of `user` on (kind, key): 0 to 4."""
        o, g = t.owners, t.grants
        with self.engine.connect() as conn:
            row = conn.execute(
                select(o.c.owner, o.c.everyone).where(and_(o.c.kind == kind, o.c.key == key))
            ).first()
            if row is None:
                best = self._default_for_unowned(conn, kind)
            elif row[0] == user:
                return 4
            else:
                best = int(row[1])
            granted = conn.execute(
                select(func.max(g.c.role)).where(
                    and_(g.c.kind == kind, g.c.key == key, self._principal(user))
                )
            ).scalar()
        return max(best, int(granted or 0))

    def _default_for_unowned(self, conn: Any, kind: str) -> int:
        if kind != "experiment":
            return 0
        value = conn.execute(
            select(t.settings.c.value).where(t.settings.c.name == "default_role")
        ).scalar()
        return role_number(value) if value else 0

    def _principal(self, user: str) -> Any:
        g = t.grants
        return or_(
            and_(g.c.principal_kind == "user", g.c.principal == user),
            and_(g.c.principal_kind == "group", g.c.principal.in_(self._groups(user))),
        )

    def readable(self, user: str, kind: str) -> list[str]:
        """The keys of every `kind` resource `user` may read (computed in SQL)."""
        o, g = t.owners, t.grants
        parts: list[Any] = [
            select(o.c.key).where(
                and_(o.c.kind == kind, or_(o.c.owner == user, o.c.everyone >= 1))
            ),
            select(g.c.key).where(and_(g.c.kind == kind, g.c.role >= 1, self._principal(user))),
        ]
        with self.engine.connect() as conn:
            if self._default_for_unowned(conn, kind) >= 1:
                table, column = (
                    (t.experiments, t.experiments.c.id)
                    if kind == "experiment"
                    else (t.registered_models, t.registered_models.c.name)
                )
                owned = select(o.c.key).where(and_(o.c.kind == kind, o.c.key == column))
                parts.append(select(column).select_from(table).where(~owned.exists()))
            return list(conn.execute(union(*parts)).scalars())

    def run_experiment(self, run_id: str) -> str | None:
        """The experiment of a run, or None when there is no such run."""
        with self.engine.connect() as conn:
            found: str | None = conn.execute(
                select(t.runs.c.experiment_id).where(t.runs.c.id == run_id)
            ).scalar()
        return found

    def experiment_id(self, name_or_id: str) -> str | None:
        """The id of the experiment whose id or name is `name_or_id`, or None.

        An MLflow logged model's id stands for its experiment too (the table exists once
        the MLflow routes' migration ran; before, there are no logged models).
        """
        e = t.experiments
        with self.engine.connect() as conn:
            found: str | None = conn.execute(select(e.c.id).where(e.c.id == name_or_id)).scalar()
            if found is None:
                found = conn.execute(select(e.c.id).where(e.c.name == name_or_id)).scalar()
        return found if found is not None else self._logged_model_experiment(name_or_id)

    def _logged_model_experiment(self, model_id: str) -> str | None:
        from sqlalchemy import column, table
        from sqlalchemy.exc import DBAPIError

        logged = table("logged_models", column("id"), column("experiment_id"))
        try:
            with self.engine.connect() as conn:
                found: str | None = conn.execute(
                    select(logged.c.experiment_id).where(logged.c.id == model_id)
                ).scalar()
        except DBAPIError:
            return None  # no such table in this schema
        return found

    def exists(self, kind: str, key: str) -> bool:
        table, column = (
            (t.experiments, t.experiments.c.id)
            if kind == "experiment"
            else (t.registered_models, t.registered_models.c.name)
        )
        with self.engine.connect() as conn:
            return (
                conn.execute(select(literal(1)).select_from(table).where(column == key)).first()
                is not None
            )

    def close(self) -> None:
        self.engine.dispose()
