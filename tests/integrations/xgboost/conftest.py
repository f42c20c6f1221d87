"""Fixtures of the XGBoost tests: every test trains on one thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import xgboost as xgb

import autolog


@pytest.fixture(autouse=True)
def one_xgboost_thread() -> Iterator[None]:
    """Train on one thread.

    OpenMP barriers make multi-threaded training crawl on a busy machine; results
    and what autolog records do not depend on the thread count.
    """
    with xgb.config_context(nthread=1):
        yield


@pytest.fixture
def autolog_xgboost() -> Iterator[None]:
    """The XGBoost integration on for the test, off after it."""
    autolog.enable("xgboost")
    yield
    autolog.disable("xgboost")
