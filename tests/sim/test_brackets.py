"""Bracket, OCO and OTO orders in the simulated venue (its quote/bar front and the backtest's bar venue), leg by leg.

A long bracket on hand-made bars: entry buy 100 (market, filled at the close of the bar it is sent in), take-profit
sell limit 110, stop-loss sell stop 95. The legs are held until the entry is done and work from the next bar on.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from execlab import MarketData, SimulatedVenue, VenueConfig
from execlab._core.codes import CANCELLED as CANCELLED_CODE
from execlab._core.codes import DAY, GTC, LIMIT, MARKET, STOP, VenueReason
from execlab._sim.quote_venue import ACTIVATED, CANCELLED, FILLED, EngineEvent, EngineFill, QuoteVenue

from helpers.orders import order_batch

ENTRY, TP, SL = 1, 2, 3


def _venue(cap: float | None = None) -> QuoteVenue:
    return QuoteVenue(VenueConfig(fill_price="close", participation_cap=cap), 1_000_000.0)


def _bar(v: QuoteVenue, o: float, h: float, lo: float, c: float,
         volume: float = 1e9) -> tuple[list[EngineFill], list[EngineEvent]]:
    v.set_bars([("SPY", o, h, lo, c, volume)])
    return v.match_bars(0)


def _bracket(v: QuoteVenue, entry_type: int = MARKET, limit: float = math.nan) -> None:
    v.submit(ENTRY, "SPY", 100.0, entry_type, GTC, day=0, limit=limit)
    v.submit(TP, "SPY", -100.0, LIMIT, GTC, day=0, limit=110.0, held_by=ENTRY)
    v.submit(SL, "SPY", -100.0, STOP, GTC, day=0, stop=95.0, held_by=ENTRY)
    v.link([TP, SL])


def _entered(v: QuoteVenue) -> None:
    """The entry's bar also trades through the stop: the held legs must not see it."""
    _bracket(v)
    fills, events = _bar(v, 100.0, 100.0, 90.0, 100.0)
    assert [(f.oid, f.qty, f.price) for f in fills] == [(ENTRY, 100.0, 100.0)]
    assert {(e.oid, e.status) for e in events} == {(ENTRY, FILLED), (TP, ACTIVATED), (SL, ACTIVATED)}
    assert v.holding("SPY") == 100.0


def test_take_profit_hit_cancels_the_stop() -> None:
    v = _venue()
    _entered(v)
    fills, events = _bar(v, 101.0, 111.0, 99.0, 105.0)
    assert [(f.oid, f.qty, f.price) for f in fills] == [(TP, -100.0, 110.0)]
    assert (SL, CANCELLED, VenueReason.ONE_CANCELS_OTHER) in {(e.oid, e.status, e.reason) for e in events}
    assert v.holding("SPY") == 0.0
    assert not v.is_working(SL)


def test_stop_loss_hit_cancels_the_take_profit() -> None:
    v = _venue()
    _entered(v)
    fills, events = _bar(v, 99.0, 101.0, 94.0, 96.0)
    assert [(f.oid, f.qty, f.price) for f in fills] == [(SL, -100.0, 95.0)]
    assert (TP, CANCELLED, VenueReason.ONE_CANCELS_OTHER) in {(e.oid, e.status, e.reason) for e in events}
    assert v.holding("SPY") == 0.0


def test_both_in_one_bar_the_stop_fills_first() -> None:
    v = _venue()
    _entered(v)
    fills, events = _bar(v, 100.0, 112.0, 93.0, 100.0)
    assert [(f.oid, f.price) for f in fills] == [(SL, 95.0)]
    assert (TP, CANCELLED, VenueReason.ONE_CANCELS_OTHER) in {(e.oid, e.status, e.reason) for e in events}
    assert v.holding("SPY") == 0.0
    assert v.cash == pytest.approx(1_000_000.0 - 100 * 100.0 + 100 * 95.0)


def test_partial_entry_sizes_the_legs() -> None:
    v = _venue(cap=0.1)
    _bracket(v)
    fills, events = _bar(v, 100.0, 100.0, 100.0, 100.0, volume=400.0)  # 10% of 400: 40 of 100
    assert [(f.oid, f.qty) for f in fills] == [(ENTRY, 40.0)]
    assert not any(e.status == ACTIVATED for e in events)  # still working: the legs wait
    assert v.cancel(ENTRY)
    assert {(e.oid, e.status) for e in v.take_events()} == {(TP, ACTIVATED), (SL, ACTIVATED)}
    assert v.remaining(TP) == 40.0 and v.remaining(SL) == 40.0
    fills, _ = _bar(v, 101.0, 111.0, 100.0, 105.0, volume=1e9)
    assert [(f.oid, f.qty, f.price) for f in fills] == [(TP, -40.0, 110.0)]
    assert v.holding("SPY") == 0.0


def test_cancel_of_the_unfilled_parent_cancels_the_legs() -> None:
    v = _venue()
    _bracket(v, LIMIT, 90.0)
    fills, _ = _bar(v, 100.0, 101.0, 99.0, 100.0)
    assert fills == []
    assert v.cancel(ENTRY)
    assert {(e.oid, e.status, e.reason) for e in v.take_events()} == {
        (TP, CANCELLED, VenueReason.PARENT_ENDED), (SL, CANCELLED, VenueReason.PARENT_ENDED)}
    assert not v.is_working(TP) and not v.is_working(SL)
    fills, events = _bar(v, 80.0, 120.0, 80.0, 100.0)
    assert fills == [] and events == []


def test_client_cancel_of_one_leg_cancels_the_other() -> None:
    v = _venue()
    _entered(v)
    assert v.cancel(TP)
    assert [(e.oid, e.status, e.reason) for e in v.take_events()] == [
        (SL, CANCELLED, VenueReason.ONE_CANCELS_OTHER)]
    fills, _ = _bar(v, 99.0, 101.0, 90.0, 96.0)
    assert fills == []


def test_oco_pair_works_at_once_and_the_stop_wins_a_shared_bar() -> None:
    v = _venue()
    v.submit(9, "SPY", 100.0, MARKET, DAY, day=0)
    _bar(v, 100.0, 100.0, 100.0, 100.0)
    v.submit(TP, "SPY", -100.0, LIMIT, GTC, day=0, limit=110.0)
    v.submit(SL, "SPY", -100.0, STOP, GTC, day=0, stop=95.0)
    v.link([TP, SL])
    fills, _ = _bar(v, 100.0, 111.0, 94.0, 100.0)
    assert [(f.oid, f.price) for f in fills] == [(SL, 95.0)]
    assert not v.is_working(TP)


def test_oto_leg_activates_after_the_entry() -> None:
    v = _venue()
    v.submit(ENTRY, "SPY", 100.0, MARKET, GTC, day=0)
    v.submit(SL, "SPY", -100.0, STOP, GTC, day=0, stop=95.0, held_by=ENTRY)
    _bar(v, 100.0, 100.0, 90.0, 100.0)
    fills, _ = _bar(v, 99.0, 99.0, 94.0, 96.0)
    assert [(f.oid, f.price) for f in fills] == [(SL, 95.0)]


# -- the bar venue (the backtest's SimulatedVenue) -------------------------------------------------------------


def _bar_venue(ohlc: list[tuple[float, float, float, float]], volume: float = 1e9,
               cap: float | None = None) -> SimulatedVenue:
    frame = pd.DataFrame(ohlc, columns=["open", "high", "low", "close"])
    frame.insert(0, "symbol", "SPY")
    frame.insert(0, "timestamp", pd.date_range("2024-01-02", periods=len(ohlc), freq="D"))
    frame["volume"] = volume
    return SimulatedVenue(MarketData.from_bars(frame), VenueConfig(fill_price="close", participation_cap=cap),
                          1_000_000.0, np.ones(1))


def _bar_bracket(v: SimulatedVenue, entry: dict[str, float] | None = None) -> None:
    v.submit(order_batch({"oid": ENTRY, "qty": 100.0, **(entry or {})}), 0)
    v.hold(ENTRY, order_batch({"oid": TP, "qty": -100.0, "type": LIMIT, "limit": 110.0},
                              {"oid": SL, "qty": -100.0, "type": STOP, "stop": 95.0}))
    v.link(np.array([TP, SL]))


def _trades(v: SimulatedVenue, bars: range) -> list[tuple[int, int, float, float]]:
    out = []
    for i in bars:
        fills, _ = v.process(i)
        out += [(i, int(o), float(q), float(p)) for o, q, p in zip(fills.oid, fills.quantity, fills.price,
                                                                    strict=True)]
    return out


@pytest.mark.parametrize(("bar1", "leg", "price"), [
    ((101.0, 111.0, 99.0, 105.0), TP, 110.0),
    ((99.0, 101.0, 94.0, 96.0), SL, 95.0),
    ((100.0, 112.0, 93.0, 100.0), SL, 95.0),  # both in one bar: the stop first
], ids=["take-profit", "stop-loss", "both-in-one-bar"])
def test_bar_venue_bracket_legs(bar1: tuple[float, float, float, float], leg: int, price: float) -> None:
    v = _bar_venue([(100.0, 100.0, 90.0, 100.0), bar1, (100.0, 120.0, 80.0, 100.0)])
    _bar_bracket(v)
    assert _trades(v, range(3)) == [(0, ENTRY, 100.0, 100.0), (1, leg, -100.0, price)]
    assert v.position[0] == 0.0 and v.open_order_count == 0


def test_bar_venue_partial_entry_and_parent_cancel() -> None:
    v = _bar_venue([(100.0, 100.0, 100.0, 100.0), (101.0, 111.0, 100.0, 105.0)], volume=400.0, cap=0.1)
    _bar_bracket(v)
    fills, _ = v.process(0)
    assert fills.quantity.tolist() == [40.0]
    v.cancel(np.array([ENTRY]))
    fills, events = v.process(1)  # the legs were activated by the cancel, for 40: the take-profit fills 40
    assert (fills.oid.tolist(), fills.quantity.tolist()) == ([TP], [-40.0])
    assert (SL, CANCELLED_CODE, VenueReason.ONE_CANCELS_OTHER) in set(zip(
        events.oid.tolist(), events.status.tolist(), events.reason.tolist(), strict=True))


def test_bar_venue_cancel_of_the_unfilled_parent_cancels_the_legs() -> None:
    v = _bar_venue([(100.0, 100.0, 100.0, 100.0), (80.0, 120.0, 80.0, 100.0)])
    _bar_bracket(v, {"type": LIMIT, "limit": 90.0})
    v.process(0)
    v.cancel(np.array([ENTRY]))
    fills, events = v.process(1)
    assert len(fills) == 0
    assert sorted(zip(events.oid.tolist(), events.reason.tolist(), strict=True)) == [
        (TP, VenueReason.PARENT_ENDED), (SL, VenueReason.PARENT_ENDED)]
