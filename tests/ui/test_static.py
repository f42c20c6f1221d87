"""The UI's static files: vendored files match VENDORED.md, the JavaScript stays within its
budget, and no template carries inline script or style (the CSP would block them)."""

from __future__ import annotations

import gzip
import hashlib
import re

from autolog._server.ui import STATIC

TEMPLATES = STATIC.parent / "templates"
#: Every script shipped, gzipped, at most (the issue's budget).
JS_BUDGET = 100 * 1024


def test_vendored_files_match_their_recorded_sha256() -> None:
    table = (STATIC / "VENDORED.md").read_text()
    rows = re.findall(r"^\| (\S+) \| .* \| ([0-9a-f]{64}) \|$", table, re.MULTILINE)
    assert {name for name, _ in rows} == {"uPlot.iife.min.js", "uPlot.min.css"}
    for name, digest in rows:
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (STATIC / "uPlot.LICENSE").read_text()


def test_javascript_fits_the_budget() -> None:
    total = sum(len(gzip.compress(p.read_bytes(), 9)) for p in STATIC.glob("*.js"))
    assert total <= JS_BUDGET, f"{total} bytes of gzipped JavaScript; the budget is {JS_BUDGET}"


def test_templates_have_no_inline_script_style_or_handlers() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\sstyle=", text), template.name
        assert not re.search(r"\son[a-z]+=", text), template.name
        assert "|safe" not in text.replace(" ", "") and "Markup" not in text, template.name
