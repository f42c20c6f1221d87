"""The data fingerprint: what it records, when the hash changes, and that it copies nothing."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from autolog._patching import fingerprint as fp
from autolog._patching.fingerprint import fingerprint


def _hash(data: object) -> str:
    return str(fingerprint(data)["X"]["content_hash"])


def test_an_array_is_described_and_the_result_is_json() -> None:
    X = np.arange(20.0).reshape(10, 2)
    found = fingerprint(X, np.arange(10))
    assert found["X"] == {
        "kind": "ndarray",
        "shape": [10, 2],
        "dtype": "float64",
        "content_hash": found["X"]["content_hash"],
    }
    assert found["y"]["shape"] == [10]
    assert len(found["hash"]) == 32 and "sha256" in found["method"]
    json.dumps(found)


def test_the_hash_follows_the_content() -> None:
    X = np.random.default_rng(0).random((50, 4))
    same = X.copy()
    changed = X.copy()
    changed[49, 3] += 1e-9
    assert _hash(X) == _hash(same)
    assert _hash(X) != _hash(changed)
    assert _hash(X) != _hash(X.astype(np.float32))
    assert _hash(X) != _hash(X.reshape(100, 2))  # same bytes, another shape
    assert fingerprint(X, [0] * 50)["hash"] != fingerprint(X, [1] * 50)["hash"]


def test_a_strided_view_hashes_like_its_contiguous_copy_and_fortran_order_is_marked() -> None:
    X = np.random.default_rng(1).random((40, 6))
    view = X[::2, ::3]
    assert _hash(view) == _hash(np.ascontiguousarray(view))
    assert _hash(np.asfortranarray(X)) != _hash(X)  # bytes in another order
    assert _hash(np.asfortranarray(X)) == _hash(np.asfortranarray(X.copy()))


def test_a_dataframe_lists_columns_and_dtypes_and_ignores_its_block_layout() -> None:
    values = np.random.default_rng(2).random((30, 3))
    one_block = pd.DataFrame(values, columns=["a", "b", "c"])
    by_column = pd.DataFrame({"a": values[:, 0], "b": values[:, 1], "c": values[:, 2].copy()})
    entry = fingerprint(one_block)["X"]
    assert entry["columns"] == ["a", "b", "c"] and entry["dtypes"] == ["float64"] * 3
    assert entry["content_hash"] == _hash(by_column)
    assert _hash(one_block) != _hash(one_block.rename(columns={"c": "d"}))


def test_mixed_dataframes_series_strings_and_categoricals_are_hashed() -> None:
    frame = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0],
            "s": ["a", "b", "c"],
            "k": pd.Categorical(["u", "v", "u"]),
            "n": pd.array([1, None, 3], dtype="Int64"),
        }
    )
    entry = fingerprint(frame)["X"]
    assert entry["dtypes"][2:] == ["category", "Int64"]
    assert entry["content_hash"] is not None
    other = frame.copy()
    other.loc[1, "s"] = "z"
    assert _hash(frame) != _hash(other)
    series = fingerprint(pd.Series([1, 2, 3], name="target"))["X"]
    assert series["name"] == "target" and series["kind"] == "Series"


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "bsr", "dia"])
def test_sparse_matrices_hash_their_arrays(fmt: str) -> None:
    dense = np.eye(6) * np.arange(6)
    matrix = sp.random(6, 6, density=0.5, random_state=0).asformat(fmt)
    entry = fingerprint(matrix)["X"]
    assert entry["format"] == fmt and entry["nnz"] == matrix.nnz
    assert entry["content_hash"] == _hash(matrix.copy())
    assert entry["content_hash"] != _hash(sp.csr_matrix(dense).asformat(fmt))


def test_lil_matrices_and_unknown_types_are_described_without_a_hash() -> None:
    assert fingerprint(sp.lil_matrix((3, 3)))["X"]["content_hash"] is None
    assert fingerprint(object())["X"] == {"kind": "object", "shape": None, "content_hash": None}


def test_lists_of_documents_are_hashed() -> None:
    docs = ["the cat", "a dog", "the emu"]
    assert fingerprint(docs)["X"]["shape"] == [3]
    assert _hash(docs) != _hash([*docs[:2], "the gnu"])


def test_large_arrays_are_sampled_and_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fp, "FULL_HASH_BYTES", 4096)
    monkeypatch.setattr(fp, "BLOCK_BYTES", 256)
    monkeypatch.setattr(fp, "SAMPLE_BLOCKS", 4)
    X = np.zeros(10_000)
    entry = fingerprint(X)["X"]
    assert entry["sampled"] == {
        "blocks": 4,
        "block_bytes": 256,
        "hashed_bytes": 1024,
        "total_bytes": 80_000,
    }
    first = X.copy()
    first[0] = 1.0  # inside the first block: seen
    assert _hash(first) != entry["content_hash"]


def test_object_columns_above_the_row_cap_are_sampled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fp, "SAMPLE_ROWS", 10)
    entry = fingerprint(np.array([str(i) for i in range(100)], dtype=object))["X"]
    assert entry["sampled"]["rows"] == 10


def test_hashing_a_large_array_allocates_almost_nothing() -> None:
    X = np.random.default_rng(3).random((400_000, 20))  # 64 MB: sampled
    frame = pd.DataFrame(X[:100_000])  # 16 MB: hashed whole, column by column
    tracemalloc.start()
    try:
        fingerprint(X, X[:, 0])
        fingerprint(frame)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A strided column (y) is copied a chunk at a time (two alive while the next is
    # made); nothing else is copied.
    assert peak < 2 * fp.CHUNK_BYTES + 200_000, peak
