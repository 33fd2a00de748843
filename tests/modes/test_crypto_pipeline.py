"""Crypto through the one pipeline: fractional quantities on the step grid, minimum notional, cash in the quote
currency, and trading on any day of the week (no market-hours assumption), planned and backtested by the same code."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import execlab as xl
from execlab._core.instruments import Instrument, InstrumentTable

from helpers.paths import SHARED_DATA

STEPS = {"BTC/USDT": 0.00001, "ETH/USDT": 0.0001, "SOL/USDT": 0.001}
CRYPTO = InstrumentTable(
    [Instrument(s, "crypto", "USDT", lot_size=step, tick_size=0.01, min_quantity=step, min_notional=5.0,
                fractional=True) for s, step in STEPS.items()],
    default_asset_class="crypto",
)


def _on_grid(quantity: float, step: float) -> bool:
    k = quantity / step
    return math.isclose(k, round(k), abs_tol=1e-6)


def test_a_basket_plan_in_usdt_is_on_each_step_grid_and_drops_dust_under_min_notional() -> None:
    config = xl.Config.from_mapping({"currency": "USDT", "plan": {"target_unit": "weight", "cash_buffer": 0.0}})
    prices = {"BTC/USDT": 61_234.56, "ETH/USDT": 2_345.67, "SOL/USDT": 145.89}
    plan = xl.make_plan({"BTC/USDT": 0.5, "ETH/USDT": 0.3, "SOL/USDT": 0.2}, {"SOL/USDT": 20.0}, prices,
                        cash=7_000.0, config=config, instruments=CRYPTO)
    quantities = plan.table["order_qty"].to_dict()
    for symbol, quantity in quantities.items():
        assert _on_grid(abs(quantity), STEPS[symbol]), (symbol, quantity)
    assert plan.table.loc["SOL/USDT", "side"] == "sell"
    assert 0 < quantities["BTC/USDT"] < 1 and quantities["BTC/USDT"] != round(quantities["BTC/USDT"])
    dust = xl.make_plan({"BTC/USDT": 0.0005}, {}, prices, cash=7_000.0, config=config, instruments=CRYPTO)
    assert dust.table.loc["BTC/USDT", "order_qty"] == 0  # 3.5 USDT < 5 USDT
    assert dust.table.loc["BTC/USDT", "reason"] != "order"


@pytest.mark.shared_data
def test_btc_backtest_trades_fractions_on_weekends() -> None:
    path = SHARED_DATA / "btcusd_daily_coinbase.parquet"
    if not path.exists():
        pytest.skip("../shared/data is absent")
    bars = pd.read_parquet(path).rename(columns={"date": "timestamp"})
    bars = bars[(bars["timestamp"] >= "2017-01-01") & (bars["timestamp"] < "2017-03-01")].dropna()
    days = bars["timestamp"].drop_duplicates().sort_values()
    weekends = days[days.dt.day_of_week >= 5].iloc[::2]  # every other weekend day: Saturdays and Sundays
    weights = pd.Series([0.9 if i % 2 else 0.4 for i in range(len(weekends))], index=weekends.values)
    targets = pd.DataFrame({"BTC/USD": weights})
    table = InstrumentTable([Instrument("BTC/USD", "crypto", "USD", lot_size=0.00001, tick_size=0.01,
                                        min_quantity=0.00001, min_notional=10.0, fractional=True)],
                            default_asset_class="crypto")
    config = xl.Config.from_mapping({"initial_cash": 25_000.0, "plan": {"target_unit": "weight"},
                                     "data": {"gaps": "warn"}})
    result = xl.run_backtest(targets, bars, config, instruments=table)
    fills = result.fills
    assert len(fills) == len(weights) == 9  # one order per rebalance (weights alternate)
    assert (pd.to_datetime(fills["timestamp"]).dt.day_of_week >= 5).any()
    assert all(_on_grid(q, 0.00001) for q in fills["quantity"])
    assert (fills["quantity"] % 1 != 0).all()
