"""Names and sources in the registry: checks on names, aliases and versions, the key of a name,
runs:/ and models:/ URIs, and the lineage read from a run and its MLmodel file.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from autolog import _tags
from autolog._entities import Run
from autolog._validation import check_id, check_name, check_relative_path
from autolog.errors import InvalidKeyError, InvalidValueError

__all__ = [
    "check_alias",
    "check_comment",
    "check_description",
    "check_model_name",
    "check_version",
    "encode_name",
    "lineage",
    "parse_mlmodel",
    "parse_models_uri",
    "parse_runs_uri",
]

MLMODEL = "MLmodel"
MAX_DESCRIPTION_LENGTH = 20_000
MAX_COMMENT_LENGTH = 5_000

_ALIAS_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_VERSION_LIKE_RE = re.compile(r"^(v|version)?[0-9]+$", re.IGNORECASE)
_DIGITS_RE = re.compile(r"^[0-9]+$")
_URI_FORMS = "models:/NAME/VERSION, models:/NAME/latest or models:/NAME@ALIAS"


# -- names and validation ----------------------------------------------------------------------


def encode_name(name: str) -> str:
    """The key segment of a registered model name: a slug plus a hash of the exact name."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48].strip("-") or "model"
    return f"{slug}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:16]}"


def check_model_name(name: object) -> str:
    """Return `name` if it can name a registered model, else raise InvalidKeyError."""
    name = check_name(name, "registered model name")
    if name != name.strip():
        raise InvalidKeyError(
            f"registered model name {name!r} starts or ends with whitespace; remove it"
        )
    bad = sorted({c for c in name if c in "/@\\"})
    if bad:
        raise InvalidKeyError(
            f"registered model name {name!r} contains {''.join(bad)!r}; '/' and '@' separate the"
            " name from the version or alias in models:/NAME/VERSION and models:/NAME@ALIAS,"
            " so use '-' or '_' instead"
        )
    if set(name) == {"."}:
        raise InvalidKeyError(f"registered model name {name!r} is only dots; use a word")
    return name


def check_alias(alias: object) -> str:
    """Return `alias` if it can be an alias, else raise InvalidKeyError."""
    if not isinstance(alias, str):
        raise InvalidKeyError(f"alias {alias!r} is a {type(alias).__name__}; expected a str")
    if alias.lower() == "latest" or _VERSION_LIKE_RE.match(alias):
        raise InvalidKeyError(
            f"alias {alias!r} is reserved: 'latest' and version-like names (3, v3) would be"
            " confused with versions in models:/ URIs; use a word such as 'champion'"
        )
    if not _ALIAS_RE.match(alias):
        raise InvalidKeyError(
            f"alias {alias!r} is not allowed; use 1 to 64 letters, digits, '_', '-' or '.',"
            " starting with a letter, digit or '_' (for example 'production')"
        )
    return alias


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


# -- URIs ------------------------------------------------------------------------------------


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
    hint = ""
    if _ALIAS_RE.match(version) and not _VERSION_LIKE_RE.match(version):
        hint = f"; to load by alias use models:/{name}@{version.lower()} (aliases replace stages)"
    raise InvalidKeyError(
        f"model URI {uri!r}: {version!r} is not a version number or 'latest'{hint}; expected"
        f" {_URI_FORMS}"
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
