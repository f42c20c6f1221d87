"""Keyset page tokens of the MLflow routes: the sort key of a page's last item, and its kind."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from autolog.errors import InvalidValueError

__all__ = ["decode_token", "encode_token"]


def encode_token(kind: str, key: list[Any]) -> str:
    data = json.dumps({"t": kind, "k": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode("utf-8")).decode("ascii")


def decode_token(token: object, kind: str, types: tuple[type, ...]) -> list[Any]:
    """The key in a token made by `encode_token(kind, ...)`, of `types`; else InvalidValueError."""
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode("ascii")))
        key = data["k"]
        ok = (
            data["t"] == kind
            and isinstance(key, list)
            and len(key) == len(types)
            and all(type(v) is t for v, t in zip(key, types, strict=True))
        )
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        ok = False
    if not ok:
        raise InvalidValueError(
            f"page_token {token!r} was not given by this server for this search; pass the"
            " next_page_token of the previous page, or none for the first page"
        )
    return list(key)
