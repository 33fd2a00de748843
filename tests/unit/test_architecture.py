"""The floor plan: layers import only downwards, modes are chosen in one place, ``import execlab`` stays light.

These read the source (``ast``), so a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import execlab

PACKAGE: Final = Path(execlab.__file__).resolve().parent

#: Pipeline order. A module may import its own layer and layers of a lower rank, never a higher one.
RANK: Final = {
    "_core": 0,
    "_config": 1,
    "_data": 2,
    "_plan": 3,
    "_risk": 4,
    "_oms": 5,
    "_sim": 6,
    # The executor interface and its implementations; the broker machinery implements that interface; the local
    # venues put the simulated venue behind a broker's wire protocol; adapters map a broker's SDK.
    "_execution": 7,
    "_algos": 7,  # the execution algorithms' scheduler: pure, beside the executors it feeds
    "_brokers": 7,
    "adapters": 7,
    "venues": 7,
    "_runs": 8,
    "strategies": 8,
    "_analysis": 9,
    "dashboard": 10,
    "_cli": 11,
    "__init__": 12,
    # The public namespaces: like ``__init__``, lazy re-exports of the layers.
    "brokers": 12,
    "config": 12,
    "oms": 12,
    "sim": 12,
    "testing": 12,
}

#: Layers that must never reach a broker, an SDK adapter or a local venue.
BROKER_FREE: Final = ("_core", "_data", "_plan", "_risk", "_oms", "_sim", "_algos")
BROKER_SIDE: Final = ("_brokers", "adapters", "venues")

#: The only places that may branch on ``config.mode`` or the broker's name.
MODE_BRANCHES_ALLOWED: Final = ("_config.py", "_execution/factory.py", "_cli/")
#: Checks that refuse a config meant for another driver (they raise; they choose nothing).
MODE_GUARDS: Final = {
    ("_runs/backtest.py", "cfg.mode != 'backtest'"),
    ("_runs/paper.py", "cfg.mode != 'paper'"),
    ("_runs/paper.py", "cfg.broker.name != 'sim'"),
}

#: Modules ``import execlab`` must not load: servers, SDKs, plotting, notebooks, browsers.
HEAVY: Final = ("aiohttp", "websockets", "alpaca", "ib_async", "ccxt", "oandapyV20", "panel", "bokeh", "holoviews",
                "hvplot", "matplotlib", "papermill", "nbformat", "playwright", "vectorbt", "backtrader",
                "execlab.venues", "execlab.adapters", "execlab.dashboard", "execlab._cli")


def _modules() -> Iterator[tuple[Path, str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        layer = rel.parts[0].removesuffix(".py")
        yield rel, layer, ast.parse(path.read_text(), filename=str(path))


def _imported_layers(tree: ast.Module) -> Iterator[tuple[int, str, str]]:
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "execlab" else [f"execlab.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "execlab" and len(parts) > 1:
                yield node.lineno, parts[1], name


def test_top_level_is_small() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 12, modules
    layers = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")}
    unknown = layers - set(RANK) - {"schemas"}
    assert not unknown, f"subpackages without a rank in this test: {sorted(unknown)}"


def test_layers_import_only_downwards() -> None:
    wrong = []
    for rel, layer, tree in _modules():
        for line, target, name in _imported_layers(tree):
            if target not in RANK:  # a public name re-exported by execlab/__init__ (``from execlab import X``)
                continue
            if RANK[target] > RANK[layer]:
                wrong.append(f"{rel}:{line} ({layer}) imports {name} ({target})")
    assert not wrong, "\n".join(wrong)


def test_pipeline_layers_never_reach_a_broker() -> None:
    wrong = [f"{rel}:{line} imports {name}"
             for rel, layer, tree in _modules() if layer in BROKER_FREE
             for line, target, name in _imported_layers(tree) if target in BROKER_SIDE]
    assert not wrong, "\n".join(wrong)


def _is_mode_or_broker(node: ast.expr) -> bool:
    if not isinstance(node, ast.Attribute):
        return False
    if node.attr == "mode":
        return True
    owner = node.value
    owner_name = owner.attr if isinstance(owner, ast.Attribute) else owner.id if isinstance(owner, ast.Name) else ""
    return node.attr == "name" and owner_name == "broker"


def test_modes_are_chosen_in_one_place() -> None:
    found = []
    for rel, _layer, tree in _modules():
        where = rel.as_posix()
        if where.startswith(MODE_BRANCHES_ALLOWED):
            continue
        for node in ast.walk(tree):
            compared = isinstance(node, ast.Compare) and any(_is_mode_or_broker(s) for s in [node.left,
                                                                                               *node.comparators])
            matched = isinstance(node, ast.Match) and _is_mode_or_broker(node.subject)
            if (compared or matched) and (where, ast.unparse(node)) not in MODE_GUARDS:
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "mode or broker branching outside the executor factory, the config and the CLI:\n" + \
        "\n".join(found)


def test_the_architecture_checks_can_fail(tmp_path: Path) -> None:
    """The detectors above see what they are meant to see."""
    bad = ast.parse("from execlab._brokers.executor import BrokerExecutor\nif config.mode == 'live':\n    pass\n")
    assert [t for _, t, _ in _imported_layers(bad)] == ["_brokers"]
    assert any(isinstance(n, ast.Compare) and _is_mode_or_broker(n.left) for n in ast.walk(bad))
    assert _is_mode_or_broker(ast.parse("cfg.broker.name", mode="eval").body)


def test_import_execlab_stays_light() -> None:
    code = ("import sys, execlab\n"
            f"heavy = {HEAVY!r}\n"
            "print(sorted(m for m in sys.modules if m in heavy or m.startswith(tuple(h + '.' for h in heavy))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"import execlab loaded {out}"
