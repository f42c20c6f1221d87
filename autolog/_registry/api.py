"""The model registry: named models, numbered versions, aliases, tags, lineage and history.

A data scientist registers the model of a good run (`register_model("runs:/<run>/model",
"churn")`), an engineer points an alias at it (`set_alias("churn", "production", 3)`),
and a serving job loads `models:/churn@production`, which `resolve_models_uri` turns
into the `runs:/` URI of the version's source.

Registry objects are stored by the tracking URI's backend, through the
`RegistryBackend` operations (the local and S3 stores keep them beside the runs):
the model and each version are immutable records, version numbers are never
given twice, and every change (alias set or moved, tag, description, deletion) is an
append-only event recording who, when, from what, to what and why. The
current state is the fold of the events; the history is the events
themselves. Deleting only writes an event: numbers are never reused and the
history survives.

A version records its lineage when it is registered, copied out of the run so
that it survives later changes to the run: the run and experiment, the git
commit, data fingerprints (`autolog.data.*` params and tags), the model's
flavors and library versions (from its `MLmodel` file) and the run's metrics.
It also records the sha256 of the `MLmodel` file, which holds the sha256 of
every model file: `resolve_models_uri` refuses a version whose files changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from autolog._models.uris import parse_models_uri, parse_runs_uri
from autolog._registry.entities import ModelEvent, ModelVersion, RegisteredModel
from autolog._registry.names import (
    MLMODEL,
    check_alias,
    check_description,
    check_model_name,
    check_version,
    lineage,
    parse_mlmodel,
)
from autolog._registry.store import RegistryStore, registry_store
from autolog._search import like_regex
from autolog._tracking.context import current_user
from autolog._tracking.settings import tracking
from autolog._validation import check_id, check_key, check_relative_path, check_tag_value
from autolog.backends.base import Backend, RegistryBackend
from autolog.errors import (
    ArtifactNotFoundError,
    InvalidValueError,
    ModelIntegrityError,
    ModelNotFoundError,
    RunNotFoundError,
)

__all__ = [
    "ModelEvent",
    "ModelVersion",
    "RegisteredModel",
    "delete_alias",
    "delete_model_version",
    "delete_model_version_tag",
    "delete_registered_model",
    "delete_registered_model_tag",
    "get_model_history",
    "get_model_version",
    "get_model_version_by_alias",
    "get_registered_model",
    "parse_models_uri",
    "register_logged_model",
    "register_model",
    "resolve_models_uri",
    "search_model_versions",
    "search_registered_models",
    "set_alias",
    "set_model_version_tag",
    "set_registered_model_tag",
    "update_model_version",
    "update_registered_model",
]


def _registry(tracking_uri: str | None = None) -> tuple[RegistryStore, Backend]:
    """The registry of the tracking URI's backend, and the backend; InvalidValueError if none."""
    backend = tracking.backend(tracking_uri)
    if not isinstance(backend, RegistryBackend):
        raise InvalidValueError(
            f"the tracking URI {backend.uri!r} is served by {type(backend).__name__}, which"
            " implements no RegistryBackend, so it has no model registry; use a directory,"
            " s3:// or memory: tracking URI for the registry"
        )
    return registry_store(backend), backend


# -- URIs --------------------------------------------------------------------------------------


def resolve_models_uri(uri: str, tracking_uri: str | None = None) -> str:
    """Return the `runs:/<run_id>/<artifact_path>` URI of the version a models:/ URI names.

    Raises ModelNotFoundError for an unknown name, version or alias, InvalidKeyError for
    a malformed URI, and ModelIntegrityError when the version's files changed or are
    gone since it was registered.
    """
    name, version, alias = parse_models_uri(uri)
    registry, backend = _registry(tracking_uri)
    state = registry.load(name)
    found = registry.version_by_alias(state, alias) if alias else registry.version(state, version)
    expected = state.records[found.version].get("mlmodel_sha256")
    try:
        mlmodel = backend.read_artifact(found.run_id, f"{found.artifact_path}/{MLMODEL}")
        actual = hashlib.sha256(mlmodel).hexdigest()
    except (ArtifactNotFoundError, RunNotFoundError):
        raise ModelIntegrityError(
            f"{uri} is version {found.version} of {name!r}, but its files at {found.source} are"
            f" gone (no {MLMODEL}); the run or its artifacts were deleted. Delete the version"
            f" with `autolog models delete {name} --version {found.version}`"
        ) from None
    if expected is not None and actual != expected:
        raise ModelIntegrityError(
            f"{uri} is version {found.version} of {name!r}, but the model at {found.source}"
            f" changed after it was registered ({MLMODEL} sha256 {actual[:12]}..., registered"
            f" {str(expected)[:12]}...); register the new model as a new version"
        )
    return found.source


# -- registering -------------------------------------------------------------------------------


def _read_mlmodel(backend: Backend, run_id: str, path: str) -> bytes:
    try:
        return backend.read_artifact(run_id, f"{path}/{MLMODEL}")
    except ArtifactNotFoundError:
        dirs = [f.path for f in backend.list_artifacts(run_id) if f.is_dir]
        shown = ", ".join(repr(d) for d in dirs) or "none"
        raise ModelNotFoundError(
            f"run {run_id} has no model at {path!r} (no {path}/{MLMODEL}); its top-level artifact"
            f" directories: {shown}. Log one with autolog.log_model(), then register"
            f" runs:/{run_id}/<that path>"
        ) from None


def _register(
    run_id: str,
    path: str,
    name: str,
    tags: Mapping[str, Any] | None,
    description: str | None,
    tracking_uri: str | None,
) -> ModelVersion:
    check_model_name(name)
    if tags is not None and not isinstance(tags, Mapping):
        raise InvalidValueError(f"tags must be a dict of str to str, got {type(tags).__name__}")
    checked = {check_key(k, "tag"): check_tag_value(k, v) for k, v in (tags or {}).items()}
    registry, backend = _registry(tracking_uri)
    tracking.flush()  # the run's metrics and model may still be queued
    run = backend.get_run(run_id)
    mlmodel = _read_mlmodel(backend, run_id, path)
    record = {
        "source": f"runs:/{run_id}/{path}",
        "run_id": run_id,
        "artifact_path": path,
        "tags": checked,
        "description": "" if description is None else check_description(description),
        "mlmodel_sha256": hashlib.sha256(mlmodel).hexdigest(),
        "lineage": lineage(run, parse_mlmodel(mlmodel)),
    }
    return registry.create_version(name, record, current_user())


def register_model(
    model_uri: str,
    name: str,
    *,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> ModelVersion:
    """Register the model at `model_uri` (`runs:/<run_id>/<path>`) as a new version of `name`.

    Creates the registered model if needed. Versions are numbered 1, 2, 3, ... per
    name and never reused. `tags` and `description` belong to the new version.
    """
    run_id, path = parse_runs_uri(model_uri)
    return _register(run_id, path, name, tags, description, None)


def register_logged_model(
    run_id: str, artifact_path: str, name: str, *, tracking_uri: str | None = None
) -> ModelVersion:
    """Register the model a run logged at `artifact_path` (for `enable(registered_model_name=)`)."""
    check_id(run_id)
    path = check_relative_path(artifact_path, "model artifact path", allow_empty=False)
    return _register(run_id, path, name, None, None, tracking_uri)


# -- reading -----------------------------------------------------------------------------------


def get_registered_model(name: str) -> RegisteredModel:
    """The registered model `name`: its versions, aliases, tags and description."""
    registry, _ = _registry()
    return registry.load(name).to_model()


def get_model_version(name: str, version: int | str) -> ModelVersion:
    """Version `version` (a number, or 'latest') of the registered model `name`."""
    number = check_version(version, allow_latest=True)
    registry, _ = _registry()
    return registry.version(registry.load(name), number)


def get_model_version_by_alias(name: str, alias: str) -> ModelVersion:
    """The version of `name` that `alias` points at."""
    registry, _ = _registry()
    return registry.version_by_alias(registry.load(name), alias)


def _tags_match(tags: dict[str, str], wanted: Mapping[str, str | None] | None) -> bool:
    if not wanted:
        return True
    return all(k in tags and (v is None or tags[k] == str(v)) for k, v in wanted.items())


def _check_tag_filter(tags: object) -> Mapping[str, str | None] | None:
    if tags is not None and not isinstance(tags, Mapping):
        raise InvalidValueError(
            f"tags must be a dict of tag to value (None: any value), got {type(tags).__name__}"
        )
    return tags


def search_registered_models(
    name_like: str | None = None, tags: Mapping[str, str | None] | None = None
) -> list[RegisteredModel]:
    """Registered models whose name matches `name_like` and that carry `tags`, by name.

    Args:
        name_like: a SQL LIKE pattern, case-insensitive: '%' any text, '_' one character.
        tags: tag values every result must have; a value of None matches any value.
    """
    wanted = _check_tag_filter(tags)
    rx = like_regex(name_like, True) if name_like is not None else None
    registry, _ = _registry()
    models = [s.to_model() for s in registry.load_all()]
    return [
        m for m in models if (rx is None or rx.fullmatch(m.name)) and _tags_match(m.tags, wanted)
    ]


def search_model_versions(
    name: str | None = None,
    tags: Mapping[str, str | None] | None = None,
    *,
    run_id: str | None = None,
    name_like: str | None = None,
    max_results: int | None = None,
) -> list[ModelVersion]:
    """Versions matching every filter given, by model name, newest version first.

    Args:
        name: only versions of this registered model.
        tags: version tag values every result must have; None matches any value.
        run_id: only versions registered from this run.
        name_like: a case-insensitive SQL LIKE pattern on the model name.
        max_results: at most this many versions.
    """
    wanted = _check_tag_filter(tags)
    if run_id is not None:
        check_id(run_id)
    rx = like_regex(name_like, True) if name_like is not None else None
    registry, _ = _registry()
    states = [registry.load(name)] if name is not None else registry.load_all()
    out = []
    for state in states:
        if rx is not None and not rx.fullmatch(state.name):
            continue
        for v in reversed(state.live_versions()):
            mv = state.to_version(v)
            if (run_id is None or mv.run_id == run_id) and _tags_match(mv.tags, wanted):
                out.append(mv)
    return out if max_results is None else out[: max(0, int(max_results))]


def get_model_history(name: str) -> list[ModelEvent]:
    """Every change to `name`, oldest first: creations, alias moves, edits and deletions.

    The history of a deleted model stays readable.
    """
    registry, _ = _registry()
    return registry.load(name, include_deleted=True).history()


# -- changing ----------------------------------------------------------------------------------


def set_alias(
    name: str, alias: str, version: int | str, comment: str | None = None
) -> ModelVersion:
    """Point `alias` at `version` (a number or 'latest'), moving it if it pointed elsewhere."""
    check_alias(alias)
    number = check_version(version, allow_latest=True)
    registry, _ = _registry()
    if number is None:
        number = registry.version(registry.load(name), None).version
    return registry.set_alias(name, alias, number, current_user(), comment)


def delete_alias(name: str, alias: str, comment: str | None = None) -> None:
    """Remove `alias` from the registered model `name`."""
    registry, _ = _registry()
    registry.delete_alias(name, alias, current_user(), comment)


def set_registered_model_tag(name: str, key: str, value: Any) -> None:
    """Set a tag of the registered model `name`."""
    registry, _ = _registry()
    registry.set_model_tag(name, key, value, current_user())


def delete_registered_model_tag(name: str, key: str) -> None:
    """Remove a tag of the registered model `name`."""
    registry, _ = _registry()
    registry.delete_model_tag(name, key, current_user())


def set_model_version_tag(name: str, version: int | str, key: str, value: Any) -> None:
    """Set a tag of one version of `name`."""
    number = _number(version)
    registry, _ = _registry()
    registry.set_version_tag(name, number, key, value, current_user())


def delete_model_version_tag(name: str, version: int | str, key: str) -> None:
    """Remove a tag of one version of `name`."""
    number = _number(version)
    registry, _ = _registry()
    registry.delete_version_tag(name, number, key, current_user())


def update_registered_model(name: str, description: str) -> RegisteredModel:
    """Replace the description of the registered model `name`."""
    registry, _ = _registry()
    registry.set_model_description(name, description, current_user())
    return registry.load(name).to_model()


def update_model_version(name: str, version: int | str, description: str) -> ModelVersion:
    """Replace the description of one version of `name`."""
    number = _number(version)
    registry, _ = _registry()
    registry.set_version_description(name, number, description, current_user())
    return registry.version(registry.load(name), number)


def delete_model_version(
    name: str, version: int | str, force: bool = False, comment: str | None = None
) -> None:
    """Delete one version; refused while an alias points at it unless `force` (which drops them).

    The number is never given to another version and the history keeps the deletion.
    """
    number = _number(version)
    registry, _ = _registry()
    registry.delete_version(name, number, current_user(), force=force, comment=comment)


def delete_registered_model(name: str, force: bool = False, comment: str | None = None) -> None:
    """Delete a registered model and its versions; refused while it has aliases unless `force`.

    Registering `name` again re-creates it; version numbers go on from where they were.
    """
    registry, _ = _registry()
    registry.delete_model(name, current_user(), force=force, comment=comment)


def _number(version: int | str) -> int:
    number = check_version(version)
    assert number is not None  # allow_latest=False never gives None
    return number
