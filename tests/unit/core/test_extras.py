"""A missing optional dependency fails with the pip extra that installs it, from the library and the CLI."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from execlab._core.extras import EXTRAS, MissingExtraError, require_extra


def test_missing_package_names_the_extra() -> None:
    with pytest.raises(MissingExtraError, match=r'The X adapter needs .*pip install "execlab\[fx\]"') as info:
        require_extra("execlab_no_such_sdk.client", "The X adapter", extra="fx")
    assert isinstance(info.value, ImportError) and info.value.name == "execlab_no_such_sdk"


def test_installed_module_is_returned() -> None:
    assert require_extra("json", "a test").dumps([1]) == "[1]"


def test_a_broken_install_is_not_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An import error inside an installed package is its own (a bug, a broken install), not a missing extra."""
    (tmp_path / "execlab_broken_sdk").mkdir()
    (tmp_path / "execlab_broken_sdk" / "__init__.py").write_text("import execlab_missing_dependency_of_it\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as info:
        require_extra("execlab_broken_sdk", "a test", extra="fx")
    assert not isinstance(info.value, MissingExtraError)
    assert info.value.name == "execlab_missing_dependency_of_it"


def test_every_extra_module_maps_to_a_declared_extra() -> None:
    import tomllib

    from helpers.paths import ROOT

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(EXTRAS.values()) <= set(extras)


def _without(module: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter in which ``module`` cannot be imported (as if not installed)."""
    prelude = textwrap.dedent(f"""
        import sys
        class _Hide:
            def find_spec(self, name, path=None, target=None):
                if name == {module!r} or name.startswith({module!r} + "."):
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, _Hide())
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def test_alpaca_adapter_without_alpaca_py() -> None:
    proc = _without("alpaca", """
        from execlab.adapters.alpaca import AlpacaConfig  # the config model needs no SDK
        print("config", AlpacaConfig.__name__)
        try:
            from execlab.adapters.alpaca import AlpacaAdapter
        except ImportError as exc:
            print(type(exc).__name__, exc)
    """)
    assert "config AlpacaConfig" in proc.stdout, proc.stderr
    assert 'MissingExtraError The Alpaca adapter needs the \'alpaca\' package' in proc.stdout, proc.stderr
    assert 'pip install "execlab[alpaca]"' in proc.stdout


def test_ib_adapter_without_ib_async() -> None:
    proc = _without("ib_async", """
        import execlab
        cfg = execlab.load_config({"mode": "paper", "broker": {"name": "ibkr"}})  # validates without the SDK
        print("config", type(cfg.broker).__name__)
        try:
            from execlab.adapters.ibkr import IBAdapter
        except ImportError as exc:
            print(type(exc).__name__, exc)
    """)
    assert "config IBConfig" in proc.stdout, proc.stderr
    assert "MissingExtraError The Interactive Brokers adapter needs the 'ib_async' package" in proc.stdout, proc.stderr
    assert 'pip install "execlab[ibkr]"' in proc.stdout


def test_cli_notebook_run_without_papermill() -> None:
    proc = _without("papermill", """
        sys.argv = ["execlab", "notebook", "run", "scheduled_rebalance"]
        from execlab._cli.main import main
        main()
    """)
    assert proc.returncode == 2, proc.stderr
    assert 'execlab notebook run needs the \'papermill\' package' in proc.stderr
    assert 'pip install "execlab[notebooks]"' in proc.stderr and "Traceback" not in proc.stderr
