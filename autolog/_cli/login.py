"""`autolog login http://server`: keep a token for a tracking server in the credentials file."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from autolog._cli.main import add_command
from autolog._cli.output import note
from autolog.errors import InvalidValueError, StoreError

if TYPE_CHECKING:
    from autolog._cli.main import Subparsers

__all__ = ["register"]


def register(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers,
        "login",
        _login,
        help="keep a token for a tracking server (asked, or --token-stdin), checked first",
        epilog="The token goes to ~/.config/autolog/credentials (mode 0600; AUTOLOG_CREDENTIALS"
        " moves it). AUTOLOG_TRACKING_TOKEN, when set, is used instead.",
    )
    parser.add_argument("url", help="the server, e.g. https://autolog.example.com")
    parser.add_argument("--token-stdin", action="store_true", help="read the token from stdin")


def _login(args: argparse.Namespace) -> int:
    import requests

    from autolog.backends._credentials import save_token

    url = args.url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InvalidValueError(f"{url!r} is not a server URL; use http://host:port or https://...")
    token = sys.stdin.readline().strip() if args.token_stdin else getpass.getpass("token: ").strip()
    if not token:
        raise InvalidValueError("no token given; get one from `autolog server token create`")
    try:
        resp = requests.get(
            f"{url}/api/autolog/v1/experiments",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    except requests.RequestException as exc:
        raise StoreError(f"the server {url} did not answer ({type(exc).__name__})") from None
    if resp.status_code in (401, 403):
        raise InvalidValueError(
            f"the server {url} refused the token (HTTP {resp.status_code}); check it, or create"
            " a new one with `autolog server token create`"
        )
    if resp.status_code >= 400:
        raise StoreError(f"the server {url} answered HTTP {resp.status_code}; is it autolog?")
    path = save_token(url, token)
    note(f"signed in to {url}; the token is kept in {path}")
    return 0
