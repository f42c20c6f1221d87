"""Checks on every key, name, id and path that reaches a store.

Nothing the user passes can address an object outside the run or model it
belongs to: artifact paths are normalized and refused when they climb out
(`..`), are absolute, carry a NUL, a backslash, or a percent-encoded form of
any of those.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from autolog.errors import InvalidKeyError, InvalidValueError

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_NAME_LENGTH = 256

# \Z, not $: "$" also matches before a trailing newline, which would let "loss\n" through.
_KEY_RE = re.compile(r"^[A-Za-z0-9_\-. /:]+\Z")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_ENCODED_RE = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)
_checked_keys: set[str] = set()


def check_key(key: object, kind: str = "metric") -> str:
    """Return `key` if it is a valid metric, param or tag key, else raise InvalidKeyError."""
    if type(key) is str and key in _checked_keys:
        return key
    if not isinstance(key, str):
        raise InvalidKeyError(
            f"{kind} key {key!r} is a {type(key).__name__}; expected a str such as 'val_loss'"
        )
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(
            f"{kind} key {key!r} has length {len(key)}; expected 1 to {MAX_KEY_LENGTH} characters"
        )
    if not _KEY_RE.match(key):
        bad = sorted({c for c in key if not _KEY_RE.match(c)})
        raise InvalidKeyError(
            f"{kind} key {key!r} contains {''.join(bad)!r}; use letters, digits and _ - . / : or"
            " space (for example replace '@' with '_at_')"
        )
    if key.startswith("/") or any(part in ("..", ".") for part in key.split("/")):
        raise InvalidKeyError(
            f"{kind} key {key!r} contains a '.' or '..' segment or starts with '/'; use a plain"
            " name such as 'train/loss'"
        )
    if len(_checked_keys) < 100_000:
        _checked_keys.add(key)
    return key


def sanitize_key(key: str) -> str:
    """Return `key` made valid: a metric name produced by a library, such as `ndcg@5`."""
    out = key.replace("@", "_at_")
    out = re.sub(r"[^A-Za-z0-9_\-. /:]", "_", out)
    out = "/".join(p if p not in ("", ".", "..") else "_" for p in out.split("/"))
    return out[:MAX_KEY_LENGTH] or "_"


def check_metric_value(key: str, value: object) -> float:
    """Return `value` as a float, or raise InvalidValueError naming the key."""
    if type(value) is float:
        return value
    if isinstance(value, bool):
        return float(value)
    # float() would parse these, but a metric logged as text is a caller's mistake.
    if isinstance(value, (str, bytes, bytearray)):
        raise InvalidValueError(
            f"metric {key!r} got {value!r} ({type(value).__name__}); expected a number:"
            " convert it with float() if it is one"
        )
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidValueError(
            f"metric {key!r} got {value!r} ({type(value).__name__}); expected a number"
        ) from None
    return result


def check_step(key: str, step: object) -> int:
    """Return `step` as an int (numpy integers included), or raise InvalidValueError."""
    if step is None:
        return 0
    if type(step) is int:
        return step
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidValueError(
            f"metric {key!r} got step {step!r} ({type(step).__name__}); expected an int"
        )
    return int(step)


def check_timestamp(key: str, timestamp: object) -> int | None:
    """Return `timestamp` (milliseconds since the epoch) as an int, or raise."""
    if timestamp is None:
        return None
    if type(timestamp) is int:
        return timestamp
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        raise InvalidValueError(
            f"metric {key!r} got timestamp {timestamp!r}; expected milliseconds since the epoch"
            " as an int"
        )
    if isinstance(timestamp, float) and not math.isfinite(timestamp):
        raise InvalidValueError(
            f"metric {key!r} got timestamp {timestamp!r}; expected a finite int"
        )
    return int(timestamp)


def render_value(value: Any) -> str:
    """Return the string stored for a param or tag value."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)
    return str(value)


def check_param_value(key: str, value: Any) -> str:
    text = render_value(value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidValueError(
            f"param {key!r} renders to {len(text)} characters; the limit is"
            f" {MAX_PARAM_VALUE_LENGTH}: log long values with log_text() or log_dict() instead"
        )
    return text


def check_tag_value(key: str, value: Any) -> str:
    text = render_value(value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidValueError(
            f"tag {key!r} renders to {len(text)} characters; the limit is {MAX_TAG_VALUE_LENGTH}:"
            " log long values with log_text() instead"
        )
    return text


def check_name(name: object, kind: str = "run name") -> str:
    """Return `name` if it is a valid experiment or run name, else raise InvalidKeyError."""
    if not isinstance(name, str):
        raise InvalidKeyError(f"{kind} {name!r} is a {type(name).__name__}; expected a str")
    if not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise InvalidKeyError(
            f"{kind} {name!r} must be 1 to {MAX_NAME_LENGTH} characters and not blank"
        )
    if "\x00" in name or any(ord(c) < 32 for c in name):
        raise InvalidKeyError(f"{kind} {name!r} contains a control character; remove it")
    return name


def check_id(value: object, kind: str = "run id") -> str:
    """Return `value` if it is a well-formed id (letters, digits, _ and -), else raise."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise InvalidKeyError(
            f"{kind} {value!r} is not a valid id; expected 1 to 64 letters, digits, '_' or '-'"
            " as printed by `autolog runs`"
        )
    return value


def check_relative_path(
    path: object, kind: str = "artifact path", *, allow_empty: bool = True
) -> str:
    """Return `path` normalized to a relative POSIX path that cannot leave its root.

    Raises InvalidKeyError for absolute paths, `..` segments, backslashes, NUL and
    percent-encoded forms of those.
    """
    if type(path) is str:
        # Autologging logs the same few paths at every fit: those checked are remembered.
        known = _paths_checked.get((path, allow_empty))
        if known is not None:
            return known
    if path is None:
        if not allow_empty:
            raise InvalidKeyError(f"{kind} None is not a path; use a relative path such as 'a.txt'")
        path = ""
    if not isinstance(path, str):
        raise InvalidKeyError(f"{kind} {path!r} is a {type(path).__name__}; expected a str")
    fix = "use a relative path such as 'plots/roc.png'"
    if "\x00" in path:
        raise InvalidKeyError(f"{kind} {path!r} contains a NUL byte; {fix}")
    if "\\" in path:
        raise InvalidKeyError(f"{kind} {path!r} contains a backslash; use '/' as the separator")
    if _ENCODED_RE.search(path):
        raise InvalidKeyError(
            f"{kind} {path!r} contains a percent-encoded '.', '/', '\\' or NUL; {fix}"
        )
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise InvalidKeyError(f"{kind} {path!r} is absolute; {fix}")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidKeyError(f"{kind} {path!r} contains '..'; {fix}")
    if any(any(ord(c) < 32 for c in p) for p in parts):
        raise InvalidKeyError(f"{kind} {path!r} contains a control character; {fix}")
    normalized = "/".join(parts)
    if not normalized and not allow_empty:
        raise InvalidKeyError(f"{kind} {path!r} is empty; {fix}")
    if len(_paths_checked) >= _PATHS_KEPT:
        _paths_checked.clear()
    _paths_checked[(path, allow_empty)] = normalized
    return normalized


# Paths found good (with allow_empty) -> their normal form; at most _PATHS_KEPT.
_paths_checked: dict[tuple[str, bool], str] = {}
_PATHS_KEPT = 1024
