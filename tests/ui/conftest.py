"""Fixtures of the web UI tests (helpers in ui_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip(
    "starlette", reason="the server extra is not installed: pip install '.[server]'"
)
pytest.importorskip("selenium", reason="the dev extra is not installed: pip install '.[dev]'")

from ui_support import Browser, chromium_or_skip


@pytest.fixture(scope="module")
def browser_factory() -> Iterator[Any]:
    """Opens browsers on a base URL; all are closed with the module."""
    chromium_or_skip()
    opened: list[Browser] = []

    def make(base: str) -> Browser:
        b = Browser(base)
        opened.append(b)
        return b

    yield make
    for b in opened:
        b.close()
