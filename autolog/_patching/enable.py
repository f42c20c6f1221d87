"""`autolog.enable()` and `autolog.disable()`: the options, and finding the integrations.

The list of known integrations is data of the integrations layer
(`autolog.integrations.known()`: the built-in ones and the `autolog.integrations`
entry-point group), which stands above this one. It is read inside functions, on
the first `enable()`, never at import: the layer below does not depend on the
one above at import time.

`enable()` imports neither the libraries nor the built-in integrations, nor wrapt
(with the asyncio it loads): a built-in integration whose library is not imported
yet is only version-checked and waits for the library's import
(`hooks.when_imported`), where it is built and patches. The tracking machinery
thus loads with the library, or with the first run.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autolog._patching.distributions import check_version
from autolog._patching.hooks import when_imported
from autolog._safety import capture_internal_errors
from autolog._validation import check_key, check_tag_value
from autolog.errors import IntegrationNotEnabled, InvalidValueError

if TYPE_CHECKING:
    from autolog._patching.integration import Integration

__all__ = [
    "AutologOptions",
    "disable",
    "enable",
    "enabled_integrations",
    "get_integration",
    "known_integrations",
    "loaded_integrations",
]

logger = logging.getLogger("autolog")
_saved_level: list[int] = []


@dataclass(frozen=True)
class AutologOptions:
    """What `autolog.enable()` was asked to record."""

    log_models: bool = True
    log_datasets: bool = True
    log_input_examples: bool = False
    log_fold_models: bool = False
    max_tuning_runs: int = 5
    extra_tags: dict[str, str] = field(default_factory=dict)
    registered_model_name: str | None = None
    log_plots: bool = True


# -- finding integrations ------------------------------------------------------------------

_instances: dict[str, Integration] = {}
_instances_lock = threading.Lock()


def known_integrations() -> dict[str, str]:
    """Every integration autolog can enable, by name: `"module:Class"` of its `Integration`."""
    from autolog import integrations  # the layer above: see the module docstring

    return integrations.known()


# Built-in integrations enabled before their library was imported: not built yet, with the
# options they were enabled with. The library's import (or get_integration) builds them.
_pending: dict[str, AutologOptions] = {}
_awaited: set[str] = set()  # names whose library's import has a hook waiting


def get_integration(name: str) -> Integration:
    """The one `Integration` object of `name`, imported and built on first use."""
    with _instances_lock:
        found = _instances.get(name)
        if found is None:
            module, _, attr = known_integrations()[name].partition(":")
            found = _instances[name] = getattr(importlib.import_module(module), attr)()
        options = _pending.pop(name, None)
    if options is not None:
        found.enable(options)
    return found


def loaded_integrations() -> list[Integration]:
    """The integrations built so far (the only ones that can have patched anything)."""
    with _instances_lock:
        return list(_instances.values())


def _enable_later(name: str, options: AutologOptions) -> bool:
    """Enable a built-in integration whose library is not imported yet, without building it.

    Building an integration imports it and, through it, the tracking machinery; none of
    that is needed before the library is imported. The version is checked now, as
    `Integration.enable` would (IntegrationNotEnabled). False: enable it now instead.
    """
    from autolog import integrations  # the layer above: see the module docstring

    library = integrations.LIBRARIES.get(name)
    with _instances_lock:
        if library is None or name in _instances or library.module in sys.modules:
            return False
    check_version(name, library)
    with _instances_lock:
        _pending[name] = options
        if name in _awaited:
            return True
        _awaited.add(name)
    when_imported(library.module, lambda _module: _build_pending(name))
    return True


def _build_pending(name: str) -> None:
    with capture_internal_errors(f"enabling {name}"):
        if name in _pending:  # still enabled: build it, which patches the library
            get_integration(name)


def _names(integrations: str | Sequence[str] | None) -> tuple[list[str], bool]:
    known = known_integrations()
    if integrations is None:
        return list(known), False
    names = [integrations] if isinstance(integrations, str) else list(integrations)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidValueError(
            f"unknown integration(s) {unknown!r}; known integrations: {sorted(known)}"
        )
    return names, True


# -- the switch ----------------------------------------------------------------------------


def enable(
    integrations: str | Sequence[str] | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    log_models: bool = True,
    log_datasets: bool = True,
    log_input_examples: bool = False,
    log_fold_models: bool = False,
    max_tuning_runs: int | None = 5,
    extra_tags: Mapping[str, Any] | None = None,
    silent: bool = False,
    registered_model_name: str | None = None,
    system_metrics: bool | float | None = None,
    log_plots: bool = True,
) -> list[str]:
    """Record every training call of the named libraries (all supported ones by default).

    Imports none of them: patches attach when a library is imported. Calling it
    again changes the options. Returns the names of the integrations now on.

    Args:
        integrations: e.g. ["sklearn"]; a named integration that cannot be enabled
            raises IntegrationNotEnabled, one enabled by default is skipped quietly.
        tracking_uri: where runs go (as `configure(tracking_uri=...)`).
        experiment: the experiment of new runs.
        log_models: save each fitted model with its flavor metadata.
        log_datasets: record a fingerprint of the training data.
        log_input_examples: save the first rows of the training data with each model
            (off by default, as MLflow's: the signature is inferred either way).
        log_fold_models: save the model of each fold of a cross-validation call
            (`cross_val_score`, ...) in the fold's child run.
        max_tuning_runs: child runs for the best N candidates of a search (None: all).
        extra_tags: tags set on every autologged run.
        silent: hide autolog's own warnings while it is enabled.
        registered_model_name: register every logged model under this name.
        system_metrics: seconds between `system/...` samples of each run (True: 10 s;
            False: none); None leaves the setting ($AUTOLOG_SYSTEM_METRICS) as it is.
        log_plots: record the data of evaluation plots (confusion matrix, ROC and
            precision-recall curves, residuals) as small JSON artifacts.
    """
    names, named = _names(integrations)
    if max_tuning_runs is not None and (
        isinstance(max_tuning_runs, bool)
        or not isinstance(max_tuning_runs, int)
        or max_tuning_runs < 0
    ):
        raise InvalidValueError(
            f"max_tuning_runs={max_tuning_runs!r}; expected a whole number >= 0, or None for all"
        )
    tags = {check_key(k, "tag"): check_tag_value(k, v) for k, v in (extra_tags or {}).items()}
    if registered_model_name is not None:
        from autolog._models.uris import check_model_name

        check_model_name(registered_model_name)
    if (tracking_uri, experiment, system_metrics) != (None, None, None):
        # Only when asked: the tracking API (backends, writer) loads with the first run.
        from autolog._tracking.api import configure

        configure(tracking_uri=tracking_uri, experiment=experiment, system_metrics=system_metrics)
    options = AutologOptions(
        log_models=bool(log_models),
        log_datasets=bool(log_datasets),
        log_input_examples=bool(log_input_examples),
        log_fold_models=bool(log_fold_models),
        max_tuning_runs=max_tuning_runs if max_tuning_runs is not None else 1_000_000,
        extra_tags=tags,
        registered_model_name=registered_model_name,
        log_plots=bool(log_plots),
    )
    if silent and not _saved_level:
        _saved_level.append(logger.level)
        logger.setLevel(logging.ERROR)
    on = []
    for name in names:
        try:
            if not _enable_later(name, options):
                get_integration(name).enable(options)
        except IntegrationNotEnabled as exc:
            if named:
                raise
            logger.debug("autolog: %s", exc)
            continue
        on.append(name)
    return on


def disable(integrations: str | Sequence[str] | None = None) -> None:
    """Switch integrations off and restore the original functions exactly."""
    names, _ = _names(integrations)
    with _instances_lock:
        for name in names:
            _pending.pop(name, None)
    for integration in loaded_integrations():
        if integration.name in names:
            integration.disable()
    if _saved_level and not enabled_integrations():
        logger.setLevel(_saved_level.pop())


def enabled_integrations() -> list[str]:
    """Names of the integrations that are on."""
    with _instances_lock:
        pending = list(_pending)
    return [i.name for i in loaded_integrations() if i.enabled] + pending
