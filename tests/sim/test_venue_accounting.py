"""Simulated venue accounting: participation cap, cash and margin limits, positions, equity, and
``run_backtest`` end to end, all against hand-computed numbers on small hand-made bars.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from execlab import (
    Config,
    FeeConfig,
    MarginConfig,
    MarketData,
    OrderEvents,
    PlanConfig,
    RiskConfig,
    SimulatedVenue,
    SlippageConfig,
    VenueConfig,
    run_backtest,
)
from execlab._core.codes import CANCELLED, FILLED, PARTIALLY_FILLED, REJECTED, VenueReason

from helpers.orders import order_batch as _orders

DAY0 = pd.Timestamp("2024-01-02")
CASH = 1_000_000.0
TOL = 1e-9


def _bars(closes: dict[str, list[float]], volume: float | list[float] = 1e9) -> MarketData:
    """Daily bars with open = high = low = close per symbol; NaN closes are missing bars."""
    n = len(next(iter(closes.values())))
    days = pd.date_range(DAY0, periods=n, freq="D")
    vols = volume if isinstance(volume, list) else [volume] * n
    rows = [(days[i], s, c[i], vols[i]) for s, c in closes.items() for i in range(n) if not np.isnan(c[i])]
    return MarketData.from_bars(pd.DataFrame(rows, columns=["timestamp", "symbol", "close", "volume"]))


def _venue(market: MarketData, cash: float = CASH, lot: float = 1.0, **venue: Any) -> SimulatedVenue:
    # Shorting is a plan decision (plan.allow_short); these margin cases short on purpose.
    allow_short = bool(venue.get("margin") and venue["margin"].enabled)
    return SimulatedVenue(market, VenueConfig(**venue), cash, np.full(len(market.symbols), lot), allow_short)


def _events(events: OrderEvents, oid: int) -> list[tuple[int, int]]:
    keep = events.oid == oid
    return list(zip(events.status[keep].tolist(), events.reason[keep].tolist(), strict=True))


# -- participation cap ---------------------------------------------------------------------------------


def test_participation_cap_carries_the_remainder_to_later_bars() -> None:
    # volumes 3,000 / 3,000 / 3,000 / 4,000, cap 10 % → 300 per bar; an order for 1,000 fills 300, 300, 300, 100
    market = _bars({"A": [10.0, 11.0, 12.0, 13.0]}, volume=[3_000.0, 3_000.0, 3_000.0, 4_000.0])
    v = _venue(market, participation_cap=0.1)
    v.submit(_orders({"oid": 0, "qty": 1_000}), 0)
    qty, statuses, prices = [], [], []
    for i in range(4):
        fills, events = v.process(i)
        qty += fills.quantity.tolist()
        prices += fills.price.tolist()
        statuses += _events(events, 0)
    assert qty == [300.0, 300.0, 300.0, 100.0]
    assert np.cumsum(qty).tolist() == [300.0, 600.0, 900.0, 1_000.0]  # exact, no drift
    assert prices == [10.0, 11.0, 12.0, 13.0]
    assert statuses == [(PARTIALLY_FILLED, 0)] * 3 + [(FILLED, 0)]
    assert v.position.tolist() == [1_000.0]
    # cash: 1,000,000 − (300·10 + 300·11 + 300·12 + 100·13) = 1,000,000 − 11,200 = 988,800
    assert v.cash == 988_800.0
    # average price: 11,200 / 1,000 = 11.2
    assert v.avg_price[0] == pytest.approx(11.2, rel=1e-12)
    assert v.working_oids().tolist() == []


def test_participation_cap_is_rounded_down_to_whole_lots() -> None:
    # volume 2,500, cap 10 % → 250 shares of room; lots of 100 → 200 per bar: 500 = 200 + 200 + 100
    market = _bars({"A": [10.0, 10.0, 10.0]}, volume=2_500.0)
    v = _venue(market, lot=100.0, participation_cap=0.1)
    v.submit(_orders({"oid": 0, "qty": 500}), 0)
    qty = [q for i in range(3) for q in v.process(i)[0].quantity.tolist()]
    assert qty == [200.0, 200.0, 100.0]


def test_participation_cap_is_shared_by_orders_in_the_same_symbol_and_bar() -> None:
    # cap 10 % of 3,000 = 300 at bar 0: first order 200 (all), second 100 of 200; the second's rest at bar 1
    market = _bars({"A": [10.0, 10.0]}, volume=3_000.0)
    v = _venue(market, participation_cap=0.1)
    v.submit(_orders({"oid": 0, "qty": 200}, {"oid": 1, "qty": 200}), 0)
    f0, e0 = v.process(0)
    assert list(zip(f0.oid.tolist(), f0.quantity.tolist(), strict=True)) == [(0, 200.0), (1, 100.0)]
    assert _events(e0, 0) == [(FILLED, 0)]
    assert _events(e0, 1) == [(PARTIALLY_FILLED, 0)]
    f1, e1 = v.process(1)
    assert list(zip(f1.oid.tolist(), f1.quantity.tolist(), strict=True)) == [(1, 100.0)]
    assert _events(e1, 1) == [(FILLED, 0)]


def test_participation_cap_resets_each_bar_even_when_a_bar_is_processed_twice() -> None:
    # The backtest processes a close-model bar once on arrival and once after new orders are submitted: the
    # volume already taken in that bar must still count.
    market = _bars({"A": [10.0, 10.0]}, volume=1_000.0)
    v = _venue(market, participation_cap=0.1)
    v.submit(_orders({"oid": 0, "qty": 150}), 0)
    assert v.process(0)[0].quantity.tolist() == [100.0]
    v.submit(_orders({"oid": 1, "qty": 50}), 0)
    assert v.process(0)[0].quantity.tolist() == []  # bar 0 room used up: 100 − 100 = 0
    f1, _ = v.process(1)
    assert list(zip(f1.oid.tolist(), f1.quantity.tolist(), strict=True)) == [(0, 50.0), (1, 50.0)]


# -- cash ----------------------------------------------------------------------------------------------


def test_buy_larger_than_cash_is_cut_to_the_whole_lots_cash_pays_for() -> None:
    market = _bars({"A": [100.0, 100.0]})
    v = _venue(market, cash=1_000.0, fees=FeeConfig(model="bps", bps=10.0))
    v.submit(_orders({"oid": 0, "qty": 15}), 0)
    fills, events = v.process(0)
    # each share costs 100 + 0.10 fee = 100.10; 1,000 / 100.10 = 9.99 → 9 whole shares
    assert fills.quantity.tolist() == [9.0]
    assert fills.fee[0] == pytest.approx(0.9, rel=1e-12)  # 900 · 10 bps
    assert _events(events, 0) == [(CANCELLED, VenueReason.INSUFFICIENT_CASH)]
    # cash: 1,000 − 900 − 0.90 = 99.10
    assert v.cash == pytest.approx(99.1, rel=1e-12)
    assert v.working_oids().tolist() == []
    assert len(v.process(1)[0]) == 0  # the rest does not come back later


def test_buy_nothing_affordable_is_rejected() -> None:
    market = _bars({"A": [100.0]})
    v = _venue(market, cash=50.0)
    v.submit(_orders({"oid": 0, "qty": 1}), 0)
    fills, events = v.process(0)
    assert len(fills) == 0
    assert _events(events, 0) == [(REJECTED, VenueReason.INSUFFICIENT_CASH)]
    assert v.cash == 50.0
    assert v.position.tolist() == [0.0]


def test_cash_never_goes_negative_without_margin() -> None:
    # Per-share fees (0.005, minimum 1.00, cap 1 %) and 10 bps slippage; cash 1,000.
    market = _bars({"A": [100.0, 100.0], "B": [50.0, 50.0]})
    v = _venue(market, cash=1_000.0, slippage=SlippageConfig(model="fixed_bps", bps=10.0),
               fees=FeeConfig(model="per_share", per_share=0.005, minimum=1.0, maximum_pct=0.01))
    v.submit(_orders({"oid": 0, "sym": 0, "qty": 5}, {"oid": 1, "sym": 1, "qty": 10},
                     {"oid": 2, "sym": 0, "qty": 1}), 0)
    fills, events = v.process(0)
    # oid 0: 5 · 100.10 = 500.50 + fee max(0.025, 1.00) = 501.50 → cash 498.50
    # oid 1: 10 · 50.05 + 1.00 = 501.50 > 498.50 → (498.50 − 1.00) / (50.05 + 0.005) = 9.94 → 9 shares:
    #        9 · 50.05 = 450.45 + 1.00 = 451.45 → cash 47.05
    # oid 2: 100.10 + 1.00 > 47.05 → nothing
    assert list(zip(fills.oid.tolist(), fills.quantity.tolist(), strict=True)) == [(0, 5.0), (1, 9.0)]
    assert fills.fee.tolist() == [1.0, 1.0]
    assert _events(events, 0) == [(FILLED, 0)]
    assert _events(events, 1) == [(CANCELLED, VenueReason.INSUFFICIENT_CASH)]
    assert _events(events, 2) == [(REJECTED, VenueReason.INSUFFICIENT_CASH)]
    assert v.cash == pytest.approx(47.05, rel=1e-12)
    v.submit(_orders({"oid": 3, "sym": 1, "qty": 1}), 1)
    fills, events = v.process(1)
    # 50.05 + 1.00 = 51.05 > 47.05 → rejected, cash unchanged
    assert len(fills) == 0
    assert _events(events, 3) == [(REJECTED, VenueReason.INSUFFICIENT_CASH)]
    assert v.cash == pytest.approx(47.05, rel=1e-12)
    assert v.cash >= 0.0


def test_margin_lets_cash_go_negative_down_to_minus_equity() -> None:
    market = _bars({"A": [100.0, 100.0]})
    v = _venue(market, cash=10_000.0, margin=MarginConfig(enabled=True, max_leverage=2.0))
    assert v.cash_floor(0) == -10_000.0  # −(2 − 1) · equity 10,000
    v.submit(_orders({"oid": 0, "qty": 300}), 0)
    fills, events = v.process(0)
    # 300 · 100 = 30,000 needs cash −20,000 < floor −10,000 → 200 shares (20,000 = 2 × equity)
    assert fills.quantity.tolist() == [200.0]
    assert _events(events, 0) == [(CANCELLED, VenueReason.INSUFFICIENT_CASH)]
    assert v.cash == -10_000.0
    assert v.equity(0) == 10_000.0  # −10,000 + 200 · 100
    assert v.cash == -v.equity(0)
    v.submit(_orders({"oid": 1, "qty": 1}), 1)
    fills, events = v.process(1)
    assert len(fills) == 0  # at the floor: nothing more
    assert _events(events, 1) == [(REJECTED, VenueReason.INSUFFICIENT_CASH)]


def test_margin_bounds_short_exposure_too() -> None:
    """MarginConfig: "gross exposure up to max_leverage × equity". A short sale is exposure like a purchase.

    Equity 10,000 at 2× leverage allows 20,000 gross: a short of 500 at 100 (50,000) must be cut to 200.
    """
    market = _bars({"A": [100.0]})
    v = _venue(market, cash=10_000.0, margin=MarginConfig(enabled=True, max_leverage=2.0))
    v.submit(_orders({"oid": 0, "qty": -500}), 0)
    fills, _ = v.process(0)
    assert fills.quantity.tolist() == [-200.0]
    assert v.position.tolist() == [-200.0]
    assert abs(v.position[0]) * 100.0 <= 2.0 * v.equity(0) + TOL


def test_selling_more_than_held_without_margin_is_cut_to_the_position() -> None:
    market = _bars({"A": [100.0, 110.0]})
    v = _venue(market, cash=10_000.0)
    v.submit(_orders({"oid": 0, "qty": 10}), 0)
    v.process(0)
    v.submit(_orders({"oid": 1, "qty": -15}, {"oid": 2, "qty": -5}), 1)
    fills, events = v.process(1)
    # hold 10: the sell of 15 sells 10; the next sell finds nothing held
    assert list(zip(fills.oid.tolist(), fills.quantity.tolist(), strict=True)) == [(1, -10.0)]
    assert _events(events, 1) == [(CANCELLED, VenueReason.NO_SHORTING)]
    assert _events(events, 2) == [(REJECTED, VenueReason.NO_SHORTING)]
    assert v.position.tolist() == [0.0]
    # cash: 10,000 − 1,000 + 10 · 110 = 10,100
    assert v.cash == 10_100.0


# -- positions and equity ------------------------------------------------------------------------------


def test_average_price_after_buys_and_partial_sells() -> None:
    market = _bars({"A": [100.0, 104.0, 110.0, 90.0]})
    v = _venue(market)
    steps = [(10, 10.0, 100.0), (30, 40.0, 103.0), (-15, 25.0, 103.0), (-25, 0.0, 0.0)]
    # bar 0 buy 10 @ 100 → avg 100
    # bar 1 buy 30 @ 104 → (10·100 + 30·104) / 40 = 4,120 / 40 = 103
    # bar 2 sell 15 @ 110 → 25 left, average unchanged 103
    # bar 3 sell 25 @ 90 → flat, average 0
    for i, (qty, pos, avg) in enumerate(steps):
        v.submit(_orders({"oid": i, "qty": qty}), i)
        v.process(i)
        assert v.position[0] == pos
        assert v.avg_price[0] == pytest.approx(avg, rel=1e-12)
    # cash: 1,000,000 − 1,000 − 3,120 + 1,650 + 2,250 = 999,780
    assert v.cash == 999_780.0


def test_average_price_when_a_sell_flips_the_position_with_margin() -> None:
    market = _bars({"A": [100.0, 90.0]})
    v = _venue(market, margin=MarginConfig(enabled=True, max_leverage=2.0))
    v.submit(_orders({"oid": 0, "qty": 10}), 0)
    v.process(0)
    v.submit(_orders({"oid": 1, "qty": -25}), 1)
    v.process(1)
    # long 10 → short 15: the short leg opened at 90
    assert v.position.tolist() == [-15.0]
    assert v.avg_price[0] == 90.0


def test_equity_is_cash_plus_positions_at_the_last_close() -> None:
    # B has no bar 2: its mark stays at its bar 1 close 52
    market = _bars({"A": [100.0, 102.0, 105.0], "B": [50.0, 52.0, np.nan]})
    v = _venue(market, cash=10_000.0)
    v.submit(_orders({"oid": 0, "sym": 0, "qty": 20}, {"oid": 1, "sym": 1, "qty": 40}), 0)
    v.process(0)
    # cash: 10,000 − 20·100 − 40·50 = 6,000
    assert v.cash == 6_000.0
    assert v.equity(0) == 10_000.0  # 6,000 + 2,000 + 2,000
    assert v.equity(1) == 6_000.0 + 20 * 102.0 + 40 * 52.0  # 10,120
    assert v.equity(2) == 6_000.0 + 20 * 105.0 + 40 * 52.0  # 10,180


# -- run_backtest end to end ---------------------------------------------------------------------------


def _three_symbol_bars() -> pd.DataFrame:
    days = pd.date_range(DAY0, periods=3, freq="D")
    closes = {"A": [50.0, 60.0, 55.0], "B": [20.0, 20.0, 22.0], "C": [100.0, 80.0, 90.0]}
    rows = [(d, s, c[i], 1e9) for s, c in closes.items() for i, d in enumerate(days)]
    return pd.DataFrame(rows, columns=["timestamp", "symbol", "close", "volume"])


def test_run_backtest_weights_three_symbols_by_hand() -> None:
    """Weights at bars 0 and 1, marks at bar 2; close fills, 5 bps slippage, 10 bps fees, cash 10,000.

    A 50 % position limit denies the bar-1 buy of C (78 · 80 = 6,240 is 59.5 % of equity 10,485.75); every
    other position stays at or below 45 %.
    """
    bars = _three_symbol_bars()
    days = pd.DatetimeIndex(sorted(bars["timestamp"].unique()))
    targets = pd.DataFrame({"A": [0.45, 0.0], "B": [0.3, 0.3], "C": [0.2, 0.6]}, index=days[:2])
    cfg = Config(
        initial_cash=10_000.0,
        plan=PlanConfig(target_unit="weight"),
        venue=VenueConfig(slippage=SlippageConfig(model="fixed_bps", bps=5.0), fees=FeeConfig(model="bps", bps=10.0)),
        risk=RiskConfig(max_position_pct=0.5),
    )
    r = run_backtest(targets, bars, cfg)

    # Bar 0, equity 10,000: A 0.45·10,000/50 = 90, B 0.3·10,000/20 = 150, C 0.2·10,000/100 = 20 shares.
    # Sent smallest value first: C (2,000), B (3,000), A (4,500).
    #   C buy 20 @ 100·1.0005 = 100.05: notional 2,001.00, fee 2.00100,  slippage 20·0.05  = 1.00
    #   B buy 150 @ 20.01:              notional 3,001.50, fee 3.00150,  slippage 150·0.01 = 1.50
    #   A buy 90 @ 50.025:              notional 4,502.25, fee 4.50225,  slippage 90·0.025 = 2.25
    # cash0 = 10,000 − 9,504.75 − 9.50475 = 485.74525
    # Bar 1 marks A 60, B 20, C 80: equity = 485.74525 + 5,400 + 3,000 + 1,600 = 10,485.74525
    #   A target 0 → sell 90 @ 60·0.9995 = 59.97: proceeds 5,397.30, fee 5.39730, slippage 90·0.03 = 2.70
    #   B 0.3·10,485.74525/20 = 157.29 → 157 shares: buy 7 @ 20.01 = 140.07, fee 0.14007, slippage 0.07
    #   C 0.6·10,485.74525/80 = 78.64 → 78 shares: buy 58 → 6,240 > 50 % · 10,485.75 → denied by risk
    # cash1 = 485.74525 + 5,397.30 − 5.39730 − 140.07 − 0.14007 = 5,737.43788
    orders = r.orders
    assert orders["symbol"].tolist() == ["C", "B", "A", "A", "B", "C"]
    assert orders["side"].tolist() == ["buy", "buy", "buy", "sell", "buy", "buy"]
    assert orders["quantity"].tolist() == [20.0, 150.0, 90.0, 90.0, 7.0, 58.0]
    assert orders["status"].tolist() == ["filled"] * 5 + ["denied"]
    assert orders["reason"].tolist() == [""] * 5 + ["max_position_pct"]
    assert orders["filled_quantity"].tolist() == [20.0, 150.0, 90.0, 90.0, 7.0, 0.0]
    np.testing.assert_allclose(orders["avg_fill_price"].to_numpy()[:5], [100.05, 20.01, 50.025, 59.97, 20.01],
                               rtol=1e-12)
    assert np.isnan(orders["avg_fill_price"].iloc[5])
    np.testing.assert_allclose(orders["fees"].to_numpy(), [2.001, 3.0015, 4.50225, 5.3973, 0.14007, 0.0],
                               rtol=1e-12)

    fills = r.fills
    assert fills["symbol"].tolist() == ["C", "B", "A", "A", "B"]
    assert fills["timestamp"].tolist() == [days[0]] * 3 + [days[1]] * 2
    np.testing.assert_allclose(fills["reference_price"].to_numpy(), [100.0, 20.0, 50.0, 60.0, 20.0], rtol=0)
    np.testing.assert_allclose(fills["slippage_cost"].to_numpy(), [1.0, 1.5, 2.25, 2.7, 0.07], rtol=1e-9)

    assert r.positions.to_numpy().tolist() == [[90.0, 150.0, 20.0], [0.0, 157.0, 20.0], [0.0, 157.0, 20.0]]
    np.testing.assert_allclose(r.cash.to_numpy(), [485.74525, 5_737.43788, 5_737.43788], rtol=1e-12)
    # equity0 = 485.74525 + 90·50 + 150·20 + 20·100 = 9,985.74525
    # equity1 = 5,737.43788 + 157·20 + 20·80 = 10,477.43788
    # equity2 = 5,737.43788 + 157·22 + 20·90 = 10,991.43788
    np.testing.assert_allclose(r.equity.to_numpy(), [9_985.74525, 10_477.43788, 10_991.43788], rtol=1e-12)
    # fees 2.001 + 3.0015 + 4.50225 + 5.3973 + 0.14007 = 15.04212; slippage 1 + 1.5 + 2.25 + 2.7 + 0.07 = 7.52
    assert r.costs["fees"] == pytest.approx(15.04212, rel=1e-12)
    assert r.costs["slippage"] == pytest.approx(7.52, rel=1e-12)
    # nothing is lost: final equity = initial cash + P&L − costs
    # P&L at reference prices: A 90·(60 − 50) = 900; B 150·(22 − 20) + 7·(22 − 20) = 314;
    # C 20·(90 − 100) = −200 → 1,014
    assert r.final_value == pytest.approx(10_000.0 + 1_014.0 - 15.04212 - 7.52, rel=1e-12)


def test_run_backtest_cash_is_never_negative_when_the_fill_gaps_above_the_plan_price() -> None:
    # Weight 1.0 planned at close 100 (100 shares), filled at the next open 120: cash pays for 83 only.
    days = pd.date_range(DAY0, periods=3, freq="D")
    bars = pd.DataFrame({"timestamp": days, "symbol": "A", "open": [100.0, 120.0, 118.0],
                         "high": [100.0, 125.0, 120.0], "low": [100.0, 119.0, 110.0],
                         "close": [100.0, 121.0, 115.0], "volume": 1e9})
    cfg = Config(initial_cash=10_000.0, plan=PlanConfig(target_unit="weight"),
                 venue=VenueConfig(fill_price="next_open"))
    r = run_backtest(pd.DataFrame({"A": [1.0]}, index=days[:1]), bars, cfg)
    order = r.orders.iloc[0]
    assert order["quantity"] == 100.0  # 1.0 · 10,000 / 100
    assert order["filled_quantity"] == 83.0  # floor(10,000 / 120) = 83
    assert order["status"] == "cancelled"
    assert order["reason"] == "insufficient_cash"
    # cash: 10,000 − 83 · 120 = 40; equity at bar 1: 40 + 83 · 121 = 10,083; bar 2: 40 + 83 · 115 = 9,585
    assert r.cash.tolist() == [10_000.0, 40.0, 40.0]
    assert (r.cash >= 0).all()
    assert r.equity.tolist() == [10_000.0, 10_083.0, 9_585.0]


def test_run_backtest_capped_rebalance_cancels_the_carried_remainder() -> None:
    """Volume 100 per bar, cap 10 %: 10 shares per bar. Target 25 shares at bars 0 and 1.

    bar 0: order 0 (25) fills 10 → partially filled.
    bar 1: order 0 fills 10 more on arrival (20 of 25); the rebalance cancels it (cancel_open_orders) and
           sends order 1 for 25 − 20 = 5, which finds no room left in bar 1.
    bar 2: order 1 fills 5 → filled.
    """
    days = pd.date_range(DAY0, periods=4, freq="D")
    bars = pd.DataFrame({"timestamp": days, "symbol": "A", "close": [10.0, 11.0, 12.0, 13.0], "volume": 100.0})
    targets = pd.DataFrame({"A": [25.0, 25.0]}, index=days[:2])
    cfg = Config(initial_cash=10_000.0, plan=PlanConfig(cancel_open_orders=True),
                 venue=VenueConfig(participation_cap=0.1))
    r = run_backtest(targets, bars, cfg)
    orders = r.orders
    assert orders["quantity"].tolist() == [25.0, 5.0]
    assert orders["status"].tolist() == ["cancelled", "filled"]
    assert orders["reason"].tolist() == ["cancelled_by_client", ""]
    assert orders["filled_quantity"].tolist() == [20.0, 5.0]
    # order 0: 10 @ 10 + 10 @ 11 → 210 / 20 = 10.5; order 1: 5 @ 12
    assert orders["avg_fill_price"].tolist() == [10.5, 12.0]
    assert r.fills["quantity"].tolist() == [10.0, 10.0, 5.0]
    assert r.fills["timestamp"].tolist() == list(days[:3])
    assert r.positions["A"].tolist() == [10.0, 20.0, 25.0, 25.0]
    # cash: 10,000 − 100 = 9,900; − 110 = 9,790; − 60 = 9,730
    assert r.cash.tolist() == [9_900.0, 9_790.0, 9_730.0, 9_730.0]
    # equity: 9,900 + 10·10 = 10,000; 9,790 + 20·11 = 10,010; 9,730 + 25·12 = 10,030; 9,730 + 25·13 = 10,055
    assert r.equity.tolist() == [10_000.0, 10_010.0, 10_030.0, 10_055.0]
    assert r.book.refused == []  # every state change the venue reported was a legal transition
