"""A fingerprint of training data: shape, dtypes, column names and a content hash.

`fingerprint(X, y)` describes each of X and y and hashes their content, so two
runs can tell whether they trained on the same data. Nothing is copied whole:

- The hash is sha256 from hashlib (OpenSSL: hardware-accelerated on current x86
  and ARM CPUs, about 0.7 GB/s on the 2-core CI machine where blake2b, which
  is not accelerated, does 0.25 GB/s), fed the raw bytes of each array through
  a view: a C- or F-contiguous numpy array, each numpy-backed column of a
  DataFrame, and the data/indices/indptr arrays of a scipy sparse matrix are
  hashed in place.
- An array of at most `FULL_HASH_BYTES` (32 MiB) is hashed whole. Above that,
  `SAMPLE_BLOCKS` blocks of `BLOCK_BYTES` spread evenly over the bytes (the first
  and the last included) are hashed with the total size and the shape, so hashing
  1 GB costs what hashing 16 MiB does (about 25 ms); the entry then says
  `"sampled": {...}` with what was read. Two arrays that differ only between
  sampled blocks get the same hash: the documented price of that speed.
- A non-contiguous array (a slice with a step) is hashed a chunk of rows at a
  time, each chunk copied to a buffer of at most `CHUNK_BYTES`.
- Object arrays and columns (strings, mixed values) are hashed through pandas'
  vectorized `hash_array` when pandas is installed, else through each value's
  repr; above `SAMPLE_ROWS` rows, evenly spaced rows are hashed.
- A DataFrame is hashed column by column (names, then each column's bytes), so
  its hash does not depend on how pandas lays the columns out in memory. A
  numpy array's hash covers its bytes in memory order (C or F, recorded).
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["METHOD", "describe", "dtype_name", "fingerprint"]

FULL_HASH_BYTES = 32 * 1024 * 1024
SAMPLE_BLOCKS = 128
BLOCK_BYTES = 128 * 1024
CHUNK_BYTES = 1024 * 1024
SAMPLE_ROWS = 100_000
MAX_COLUMNS_LISTED = 10_000

METHOD = (
    f"sha256 over raw bytes; arrays above {FULL_HASH_BYTES >> 20} MiB: {SAMPLE_BLOCKS} evenly"
    f" spaced blocks of {BLOCK_BYTES >> 10} KiB; object values above {SAMPLE_ROWS} rows:"
    " evenly spaced rows"
)
_HEX = 32  # characters of the digest kept: 128 bits


def fingerprint(X: Any, y: Any = None) -> dict[str, Any]:
    """Describe and hash `X` (and `y`): `{"X": {...}, "y": {...}, "hash": ..., "method": ...}`.

    Each entry has `kind`, `shape`, `dtype` (or `columns` and `dtypes` for a
    DataFrame), `content_hash` (None when the type cannot be read without a
    copy) and, when only part of it was hashed, `sampled`.
    """
    out: dict[str, Any] = {"X": describe(X)}
    combined = hashlib.sha256(str(out["X"].get("content_hash")).encode())
    if y is not None:
        out["y"] = describe(y)
        combined.update(str(out["y"].get("content_hash")).encode())
    out["hash"] = combined.hexdigest()[:_HEX]
    out["method"] = METHOD
    return out


# hashlib lets go of the GIL while it hashes 2,048 bytes or more. In the user's thread
# that hands the GIL to autolog's writer thread, which may then keep it for a switch
# interval (5 ms) while the user's fit waits: small data is fed in pieces too short for
# that; above GIL_KEPT_MAX bytes, hashing in parallel with the writer is worth the wait.
_PIECE = 2047
GIL_KEPT_MAX = 256 * 1024


def hash_keeping_gil(digest: Any, data: Any) -> None:
    """`digest.update(data)`, without letting go of the GIL for data up to GIL_KEPT_MAX bytes."""
    view = memoryview(data).cast("B")
    n = view.nbytes
    if n < _PIECE or n > GIL_KEPT_MAX:
        digest.update(view)
        return
    for start in range(0, n, _PIECE):
        digest.update(view[start : start + _PIECE])


def describe(data: Any) -> dict[str, Any]:
    """Kind, shape, dtypes, column names and content hash of one array-like."""
    module = type(data).__module__
    if module.startswith("numpy") and hasattr(data, "dtype") and hasattr(data, "shape"):
        return _describe_ndarray(data)
    if module.startswith("pandas"):
        if hasattr(data, "columns"):
            return _describe_frame(data)
        if hasattr(data, "dtype"):
            return _describe_series(data)
    if module.startswith("scipy.sparse"):
        return _describe_sparse(data)
    if isinstance(data, (list, tuple)):
        return _describe_sequence(data)
    shape = getattr(data, "shape", None)
    return {
        "kind": type(data).__name__,
        "shape": _shape(shape) if shape is not None else None,
        "content_hash": None,
    }


class _Hasher:
    """sha256 plus a record of how much of the data it read."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.hashed = 0
        self.total = 0
        self.sampled: dict[str, Any] | None = None

    def update(self, data: Any) -> None:
        hash_keeping_gil(self.digest, data)

    def text(self, text: str) -> None:
        self.digest.update(text.encode("utf-8", "surrogatepass") + b"\x1f")

    def result(self, entry: dict[str, Any]) -> dict[str, Any]:
        entry["content_hash"] = self.digest.hexdigest()[:_HEX]
        if self.sampled is not None:
            self.sampled.update(hashed_bytes=self.hashed, total_bytes=self.total)
            entry["sampled"] = self.sampled
        return entry

    def array(self, arr: Any) -> None:
        """Hash the bytes of a numpy array, whole or sampled, without copying it."""
        import numpy as np

        self.digest.update((arr.dtype.str + str(arr.shape)).encode())
        if arr.dtype.hasobject:
            self.objects(arr.reshape(-1) if arr.flags.c_contiguous else arr.ravel(order="K"))
            return
        if arr.size == 0:
            return
        if arr.flags.c_contiguous or arr.flags.f_contiguous:
            # A view of the same memory as bytes; F order keeps its own layout.
            c_order = arr.flags.c_contiguous
            self.digest.update(b"C" if c_order else b"F")
            self._bytes(arr.reshape(-1, order="C" if c_order else "F").view(np.uint8))
            return
        self.digest.update(b"C")  # copied out row by row, in C order
        self._strided(arr)

    def _bytes(self, flat: Any) -> None:
        import numpy as np

        n = int(flat.shape[0])
        self.total += n
        if n <= FULL_HASH_BYTES:
            self.update(flat)
            self.hashed += n
            return
        starts = np.linspace(0, n - BLOCK_BYTES, SAMPLE_BLOCKS).astype(np.int64)
        for start in starts:
            self.update(flat[start : start + BLOCK_BYTES])
        self.hashed += SAMPLE_BLOCKS * BLOCK_BYTES
        self.sampled = {"blocks": SAMPLE_BLOCKS, "block_bytes": BLOCK_BYTES}

    def _strided(self, arr: Any) -> None:
        import numpy as np

        rows = arr.shape[0] if arr.ndim else 1
        row_bytes = max(1, arr.itemsize * (arr.size // max(rows, 1)))
        self.total += arr.size * arr.itemsize
        per_chunk = max(1, CHUNK_BYTES // row_bytes)
        if arr.size * arr.itemsize <= FULL_HASH_BYTES:
            for start in range(0, rows, per_chunk):
                chunk = np.ascontiguousarray(arr[start : start + per_chunk])
                self.update(chunk.view(np.uint8).reshape(-1))
                self.hashed += chunk.nbytes
            return
        block_rows = max(1, BLOCK_BYTES // row_bytes)
        starts = np.linspace(0, max(rows - block_rows, 0), SAMPLE_BLOCKS).astype(np.int64)
        for start in starts:
            chunk = np.ascontiguousarray(arr[start : start + block_rows])
            self.update(chunk.view(np.uint8).reshape(-1))
            self.hashed += chunk.nbytes
        self.sampled = {"blocks": SAMPLE_BLOCKS, "block_rows": block_rows}

    def objects(self, values: Any) -> None:
        """Hash a 1-D sequence of Python objects (strings, mixed values)."""
        import numpy as np

        n = len(values)
        if n > SAMPLE_ROWS:
            rows = np.linspace(0, n - 1, SAMPLE_ROWS).astype(np.int64)
            values = values[rows] if isinstance(values, np.ndarray) else [values[i] for i in rows]
            self.sampled = {"rows": SAMPLE_ROWS, "of_rows": n}
        try:
            from pandas.util import hash_array

            codes = hash_array(np.asarray(values, dtype=object), categorize=False)
            self.update(codes.view(np.uint8))
        except (ImportError, TypeError, ValueError):
            for value in values:
                self.text(repr(value))


def _shape(shape: Any) -> list[int]:
    return [int(n) for n in shape]


_dtype_names: dict[Any, str] = {}


def dtype_name(dtype: Any) -> str:
    """`str(dtype)`, cached: numpy 2 builds it in Python, at about 20 us a call."""
    name = _dtype_names.get(dtype)
    if name is None:
        name = str(dtype)
        if len(_dtype_names) < 1000:
            _dtype_names[dtype] = name
    return name


def _describe_ndarray(arr: Any) -> dict[str, Any]:
    hasher = _Hasher()
    hasher.array(arr)
    entry = {"kind": type(arr).__name__, "shape": _shape(arr.shape), "dtype": dtype_name(arr.dtype)}
    return hasher.result(entry)


def _frame_columns(frame: Any) -> list[Any]:
    """Each column's array, without a copy: numpy arrays or pandas extension arrays."""
    # The block manager hands out every column in microseconds; frame.iloc[:, i]
    # builds a Series per column, 100x slower. Its layout (blocks of columns placed
    # by mgr_locs) has been stable since pandas 1.0; anything unexpected falls back.
    try:
        columns: list[Any] = [None] * frame.shape[1]
        for block in frame._mgr.blocks:
            values = block.values
            for row, loc in enumerate(block.mgr_locs.as_array):
                columns[loc] = values[row] if values.ndim == 2 else values
        if all(c is not None and len(c) == frame.shape[0] for c in columns):
            return columns
    except (AttributeError, IndexError, TypeError):
        pass
    return [frame.iloc[:, i].array for i in range(frame.shape[1])]


def _hash_column(hasher: _Hasher, values: Any) -> None:
    """Hash one column: a numpy array, or a pandas extension array (categorical, ...)."""
    import numpy as np

    inner = values if isinstance(values, np.ndarray) else getattr(values, "_ndarray", None)
    if isinstance(inner, np.ndarray):
        hasher.array(inner)
        return
    codes = getattr(values, "codes", None)
    if isinstance(codes, np.ndarray):  # a categorical: its codes and its categories
        hasher.array(codes)
        hasher.objects(np.asarray(values.categories, dtype=object))
        return
    hasher.text(str(values.dtype))
    hasher.objects(np.asarray(values, dtype=object))


def _describe_series(series: Any) -> dict[str, Any]:
    hasher = _Hasher()
    _hash_column(hasher, series.array)
    entry = {
        "kind": type(series).__name__,
        "shape": [len(series)],
        "name": None if series.name is None else str(series.name),
        "dtype": dtype_name(series.dtype),
    }
    return hasher.result(entry)


def _describe_frame(frame: Any) -> dict[str, Any]:
    columns = [str(c) for c in frame.columns]
    arrays = _frame_columns(frame)
    entry: dict[str, Any] = {
        "kind": type(frame).__name__,
        "shape": _shape(frame.shape),
        "columns": columns[:MAX_COLUMNS_LISTED],
        "dtypes": [dtype_name(a.dtype) for a in arrays[:MAX_COLUMNS_LISTED]],
    }
    if len(columns) > MAX_COLUMNS_LISTED:
        entry["columns_listed"] = MAX_COLUMNS_LISTED
    # Column by column, so the hash does not depend on how pandas lays out its blocks.
    hasher = _Hasher()
    hasher.text("\x1e".join(columns))
    for values in arrays:
        _hash_column(hasher, values)
    return hasher.result(entry)


def _describe_sparse(matrix: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": type(matrix).__name__,
        "shape": _shape(matrix.shape),
        "dtype": dtype_name(matrix.dtype),
        "format": str(matrix.format),
        "nnz": int(matrix.nnz),
    }
    parts = {
        "csr": ("data", "indices", "indptr"),
        "csc": ("data", "indices", "indptr"),
        "bsr": ("data", "indices", "indptr"),
        "coo": ("data", "row", "col"),
        "dia": ("data", "offsets"),
    }.get(matrix.format)
    if parts is None:  # lil and dok hold Python lists and dicts: no copy-free bytes
        entry["content_hash"] = None
        return entry
    hasher = _Hasher()
    hasher.text(f"{matrix.format}{matrix.shape}")
    for name in parts:
        hasher.array(getattr(matrix, name))
    return hasher.result(entry)


def _describe_sequence(values: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
    hasher = _Hasher()
    hasher.objects(values)
    entry = {"kind": type(values).__name__, "shape": [len(values)]}
    return hasher.result(entry)
