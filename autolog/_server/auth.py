"""Who is calling and whether they may: the authorizer the route table drives.

`Authorizer` answers the questions of `autolog._server.identity` from the database
(`autolog.backends.sql.auth.AuthStore`). A token, a user and a role are cached for a
few seconds (`AUTOLOG_SERVER_AUTH_CACHE`, default 5), so the check on a warm request is
a dictionary lookup; a revoked token, a disabled user or a changed grant takes effect
within that time on every worker.

Failed checks are counted per client address: past `LIMIT` failures in `WINDOW` seconds
(a wrong token, a wrong password) the address gets 429 until the window has passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections import deque
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from autolog._server.identity import Identity, identity
from autolog._server.routes import Resource, Role
from autolog.backends.sql.auth import ROLES, AuthStore, hash_token, verify_password

__all__ = ["Authorizer", "FailureLimiter", "Sessions", "needed_role"]

#: Failed checks one client address may make in WINDOW seconds.
LIMIT = 30
WINDOW = 60.0
SESSION_COOKIE = "autolog_session"
SESSION_HOURS = 12


def needed_role(role: Role) -> int:
    """The number of a route's role (admin is above owner)."""
    return 5 if role == "admin" else ROLES[role]


class FailureLimiter:
    """Counts failed checks per key (a client address, a user name) in a sliding window."""

    def __init__(self, limit: int = LIMIT, window: float = WINDOW) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        found = self._seen.get(key)
        if found is None:
            if len(self._seen) > 100_000:  # many addresses: forget the quiet ones
                self._seen = {
                    k: v for k, v in self._seen.items() if v and v[-1] > now - self.window
                }
            found = self._seen[key] = deque()
        while found and found[0] <= now - self.window:
            found.popleft()
        return found

    def blocked(self, key: str) -> bool:
        return len(self._recent(key, time.monotonic())) >= self.limit

    def fail(self, key: str) -> None:
        now = time.monotonic()
        self._recent(key, now).append(now)


class Sessions:
    """Signed session cookies and CSRF tokens of the web UI (HMAC-SHA256 with the server key)."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def _sign(self, text: str) -> str:
        mac = hmac.new(self.key, text.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")

    def cookie(self, user: str, hours: int = SESSION_HOURS) -> str:
        """A session cookie's value for `user`: user, expiry, nonce, signature."""
        expires = int(time.time()) + hours * 3600
        payload = f"{user}|{expires}|{secrets.token_urlsafe(16)}"
        encoded = base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")
        return f"{encoded}.{self._sign(encoded)}"

    def read(self, value: str) -> tuple[str, str] | None:
        """(user, nonce) of a valid, unexpired cookie value; None otherwise."""
        encoded, _, signature = value.partition(".")
        if (
            not encoded
            or len(value) > 2048
            or not hmac.compare_digest(signature, self._sign(encoded))
        ):
            return None
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
            user, expires, nonce = payload.split("|")
            if int(expires) < time.time():
                return None
        except (ValueError, UnicodeDecodeError):
            return None
        return user, nonce

    def csrf(self, nonce: str) -> str:
        """The CSRF token of the session (or login form) with this nonce."""
        return self._sign(f"csrf|{nonce}")

    def check_csrf(self, nonce: str, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf(nonce))


class _Cache:
    """A dictionary whose entries expire after `ttl` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._data: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any:
        found = self._data.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def drop(self, key: Any) -> None:
        self._data.pop(key, None)

    def put(self, key: Any, value: Any) -> None:
        if len(self._data) > 50_000:
            self._data.clear()
        self._data[key] = (time.monotonic() + self.ttl, value)


class Authorizer:
    """Identities from tokens, proxies and cookies; roles on experiments, runs and models."""

    def __init__(self, store: AuthStore, ttl: float | None = None) -> None:
        self.store = store
        if ttl is None:
            ttl = float(os.environ.get("AUTOLOG_SERVER_AUTH_CACHE", "5"))
        self._tokens = _Cache(ttl)
        self._users = _Cache(ttl)
        self._roles = _Cache(ttl)
        self._experiments = _Cache(ttl)
        self._good: set[str] = set()  # digests of tokens seen valid
        self._run_experiments: dict[str, str] = {}  # never changes once a run exists
        self.failures = FailureLimiter()
        self.sessions = Sessions(store.secret())

    # -- who -----------------------------------------------------------------------------------

    async def from_token(self, token: str, *, cached_only: bool = False) -> Identity | None:
        """The identity a bearer token proves, or None (unknown, revoked, expired, disabled).

        With `cached_only` (the caller's address is past the failure limit), only a token
        seen valid before is looked up: an unknown one costs no database work.
        """
        if len(token) > 512:
            return None
        digest = hash_token(token)
        cached = self._tokens.get(digest)
        if cached is None and cached_only and digest not in self._good:
            return None
        if cached is None:
            info = await run_in_threadpool(self.store.token, digest)
            cached = (info,)
            self._tokens.put(digest, cached)
        info = cached[0]
        if info is None or info.revoked or info.disabled:
            return None
        if len(self._good) < 100_000:
            self._good.add(digest)
        if info.expires_at is not None and info.expires_at <= time.time() * 1000:
            return None
        return Identity(info.owner, info.admin, info.scope, "token")

    async def from_user(self, name: str, via: str, *, create: bool = False) -> Identity | None:
        """The identity of user `name` (signed in by cookie or proxy), or None if disabled."""
        cached = self._users.get(name)
        if cached is None:
            found = await run_in_threadpool(self.store.user, name)
            if found is None and create:
                # A user the SSO proxy vouches for exists from their first request on.
                await run_in_threadpool(self.store.add_user, name)
                found = await run_in_threadpool(self.store.user, name)
            cached = (found,)
            self._users.put(name, cached)
        found = cached[0]
        if found is None or found[1]:
            return None
        return Identity(name, bool(found[0]), "write", via)

    def login(self, name: str, password: str) -> bool:
        """Whether user `name` exists, is enabled and has this password (slow: scrypt)."""
        found = self.store.user(name)
        ok = verify_password(found[2] if found else None, password)
        return ok and found is not None and not found[1]

    # -- may they ------------------------------------------------------------------------------

    async def experiment_of(self, run_id: str) -> str | None:
        found = self._run_experiments.get(run_id)
        if found is None:
            found = await run_in_threadpool(self.store.run_experiment, run_id)
            if found is not None:
                if len(self._run_experiments) > 200_000:
                    self._run_experiments.clear()
                self._run_experiments[run_id] = found
        return found

    async def _artifact_owner(self, path: str) -> tuple[str, str]:
        """What an MLflow artifact path belongs to: ("run", id) or ("experiment", id).

        `<experiment>/<run>/artifacts/...` is a run's; `<experiment>/models/<model id>/
        artifacts/...` a logged model's, which belongs to the model's experiment.
        """
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[2] == "artifacts":
            return "run", parts[1]
        if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
            return "experiment", parts[2]
        return "run", ""  # not a path this server hands out: nobody's

    async def experiment_id(self, name_or_id: str) -> str | None:
        """The id of the experiment named or numbered `name_or_id` (cached), or None."""
        found: str | None = self._experiments.get(name_or_id)
        if found is None:
            # Only what exists is remembered: an experiment created a moment later is found.
            found = await run_in_threadpool(self.store.experiment_id, name_or_id)
            if found is not None:
                self._experiments.put(name_or_id, found)
        return found

    async def role(self, who: Identity, kind: str, key: str) -> int:
        """The caller's role (0 to 4; 5 for an admin) on an experiment, run or model."""
        if who.admin:
            return 5
        if who.name is None:
            return 0
        if kind == "run" and "/" in key:
            kind, key = await self._artifact_owner(key)
        if kind == "run":
            exp = await self.experiment_of(key)
            if exp is None:
                return 0
            kind, key = "experiment", exp
        elif kind == "experiment" and key:
            exp_id = await self.experiment_id(key)
            if exp_id is None:
                return 0
            key = exp_id
        cache_key = (who.name, kind, key)
        found = self._roles.get(cache_key)
        if found is None:
            found = await run_in_threadpool(self.store.role, who.name, kind, key)
            self._roles.put(cache_key, found)
        role: int = found
        return role

    async def __call__(self, request: Request, resource: Resource, key: str, role: Role) -> bool:
        """The `Authorizer` of `autolog._server.identity`: does the caller hold `role`?"""
        who = identity(request)
        if who.admin:
            return who.scope == "write" or role == "reader"
        if who.name is None:
            return False
        if role != "reader" and who.scope != "write":
            return False
        if resource in ("public", "user"):
            return True
        if resource in ("admin", "batch"):
            return False
        return await self.role(who, resource, key) >= needed_role(role)

    async def readable(self, who: Identity, kind: str) -> frozenset[str] | None:
        if who.admin:
            return None
        if who.name is None:
            return frozenset()
        return frozenset(await run_in_threadpool(self.store.readable, who.name, kind))

    async def created(self, who: Identity, kind: str, key: str) -> None:
        await run_in_threadpool(self.store.record_owner, kind, key, who.name)
        if who.name is not None:
            self._roles.drop((who.name, kind, key))

    def close(self) -> None:
        self.store.close()
