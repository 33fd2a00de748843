"""environment.yml (conda), requirements.in (pip/uv, what the lock resolves) and pyproject.toml (runtime, extras,
dev) name the same dependencies."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from helpers.paths import ROOT


def _requirements_in() -> dict[str, str]:
    out = {}
    for line in (ROOT / "requirements.in").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            out[req.name.lower()] = str(req.specifier)
    return out


def _environment_yml() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    out = {}
    for line in pip:
        if line.startswith("-e"):
            continue
        req = Requirement(line)
        out[req.name.lower()] = str(req.specifier)
    return out


def test_environment_yml_matches_requirements_in() -> None:
    assert _environment_yml() == _requirements_in()


def test_environment_yml_pins_python_311() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]


def test_lock_pins_every_requirement() -> None:
    locked = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith(" ") and not line.startswith("#"):
            name, version = line.split("==", 1)
            locked[name.strip().lower().replace("_", "-")] = version.strip()
    for name, spec in _requirements_in().items():
        key = name.replace("_", "-")
        assert key in locked, f"{name} is not in requirements.lock"
        if spec.startswith("=="):
            assert locked[key] == spec[2:], f"{name}: lock has {locked[key]}, requirements.in pins {spec}"


def _pyproject_requirements() -> dict[str, set[str]]:
    """Requirement names per group of pyproject.toml: ``runtime`` and each extra (self-references left out)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"runtime": project["dependencies"], **project["optional-dependencies"]}
    return {group: {canonicalize_name(Requirement(r).name) for r in reqs if Requirement(r).name != "execlab"}
            for group, reqs in groups.items()}


def test_pyproject_declares_what_requirements_in_pins() -> None:
    """requirements.in (what the lock resolves) is exactly the runtime, extra and dev requirements of pyproject."""
    declared = set().union(*_pyproject_requirements().values())
    pinned = {canonicalize_name(name) for name in _requirements_in()}
    assert declared == pinned, (sorted(declared - pinned), sorted(pinned - declared))


def test_extras_are_the_documented_ones() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert set(extras) == {"alpaca", "ibkr", "crypto", "fx", "dashboard", "notebooks", "all", "dev"}
    assert "jupyterlab>=4" in extras["notebooks"]  # so the shipped notebooks open
    assert extras["all"] == ["execlab[alpaca,ibkr,crypto,fx,dashboard,notebooks]"]
    assert "execlab[all]" in extras["dev"]
    assert project["requires-python"] == ">=3.11"


def test_runtime_dependencies_cover_what_the_core_imports() -> None:
    """Every third-party package imported outside the extras' modules is a runtime dependency."""
    import ast

    import execlab
    from execlab._core.extras import EXTRAS

    package = Path(execlab.__file__).parent
    distribution = {"yaml": "pyyaml", "pyrate_limiter": "pyrate-limiter", "bokeh_sampledata": "bokeh-sampledata",
                    "pydantic_core": "pydantic", "distributed": "dask"}  # dask[distributed] brings distributed
    optional = set(EXTRAS) | {"requests", "tornado", "websockets"}  # the extras' SDKs and what they bring
    runtime = _pyproject_requirements()["runtime"]
    missing = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            for name in names:
                top = name.split(".", 1)[0]
                if top in sys.stdlib_module_names or top in ("execlab", "__future__") or top in optional:
                    continue
                if canonicalize_name(distribution.get(top, top)) not in runtime:
                    missing.add(f"{top} ({path.relative_to(package)})")
    assert not missing, sorted(missing)
