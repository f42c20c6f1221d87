"""The S3 backend's configuration: URIs, settings from the environment, boto3, errors.

Kept apart from `autolog.backends.s3` (the object operations) so that each stays
small: parsing and checking `s3://bucket/prefix` URIs and bucket names, reading
the `AUTOLOG_S3_*` / `AWS_*` settings, importing boto3 on first use, and sorting
boto3's failures into "not found", "worth another try" and "give up".

boto3 is an optional dependency: nothing here imports it until `boto()` is called.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from autolog.errors import InvalidKeyError, InvalidValueError, MissingDependencyError

__all__ = [
    "ATTEMPTS",
    "BACKOFF",
    "CREDENTIAL_CODES",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MULTIPART_CHUNKSIZE",
    "DEFAULT_MULTIPART_THRESHOLD",
    "INSTALL_HINT",
    "MAX_KEY_BYTES",
    "NOT_FOUND",
    "Conflict",
    "Lib",
    "Retry",
    "boto",
    "check_bucket",
    "check_key",
    "env_int",
    "error_info",
    "is_transient",
    "parse_s3_uri",
    "retry_attempts",
    "retry_ourselves",
    "unsupported_conditional",
]

MiB = 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 64 * MiB
DEFAULT_MULTIPART_CHUNKSIZE = 16 * MiB
DEFAULT_MAX_CONCURRENCY = 8
DEFAULT_MAX_ATTEMPTS = 8
# Our own attempts around botocore's, for failures it does not retry itself.
ATTEMPTS = 3
BACKOFF = 0.25
MAX_KEY_BYTES = 1024
INSTALL_HINT = "pip install 'autolog-ml[s3]'"
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_RE = re.compile(r"\d+\.\d+\.\d+\.\d+")
NOT_FOUND = frozenset({"NoSuchKey", "NotFound", "404"})
CREDENTIAL_CODES = frozenset(
    {"AccessDenied", "ExpiredToken", "InvalidAccessKeyId", "InvalidToken", "SignatureDoesNotMatch"}
)


@dataclass(frozen=True)
class Lib:
    """boto3 and the exception classes this module handles, imported on first use."""

    boto3: Any
    config: Any
    transfer_config: Any
    client_error: type[Exception]
    errors: tuple[type[BaseException], ...]
    # Failures worth another try, and the part of them that botocore does not retry itself.
    transient: tuple[type[BaseException], ...]
    unretried: tuple[type[BaseException], ...]


_lib: Lib | None = None


def boto() -> Lib:
    """boto3 and its exception classes; MissingDependencyError if boto3 is not installed."""
    global _lib
    if _lib is None:
        try:
            import boto3
            import boto3.exceptions
            import botocore.exceptions
            import urllib3.exceptions
            from boto3.s3.transfer import TransferConfig
            from botocore.config import Config
        except ImportError as exc:
            raise MissingDependencyError(
                f"s3:// URIs need boto3, which cannot be imported ({exc}); install it with:"
                f" {INSTALL_HINT}"
            ) from None
        bce = botocore.exceptions
        _lib = Lib(
            boto3=boto3,
            config=Config,
            transfer_config=TransferConfig,
            client_error=bce.ClientError,
            errors=(
                bce.BotoCoreError,
                bce.ClientError,
                boto3.exceptions.Boto3Error,
                urllib3.exceptions.HTTPError,
                OSError,
                Retry,
            ),
            transient=(
                bce.ConnectionError,
                bce.HTTPClientError,
                bce.IncompleteReadError,
                bce.ResponseStreamingError,
                boto3.exceptions.RetriesExceededError,
                urllib3.exceptions.HTTPError,
                ConnectionError,
                TimeoutError,
                Retry,
            ),
            unretried=(
                bce.IncompleteReadError,
                bce.ResponseStreamingError,
                boto3.exceptions.RetriesExceededError,
                Retry,
            ),
        )
    return _lib


def error_info(exc: BaseException) -> tuple[str, int, str]:
    """(code, HTTP status, message) of a botocore ClientError; ("", 0, str) otherwise."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return str(error.get("Code", "")), status, str(error.get("Message", "") or "")
    return "", 0, str(exc) or type(exc).__name__


def retry_attempts(exc: BaseException) -> int:
    """How many times botocore retried the request that ended in `exc`."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return int(response.get("ResponseMetadata", {}).get("RetryAttempts") or 0)
    return 0


def is_transient(exc: BaseException, lib: Lib) -> bool:
    """Whether `exc` is worth another try: throttling, a 5xx, a dropped connection."""
    if isinstance(exc, lib.transient):
        return True
    code, status, _ = error_info(exc)
    if code or status:
        return status >= 500 or status == 429 or "Throttl" in code or code == "RequestTimeout"
    # boto3 wraps a failed managed upload and keeps the cause only as the context.
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and is_transient(cause, lib)


def retry_ourselves(exc: BaseException, lib: Lib) -> bool:
    """Whether to try again a failure that botocore's own retries did not cover."""
    if isinstance(exc, lib.unretried):
        return True
    # Under a burst of failures botocore stops retrying early, once its retry quota is spent.
    response = getattr(exc, "response", None)
    return isinstance(response, dict) and bool(
        response.get("ResponseMetadata", {}).get("RetryQuotaReached")
    )


def unsupported_conditional(exc: BaseException) -> bool:
    """Whether `exc` is a store's refusal of conditional writes (If-None-Match) as such."""
    code, status, message = error_info(exc)
    if status == 501 or code == "NotImplemented":
        return True
    return code in ("InvalidArgument", "InvalidRequest") and "if-none-match" in message.lower()


class Retry(Exception):
    """A failure botocore does not retry: an answer cut short, a conflicting write."""


class Conflict(Retry):
    """A concurrent conditional write to the same key (409): try again."""


def check_bucket(bucket: str) -> str:
    """Return `bucket` if it is a valid S3 bucket name; raise InvalidValueError otherwise."""
    if (
        not _BUCKET_RE.fullmatch(bucket)
        or ".." in bucket
        or ".-" in bucket
        or "-." in bucket
        or _IP_RE.fullmatch(bucket)
    ):
        raise InvalidValueError(
            f"S3 bucket name {bucket!r} is not valid; expected 3-63 lowercase letters, digits,"
            " '.' or '-', starting and ending with a letter or digit (for example"
            " s3://ml-bucket/team-a)"
        )
    return bucket


def check_key(key: str, what: str = "object key") -> str:
    """Return `key` if it is a relative path with no empty, '.' or '..' segment."""
    # Keys come from the layout, which validates every user-given part; this keeps
    # the S3 store to the same rules as the directory store.
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise InvalidKeyError(f"{what} {key!r} is not a relative path")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidKeyError(f"{what} {key!r} has an empty, '.' or '..' segment")
    return key


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split `s3://bucket/prefix` into (bucket, prefix); raise InvalidValueError if malformed."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != "s3" or not uri.lower().startswith("s3://"):
        raise InvalidValueError(f"{uri!r} is not an S3 URI; expected s3://BUCKET/PREFIX")
    if "@" in parts.netloc or ":" in parts.netloc:
        # Never echo the URI: what stands before '@' or ':' is most likely a secret.
        raise InvalidValueError(
            "the S3 tracking URI has ':' or '@' in its bucket part, as in user:secret@bucket"
            " (not shown here); remove it: autolog takes credentials only from boto3's"
            " standard chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and the"
            " endpoint from AUTOLOG_S3_ENDPOINT_URL"
        )
    if parts.query or parts.fragment:
        raise InvalidValueError(
            "the S3 tracking URI has a query or fragment ('?' or '#', not shown here);"
            " expected s3://BUCKET/PREFIX"
        )
    if not parts.netloc:
        raise InvalidValueError(f"S3 URI {uri!r} names no bucket; expected s3://BUCKET/PREFIX")
    bucket = check_bucket(parts.netloc)
    prefix = parts.path.strip("/")
    if prefix:
        try:
            check_key(prefix, "S3 prefix")
        except InvalidKeyError as exc:
            raise InvalidValueError(
                f"S3 URI {uri!r}: {exc}; expected s3://BUCKET/PREFIX/PARTS"
            ) from None
    return bucket, prefix


def env_int(name: str, default: int, *, sizes: bool = False) -> int:
    """The positive integer in environment variable `name` (with `sizes`, K/M/G suffixes)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    scale = 1
    if sizes and raw[-1:].upper() in ("K", "M", "G"):
        scale = 1024 ** ("KMG".index(raw[-1].upper()) + 1)
        raw = raw[:-1]
    try:
        value = int(raw) * scale
    except ValueError:
        value = 0
    if value <= 0:
        example = "64M" if sizes else "8"
        raise InvalidValueError(
            f"{name}={os.environ[name]!r} is not a positive integer; set it like {name}={example}"
        )
    return value
