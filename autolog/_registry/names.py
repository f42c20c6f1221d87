"""Names and sources in the registry: checks on versions and texts, the key of a name, and the
lineage read from a run and its MLmodel file.

Model names and aliases are checked by `autolog._models.uris`, where the URIs they
stand in are parsed; they are imported here for the registry's modules.
"""

from __future__ import annotations

import json
import re
from typing import Any

from autolog import _tags
from autolog._entities import Run
from autolog._models.uris import check_alias, check_model_name
from autolog.errors import InvalidValueError

__all__ = [
    "check_alias",
    "check_comment",
    "check_description",
    "check_model_name",
    "check_version",
    "lineage",
    "parse_mlmodel",
]

MLMODEL = "MLmodel"
MAX_DESCRIPTION_LENGTH = 20_000
MAX_COMMENT_LENGTH = 5_000

_DIGITS_RE = re.compile(r"^[0-9]+$")


# -- names and validation ----------------------------------------------------------------------


def check_version(version: object, *, allow_latest: bool = False) -> int | None:
    """Return `version` as a positive int (None for 'latest' where allowed), else raise."""
    if isinstance(version, int) and not isinstance(version, bool) and version >= 1:
        return version
    if isinstance(version, str):
        if allow_latest and version == "latest":
            return None
        if _DIGITS_RE.match(version) and int(version) >= 1:
            return int(version)
    hint = " or 'latest'" if allow_latest else ""
    raise InvalidValueError(
        f"model version {version!r} is not a version; expected a positive whole number such"
        f" as 3{hint}"
    )


def _check_text(value: object, kind: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidValueError(f"{kind} {value!r} is a {type(value).__name__}; expected a str")
    if len(value) > limit:
        raise InvalidValueError(f"{kind} has {len(value)} characters; the limit is {limit}")
    return value


def check_comment(comment: object) -> str | None:
    return None if comment is None else _check_text(comment, "comment", MAX_COMMENT_LENGTH)


def check_description(description: object) -> str:
    return _check_text(description, "description", MAX_DESCRIPTION_LENGTH)


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
    data = {k: v for k, v in {**run.params, **run.tags}.items() if k.startswith(_tags.DATA_PREFIX)}
    return {
        "run_id": run.id,
        "run_name": run.name,
        "experiment_id": run.experiment_id,
        "experiment": run.experiment,
        "git_commit": run.tags.get(_tags.GIT_COMMIT),
        "data": data,
        "flavors": sorted(flavors),
        "model_class": model_class,
        "library_versions": dict(sorted(_library_versions(mlmodel, flavors).items())),
        "metrics": dict(run.metrics),
    }
