"""What a registered version points at: runs:/ and models:/ URIs, the MLmodel file, lineage."""

from __future__ import annotations

import json
from typing import Any

from autolog._entities import Run
from autolog._registry_store import check_alias, check_model_name
from autolog._validation import check_id, check_relative_path
from autolog.errors import InvalidKeyError

__all__ = ["lineage", "parse_mlmodel", "parse_models_uri", "parse_runs_uri"]

MLMODEL = "MLmodel"
_URI_FORMS = "models:/NAME/VERSION, models:/NAME/latest or models:/NAME@ALIAS"


def parse_runs_uri(uri: object) -> tuple[str, str]:
    """Split `runs:/<run_id>/<artifact_path>` into the run id and the artifact path."""
    if not isinstance(uri, str) or not uri.startswith("runs:/"):
        raise InvalidKeyError(
            f"model URI {uri!r} is not a runs:/ URI; expected runs:/<run_id>/<artifact_path>"
            " such as 'runs:/3f2a.../model'"
        )
    run_id, _, path = uri[len("runs:/") :].partition("/")
    check_id(run_id)
    path = check_relative_path(path, "model artifact path")
    if not path:
        raise InvalidKeyError(
            f"model URI {uri!r} names no artifact path; expected runs:/{run_id}/<artifact_path>"
            f" such as runs:/{run_id}/model"
        )
    return run_id, path


def parse_models_uri(uri: object) -> tuple[str, int | None, str | None]:
    """Split a models:/ URI into (name, version, alias); version None with no alias is latest."""
    if not isinstance(uri, str) or not uri.startswith("models:/") or uri.startswith("models://"):
        raise InvalidKeyError(f"model URI {uri!r} is not a models:/ URI; expected {_URI_FORMS}")
    rest = uri[len("models:/") :]
    if "@" in rest:
        name, _, alias = rest.partition("@")
        return check_model_name(name), None, check_alias(alias)
    name, _, version = rest.partition("/")
    check_model_name(name)
    if version == "latest":
        return name, None, None
    if version.isascii() and version.isdigit() and int(version) >= 1:
        return name, int(version), None
    if not version:
        raise InvalidKeyError(f"model URI {uri!r} names no version; expected {_URI_FORMS}")
    raise InvalidKeyError(
        f"model URI {uri!r}: {version!r} is not a version number or 'latest'; to load by alias"
        f" use models:/{name}@{version.lower()} (aliases replace MLflow's stages)"
    )


def parse_mlmodel(data: bytes) -> dict[str, Any]:
    """Read an MLmodel file's content; {} when it is not a mapping autolog can read."""
    from autolog._models._mlmodel import load_yaml

    text = data.decode("utf-8", errors="replace")
    try:
        obj = load_yaml(text)  # what log_model writes; PyYAML is not a dependency
    except ValueError:
        try:
            obj = json.loads(text)
        except ValueError:
            return {}
    return obj if isinstance(obj, dict) else {}


def _library_versions(mlmodel: dict[str, Any], flavors: dict[str, Any]) -> dict[str, str]:
    section = mlmodel.get("autolog")
    if isinstance(section, dict) and isinstance(section.get("libraries"), dict):
        out = {str(k): str(v) for k, v in section["libraries"].items()}
        if section.get("python_version"):
            out["python"] = str(section["python_version"])
        return out
    # A model saved by MLflow: each flavor names its library's version (`sklearn_version`).
    out = {}
    for conf in flavors.values():
        if isinstance(conf, dict):
            for key, value in conf.items():
                if key.endswith("_version") and isinstance(value, (str, int, float)):
                    out[key[: -len("_version")]] = str(value)
    return out


def lineage(run: Run, mlmodel: dict[str, Any]) -> dict[str, Any]:
    """What a version records of its source: run, experiment, commit, data, flavors, metrics."""
    flavors = mlmodel.get("flavors")
    flavors = flavors if isinstance(flavors, dict) else {}
    section = mlmodel.get("autolog")
    model_class = section.get("model_class") if isinstance(section, dict) else None
    data = {k: v for k, v in {**run.params, **run.tags}.items() if k.startswith("autolog.data.")}
    return {
        "run_id": run.id,
        "run_name": run.name,
        "experiment_id": run.experiment_id,
        "experiment": run.experiment,
        "git_commit": run.tags.get("autolog.git.commit"),
        "data": data,
        "flavors": sorted(flavors),
        "model_class": model_class,
        "library_versions": dict(sorted(_library_versions(mlmodel, flavors).items())),
        "metrics": dict(run.metrics),
    }
