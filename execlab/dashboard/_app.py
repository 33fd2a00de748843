"""The Panel layout of the dashboard: fills, slippage, positions against targets, equity, costs, risk, kill switch.

Every view is drawn from :class:`execlab.dashboard._data.DashboardData`; a periodic callback re-reads the journal
and redraws what changed. The kill switch acts through one narrow hook: with a :class:`BrokerExecutor` it engages
:func:`execlab._brokers.kill_switch.engage_kill_switch` (halt, cancel every working order, optionally flatten);
without one it journals a halt (:func:`execlab._brokers.kill_switch.halt_trading`), which
:func:`execlab._runs.live.run_live_rebalance` obeys. Pressing it only arms it: a second button confirms (within
:data:`CONFIRM_SECONDS`), and the journal row names who confirmed. A read-only dashboard shows the switch disabled.
"""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import hvplot.pandas  # noqa: F401  (registers the pandas plotting backend)
import pandas as pd
import panel as pn
from hvplot import hvPlot

from execlab._brokers.contract import BrokerError
from execlab._brokers.executor import BrokerExecutor
from execlab._brokers.kill_switch import engage_kill_switch, halt_trading
from execlab._data.bars import MarketData
from execlab._oms.journal import Journal
from execlab.dashboard._data import DashboardData, load_dashboard_data

__all__ = ["CONFIRM_SECONDS", "dashboard"]

#: How long a pressed kill switch waits for its confirmation.
CONFIRM_SECONDS: Final = 60.0

# Panel's constructors are untyped (``param`` keyword arguments): they are reached through these Any handles.
_pane: Any = pn.pane
_widgets: Any = pn.widgets

_STATE_COLOURS: Final = {"active": "#1b7f3b", "reducing_only": "#b36b00", "halted": "#b00020"}
_PLOT: Final = {"height": 300, "responsive": True, "grid": True}
_MONEY: Final = {"type": "money", "thousand": ",", "precision": 2}
_PRICE: Final = {"type": "money", "thousand": ",", "precision": 4}
_BPS: Final = {"type": "money", "precision": 1}
_QTY: Final = {"type": "money", "thousand": ",", "precision": 0}


def _table_frame(fills: pd.DataFrame) -> pd.DataFrame:
    """The fills as the table shows them: times as text (UTC, to the millisecond)."""
    frame = fills.copy()
    if len(frame):
        frame["at"] = pd.to_datetime(frame["at"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3]
    return frame


def _note(text: str) -> Any:
    return _pane.Markdown(f"*{text}*", sizing_mode="stretch_width", height=_PLOT["height"])


class _Dashboard:
    """The widgets and panes of one dashboard session, and how they are refreshed."""

    def __init__(self, journal: Journal, run_id: str, executor: BrokerExecutor | None,
                 bars: pd.DataFrame | MarketData | None, refresh_seconds: float, title: str | None,
                 read_only: bool = False, operator: str | None = None) -> None:
        self.journal = journal
        self.run_id = run_id
        self.executor = executor
        self.bars = bars
        self.read_only = read_only
        self.operator = operator
        self._armed_at: float | None = None
        self._signature: tuple[Any, ...] | None = None
        self.header = _pane.Markdown(f"## {html.escape(title or f'execlab · run {run_id}')}",
                                       margin=(0, 10))
        self.risk = _pane.HTML("", sizing_mode="stretch_width", min_height=44)
        self.kill = _widgets.Button(label="Kill switch", color="danger", width=160, height=44, disabled=read_only,
                                      description="Read-only dashboard: start it with the broker config to act"
                                      if read_only else "Halt trading for this run" + (
                                          ", cancel every working order at the broker" if executor else
                                          " (journaled; no broker configured, so working orders are not cancelled)"))
        self.flatten = _widgets.Checkbox(label="and flatten every position", value=False,
                                           disabled=executor is None or read_only, width=200)
        self.confirm_text = _pane.HTML("", visible=False, sizing_mode="stretch_width")
        self.confirm = _widgets.Button(label="Confirm kill switch", color="danger", width=180, visible=False)
        self.cancel = _widgets.Button(label="Cancel", width=100, visible=False)
        self.message = _pane.HTML("", sizing_mode="stretch_width")
        self.kpis = _pane.HTML("", sizing_mode="stretch_width")
        self.table = _widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, pagination="local", page_size=20,
            sizing_mode="stretch_width", layout="fit_data_stretch", hidden_columns=["fill_id"],
            formatters={"quantity": _QTY, "price": _PRICE, "notional": _MONEY, "fee": _MONEY,
                        "decision_price": _PRICE, "slippage_decision_bps": _BPS, "slippage_arrival_bps": _BPS},
            titles={"slippage_decision_bps": "slip vs decision (bps)", "slippage_arrival_bps": "slip vs arrival (bps)",
                    "decision_price": "decision px", "order_status": "order status", "at": "time (UTC)"},
        )
        self.parents_title = _pane.Markdown("### Execution algorithms: parents", margin=(0, 10), visible=False)
        self.parents = _widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, sizing_mode="stretch_width", layout="fit_data_stretch",
            visible=False, hidden_columns=["parent_id"],
            formatters={"quantity": _QTY, "filled_quantity": _QTY, "working_quantity": _QTY},
            titles={"done_pct": "done (%)", "scheduled_pct": "scheduled (%)", "working_quantity": "working",
                    "filled_quantity": "filled", "end": "horizon ends (UTC)"})
        self.plots = {name: pn.Column(sizing_mode="stretch_width") for name in
                      ("histogram", "size", "participation", "positions", "equity", "costs")}
        self.kill.on_click(self._on_kill)
        self.confirm.on_click(self._on_confirm)
        self.cancel.on_click(self._on_cancel)
        self.refresh()
        if refresh_seconds > 0:
            pn.state.add_periodic_callback(self.refresh, period=int(refresh_seconds * 1000))

    # -- layout --------------------------------------------------------------------------------------------
    def layout(self) -> pn.Column:
        controls = pn.Row(self.risk, pn.Column(self.kill, self.flatten), sizing_mode="stretch_width")
        confirmation = pn.Row(self.confirm_text, self.confirm, self.cancel, sizing_mode="stretch_width")
        grid = pn.GridBox(*self.plots.values(), ncols=3, sizing_mode="stretch_width")
        note = [_pane.HTML('<div class="xl-read-only">Read-only: start the dashboard with <code>--config</code> '
                           "(the broker config) to use the kill switch.</div>")] if self.read_only else []
        return pn.Column(self.header, *note, controls, confirmation, self.message, self.kpis,
                         self.parents_title, self.parents,
                         _pane.Markdown("### Fills (newest first)", margin=(0, 10)), self.table,
                         grid, sizing_mode="stretch_width", name=f"execlab dashboard {self.run_id}")

    # -- refresh -------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the journal; redraw only when something changed."""
        data = load_dashboard_data(self.journal, self.run_id, self.bars)
        self._show_risk(data)
        self._show_kpis(data)
        signature = (len(data.fills), len(data.orders), tuple(data.orders["status"]),
                     float(data.orders["filled_quantity"].sum()) if len(data.orders) else 0.0,
                     tuple(data.positions["position"]), tuple(data.positions["target"]))
        if signature == self._signature:
            return
        self._signature = signature
        self.table.value = _table_frame(data.fills)
        shown = not data.parents.empty
        self.parents_title.visible = self.parents.visible = shown
        if shown:
            self.parents.value = data.parents.round({"done_pct": 1, "scheduled_pct": 1})
        self._draw(data)

    def _show_risk(self, data: DashboardData) -> None:
        r = data.risk
        colour = _STATE_COLOURS.get(r.state, "#b00020")
        label = r.state.replace("_", "-")
        when = f" · since {html.escape(r.at[:19].replace('T', ' '))} UTC" if r.at else ""
        self.risk.object = (
            f'<div class="xl-risk" data-state="{r.state}" style="display:flex;gap:12px;align-items:center;'
            f'font-size:15px"><span class="xl-risk-state" style="background:{colour};color:white;padding:8px 14px;'
            f'border-radius:4px;font-weight:600">Trading: {label}</span><span class="xl-risk-reason">'
            f"{html.escape(r.reason)}{when}</span></div>")

    def _show_kpis(self, data: DashboardData) -> None:
        o = data.orders
        filled = o[o["filled_quantity"] > 0] if len(o) else o
        notional = float(filled["filled_notional"].sum()) if len(o) else 0.0
        decision = float(o["decision_notional"].sum()) if len(o) else 0.0
        shortfall = float(o["shortfall"].sum()) if len(o) else 0.0
        bps = shortfall / decision * 1e4 if decision else float("nan")
        fees = float(o["fees"].sum()) if len(o) else 0.0
        items = [("orders", f"{len(o):,}"), ("working", f"{data.working_orders:,}"), ("fills", f"{len(data.fills):,}"),
                 ("filled notional", f"{notional:,.2f}"), ("shortfall", f"{shortfall:,.2f} ({bps:,.1f} bps)"),
                 ("fees", f"{fees:,.2f}"),
                 ("refreshed", f"{datetime.now(UTC):%H:%M:%S} UTC")]
        cells = "".join(f'<div style="padding:4px 14px;border-left:3px solid #ccc"><div style="color:#666;'
                        f'font-size:11px">{k}</div><div class="xl-kpi" style="font-size:17px">{v}</div></div>'
                        for k, v in items)
        self.kpis.object = f'<div style="display:flex;flex-wrap:wrap;gap:6px">{cells}</div>'

    def _draw(self, data: DashboardData) -> None:
        o = data.orders
        traded = o[o["filled_quantity"] > 0].copy()
        traded["order_size"] = traded["decision_notional"]
        traded["participation_pct"] = traded["participation"] * 100.0
        hover = ["symbol", "side", "quantity", "filled_quantity", "fill_vwap", "decision_price", "status"]
        views: dict[str, Any] = {}
        if traded.empty:
            views = dict.fromkeys(("histogram", "size", "participation"), _note("No filled orders yet."))
        else:
            bins = max(5, min(30, len(traded)))
            views["histogram"] = hvPlot(traded).hist(
                "shortfall_bps", bins=bins, title="Slippage per order (implementation shortfall, bps)",
                xlabel="shortfall (bps)", ylabel="orders", **_PLOT)
            views["size"] = hvPlot(traded).scatter(
                x="order_size", y="shortfall_bps", by="side", hover_cols=hover, size=60,
                title="Slippage against order size", xlabel="order size (decision notional)",
                ylabel="shortfall (bps)", **_PLOT)
            has_volume = traded["participation_pct"].notna()
            views["participation"] = (hvPlot(traded[has_volume]).scatter(
                x="participation_pct", y="shortfall_bps", by="side", hover_cols=hover, size=60,
                title="Slippage against participation", xlabel="participation (% of interval volume)",
                ylabel="shortfall (bps)", **_PLOT) if has_volume.any() else
                _note("Participation needs bars with volume: pass bars= (or --bars) to the dashboard."))
        if data.positions.empty:
            views["positions"] = _note("No positions or targets yet.")
        else:
            table = data.positions.reset_index()
            views["positions"] = hvPlot(table).bar(
                x="symbol", y="position", title="Positions (bars) against targets (red marks)",
                ylabel="quantity", hover_cols=["target", "journaled_target", "difference"], alpha=0.8,
                **_PLOT) * hvPlot(table).scatter(
                x="symbol", y="target", marker="dash", size=900, color="#d62728", line_width=3,
                hover_cols=["position", "difference"])
        if data.equity.empty:
            views["equity"] = _note("No fills or decisions yet.")
        else:
            views["equity"] = hvPlot(data.equity).line(
                x="at", y="pnl", title="Equity change (P&L marked at the last known price)",
                xlabel="time (UTC)", ylabel="P&L", hover_cols=["gross_exposure"], **_PLOT) * hvPlot(
                data.equity).scatter(x="at", y="pnl", size=25)
        if data.costs.empty:
            views["costs"] = _note("No costs yet.")
        else:
            costs = hvPlot(data.costs)
            views["costs"] = costs.line(
                x="at", y="total", label="total (shortfall)", line_width=5, alpha=0.45, color="#1f77b4",
                title="Cumulative trading costs", xlabel="time (UTC)", ylabel="cost", **_PLOT) * costs.line(
                x="at", y=["slippage", "opportunity", "fees"], color=["#d62728", "#ff7f0e", "#2ca02c"],
                legend="bottom_right")
        for name, view in views.items():
            self.plots[name].objects = [view if isinstance(view, pn.viewable.Viewable)
                                        else _pane.HoloViews(view, sizing_mode="stretch_width")]

    # -- kill switch ---------------------------------------------------------------------------------------
    def _on_kill(self, _event: object) -> None:
        """Arm the kill switch: say what it will do and wait for the confirmation."""
        if self.read_only:
            self._show_message("This dashboard is read-only: start it with the broker config to act.", "warning")
            return
        self._armed_at = time.monotonic()
        what = "cancel every working order at the broker" if self.executor is not None else (
            "journal a halt (no broker configured: orders already at the broker keep working)")
        if self.executor is not None and self.flatten.value:
            what += " and FLATTEN EVERY POSITION with market orders"
        self.confirm_text.object = (f'<div class="xl-confirm">Halt trading for run {html.escape(self.run_id)} and '
                                    f"{html.escape(what)}? Confirm within {CONFIRM_SECONDS:.0f} s.</div>")
        self._show_confirmation(True)

    def _on_cancel(self, _event: object) -> None:
        self._armed_at = None
        self._show_confirmation(False)
        self._show_message("Kill switch not engaged.", "info")

    def _show_confirmation(self, visible: bool) -> None:
        for widget in (self.confirm_text, self.confirm, self.cancel):
            widget.visible = visible

    def _on_confirm(self, _event: object) -> None:
        armed_at, self._armed_at = self._armed_at, None
        self._show_confirmation(False)
        if self.read_only or armed_at is None or time.monotonic() - armed_at > CONFIRM_SECONDS:
            self._show_message("Press the kill switch again: the confirmation expired.", "warning")
            return
        reason = "kill switch pressed on the dashboard"
        by = f"dashboard:{self.operator}" if self.operator else "dashboard"
        try:
            if self.executor is not None:
                report = engage_kill_switch(self.executor, self.journal, self.run_id, flatten=self.flatten.value,
                                            reason=reason, by=by)
                text = (f"Kill switch engaged: trading halted, {len(report.cancelled)} working orders cancelled, "
                        f"{len(report.flattened)} flattening orders sent.")
                if report.failures:
                    text += " Needs a person: " + "; ".join(report.failures)
                level = "danger" if report.failures else "warning"
            else:
                halt_trading(self.journal, self.run_id, reason, by=by)
                text = ("Trading halted in the journal: no rebalance of this run will trade. No broker is "
                        "configured, so orders already at the broker were not cancelled.")
                level = "warning"
        except BrokerError as exc:
            text, level = f"Kill switch: the broker call failed ({exc}); trading is halted in the journal.", "danger"
        self._show_message(text, level)
        self.refresh()

    def _show_message(self, text: str, level: str) -> None:
        self.message.object = (f'<div class="xl-kill-message alert alert-{level}" style="padding:8px 14px;'
                               f'border:1px solid #b00020;border-radius:4px">{html.escape(text)}</div>')


def dashboard(journal: Journal | str | Path, run_id: str, *, executor: BrokerExecutor | None = None,
              bars: pd.DataFrame | MarketData | None = None, refresh_seconds: float = 5.0,
              title: str | None = None, read_only: bool = False, operator: str | None = None) -> pn.Column:
    """The dashboard of ``run_id`` as a Panel layout: display it in Jupyter, or ``.servable()`` / serve it.

    Args:
        journal: the run's journal, or the path of its SQLite file (opened here).
        run_id: the run to show.
        executor: the broker the kill switch acts on (halt, cancel working orders, optionally flatten). Without
            one the kill switch journals a halt that stops every later rebalance of the run.
        bars: long OHLCV bars, so TCA can measure participation and the interval VWAP.
        refresh_seconds: how often the journal is re-read (0: never).
        title: the heading (default ``execlab · run <run_id>``).
        read_only: show the kill switch disabled (a served dashboard without the broker config).
        operator: who is using this page (the served dashboard's logged-in user); journaled with a kill switch.
    """
    pn.extension("tabulator")
    if not isinstance(journal, Journal) and not Path(journal).is_file():
        raise FileNotFoundError(f"journal: no such file {journal}")
    book = journal if isinstance(journal, Journal) else Journal(journal)
    return _Dashboard(book, run_id, executor, bars, refresh_seconds, title, read_only, operator).layout()
