"""The shape of the package: layers in import order, and pyproject's package list.

DESIGN.md orders the layers: the shared vocabulary, backends, _tracking, _models,
_registry, _patching, integrations, then _cli and _server. A module imports only from
its own layer or the ones below. Every import counts, including those inside functions
and under TYPE_CHECKING, with two allowed exceptions, both lazy: _models resolves
`models:/` URIs through _registry, and `enable()` reads the list of known integrations
(data: import paths as strings) from the `autolog.integrations` package itself.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
# Where each installed package lives in the repository (pyproject's package-dir mapping).
SOURCES = {"autolog": ROOT / "autolog", "autolog.integrations": ROOT / "integrations",
           "autolog.backends": ROOT / "backends"}  # fmt: skip

LAYERS = [
    "vocabulary",
    "autolog.backends",
    "autolog._tracking",
    "autolog._models",
    "autolog._registry",
    "autolog._patching",
    "autolog.integrations",
    "autolog._cli",
    "autolog._server",
]
TOP = len(LAYERS)  # the public API (autolog/__init__.py, __main__.py) may import anything
ALLOWED_UPWARD = {("autolog._models", "autolog._registry")}
ALLOWED_MODULES = {("autolog._patching.enable", "autolog.integrations")}


def module_files() -> dict[str, Path]:
    """Every module of the installed package, by dotted name."""
    found: dict[str, Path] = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            found[name] = path
    return found


def layer_of(module: str) -> int:
    """The index in LAYERS of a module of ours."""
    if module in ("autolog", "autolog.__main__"):
        return TOP
    for i, prefix in enumerate(LAYERS[1:], start=1):
        if module == prefix or module.startswith(prefix + "."):
            return i
    return 0  # autolog.errors, autolog._entities, _validation, _safety, _search, _tags


def layer_name(module: str) -> str:
    i = layer_of(module)
    return "the public API" if i == TOP else LAYERS[i]


def imports_of(path: Path, module: str) -> list[tuple[str, int]]:
    """The modules of ours that `path` imports, with line numbers (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            if base == "autolog":
                # `from autolog import _x` imports the submodule autolog._x
                out.extend((f"autolog.{alias.name}", node.lineno) for alias in node.names)
            else:
                out.append((base, node.lineno))
    return [(name, line) for name, line in out if name == "autolog" or name.startswith("autolog.")]


def test_every_import_goes_down_the_layers() -> None:
    problems = []
    for module, path in sorted(module_files().items()):
        here = layer_of(module)
        for target, line in imports_of(path, module):
            there = layer_of(target)
            if there <= here:
                continue
            if (LAYERS[here], LAYERS[there] if there < TOP else "") in ALLOWED_UPWARD:
                continue
            if (module, target) in ALLOWED_MODULES:
                continue
            problems.append(
                f"{path.relative_to(ROOT)}:{line}: {module} ({layer_name(module)}) imports"
                f" {target} ({layer_name(target)}), a layer above it"
            )
    assert not problems, "\n".join(problems)


def test_the_rules_the_layer_order_implies() -> None:
    """The two rules the design states by name, checked directly as well."""
    bad = []
    for module, path in module_files().items():
        for target, line in imports_of(path, module):
            if module.startswith("autolog.integrations") and target.startswith("autolog.backends"):
                bad.append(f"{path.relative_to(ROOT)}:{line}: an integration imports {target}")
            if module.startswith("autolog.backends") and target.startswith(
                ("autolog._tracking", "autolog._patching", "autolog.integrations")
            ):
                bad.append(f"{path.relative_to(ROOT)}:{line}: a backend imports {target}")
    assert not bad, "\n".join(bad)


def test_the_layer_walk_sees_a_violation(tmp_path: Path) -> None:
    """The walker resolves relative and `from autolog import _x` forms (a check of the check)."""
    path = tmp_path / "example.py"
    path.write_text(
        "from autolog import _tracking, errors\n"
        "from .. import _patching\n"
        "def later():\n    from autolog._cli.main import main\n"
    )
    found = {name for name, _ in imports_of(path, "autolog.backends.example")}
    expected = {"autolog._tracking", "autolog.errors", "autolog._patching", "autolog._cli.main"}
    assert found == expected
    assert layer_of("autolog._cli.main") > layer_of("autolog.backends.example")


def test_pyproject_names_every_package() -> None:
    """The package-dir mapping rules out `find:`, so the list must name each subpackage."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {
        name
        for name, path in module_files().items()
        if path.name == "__init__.py" and "tests" not in path.parts
    }
    assert listed == on_disk, (
        f"pyproject.toml's [tool.setuptools] packages list is out of date: missing"
        f" {sorted(on_disk - listed)}, stale {sorted(listed - on_disk)}"
    )
