"""Integrations, one package per patched library, and the list of the ones autolog knows.

`known()` maps an integration's name to where its `Integration` class is
(`"module:Class"`): the built-in ones, then those other distributions declare in
the `autolog.integrations` entry-point group, e.g. in their pyproject.toml:

    [project.entry-points."autolog.integrations"]
    lightgbm = "autolog_lightgbm:LightGBMIntegration"

Nothing is imported here: a built-in integration's class is imported when its
library is imported (or at `enable()` if it already is), a plugin's when it is
enabled, so this package stays cheap for `import autolog` and `autolog.enable()`.
"""

from __future__ import annotations

import logging
import threading

from autolog._patching.distributions import Library, entry_points
from autolog.integrations._libraries import SklearnRange, XGBoostRange

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "LIBRARIES", "known"]

BUILTIN: dict[str, str] = {
    "sklearn": "autolog.integrations.sklearn:SklearnIntegration",
    "xgboost": "autolog.integrations.xgboost:XGBoostIntegration",
}
# The library of each built-in integration and its supported versions (class variables its
# `Integration` inherits): enable() checks them and waits for the library's import.
LIBRARIES: dict[str, Library] = {"sklearn": SklearnRange, "xgboost": XGBoostRange}
ENTRY_POINT_GROUP = "autolog.integrations"

logger = logging.getLogger("autolog")
_known: dict[str, str] | None = None
_lock = threading.Lock()


def known() -> dict[str, str]:
    """Every integration by name: the built-in ones, then the entry-point group's (read once)."""
    global _known
    with _lock:
        if _known is None:
            _known = {**BUILTIN, **_entry_points()}
        return dict(_known)


def _entry_points() -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in entry_points(ENTRY_POINT_GROUP):
        if name in BUILTIN:
            logger.warning(
                "autolog: the %s entry point %r=%r is ignored: %r is a built-in integration",
                ENTRY_POINT_GROUP,
                name,
                value,
                name,
            )
            continue
        found[name] = value
    return found


def forget() -> None:
    """Read the entry-point group again on next use (for tests that install a plugin)."""
    global _known
    with _lock:
        _known = None
