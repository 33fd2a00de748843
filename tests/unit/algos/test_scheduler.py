"""The scheduler: schedule shapes, catch-up and skip, lots, minimum merge, caps, guards, end policy, basket cash."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from execlab._algos import (
    AlgoParams,
    MarketSlice,
    ParentOrder,
    ParentProgress,
    child_client_id,
    is_finished,
    next_children,
    scheduled_fraction,
    volume_profile,
)
from execlab._brokers.client_ids import ALPHANUMERIC_32
from execlab._core.instruments import Instrument, InstrumentTable

T0 = pd.Timestamp("2013-10-11 14:00", tz="UTC")
MIN = pd.Timedelta("1min")
RICH = 1e12


def parent(qty: float = 1000, side: str = "buy", symbol: str = "SPY", pid: str = "p1", **params: object) -> ParentOrder:
    base = {"algo": "twap", "horizon": pd.Timedelta("10min"), "slices": 10, "min_child": 1.0}
    base.update(params)
    return ParentOrder(pid, symbol, side, qty, 100.0, AlgoParams(**base), T0)  # type: ignore[arg-type]


def mkt(last: float = 100.0, volume: float = 1e9, bid: float | None = None, ask: float | None = None) -> MarketSlice:
    return MarketSlice(last, bid, ask, volume)


def run_once(p: ParentOrder, prog: ParentProgress, now: pd.Timestamp, **kw: object):  # type: ignore[no-untyped-def]
    market = kw.pop("market", {p.symbol: mkt()})
    cash = kw.pop("cash", RICH)
    return next_children([p], {p.client_id: prog}, market, now, cash_available=cash, **kw)  # type: ignore[arg-type]


def test_twap_schedule_is_q_k_over_n_and_sends_one_slice_per_interval() -> None:
    p = parent()
    filled, sent, sizes = 0.0, 0, []
    for minute in range(10):
        kids, _ = run_once(p, ParentProgress(filled, 0, sent), T0 + minute * MIN)
        assert len(kids) == 1
        sizes.append(kids[0].quantity)
        filled += kids[0].quantity
        sent += 1
    assert sizes == [100.0] * 10
    assert is_finished(p, ParentProgress(filled, 0, sent), T0 + 10 * MIN)


def test_behind_schedule_catches_up_and_ahead_skips() -> None:
    p = parent()
    kids, _ = run_once(p, ParentProgress(0, 0, 1), T0 + 3 * MIN)  # slice 4 due 400, nothing done
    assert kids[0].quantity == 400 and kids[0].reason == "catch-up"
    kids, _ = run_once(p, ParentProgress(500, 0, 5), T0 + 3 * MIN)  # ahead: nothing
    assert kids == []
    kids, _ = run_once(p, ParentProgress(200, 200, 3), T0 + 3 * MIN)  # working children count as done
    assert kids == []
    kids, _ = run_once(p, ParentProgress(250, 100, 3), T0 + 3 * MIN)
    assert [k.quantity for k in kids] == [50]


def test_lots_round_down_and_dust_carries_to_the_end() -> None:
    p = parent(qty=1005, pid="lots")
    table = InstrumentTable([Instrument("SPY", lot_size=10, min_quantity=10)])
    filled, sent, sizes = 0.0, 0, []
    for minute in range(10):
        kids, _ = run_once(p, ParentProgress(filled, 0, sent), T0 + minute * MIN, instruments=table)
        for k in kids:
            sizes.append(k.quantity)
            filled += k.quantity
            sent += 1
    assert all(s % 10 == 0 for s in sizes[:-1])
    assert sum(sizes) == 1005  # the last child merges the 5-share dust
    assert sizes[-1] == 105


def test_child_under_minimum_is_carried_into_a_later_child() -> None:
    p = parent(qty=100, min_child=25.0, pid="mins")
    filled, sent, sizes = 0.0, 0, []
    for minute in range(10):
        kids, skips = run_once(p, ParentProgress(filled, 0, sent), T0 + minute * MIN)
        if minute == 0:
            assert kids == [] and "under the minimum" in skips[0].reason
        for k in kids:
            sizes.append(k.quantity)
            filled += k.quantity
            sent += 1
    assert sum(sizes) == 100 and min(sizes) >= 25


def test_vwap_follows_the_profile() -> None:
    profile = (4.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    p = parent(algo="vwap", profile=profile)
    assert scheduled_fraction(p, T0) == pytest.approx(4 / 13)
    kids, _ = run_once(p, ParentProgress(), T0)
    assert kids[0].quantity == 307  # floor(1000 * 4/13)


def test_volume_profile_uses_only_previous_days() -> None:
    days = pd.date_range("2013-10-08", periods=3, freq="D", tz="UTC")
    rows = []
    for d in days:
        for m in range(4):
            rows.append({"ts": d + pd.Timedelta(hours=14, minutes=m), "symbol": "X", "volume": 10.0 * (m + 1)})
    bars = pd.DataFrame(rows)
    prof = volume_profile(bars, "X", days[2] + pd.Timedelta(hours=14), pd.Timedelta("4min"), 2)
    assert prof == pytest.approx((30 / 100, 70 / 100))
    assert volume_profile(bars, "X", days[0] + pd.Timedelta(hours=14), pd.Timedelta("4min"), 2) is None


def test_pov_child_is_capped_by_volume_since_last_child() -> None:
    p = parent(algo="pov", participation=0.1)
    kids, skips = run_once(p, ParentProgress(), T0, market={"SPY": mkt(volume=1234)})
    assert [k.quantity for k in kids] == [123] and kids[0].reason == "participation"
    assert "participation cap" in skips[0].reason


def test_per_symbol_cap_applies_to_twap_too() -> None:
    p = parent(participation=0.05)
    kids, _ = run_once(p, ParentProgress(), T0, market={"SPY": mkt(volume=1000)})
    assert kids[0].quantity == 50


def test_iceberg_shows_display_size_and_reposts_only_when_nothing_works() -> None:
    p = parent(algo="iceberg", display_size=300)
    kids, _ = run_once(p, ParentProgress(), T0)
    assert kids[0].quantity == 300 and kids[0].reason == "iceberg"
    assert run_once(p, ParentProgress(100, 200, 1), T0 + MIN)[0] == []
    kids, _ = run_once(p, ParentProgress(900, 0, 3), T0 + MIN)
    assert kids[0].quantity == 100 and kids[0].reason == "iceberg-repost" and kids[0].seq == 3


def test_limit_guard_prices_the_child_and_holds_when_the_market_is_beyond() -> None:
    p = parent(limit_bps=10.0)
    kids, _ = run_once(p, ParentProgress(), T0, market={"SPY": mkt(bid=100.0, ask=100.05)})
    assert kids[0].limit_price == pytest.approx(100.10)
    kids, skips = run_once(p, ParentProgress(), T0, market={"SPY": mkt(bid=100.2, ask=100.25)})
    assert kids == [] and "limit guard" in skips[0].reason
    sell = parent(side="sell", limit_bps=10.0)
    kids, _ = run_once(sell, ParentProgress(), T0, market={"SPY": mkt(bid=99.95, ask=100.0)})
    assert kids[0].limit_price == pytest.approx(99.90)


def test_spread_guard() -> None:
    p = parent(max_spread_bps=5.0)
    kids, skips = run_once(p, ParentProgress(), T0, market={"SPY": mkt(bid=99.9, ask=100.1)})
    assert kids == [] and "spread" in skips[0].reason
    kids, _ = run_once(p, ParentProgress(), T0, market={"SPY": mkt(bid=99.99, ask=100.01)})
    assert len(kids) == 1


def test_end_of_horizon_sweep_or_leave() -> None:
    sweep = parent(participation=0.01)
    kids, _ = run_once(sweep, ParentProgress(300, 0, 3), T0 + 10 * MIN, market={"SPY": mkt(volume=10)})
    assert kids[0].quantity == 700 and kids[0].reason == "sweep"  # the sweep ignores the participation cap
    leave = parent(at_end="leave")
    kids, skips = run_once(leave, ParentProgress(300, 0, 3), T0 + 10 * MIN)
    assert kids == [] and skips[0].quantity == 700 and "left" in skips[0].reason
    assert is_finished(leave, ParentProgress(300, 0, 3), T0 + 10 * MIN)


def test_basket_sells_first_and_buys_only_from_existing_cash() -> None:
    buy = parent(qty=1000, pid="b", symbol="IBM")
    sell = parent(qty=1000, side="sell", pid="s", symbol="SPY")
    market = {"SPY": mkt(), "IBM": mkt()}
    kids, skips = next_children([buy, sell], {}, market, T0, cash_available=5_000.0)
    assert [k.side for k in kids] == ["sell", "buy"]
    assert kids[1].quantity == 50  # 5,000 of cash at 100: the sell's expected proceeds fund nothing
    assert any(s.reason.startswith("cash") and s.quantity == 50 for s in skips)
    kids, _ = next_children([buy], {}, market, T0, cash_available=50.0)
    assert kids == []


def test_child_ids_are_deterministic_and_fit_every_broker() -> None:
    cid = child_client_id("xl-" + "a" * 32, 7)
    assert cid == child_client_id("xl-" + "a" * 32, 7) != child_client_id("xl-" + "a" * 32, 8)
    assert len(cid) == 35
    wire = ALPHANUMERIC_32.render(cid)
    assert wire.isalnum() and len(wire) == 32 and ALPHANUMERIC_32.parse(wire) == cid
    kids, _ = run_once(parent(pid="xl-" + "a" * 32), ParentProgress(0, 0, 7), T0)
    assert kids[0].client_id == cid and kids[0].seq == 7 and kids[0].parent_id == "xl-" + "a" * 32


def test_bad_params_name_the_field() -> None:
    with pytest.raises(ValueError, match="participation"):
        AlgoParams(algo="pov")
    with pytest.raises(ValueError, match="profile"):
        AlgoParams(algo="vwap", slices=3, profile=(1.0, 2.0))
    with pytest.raises(ValueError, match="quantity"):
        replace(parent(), quantity=0)
