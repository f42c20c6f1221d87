"""Fixtures of the scikit-learn autologging tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import autolog


@pytest.fixture
def sklearn_autolog() -> Iterator[None]:
    """scikit-learn autologging on for the test, off afterwards."""
    autolog.enable(integrations=["sklearn"])
    try:
        yield
    finally:
        autolog.disable()
