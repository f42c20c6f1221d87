"""The patching contract every integration meets (STYLE.md's conformance suite).

Parametrized over every integration in `known_integrations()`: patching twice wraps once;
patch, unpatch, patch works; patching before the library is imported and
unpatching before it is imported behave; after `disable()` every original
function object is back, and nothing autolog added is left behind.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

import autolog
from autolog._patching.enable import get_integration, known_integrations
from autolog._patching.integration import AutologWrapper, Integration

# For each integration: a module of the library and a dotted attribute in it that the
# integration wraps, to look at from outside.
TARGETS: dict[str, tuple[str, str]] = {
    "sklearn": ("sklearn.linear_model", "LogisticRegression.fit"),
    "xgboost": ("xgboost.training", "train"),
}


def _integration_or_skip(name: str) -> Integration:
    module = known_integrations()[name].partition(":")[0]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not written yet")
    integration = get_integration(name)
    try:
        integration.check_version()
    except autolog.errors.IntegrationNotEnabled as exc:
        pytest.skip(str(exc))
    return integration


def _target(name: str) -> tuple[Any, str]:
    module_name, dotted = TARGETS[name]
    owner: Any = importlib.import_module(module_name)
    *path, attribute = dotted.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attribute


@pytest.fixture(params=sorted(known_integrations()))
def integration(request: pytest.FixtureRequest) -> Iterator[Integration]:
    name = request.param
    assert name in TARGETS, f"add a target for the {name} integration to TARGETS"
    found = _integration_or_skip(name)
    autolog.disable()
    try:
        yield found
    finally:
        autolog.disable()


def _snapshot(library: str) -> dict[tuple[str, str, str], Any]:
    """Every attribute of every module of the library and of the classes defined there."""
    seen: dict[tuple[str, str, str], Any] = {}
    for module_name, module in list(sys.modules.items()):
        if not isinstance(module, ModuleType) or module_name.split(".")[0] != library:
            continue
        for attr, value in list(vars(module).items()):
            seen[(module_name, "", attr)] = value
            if isinstance(value, type) and value.__module__ == module_name:
                for cls_attr, cls_value in list(vars(value).items()):
                    seen[(module_name, value.__qualname__, cls_attr)] = cls_value
    return seen


def test_patching_twice_wraps_once(integration: Integration) -> None:
    autolog.enable(integrations=[integration.name])
    owner, attribute = _target(integration.name)
    wrapper = vars(owner)[attribute]
    count = len(integration._patches)
    autolog.enable(integrations=[integration.name])
    assert vars(owner)[attribute] is wrapper
    assert isinstance(wrapper, AutologWrapper)
    assert not isinstance(wrapper.__wrapped__, AutologWrapper)
    assert len(integration._patches) == count


def test_patch_unpatch_patch(integration: Integration) -> None:
    owner, attribute = _target(integration.name)
    original = vars(owner)[attribute]
    autolog.enable(integrations=[integration.name])
    assert isinstance(vars(owner)[attribute], AutologWrapper)
    autolog.disable(integrations=[integration.name])
    assert vars(owner)[attribute] is original
    autolog.enable(integrations=[integration.name])
    again = vars(owner)[attribute]
    assert isinstance(again, AutologWrapper) and again.__wrapped__ is original


def test_disable_restores_every_original_object(integration: Integration) -> None:
    library = integration.module
    _target(integration.name)  # import the library and the target's module
    before = _snapshot(library)
    autolog.enable(integrations=[integration.name])
    during = _snapshot(library)
    changed = [k for k, v in during.items() if before.get(k) is not v]
    assert changed, "enable() patched nothing"
    autolog.disable(integrations=[integration.name])
    after = _snapshot(library)
    assert [k for k in before if after.get(k) is not before[k]] == []
    assert [k for k in after if k not in before] == []


def _run_python(code: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


_CHILD = """
    import importlib, json, sys
    import autolog
    from autolog._patching.integration import AutologWrapper

    name, library, module_name, dotted, disable_first = {args!r}
    autolog.enable(integrations=[name])
    if disable_first:
        autolog.disable()
    imported_early = library in sys.modules
    owner = importlib.import_module(module_name)
    *path, attribute = dotted.split(".")
    for part in path:
        owner = getattr(owner, part)
    wrapped = isinstance(vars(owner)[attribute], AutologWrapper)
    runs = None
    if name == "sklearn":
        from sklearn.linear_model import LogisticRegression
        LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        runs = len(autolog.search_runs())
    print(json.dumps({{"imported_early": imported_early, "wrapped": wrapped, "runs": runs}}))
"""


def _in_a_new_process(integration: Integration, *, disable_first: bool) -> dict[str, Any]:
    """Enable (and maybe disable) the integration in a fresh interpreter, then import its target."""
    module_name, dotted = TARGETS[integration.name]
    args = (integration.name, integration.module, module_name, dotted, disable_first)
    return _run_python(_CHILD.format(args=args))


def test_enabling_before_the_library_is_imported_patches_it_on_import(
    integration: Integration,
) -> None:
    found = _in_a_new_process(integration, disable_first=False)
    assert found["imported_early"] is False  # enable() imported nothing
    assert found["wrapped"] is True
    assert found["runs"] in (None, 1)


def test_disabling_before_the_library_is_imported_leaves_it_alone(
    integration: Integration,
) -> None:
    found = _in_a_new_process(integration, disable_first=True)
    assert found["wrapped"] is False
    assert found["runs"] in (None, 0)
