"""Data versions from DVC: the tracked data of the DVC project a script runs in.

Read from the project's own files, so DVC need not be installed: the outputs that
`*.dvc` files and `dvc.lock` pin (path, hash, size) and the default remote of
`.dvc/config`. Recorded as tags and the artifact `context/dvc.json`:

    autolog.dvc.root      the project's directory
    autolog.dvc.hash      one fingerprint of every (path, hash) pair: the data version
    autolog.dvc.outputs   "data/train.csv=md5:1a2b3c4d, ..." (cut at 1000 characters)
    autolog.dvc.remote    the default remote's name; autolog.dvc.remote_url its URL

With the run's git commit, `git checkout <commit> && dvc checkout` (or `dvc pull`)
brings that data back. YAML is read by a small reader for the block style DVC writes.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from autolog import _tags

__all__ = ["YamlError", "dvc_context", "find_project", "read_yaml"]

_MAX_TAG = 1000
_MAX_WALK = 20_000  # directory entries looked at for *.dvc files
_SKIP_DIRS = frozenset({".git", ".dvc", "node_modules", "__pycache__", ".venv", "venv"})
_Part = tuple[dict[str, str], dict[str, bytes]]


class YamlError(ValueError):
    """A DVC file uses YAML this reader does not know."""


# -- a reader for the YAML subset DVC writes ---------------------------------------------------


def read_yaml(text: str) -> Any:
    """Parse block-style YAML: mappings, sequences, plain and quoted scalars, `|` blocks."""
    lines: list[tuple[int, str]] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        # "- key: value" is a dash, then a mapping that starts one level deeper.
        while stripped.startswith("- ") and _split_key(stripped[2:].strip()) is not None:
            lines.append((indent, "-"))
            rest = stripped[2:]
            indent += 2 + len(rest) - len(rest.lstrip(" "))
            stripped = rest.strip()
        lines.append((indent, stripped))
    if not lines:
        return None
    value, end = _block(lines, 0, lines[0][0])
    if end != len(lines):
        raise YamlError(f"unexpected indentation at {lines[end][1]!r}")
    return value


def _block(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    if lines[i][1][:1] == "-" and lines[i][1][:2] in ("-", "- "):
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


def _sequence(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while i < len(lines) and lines[i][0] == indent and lines[i][1][:1] == "-":
        rest = lines[i][1][1:].strip()
        i += 1
        if rest:
            items.append(_scalar(rest))
        elif i < len(lines) and lines[i][0] > indent:
            item, i = _block(lines, i, lines[i][0])
            items.append(item)
        else:
            items.append(None)
    return items, i


def _mapping(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[dict[str, Any], int]:
    found: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent:
        pair = _split_key(lines[i][1])
        if pair is None:
            raise YamlError(f"expected 'key: value', found {lines[i][1]!r}")
        key, value = pair
        i += 1
        if value in ("|", "|-", "|+", ">", ">-", ">+"):
            block: list[str] = []
            while i < len(lines) and lines[i][0] > indent:
                block.append(lines[i][1])
                i += 1
            found[key] = ("\n" if value.startswith("|") else " ").join(block)
        elif value:
            found[key] = _scalar(value)
        elif i < len(lines) and (
            lines[i][0] > indent or (lines[i][0] == indent and lines[i][1][:1] == "-")
        ):
            # DVC writes a mapping's list at the key's own indentation ("outs:\n- path: x").
            found[key], i = _block(lines, i, lines[i][0])
        else:
            found[key] = None
    return found, i


def _split_key(text: str) -> tuple[str, str] | None:
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        if end < 0 or text[end + 1 : end + 2] != ":":
            return None
        return text[1:end], text[end + 2 :].strip()
    key, sep, value = text.partition(": ")
    if not sep:
        if text.endswith(":"):
            return text[:-1].strip(), ""
        return None
    return key.strip(), value.strip()


def _scalar(text: str) -> Any:
    if text[:1] in ("'", '"'):
        quote = text[0]
        end = text.rfind(quote)
        inner = text[1:end] if end > 0 else text[1:]
        return inner.replace("''", "'") if quote == "'" else inner.replace('\\"', '"')
    text = text.split(" #", 1)[0].strip()
    if text in ("[]", "{}"):
        return [] if text == "[]" else {}
    if text in ("null", "~"):
        return None
    if text in ("true", "false"):
        return text == "true"
    if text.lstrip("-").isdigit():
        return int(text)
    return text


# -- the project ------------------------------------------------------------------------------


def find_project(start: str) -> Path | None:
    """The nearest directory at or above `start` holding a `.dvc` directory, or None."""
    here = Path(start).absolute()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


def _dvc_files(root: Path) -> list[Path]:
    found: list[Path] = []
    seen = 0
    for folder, dirs, files in os.walk(root):
        seen += len(dirs) + len(files)
        if seen > _MAX_WALK:
            break
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        found.extend(Path(folder, f) for f in sorted(files) if f.endswith(".dvc"))
    return found


def _output(entry: Any, base: Path, root: Path, source: str) -> dict[str, Any] | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        return None
    digest = next((entry[k] for k in ("md5", "etag", "checksum") if entry.get(k)), None)
    path = os.path.normpath(base / entry["path"])
    out: dict[str, Any] = {
        "path": Path(os.path.relpath(path, root)).as_posix(),
        "hash": f"{entry.get('hash', 'md5')}:{digest}" if digest else None,
        "source": source,
    }
    for key in ("size", "nfiles", "remote"):
        if entry.get(key) is not None:
            out[key] = entry[key]
    return out


def _outputs(root: Path) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = []
    for file in _dvc_files(root):
        source = file.relative_to(root).as_posix()
        try:
            data = read_yaml(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, YamlError):
            continue  # one unreadable file must not hide the others
        for entry in data.get("outs") or [] if isinstance(data, dict) else []:
            found = _output(entry, file.parent, root, source)
            if found is not None:
                outputs.append(found)
    lock = root / "dvc.lock"
    try:
        data = read_yaml(lock.read_text(encoding="utf-8")) if lock.is_file() else None
    except (OSError, UnicodeDecodeError, YamlError):
        data = None
    stages = data.get("stages") if isinstance(data, dict) else None
    for name, stage in (stages or {}).items() if isinstance(stages, dict) else []:
        for entry in (stage or {}).get("outs") or [] if isinstance(stage, dict) else []:
            found = _output(entry, root, root, f"dvc.lock:{name}")
            if found is not None:
                outputs.append(found)
    return outputs


def _remote(root: Path) -> tuple[str | None, str | None]:
    """The default remote's name and URL from `.dvc/config` (never `config.local`: secrets)."""
    config = configparser.ConfigParser(interpolation=None)
    try:
        config.read(root / ".dvc" / "config", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None, None
    name = config.get("core", "remote", fallback=None)
    if not name:
        return None, None
    for section in (f"'remote \"{name}\"'", f'remote "{name}"'):
        if config.has_section(section):
            return name, config.get(section, "url", fallback=None)
    return name, None


def dvc_context(start: str) -> _Part:
    """Tags and the `context/dvc.json` artifact for the DVC project at or above `start`."""
    from autolog._tracking.context import strip_credentials

    root = find_project(start)
    if root is None:
        return {}, {}
    outputs = _outputs(root)
    remote, url = _remote(root)
    pairs = sorted(f"{o['path']}={o['hash']}" for o in outputs)
    tags = {
        _tags.DVC_ROOT: str(root),
        _tags.DVC_HASH: hashlib.sha256("\n".join(pairs).encode()).hexdigest()[:16],
        _tags.DVC_OUTPUTS: ", ".join(f"{o['path']}={(o['hash'] or 'none')[:12]}" for o in outputs)[
            :_MAX_TAG
        ],
    }
    if remote:
        tags[_tags.DVC_REMOTE] = remote
    if url:
        tags[_tags.DVC_REMOTE_URL] = strip_credentials(url)
    record = {"root": str(root), "remote": remote, "outputs": outputs}
    return tags, {"context/dvc.json": json.dumps(record, indent=2).encode("utf-8")}
