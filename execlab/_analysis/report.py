"""``write_report`` without the import cost: bokeh loads only when a report is written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from execlab._runs.backtest import BacktestResult

__all__ = ["write_report"]


def write_report(result: BacktestResult, path: str | Path, title: str = "execlab backtest") -> Path:
    """Write a self-contained static HTML report of ``result`` to ``path``; returns the path written."""
    from execlab._analysis.report_html import write_report as write

    return write(result, path, title=title)
