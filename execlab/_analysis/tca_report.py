"""A transaction-cost report as one self-contained static HTML file (BokehJS inlined, so it opens offline).

Sections: headline figures, the shortfall split into delay, execution, fees and opportunity, the distribution of
slippage against arrival, slippage against order size and participation, costs by symbol and by mode / venue /
side, the worst orders, and how the numbers are defined. Bokeh loads only when a report is written.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from execlab._analysis.tca import TcaResult

if TYPE_CHECKING:
    from bokeh.models import Model

__all__ = ["write_tca_report"]

_WORST: Final = 20
_COMPONENTS: Final = (("delay", "delay_cost"), ("execution", "execution_cost"), ("fees", "fee_cost"),
                      ("opportunity", "opportunity_cost"))
_COST: Final = "#c0392b"
_GAIN: Final = "#2e8b57"
_BLUE: Final = "#1f5fa8"

_TEMPLATE_BODY: Final = """
{% block contents %}
<main>
{{ header }}
<h2>Implementation shortfall, by component</h2>
<p>In bps of the decision notional (the whole ordered quantity at the decision price); positive is a cost.</p>
{{ embed(roots[0]) }}
<h2>Slippage against arrival</h2>
<p>Per filled order: side-adjusted fill VWAP against the arrival price, in bps (positive: worse than arrival).</p>
{{ embed(roots[1]) }}
{{ embed(roots[2]) }}
{{ tables }}
</main>
<script type="application/json" id="execlab-tca-summary">{{ summary_json }}</script>
{% endblock %}
"""

DEFINITIONS: Final = (
    "Decision price: the price the plan sized the order on. Arrival price: the price when the order reached the "
    "market (mid or last at submission; a backtest's is the venue's model price at the first bar the order could "
    "trade). Without one, the decision price stands in.",
    "Delay = s·q·(arrival − decision); execution = s·q·(fill VWAP − arrival), impact and spread; fees as charged; "
    "opportunity = s·(ordered − filled)·(end price − decision), the cost of what was not filled; the shortfall is "
    "their sum (Perold). s is +1 for a buy, −1 for a sell; positive numbers are costs.",
    "End price: the close of the day the order ended from the bars, else its last fill price, else its arrival.",
    "Interval VWAP: the volume-weighted typical price (high + low + close) / 3 of the bars over the order's life, "
    "from decision to last fill. Close: the last close of the decision day. Participation: filled quantity over "
    "the market volume of those bars.",
    "Aggregates: costs are summed; bps are weighted by notional (shortfall by decision notional, slippage by filled "
    "quantity at the benchmark price).",
)


def write_tca_report(tca: TcaResult, path: str | Path, title: str = "execlab transaction costs") -> Path:
    """Write ``tca`` as a static HTML report to ``path`` (parent folders are created); return the path.

    The file needs no network: BokehJS is inlined. :meth:`TcaResult.summary` is also embedded as JSON in
    ``<script id="execlab-tca-summary">`` for tools that read reports.
    """
    from bokeh.embed import file_html

    from execlab._analysis.report_html import PAGE_STYLE, OfflineResources

    summary = tca.summary()
    variables = {
        "header": _header(tca, title, summary),
        "tables": _tables(tca),
        "summary_json": json.dumps({k: (v if math.isfinite(v) else None) for k, v in summary.items()}
                                   ).replace("</", "<\\/"),
    }
    template = ("{% from macros import embed %}\n{% block postamble %}\n" + PAGE_STYLE + "{% endblock %}"
                + _TEMPLATE_BODY)
    roots: list[Model] = [_decomposition_plot(summary), _histogram(tca.orders), _scatter(tca.orders)]
    page = file_html(roots, OfflineResources(), title, template=template, template_variables=variables)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target


# ---------------------------------------------------------------------------------------------------- figures


def _decomposition_plot(summary: dict[str, float]) -> Model:
    from bokeh.models import ColumnDataSource, FactorRange, HoverTool
    from bokeh.plotting import figure

    notional = summary["decision_notional"]
    names = [name for name, _ in _COMPONENTS] + ["shortfall"]
    amounts = [summary[col] for _, col in _COMPONENTS] + [summary["shortfall"]]
    bps = [a / notional * 1e4 if notional else math.nan for a in amounts]
    source = ColumnDataSource({"name": names, "bps": bps, "amount": amounts,
                               "color": [_BLUE if n == "shortfall" else _COST if b >= 0 else _GAIN
                                         for n, b in zip(names, bps, strict=True)]})
    fig = figure(name="shortfall-decomposition", x_range=FactorRange(factors=names), height=280,
                 sizing_mode="stretch_width", tools="save",
                 title="Shortfall = delay + execution + fees + opportunity (bps)")
    fig.vbar(x="name", top="bps", width=0.6, color="color", source=source)
    fig.add_tools(HoverTool(tooltips=[("component", "@name"), ("bps", "@bps{0.00}"),
                                      ("amount", "@amount{0,0.00}")]))
    fig.xgrid.grid_line_color = None
    return fig


def _histogram(orders: pd.DataFrame) -> Model:
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.plotting import figure

    values = orders["slippage_arrival_bps"].to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    counts, edges = np.histogram(values, bins=min(40, max(5, values.size // 5))) if values.size else (
        np.zeros(0), np.zeros(1))
    source = ColumnDataSource({"left": edges[:-1], "right": edges[1:], "count": counts})
    fig = figure(name="slippage-histogram", height=260, sizing_mode="stretch_width", tools="pan,box_zoom,reset,save",
                 title=f"Slippage vs arrival per filled order (bps), {values.size:,} orders")
    fig.quad(left="left", right="right", bottom=0, top="count", source=source, color=_BLUE, alpha=0.7,
             line_color="white")
    fig.add_tools(HoverTool(tooltips=[("bps", "@left{0.0} .. @right{0.0}"), ("orders", "@count")]))
    return fig


def _scatter(orders: pd.DataFrame) -> Model:
    from bokeh.layouts import row
    from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter
    from bokeh.plotting import figure

    filled = orders[np.isfinite(orders["slippage_arrival_bps"].to_numpy(dtype=np.float64))]
    notional = filled["filled_notional"].to_numpy(dtype=np.float64)
    participation = filled["participation"].to_numpy(dtype=np.float64)
    source = ColumnDataSource({
        "notional": notional,
        "participation": participation,
        "bps": filled["slippage_arrival_bps"].to_numpy(dtype=np.float64),
        "id": filled["client_order_id"].astype(str).to_numpy(),
        "symbol": filled["symbol"].astype(str).to_numpy(),
        "side": filled["side"].astype(str).to_numpy(),
        "color": np.where(filled["side"].to_numpy() == "buy", _BLUE, "#e67e22"),
    })
    tips = [("order", "@id"), ("symbol", "@symbol"), ("side", "@side"), ("filled notional", "@notional{0,0}"),
            ("participation", "@participation{0.000%}"), ("slippage", "@bps{0.00} bps")]
    positive = bool((notional > 0).any())
    size = figure(name="slippage-vs-size", height=300, sizing_mode="stretch_width",
                  x_axis_type="log" if positive else "linear", tools="pan,box_zoom,wheel_zoom,reset,save",
                  title="Slippage vs arrival (bps) against filled notional", x_axis_label="filled notional")
    size.scatter("notional", "bps", source=source, color="color", size=6, alpha=0.6)
    size.xaxis.formatter = NumeralTickFormatter(format="0,0")
    size.add_tools(HoverTool(tooltips=tips))
    figures = [size]
    if np.isfinite(participation).any():
        part = figure(name="slippage-vs-participation", height=300, sizing_mode="stretch_width",
                      tools="pan,box_zoom,wheel_zoom,reset,save", x_axis_label="participation",
                      title="Slippage vs arrival (bps) against participation (filled / market volume)")
        part.scatter("participation", "bps", source=source, color="color", size=6, alpha=0.6)
        part.xaxis.formatter = NumeralTickFormatter(format="0.0[000]%")
        part.add_tools(HoverTool(tooltips=tips))
        figures.append(part)
    return row(*figures, sizing_mode="stretch_width")


# --------------------------------------------------------------------------------------------------- sections


def _bps(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:,.2f} bps"


def _labels(orders: pd.DataFrame, column: str) -> str:
    values = sorted(set(orders[column].astype(str)))
    return ", ".join(values[:10]) + (f" (+{len(values) - 10} more)" if len(values) > 10 else "")


def _header(tca: TcaResult, title: str, summary: dict[str, float]) -> str:
    from execlab._analysis.report_html import _money, _pct, _table

    o = tca.orders
    notional = summary["decision_notional"]

    def cost(col: str) -> str:
        return f"{_money(summary[col])} ({_bps(summary[col] / notional * 1e4 if notional else math.nan)})"

    period = (f"{o['day'].min():%Y-%m-%d} .. {o['day'].max():%Y-%m-%d}" if len(o) else "no orders")
    rows = [
        ("Period (decision days)", period),
        ("Orders", f"{int(summary['orders']):,}"),
        ("Orders with fills", f"{int((o['filled_quantity'] > 0).sum()):,}"),
        ("Fills", f"{int(summary['fills']):,}"),
        ("Decision notional", _money(notional)),
        ("Filled notional", _money(summary["filled_notional"])),
        ("Fill rate (of decision notional)", _pct(summary["fill_rate"])),
        ("Implementation shortfall", cost("shortfall")),
        ("Delay cost", cost("delay_cost")),
        ("Execution cost", cost("execution_cost")),
        ("Fees", cost("fee_cost")),
        ("Opportunity cost", cost("opportunity_cost")),
        ("Slippage vs arrival", _bps(summary["slippage_arrival_bps"])),
        ("Slippage vs interval VWAP", _bps(summary["slippage_vwap_bps"])),
        ("Slippage vs close", _bps(summary["slippage_close_bps"])),
    ]
    sub = (f"mode {html.escape(_labels(o, 'mode'))} · venue {html.escape(_labels(o, 'venue'))} · "
           f"strategy {html.escape(_labels(o, 'strategy_id'))} · symbols {html.escape(_labels(o, 'symbol'))}")
    return f"<h1>{html.escape(title)}</h1>\n<p class=\"sub\">{sub}</p>\n{_table(rows, ('Headline', 'Value'))}"


_GROUP_COLUMNS: Final = ["orders", "fills", "decision_notional", "fill_rate", "delay_cost", "execution_cost",
                         "fee_cost", "opportunity_cost", "shortfall", "shortfall_bps", "slippage_arrival_bps",
                         "slippage_vwap_bps", "slippage_close_bps"]
_MONEY: Final = ["decision_notional", "filled_notional", "delay_cost", "execution_cost", "fee_cost", "fees",
                 "opportunity_cost", "shortfall"]
_WORST_COLUMNS: Final = ["client_order_id", "symbol", "side", "day", "status", "quantity", "filled_quantity",
                         "decision_price", "arrival_price", "fill_vwap", "delay_cost", "execution_cost", "fee_cost",
                         "opportunity_cost", "shortfall", "shortfall_bps", "slippage_arrival_bps"]


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """bps to two decimals (the tables show other numbers with up to four)."""
    out = frame.copy()
    for name in out.columns:
        if str(name).endswith("_bps"):
            out[name] = out[name].round(2)
    return out


def _tables(tca: TcaResult) -> str:
    from execlab._analysis.report_html import _frame

    def grouped(*keys: str) -> pd.DataFrame:
        out = _rounded(tca.by(*keys)[[*keys, *_GROUP_COLUMNS]])
        if "day" in keys:
            out["day"] = pd.DatetimeIndex(out["day"]).strftime("%Y-%m-%d")
        return out

    worst = _rounded(tca.worst(_WORST)[_WORST_COLUMNS])
    worst["day"] = pd.DatetimeIndex(worst["day"]).strftime("%Y-%m-%d")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in tca.notes)
    definitions = "".join(f"<li>{html.escape(d)}</li>" for d in DEFINITIONS)
    return "\n".join([
        "<h2>By symbol</h2>", _frame(grouped("symbol"), money=_MONEY, pct=["fill_rate"]),
        "<h2>By mode, venue and side</h2>", _frame(grouped("mode", "venue", "side"), money=_MONEY, pct=["fill_rate"]),
        "<h2>By day</h2>", _frame(grouped("day").tail(60), money=_MONEY, pct=["fill_rate"]),
        f"<h2>Worst {_WORST} orders by shortfall (bps)</h2>",
        f"<p>{len(tca.orders):,} orders in all; the full table is <code>tca.orders</code>.</p>",
        _frame(worst, money=[c for c in _MONEY if c in worst.columns]),
        "<h2>Definitions</h2>", f'<div class="note"><ul>{definitions}</ul></div>',
        *(["<h2>Notes on this data</h2>", f"<ul>{notes}</ul>"] if notes else []),
    ])
