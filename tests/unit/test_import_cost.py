"""What ``import execlab`` and ``execlab --help`` may load: the standard library and little else.

Timings are not asserted here (``benchmarks/bench_import.py`` prints them); the modules loaded are, which is what
makes the time: pandas, numba, pydantic, the SDKs and the plotting libraries each cost from 0.2 s to seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Final

import execlab

#: Third-party top-level packages ``execlab --help`` may load: typer and what it renders help with.
CLI_ALLOWED: Final = frozenset({"typer", "click", "rich", "shellingham", "markdown_it", "mdurl", "pygments",
                                "annotated_doc", "typing_extensions"})


def _loaded(code: str) -> dict[str, list[str]]:
    script = (f"{code}\nimport sys, json\n"
              "tops = sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names))\n"
              "print(json.dumps({'tops': tops, 'execlab': sorted(m for m in sys.modules if m.startswith('execlab'))}))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    loaded: dict[str, list[str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def _third_party(tops: list[str]) -> set[str]:
    return {t for t in tops if not t.startswith(("_", "execlab")) and t not in ("__main__",)}


def test_import_execlab_loads_only_itself() -> None:
    loaded = _loaded("import execlab")
    assert _third_party(loaded["tops"]) == set(), loaded["tops"]
    assert loaded["execlab"] == ["execlab", "execlab._core", "execlab._core.lazy"]


def test_a_name_loads_what_it_needs_and_no_more() -> None:
    """``execlab.Config`` needs pydantic and yaml, not pandas, numba or bokeh."""
    loaded = _loaded("import execlab\nexeclab.Config\nexeclab.write_report")
    third = _third_party(loaded["tops"])
    assert "pydantic" in third
    assert not third & {"pandas", "numpy", "numba", "polars", "pyarrow", "bokeh", "panel", "alpaca", "aiohttp"}, third


def test_cli_help_loads_no_data_stack() -> None:
    loaded = _loaded("import execlab._cli.main")
    third = _third_party(loaded["tops"])
    assert third <= CLI_ALLOWED, sorted(third - CLI_ALLOWED)


def test_every_public_name_resolves_lazily() -> None:
    assert set(dir(execlab)) >= set(execlab.__all__)
    code = "import execlab\n" + "".join(f"execlab.{name}\n" for name in execlab.__all__)
    loaded = _loaded(code)
    assert "execlab._runs.backtest" in loaded["execlab"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        execlab.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("execlab.no_such_name resolved")
