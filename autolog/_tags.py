"""The names of the tags autolog sets on runs itself, each written once.

Readers (the CLI, the registry's lineage, a future UI) and writers use these
names, so a renamed tag cannot leave a reader behind. What each holds is in
docs/records.md. Every name but the two MLflow ones starts with `autolog.`.
"""

from __future__ import annotations

PREFIX = "autolog."

# -- how the run ended, and the script it ran --------------------------------------------------
ERROR = "autolog.error"  # "<ExceptionType>: <message>" of a FAILED or KILLED run
RUN_TYPE = "autolog.run.type"  # "script" for the root run of `autolog run`
SCRIPT = "autolog.script"
SCRIPT_ARGS = "autolog.script.args"
EXIT_CODE = "autolog.exit_code"
# On a run stored in an MLflow server (backends/mlflow_rest.py): the id autolog gave it.
MLFLOW_RUN_ID = "autolog.run_id"

# -- the process (captured once per process) ---------------------------------------------------
HOST = "autolog.host"
PYTHON = "autolog.python"
PYTHON_IMPLEMENTATION = "autolog.python.implementation"
PLATFORM = "autolog.platform"
PID = "autolog.pid"
USER = "autolog.user"
COMMAND = "autolog.command"
LIB_PREFIX = "autolog.lib."  # + a distribution's name: its installed version

# -- the source file or module that ran ---------------------------------------------------------
SOURCE_TYPE = "autolog.source.type"
SOURCE_MODULE = "autolog.source.module"
SOURCE_PATH = "autolog.source.path"
SOURCE_NAME = "autolog.source.name"
SOURCE_SHA256 = "autolog.source.sha256"
SOURCE_COPIED = "autolog.source.copied"

# -- git ----------------------------------------------------------------------------------------
GIT_COMMIT = "autolog.git.commit"
GIT_ROOT = "autolog.git.root"
GIT_BRANCH = "autolog.git.branch"
GIT_DIRTY = "autolog.git.dirty"
GIT_DIFF_TRUNCATED = "autolog.git.diff_truncated"
GIT_REMOTE = "autolog.git.remote"

# -- the training data ---------------------------------------------------------------------------
DATA_PREFIX = "autolog.data."
DATA_HASH = "autolog.data.hash"
DATA_SAMPLED = "autolog.data.sampled"


def data_tag(part: str, field: str) -> str:
    """`autolog.data.<part>.<field>`: part "X" or "y", field "kind", "shape" or "hash"."""
    return f"{DATA_PREFIX}{part}.{field}"


# -- the run's inputs: every dataset it used, by name (training, evaluation, test data) ---------
INPUT_PREFIX = "autolog.input."  # + the input's name: compact JSON {role, hash, kind, shape}


def input_tag(name: str) -> str:
    """`autolog.input.<name>`: the tag describing the run's input called `name`."""
    return f"{INPUT_PREFIX}{name}"


# -- what an integration recorded -----------------------------------------------------------------
ESTIMATOR_NAME = "estimator_name"  # MLflow's name: the model's class name
ESTIMATOR_CLASS = "estimator_class"  # MLflow's name: module.class of the model
MODEL_SKIPPED = "autolog.model.skipped"  # why the model could not be logged
METRICS_SKIPPED = "autolog.metrics.skipped"
METRICS_SILHOUETTE_ROWS = "autolog.metrics.silhouette_rows"
METRICS_SCORE_ROWS = "autolog.metrics.score_rows"
SEARCH_CANDIDATE = "autolog.search.candidate"
SEARCH_RANK = "autolog.search.rank"
SKLEARN_METHOD = "autolog.sklearn.method"
CV_FUNCTION = "autolog.cv.function"  # the cross-validation function of a parent run
CV_FOLD = "autolog.cv.fold"  # the fold (from 0) of a cross-validation child run
PARTIAL_FIT_ENDED = "autolog.partial_fit.ended"
XGBOOST_CALL = "autolog.xgboost.call"
XGBOOST_EVALS = "autolog.xgboost.evals"

# -- the working directory and the host (captured once per process) ----------------------------
CWD = "autolog.cwd"
HOST_CPU_COUNT = "autolog.host.cpu_count"
HOST_CPU_MODEL = "autolog.host.cpu_model"
HOST_MEMORY_TOTAL_MB = "autolog.host.memory_total_mb"
HOST_GPU_COUNT = "autolog.host.gpu_count"
HOST_GPU_MODEL = "autolog.host.gpu_model"
HOST_GPU_DRIVER = "autolog.host.gpu_driver"
HOST_CUDA_VERSION = "autolog.host.cuda_version"

# -- randomness and threads, per fit (autolog/_patching/seeds.py) -------------------------------
SEED_PREFIX = "autolog.seed."
SEED_UNSEEDED = "autolog.seed.unseeded"  # the unseeded sources a result depends on
SEED_FIXED = "autolog.seed.fixed"
SEED_NUMPY = "autolog.seed.numpy"  # fingerprint of numpy's global RandomState at the fit
SEED_PYTHON = "autolog.seed.python"  # fingerprint of Python's `random` state at the fit
SEED_PYTHONHASHSEED = "autolog.seed.pythonhashseed"
BLAS_LIBRARY = "autolog.blas.library"
BLAS_THREADS = "autolog.blas.threads"
OPENMP_THREADS = "autolog.openmp.threads"
ENV_PREFIX = "autolog.env."  # + a thread-count variable's name (OMP_NUM_THREADS, ...)

# -- DVC data versions (autolog/_tracking/dvc.py) -----------------------------------------------
DVC_ROOT = "autolog.dvc.root"
DVC_HASH = "autolog.dvc.hash"
DVC_OUTPUTS = "autolog.dvc.outputs"
DVC_REMOTE = "autolog.dvc.remote"
DVC_REMOTE_URL = "autolog.dvc.remote_url"

# -- reproduction (autolog reproduce) -----------------------------------------------------------
REPRODUCTION_OF = "autolog.reproduction.of"  # the id of the run this run reproduces
