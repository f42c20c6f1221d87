"""Model signatures and input examples, in MLflow's formats.

A signature describes a model's input (and output) either as named columns with
MLflow data types (`ColSpec`: a pandas DataFrame) or as a typed array with a
shape (`TensorSpec`: a numpy array). It is stored in the MLmodel file as
MLflow stores it, JSON text under `signature.inputs` / `signature.outputs`, so
MLflow's schema enforcement reads it too.

The input example is the first rows of the caller's data, written as
`input_example.json` ("split" orient for a DataFrame, a list of rows for an
array). Only the first rows are ever copied, never the whole dataset.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import itertools
import json
import logging
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autolog.errors import InvalidInputError, InvalidValueError

__all__ = [
    "EXAMPLE_FILE",
    "ColSpec",
    "Signature",
    "TensorSpec",
    "check_input",
    "example_json",
    "infer_schema",
    "infer_signature",
    "read_example",
    "slice_example",
]

_logger = logging.getLogger("autolog")

EXAMPLE_FILE = "input_example.json"
EXAMPLE_ROWS = 5

# MLflow's column types and the numpy dtype each stands for (used in hints).
_NUMPY_OF = {
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "str",
    "binary": "bytes",
    "datetime": "datetime64[ns]",
}
# Which numpy dtype kinds each type accepts: ints widen to floats, as MLflow allows.
_ACCEPTS = {
    "boolean": "b",
    "integer": "iu",
    "long": "iu",
    "float": "fiu",
    "double": "fiu",
    "string": "SU",
    "binary": "S",
    "datetime": "M",
}


@dataclass(frozen=True)
class ColSpec:
    """One input or output column: an MLflow data type ("double", "long", "string", ...)."""

    type: str
    name: str | None = None
    required: bool = True

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out


@dataclass(frozen=True)
class TensorSpec:
    """An array input or output: a numpy dtype name and a shape (-1 for any size)."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "tensor"}
        if self.name is not None:
            out["name"] = self.name
        out["tensor-spec"] = {"dtype": self.dtype, "shape": list(self.shape)}
        return out


Spec = ColSpec | TensorSpec


@dataclass(frozen=True)
class Signature:
    """A model's input schema and, when known, its output schema."""

    inputs: tuple[Spec, ...]
    outputs: tuple[Spec, ...] | None = None

    @property
    def is_tensor(self) -> bool:
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    @property
    def column_names(self) -> list[str | None]:
        return [s.name for s in self.inputs]

    def to_dict(self) -> dict[str, str | None]:
        """The MLmodel form: each schema as a JSON string, as MLflow writes it."""
        return {
            "inputs": _schema_json(self.inputs),
            "outputs": _schema_json(self.outputs) if self.outputs else None,
            "params": None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        inputs = _parse_schema(data.get("inputs"))
        outputs = _parse_schema(data.get("outputs")) if data.get("outputs") else None
        return cls(inputs, outputs)


def _schema_json(specs: Sequence[Spec]) -> str:
    return json.dumps([s.to_json() for s in specs])


def _parse_schema(text: object) -> tuple[Spec, ...]:
    if not text:
        return ()
    items: Any = json.loads(text) if isinstance(text, str) else text
    out: list[Spec] = []
    for item in items:
        if item.get("type") == "tensor":
            spec = item["tensor-spec"]
            out.append(TensorSpec(str(spec["dtype"]), tuple(spec["shape"]), item.get("name")))
        else:
            out.append(
                ColSpec(str(item["type"]), item.get("name"), bool(item.get("required", True)))
            )
    return tuple(out)


# -- inference ---------------------------------------------------------------------------------


def _pandas() -> Any:
    # pandas is optional: a DataFrame can only reach us if pandas is already imported.
    return sys.modules.get("pandas")


def _is_frame(data: object) -> bool:
    pd = _pandas()
    return pd is not None and isinstance(data, pd.DataFrame)


def _is_series(data: object) -> bool:
    pd = _pandas()
    return pd is not None and isinstance(data, pd.Series)


def _is_sparse(data: object) -> bool:
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(data))


# What pandas' infer_dtype finds in an object column, as a numpy dtype kind.
_INFERRED_KIND = {
    "string": "U",
    "empty": "U",
    "bytes": "S",
    "boolean": "b",
    "integer": "i",
    "floating": "f",
    "mixed-integer-float": "f",
    "datetime64": "M",
    "datetime": "M",
}


def _kind(dtype: Any, values: Callable[[], Any]) -> str:
    """The numpy kind of a column's values; `values()` is called only for object columns."""
    pd = _pandas()
    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories
        return _kind(categories.dtype, lambda: categories)
    if isinstance(dtype, pd.StringDtype):
        return "U"
    if dtype.kind != "O":
        return str(dtype.kind)
    return _INFERRED_KIND.get(pd.api.types.infer_dtype(values(), skipna=True), "O")


def _nth_column(frame: Any, i: int) -> Any:
    return frame.iloc[:, i]


def _same(value: Any) -> Any:
    return value


def _column_type(name: object, dtype: Any, values: Callable[[], Any]) -> str:
    kind = _kind(dtype, values)
    if kind == "O" or kind not in "biufMSU":
        raise InvalidValueError(
            f"column {name!r} (dtype {dtype}) holds values a signature cannot describe; convert"
            " it to numbers, strings or datetimes, or pass signature=None"
        )
    if kind in "iu" and dtype.kind in "iu":
        small = dtype.itemsize < 4 or (dtype.itemsize == 4 and kind == "i")
        return "integer" if small else "long"
    if kind == "f" and dtype.kind == "f":
        return "float" if dtype.itemsize <= 4 else "double"
    return {"b": "boolean", "i": "long", "u": "long", "f": "double", "M": "datetime"}.get(
        kind, "binary" if kind == "S" else "string"
    )


def _array_spec(arr: Any) -> TensorSpec:
    return TensorSpec(str(arr.dtype), (-1, *arr.shape[1:]))


def infer_schema(data: Any, *, columns_as_rows: bool = False) -> tuple[Spec, ...]:
    """The schema of a DataFrame, Series, array or sparse matrix.

    `columns_as_rows`: a 1-D array is one unnamed column (a model's output for
    column-based input), as MLflow infers it, instead of a tensor.
    """
    import numpy as np

    if _is_frame(data):
        return tuple(
            ColSpec(_column_type(c, dtype, functools.partial(_nth_column, data, i)), str(c))
            for i, (c, dtype) in enumerate(zip(data.columns, data.dtypes, strict=True))
        )
    if _is_series(data):
        name = None if data.name is None else str(data.name)
        return (ColSpec(_column_type(data.name, data.dtype, lambda: data), name),)
    if _is_sparse(data):
        return (_array_spec(data),)
    if isinstance(data, list | tuple):
        data = np.asarray(data)
    if isinstance(data, np.ndarray):
        if columns_as_rows and data.ndim == 1:
            pd = _pandas()
            if pd is not None:
                return (ColSpec(_column_type("output", data.dtype, lambda: pd.Series(data))),)
        if data.dtype.kind == "O":
            raise InvalidValueError(
                "an array of Python objects has no signature; convert it to a numeric or string"
                " dtype, or pass signature=None"
            )
        return (_array_spec(data),)
    raise InvalidValueError(
        f"cannot infer a schema from a {type(data).__name__}; pass a pandas DataFrame, a numpy"
        " array or a scipy sparse matrix, or pass signature=None"
    )


def infer_signature(model_input: Any, model_output: Any = None) -> Signature:
    """A signature from example input (and, if given, the model's output on it)."""
    inputs = infer_schema(slice_example(model_input))
    outputs = None
    if model_output is not None:
        column_based = bool(inputs) and isinstance(inputs[0], ColSpec)
        outputs = infer_schema(model_output, columns_as_rows=column_based)
    return Signature(inputs, outputs)


# -- input examples ----------------------------------------------------------------------------


def slice_example(data: Any) -> Any:
    """The first rows of `data` as a DataFrame or an array; the rest is never copied."""
    import numpy as np

    pd = _pandas()
    if _is_frame(data):
        return data.iloc[:EXAMPLE_ROWS]
    if _is_series(data):
        return data.iloc[:EXAMPLE_ROWS].to_frame()
    if isinstance(data, np.ndarray):
        return data[:EXAMPLE_ROWS]
    if _is_sparse(data):
        return data[:EXAMPLE_ROWS].toarray()
    if isinstance(data, Mapping):
        if pd is None:
            raise InvalidValueError("an input example given as a dict needs pandas; pass an array")
        return pd.DataFrame({k: list(itertools.islice(v, EXAMPLE_ROWS)) for k, v in data.items()})
    if isinstance(data, list | tuple):
        return np.asarray(data[:EXAMPLE_ROWS])
    raise InvalidValueError(
        f"input_example is a {type(data).__name__}; expected a pandas DataFrame or Series, a numpy"
        " array, a scipy sparse matrix, a list of rows or a dict of columns"
    )


def _jsonable(value: Any) -> Any:
    import numpy as np

    pd = _pandas()
    if pd is not None and (value is pd.NA or value is pd.NaT):
        return None
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None  # JSON has no NaN or infinity
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return str(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def example_json(example: Any) -> tuple[bytes, dict[str, Any]]:
    """`input_example.json` for a sliced example, and MLflow's `saved_input_example_info`."""
    import numpy as np

    info: dict[str, Any] = {"artifact_path": EXAMPLE_FILE}
    if _is_frame(example):
        # An object array gives Python values fast; to_dict() builds rows ten times slower.
        rows = example.to_numpy(dtype=object).tolist()
        payload: Any = {"columns": [str(c) for c in example.columns], "data": _jsonable(rows)}
        info.update(type="dataframe", pandas_orient="split")
    else:
        payload = _jsonable(np.asarray(example).tolist())
        info["type"] = "ndarray"
    return json.dumps(payload, allow_nan=False).encode("utf-8"), info


def read_example(data: bytes, info: Mapping[str, Any]) -> Any:
    """The input example back: a DataFrame (needs pandas) or a numpy array."""
    import numpy as np

    payload = json.loads(data)
    if info.get("type") == "dataframe":
        import pandas as pd

        return pd.DataFrame(payload["data"], columns=payload.get("columns"))
    return np.asarray(payload)


# -- checking input against a signature --------------------------------------------------------


def _check_columns(specs: Sequence[ColSpec], data: Any) -> Any:
    if isinstance(data, Mapping):
        import pandas as pd  # a dict of columns: pandas is needed to read it like a frame

        data = pd.DataFrame(data)
    names = [s.name for s in specs]
    if not _is_frame(data):
        shown = [n for n in names if n is not None]
        raise InvalidInputError(
            f"the model's signature expects a pandas DataFrame with columns {shown}, got a"
            f" {type(data).__name__}; build one with pandas.DataFrame(data, columns={shown})"
        )
    if any(n is None for n in names):
        if data.shape[1] != len(specs):
            raise InvalidInputError(
                f"the model's signature expects {len(specs)} columns, got {data.shape[1]}"
            )
        return data
    by_name = {str(c): c for c in data.columns}
    missing = [s.name for s in specs if s.required and s.name not in by_name]
    if missing:
        raise InvalidInputError(
            f"the input has no column {missing[0]!r}"
            + (f" (missing: {missing})" if len(missing) > 1 else "")
            + f", which the model's signature requires; it expects columns {names} and got"
            f" {[str(c) for c in data.columns]}. Add the column, or rename the one that holds it"
        )
    present = [s for s in specs if s.name in by_name]
    for spec in present:
        accepted = _ACCEPTS.get(spec.type)
        if accepted is None:
            continue  # a type we do not check (arrays, objects, maps)
        column = data[by_name[str(spec.name)]]
        kind = _kind(column.dtype, functools.partial(_same, column))
        if kind not in accepted:
            hint = ""
            if kind == "f" and spec.type in ("long", "integer"):
                hint = " (a missing value turns an integer column into floats)"
            raise InvalidInputError(
                f"column {spec.name!r} holds {column.dtype} values{hint}, but the model's signature"
                f" expects {spec.type}; convert it, for example"
                f" df[{spec.name!r}] = df[{spec.name!r}].astype({_NUMPY_OF[spec.type]!r})"
            )
    order = [by_name[str(s.name)] for s in present]
    return data if list(data.columns) == order else data[order]


def _check_tensor(spec: TensorSpec, data: Any) -> Any:
    import numpy as np

    if _is_frame(data):
        data = data.to_numpy()
    elif isinstance(data, list | tuple):
        data = np.asarray(data)
    if not (isinstance(data, np.ndarray) or _is_sparse(data)):
        raise InvalidInputError(
            f"the model's signature expects a numpy array of {spec.dtype} with shape"
            f" {list(spec.shape)}, got a {type(data).__name__}; pass numpy.asarray(data)"
        )
    shape = tuple(data.shape)
    if len(shape) != len(spec.shape):
        raise InvalidInputError(
            f"the input has {len(shape)} dimensions (shape {list(shape)}), but the model's"
            f" signature expects {len(spec.shape)} (shape {list(spec.shape)}); reshape it"
        )
    for axis, (got, want) in enumerate(zip(shape, spec.shape, strict=True)):
        if want != -1 and got != want:
            what = "columns" if axis == 1 else f"entries on axis {axis}"
            raise InvalidInputError(
                f"the input has {got} {what} (shape {list(shape)}), but the model's signature"
                f" expects {want} (shape {list(spec.shape)}); pass the same features the model"
                " was trained on"
            )
    try:
        want_kind = np.dtype(spec.dtype).kind
    except TypeError:
        return data  # a dtype numpy does not know (written by another tool): not checked
    accepted = {"f": "fiub", "i": "iu", "u": "iu", "b": "b", "U": "US", "S": "S"}.get(want_kind)
    if accepted is not None and data.dtype.kind not in accepted:
        raise InvalidInputError(
            f"the input array has dtype {data.dtype}, but the model's signature expects"
            f" {spec.dtype}; convert it with .astype({spec.dtype!r})"
        )
    return data


def check_input(signature: Signature | None, data: Any) -> Any:
    """Return `data` ready for the model, or raise InvalidInputError naming what differs."""
    if signature is None or not signature.inputs:
        return data
    first = signature.inputs[0]
    if isinstance(first, TensorSpec):
        if len(signature.inputs) > 1:
            _logger.debug("autolog: a signature with several tensors is not checked")
            return data
        return _check_tensor(first, data)
    return _check_columns([s for s in signature.inputs if isinstance(s, ColSpec)], data)
