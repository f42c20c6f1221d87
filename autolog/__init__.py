"""autolog: experiment tracking for scikit-learn and XGBoost with no code to write.

    import autolog
    autolog.enable()        # every fit from now on is recorded

or run an unmodified script with `autolog run train.py`. Runs go to
`./autolog-runs` unless `AUTOLOG_TRACKING_URI` or `configure(tracking_uri=...)`
says otherwise.

Importing autolog imports neither scikit-learn nor XGBoost, nor any of its own
subsystems: each public name is imported from its module when first used (PEP 562),
so `import autolog` costs a few milliseconds and `autolog.enable()` loads only the
switch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from autolog import errors

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports
    from autolog._entities import Experiment, FileInfo, Metric, Run, RunStatus
    from autolog._models import (
        ColSpec,
        Flavor,
        ModelInfo,
        ModelVersionWarning,
        PyFuncModel,
        SavedFlavor,
        Signature,
        TensorSpec,
        infer_signature,
        load_model,
        log_model,
        register_flavor,
        save_model,
    )
    from autolog._patching.enable import disable, enable
    from autolog._registry.api import (
        ModelEvent,
        ModelVersion,
        RegisteredModel,
        delete_alias,
        delete_model_version,
        delete_model_version_tag,
        delete_registered_model,
        delete_registered_model_tag,
        get_model_history,
        get_model_version,
        get_model_version_by_alias,
        get_registered_model,
        register_model,
        search_model_versions,
        search_registered_models,
        set_alias,
        set_model_version_tag,
        set_registered_model_tag,
        update_model_version,
        update_registered_model,
    )
    from autolog._tracking.api import (
        configure,
        download_artifacts,
        flush,
        get_experiment,
        get_metric_history,
        get_run,
        get_tracking_uri,
        last_run,
        list_artifacts,
        list_experiments,
        log_artifact,
        log_artifacts,
        log_dict,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_text,
        search_runs,
        set_experiment,
        set_tag,
        set_tags,
        set_tracking_uri,
    )
    from autolog._tracking.runs import ActiveRun, active_run, end_run, start_run

__version__ = "0.1.0"

# Where each public name lives, imported on first use by __getattr__ below.
_LAZY: dict[str, str] = {
    "autolog._entities": "Experiment FileInfo Metric Run RunStatus",
    "autolog._models": (
        "ColSpec Flavor ModelInfo ModelVersionWarning PyFuncModel SavedFlavor Signature "
        "TensorSpec infer_signature load_model log_model register_flavor save_model"
    ),
    "autolog._patching.enable": "disable enable",
    "autolog._registry.api": (
        "ModelEvent ModelVersion RegisteredModel delete_alias delete_model_version "
        "delete_model_version_tag delete_registered_model delete_registered_model_tag "
        "get_model_history get_model_version get_model_version_by_alias "
        "get_registered_model register_model search_model_versions "
        "search_registered_models set_alias set_model_version_tag "
        "set_registered_model_tag update_model_version update_registered_model"
    ),
    "autolog._tracking.api": (
        "configure download_artifacts flush get_experiment get_metric_history get_run "
        "get_tracking_uri last_run list_artifacts list_experiments log_artifact "
        "log_artifacts log_dict log_metric log_metrics log_param log_params log_text "
        "search_runs set_experiment set_tag set_tags set_tracking_uri"
    ),
    "autolog._tracking.runs": "ActiveRun active_run end_run start_run",
}
_HOME = {name: module for module, names in _LAZY.items() for name in names.split()}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use; later uses find it in globals()."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'autolog' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def load_ipython_extension(ipython: object) -> None:
    """`%load_ext autolog` in IPython or Jupyter: enable autologging for the session."""
    from autolog._patching.enable import enable

    enable()


__all__ = [
    "ActiveRun",
    "ColSpec",
    "Experiment",
    "FileInfo",
    "Flavor",
    "Metric",
    "ModelEvent",
    "ModelInfo",
    "ModelVersion",
    "ModelVersionWarning",
    "PyFuncModel",
    "RegisteredModel",
    "Run",
    "RunStatus",
    "SavedFlavor",
    "Signature",
    "TensorSpec",
    "__version__",
    "active_run",
    "configure",
    "delete_alias",
    "delete_model_version",
    "delete_model_version_tag",
    "delete_registered_model",
    "delete_registered_model_tag",
    "disable",
    "download_artifacts",
    "enable",
    "end_run",
    "errors",
    "flush",
    "get_experiment",
    "get_metric_history",
    "get_model_history",
    "get_model_version",
    "get_model_version_by_alias",
    "get_registered_model",
    "get_run",
    "get_tracking_uri",
    "infer_signature",
    "last_run",
    "list_artifacts",
    "list_experiments",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "register_flavor",
    "register_model",
    "save_model",
    "search_model_versions",
    "search_registered_models",
    "search_runs",
    "set_alias",
    "set_experiment",
    "set_model_version_tag",
    "set_registered_model_tag",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "update_model_version",
    "update_registered_model",
]
