"""`autolog.enable()` and `autolog.disable()`: switching integrations on and off."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from autolog._validation import check_key, check_tag_value
from autolog.errors import IntegrationNotEnabled, InvalidValueError

if TYPE_CHECKING:
    from autolog._patching.integration import Registry

__all__ = ["disable", "enable", "enabled_integrations"]


def _registry() -> type[Registry]:
    # Imported on first use: wrapt (and the asyncio it loads) stays out of `import autolog`.
    from autolog._patching.integration import Registry

    return Registry


logger = logging.getLogger("autolog")
_saved_level: list[int] = []


def _names(integrations: str | Sequence[str] | None) -> tuple[list[str], bool]:
    if integrations is None:
        return list(_registry().known), False
    names = [integrations] if isinstance(integrations, str) else list(integrations)
    unknown = [n for n in names if n not in _registry().known]
    if unknown:
        raise InvalidValueError(
            f"unknown integration(s) {unknown!r}; known integrations: {sorted(_registry().known)}"
        )
    return names, True


def enable(
    integrations: str | Sequence[str] | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    log_models: bool = True,
    log_datasets: bool = True,
    log_input_examples: bool = True,
    max_tuning_runs: int | None = 5,
    extra_tags: Mapping[str, Any] | None = None,
    silent: bool = False,
    registered_model_name: str | None = None,
    system_metrics: bool | float | None = None,
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
        log_input_examples: save a few rows of input with each model.
        max_tuning_runs: child runs for the best N candidates of a search (None: all).
        extra_tags: tags set on every autologged run.
        silent: hide autolog's own warnings while it is enabled.
        registered_model_name: register every logged model under this name.
        system_metrics: seconds between `system/...` samples of each run (True: 10 s;
            False: none); None leaves the setting ($AUTOLOG_SYSTEM_METRICS) as it is.
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
        from autolog._registry.names import check_model_name

        check_model_name(registered_model_name)
    from autolog._tracking.api import configure

    configure(tracking_uri=tracking_uri, experiment=experiment, system_metrics=system_metrics)
    from autolog._patching.integration import AutologOptions

    options = AutologOptions(
        log_models=bool(log_models),
        log_datasets=bool(log_datasets),
        log_input_examples=bool(log_input_examples),
        max_tuning_runs=max_tuning_runs if max_tuning_runs is not None else 1_000_000,
        extra_tags=tags,
        silent=bool(silent),
        registered_model_name=registered_model_name,
    )
    if silent and not _saved_level:
        _saved_level.append(logger.level)
        logger.setLevel(logging.ERROR)
    on = []
    for name in names:
        try:
            _registry().get(name).enable(options)
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
    for integration in _registry().loaded():
        if integration.name in names:
            integration.disable()
    if _saved_level and not enabled_integrations():
        logger.setLevel(_saved_level.pop())


def enabled_integrations() -> list[str]:
    """Names of the integrations that are on."""
    return [i.name for i in _registry().loaded() if i.enabled]
