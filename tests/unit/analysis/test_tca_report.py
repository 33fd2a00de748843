"""The static HTML TCA report: one self-contained file that shows the result's numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import execlab as xl
from execlab._analysis.tca import TcaResult, tca_from_backtest, transaction_costs
from execlab._analysis.tca_report import write_tca_report


def _tca() -> TcaResult:
    # The worked example of test_tca.py without bars: A (buy, full), B (sell), C (partial, cancelled).
    orders = pd.DataFrame({
        "client_order_id": ["A", "B", "C"], "symbol": ["X", "Y", "X"], "side": ["buy", "sell", "buy"],
        "quantity": [100.0, 50.0, 200.0], "decision_price": [10.0, 20.0, 10.0], "arrival_price": [10.05, np.nan, 10.0],
        "timestamp": pd.Timestamp("2024-01-02 10:00"), "status": ["filled", "filled", "cancelled"],
    })
    fills = pd.DataFrame({
        "client_order_id": ["A", "B", "C", "C"],
        "timestamp": pd.to_datetime(["2024-01-02 11:00", "2024-01-02 11:00", "2024-01-02 12:00", "2024-01-03 10:00"]),
        "quantity": [100.0, 50.0, 60.0, 20.0], "price": [10.10, 19.90, 10.20, 10.40], "fee": [1.0, 0.5, 0.3, 0.1],
    })
    return transaction_costs(orders, fills, mode="paper", venue="alpaca")


def _script_sources(page: str) -> list[str]:
    return re.findall(r"<script[^>]*\bsrc=[\"']([^\"']+)", page)


def test_report_is_self_contained_and_shows_the_numbers(tmp_path: Path) -> None:
    tca = _tca()
    path = write_tca_report(tca, tmp_path / "nested" / "tca.html", title="Desk <TCA>")
    page = path.read_text(encoding="utf-8")
    assert path.exists() and path.parent.name == "nested"
    # offline: no script (or stylesheet) fetched over the network; BokehJS is inlined
    assert not [s for s in _script_sources(page) if s.startswith(("http:", "https:", "//"))]
    assert not re.search(r"<link[^>]+href=[\"']https?:", page)
    assert "Bokeh" in page and len(page) > 100_000
    assert "Desk &lt;TCA&gt;" in page  # the title is escaped
    # shortfall: A 11.00 + B 5.50 + C (20.00 + 0.40 + 120 · (10.40 − 10.00) = 68.40) = 84.90 of 4 000 → 212.25 bps
    s = tca.summary()
    assert s["shortfall"] == pytest.approx(84.9)
    assert "84.90 (212.25 bps)" in page
    assert "Delay cost</td><td>5.00 (12.50 bps)" in page
    assert "Opportunity cost</td><td>48.00 (120.00 bps)" in page
    assert "mode paper" in page and "venue alpaca" in page
    for section in ("Implementation shortfall, by component", "Slippage against arrival", "By symbol",
                    "By mode, venue and side", "Worst 20 orders", "Definitions"):
        assert section in page
    for name in ("shortfall-decomposition", "slippage-histogram", "slippage-vs-size"):
        assert name in page
    # the by-symbol table has X's shortfall (11.00 + 68.40 = 79.40) and the worst table lists every order
    assert "79.40" in page
    assert all(coid in page for coid in ("A", "B", "C"))
    embedded = re.search(r'<script type="application/json" id="execlab-tca-summary">(.*?)</script>', page, re.S)
    assert embedded is not None
    data = json.loads(embedded.group(1))
    assert data["shortfall"] == pytest.approx(s["shortfall"])
    assert data["slippage_vwap_bps"] is None  # no bars: NaN in the summary, null in the JSON


def test_report_of_a_backtest_with_participation(tmp_path: Path) -> None:
    bars = xl.sample_bars()
    bars = bars[(bars["timestamp"] >= "2012-01-01") & (bars["timestamp"] < "2012-06-01")]
    times = sorted(bars["timestamp"].unique())[::15]
    targets = pd.DataFrame({"AAPL": 0.2, "MSFT": 0.2, "IBM": 0.2}, index=times)
    targets.iloc[1::2] = 0.05
    cfg = xl.Config.from_mapping({"plan": {"target_unit": "weight"},
                                  "venue": {"fill_price": "next_open", "slippage": {"model": "fixed_bps", "bps": 3},
                                            "fees": {"model": "bps", "bps": 1}}})
    tca = tca_from_backtest(xl.run_backtest(targets, bars, cfg))
    page = write_tca_report(tca, tmp_path / "bt.html").read_text(encoding="utf-8")
    assert "slippage-vs-participation" in page
    assert "mode backtest" in page
    by = tca.by("symbol").set_index("symbol")
    assert f"{by.loc['AAPL', 'shortfall']:,.2f}" in page


def test_report_with_no_fills(tmp_path: Path) -> None:
    orders = pd.DataFrame({"client_order_id": ["A"], "symbol": ["X"], "side": ["buy"], "quantity": [10.0],
                           "decision_price": [10.0], "timestamp": [pd.Timestamp("2024-01-02")],
                           "status": ["rejected"]})
    fills = pd.DataFrame(columns=["client_order_id", "timestamp", "quantity", "price"])
    page = write_tca_report(transaction_costs(orders, fills), tmp_path / "empty.html").read_text(encoding="utf-8")
    assert "0 orders" in page or "Slippage vs arrival per filled order (bps), 0 orders" in page


def test_report_stays_offline_after_panel_registered_its_models(tmp_path: Path) -> None:
    """Bokeh links the assets of every registered model class (Panel's Tabulator from a CDN) into every page."""
    import panel as pn

    pn.extension("tabulator")
    page = write_tca_report(_tca(), tmp_path / "tca.html").read_text(encoding="utf-8")
    assert not re.search(r"<link[^>]+href=", page)
    assert not re.search(r"<script[^>]+src=", page)
    assert "tabulator" not in page.lower()
