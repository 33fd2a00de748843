"""Fixtures of the end-to-end tests: the Jupyter kernel the notebook runs use."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from ipykernel.kernelspec import install as install_kernelspec
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

KERNEL = "python3"


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
