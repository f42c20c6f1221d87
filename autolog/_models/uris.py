"""`runs:/` and `models:/` URIs: the one parser of each, and the checks on the names in them.

- `runs:/<run_id>/<artifact_path>`: a run id and a relative artifact path (a
  trailing `/` is dropped; an empty path is an error).
- `models:/<name>/<version>`, `models:/<name>/latest`, `models:/<name>@<alias>`:
  a registered model name (no `/`, `@` or `\\`) and a version number, `latest`
  or an alias (not version-like, so that the two forms cannot be confused).
"""

from __future__ import annotations

import re

from autolog._validation import check_id, check_name, check_relative_path
from autolog.errors import InvalidKeyError

__all__ = [
    "MODELS_URI_FORMS",
    "URI_FORMS",
    "check_alias",
    "check_model_name",
    "parse_models_uri",
    "parse_runs_uri",
]

URI_FORMS = (
    "runs:/<run_id>/<path>, models:/<name>/<version>, models:/<name>@<alias>,"
    " s3://<bucket>/<path>, a file:// URI or a local directory"
)
MODELS_URI_FORMS = "models:/NAME/VERSION, models:/NAME/latest or models:/NAME@ALIAS"

_ALIAS_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_VERSION_LIKE_RE = re.compile(r"^(v|version)?[0-9]+$", re.IGNORECASE)


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


def parse_runs_uri(uri: object) -> tuple[str, str]:
    """Split `runs:/<run_id>/<artifact_path>` into the run id and the artifact path."""
    if not isinstance(uri, str) or not uri.startswith("runs:/"):
        raise InvalidKeyError(
            f"model URI {uri!r} is not a runs:/ URI; expected runs:/<run_id>/<artifact_path>"
            " such as 'runs:/3f2a.../model'"
        )
    run_id, _, path = uri[len("runs:/") :].partition("/")
    check_id(run_id)
    path = check_relative_path(path.rstrip("/"), "model artifact path")
    if not path:
        raise InvalidKeyError(
            f"model URI {uri!r} names no artifact path; expected runs:/{run_id}/<artifact_path>"
            f" such as runs:/{run_id}/model"
        )
    return run_id, path


def parse_models_uri(uri: object) -> tuple[str, int | None, str | None]:
    """Split a models:/ URI into (name, version, alias); version None with no alias is latest."""
    if not isinstance(uri, str) or not uri.startswith("models:/") or uri.startswith("models://"):
        raise InvalidKeyError(
            f"model URI {uri!r} is not a models:/ URI; expected {MODELS_URI_FORMS}"
        )
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
        raise InvalidKeyError(f"model URI {uri!r} names no version; expected {MODELS_URI_FORMS}")
    hint = ""
    if _ALIAS_RE.match(version) and not _VERSION_LIKE_RE.match(version):
        hint = f"; to load by alias use models:/{name}@{version.lower()} (aliases replace stages)"
    raise InvalidKeyError(
        f"model URI {uri!r}: {version!r} is not a version number or 'latest'{hint}; expected"
        f" {MODELS_URI_FORMS}"
    )
