"""The scikit-learn flavor: any `BaseEstimator` (Pipelines and user subclasses included).

The file is a plain pickle (`serialization_format: pickle`), not `joblib.dump`
output: joblib writes numpy arrays after the pickle stream in its own framing,
which `pickle.load`, and so `mlflow.sklearn.load_model`, cannot read, while
`joblib.load` reads a plain pickle as well. Protocol 5 keeps numpy arrays as
compact as joblib does. `format="cloudpickle"` pickles classes and functions
defined in `__main__` by value, so a model built in a notebook loads elsewhere.

Loading a pickle runs code from the file: load only models you trust. autolog
checks each file's sha256 against the MLmodel before unpickling it, which
catches a file changed after saving but is not a signature. A model MLflow saved
(no hashes; read only with `load_model(..., trust_unverified=True)`) may also be
in the skops format, MLflow's default, which `skops.io` reads with the types its
MLmodel lists as trusted.
"""

from __future__ import annotations

import importlib
import pickle
import sys
from collections.abc import Mapping
from pathlib import Path
from types import BuiltinFunctionType, FunctionType
from typing import Any

from autolog._models._flavors import Flavor, SavedFlavor, distributions_of, model_file
from autolog.errors import InvalidValueError, ModelIntegrityError

__all__ = ["SklearnFlavor"]

MODEL_FILE = "model.pkl"
PROTOCOL = 5
# Attribute values that hold no estimator or function: skipped at once.
_PLAIN = frozenset({int, float, str, bool, type(None), bytes, dict})
# What load reads: the formats autolog writes, and skops, which mlflow.sklearn writes by default.
READ_FORMATS = ("pickle", "cloudpickle", "skops")


class SklearnFlavor(Flavor):
    """scikit-learn estimators, written as a pickle that MLflow's loader also reads."""

    name = "sklearn"
    libraries = {"scikit-learn": "sklearn"}
    formats = ("pickle", "cloudpickle")

    def matches(self, model: object) -> bool:
        base = sys.modules.get("sklearn.base")
        return base is not None and isinstance(model, base.BaseEstimator)

    def save(self, model: object, format: str) -> SavedFlavor:
        if format == "cloudpickle":
            try:
                cloudpickle: Any = importlib.import_module("cloudpickle")  # optional
            except ImportError:
                raise InvalidValueError(
                    "format='cloudpickle' needs the cloudpickle package; pip install cloudpickle,"
                    " or use the default format='pickle'"
                ) from None
            dumps: Any = cloudpickle.dumps
        else:
            dumps = pickle.dumps
        try:
            data = dumps(model, protocol=PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            hint = (
                " or use format='cloudpickle'" if format == "pickle" else ""
            )  # lambdas and local classes pickle only by value
            raise InvalidValueError(
                f"cannot pickle the {type(model).__name__} model: {exc}. Define its functions and"
                f" classes at module level{hint}"
            ) from exc
        conf = {
            "pickled_model": MODEL_FILE,
            "sklearn_version": self.library_versions()["scikit-learn"],
            "serialization_format": format,
            "code": None,
        }
        pyfunc = None
        if hasattr(model, "predict"):
            pyfunc = {
                "loader_module": "mlflow.sklearn",
                "model_path": MODEL_FILE,
                "predict_fn": "predict",
            }
        return SavedFlavor({MODEL_FILE: data}, conf, pyfunc)

    def model_libraries(self, model: object) -> dict[str, str]:
        """The libraries of the estimators and functions the model holds (a Pipeline step's).

        Reads the objects' attributes, not `get_params()` (which inspects each
        class's signature: a quarter of a millisecond for one LogisticRegression),
        and looks into one object of each class, so a forest of 500 trees costs what
        one tree does.
        """
        modules = {type(model).__module__}
        walked: set[type] = set()
        todo = [model]
        while todo:
            obj = todo.pop()
            if type(obj) in walked or len(walked) > 200:
                continue
            walked.add(type(obj))
            values = list(getattr(obj, "__dict__", {}).values())
            while values:
                value = values.pop()
                if type(value) in _PLAIN or type(value).__name__ == "ndarray":
                    continue
                if isinstance(value, list | tuple):
                    values.extend(value[:1000])
                elif hasattr(value, "get_params") and not isinstance(value, type):
                    modules.add(type(value).__module__)
                    todo.append(value)
                elif isinstance(value, FunctionType | BuiltinFunctionType | type):
                    modules.add(str(getattr(value, "__module__", None) or ""))
                elif type(value).__name__ == "ufunc":  # numpy.log1p: a numpy function
                    modules.add("numpy")
        found = distributions_of({m for m in modules if m and not m.startswith("sklearn.")})
        found.pop("scikit-learn", None)
        return found

    def load(self, model_dir: Path, conf: Mapping[str, Any]) -> Any:
        fmt = conf.get("serialization_format", "pickle")
        if fmt not in READ_FORMATS:
            raise ModelIntegrityError(
                f"the sklearn model in {str(model_dir)!r} has serialization_format {fmt!r};"
                f" autolog reads {list(READ_FORMATS)}"
            )
        if fmt == "skops":  # MLflow's default: skops' own format, not a pickle
            return _load_skops(
                model_file(model_dir, conf.get("pickled_model", "model.skops")), conf
            )
        # A cloudpickle file is a pickle whose reducers import cloudpickle by themselves.
        with open(model_file(model_dir, conf.get("pickled_model", MODEL_FILE)), "rb") as f:
            return pickle.load(f)

    def predict(self, model: Any, data: Any) -> Any:
        if hasattr(model, "predict"):
            return model.predict(data)
        return model.transform(data)


def _load_skops(path: Path, conf: Mapping[str, Any]) -> Any:
    """A model `mlflow.sklearn` saved in the skops format, with the types its MLmodel trusts."""
    try:
        skops_io: Any = importlib.import_module("skops.io")
    except ImportError:
        raise InvalidValueError(
            f"the model file {path.name!r} is in the skops format; pip install skops to load it"
        ) from None
    return skops_io.load(path, trusted=conf.get("skops_trusted_types"))
