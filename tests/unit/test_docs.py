"""The documentation site: its generated config reference covers every key, its exit codes are the CLI's, every page
is in the navigation, and the README still opens with the two commands. (``make test`` builds the site with
``mkdocs build --strict``; these checks are the parts a build would not catch.)"""

from __future__ import annotations

import importlib.util
import re

import yaml
from pydantic import BaseModel

from execlab._cli.common import ExitCode
from execlab._config import Config

from helpers.paths import ROOT

DOCS = ROOT / "docs"


def _hook():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("generated_reference", DOCS / "hooks" / "generated_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}.{name}" if prefix else name
        out.append(key)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += _keys(annotation, key)
    return out


def test_config_reference_lists_every_key_with_its_docstring() -> None:
    hook = _hook()
    page = hook.config_reference()
    keys = _keys(Config)
    assert len(keys) > 60
    for key in keys:
        assert f"| `{key}` |" in page, key
    assert "Skip an order whose notional is below this fraction of equity" in page  # a field docstring
    rendered = hook.on_page_markdown((DOCS / "reference" / "config.md").read_text())
    assert "<!-- config-reference -->" not in rendered and "| `venue.fill_price` |" in rendered


def test_exit_codes_page_lists_every_code() -> None:
    page = (DOCS / "reference" / "exit-codes.md").read_text()
    codes = {int(m) for m in re.findall(r"^\| (\d) \|", page, re.M)}
    assert {int(c) for c in ExitCode} <= codes


def _nav_files(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [f for v in node.values() for f in _nav_files(v)]
    if isinstance(node, list):
        return [f for v in node for f in _nav_files(v)]
    return []


def test_every_page_is_in_the_navigation() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = set(_nav_files(config["nav"]))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert nav == pages
    for page in ("brokers/alpaca.md", "reference/api.md", "reference/config.md", "reference/exit-codes.md",
                 "simulated-venue.md", "getting-started.md"):
        assert page in nav


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = text[text.index("```bash\n") + len("```bash\n"):]
    first = [line.split("#")[0].strip() for line in block[:block.index("```")].splitlines()]
    assert first[:2] == ["make demo", "make test"]
    assert text.index("```bash") < text.index("\n## ")  # before any section
