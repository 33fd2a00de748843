"""A backtest report as one self-contained static HTML file (BokehJS inlined, so it opens offline).

Sections: the settings a newcomer should not mistake for realistic, headline figures (the tear sheet: returns,
risk, drawdown with its dates, costs in bps, exposure, versus a benchmark), equity and drawdown, monthly returns,
rolling Sharpe and exposure, costs by kind, turnover, final positions, the last orders and fills, what the
simulation does not model, the run's configuration and its symbols.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
from bokeh.embed import file_html
from bokeh.layouts import column
from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter
from bokeh.plotting import figure
from bokeh.resources import Resources

from execlab._analysis.report import default_settings
from execlab._runs.performance import ROLLING_WINDOW

if TYPE_CHECKING:
    from bokeh.models import Model

    from execlab._runs.backtest import BacktestResult
    from execlab._runs.performance import TearSheet

__all__ = ["write_report"]


class OfflineResources(Resources):
    """BokehJS inlined, and nothing else: bokeh otherwise adds the assets of every model class any imported library
    registered (Panel's Tabulator, for one, from a CDN) to every page, used or not."""

    def __init__(self, components: list[Any] | None = None) -> None:
        super().__init__(mode="inline", components=components)

    def clone(self, *, components: list[Any] | None = None) -> OfflineResources:
        return OfflineResources(components if components is not None else list(self.components))

    def _collect_external_resources(self, resource_attr: Any) -> list[str]:
        return []

_TAIL: Final = 50
_SYMBOLS_SHOWN: Final = 8
_BY_SYMBOL_SHOWN: Final = 25

NOT_MODELLED: Final = (
    "Corporate actions beyond the back-adjusted sample prices: splits and dividends are folded into the "
    "prices; there are no spin-offs, mergers, delistings or symbol changes.",
    "Borrow costs: no stock-loan fees, hard-to-borrow limits or recalls on short positions.",
    "Dividends as cash: dividends are not paid into cash; they only show through the adjusted prices.",
    "Market hours and holidays beyond the bars: a bar is a trading session; there are no auctions, halts, "
    "early closes or intraday timing other than what the bars hold.",
    "Queue position: limit orders fill when price crosses the limit, with no place in the order book queue.",
    "Interest on cash, margin interest, taxes and currency conversion.",
)

#: The page style of execlab's static HTML reports (backtest and TCA).
PAGE_STYLE: Final = """<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330;
         height: auto; }
  main { max-width: 1180px; margin: 0 auto; padding: 24px; }
  h1 { margin: 0 0 4px; font-size: 24px; }
  h2 { margin: 32px 0 8px; font-size: 18px; border-bottom: 1px solid #d8dde6; padding-bottom: 4px; }
  .sub { color: #5b6475; margin: 0 0 16px; }
  table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
  th, td { padding: 3px 10px; border-bottom: 1px solid #eceff4; text-align: right; white-space: nowrap; }
  th { background: #f4f6f9; }
  td:first-child, th:first-child { text-align: left; }
  .scroll { overflow-x: auto; }
  .note { background: #fff8e6; border-left: 4px solid #e0a800; padding: 8px 16px; }
  .headline { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: flex-start; }
  .headline table { min-width: 300px; }
  .monthly td.neg { color: #b02a1e; }
  pre { background: #f4f6f9; padding: 12px; overflow-x: auto; }
</style>
"""

_TEMPLATE: Final = """
{% from macros import embed %}
{% block postamble %}
""" + PAGE_STYLE + """{% endblock %}
{% block contents %}
<main>
{{ header }}
<h2>Equity and drawdown</h2>
{{ embed(roots[0]) }}
<h2>Monthly returns</h2>
{{ monthly }}
<h2>Rolling Sharpe and exposure</h2>
{{ embed(roots[2]) }}
{{ costs }}
<h2>Turnover</h2>
{{ turnover }}
{{ embed(roots[1]) }}
{{ tables }}
</main>
<script type="application/json" id="execlab-summary">{{ summary_json }}</script>
{% endblock %}
"""


def write_report(result: BacktestResult, path: str | Path, title: str = "execlab backtest",
                 benchmark: pd.Series | str | None = None, benchmark_name: str = "benchmark") -> Path:
    """Write ``result`` as a static HTML report to ``path`` (parent folders are created); return the path.

    ``benchmark``: its prices (or a symbol of the run), for beta, alpha, tracking error and information ratio.
    The file needs no network: BokehJS is inlined. The raw :meth:`BacktestResult.summary` (with the benchmark's
    figures when given) is also embedded as JSON in ``<script id="execlab-summary">`` for tools that read reports.
    """
    sheet = result.tear_sheet(benchmark)
    summary = result.summary(benchmark)
    variables = {
        "header": _header(result, title, summary, sheet, benchmark_name),
        "monthly": _monthly(sheet),
        "costs": _costs(result, summary),
        "turnover": _turnover_text(result),
        "tables": _tables(result),
        "summary_json": json.dumps(summary).replace("</", "<\\/"),
    }
    roots: list[Model] = [_equity_plot(result.equity, sheet, benchmark_name), _turnover_plot(result.turnover),
                          _rolling_plot(sheet)]
    page = file_html(roots, OfflineResources(), title, template=_TEMPLATE, template_variables=variables)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target


# ---------------------------------------------------------------------------------------------------- figures


def _equity_plot(equity: pd.Series, sheet: TearSheet, benchmark_name: str) -> Model:
    drawdown = equity / equity.cummax() - 1.0
    data: dict[str, Any] = {"t": equity.index.to_numpy(), "equity": equity.to_numpy(),
                            "drawdown": drawdown.to_numpy()}
    bench = sheet.benchmark_returns
    if bench is not None:  # the benchmark grown from the equity at the start of the measured span
        start = float(equity.loc[sheet.start])
        level = pd.concat([pd.Series([start], index=[sheet.start]), (1.0 + bench).cumprod() * start])
        data["benchmark"] = level.reindex(equity.index).to_numpy(dtype=np.float64)
    source = ColumnDataSource(data)
    top = figure(name="equity-curve", height=320, x_axis_type="datetime", sizing_mode="stretch_width",
                 title="Equity", tools="pan,xwheel_zoom,box_zoom,reset,save")
    top.line("t", "equity", source=source, line_width=1.5, color="#1f5fa8", legend_label="equity")
    if bench is not None:
        top.line("t", "benchmark", source=source, line_width=1.2, color="#7f8c8d", legend_label=benchmark_name)
    top.legend.location = "top_left"
    top.yaxis.formatter = NumeralTickFormatter(format="0,0")
    top.add_tools(HoverTool(tooltips=[("date", "@t{%F}"), ("equity", "@equity{0,0.00}"),
                                      ("drawdown", "@drawdown{0.00%}")], formatters={"@t": "datetime"},
                            mode="vline"))
    bottom = figure(name="drawdown", height=170, x_axis_type="datetime", sizing_mode="stretch_width",
                    title="Drawdown", x_range=top.x_range, tools="pan,xwheel_zoom,box_zoom,reset")
    bottom.varea(x="t", y1=0.0, y2="drawdown", source=source, color="#c0392b", alpha=0.35)
    bottom.line("t", "drawdown", source=source, color="#c0392b", line_width=1)
    bottom.yaxis.formatter = NumeralTickFormatter(format="0%")
    return column(top, bottom, sizing_mode="stretch_width")


def _rolling_plot(sheet: TearSheet) -> Model:
    rolling = sheet.rolling_sharpe
    source = ColumnDataSource({"t": rolling.index.to_numpy(), "sharpe": rolling.to_numpy()})
    top = figure(name="rolling-sharpe", height=220, x_axis_type="datetime", sizing_mode="stretch_width",
                 title=f"Rolling Sharpe ratio ({ROLLING_WINDOW} bars)",
                 tools="pan,xwheel_zoom,box_zoom,reset")
    top.line("t", "sharpe", source=source, color="#1f5fa8", line_width=1.2)
    exposure = sheet.exposure
    ex = ColumnDataSource({"t": exposure.index.to_numpy(), "gross": exposure["gross"].to_numpy(),
                           "net": exposure["net"].to_numpy()})
    bottom = figure(name="exposure", height=200, x_axis_type="datetime", sizing_mode="stretch_width",
                    title="Exposure (position value / equity)", x_range=top.x_range,
                    tools="pan,xwheel_zoom,box_zoom,reset")
    bottom.line("t", "gross", source=ex, color="#1f5fa8", legend_label="gross")
    bottom.line("t", "net", source=ex, color="#e67e22", legend_label="net", line_dash="dashed")
    bottom.legend.location = "top_left"
    bottom.yaxis.formatter = NumeralTickFormatter(format="0%")
    return column(top, bottom, sizing_mode="stretch_width")


def _turnover_plot(turnover: pd.Series) -> Model:
    traded = turnover[turnover > 0]
    source = ColumnDataSource({"t": traded.index.to_numpy(), "turnover": traded.to_numpy()})
    fig = figure(name="turnover", height=200, x_axis_type="datetime", sizing_mode="stretch_width",
                 title="Traded notional / equity, per bar with fills", tools="pan,xwheel_zoom,box_zoom,reset")
    fig.segment(x0="t", y0=0.0, x1="t", y1="turnover", source=source, color="#1f5fa8")
    fig.scatter("t", "turnover", source=source, size=3, color="#1f5fa8")
    fig.yaxis.formatter = NumeralTickFormatter(format="0%")
    fig.add_tools(HoverTool(tooltips=[("date", "@t{%F}"), ("turnover", "@turnover{0.00%}")],
                            formatters={"@t": "datetime"}))
    return fig


# --------------------------------------------------------------------------------------------------- sections


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _pct(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2%}"


def _table(rows: Iterable[tuple[str, str]], head: tuple[str, str] | None = None) -> str:
    out = ["<table>"]
    if head:
        out.append(f"<tr><th>{html.escape(head[0])}</th><th>{html.escape(head[1])}</th></tr>")
    out += [f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows]
    return "\n".join([*out, "</table>"])


def _number(value: float) -> str:
    """Up to four decimals, trailing zeros dropped: 9130.0 → 9,130 and 27.78 → 27.78."""
    if not math.isfinite(value):
        return "" if math.isnan(value) else str(value)
    text = f"{value:,.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _frame(frame: pd.DataFrame, money: Iterable[str] = (), pct: Iterable[str] = ()) -> str:
    """An escaped HTML table: money with two decimals, fractions as percentages, other numbers plain."""
    if frame.empty:
        return "<p>None.</p>"
    money_columns, pct_columns = set(money), set(pct)
    formatters: dict[str, Callable[[float], str]] = {}
    for name in frame.columns:
        if name in money_columns:
            formatters[name] = lambda v: "" if math.isnan(v) else _money(v)
        elif name in pct_columns:
            formatters[name] = lambda v: "" if math.isnan(v) else _pct(v)
        elif pd.api.types.is_float_dtype(frame[name]):
            formatters[name] = _number
    out = frame.copy()
    for name, fmt in formatters.items():
        out[name] = [fmt(float(v)) for v in out[name]]
    body = out.to_html(index=False, border=0, na_rep="", escape=True)
    return f'<div class="scroll">{body}</div>'


def _ratio(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2f}"


def _symbols(symbols: tuple[str, ...]) -> str:
    """The universe in a few words: all names when few, else the count and the first names."""
    if len(symbols) <= _SYMBOLS_SHOWN:
        return ", ".join(symbols)
    return f"{len(symbols):,}: {', '.join(symbols[:_SYMBOLS_SHOWN])} … (all in Symbols below)"


def _header(result: BacktestResult, title: str, summary: dict[str, float], sheet: TearSheet,
            benchmark_name: str) -> str:
    equity = result.equity
    start, end = equity.index[0], equity.index[-1]
    s = summary
    dd = sheet.drawdown
    recovered = f"{dd.recovery:%Y-%m-%d}" if dd.recovery is not None else "not yet"
    returns = [
        ("Period", f"{start:%Y-%m-%d} .. {end:%Y-%m-%d} ({len(equity):,} bars)"),
        ("Measured from", f"{sheet.start:%Y-%m-%d} (first rebalance)"),
        ("Symbols", _symbols(result.market.symbols)),
        ("Initial value", _money(s["initial_value"])),
        ("Final value", _money(s["final_value"])),
        ("Total return", _pct(s["total_return"])),
        ("CAGR", _pct(s["cagr"])),
        ("Hit rate (bars up / bars that moved)", _pct(s["hit_rate"])),
        ("Best / worst bar", f"{_pct(s['best_bar'])} / {_pct(s['worst_bar'])}"),
    ]
    risk = [
        ("Annualised volatility", _pct(s["volatility"])),
        ("Sharpe ratio", _ratio(s["sharpe"])),
        ("Sortino ratio", _ratio(s["sortino"])),
        ("Max drawdown", _pct(s["max_drawdown"])),
        ("  peak → trough", f"{dd.peak:%Y-%m-%d} → {dd.trough:%Y-%m-%d}"),
        ("  recovered", f"{recovered} ({dd.days:,} days)"),
        ("Calmar ratio", _ratio(s["calmar"])),
        ("Gross / net exposure (mean)", f"{_pct(s['gross_exposure'])} / {_pct(s['net_exposure'])}"),
        ("Time in market", _pct(s["time_in_market"])),
    ]
    trading = [
        ("Turnover (sum of traded notional / equity)", f"{s['turnover']:.2f}"),
        ("Turnover per year", _ratio(s["turnover_per_year"])),
        ("Costs, bps of traded notional", f"{s['cost_bps']:.2f}"),
        ("  fees / slippage, bps", f"{s['fee_bps']:.2f} / {s['slippage_bps']:.2f}"),
        ("Fees", _money(s["fees"])),
        ("Slippage", _money(s["slippage"])),
        ("Orders", f"{int(s['orders']):,}"),
        ("Orders filled", f"{int(s['orders_filled']):,}"),
        ("Orders denied", f"{int(s['orders_denied']):,}"),
        ("Fills", f"{int(s['fills']):,}"),
    ]
    tables = [_table(returns, ("Returns", "Value")), _table(risk, ("Risk", "Value")),
              _table(trading, ("Trading and costs", "Value"))]
    if "beta" in s:
        versus = [
            (f"{benchmark_name.capitalize()} total return", _pct(s["benchmark_return"])),
            (f"{benchmark_name.capitalize()} CAGR", _pct(s["benchmark_cagr"])),
            ("Beta", _ratio(s["beta"])),
            ("Alpha (annualised)", _pct(s["alpha"])),
            ("Correlation", _ratio(s["correlation"])),
            ("Tracking error", _pct(s["tracking_error"])),
            ("Information ratio", _ratio(s["information_ratio"])),
        ]
        tables.append(_table(versus, (f"Versus {benchmark_name}", "Value")))
    cfg = result.config
    sub = (f"run <b>{html.escape(cfg.run_id)}</b> · strategy {html.escape(cfg.strategy_id)} · "
           f"mode {cfg.mode} · fill price {cfg.venue.fill_price} · slippage {cfg.venue.slippage.model} · "
           f"fees {cfg.venue.fees.model} · currency {html.escape(cfg.currency)} · "
           f"{s['bars_per_year']:g} bars a year, risk-free rate 0")
    defaults = default_settings(cfg)
    note = ""
    if defaults:
        items = "".join(f"<li>{html.escape(d)}</li>" for d in defaults)
        note = (f'<div class="note" id="execlab-defaults"><p><b>Not realistic:</b> this run trades with</p>'
                f"<ul>{items}</ul><p>so its returns are better than any account could get. Set them in the "
                "config's <code>venue</code> section.</p></div>")
    return (f"<h1>{html.escape(title)}</h1>\n<p class=\"sub\">{sub}</p>\n{note}\n"
            f'<div class="headline" id="execlab-headline">{"".join(tables)}</div>')


def _month_cell(value: float) -> str:
    if math.isnan(value):
        return "<td></td>"
    return f'<td class="neg">{value:.1%}</td>' if value < 0 else f"<td>{value:.1%}</td>"


def _monthly(sheet: TearSheet) -> str:
    table = sheet.monthly_returns
    out = ['<div class="scroll"><table class="monthly"><tr><th>year</th>',
           *(f"<th>{html.escape(str(c))}</th>" for c in table.columns), "</tr>"]
    for year, row in table.iterrows():
        cells = "".join(_month_cell(float(v)) for v in row.to_numpy(dtype=np.float64))
        out.append(f"<tr><td>{year}</td>{cells}</tr>")
    return "".join([*out, "</table></div>"])


def _costs(result: BacktestResult, summary: dict[str, float]) -> str:
    fills = result.fills
    traded = float((fills["quantity"] * fills["price"]).sum()) if len(fills) else 0.0
    costs = result.costs
    kinds = {str(k): float(v) for k, v in costs.items()}
    kinds["total"] = sum(kinds.values())
    frame = pd.DataFrame({
        "kind": list(kinds),
        "amount": list(kinds.values()),
        "bps of traded notional": [v / traded * 1e4 if traded else np.nan for v in kinds.values()],
        "share of initial value": [v / summary["initial_value"] for v in kinds.values()],
    })
    note = f"<p>Traded notional: {_money(traded)} {html.escape(result.config.currency)}.</p>"
    by_symbol = ""
    if len(fills):
        grouped = fills.groupby("symbol")[["fee", "slippage_cost"]].sum()
        grouped = grouped.assign(total=grouped.sum(axis=1)).sort_values("total", ascending=False)
        shown = grouped.head(_BY_SYMBOL_SHOWN).reset_index()
        more = (f"<p>The {_BY_SYMBOL_SHOWN} costliest of {len(grouped):,} symbols.</p>"
                if len(grouped) > _BY_SYMBOL_SHOWN else "")
        by_symbol = "<h3>By symbol</h3>" + more + _frame(shown, money=["fee", "slippage_cost", "total"])
    table = _frame(frame, money=["amount"], pct=["share of initial value"])
    return "<h2>Costs by kind</h2>" + table + note + by_symbol


def _turnover_text(result: BacktestResult) -> str:
    turnover = result.turnover
    years = (turnover.index[-1] - turnover.index[0]).days / 365.25
    total = float(turnover.sum())
    active = turnover[turnover > 0]
    rows = [
        ("Total", f"{total:.2f}"),
        ("Per year", f"{total / years:.2f}" if years > 0 else "n/a"),
        ("Bars with fills", f"{len(active):,}"),
        ("Mean per bar with fills", _pct(float(active.mean())) if len(active) else "n/a"),
        ("Largest", _pct(float(active.max())) if len(active) else "n/a"),
    ]
    return _table(rows, ("Turnover (traded notional / equity)", "Value"))


def _positions(result: BacktestResult) -> pd.DataFrame:
    held = result.final_positions
    price = pd.Series(result.market.last_close()[-1], index=list(result.market.symbols))
    value = held * price
    equity = result.final_value
    frame = pd.DataFrame({"symbol": held.index, "quantity": held.to_numpy(), "last price": price.to_numpy(),
                          "market value": value.to_numpy(), "weight": value.to_numpy() / equity})
    cash = float(result.cash.iloc[-1])
    cash_row = pd.DataFrame({"symbol": ["cash"], "quantity": [np.nan], "last price": [np.nan],
                             "market value": [cash], "weight": [cash / equity]})
    return pd.concat([frame[frame["quantity"] != 0], cash_row], ignore_index=True)


def _tables(result: BacktestResult) -> str:
    orders = result.orders.drop(columns=["strategy_id", "run_id"]).tail(_TAIL)
    if len(orders):
        orders = orders.dropna(axis=1, how="all")  # limit/stop prices when every order is a market order
    fills = result.fills.tail(_TAIL)
    config = result.config.model_dump(mode="json", exclude={"broker", "live"})
    notes = "".join(f"<li>{html.escape(item)}</li>" for item in NOT_MODELLED)
    return "\n".join([
        "<h2>Final positions</h2>", _frame(_positions(result), money=["market value"], pct=["weight"]),
        f"<h2>Last {_TAIL} orders</h2>",
        f"<p>{len(result.orders):,} orders in all; the full table is <code>result.orders</code>.</p>",
        _frame(_timestamps(orders), money=["fees"]),
        f"<h2>Last {_TAIL} fills</h2>",
        f"<p>{len(result.fills):,} fills in all; the full table is <code>result.fills</code>.</p>",
        _frame(_timestamps(fills), money=["fee", "slippage_cost"]),
        "<h2>What is not modelled</h2>",
        '<div class="note"><p>The simulated venue fills from daily bars. It does not model:</p>'
        f"<ul>{notes}</ul><p>Returns are therefore those of a total-return price series traded at the bar "
        "prices, net of the modelled fees and slippage only.</p></div>",
        "<h2>Configuration</h2>",
        f"<pre>{html.escape(json.dumps(config, indent=2))}</pre>",
        "<h2>Symbols</h2>",
        f"<p>{html.escape(', '.join(result.market.symbols))}</p>",
    ])


def _timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    if out.empty:
        return out
    ts = pd.DatetimeIndex(out["timestamp"])
    out["timestamp"] = ts.strftime("%Y-%m-%d" if (ts == ts.normalize()).all() else "%Y-%m-%d %H:%M:%S")
    return out
