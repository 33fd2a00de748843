"""Every notebook in notebooks/ runs top to bottom under papermill, and none is committed with outputs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import papermill
import pytest
from ipykernel.kernelspec import install as install_kernelspec
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "python3"
PARAMETERS = {"config_path": str(ROOT / "examples" / "demo.yaml")}


def _runs_this_python(argv0: str) -> bool:
    """Whether a kernelspec's argv[0] starts this interpreter (jupyter_client maps bare ``python*`` to it)."""
    if argv0 in {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}:
        return True
    found = shutil.which(argv0)
    return found is not None and Path(found).resolve() == Path(sys.executable).resolve()


@pytest.fixture()
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The ``python3`` kernel name, made to resolve to this venv's interpreter."""
    try:
        argv0 = KernelSpecManager().get_kernel_spec(KERNEL).argv[0]
    except NoSuchKernel:
        argv0 = ""
    if not _runs_this_python(argv0):
        install_kernelspec(kernel_name=KERNEL, prefix=str(tmp_path / "jupyter"))
        monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter" / "share" / "jupyter"))
        assert _runs_this_python(KernelSpecManager().get_kernel_spec(KERNEL).argv[0])
    return KERNEL


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_has_no_stored_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == KERNEL
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} has stored outputs"
            assert cell.execution_count is None, f"cell {index} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, kernel: str) -> None:
    output = tmp_path / path.name
    nb = nbformat.read(path, as_version=4)
    declared = {name for cell in nb.cells if "parameters" in cell.metadata.get("tags", [])
                for name in PARAMETERS if name in cell.source}
    papermill.execute_notebook(str(path), str(output), parameters={k: PARAMETERS[k] for k in declared},
                               kernel_name=kernel, cwd=str(path.parent), progress_bar=False, log_output=False)
    executed = nbformat.read(output, as_version=4)
    errors = [out for cell in executed.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert errors == []
    assert all(cell.execution_count for cell in executed.cells if cell.cell_type == "code")
