"""The python_function flavor: one `predict(data)` for every model, checked against its signature.

`autolog.load_model(uri, flavor="python_function")` returns a `PyFuncModel`. This
module is also the `loader_module` of python_function sections written for
flavors MLflow does not know (`_load_pyfunc`), so `mlflow.pyfunc.load_model`
can read those too when autolog is installed beside it.
"""

from __future__ import annotations

from typing import Any

from autolog._models._flavors import Flavor
from autolog._models._mlmodel import ModelInfo
from autolog._models._signature import Signature, check_input, read_example

__all__ = ["PyFuncModel"]


class PyFuncModel:
    """A loaded model behind a uniform `predict(data)` that checks `data` first.

    A DataFrame missing a column, a column of the wrong kind (text where numbers
    are expected, floats where integers are), or an array with the wrong number
    of columns raises InvalidInputError naming the column and the fix. Extra
    columns are dropped and columns are put in the order the model expects.
    """

    def __init__(
        self, model: Any, flavor: Flavor, metadata: ModelInfo, example: bytes | None = None
    ) -> None:
        self._model = model
        self._flavor = flavor
        self._metadata = metadata
        self._example = example

    def __repr__(self) -> str:
        kind = f"{self._flavor.name} {type(self._model).__name__}"
        return f"<PyFuncModel {kind} {self._metadata.model_uri}>"

    @property
    def metadata(self) -> ModelInfo:
        return self._metadata

    @property
    def signature(self) -> Signature | None:
        return self._metadata.signature

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """The model's predictions for `data` (`params` is accepted for MLflow and unused)."""
        return self._flavor.predict(self._model, check_input(self.signature, data))

    def get_raw_model(self) -> Any:
        """The native model object (estimator, Booster, ...)."""
        return self._model

    def input_example(self) -> Any:
        """The saved input example (a DataFrame or an array), or None."""
        info = self._metadata.saved_input_example_info
        if self._example is None or info is None:
            return None
        return read_example(self._example, info)


def _load_pyfunc(path: str) -> PyFuncModel:
    """Called by `mlflow.pyfunc.load_model` with the model directory."""
    from autolog._models import load_model

    model = load_model(path, flavor="python_function")
    assert isinstance(model, PyFuncModel)
    return model
