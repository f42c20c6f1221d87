"""The ObjectStore conformance suite: the same tests over the memory, file and S3 stores.

The S3 store runs against a real S3-compatible server on localhost (moto's, from
the `s3_env` fixture of tests/conftest.py). A new store joins by adding a branch
to the `store` fixture.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from s3server import BUCKET

from autolog.backends._objects import ObjectNotFound, ObjectStore
from autolog.backends.file import LocalObjectStore
from autolog.backends.memory import MemoryObjectStore
from autolog.backends.s3 import S3ObjectStore
from autolog.errors import NotFoundError

MiB = 1024 * 1024


@pytest.fixture(params=["memory", "file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    """A fresh, empty store of each kind."""
    if request.param == "memory":
        yield MemoryObjectStore(uuid.uuid4().hex)
    elif request.param == "file":
        yield LocalObjectStore(tmp_path / "store")
    else:
        request.getfixturevalue("s3_env")
        # A lowered multipart threshold: a 20 MB file goes up and down in 5 MB parts.
        s3 = S3ObjectStore(
            BUCKET,
            f"t-{uuid.uuid4().hex[:12]}",
            multipart_threshold=5 * MiB,
            multipart_chunksize=5 * MiB,
        )
        yield s3
        s3.close()


def test_put_get_overwrite(store: ObjectStore) -> None:
    every_byte = bytes(range(256)) * 4
    store.put("runs/a/meta.json", b'{"a": 1}')
    store.put("runs/a/blob", every_byte)
    store.put("runs/a/empty", b"")
    assert store.get("runs/a/meta.json") == b'{"a": 1}'
    assert store.get("runs/a/blob") == every_byte
    assert store.get("runs/a/empty") == b""
    store.put("runs/a/meta.json", b"2")
    assert store.get("runs/a/meta.json") == b"2"
    assert store.size("runs/a/blob") == 1024
    assert store.exists("runs/a/empty")
    assert not store.exists("runs/a/nothing")


def test_missing_object(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound, match="nothing/here"):
        store.get("nothing/here")
    with pytest.raises(NotFoundError):
        store.size("nothing/here")
    assert store.list("nothing") == []
    store.delete("nothing/here")  # deleting what is not there is not an error


def test_list_is_recursive_sorted_relative_and_bounded(store: ObjectStore) -> None:
    keys = ["runs/ab/x", "runs/a/z", "runs/a/b/c/d", "runs/a/b/a", "other/q", "top"]
    for key in keys:
        store.put(key, b"1")
    assert store.list("runs/a") == ["runs/a/b/a", "runs/a/b/c/d", "runs/a/z"]
    assert store.list("runs/a/") == store.list("runs/a")
    assert store.list("runs") == sorted(k for k in keys if k.startswith("runs/"))
    assert store.list("") == sorted(keys)


def test_list_after_starts_after_a_key_and_stops_at_a_limit(store: ObjectStore) -> None:
    for name in ("001.a", "002.b", "003.c", "010.d"):
        store.put(f"changes/{name}", b"")
    store.put("changesx/000", b"")  # a sibling prefix is not listed
    assert store.list_after("changes", "") == [
        f"changes/{n}" for n in ("001.a", "002.b", "003.c", "010.d")
    ]
    assert store.list_after("changes", "changes/002") == [
        "changes/002.b",
        "changes/003.c",
        "changes/010.d",
    ]
    assert store.list_after("changes", "changes/002.b") == ["changes/003.c", "changes/010.d"]
    assert store.list_after("changes", "changes/0", limit=1) == ["changes/001.a"]
    assert store.list_after("changes", "changes/011") == []
    assert store.list_after("nothing", "") == []


def test_unusual_characters_in_keys(store: ObjectStore) -> None:
    key = "runs/r1/artifacts/my file ü+%20&=.txt"
    store.put(key, b"x")
    assert store.list("runs/r1") == [key]
    assert store.get(key) == b"x"


def test_delete(store: ObjectStore) -> None:
    store.put("a/1", b"1")
    store.put("a/2", b"2")
    store.delete("a/1")
    assert store.list("a") == ["a/2"]
    with pytest.raises(ObjectNotFound):
        store.get("a/1")


def test_put_if_absent(store: ObjectStore) -> None:
    assert store.put_if_absent("c/0001.json", b"first")
    assert not store.put_if_absent("c/0001.json", b"second")
    assert store.get("c/0001.json") == b"first"
    store.delete("c/0001.json")
    assert store.put_if_absent("c/0001.json", b"third")
    assert store.get("c/0001.json") == b"third"


def test_put_if_absent_has_one_winner_under_races(store: ObjectStore) -> None:
    wins: dict[str, list[int]] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def contend(worker: int) -> None:
        barrier.wait()
        for n in range(10):
            key = f"versions/{n}"
            if store.put_if_absent(key, f"{worker}".encode()):
                with lock:
                    wins.setdefault(key, []).append(worker)

    threads = [threading.Thread(target=contend, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [f"versions/{n}" for n in range(10)]
    for key, winners in wins.items():
        assert len(winners) == 1, (key, winners)
        assert store.get(key) == str(winners[0]).encode()


def test_large_file_round_trip(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "model.bin"
    src.write_bytes(os.urandom(20 * MiB + 123))
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    sent: list[int] = []
    received: list[int] = []
    if isinstance(store, S3ObjectStore):
        store.put_file("runs/r/artifacts/model.bin", src, progress=sent.append)
    else:
        store.put_file("runs/r/artifacts/model.bin", src)
    assert store.size("runs/r/artifacts/model.bin") == src.stat().st_size
    dst = tmp_path / "back" / "model.bin"
    if isinstance(store, S3ObjectStore):
        store.get_file("runs/r/artifacts/model.bin", dst, progress=received.append)
        # Multipart objects have an ETag of the form "<md5>-<parts>".
        client = store._s3()
        head = client.head_object(Bucket=BUCKET, Key=f"{store.prefix}/runs/r/artifacts/model.bin")
        assert head["ETag"].strip('"').endswith("-5")
        assert sum(sent) == sum(received) == src.stat().st_size
    else:
        store.get_file("runs/r/artifacts/model.bin", dst)
    assert hashlib.sha256(dst.read_bytes()).hexdigest() == digest
    assert [p.name for p in dst.parent.iterdir()] == ["model.bin"]  # no temp file left


def test_get_file_of_missing_object(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound):
        store.get_file("nothing/here", tmp_path / "out" / "here")
    assert not (tmp_path / "out" / "here").exists()
