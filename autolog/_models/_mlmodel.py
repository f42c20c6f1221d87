"""The `MLmodel` file: a small YAML writer and reader, and the sha256 of every model file.

PyYAML is not a dependency, so the file is written by `dump_yaml`, which knows
only what an MLmodel holds: nested mappings, lists, and scalars. Strings are
written plain only when no YAML reader could take them for anything but a
string, and double-quoted (JSON escapes, which YAML shares) otherwise, so
MLflow's `yaml.safe_load` and our `load_yaml` read the same values.

The `autolog:` section holds `files` (the sha256 of every other file of the
model directory) and `metadata_sha256`, the sha256 of the rest of the MLmodel
content itself; `verify` checks both before anything is deserialized.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from autolog._models._signature import Signature
from autolog.errors import ModelIntegrityError, ModelNotFoundError

__all__ = [
    "MLMODEL",
    "ModelInfo",
    "dump_yaml",
    "load_yaml",
    "metadata_digest",
    "read_mlmodel",
    "sha256_hex",
    "verify",
]

MLMODEL = "MLmodel"

_PLAIN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/=<>+]*$")
# Words YAML 1.1 (PyYAML) reads as booleans or null; y/n are included for other readers.
_RESERVED = frozenset(
    w
    for base in ("y", "yes", "n", "no", "true", "false", "on", "off", "null")
    for w in (base, base.capitalize(), base.upper())
)
_INT_RE = re.compile(r"^[-+]?[0-9]+$")
_FLOAT_RE = re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")
_SPECIAL_FLOATS = {".nan": math.nan, ".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ModelInfo:
    """What a logged, saved or loaded model is: where it lives and what its MLmodel says.

    Attributes:
        model_uri: where to load it from (`runs:/<run_id>/<name>`, or the directory).
        run_id: the run it was logged to (None for `save_model`).
        artifact_path: its path among the run's artifacts (None for `save_model`).
        flavors: each flavor's section of the MLmodel, `python_function` included.
        signature: the input (and output) schema, if one was given or inferred.
        model_uuid: a unique id of this copy of the model.
        utc_time_created: when it was saved, as MLflow writes it.
        library_versions: the versions of the libraries it was saved with.
        python_version: the Python it was saved with.
        experiment: the experiment of its run, if any.
        files: the sha256 of every file of the model directory other than MLmodel.
        saved_input_example_info: where the input example is and its kind, if any.
    """

    model_uri: str
    run_id: str | None
    artifact_path: str | None
    flavors: dict[str, dict[str, Any]]
    signature: Signature | None
    model_uuid: str
    utc_time_created: str
    library_versions: dict[str, str] = field(default_factory=dict)
    python_version: str | None = None
    experiment: str | None = None
    files: dict[str, str] = field(default_factory=dict, repr=False)
    saved_input_example_info: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def from_mlmodel(cls, mlmodel: Mapping[str, Any], model_uri: str) -> ModelInfo:
        section = mlmodel.get("autolog") or {}
        sig = mlmodel.get("signature")
        return cls(
            model_uri=model_uri,
            run_id=mlmodel.get("run_id"),
            artifact_path=mlmodel.get("artifact_path"),
            flavors={str(k): dict(v or {}) for k, v in mlmodel["flavors"].items()},
            signature=Signature.from_dict(sig) if isinstance(sig, dict) else None,
            model_uuid=str(mlmodel.get("model_uuid", "")),
            utc_time_created=str(mlmodel.get("utc_time_created", "")),
            library_versions=dict(section.get("libraries") or {}),
            python_version=section.get("python_version"),
            experiment=section.get("experiment"),
            files=dict(section.get("files") or {}),
            saved_input_example_info=mlmodel.get("saved_input_example_info"),
        )


# -- writing -----------------------------------------------------------------------------------


# The characters YAML 1.1 (PyYAML) does not allow unescaped in a stream, and the line
# breaks LS and PS, which a reader folds inside a quoted string (NEL, 0x85, is outside the
# allowed ranges). One regular expression rather than a test per character: a model's
# MLmodel file holds hundreds of quoted characters, and it is written at every fit.
_UNPRINTABLE_RE = re.compile(
    r"[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029]"
)


def _quote(text: str) -> str:
    out = json.dumps(text, ensure_ascii=False)
    if _UNPRINTABLE_RE.search(out) is None:
        return out
    # What JSON leaves raw but YAML forbids or folds (C1 controls, line separators, lone
    # surrogates) is escaped; every such character is in the BMP, so \\uXXXX covers it.
    return _UNPRINTABLE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", out)


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        if e and "." not in mantissa:
            text = f"{mantissa}.0e{exponent}"  # PyYAML reads 1e-05 as a string, 1.0e-05 as a float
        return text
    if isinstance(value, str):
        if _PLAIN_RE.match(value) and value not in _RESERVED:
            return value
        return _quote(value)
    raise TypeError(f"cannot write a {type(value).__name__} into an MLmodel file: {value!r}")


def _is_mapping(value: object) -> TypeGuard[Mapping[Any, Any]]:
    # A dict first: an ABC check costs several times more, and most values are not mappings.
    return type(value) is dict or (type(value) not in _NOT_MAPPINGS and isinstance(value, Mapping))


_NOT_MAPPINGS = frozenset({str, int, float, bool, type(None), list, tuple})


def _emit(value: object, indent: int, out: list[str]) -> None:
    pad = " " * indent
    if _is_mapping(value):
        for key, item in value.items():
            head = f"{pad}{_scalar(str(key))}:"
            if _is_mapping(item) and item:
                out.append(head)
                _emit(item, indent + 2, out)
            elif isinstance(item, (list, tuple)) and item:
                out.append(head)
                _emit(item, indent, out)  # a block sequence at its key's indentation
            else:
                out.append(f"{head} {_inline(item)}")
    elif isinstance(value, (list, tuple)):
        for item in value:
            if _is_mapping(item) and item:
                lines: list[str] = []
                _emit(item, indent + 2, lines)
                out.append(f"{pad}- {lines[0][indent + 2 :]}")
                out.extend(lines[1:])
            elif isinstance(item, (list, tuple)) and item:
                raise TypeError("an MLmodel file cannot hold a list directly inside a list")
            else:
                out.append(f"{pad}- {_inline(item)}")
    else:
        raise TypeError(f"the top of an MLmodel file must be a mapping, got {type(value).__name__}")


def _inline(value: object) -> str:
    if _is_mapping(value):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return _scalar(value)


def dump_yaml(data: Mapping[str, Any]) -> str:
    """Return `data` (mappings, lists and scalars) as block-style YAML text."""
    out: list[str] = []
    _emit(data, 0, out)
    return "\n".join(out) + "\n"


# -- reading -----------------------------------------------------------------------------------


class _YamlSyntax(ValueError):
    pass


_Line = tuple[int, str, int]  # indentation, content, line number


def _parse_scalar(text: str, lineno: int) -> Any:
    if text.startswith('"'):
        try:
            value, end = json.JSONDecoder().raw_decode(text)
        except ValueError:
            raise _YamlSyntax(f"line {lineno}: bad double-quoted string") from None
        if text[end:].strip():
            raise _YamlSyntax(f"line {lineno}: text after a quoted string")
        return value
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'"):
            raise _YamlSyntax(f"line {lineno}: a single-quoted string spans lines")
        return text[1:-1].replace("''", "'")
    if text in ("null", "~", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if _INT_RE.match(text):
        return int(text)
    if text.lower() in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text.lower()]
    if _FLOAT_RE.match(text):
        return float(text)
    if text[0] in "[{&*!|>%@`" or text in _RESERVED or ": " in text or " #" in text:
        raise _YamlSyntax(f"line {lineno}: unsupported YAML {text!r}")
    return text


def _split_key(content: str, lineno: int) -> tuple[str, str]:
    if content.startswith('"'):
        try:
            key, end = json.JSONDecoder().raw_decode(content)
        except ValueError:
            raise _YamlSyntax(f"line {lineno}: bad quoted key") from None
        rest = content[end:]
        if not rest.startswith(":"):
            raise _YamlSyntax(f"line {lineno}: expected ':' after the key")
        return str(key), rest[1:].strip()
    key, sep, rest = content.partition(":")
    if not sep or (rest and not rest.startswith(" ")) or not key:
        raise _YamlSyntax(f"line {lineno}: expected 'key: value'")
    return key, rest.strip()


def _parse_block(lines: list[_Line], i: int, indent: int) -> tuple[Any, int]:
    if lines[i][1] == "-" or lines[i][1].startswith("- "):
        return _parse_sequence(lines, i, indent)
    return _parse_mapping(lines, i, indent)


def _parse_mapping(lines: list[_Line], i: int, indent: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent:
        _, content, lineno = lines[i]
        if content.startswith("- ") or content == "-":
            break
        key, rest = _split_key(content, lineno)
        i += 1
        if rest:
            out[key] = _parse_scalar(rest, lineno)
        elif i < len(lines) and (
            lines[i][0] > indent
            or (lines[i][0] == indent and (lines[i][1].startswith("- ") or lines[i][1] == "-"))
        ):
            out[key], i = _parse_block(lines, i, lines[i][0])
        else:
            out[key] = None
    if i < len(lines) and lines[i][0] > indent:
        raise _YamlSyntax(f"line {lines[i][2]}: unexpected indentation")
    return out, i


def _starts_mapping(text: str) -> bool:
    if text.startswith('"'):
        try:
            _, end = json.JSONDecoder().raw_decode(text)
        except ValueError:
            return False
        return text[end:].startswith(":")
    if text.startswith("'"):
        return False
    return ": " in text or text.endswith(":")


def _parse_sequence(lines: list[_Line], i: int, indent: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while i < len(lines) and lines[i][0] == indent:
        _, content, lineno = lines[i]
        if not (content.startswith("- ") or content == "-"):
            break
        rest = content[2:].strip()
        if not rest:
            raise _YamlSyntax(f"line {lineno}: an empty or nested list item")
        if not _starts_mapping(rest):
            out.append(_parse_scalar(rest, lineno))
            i += 1
            continue
        # A mapping inside the list: its first key sits after the dash.
        lines[i] = (indent + 2, rest, lineno)
        item, i = _parse_mapping(lines, i, indent + 2)
        out.append(item)
    return out, i


def load_yaml(text: str) -> dict[str, Any]:
    """Read the YAML that `dump_yaml` writes; raise ValueError on anything else."""
    lines: list[_Line] = []
    for n, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or stripped == "---":
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise _YamlSyntax(f"line {n}: a tab in the indentation")
        lines.append((len(raw) - len(raw.lstrip(" ")), stripped, n))
    if not lines:
        return {}
    value, i = _parse_block(lines, 0, lines[0][0])
    if i != len(lines) or not isinstance(value, dict):
        raise _YamlSyntax(f"line {lines[min(i, len(lines) - 1)][2]}: not a mapping")
    return value


def read_mlmodel(model_dir: Path) -> dict[str, Any]:
    """Parse `model_dir/MLmodel`; raise ModelNotFoundError when the directory is no model."""
    path = model_dir / MLMODEL
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        what = "does not exist" if not model_dir.exists() else f"has no {MLMODEL} file"
        raise ModelNotFoundError(
            f"{str(model_dir)!r} {what}, so it is not a model directory; pass the directory"
            " that log_model() or save_model() wrote (the one holding MLmodel)"
        ) from None
    except UnicodeDecodeError:
        raise ModelIntegrityError(
            f"{str(path)!r} is not UTF-8 text; the model may have been modified"
        ) from None
    try:
        data = load_yaml(text)
    except ValueError as exc:
        data = _load_with_pyyaml(text, path, exc)
    if not isinstance(data.get("flavors"), dict):
        raise ModelIntegrityError(
            f"{str(path)!r} has no 'flavors' mapping; the model may have been modified"
        )
    return data


def _load_with_pyyaml(text: str, path: Path, error: ValueError) -> dict[str, Any]:
    # A file edited by hand or written by MLflow may use YAML we do not write.
    try:
        yaml: Any = importlib.import_module("yaml")  # optional: PyYAML is no dependency
    except ImportError:
        raise ModelIntegrityError(
            f"cannot read {str(path)!r}: {error}. It is not in the form autolog writes; install"
            " PyYAML to read other YAML, or re-save the model"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ModelIntegrityError(
            f"{str(path)!r} is not valid YAML ({exc}); the model may have been modified"
        ) from None
    if not isinstance(data, dict):
        raise ModelIntegrityError(f"{str(path)!r} does not hold a mapping")
    return data


# -- hashes ------------------------------------------------------------------------------------


def metadata_digest(mlmodel: Mapping[str, Any]) -> str:
    """The sha256 of the MLmodel content other than `autolog.metadata_sha256` itself."""
    content = dict(mlmodel)
    section = dict(content.get("autolog") or {})
    section.pop("metadata_sha256", None)
    content["autolog"] = section
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return sha256_hex(canonical.encode("utf-8"))


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):  # a model may be larger than we want in memory twice
            digest.update(chunk)
    return digest.hexdigest()


def verify(model_dir: Path, mlmodel: Mapping[str, Any], where: str) -> None:
    """Check the MLmodel's own digest and every file's sha256; raise ModelIntegrityError."""
    section = mlmodel.get("autolog")
    if not isinstance(section, dict) or not isinstance(section.get("files"), dict):
        raise ModelIntegrityError(
            f"the model at {where} has no autolog file hashes in its {MLMODEL}, so its files"
            " cannot be verified; it was not saved by autolog (load it with the tool that saved"
            " it) or its MLmodel was modified"
        )
    if section.get("metadata_sha256") != metadata_digest(mlmodel):
        raise ModelIntegrityError(
            f"the {MLMODEL} file of the model at {where} was changed after the model was saved"
            " (its content does not match its recorded metadata_sha256); the model may have been"
            " modified. Re-log the model or restore the original MLmodel"
        )
    root = model_dir.resolve()
    for rel, expected in section["files"].items():
        path = (model_dir / str(rel)).resolve()
        if not path.is_relative_to(root) or rel == MLMODEL:
            raise ModelIntegrityError(
                f"the {MLMODEL} of the model at {where} lists the file {rel!r}, which is outside"
                " the model directory; the model may have been modified"
            )
        try:
            actual = _file_sha256(path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ModelIntegrityError(
                f"the model file {rel!r} listed in the {MLMODEL} of the model at {where} is"
                " missing; the model may have been modified or only partly copied. Restore the"
                " file or re-log the model"
            ) from None
        if actual != expected:
            raise ModelIntegrityError(
                f"the model file {rel!r} of the model at {where} has sha256 {actual[:16]}..., but"
                f" {str(expected)[:16]}... was recorded when it was saved: the model may have been"
                " modified. Restore the original file or re-log the model"
            )
