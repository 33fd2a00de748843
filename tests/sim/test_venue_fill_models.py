"""Simulated venue: fill price models, slippage models and fee models, against hand-computed numbers.

Every scenario uses a few hand-made daily bars; the expected prices, fees and cash are worked out in the
comments next to each assertion.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from execlab import FeeConfig, MarketData, SimulatedVenue, SlippageConfig, VenueConfig
from execlab._core.codes import FILLED, LIMIT, STOP_LIMIT

from helpers.orders import order_batch as _orders

DAY0 = pd.Timestamp("2024-01-02")
CASH = 1_000_000.0


def _bars(rows: list[tuple[Any, ...]]) -> MarketData:
    """Rows of (day, symbol, open, high, low, close, volume[, bid, ask]) as MarketData (daily bars)."""
    cols = ["day", "symbol", "open", "high", "low", "close", "volume"]
    if len(rows[0]) == 9:
        cols += ["bid", "ask"]
    frame = pd.DataFrame(rows, columns=cols)
    frame.insert(0, "timestamp", DAY0 + pd.to_timedelta(frame.pop("day"), unit="D"))
    return MarketData.from_bars(frame)


def _venue(market: MarketData, cash: float = CASH, **venue: Any) -> SimulatedVenue:
    return SimulatedVenue(market, VenueConfig(**venue), cash, np.ones(len(market.symbols)))


# One symbol, three daily bars with distinct open / high / low / close and closing quotes.
#          day sym   open   high  low   close  volume   bid    ask
PRICE_BARS = [
    (0, "A", 99.0, 101.0, 98.0, 100.0, 1e6, 99.9, 100.1),
    (1, "A", 102.0, 106.0, 98.0, 104.0, 1e6, 103.9, 104.3),
    (2, "A", 103.0, 107.0, 101.0, 105.0, 1e6, 104.7, 105.5),
]


@pytest.fixture(scope="module")
def price_bars() -> MarketData:
    return _bars(PRICE_BARS)


# -- fill price models ---------------------------------------------------------------------------------


def test_close_model_fills_a_market_order_at_the_submission_bar_close(price_bars: MarketData) -> None:
    v = _venue(price_bars, fill_price="close")
    v.submit(_orders({"oid": 7, "qty": 10}), 0)
    fills, events = v.process(0)
    assert fills.oid.tolist() == [7]
    assert fills.bar.tolist() == [0]
    assert fills.quantity.tolist() == [10.0]
    assert fills.price.tolist() == [100.0]  # bar 0 close
    assert fills.reference_price.tolist() == [100.0]
    assert events.oid.tolist() == [7]
    assert events.status.tolist() == [FILLED]
    assert v.cash == CASH - 10 * 100.0  # 999,000
    assert v.position.tolist() == [10.0]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("next_open", 102.0),  # bar 1 open
        ("vwap", (106.0 + 98.0 + 104.0) / 3.0),  # bar 1 (H + L + C) / 3 = 308 / 3 = 102.666…
        ("quote", (103.9 + 104.3) / 2.0),  # bar 1 bid/ask mid = 104.1
    ],
)
def test_next_bar_models_fill_a_market_order_on_the_following_bar(
    price_bars: MarketData, model: str, expected: float
) -> None:
    v = _venue(price_bars, fill_price=model)
    v.submit(_orders({"oid": 0, "qty": 10}), 0)
    fills0, events0 = v.process(0)
    assert len(fills0) == 0 and len(events0) == 0  # nothing can trade at the bar it was decided on
    fills1, events1 = v.process(1)
    assert fills1.bar.tolist() == [1]
    assert fills1.price[0] == pytest.approx(expected, rel=1e-12)
    assert fills1.reference_price[0] == pytest.approx(expected, rel=1e-12)
    assert events1.status.tolist() == [FILLED]
    assert v.cash == pytest.approx(CASH - 10 * expected, rel=1e-12)


def test_quote_model_without_quotes_is_a_clear_error() -> None:
    no_quotes = _bars([row[:7] for row in PRICE_BARS])
    with pytest.raises(ValueError, match=r"venue\.fill_price"):
        _venue(no_quotes, fill_price="quote")


def test_latency_delays_the_close_fill_by_whole_bars(price_bars: MarketData) -> None:
    v = _venue(price_bars, fill_price="close", latency_bars=1)
    v.submit(_orders({"oid": 0, "qty": 10}), 0)
    assert len(v.process(0)[0]) == 0
    fills, _ = v.process(1)
    assert fills.price.tolist() == [104.0]  # bar 1 close, one bar late


# -- slippage ------------------------------------------------------------------------------------------


def test_fixed_bps_slippage_moves_buys_up_and_sells_down(price_bars: MarketData) -> None:
    v = _venue(price_bars, fill_price="close", slippage=SlippageConfig(model="fixed_bps", bps=25.0))
    v.submit(_orders({"oid": 0, "qty": 20}), 0)
    buy, _ = v.process(0)
    # buy at bar 0 close 100 · (1 + 0.0025) = 100.25
    assert buy.price[0] == pytest.approx(100.25, rel=1e-12)
    assert buy.reference_price[0] == 100.0
    v.submit(_orders({"oid": 1, "qty": -10}), 1)
    sell, _ = v.process(1)
    # sell at bar 1 close 104 · (1 − 0.0025) = 103.74
    assert sell.quantity.tolist() == [-10.0]
    assert sell.price[0] == pytest.approx(103.74, rel=1e-12)
    assert sell.reference_price[0] == 104.0
    # cash: 1,000,000 − 20 · 100.25 + 10 · 103.74 = 1,000,000 − 2,005 + 1,037.4 = 999,032.4
    assert v.cash == pytest.approx(999_032.4, rel=1e-12)


def test_half_spread_with_quote_model_buys_at_the_ask_and_sells_at_the_bid(price_bars: MarketData) -> None:
    v = _venue(price_bars, fill_price="quote", slippage=SlippageConfig(model="half_spread"))
    v.submit(_orders({"oid": 0, "qty": 20}), 0)
    v.process(0)
    buy, _ = v.process(1)
    # bar 1 quotes 103.9 / 104.3: mid 104.1, half spread 0.2, buy at the ask 104.3
    assert buy.reference_price[0] == pytest.approx(104.1, rel=1e-12)
    assert buy.price[0] == pytest.approx(104.3, rel=1e-12)
    v.submit(_orders({"oid": 1, "qty": -10}), 1)
    sell, _ = v.process(2)
    # bar 2 quotes 104.7 / 105.5: mid 105.1, sell at the bid 104.7
    assert sell.reference_price[0] == pytest.approx(105.1, rel=1e-12)
    assert sell.price[0] == pytest.approx(104.7, rel=1e-12)
    # cash: 1,000,000 − 20 · 104.3 + 10 · 104.7 = 1,000,000 − 2,086 + 1,047 = 998,961
    assert v.cash == pytest.approx(998_961.0, rel=1e-12)


def test_half_spread_with_close_model_adds_half_the_closing_spread(price_bars: MarketData) -> None:
    v = _venue(price_bars, fill_price="close", slippage=SlippageConfig(model="half_spread"))
    v.submit(_orders({"oid": 0, "qty": 10}), 0)
    fills, _ = v.process(0)
    # bar 0 close 100 + (100.1 − 99.9) / 2 = 100.1
    assert fills.price[0] == pytest.approx(100.1, rel=1e-12)
    assert fills.reference_price[0] == 100.0


# Square-root impact: closes 100 → 110 → 99 → 123.75 give returns +0.10, −0.10, +0.25. The last bar (the
# one traded) has a huge volume and a large return: neither may enter σ or ADV, which must be known before it.
#        day sym  open   high   low    close  volume
SQRT_BARS = [
    (0, "A", 100.0, 100.0, 100.0, 100.0, 1_000.0),
    (1, "A", 110.0, 110.0, 110.0, 110.0, 1_000.0),
    (2, "A", 99.0, 99.0, 99.0, 99.0, 3_000.0),
    (3, "A", 123.75, 123.75, 123.75, 123.75, 999_999.0),
]


def test_sqrt_impact_uses_sigma_and_adv_known_before_the_bar() -> None:
    market = _bars(SQRT_BARS)
    slip = SlippageConfig(model="sqrt_impact", impact_coefficient=0.1, volatility_window=2, adv_window=2)
    v = _venue(market, fill_price="close", slippage=slip)
    v.submit(_orders({"oid": 0, "qty": 500}), 3)
    fills, _ = v.process(3)
    # σ before bar 3 = sample std of the returns of bars 1 and 2 (+0.10, −0.10): mean 0,
    #   sqrt((0.1² + 0.1²) / (2 − 1)) = sqrt(0.02) = 0.141421…
    # ADV before bar 3 = mean volume of bars 1 and 2 = (1,000 + 3,000) / 2 = 2,000
    # impact = 0.1 · 0.141421 · sqrt(500 / 2,000) = 0.1 · 0.141421 · 0.5 = 0.00707107
    # fill = 123.75 + 123.75 · 0.00707106781 = 123.75 + 0.87504464 = 124.62504464
    impact = 0.1 * math.sqrt(0.02) * math.sqrt(500 / 2_000)
    assert fills.reference_price[0] == 123.75
    assert fills.price[0] == pytest.approx(123.75 * (1 + impact), rel=1e-9)
    assert fills.price[0] == pytest.approx(124.62504464, rel=1e-9)


def test_sqrt_impact_sells_move_the_price_down() -> None:
    market = _bars(SQRT_BARS)
    slip = SlippageConfig(model="sqrt_impact", impact_coefficient=0.2, volatility_window=2, adv_window=2)
    v = _venue(market, fill_price="close", slippage=slip)
    # Buy 2,000 at bar 2: σ before bar 2 needs two returns but only one exists → no impact (σ unknown).
    v.submit(_orders({"oid": 0, "qty": 2_000}), 2)
    buy, _ = v.process(2)
    assert buy.price[0] == 99.0
    v.submit(_orders({"oid": 1, "qty": -2_000}), 3)
    sell, _ = v.process(3)
    # impact = 0.2 · sqrt(0.02) · sqrt(2,000 / 2,000) = 0.02828427;
    # sell at 123.75 − 123.75 · 0.02828427 = 123.75 − 3.50017856 = 120.24982144
    impact = 0.2 * math.sqrt(0.02) * 1.0
    assert sell.price[0] == pytest.approx(123.75 * (1 - impact), rel=1e-9)
    assert sell.price[0] == pytest.approx(120.24982144, rel=1e-9)


# -- fees ----------------------------------------------------------------------------------------------


def test_bps_fee_is_charged_on_the_fill_notional(price_bars: MarketData) -> None:
    v = _venue(price_bars, fill_price="close", fees=FeeConfig(model="bps", bps=10.0))
    v.submit(_orders({"oid": 0, "qty": 10}), 0)
    fills, _ = v.process(0)
    # 10 · 100 = 1,000 notional; 10 bps = 1.00
    assert fills.fee[0] == pytest.approx(1.0, rel=1e-12)
    assert v.cash == pytest.approx(CASH - 1_000.0 - 1.0, rel=1e-12)


def test_bps_fee_applies_to_the_slipped_price(price_bars: MarketData) -> None:
    v = _venue(price_bars, fill_price="close", fees=FeeConfig(model="bps", bps=10.0),
               slippage=SlippageConfig(model="fixed_bps", bps=50.0))
    v.submit(_orders({"oid": 0, "qty": 10}), 0)
    fills, _ = v.process(0)
    # price 100 · 1.005 = 100.5; notional 1,005; fee 1.005; cash 1,000,000 − 1,005 − 1.005 = 998,993.995
    assert fills.fee[0] == pytest.approx(1.005, rel=1e-12)
    assert v.cash == pytest.approx(998_993.995, rel=1e-12)


# Three symbols priced to hit each branch of the IBKR-style per-share schedule (0.005 / share, minimum 1.00,
# maximum 1 % of notional).
#          day sym    open   high   low    close  volume
FEE_BARS = [
    (0, "BIG", 100.0, 100.0, 100.0, 100.0, 1e9),
    (0, "MID", 5.0, 5.0, 5.0, 5.0, 1e9),
    (0, "PNY", 0.2, 0.2, 0.2, 0.2, 1e9),
]


@pytest.mark.parametrize(
    ("sym", "qty", "fee"),
    [
        (0, 10, 1.0),  # BIG: 10 · 0.005 = 0.05 < minimum 1.00 → 1.00 (cap 1 % · 1,000 = 10 does not bind)
        (0, 1_000, 5.0),  # BIG: 1,000 · 0.005 = 5.00, between the minimum and the cap (1,000)
        (2, 100_000, 200.0),  # PNY: 100,000 · 0.005 = 500 > cap 1 % · 100,000 · 0.2 = 200 → 200
        (1, 10, 0.5),  # MID: 0.05 → minimum 1.00, but the cap 1 % · 50 = 0.50 is lower and wins (IBKR) → 0.50
    ],
)
def test_per_share_fee_minimum_and_maximum(sym: int, qty: float, fee: float) -> None:
    market = _bars(FEE_BARS)
    v = _venue(market, fill_price="close", fees=FeeConfig(model="per_share", per_share=0.005, minimum=1.0,
                                                          maximum_pct=0.01))
    v.submit(_orders({"oid": 0, "sym": sym, "qty": qty}), 0)
    fills, _ = v.process(0)
    assert fills.quantity.tolist() == [qty]
    assert fills.fee[0] == pytest.approx(fee, rel=1e-12)
    price = [100.0, 5.0, 0.2][sym]
    assert v.cash == pytest.approx(CASH - qty * price - fee, rel=1e-12)


MAKER_TAKER = FeeConfig(model="maker_taker", maker_bps=-2.0, taker_bps=3.0)


def test_resting_limit_order_is_maker_and_earns_the_rebate(price_bars: MarketData) -> None:
    v = _venue(price_bars, fill_price="close", fees=MAKER_TAKER)
    # Submitted at bar 0 close 100 with limit 99: not marketable, rests; bar 1 (open 102, low 98) trades through 99.
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 99.0}), 0)
    assert len(v.process(0)[0]) == 0
    fills, _ = v.process(1)
    assert fills.price.tolist() == [99.0]
    assert fills.maker.tolist() == [True]
    # maker fee = 990 · (−2 bps) = −0.198 (a rebate)
    assert fills.fee[0] == pytest.approx(-0.198, rel=1e-12)
    # cash = 1,000,000 − 990 + 0.198 = 999,010.198: the rebate reduces the cost
    assert v.cash == pytest.approx(999_010.198, rel=1e-12)


def test_marketable_limit_and_market_orders_are_taker(price_bars: MarketData) -> None:
    v = _venue(price_bars, fill_price="close", fees=MAKER_TAKER)
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 101.0}, {"oid": 1, "qty": 5}), 0)
    fills, _ = v.process(0)
    assert fills.oid.tolist() == [0, 1]
    assert fills.price.tolist() == [100.0, 100.0]  # limit 101 ≥ close 100: fills at the close at once
    assert fills.maker.tolist() == [False, False]
    # taker fees: 1,000 · 3 bps = 0.30 and 500 · 3 bps = 0.15
    assert fills.fee == pytest.approx([0.30, 0.15], rel=1e-12)
    assert v.cash == pytest.approx(CASH - 1_500.0 - 0.45, rel=1e-12)


def test_next_open_limit_resting_past_the_open_is_maker(price_bars: MarketData) -> None:
    """Bar 1 opens at 102 above the limit 99, so the order rests and is hit when the low reaches 98.

    It was neither marketable when submitted (bar 0 close 100) nor on arrival at bar 1's open (102): it added
    liquidity, so it is maker and earns the rebate.
    """
    v = _venue(price_bars, fill_price="next_open", fees=MAKER_TAKER)
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 99.0}), 0)
    v.process(0)
    fills, _ = v.process(1)
    assert fills.price.tolist() == [99.0]
    assert fills.maker.tolist() == [True]
    assert fills.fee[0] == pytest.approx(-0.198, rel=1e-12)  # 990 · (−2 bps)


def test_next_open_limit_marketable_at_the_open_is_taker(price_bars: MarketData) -> None:
    v = _venue(price_bars, fill_price="next_open", fees=MAKER_TAKER)
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 103.0}), 0)
    v.process(0)
    fills, _ = v.process(1)
    assert fills.price.tolist() == [102.0]  # open 102 ≤ limit 103: fills at the open, taking liquidity
    assert fills.maker.tolist() == [False]
    assert fills.fee[0] == pytest.approx(1020.0 * 3e-4, rel=1e-12)  # 0.306


def test_stop_limit_marketable_when_triggered_is_taker() -> None:
    """Stop 103 / limit 104, submitted at bar 0's close 100. Bar 1 (open 101, high 105) triggers at 103; the limit
    order it becomes is marketable at once (103 ≤ 104) and fills at 103: it took liquidity, so taker."""
    market = _bars([(0, "A", 100.0, 100.0, 100.0, 100.0, 1e6), (1, "A", 101.0, 105.0, 100.0, 104.0, 1e6)])
    v = _venue(market, fill_price="close", fees=MAKER_TAKER)
    v.submit(_orders({"oid": 0, "qty": 10, "type": STOP_LIMIT, "stop": 103.0, "limit": 104.0}), 0)
    v.process(0)
    fills, _ = v.process(1)
    assert fills.price.tolist() == [103.0]
    assert fills.maker.tolist() == [False]
    assert fills.fee[0] == pytest.approx(1030.0 * 3e-4, rel=1e-12)  # 0.309
