"""The surface users and saved models depend on: changing it is a breaking change.

`autolog.__all__` is the public API. `autolog._models._pyfunc` is written into
the MLmodel file of saved models as the `loader_module` of their
python_function flavor (MLflow imports it and calls `_load_pyfunc(path)`), so it
must never move or be renamed, whatever the layout.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from sklearn.linear_model import LogisticRegression

import autolog

# Sorted, as one text: a list literal would read as a second copy of autolog/__init__.py.
_PUBLIC_NAMES = """
ActiveRun ColSpec Experiment FileInfo Flavor Metric ModelEvent ModelInfo ModelVersion
ModelVersionWarning PyFuncModel RegisteredModel Run RunStatus SavedFlavor Signature
TensorSpec __version__ active_run configure delete_alias delete_model_version
delete_model_version_tag delete_registered_model delete_registered_model_tag disable
download_artifacts enable end_run errors flush get_experiment get_metric_history
get_model_history get_model_version get_model_version_by_alias get_registered_model
get_run get_tracking_uri infer_signature last_run list_artifacts list_experiments
load_model log_artifact log_artifacts log_dict log_metric log_metrics log_model
log_param log_params log_text register_flavor register_model save_model
search_model_versions search_registered_models search_runs set_alias set_experiment
set_model_version_tag set_registered_model_tag set_tag set_tags set_tracking_uri
start_run update_model_version update_registered_model
"""
PUBLIC_API = _PUBLIC_NAMES.split()


def test_the_public_api_is_exactly_this() -> None:
    assert sorted(autolog.__all__) == PUBLIC_API
    assert all(hasattr(autolog, name) for name in PUBLIC_API)


def test_the_pyfunc_loader_module_stays_where_saved_models_name_it(tmp_path: Path) -> None:
    from autolog._models import _build

    loader = importlib.import_module("autolog._models._pyfunc")
    assert _build.__name__ == "autolog._models._build"
    assert '"loader_module": "autolog._models._pyfunc"' in Path(_build.__file__).read_text()
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    autolog.save_model(model, tmp_path / "model")
    loaded = loader._load_pyfunc(str(tmp_path / "model"))
    assert isinstance(loaded, autolog.PyFuncModel)
    assert list(loaded.predict([[0.0], [3.0]])) == [0, 1]
