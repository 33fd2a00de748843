"""Optional dependencies: which pip extra brings which package, and the one import that says so when it is missing.

The broker SDKs, the dashboard and the notebook runner are extras (``pip install "execlab[alpaca]"``); the modules
that need one call :func:`require_extra` before importing it, so a missing package fails with the command that
installs it instead of a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Final

__all__ = ["EXTRAS", "MissingExtraError", "require_extra"]

#: The extra that installs each optional top-level module (see ``[project.optional-dependencies]``).
EXTRAS: Final[dict[str, str]] = {
    "alpaca": "alpaca",
    "ib_async": "ibkr",
    "ccxt": "crypto",
    "oandapyV20": "fx",
    "panel": "dashboard",
    "hvplot": "dashboard",
    "papermill": "notebooks",
    "jupyterlab": "notebooks",
}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def require_extra(module: str, feature: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` for ``feature`` (words such as "the Alpaca adapter"), or raise
    :class:`MissingExtraError` naming ``pip install "execlab[<extra>]"`` when its package is not installed.

    ``extra`` defaults to the one :data:`EXTRAS` lists for the module's top-level package. An import error from
    inside an installed package (a broken install, a bug) is not hidden.
    """
    top = module.split(".", 1)[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".", 1)[0] != top:
            raise
        name = extra or EXTRAS.get(top, "all")
        raise MissingExtraError(
            f"{feature} needs the {top!r} package, which is not installed: pip install \"execlab[{name}]\" "
            f"(or \"execlab[all]\")", name=top) from exc
