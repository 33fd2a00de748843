"""Comparing the same targets run in two modes: the gap, per order and per symbol, checked by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import execlab as xl
from execlab._analysis.mode_comparison import compare_modes
from execlab._analysis.tca import TcaError, TcaResult, tca_from_backtest, transaction_costs

T = pd.Timestamp("2024-01-02 15:00")


def _run(mode: str, fills: dict[str, tuple[float, float]], decision: dict[str, float] | None = None,
         extra: bool = False) -> TcaResult:
    decision = decision or {}
    ids = ["A", "B", "C", *(["D"] if extra else [])]
    orders = pd.DataFrame({
        "client_order_id": ids,
        "symbol": ["X", "Y", "X", "X"][: len(ids)],
        "side": ["buy", "sell", "buy", "buy"][: len(ids)],
        "quantity": [100.0, 50.0, 10.0, 5.0][: len(ids)],
        "decision_price": [decision.get(i, p) for i, p in zip(ids, [10.0, 20.0, 10.0, 10.0], strict=False)],
        "timestamp": T,
        "status": "filled",
    })
    f = pd.DataFrame([{"client_order_id": k, "timestamp": T, "quantity": q, "price": p}
                      for k, (q, p) in fills.items()])
    return transaction_costs(orders, f, mode=mode)


@pytest.fixture
def backtest() -> TcaResult:
    return _run("backtest", {"A": (100.0, 10.00), "B": (50.0, 20.00), "C": (10.0, 10.05)})


@pytest.fixture
def paper() -> TcaResult:
    # A's paper decision price differs (10.01): the gap is still measured against the backtest's 10.00.
    return _run("paper", {"A": (100.0, 10.02), "B": (50.0, 19.97), "C": (10.0, 10.03), "D": (5.0, 10.0)},
                decision={"A": 10.01}, extra=True)


def test_gap_per_order_by_hand(backtest: TcaResult, paper: TcaResult) -> None:
    # A: buy, backtest 10.00 → 0 bps, paper 10.02 → (10.02 − 10.00) / 10.00 = 20 bps: gap +20 (paper worse)
    # B: sell, backtest 20.00 → 0 bps, paper 19.97 → −(19.97 − 20.00) / 20.00 = 15 bps: gap +15
    # C: buy, backtest 10.05 → 50 bps, paper 10.03 → 30 bps: gap −20 (paper better)
    cmp = compare_modes(backtest, paper)
    gaps = cmp.orders.set_index("client_order_id")["gap_bps"]
    assert gaps["A"] == pytest.approx(20.0)
    assert gaps["B"] == pytest.approx(15.0)
    assert gaps["C"] == pytest.approx(-20.0)
    a = cmp.orders.set_index("client_order_id").loc["A"]
    assert a["decision_gap_bps"] == pytest.approx(10.0)
    assert a["slippage_b_bps"] == pytest.approx(20.0)
    assert cmp.unmatched_b == ("D",) and cmp.unmatched_a == ()
    assert (cmp.label_a, cmp.label_b) == ("backtest", "paper")


def test_distribution_per_symbol_by_hand(backtest: TcaResult, paper: TcaResult) -> None:
    # X: gaps 20 and −20 → count 2, mean 0, std sqrt(20² + 20²) = 28.2843, mean |gap| 20;
    #    weighted by matched filled notional at the decision price (1 000 and 100): (20 · 1000 − 20 · 100) / 1100
    #    = 16.3636
    # Y: one gap of 15 (std undefined)
    # all: 20, 15, −20 → mean 5, median 15
    cmp = compare_modes(backtest, paper)
    by = cmp.by_symbol.set_index("symbol")
    x = by.loc["X"]
    assert x["count"] == 2 and x["mean"] == pytest.approx(0.0)
    assert x["std"] == pytest.approx(math.sqrt(800.0))
    assert x["mean_abs"] == pytest.approx(20.0)
    assert x["weighted_mean"] == pytest.approx(18000.0 / 1100.0)
    assert x["min"] == pytest.approx(-20.0) and x["max"] == pytest.approx(20.0)
    assert by.loc["Y", "mean"] == pytest.approx(15.0) and math.isnan(by.loc["Y", "std"])
    s = cmp.summary()
    assert s["count"] == 3 and s["mean"] == pytest.approx(5.0) and s["p50"] == pytest.approx(15.0)
    assert s["unmatched_b"] == 1
    assert "mean_gap_bps=5.00" in repr(cmp)


def test_match_on_symbol_and_day(backtest: TcaResult, paper: TcaResult) -> None:
    # X on 01-02, buys: backtest fills 100 @ 10.00 + 10 @ 10.05 → VWAP 1 100.5 / 110; paper (A and C, D is extra
    # and adds 5 @ 10.00) 100 @ 10.02 + 10 @ 10.03 + 5 @ 10.00 → 1 152.3 / 115; common decision price 10.00.
    cmp = compare_modes(backtest, paper, on=("symbol", "day"))
    x = cmp.orders.set_index("symbol").loc["X"]
    expected = ((1152.3 / 115) - (1100.5 / 110)) / 10.0 * 1e4
    assert x["gap_bps"] == pytest.approx(expected)
    assert x["orders_a"] == 2 and x["orders_b"] == 3
    assert list(cmp.orders["side"]) == ["buy", "sell"]


def test_unfilled_on_one_side_is_kept_but_not_counted(backtest: TcaResult) -> None:
    paper = _run("paper", {"A": (100.0, 10.02), "B": (50.0, 19.97)})
    cmp = compare_modes(backtest, paper)
    c = cmp.orders.set_index("client_order_id").loc["C"]
    assert math.isnan(c["gap_bps"]) and c["fill_rate_b"] == 0.0
    assert cmp.stats["count"] == 2
    # C unfilled in paper: its shortfall there is the opportunity cost at the arrival (= decision) price, 0 bps,
    # against 50 bps in the backtest
    assert c["shortfall_gap_bps"] == pytest.approx(-50.0)


def test_sides_must_agree() -> None:
    a = _run("backtest", {"A": (100.0, 10.0)})
    orders = a.orders.assign(side=["sell", "sell", "buy"])
    b = TcaResult(orders, a.fills)
    with pytest.raises(TcaError, match="'A' is a buy in a but a sell in b"):
        compare_modes(a, b)


def test_bad_key() -> None:
    a = _run("backtest", {"A": (100.0, 10.0)})
    with pytest.raises(TcaError, match="'desk' is not a column"):
        compare_modes(a, a, on="desk")


def test_two_backtests_of_the_same_targets_share_ids() -> None:
    # The same targets under two slippage settings: every order matches by id, and the gap is the extra slippage.
    bars = xl.sample_bars()
    bars = bars[(bars["timestamp"] >= "2012-01-01") & (bars["timestamp"] < "2012-03-01")
                & bars["symbol"].isin(["AAPL", "MSFT"])]
    times = sorted(bars["timestamp"].unique())[::5]
    targets = pd.DataFrame({"AAPL": [100.0, 300.0] * 4, "MSFT": [500.0, 200.0] * 4}, index=times[:8])
    base = xl.Config.from_mapping({"venue": {"slippage": {"model": "fixed_bps", "bps": 2}}})
    worse = xl.Config.from_mapping({"venue": {"slippage": {"model": "fixed_bps", "bps": 7}}})
    a = tca_from_backtest(xl.run_backtest(targets, bars, base))
    b = tca_from_backtest(xl.run_backtest(targets, bars, worse), mode="paper")
    cmp = compare_modes(a, b)
    assert cmp.stats["count"] == len(a.orders) == len(b.orders) and not cmp.unmatched_a
    # fills at close ± bps: s · (P(1 ± 7bp) − P(1 ± 2bp)) / P = 5 bps, decision price = close
    assert cmp.orders["gap_bps"].to_numpy() == pytest.approx(5.0)
    assert set(cmp.by_symbol["symbol"]) == {"AAPL", "MSFT"}
