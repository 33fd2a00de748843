"""Simulated venue: order types (market, limit, stop, stop-limit, trailing stop), time in force and cancels.

Bars are daily and hand-made. Unless a test says otherwise the venue uses ``fill_price='close'``: an order
submitted at bar ``b`` sees only bar ``b``'s close, then the full open/high/low/close of later bars.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from execlab import BacktestExecutor, FillBatch, MarketData, OrderBatch, OrderEvents, SimulatedVenue, VenueConfig
from execlab._core.codes import (
    CANCELLED,
    CLS,
    DAY,
    EXPIRED,
    FILLED,
    FOK,
    GTC,
    IOC,
    LIMIT,
    OPG,
    PARTIALLY_FILLED,
    REJECTED,
    STOP,
    STOP_LIMIT,
    TRAILING_STOP,
    VenueReason,
)

from helpers.orders import order_batch as _orders

DAY0 = pd.Timestamp("2024-01-02")
CASH = 1_000_000.0
HUGE = 1e9


def _bars(ohlc: list[tuple[float, float, float, float]], volume: float = HUGE, unit: str | None = None) -> MarketData:
    """One symbol 'A', one daily bar per (open, high, low, close); ``unit`` forces the timestamp resolution."""
    frame = pd.DataFrame(ohlc, columns=["open", "high", "low", "close"])
    frame.insert(0, "symbol", "A")
    stamps = pd.date_range(DAY0, periods=len(ohlc), freq="D")
    frame.insert(0, "timestamp", stamps if unit is None else stamps.as_unit(unit))
    frame["volume"] = volume
    return MarketData.from_bars(frame)


def _venue(market: MarketData, **venue: Any) -> SimulatedVenue:
    return SimulatedVenue(market, VenueConfig(**venue), CASH, np.ones(1))


def _run(v: SimulatedVenue, bars: range) -> list[tuple[FillBatch, OrderEvents]]:
    return [v.process(i) for i in bars]


def _with_long(order: dict[str, Any], qty: float = 10.0) -> OrderBatch:
    """A market buy of ``qty`` (oid 100, fills first at the submission close) followed by ``order``."""
    return _orders({"oid": 100, "qty": qty}, order)


def _only(fills: FillBatch, oid: int) -> FillBatch:
    keep = fills.oid == oid
    return FillBatch(*(getattr(fills, f)[keep] for f in FillBatch.__slots__))


def _events(events: OrderEvents, oid: int) -> list[tuple[int, int]]:
    keep = events.oid == oid
    return list(zip(events.status[keep].tolist(), events.reason[keep].tolist(), strict=True))


# -- limit ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bar1", "price"),
    [
        ((98.0, 99.0, 95.0, 97.0), 98.0),  # opens at 98 ≤ limit 99: fills at the open (better than the limit)
        ((101.0, 103.0, 98.5, 102.0), 99.0),  # opens above, low 98.5 ≤ 99: fills at the limit
        ((101.0, 103.0, 99.0, 102.0), 99.0),  # low touches the limit exactly: fills at the limit
    ],
)
def test_limit_buy_fills_when_the_low_reaches_the_limit(bar1: tuple[float, ...], price: float) -> None:
    v = _venue(_bars([(100.0, 101.0, 99.5, 100.0), bar1]))
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 99.0}), 0)
    (f0, e0), (f1, e1) = _run(v, range(2))
    assert len(f0) == 0 and len(e0) == 0  # bar 0 close 100 > 99
    assert f1.price.tolist() == [price]
    assert _events(e1, 0) == [(FILLED, 0)]
    assert v.cash == CASH - 10 * price


def test_limit_buy_above_the_low_keeps_working() -> None:
    v = _venue(_bars([(100.0, 101.0, 99.5, 100.0), (101.0, 103.0, 99.01, 102.0), (102.0, 102.0, 98.0, 99.0)]))
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 99.0}), 0)
    (f0, _), (f1, e1) = _run(v, range(2))
    assert len(f0) == 0 and len(f1) == 0 and len(e1) == 0  # low 99.01 > 99: no fill, no event
    assert v.working_oids().tolist() == [0]
    f2, e2 = v.process(2)
    assert f2.price.tolist() == [99.0]  # bar 2 opens 102, trades down to 98 → at the limit
    assert _events(e2, 0) == [(FILLED, 0)]


@pytest.mark.parametrize(
    ("bar1", "price"),
    [
        ((102.0, 104.0, 101.5, 103.0), 102.0),  # opens at 102 ≥ limit 101: fills at the open
        ((100.5, 101.5, 99.0, 100.0), 101.0),  # opens below, high 101.5 ≥ 101: fills at the limit
        ((100.5, 100.9, 99.0, 100.0), None),  # high 100.9 < 101: no fill
    ],
)
def test_limit_sell_mirrors_the_buy(bar1: tuple[float, ...], price: float | None) -> None:
    v = _venue(_bars([(100.0, 100.5, 99.5, 100.0), bar1]))
    v.submit(_with_long({"oid": 0, "qty": -10, "type": LIMIT, "limit": 101.0}), 0)
    (f0, _), (f1, e1) = _run(v, range(2))
    assert f0.oid.tolist() == [100]  # only the setup buy fills at bar 0 (close 100 < 101)
    if price is None:
        assert len(f1) == 0 and len(e1) == 0
        assert v.position.tolist() == [10.0]
        assert v.working_oids().tolist() == [0]
    else:
        assert f1.quantity.tolist() == [-10.0]
        assert f1.price.tolist() == [price]
        assert _events(e1, 0) == [(FILLED, 0)]
        assert v.position.tolist() == [0.0]
        assert v.cash == CASH - 1_000.0 + 10 * price


def test_limit_order_at_the_submission_close_fills_there() -> None:
    v = _venue(_bars([(90.0, 110.0, 80.0, 100.0)]))
    # Only the close exists after submission: limit 100 ≥ close 100 fills at 100; limit 95 does not fill
    # although the bar's low is 80 (that low happened before the order existed).
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 100.0},
                     {"oid": 1, "qty": 10, "type": LIMIT, "limit": 95.0}), 0)
    fills, _ = v.process(0)
    assert fills.oid.tolist() == [0]
    assert fills.price.tolist() == [100.0]
    assert v.working_oids().tolist() == [1]


def test_limit_order_without_a_limit_price_is_rejected_not_left_working() -> None:
    """A limit order whose limit is NaN can never fill: the venue should refuse it, not keep it forever."""
    v = _venue(_bars([(100.0, 101.0, 99.0, 100.0), (100.0, 101.0, 50.0, 100.0)]))
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT}), 0)
    (_, e0), (_, e1) = _run(v, range(2))
    statuses = _events(e0, 0) + _events(e1, 0)
    assert [s for s, _ in statuses] == [REJECTED]
    assert v.working_oids().tolist() == []


# -- stop / stop-limit ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bar1", "price"),
    [
        ((101.0, 104.0, 100.0, 103.5), 103.0),  # high 104 ≥ stop 103: max(open 101, 103) = 103
        ((105.0, 106.0, 104.0, 105.0), 105.0),  # gaps over the stop: max(105, 103) = 105
        ((101.0, 102.9, 100.0, 102.0), None),  # high 102.9 < 103: not triggered
    ],
)
def test_stop_buy_triggers_at_the_high_and_fills_at_max_of_open_and_stop(
    bar1: tuple[float, ...], price: float | None
) -> None:
    v = _venue(_bars([(100.0, 100.5, 99.5, 100.0), bar1]))
    v.submit(_orders({"oid": 0, "qty": 10, "type": STOP, "stop": 103.0}), 0)
    (f0, _), (f1, e1) = _run(v, range(2))
    assert len(f0) == 0  # close 100 < 103
    if price is None:
        assert len(f1) == 0 and len(e1) == 0
        assert v.working_oids().tolist() == [0]
    else:
        assert f1.price.tolist() == [price]
        assert _events(e1, 0) == [(FILLED, 0)]


@pytest.mark.parametrize(
    ("bar1", "price"),
    [
        ((99.0, 100.0, 96.0, 98.0), 97.0),  # low 96 ≤ stop 97: min(open 99, 97) = 97
        ((95.0, 96.0, 94.0, 95.0), 95.0),  # gaps below: min(95, 97) = 95
    ],
)
def test_stop_sell_mirrors_the_buy(bar1: tuple[float, ...], price: float) -> None:
    v = _venue(_bars([(100.0, 100.5, 99.5, 100.0), bar1]))
    v.submit(_with_long({"oid": 0, "qty": -10, "type": STOP, "stop": 97.0}), 0)
    _, (f1, e1) = _run(v, range(2))
    assert f1.quantity.tolist() == [-10.0]
    assert f1.price.tolist() == [price]
    assert _events(e1, 0) == [(FILLED, 0)]
    assert v.position.tolist() == [0.0]


def test_stop_limit_triggered_but_not_fillable_stays_working_then_fills() -> None:
    bars = _bars([
        (100.0, 100.5, 99.5, 100.0),
        (104.0, 106.0, 103.8, 105.0),  # gaps over stop 103 → triggered at 104 > limit 103.5; low 103.8 > 103.5
        (103.2, 104.0, 102.0, 103.6),  # triggered already: opens at 103.2 ≤ 103.5 → fills at the open
    ])
    v = _venue(bars)
    v.submit(_orders({"oid": 0, "qty": 10, "type": STOP_LIMIT, "stop": 103.0, "limit": 103.5}), 0)
    (f0, e0), (f1, e1) = _run(v, range(2))
    assert len(f0) == 0 and len(e0) == 0
    assert len(f1) == 0 and len(e1) == 0
    assert v.working_oids().tolist() == [0]
    f2, e2 = v.process(2)
    assert f2.price.tolist() == [103.2]
    assert _events(e2, 0) == [(FILLED, 0)]


def test_stop_limit_triggered_and_fillable_at_the_limit() -> None:
    bars = _bars([(100.0, 100.5, 99.5, 100.0), (101.0, 104.0, 100.0, 103.0)])
    v = _venue(bars)
    # stop 102 triggers at max(open 101, 102) = 102 > limit 101.5; the low 100 ≤ 101.5 → fills at the limit
    v.submit(_orders({"oid": 0, "qty": 10, "type": STOP_LIMIT, "stop": 102.0, "limit": 101.5}), 0)
    _, (f1, _) = _run(v, range(2))
    assert f1.price.tolist() == [101.5]


# -- trailing stop -------------------------------------------------------------------------------------


# The high-water mark starts at the submission close 100. Bar 1 makes a new high 110 without coming back far
# enough; bar 2 does not make a new high and falls through the trailed stop.
TRAIL_BARS = [
    (100.0, 100.5, 99.5, 100.0),
    (105.0, 110.0, 104.6, 108.0),  # open within [low, high]: a bar cannot open below its low
    (107.0, 109.0, 103.0, 104.0),
]


def test_trailing_stop_percent_follows_the_high_water_mark() -> None:
    v = _venue(_bars(TRAIL_BARS))
    v.submit(_with_long({"oid": 0, "qty": -10, "type": TRAILING_STOP, "trail_pct": 5.0}), 0)
    _, (f1, e1), (f2, e2) = _run(v, range(3))
    # bar 1: HWM 110 → stop 110 · 0.95 = 104.5; low 104.6 > 104.5 → still working
    assert len(f1) == 0 and len(e1) == 0
    # bar 2: HWM stays 110, stop 104.5; low 103 ≤ 104.5 → sells at min(open 107, 104.5) = 104.5
    assert f2.quantity.tolist() == [-10.0]
    assert f2.price[0] == pytest.approx(104.5, rel=1e-12)
    assert _events(e2, 0) == [(FILLED, 0)]
    assert v.cash == pytest.approx(CASH - 1_000.0 + 1_045.0, rel=1e-12)


def test_trailing_stop_amount_follows_the_high_water_mark() -> None:
    v = _venue(_bars(TRAIL_BARS))
    v.submit(_with_long({"oid": 0, "qty": -10, "type": TRAILING_STOP, "trail_amt": 6.0}), 0)
    _, (f1, _), (f2, _) = _run(v, range(3))
    # bar 1: stop 110 − 6 = 104; low 104.6 > 104. bar 2: low 103 ≤ 104 → min(107, 104) = 104
    assert len(f1) == 0
    assert f2.price.tolist() == [104.0]


def test_trailing_stop_percent_without_new_high_is_not_moved_up() -> None:
    # An order placed at close 100 with a 5 % trail: stop 95. Bar 1 trades 96..99 (above 95, no new high).
    v = _venue(_bars([(100.0, 100.5, 99.5, 100.0), (99.0, 99.0, 96.0, 97.0), (97.0, 97.5, 94.0, 95.0)]))
    v.submit(_with_long({"oid": 0, "qty": -10, "type": TRAILING_STOP, "trail_pct": 5.0}), 0)
    _, (f1, _), (f2, _) = _run(v, range(3))
    assert len(f1) == 0
    assert f2.price.tolist() == [95.0]  # stop stays 95: min(open 97, 95) = 95


def test_trailing_buy_stop_follows_the_low_water_mark() -> None:
    bars = _bars([
        (100.0, 100.5, 99.5, 100.0),
        (94.0, 94.4, 90.0, 92.0),  # LWM 90 → stop 90 · 1.05 = 94.5; high 94.4 < 94.5
        (93.0, 96.0, 92.0, 95.5),  # high 96 ≥ 94.5 → buys at max(open 93, 94.5) = 94.5
    ])
    v = _venue(bars)
    v.submit(_orders({"oid": 0, "qty": 10, "type": TRAILING_STOP, "trail_pct": 5.0}), 0)
    _, (f1, _), (f2, _) = _run(v, range(3))
    assert len(f1) == 0
    assert f2.price[0] == pytest.approx(94.5, rel=1e-12)


def test_trailing_stop_never_fills_at_a_price_the_bar_path_cannot_give() -> None:
    """A new high and the fall through the trailed stop inside one bar.

    HWM before bar 1 is 100 (stop 95). Bar 1: open 100, high 110, low 96, close 108.
    - If the high came first, the stop rose to 104.5 and the fall to 96 went through it: sell at 104.5.
    - If the low came first, 96 > 95 did not trigger; the later high lifted the stop to 104.5 and the close
      108 is above it: no fill in bar 1.
    Selling at the open (100) is impossible: at the open the stop was 95.
    """
    v = _venue(_bars([(100.0, 100.0, 100.0, 100.0), (100.0, 110.0, 96.0, 108.0), (108.0, 108.0, 107.0, 107.5)]))
    v.submit(_with_long({"oid": 0, "qty": -10, "type": TRAILING_STOP, "trail_pct": 5.0}), 0)
    _, (f1, _) = _run(v, range(2))
    if len(_only(f1, 0)):
        assert _only(f1, 0).price[0] == pytest.approx(104.5, rel=1e-12)
    else:
        assert v.working_oids().tolist() == [0]


# -- time in force -------------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", [None, "us", "ns", "s"])
def test_day_order_expires_after_its_session(unit: str | None) -> None:
    """Whatever the timestamp resolution (pandas 3 defaults to microseconds), a day is a day.

    Close model, daily bars: submitted at bar 0's close, its session is bar 0. Bar 1 would fill a limit 95
    (low 94) but the order has expired by then.
    """
    v = _venue(_bars([(100.0, 100.5, 99.5, 100.0), (99.0, 100.0, 94.0, 96.0)], unit=unit))
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 95.0, "tif": DAY}), 0)
    (f0, e0), (f1, e1) = _run(v, range(2))
    assert len(f0) == 0 and len(e0) == 0
    assert len(f1) == 0
    assert _events(e1, 0) == [(EXPIRED, VenueReason.DAY_EXPIRED)]
    assert v.working_oids().tolist() == []
    assert v.cash == CASH


def test_day_order_with_next_open_works_through_the_next_bar_then_expires() -> None:
    bars = _bars([(100.0, 100.5, 99.5, 100.0), (99.0, 100.0, 96.0, 97.0), (96.0, 97.0, 90.0, 92.0)])
    v = _venue(bars, fill_price="next_open")
    # limit 95: bar 1 (its session) low 96 does not reach it; bar 2 (low 90) would, but the day is over
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 95.0, "tif": DAY}), 0)
    (_, e0), (f1, e1), (f2, e2) = _run(v, range(3))
    assert len(e0) == 0 and len(e1) == 0 and len(f1) == 0
    assert len(f2) == 0
    assert _events(e2, 0) == [(EXPIRED, VenueReason.DAY_EXPIRED)]


def test_day_order_fills_within_its_session_with_next_open() -> None:
    bars = _bars([(100.0, 100.5, 99.5, 100.0), (99.0, 100.0, 94.0, 97.0)])
    v = _venue(bars, fill_price="next_open")
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 95.0, "tif": DAY}), 0)
    _, (f1, e1) = _run(v, range(2))
    assert f1.price.tolist() == [95.0]
    assert _events(e1, 0) == [(FILLED, 0)]


def test_gtc_order_carries_across_bars() -> None:
    bars = _bars([(100.0, 100.5, 99.5, 100.0), (99.0, 100.0, 96.0, 97.0), (96.0, 97.0, 94.0, 95.0)])
    v = _venue(bars)
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 95.0, "tif": GTC}), 0)
    (_, e0), (_, e1), (f2, e2) = _run(v, range(3))
    assert len(e0) == 0 and len(e1) == 0
    assert f2.price.tolist() == [95.0]
    assert _events(e2, 0) == [(FILLED, 0)]


def test_ioc_fills_what_it_can_and_cancels_the_rest() -> None:
    # volume 100, participation cap 10 % → 10 shares available at bar 0
    v = _venue(_bars([(100.0, 100.5, 99.5, 100.0), (100.0, 100.5, 99.5, 100.0)], volume=100.0),
               participation_cap=0.1)
    v.submit(_orders({"oid": 0, "qty": 25, "tif": IOC}), 0)
    (f0, e0), (f1, e1) = _run(v, range(2))
    assert f0.quantity.tolist() == [10.0]
    assert _events(e0, 0) == [(CANCELLED, VenueReason.IOC_REMAINDER)]
    assert len(f1) == 0 and len(e1) == 0
    assert v.position.tolist() == [10.0]


def test_ioc_limit_that_cannot_fill_is_cancelled_at_once() -> None:
    v = _venue(_bars([(100.0, 100.5, 99.5, 100.0), (99.0, 100.0, 90.0, 95.0)]))
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 95.0, "tif": IOC}), 0)
    (f0, e0), (f1, _) = _run(v, range(2))
    assert len(f0) == 0 and len(f1) == 0
    assert _events(e0, 0) == [(CANCELLED, VenueReason.IOC_REMAINDER)]


def test_fok_is_all_or_nothing() -> None:
    v = _venue(_bars([(100.0, 100.5, 99.5, 100.0), (100.0, 100.5, 99.5, 100.0)], volume=100.0),
               participation_cap=0.1)
    # 25 > 10 available → nothing; 10 ≤ 10 → all
    v.submit(_orders({"oid": 0, "qty": 25, "tif": FOK}), 0)
    f0, e0 = v.process(0)
    assert len(f0) == 0
    assert _events(e0, 0) == [(CANCELLED, VenueReason.FOK_NOT_FILLABLE)]
    assert v.position.tolist() == [0.0]
    v.submit(_orders({"oid": 1, "qty": 10, "tif": FOK}), 1)
    f1, e1 = v.process(1)
    assert f1.oid.tolist() == [1]
    assert f1.quantity.tolist() == [10.0]
    assert _events(e1, 1) == [(FILLED, 0)]
    assert _events(e1, 0) == []  # the killed order does not come back


OPG_BARS = [
    (97.0, 101.0, 96.0, 100.0),
    (102.0, 106.0, 98.0, 104.0),
    (98.0, 99.0, 90.0, 95.0),
]


def test_opg_market_fills_at_the_next_open_with_next_open_model() -> None:
    v = _venue(_bars(OPG_BARS), fill_price="next_open")
    v.submit(_orders({"oid": 0, "qty": 10, "tif": OPG}), 0)
    (f0, _), (f1, e1) = _run(v, range(2))
    assert len(f0) == 0
    assert f1.price.tolist() == [102.0]  # bar 1 open
    assert _events(e1, 0) == [(FILLED, 0)]


def test_opg_market_with_close_model_fills_at_the_next_open_not_the_past_one() -> None:
    """Decided at bar 0's close (100), an at-the-open order can only meet bar 1's opening auction (102).

    Bar 0's open (97) happened before the order existed.
    """
    v = _venue(_bars(OPG_BARS), fill_price="close")
    v.submit(_orders({"oid": 0, "qty": 10, "tif": OPG}), 0)
    (f0, _), (f1, _) = _run(v, range(2))
    fills = list(zip(f0.bar.tolist() + f1.bar.tolist(), f0.price.tolist() + f1.price.tolist(), strict=True))
    assert fills == [(1, 102.0)]  # actual today: [(0, 97.0)]


def test_opg_limit_only_takes_part_in_the_opening_auction() -> None:
    """Limit 99 at the open of bar 1 (102): not filled there; the later low 98 is not the auction."""
    v = _venue(_bars(OPG_BARS), fill_price="next_open")
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 99.0, "tif": OPG}), 0)
    _, (f1, e1), (f2, e2) = _run(v, range(3))
    assert len(f1) == 0
    assert _events(e1, 0) == [(EXPIRED, VenueReason.DAY_EXPIRED)]
    assert len(f2) == 0 and len(e2) == 0  # bar 2 opens at 98 ≤ 99 but the order is gone


def test_cls_market_fills_at_the_close_of_its_bar() -> None:
    v = _venue(_bars(OPG_BARS), fill_price="next_open")
    v.submit(_orders({"oid": 0, "qty": 10, "tif": CLS}), 0)
    (f0, _), (f1, e1) = _run(v, range(2))
    assert len(f0) == 0
    assert f1.price.tolist() == [104.0]  # bar 1 close, not its open 102
    assert _events(e1, 0) == [(FILLED, 0)]


def test_cls_market_with_close_model_fills_at_the_submission_close() -> None:
    v = _venue(_bars(OPG_BARS), fill_price="close")
    v.submit(_orders({"oid": 0, "qty": 10, "tif": CLS}), 0)
    f0, e0 = v.process(0)
    assert f0.price.tolist() == [100.0]
    assert _events(e0, 0) == [(FILLED, 0)]


def test_cls_limit_only_takes_part_in_the_closing_auction() -> None:
    """Limit 103 at the close of bar 1 (104): not filled; the open 102 is not the closing auction."""
    v = _venue(_bars(OPG_BARS), fill_price="next_open")
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 103.0, "tif": CLS}), 0)
    _, (f1, e1) = _run(v, range(2))
    assert len(f1) == 0
    assert _events(e1, 0) == [(EXPIRED, VenueReason.DAY_EXPIRED)]
    assert v.position.tolist() == [0.0]


def test_cls_limit_fills_at_the_close_when_the_close_is_within_the_limit() -> None:
    v = _venue(_bars(OPG_BARS), fill_price="next_open")
    v.submit(_orders({"oid": 0, "qty": 10, "type": LIMIT, "limit": 104.5, "tif": CLS}), 0)
    _, (f1, _) = _run(v, range(2))
    assert f1.price.tolist() == [104.0]  # the closing auction price, not the open 102


def test_opg_market_not_tradable_at_its_bar_expires() -> None:
    # the symbol has no bar 1 (NaN): the opening auction is missed and the order must not carry to bar 2
    frame = pd.DataFrame({
        "timestamp": pd.date_range(DAY0, periods=3, freq="D").repeat(2),
        "symbol": ["A", "B"] * 3,
        "close": [100.0, 50.0, np.nan, 51.0, 101.0, 52.0],
    }).dropna()
    v = SimulatedVenue(MarketData.from_bars(frame), VenueConfig(fill_price="next_open"), CASH, np.ones(2))
    v.submit(_orders({"oid": 0, "qty": 10, "tif": OPG}), 0)
    (_, _), (f1, e1), (f2, _) = _run(v, range(3))
    assert len(f1) == 0 and len(f2) == 0
    assert _events(e1, 0) == [(EXPIRED, VenueReason.DAY_EXPIRED)]


# -- cancel --------------------------------------------------------------------------------------------


def test_cancel_of_a_working_order() -> None:
    v = _venue(_bars([(100.0, 100.5, 99.5, 100.0), (99.0, 100.0, 90.0, 95.0)]))
    v.submit(_orders({"oid": 3, "qty": 10, "type": LIMIT, "limit": 95.0},
                     {"oid": 4, "qty": 10, "type": LIMIT, "limit": 94.0}), 0)
    v.process(0)
    assert v.working_oids().tolist() == [3, 4]
    assert v.cancel(np.array([3, 99], dtype=np.int64)).tolist() == [3]  # 99 is unknown: ignored
    assert v.working_oids().tolist() == [4]
    f1, _ = v.process(1)  # low 90 would have filled both
    assert f1.oid.tolist() == [4]
    assert f1.price.tolist() == [94.0]
    assert v.cancel(np.array([3, 4], dtype=np.int64)).tolist() == []  # nothing is working any more
    assert v.position.tolist() == [10.0]


def test_executor_reports_a_client_cancel_as_an_event() -> None:
    market = _bars([(100.0, 100.5, 99.5, 100.0), (99.0, 100.0, 90.0, 95.0)], volume=100.0)
    ex = BacktestExecutor(market, VenueConfig(participation_cap=0.1), CASH, np.ones(1))
    ex.on_bar(0)
    ex.submit(_orders({"oid": 0, "qty": 25}))  # 10 at bar 0, 15 left working
    fills, events = ex.poll()
    assert fills.quantity.tolist() == [10.0]
    assert _events(events, 0) == [(PARTIALLY_FILLED, 0)]
    ex.cancel(np.array([0], dtype=np.int64))
    fills, events = ex.poll()
    assert len(fills) == 0
    assert _events(events, 0) == [(CANCELLED, VenueReason.CANCELLED_BY_CLIENT)]
    ex.on_bar(1)
    fills, events = ex.poll()
    assert len(fills) == 0 and len(events) == 0
    assert ex.positions().tolist() == [10.0]
