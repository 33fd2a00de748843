"""Every notebook in notebooks/ runs top to bottom under papermill, and none is committed with outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

from helpers.paths import EXAMPLES
from helpers.paths import NOTEBOOKS as NOTEBOOK_DIR

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
PARAMETERS = {"config_path": str(EXAMPLES / "demo.yaml")}


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_has_no_stored_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
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
