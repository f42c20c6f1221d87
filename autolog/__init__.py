"""autolog: experiment tracking for scikit-learn and XGBoost with no code to write.

    import autolog
    autolog.enable()        # every fit from now on is recorded

or run an unmodified script with `autolog run train.py`. Runs go to
`./autolog-runs` unless `AUTOLOG_TRACKING_URI` or `configure(tracking_uri=...)`
says otherwise.

Importing autolog imports neither scikit-learn nor XGBoost.
"""

from __future__ import annotations

from autolog import errors
from autolog._api import (
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
from autolog._autolog import disable, enable
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
from autolog._runs import ActiveRun, active_run, end_run, start_run

__version__ = "0.1.0"


def load_ipython_extension(ipython: object) -> None:
    """`%load_ext autolog` in IPython or Jupyter: enable autologging for the session."""
    enable()


__all__ = [
    "ActiveRun",
    "ColSpec",
    "Experiment",
    "FileInfo",
    "Flavor",
    "Metric",
    "ModelInfo",
    "ModelVersionWarning",
    "PyFuncModel",
    "Run",
    "RunStatus",
    "SavedFlavor",
    "Signature",
    "TensorSpec",
    "__version__",
    "active_run",
    "configure",
    "disable",
    "download_artifacts",
    "enable",
    "end_run",
    "errors",
    "flush",
    "get_experiment",
    "get_metric_history",
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
    "save_model",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
