"""The client's tokens for tracking servers: AUTOLOG_TRACKING_TOKEN, else a credentials file.

`autolog login http://server` writes the file (`~/.config/autolog/credentials`, or
AUTOLOG_CREDENTIALS), a JSON object of server URL to token, readable by its owner only
(mode 0600). A file that others may read is refused with the command that fixes it. The
token is only ever put in the Authorization header: never in a run, a log line or a message.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

from autolog.errors import InvalidValueError

__all__ = ["credentials_path", "save_token", "token_for"]


def credentials_path() -> Path:
    """Where `autolog login` keeps tokens."""
    found = os.environ.get("AUTOLOG_CREDENTIALS")
    if found:
        return Path(found).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autolog" / "credentials"


def _key(url: str) -> str:
    return url.rstrip("/").lower()


def _load(path: Path) -> dict[str, str]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidValueError(
            f"the credentials file {path} may be read by other users; run `chmod 600 {path}`"
            " (or `autolog login` again)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidValueError(
            f"the credentials file {path} cannot be read ({type(exc).__name__}); remove it and"
            " run `autolog login <server URL>` again"
        ) from None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def token_for(url: str) -> str | None:
    """The token to send to the server at `url`, or None."""
    token = os.environ.get("AUTOLOG_TRACKING_TOKEN")
    if token:
        return token.strip()
    return _load(credentials_path()).get(_key(url))


def save_token(url: str, token: str) -> Path:
    """Keep `token` for `url` in the credentials file (created with mode 0600)."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = _load(path)
    data[_key(url)] = token
    # mkstemp creates the file with mode 0600: the token is never readable by others.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".credentials-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
