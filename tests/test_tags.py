"""Every system tag name is written once, in `autolog/_tags.py`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from autolog import _tags

ROOT = Path(__file__).resolve().parents[1]
# Module paths, their prefix, entry-point groups, the server's logger and its default
# database file look like tag names; they are not.
_NOT_TAGS = re.compile(r"^autolog\.(_|integrations\b|backends\b|$|server$|db$)")


def _tag_like_strings(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if text.startswith("autolog.") and not _NOT_TAGS.match(text):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text!r}")
    return found


def test_no_module_spells_a_system_tag_name_but_tags_py() -> None:
    sources = [
        p
        for folder in ("autolog", "integrations", "backends")
        for p in sorted((ROOT / folder).rglob("*.py"))
        if p != ROOT / "autolog" / "_tags.py"
    ]
    found = [hit for path in sources for hit in _tag_like_strings(path)]
    assert found == [], "use the constants of autolog/_tags.py"


def test_tag_names_are_unique_and_prefixed() -> None:
    names = {k: v for k, v in vars(_tags).items() if k.isupper() and isinstance(v, str)}
    assert len(set(names.values())) == len(names)
    unprefixed = {v for v in names.values() if not v.startswith(_tags.PREFIX)}
    assert unprefixed == {"estimator_name", "estimator_class"}  # MLflow's names
    assert _tags.data_tag("X", "shape") == "autolog.data.X.shape"
