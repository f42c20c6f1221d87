"""The XGBoost flavor: a `Booster`, or any scikit-learn API class (`XGBModel` subclasses).

The model is written in XGBoost's own format, UBJSON (`model.ubj`) by default or
JSON (`model.json`) with `format="json"`, never pickled. For the scikit-learn
classes the booster is written by the wrapper's own `save_model` (which records
the estimator type inside the booster), and the wrapper's class and
`get_params()` go beside it, so that loading builds the same class with the same
hyper-parameters and lets XGBoost's `load_model` restore what it derives from the
booster (`n_classes_` and so `classes_`, `n_features_in_`, `best_iteration`...).
Params that are not JSON values (a custom objective, callbacks) cannot be
restored without pickle: they are listed under `not_restored` in `params.json`.

The flavor section is the one `mlflow.xgboost` writes (`data`, `model_class`,
`model_format`, `xgb_version`), so `mlflow.xgboost.load_model` reads it too.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autolog._models._flavors import Flavor, SavedFlavor, class_path, import_class, model_file
from autolog.errors import InvalidValueError, ModelIntegrityError

__all__ = ["XGBoostFlavor"]

PARAMS_FILE = "params.json"
_BOOSTER = "xgboost.core.Booster"


def _json_value(value: Any) -> tuple[bool, Any]:
    # Whether a param survives a JSON round trip, and its JSON form.
    if value is None or isinstance(value, bool | int | float | str):
        return True, value  # NaN (XGBoost's default `missing`) is written as JSON's NaN
    if hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0:
        return _json_value(value.item())  # a numpy scalar
    if isinstance(value, list | tuple):
        items = [_json_value(v) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        pairs = {k: _json_value(v) for k, v in value.items()}
        return all(ok for ok, _ in pairs.values()), {k: v for k, (_, v) in pairs.items()}
    return False, None


def _params_json(params: Mapping[str, Any]) -> bytes:
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in params.items():
        ok, converted = _json_value(value)
        if ok:
            kept[key] = converted
        else:
            dropped.append(key)
    return json.dumps({"params": kept, "not_restored": sorted(dropped)}, allow_nan=True).encode()


class XGBoostFlavor(Flavor):
    """XGBoost boosters and scikit-learn API models, in XGBoost's own format."""

    name = "xgboost"
    libraries = {"xgboost": "xgboost"}
    formats = ("ubj", "json")

    def matches(self, model: object) -> bool:
        xgb = sys.modules.get("xgboost")
        if xgb is None:
            return False
        kinds = tuple(
            k for k in (getattr(xgb, "Booster", None), getattr(xgb, "XGBModel", None)) if k
        )
        return isinstance(model, kinds)

    def save(self, model: object, format: str) -> SavedFlavor:
        import xgboost as xgb

        data_file = f"model.{format}"
        files: dict[str, bytes] = {}
        if isinstance(model, xgb.Booster):
            files[data_file] = bytes(model.save_raw(raw_format=format))
        else:
            assert isinstance(model, xgb.XGBModel)
            if not model.__sklearn_is_fitted__():
                raise InvalidValueError(
                    f"the {type(model).__name__} is not fitted, so there is no booster to save;"
                    " call fit() before logging it"
                )
            # The wrapper's save_model writes only to a path; the extension picks the format.
            with tempfile.TemporaryDirectory(prefix="autolog-xgb-") as tmp:
                path = Path(tmp) / data_file
                model.save_model(str(path))
                files[data_file] = path.read_bytes()
            files[PARAMS_FILE] = _params_json(model.get_params(deep=False))
        conf: dict[str, Any] = {
            "xgb_version": self.library_versions()["xgboost"],
            "data": data_file,
            "model_class": class_path(type(model)),
            "model_format": format,
            "code": None,
        }
        if PARAMS_FILE in files:
            conf["params_file"] = PARAMS_FILE
        pyfunc = {"loader_module": "mlflow.xgboost", "data": data_file}
        return SavedFlavor(files, conf, pyfunc)

    def model_libraries(self, model: object) -> dict[str, str]:
        """scikit-learn for the scikit-learn API classes: XGBoost needs it to build them."""
        import xgboost as xgb

        return {"scikit-learn": "sklearn"} if isinstance(model, xgb.XGBModel) else {}

    def load(self, model_dir: Path, conf: Mapping[str, Any]) -> Any:
        import xgboost as xgb

        path = model_file(model_dir, conf.get("data"))
        name = str(conf.get("model_class", _BOOSTER))
        cls = xgb.Booster if name == _BOOSTER else import_class(name)
        if not (issubclass(cls, xgb.Booster) or issubclass(cls, xgb.XGBModel)):
            raise ModelIntegrityError(
                f"the xgboost model in {str(model_dir)!r} names the class {name!r}, which is not"
                " an XGBoost Booster or XGBModel; the model may have been modified"
            )
        if issubclass(cls, xgb.Booster):
            booster = cls()
            booster.load_model(str(path))
            return booster
        params: dict[str, Any] = {}
        if conf.get("params_file"):
            stored = json.loads(model_file(model_dir, conf["params_file"]).read_bytes())
            params = dict(stored.get("params", {}))
        model = cls(**params)
        model.load_model(str(path))
        return model

    def predict(self, model: Any, data: Any) -> Any:
        import xgboost as xgb

        if isinstance(model, xgb.Booster):
            if not isinstance(data, xgb.DMatrix):
                # pandas category columns are what the booster was trained on, if any
                data = xgb.DMatrix(data, enable_categorical=True)
            return model.predict(data)
        return model.predict(data)
