"""A run's artifacts: the browser with previews, and the raw file for images and downloads.

Previews are rendered as text (escaped) or as tables; only images are shown as what they
are, through `<img>`. The raw file is served with a sandboxing CSP and, unless it is an
image, as an attachment, so a stored HTML or SVG file never runs in the UI's origin.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from autolog._registry.names import parse_mlmodel
from autolog._server.ui.render import render, ui_page
from autolog._server.ui.store import backend
from autolog._validation import check_id, check_relative_path
from autolog.backends.base import Backend
from autolog.errors import ArtifactNotFoundError

__all__ = ["artifacts_page", "raw_artifact"]

IMAGES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
          "webp": "image/webp", "svg": "image/svg+xml"}  # fmt: skip
TEXT = {"txt", "log", "diff", "patch", "yaml", "yml", "md", "py", "cfg", "ini", "toml", "xml",
        "html", "sh", "r", "sql", "ipynb", "jsonl", "in", "lock", "rst"}  # fmt: skip
#: The most bytes of a file a preview reads (and of a file read to guess it is text).
MAX_PREVIEW = 512 * 1024
MAX_CSV_ROWS = 500
RAW_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    "X-Content-Type-Options": "nosniff",
}


def _extension(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _signature(mlmodel: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """The MLmodel's signature as rows of (name, type) for its inputs and outputs."""
    sig = mlmodel.get("signature")
    out: dict[str, list[dict[str, str]]] = {}
    if not isinstance(sig, dict):
        return out
    for part in ("inputs", "outputs"):
        try:
            specs = json.loads(sig.get(part) or "[]")
        except (TypeError, ValueError):
            continue
        rows = []
        for i, spec in enumerate(specs if isinstance(specs, list) else []):
            if not isinstance(spec, dict):
                continue
            tensor = spec.get("tensor-spec")
            if isinstance(tensor, dict):
                kind = f"tensor {tensor.get('dtype')} {tensor.get('shape')}"
            else:
                kind = str(spec.get("type", ""))
            rows.append({"name": str(spec.get("name", f"#{i}")), "type": kind})
        out[part] = rows
    return out


def _preview(store: Backend, run_id: str, path: str, size: int | None) -> dict[str, Any]:
    """What the page shows of one file."""
    ext = _extension(path)
    name = path.rsplit("/", 1)[-1]
    if ext in IMAGES:
        return {"kind": "image"}
    if size is not None and size > MAX_PREVIEW and ext not in TEXT | {"json", "csv", "tsv"}:
        return {"kind": "binary"}
    data = store.read_artifact(run_id, path)
    cut = len(data) > MAX_PREVIEW
    head = data[:MAX_PREVIEW]
    if name == "MLmodel":
        mlmodel = parse_mlmodel(data)
        flavors = sorted(mlmodel.get("flavors") or {})
        text = head.decode("utf-8", "replace")
        return {
            "kind": "mlmodel",
            "text": text,
            "signature": _signature(mlmodel),
            "flavors": flavors,
        }
    if ext == "json" and not cut:
        try:
            text = json.dumps(json.loads(data), indent=2, ensure_ascii=False)
            return {"kind": "text", "text": text, "cut": False}
        except ValueError:
            pass
    if ext in ("csv", "tsv"):
        reader = csv.reader(
            io.StringIO(head.decode("utf-8", "replace")), delimiter="\t" if ext == "tsv" else ","
        )
        table = []
        for row in reader:
            table.append(row)
            if len(table) > MAX_CSV_ROWS:
                break
        return {"kind": "table", "header": table[0] if table else [], "rows": table[1:],
                "cut": cut or len(table) > MAX_CSV_ROWS}  # fmt: skip
    if ext in TEXT or b"\0" not in head:
        try:
            return {"kind": "text", "text": head.decode("utf-8"), "cut": cut}
        except UnicodeDecodeError:
            if ext in TEXT:
                return {"kind": "text", "text": head.decode("utf-8", "replace"), "cut": cut}
    return {"kind": "binary"}


@ui_page
async def artifacts_page(request: Request) -> Response:
    """The listing of a directory of a run's artifacts (`path`), or the preview of a file."""
    run_id = check_id(request.path_params["run_id"])
    path = check_relative_path(request.query_params.get("path", ""))
    store = backend(request)

    def gather() -> dict[str, Any]:
        run = store.get_run(run_id)
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        entry = None
        if path:
            for info in store.list_artifacts(run_id, parent):
                if info.path == path:
                    entry = info
            if entry is None:
                raise ArtifactNotFoundError(f"run {run_id} has no artifact {path!r}")
        if entry is None or entry.is_dir:
            files = sorted(store.list_artifacts(run_id, path), key=lambda f: (not f.is_dir, f.path))
            return {"run": run, "files": files, "preview": None, "parent": parent, "size": None}
        preview = _preview(store, run_id, path, entry.size)
        return {"run": run, "files": None, "preview": preview, "parent": parent,
                "size": entry.size}  # fmt: skip

    found = await run_in_threadpool(gather)
    crumbs = []
    parts = path.split("/") if path else []
    for i, part in enumerate(parts):
        crumbs.append((part, "/".join(parts[: i + 1])))
    return render(
        request, "artifacts.html", title=f"{path or 'artifacts'}", path=path, crumbs=crumbs,
        **found,
    )  # fmt: skip


@ui_page
async def raw_artifact(request: Request) -> Response:
    """The file itself: images inline, anything else as a download."""
    run_id = check_id(request.path_params["run_id"])
    path = check_relative_path(request.query_params.get("path", ""), allow_empty=False)
    data = await run_in_threadpool(backend(request).read_artifact, run_id, path)
    media = IMAGES.get(_extension(path))
    headers = dict(RAW_HEADERS)
    if media is None:
        media = "application/octet-stream"
        name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
                       for c in path.rsplit("/", 1)[-1])  # fmt: skip
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(data, media_type=media, headers=headers)
