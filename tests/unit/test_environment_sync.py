"""environment.yml (conda) and requirements.in (pip/uv) name the same pinned dependencies."""

from __future__ import annotations

import yaml
from packaging.requirements import Requirement

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
