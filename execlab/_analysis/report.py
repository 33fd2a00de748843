"""``write_report`` without the import cost: bokeh loads only when a report is written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from execlab._config import Config
    from execlab._runs.backtest import BacktestResult

__all__ = ["default_settings", "write_report"]


def write_report(result: BacktestResult, path: str | Path, title: str = "execlab backtest",
                 benchmark: pd.Series | str | None = None, benchmark_name: str = "benchmark") -> Path:
    """Write a self-contained static HTML report of ``result`` to ``path``; returns the path written.

    ``benchmark``: its prices (or a symbol of the run), for beta, alpha, tracking error and information ratio.
    """
    from execlab._analysis.report_html import write_report as write

    return write(result, path, title=title, benchmark=benchmark, benchmark_name=benchmark_name)


def default_settings(config: Config) -> list[str]:
    """The settings of ``config`` that flatter a backtest (fills at the deciding close, no costs, no volume cap),
    each said in words, marked when it is the default rather than chosen."""
    venue = config.venue
    chose_venue = "venue" in config.model_fields_set

    def how(section: Any, name: str) -> str:
        chosen = chose_venue and name in section.model_fields_set
        return "set in the config" if chosen else "the default"

    out = []
    if venue.fill_price == "close":
        out.append("Orders fill at the close of the bar that decided them (venue.fill_price: close, "
                   f"{how(venue, 'fill_price')}): a price no one could trade at after seeing it; next_open is the "
                   "usual honest choice.")
    if venue.slippage.model == "none":
        out.append(f"No slippage or market impact (venue.slippage.model: none, {how(venue, 'slippage')}).")
    if venue.fees.model == "none":
        out.append(f"No fees or commissions (venue.fees.model: none, {how(venue, 'fees')}).")
    if venue.participation_cap is None:
        out.append("No volume cap: any order fills in full on one bar whatever its size against the bar's volume "
                   f"(venue.participation_cap, {how(venue, 'participation_cap')}).")
    return out


