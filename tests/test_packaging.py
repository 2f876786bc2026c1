"""Packaging stays consistent: pyproject.toml vs environment.yml, version, imports, moto's boundary.

Two install routes exist (``./lab`` uses pip and pyproject.toml; conda/Binder use environment.yml),
and they drift apart silently unless a test compares them.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import pkgutil
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

import labsupport

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "labsupport"

# environment.yml entries that are not project dependencies, and why they are there.
INFRASTRUCTURE = {
    "python": "the interpreter itself (pyproject says it as requires-python)",
    "pip": "installs environment.yml's pip section",
}
# conda-forge names that differ from the PyPI name of the same package.
CONDA_TO_PYPI = {
    "matplotlib-base": "matplotlib",  # matplotlib without a GUI toolkit: enough for PNG figures
}


def normalise(name: str) -> str:
    """PEP 503 normalisation: ``PyYAML``, ``pyyaml`` and ``py_yaml`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    return {normalise(r.name): r for r in requirements}


def environment_requirements() -> tuple[dict[str, Requirement], list[str]]:
    """environment.yml's dependencies as requirements by normalised PyPI name, plus what is left over."""
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    found: dict[str, Requirement] = {}
    leftover: list[str] = []
    for entry in env["dependencies"]:
        specs = entry["pip"] if isinstance(entry, dict) else [entry]
        for spec in specs:
            spec = spec.strip()
            if spec.startswith("-e "):
                leftover.append(spec)
                continue
            name = re.split(r"[\[<>=!~ ]", spec, maxsplit=1)[0]
            if name in INFRASTRUCTURE:
                continue
            requirement = Requirement(CONDA_TO_PYPI.get(name, name) + spec[len(name) :])
            found[normalise(requirement.name)] = requirement
    return found, leftover


def test_environment_yml_names_every_pyproject_dependency() -> None:
    wanted = pyproject_requirements()
    have, _ = environment_requirements()
    missing = sorted(set(wanted) - set(have))
    assert not missing, f"environment.yml lacks {missing}. Fix: add them (same lower bounds as pyproject.toml)."


def test_environment_yml_adds_nothing_unexplained() -> None:
    wanted = pyproject_requirements()
    have, _ = environment_requirements()
    extra = sorted(set(have) - set(wanted))
    assert not extra, (
        f"environment.yml installs {extra}, which pyproject.toml does not declare. Fix: add them to pyproject.toml "
        "or remove them (or, for tooling, explain them in INFRASTRUCTURE in this test)."
    )


def test_environment_yml_uses_the_same_bounds_and_extras() -> None:
    wanted = pyproject_requirements()
    have, _ = environment_requirements()
    different = {
        name: (str(wanted[name]), str(have[name]))
        for name in set(wanted) & set(have)
        if wanted[name].specifier != have[name].specifier or wanted[name].extras != have[name].extras
    }
    assert not different, f"pyproject.toml vs environment.yml: {different}. Fix: make environment.yml match."


def test_environment_yml_installs_the_project_itself_with_test_extras() -> None:
    _, leftover = environment_requirements()
    assert leftover == ["-e .[test]"], f"environment.yml's pip section should end with `-e .[test]`, found {leftover}"


def test_version_matches_installed_metadata() -> None:
    installed = importlib.metadata.version("labsupport")
    assert labsupport.__version__ == installed, (
        f"labsupport.__version__ is {labsupport.__version__} but the installed metadata says {installed}. "
        "Fix: reinstall with `.venv/bin/pip install -e .[test]` "
        "(./lab does that by itself when pyproject.toml or the version changes)."
    )


def all_modules() -> list[str]:
    return ["labsupport", *sorted(m.name for m in pkgutil.walk_packages(labsupport.__path__, "labsupport."))]


@pytest.mark.parametrize("module", all_modules())
def test_every_module_imports(module: str) -> None:
    importlib.import_module(module)


def imported_modules(tree: ast.AST) -> set[str]:
    """Top-level names of everything a module imports, including importlib/__import__ calls with literals."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names.add(node.args[0].value.split(".")[0])
    return names


def test_only_the_region_package_imports_moto() -> None:
    # The region is the one place that knows it is fake; everything else must run unchanged on real AWS.
    region = PACKAGE / "region"
    offenders = [
        str(path.relative_to(REPO))
        for path in sorted(PACKAGE.rglob("*.py"))
        if region not in path.parents and "moto" in imported_modules(ast.parse(path.read_text(), str(path)))
    ]
    assert not offenders, (
        f"{offenders} import moto. Only labsupport/region/ may. Fix: talk to the region over HTTP with boto3; "
        "to test whether moto is installed use importlib.util.find_spec('moto')."
    )


@pytest.mark.parametrize(
    "source",
    [
        "def f():\n    import moto.server\n",
        "from moto import mock_aws\n",
        "import importlib\nimportlib.import_module('moto')\n",
        "__import__('moto.core')\n",
    ],
)
def test_the_moto_scan_sees_nested_and_dynamic_imports(source: str) -> None:
    assert "moto" in imported_modules(ast.parse(source))
