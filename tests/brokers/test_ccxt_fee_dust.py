"""Fees taken in the asset received (a Binance/OKX spot buy): reconcile expects the position net of them, and the
plan works on the step grid, so a rebalance tops up once and then leaves the sub-step dust alone instead of chasing
it (and closes an off-grid position down to that dust)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import execlab as xl
from execlab._brokers.executor import BrokerExecutor
from execlab._brokers.reconcile import reconcile
from execlab._core.instruments import InstrumentArrays
from execlab._oms.journal import Journal
from execlab._plan.diff import PlanReason, PlanSettings, plan_orders
from execlab._runs.live import run_live_rebalance
from execlab.adapters.ccxt import BinanceAdapter
from execlab.venues.binance import BinanceVenue

PRICE = 50_000.0
TARGET = 0.12345  # BTC, on Binance's 0.00001 step


def _plan(target: float, position: float) -> tuple[float, int]:
    rules = InstrumentArrays(np.array([1e-5]), np.array([1e-5]), np.array([5.0]), np.array([0.01]))
    _, qty, reason, _ = plan_orders(np.array([target]), np.array([position]), np.array([PRICE]), 1e6, 1e6, rules,
                                    PlanSettings(unit="shares", cash_floor=None))
    return float(qty[0]), int(reason[0])


def test_an_off_grid_position_is_closed_to_the_grid_and_its_dust_left() -> None:
    held = TARGET * (1 - 0.001)  # 0.12332655: the buy's fee came out of the BTC received
    qty, reason = _plan(0.0, held)
    assert qty == pytest.approx(-0.12332) and reason == PlanReason.ORDER
    assert _plan(0.0, held + qty) == (0.0, PlanReason.BELOW_MIN_QUANTITY)  # 0.00000655 BTC: no order can sell it


@pytest.fixture
def venue() -> Iterator[Any]:
    v = BinanceVenue(balances={"USDT": 10_000.0}).start()  # BTC/USDT: fee 0.1 % in the asset received
    v.set_quote("BTC/USDT", PRICE, PRICE + 0.1)
    try:
        yield v
    finally:
        v.stop()


def _rebalance(venue: BinanceVenue, journal: Journal) -> tuple[Any, Any]:
    config = xl.Config.from_mapping({"mode": "paper", "run_id": "dust", "currency": "USDT", "broker": {
        "name": "ccxt", "exchange": "binance", "base_url": venue.base_url, "api_key": venue.api_key,
        "api_secret": venue.secret, "stream": False}})
    executor = BrokerExecutor(BinanceAdapter(venue.api_key, venue.secret, base_url=venue.base_url, stream=False),
                              journal, "dust", (), backoff_seconds=0.01)
    try:
        report = reconcile(executor, journal, "dust")
        done = run_live_rebalance({"BTC/USDT": TARGET}, {"BTC/USDT": PRICE}, config, executor, journal,
                                  f"k{len(journal.orders('dust'))}", timeout=20)
    finally:
        executor.close()
    return report, done


@pytest.mark.local_venue
def test_reconcile_expects_the_fee_taken_from_the_asset_received_and_the_rebalance_stops_topping_up(
        venue: BinanceVenue, journal: Journal) -> None:
    _, first = _rebalance(venue, journal)
    assert first.complete and list(first.orders["quantity"]) == [TARGET]
    fills = journal.fills("dust")
    assert list(fills["fee_currency"]) == ["BTC"]
    fee = float(fills["fee"].iloc[0])
    held = venue.account.balance("BTC")
    assert held == pytest.approx(TARGET - fee)  # the position is the quantity bought less the fee

    second_report, second = _rebalance(venue, journal)  # reconciles the fee, then tops up on the grid once
    assert second_report.state == "active", second_report.alerts
    row = second_report.positions.loc["BTC/USDT"]
    assert row["expected"] == pytest.approx(held) and abs(row["difference"]) < 1e-9
    assert list(second.orders["quantity"]) == [pytest.approx(0.00012)]  # 0.12345 - 0.12332655, down to the step

    third_report, third = _rebalance(venue, journal)  # what is left is below one step: nothing to send
    assert third_report.state == "active", third_report.alerts
    assert third.orders.empty or (third.orders["quantity"] == 0).all()
    assert TARGET - venue.account.balance("BTC") < 1e-5
    assert len(venue.account.all_orders()) == 2
