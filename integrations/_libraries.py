"""The library each built-in integration patches, and the versions it supports.

Written once here, inherited by the integrations' classes, and light on purpose:
`autolog.enable()` reads these to check a library's version and to wait for its
import without importing the integration itself, which loads the tracking
machinery (see `autolog._patching.enable`).
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["SklearnRange", "XGBoostRange"]


class SklearnRange:
    """The scikit-learn versions supported, for the two integrations patching it."""

    module: ClassVar[str] = "sklearn"
    distribution: ClassVar[str] = "scikit-learn"
    min_version: ClassVar[str] = "1.3"
    max_version: ClassVar[str] = "2"
    extra: ClassVar[str] = "sklearn"


class XGBoostRange:
    """The XGBoost versions supported."""

    module: ClassVar[str] = "xgboost"
    distribution: ClassVar[str] = "xgboost"
    min_version: ClassVar[str] = "1.7"
    max_version: ClassVar[str] = "4"
    extra: ClassVar[str] = "xgboost"
