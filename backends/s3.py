"""The S3 store: runs, metrics, artifacts and models in a bucket, laid out as on disk.

`s3://bucket/prefix` keeps under `prefix/` exactly the objects the file backend
keeps under its directory (see `autolog.backends._layout`), so everything built on the
layout works unchanged. Any S3-compatible store will do (AWS, MinIO, Ceph, ...)
if it supports conditional writes (`If-None-Match: *`): create-if-absent relies
on them, and a store that rejects or ignores them gets a clear error instead of
a silent race. The first successful create-if-absent of a process checks that
the store really refuses a second one.

Credentials come only from boto3's standard chain (environment, profile, SSO,
instance role); they are never part of the URI, a message or a log line. The
endpoint comes from `AUTOLOG_S3_ENDPOINT_URL`, else from boto3's own settings
(`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, the config file).

Requests are retried by botocore (mode "standard", 8 attempts; `AWS_RETRY_MODE`
and `AWS_MAX_ATTEMPTS` override), and around that by this module for what
botocore does not retry: a response body cut short, a transfer that gave up. A
write that still fails raises StoreError; the writer keeps the data and tries
again on its next cycle.

boto3 is an optional dependency, imported when the first S3 store is built
(MissingDependencyError without it). URI parsing, settings from the environment,
boto3 loading and the sorting of its errors live in `autolog.backends._s3_config`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from autolog.backends._layout import LayoutBackend
from autolog.backends._objects import Keys, ObjectNotFound, ObjectStore, Progress, Stamped
from autolog.backends._s3_config import (
    ATTEMPTS,
    BACKOFF,
    CREDENTIAL_CODES,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MULTIPART_CHUNKSIZE,
    DEFAULT_MULTIPART_THRESHOLD,
    MAX_KEY_BYTES,
    NOT_FOUND,
    Conflict,
    Retry,
    boto,
    check_bucket,
    check_key,
    env_int,
    error_info,
    is_transient,
    parse_s3_uri,
    retry_attempts,
    retry_ourselves,
    unsupported_conditional,
)
from autolog.errors import AutologError, InvalidKeyError, InvalidValueError, StoreError

__all__ = ["Progress", "S3Backend", "S3ObjectStore", "from_uri", "parse_s3_uri", "store_from_uri"]

T = TypeVar("T")
# Retry jitter from the OS, never from the `random` stream the user seeds.
_jitter = random.SystemRandom()

# (endpoint, bucket) pairs seen to refuse a second conditional write: checked once a process.
_conditional_writes_checked: set[tuple[str, str]] = set()


class S3ObjectStore(ObjectStore):
    """Objects under `prefix/` in an S3 bucket, reached with boto3."""

    local = False  # the run API queues artifact files for it rather than wait

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        multipart_threshold: int | None = None,
        multipart_chunksize: int | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        max_attempts: int | None = None,
        retry_mode: str | None = None,
        addressing_style: str | None = None,
    ) -> None:
        self._lib = boto()
        self.bucket = check_bucket(bucket)
        self.prefix = check_key(prefix.strip("/"), "S3 prefix") if prefix.strip("/") else ""
        self._root = f"{self.prefix}/" if self.prefix else ""
        self.uri = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self.endpoint_url = endpoint_url or os.environ.get("AUTOLOG_S3_ENDPOINT_URL") or None
        self.multipart_threshold = multipart_threshold or env_int(
            "AUTOLOG_S3_MULTIPART_THRESHOLD", DEFAULT_MULTIPART_THRESHOLD, sizes=True
        )
        self.multipart_chunksize = multipart_chunksize or env_int(
            "AUTOLOG_S3_MULTIPART_CHUNKSIZE", DEFAULT_MULTIPART_CHUNKSIZE, sizes=True
        )
        self.max_concurrency = max_concurrency
        self._max_attempts = max_attempts or env_int("AWS_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)
        self._retry_mode = retry_mode or os.environ.get("AWS_RETRY_MODE") or "standard"
        if self._retry_mode not in ("standard", "adaptive", "legacy"):
            raise InvalidValueError(
                f"S3 retry mode {self._retry_mode!r} is not one of 'standard', 'adaptive',"
                " 'legacy'; fix AWS_RETRY_MODE"
            )
        custom_endpoint = self.endpoint_url or any(
            os.environ.get(n) for n in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
        )
        # S3-compatible servers (MinIO, Ceph) are mostly reached by path, not by bucket host name.
        self._addressing_style = (
            addressing_style
            or os.environ.get("AUTOLOG_S3_ADDRESSING_STYLE")
            or ("path" if custom_endpoint else "auto")
        )
        self._client: Any = None
        self._session: Any = None
        self._pid = 0
        self._lock = threading.Lock()

    # -- connection ------------------------------------------------------------------------

    def _s3(self) -> Any:
        # A client is not fork-safe (its pooled connections would be shared): a child
        # process builds its own.
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    self._session = self._lib.boto3.session.Session()
                    config = self._lib.config(
                        retries={
                            "total_max_attempts": self._max_attempts,
                            "mode": self._retry_mode,
                        },
                        max_pool_connections=max(10, 2 * self.max_concurrency),
                        connect_timeout=10,
                        read_timeout=120,
                        s3={"addressing_style": self._addressing_style},
                        user_agent_extra="autolog",
                        # Requests are SigV4 anyway; this makes presigned URLs SigV4 too
                        # (boto3 presigns with SigV2 otherwise), so that they sign headers.
                        signature_version="s3v4",
                    )
                    self._client = self._session.client(
                        "s3", endpoint_url=self.endpoint_url, config=config
                    )
                    self._pid = os.getpid()
        return self._client

    def _endpoint(self) -> str:
        """scheme://host[:port] of the endpoint in use (no path, never user info)."""
        catch: tuple[type[BaseException], ...] = (*self._lib.errors, ValueError)
        try:
            parts = urlsplit(self.endpoint_url or str(self._s3().meta.endpoint_url))
        except catch:
            return "the configured endpoint"
        return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")

    def _transfer_config(self) -> Any:
        return self._lib.transfer_config(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=self.multipart_chunksize,
            max_concurrency=self.max_concurrency,
            use_threads=True,
        )

    def _full(self, key: str) -> str:
        full = self._root + check_key(key)
        if len(full.encode("utf-8")) > MAX_KEY_BYTES:
            raise InvalidKeyError(
                f"object key {key!r} is longer than S3's {MAX_KEY_BYTES} bytes with prefix"
                f" {self.prefix!r}; use a shorter artifact path or prefix"
            )
        return full

    # -- errors and retries ----------------------------------------------------------------

    def _call(self, what: str, key: str, fn: Callable[[], T]) -> T:
        """Run `fn`, retrying transient failures; turn what is left into StoreError."""
        delay = BACKOFF
        attempt = 1
        while True:
            try:
                return fn()
            except AutologError:
                raise
            except self._lib.errors as exc:
                if attempt < ATTEMPTS and retry_ourselves(exc, self._lib):
                    time.sleep(delay * _jitter.uniform(0.5, 1.0))
                    delay *= 2
                    attempt += 1
                    continue
                raise self._store_error(what, key, exc) from exc

    def _read(self, response: dict[str, Any]) -> bytes:
        try:
            data: bytes = response["Body"].read()
        except self._lib.errors as exc:
            # botocore retries a request, not the reading of its answer.
            raise Retry(f"the answer was cut short ({type(exc).__name__}: {exc})") from exc
        return data

    def _store_error(self, what: str, key: str, exc: BaseException) -> StoreError:
        code, status, message = error_info(exc)
        where = f"{self.uri}/{key}" if key else self.uri
        detail = f"{code}: {message}" if code else f"{type(exc).__name__}: {message}"
        if code == "NoSuchBucket":
            hint = (
                f"bucket {self.bucket!r} does not exist at {self._endpoint()}; create it"
                f" (aws s3 mb s3://{self.bucket}) or fix the tracking URI"
            )
        elif code in CREDENTIAL_CODES or status == 403:
            hint = (
                "check the credentials boto3 finds (AWS_ACCESS_KEY_ID / AWS_PROFILE; `aws sts"
                f" get-caller-identity`) and that they may read and write {self.uri}/"
            )
        elif "NoCredentials" in type(exc).__name__:
            hint = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
        elif "EndpointConnection" in type(exc).__name__:
            hint = (
                f"cannot reach {self._endpoint()}; check AUTOLOG_S3_ENDPOINT_URL or"
                " AWS_ENDPOINT_URL and that the server is up"
            )
        elif is_transient(exc, self._lib):
            hint = f"the store at {self._endpoint()} kept failing after retries"
        else:
            hint = f"endpoint {self._endpoint()}"
        return StoreError(self._scrub(f"S3 {what} of {where} failed: {detail} ({hint})"))

    def _scrub(self, text: str) -> str:
        # Belt and braces: no server message should echo a key, but none may reach a log.
        try:
            creds = self._session.get_credentials() if self._session is not None else None
            frozen = creds.get_frozen_credentials() if creds is not None else None
        except Exception:  # noqa: BLE001 - resolving credentials may fail; scrub what we have
            frozen = None
        if frozen is not None:
            for secret in (frozen.access_key, frozen.secret_key, frozen.token):
                if secret:
                    text = text.replace(secret, "***")
        return text

    # -- the object interface --------------------------------------------------------------

    def put(self, key: str, data: bytes) -> None:
        full = self._full(key)
        self._call(
            "write",
            key,
            lambda: self._s3().put_object(Bucket=self.bucket, Key=full, Body=bytes(data)),
        )

    def put_if_absent(self, key: str, data: bytes) -> bool:
        full = self._full(key)
        body = bytes(data)
        tries = itertools.count(1)
        created = self._call("create", key, lambda: self._create(key, full, body, next(tries)))
        marker = (self._endpoint(), self.bucket)
        if created and marker not in _conditional_writes_checked:
            # Once per endpoint and bucket: the store must refuse a second create. The same
            # bytes go up, so a store that ignores If-None-Match is left unchanged.
            if self._call("check", key, lambda: self._create(key, full, body, 1, own=False)):
                raise self._no_conditional_writes(
                    "accepted a conditional write (If-None-Match: *) over an existing object"
                )
            _conditional_writes_checked.add(marker)
        return created

    def _create(self, key: str, full: str, body: bytes, attempt: int, own: bool = True) -> bool:
        """One conditional PUT: True if it created the object, False if one was there."""
        try:
            self._s3().put_object(Bucket=self.bucket, Key=full, Body=body, IfNoneMatch="*")
        except self._lib.client_error as exc:
            code, status, _ = error_info(exc)
            if status == 412 or code == "PreconditionFailed":
                # An earlier attempt may have been applied and its answer lost: then the
                # object there is ours.
                return own and (attempt > 1 or retry_attempts(exc) > 0) and self._holds(full, body)
            if status == 409 or code == "ConditionalRequestConflict":
                if attempt >= ATTEMPTS:
                    return False  # still contended after our retries: another writer has it
                raise Conflict(f"concurrent conditional write to {self.uri}/{key}") from exc
            if unsupported_conditional(exc):
                raise self._no_conditional_writes(
                    f"answered {code or status} to a conditional write (If-None-Match: *)"
                ) from exc
            raise
        return True

    def _holds(self, full: str, body: bytes) -> bool:
        try:
            current = self._read(self._s3().get_object(Bucket=self.bucket, Key=full))
        except self._lib.client_error as exc:
            if error_info(exc)[0] in NOT_FOUND:
                return False
            raise
        return bool(current == body)

    def _no_conditional_writes(self, how: str) -> StoreError:
        return StoreError(
            f"the S3 store at {self._endpoint()} {how} in {self.uri}: it does not support"
            " conditional writes. autolog needs them so that two writers never overwrite each"
            " other's run compactions and registry versions; use a store that supports them"
            " (AWS S3, MinIO since 2024); see docs/s3.md"
        )

    def get(self, key: str) -> bytes:
        full = self._full(key)

        def fetch() -> bytes:
            try:
                response = self._s3().get_object(Bucket=self.bucket, Key=full)
            except self._lib.client_error as exc:
                if error_info(exc)[0] in NOT_FOUND:
                    raise ObjectNotFound(f"no object {key!r} in {self.uri}") from None
                raise
            return self._read(response)

        return self._call("read", key, fetch)

    def get_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        full = self._full(key)

        def fetch() -> bytes:
            try:
                response = self._s3().get_object(
                    Bucket=self.bucket, Key=full, Range=f"bytes={start}-{start + length - 1}"
                )
            except self._lib.client_error as exc:
                code = error_info(exc)[0]
                if code in NOT_FOUND:
                    raise ObjectNotFound(f"no object {key!r} in {self.uri}") from None
                if code == "InvalidRange":  # from at or past the end
                    return b""
                raise
            return self._read(response)

        return self._call("read", key, fetch)

    def list(self, prefix: str) -> list[str]:
        rel = prefix.strip("/")
        s3_prefix = self._root + (f"{check_key(rel)}/" if rel else "")
        start = len(self._root)

        def fetch() -> list[str]:
            keys: list[str] = []
            pages = self._s3().get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=s3_prefix):
                for obj in page.get("Contents", ()):
                    name = obj["Key"]
                    # "Folder" markers some tools create are not objects of ours.
                    if not name.endswith("/"):
                        keys.append(name[start:])
            keys.sort()
            return keys

        return self._call("list", rel, fetch)

    def list_after(self, prefix: str, start_after: str, limit: int | None = None) -> Keys:
        # StartAfter: S3 lists from there, so the cost is the keys after it, not the prefix's.
        rel = prefix.strip("/")
        s3_prefix = self._root + (f"{check_key(rel)}/" if rel else "")
        start = len(self._root)
        after = self._root + check_key(start_after) if start_after else ""

        def fetch() -> Keys:
            keys: Keys = []
            pages = self._s3().get_paginator("list_objects_v2")
            options: dict[str, Any] = {"Bucket": self.bucket, "Prefix": s3_prefix}
            if after:
                options["StartAfter"] = after
            if limit is not None:
                options["PaginationConfig"] = {"MaxItems": limit, "PageSize": min(limit, 1000)}
            for page in pages.paginate(**options):
                keys += [o["Key"][start:] for o in page.get("Contents", ()) if o["Key"] > after]
            keys.sort()
            return keys if limit is None else keys[:limit]

        return self._call("list", rel, fetch)

    def list_stamped(self, prefix: str) -> Stamped:
        # One listing gives every object's ETag: no object is read to stamp it.
        rel = prefix.strip("/")
        s3_prefix = self._root + (f"{check_key(rel)}/" if rel else "")
        start = len(self._root)

        def fetch() -> Stamped:
            out: Stamped = []
            pages = self._s3().get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=s3_prefix):
                for obj in page.get("Contents", ()):
                    name = obj["Key"]
                    if not name.endswith("/"):
                        stamp = f"{obj.get('ETag', '')}-{obj.get('LastModified', '')}"
                        out.append((name[start:], stamp))
            out.sort()
            return out

        return self._call("list", rel, fetch)

    def index_location(self) -> str | None:
        # The index of a bucket is kept on this machine, in the user's cache.
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
        where = f"{self.endpoint_url or os.environ.get('AWS_ENDPOINT_URL_S3', '')} {self.uri}"
        name = hashlib.sha256(where.encode("utf-8")).hexdigest()[:24]
        folder = Path(cache) / "autolog" / "index"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        return str(folder / f"{name}.sqlite")

    def delete(self, key: str) -> None:
        full = self._full(key)
        self._call("delete", key, lambda: self._s3().delete_object(Bucket=self.bucket, Key=full))

    def _head(self, key: str) -> dict[str, Any] | None:
        full = self._full(key)

        def head() -> dict[str, Any] | None:
            try:
                response: dict[str, Any] = self._s3().head_object(Bucket=self.bucket, Key=full)
            except self._lib.client_error as exc:
                if error_info(exc)[0] in NOT_FOUND:
                    return None
                raise
            return response

        return self._call("look-up", key, head)

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise ObjectNotFound(f"no object {key!r} in {self.uri}")
        return int(head["ContentLength"])

    def presigned_url(self, operation: str, key: str, expires_in: int, **params: Any) -> str:
        """A URL that lets whoever holds it run `operation` on `key` for `expires_in` seconds.

        `operation` is boto3's name ("put_object", "get_object"); `params` are further
        request parameters to sign (ContentLength, ChecksumSHA256): the store then refuses a
        request whose headers differ. Signing is local: no request is made.
        """
        full = self._full(key)
        request = {"Bucket": self.bucket, "Key": full, **params}

        def sign() -> str:
            url: str = self._s3().generate_presigned_url(
                operation, Params=request, ExpiresIn=expires_in
            )
            return url

        return self._call("presign", key, sign)

    def checked_size(self, key: str) -> tuple[int, str | None] | None:
        """The size of the object under `key` and its stored SHA-256 (base64) if the store
        kept one; None when there is no object."""
        full = self._full(key)

        def head() -> tuple[int, str | None] | None:
            try:
                response = self._s3().head_object(
                    Bucket=self.bucket, Key=full, ChecksumMode="ENABLED"
                )
            except self._lib.client_error as exc:
                if error_info(exc)[0] in NOT_FOUND:
                    return None
                raise
            return int(response["ContentLength"]), response.get("ChecksumSHA256")

        return self._call("look-up", key, head)

    def put_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        """Upload a local file; above the multipart threshold in concurrent parts."""
        full = self._full(key)

        def upload() -> None:
            if path.stat().st_size < self.multipart_threshold:
                with open(path, "rb") as fh:
                    self._s3().put_object(Bucket=self.bucket, Key=full, Body=fh)
                if progress is not None:
                    progress(path.stat().st_size)
                return
            self._s3().upload_file(
                str(path), self.bucket, full, Config=self._transfer_config(), Callback=progress
            )

        self._call("upload", key, upload)

    def get_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        """Download an object into a new file at `path`; large ones in concurrent ranges."""
        full = self._full(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.autolog-tmp")

        def download() -> None:
            try:
                self._s3().download_file(
                    self.bucket, full, str(tmp), Config=self._transfer_config(), Callback=progress
                )
            except self._lib.client_error as exc:
                if error_info(exc)[0] in NOT_FOUND:
                    raise ObjectNotFound(f"no object {key!r} in {self.uri}") from None
                raise

        try:
            self._call("download", key, download)
            tmp.replace(path)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._pid == os.getpid():
            client.close()


class S3Backend(LayoutBackend):
    """The layout of `autolog.backends._layout` under a prefix of an S3 bucket."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None) -> None:
        super().__init__(S3ObjectStore(bucket, prefix, endpoint_url=endpoint_url))


def store_from_uri(uri: str) -> S3ObjectStore:
    """Build the object store rooted at `s3://bucket/prefix` (the whole bucket without one)."""
    bucket, prefix = parse_s3_uri(uri)
    return S3ObjectStore(bucket, prefix)


def from_uri(uri: str) -> S3Backend:
    """Build the backend for `s3://bucket/prefix`."""
    bucket, prefix = parse_s3_uri(uri)
    return S3Backend(bucket, prefix)
