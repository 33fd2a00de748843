"""Pre-trade risk: every check denies exactly the offending orders of a mixed batch with its own reason code,
lets good orders through, and the first failing check wins; trading states, the daily loss halt, the kill
switch, the config keys, and ``run_backtest`` end to end.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from execlab import Config, ConfigError, CostEstimate, PlanConfig, RiskConfig, load_config, run_backtest
from execlab._risk.engine import KillSwitchActions, RiskContext, RiskEngine, RiskReason, kill_switch

R = RiskReason
UNIVERSE = ("AAA", "BBB", "CCC", "DDD")
NAN = np.nan


def ctx(**kw: Any) -> RiskContext:
    """A batch of one order per symbol of ``UNIVERSE`` (fewer when ``symbol`` is given); lists become arrays."""
    q = np.asarray(kw.pop("quantity", [10.0, 10.0, 10.0, 10.0]), dtype=np.float64)
    n = q.size
    arrays = {
        "symbol": np.asarray(kw.pop("symbol", np.arange(n)), dtype=np.int64),
        "quantity": q,
        "price": np.asarray(kw.pop("price", [100.0] * n), dtype=np.float64),
        "position": np.asarray(kw.pop("position", [0.0] * n), dtype=np.float64),
    }
    for key in ("limit_price", "last_price", "adv"):
        if key in kw:
            kw[key] = np.asarray(kw[key], dtype=np.float64)
    return RiskContext(**arrays, equity=kw.pop("equity", 1_000_000.0), **kw)


def engine(allow_short: bool = True, **config: Any) -> RiskEngine:
    return RiskEngine(RiskConfig(**config), UNIVERSE, allow_short)


def codes(*reasons: RiskReason | int) -> list[int]:
    return [int(r) for r in reasons]


# Each check: (config, allow_short, context, expected reason per order). "trips" batches mix good and bad orders.
TRIPS: dict[RiskReason, tuple[dict[str, Any], bool, dict[str, Any], list[int]]] = {
    R.RESTRICTED: ({"restricted": ("BBB", "ZZZ")}, True, {}, codes(0, R.RESTRICTED, 0, 0)),
    R.INVALID_INPUT: (
        {"max_order_value": 1e9},
        True,
        {"quantity": [10, 10, 10, NAN], "price": [100, NAN, 0, 100]},
        codes(0, R.INVALID_INPUT, R.INVALID_INPUT, R.INVALID_INPUT),
    ),
    R.SHORTING_NOT_ALLOWED: (
        {},
        False,
        {"quantity": [-10, -11, -1, 5], "position": [10, 10, 0, 5]},
        codes(0, R.SHORTING_NOT_ALLOWED, R.SHORTING_NOT_ALLOWED, 0),
    ),
    R.MAX_ORDER_QUANTITY: (
        {"max_order_quantity": 100},
        True,
        {"quantity": [100, 101, -150, -50]},
        codes(0, R.MAX_ORDER_QUANTITY, R.MAX_ORDER_QUANTITY, 0),
    ),
    R.MAX_ORDER_VALUE: (
        # values 10,000 (at the limit), 10,100, 10,000 and, at its limit price 101, 10,100
        {"max_order_value": 10_000},
        True,
        {"quantity": [100, 101, -200, 100], "price": [100, 100, 50, 100], "limit_price": [NAN, NAN, NAN, 101]},
        codes(0, R.MAX_ORDER_VALUE, 0, R.MAX_ORDER_VALUE),
    ),
    R.PRICE_BAND: (
        {"price_band_pct": 0.05},
        True,
        {"limit_price": [NAN, 105, 106, 94], "last_price": [100, 100, 100, 100]},
        codes(0, 0, R.PRICE_BAND, R.PRICE_BAND),
    ),
    R.MAX_ADV_PCT: (
        {"max_adv_pct": 0.1},
        True,
        {"quantity": [100, -101, 1, 1e6], "adv": [1_000, 1_000, 0, np.inf]},
        codes(0, R.MAX_ADV_PCT, R.MAX_ADV_PCT, 0),
    ),
    R.MAX_POSITION_PCT: (
        # equity 1,000,000 at price 100: the limit is 1,000 shares; order 3 shrinks an oversized position
        {"max_position_pct": 0.1},
        True,
        {"quantity": [1_000, 101, -500, -1_001], "position": [0, 900, 2_000, 0]},
        codes(0, R.MAX_POSITION_PCT, 0, R.MAX_POSITION_PCT),
    ),
    R.BUYING_POWER: (
        # buying power 10,000; the sell frees 2,000; buys of 6,000, 7,000 (only 6,000 left) and 5,000
        {},
        True,
        {"quantity": [-20, 60, 70, 50], "position": [20, 0, 0, 0], "buying_power": 10_000.0},
        codes(0, 0, R.BUYING_POWER, 0),
    ),
    R.MAX_GROSS_EXPOSURE: (
        # equity 100,000, limit 1.0 ×, book gross 90,000: −10,000, +15,000, +10,000 (would be 105,000), +5,000
        {"max_gross_exposure": 1.0},
        True,
        {"quantity": [-100, 150, 100, 50], "position": [100, 0, 0, 0], "equity": 100_000.0,
         "gross_exposure": 90_000.0, "net_exposure": 90_000.0},
        codes(0, 0, R.MAX_GROSS_EXPOSURE, 0),
    ),
    R.MAX_NET_EXPOSURE: (
        # equity 100,000, limit 0.5 ×, book net 40,000: +5,000, +10,000 (would be 55,000), −30,000, +20,000
        {"max_net_exposure": 0.5},
        True,
        {"quantity": [50, 100, -300, 200], "equity": 100_000.0, "gross_exposure": 40_000.0,
         "net_exposure": 40_000.0},
        codes(0, R.MAX_NET_EXPOSURE, 0, 0),
    ),
    R.MAX_DAILY_ORDERS: (
        # 3 sent today, 5 allowed: BBB is denied earlier and does not use up the count
        {"max_daily_orders": 5, "restricted": ("BBB",)},
        True,
        {"orders_today": 3},
        codes(0, R.RESTRICTED, 0, R.MAX_DAILY_ORDERS),
    ),
    R.REDUCING_ONLY: (
        # shrink, close, grow, open, flip
        {"trading_state": "reducing_only"},
        True,
        {"symbol": [0, 1, 2, 3, 0], "quantity": [-50, -100, 10, 10, -150], "position": [100, 100, 100, 0, 100],
         "price": [100] * 5},
        codes(0, 0, R.REDUCING_ONLY, R.REDUCING_ONLY, R.REDUCING_ONLY),
    ),
    R.HALTED: ({"trading_state": "halted"}, True, {}, codes(R.HALTED, R.HALTED, R.HALTED, R.HALTED)),
    R.DAILY_LOSS_LIMIT: (
        {"daily_loss_limit": 5_000},
        True,
        {"equity": 995_000.0, "day_start_equity": 1_000_000.0},
        codes(*[R.DAILY_LOSS_LIMIT] * 4),
    ),
}

# The same checks with every order good (often right at the limit).
PASSES: dict[RiskReason, tuple[dict[str, Any], bool, dict[str, Any]]] = {
    R.RESTRICTED: ({"restricted": ("ZZZ",)}, True, {}),
    R.INVALID_INPUT: ({"max_order_value": 1e9, "max_adv_pct": 1.0}, True, {"adv": [10, 10, 100, np.inf]}),
    R.SHORTING_NOT_ALLOWED: ({}, False, {"quantity": [-10, -5, 1, 5], "position": [10, 10, 0, 5]}),
    R.MAX_ORDER_QUANTITY: ({"max_order_quantity": 100}, True, {"quantity": [100, -100, 1, 0.5]}),
    R.MAX_ORDER_VALUE: ({"max_order_value": 10_000}, True, {"quantity": [100, -100, 99, 1]}),
    R.PRICE_BAND: ({"price_band_pct": 0.05}, True, {"limit_price": [NAN, 105, 95, 100]}),
    R.MAX_ADV_PCT: ({"max_adv_pct": 0.1}, True, {"quantity": [100, -100, 0, 5], "adv": [1_000, 1_000, 0, 50]}),
    R.MAX_POSITION_PCT: ({"max_position_pct": 0.1}, True, {"quantity": [1_000, -1_000, 10, -10]}),
    # 10,000 + 2,000 − 1 fee from the sell = 11,999 for buys of 3,000 + 1, 3,000 + 1 and 5,900 + 1
    R.BUYING_POWER: ({}, True, {"quantity": [-20, 30, 30, 59], "position": [20, 0, 0, 0], "buying_power": 10_000.0,
                                "costs": CostEstimate(per_share=0.01, min_fee=1.0)}),
    R.MAX_GROSS_EXPOSURE: ({"max_gross_exposure": 1.0}, True, {"equity": 100_000.0, "gross_exposure": 96_000.0,
                                                               "net_exposure": 0.0}),
    R.MAX_NET_EXPOSURE: ({"max_net_exposure": 0.5}, True, {"quantity": [100, -100, 100, 100], "equity": 100_000.0,
                                                           "gross_exposure": 0.0, "net_exposure": 30_000.0}),
    R.MAX_DAILY_ORDERS: ({"max_daily_orders": 5}, True, {"orders_today": 1}),
    R.REDUCING_ONLY: ({"trading_state": "reducing_only"}, True, {"quantity": [-10, 10, -5, 5],
                                                                 "position": [10, -10, 20, -20]}),
    R.HALTED: ({"trading_state": "active"}, True, {}),
    R.DAILY_LOSS_LIMIT: ({"daily_loss_limit": 5_000}, True, {"equity": 995_000.01, "day_start_equity": 1_000_000.0}),
}


def test_every_reason_has_a_tripping_and_a_passing_case() -> None:
    checks = set(RiskReason) - {RiskReason.OK}
    assert set(TRIPS) == checks
    assert set(PASSES) == checks


@pytest.mark.parametrize("check", list(TRIPS), ids=lambda r: r.name.lower())
def test_check_denies_exactly_the_offending_orders(check: RiskReason) -> None:
    config, allow_short, context, expected = TRIPS[check]
    reason = engine(allow_short, **config).check(ctx(**context))
    assert reason.dtype == np.int8
    assert reason.tolist() == expected


@pytest.mark.parametrize("check", list(PASSES), ids=lambda r: r.name.lower())
def test_check_lets_good_orders_through(check: RiskReason) -> None:
    config, allow_short, context = PASSES[check]
    c = ctx(**context)
    reason = engine(allow_short, **config).check(c)
    assert reason.tolist() == [0] * c.quantity.size


def test_reason_codes_are_the_check_order() -> None:
    assert [r.name for r in RiskReason] == [
        "OK", "HALTED", "DAILY_LOSS_LIMIT", "REDUCING_ONLY", "RESTRICTED", "INVALID_INPUT", "SHORTING_NOT_ALLOWED",
        "MAX_ORDER_QUANTITY", "MAX_ORDER_VALUE", "PRICE_BAND", "MAX_ADV_PCT", "MAX_POSITION_PCT", "BUYING_POWER",
        "MAX_GROSS_EXPOSURE", "MAX_NET_EXPOSURE", "MAX_DAILY_ORDERS",
    ]
    assert [int(r) for r in RiskReason] == list(range(len(RiskReason)))


def test_first_failing_check_wins() -> None:
    eng = RiskEngine(RiskConfig(restricted=("AAA",), max_order_quantity=100, max_order_value=5_000,
                                price_band_pct=0.01, max_position_pct=0.001, max_daily_orders=1),
                     UNIVERSE, allow_short=False)
    reason = eng.check(ctx(
        # AAA: restricted, short, too many, too valuable
        # BBB: short, too many, too valuable
        # CCC: too many and too valuable
        # DDD: outside the price band (limit 120) and too large a position
        quantity=[-200, -200, 200, 40], position=[0, 0, 0, 0], limit_price=[NAN, NAN, NAN, 120.0],
    ))
    assert reason.tolist() == codes(R.RESTRICTED, R.SHORTING_NOT_ALLOWED, R.MAX_ORDER_QUANTITY, R.PRICE_BAND)


def test_first_failing_check_wins_between_order_and_batch_checks() -> None:
    # Only the passing orders count against buying power and the daily order count.
    eng = engine(max_order_value=5_000, max_daily_orders=1)
    reason = eng.check(ctx(quantity=[60, 40, 40, 40], buying_power=4_000.0))
    assert reason.tolist() == codes(R.MAX_ORDER_VALUE, 0, R.BUYING_POWER, R.BUYING_POWER)
    reason = eng.check(ctx(quantity=[60, 10, 10, 10], buying_power=4_000.0))
    assert reason.tolist() == codes(R.MAX_ORDER_VALUE, 0, R.MAX_DAILY_ORDERS, R.MAX_DAILY_ORDERS)


def test_reducing_only_takes_precedence_over_restricted() -> None:
    eng = engine(trading_state="reducing_only", restricted=("AAA", "BBB"))
    reason = eng.check(ctx(quantity=[10, -10, 10, -10], position=[0, 10, 0, 10]))
    assert reason.tolist() == codes(R.REDUCING_ONLY, R.RESTRICTED, R.REDUCING_ONLY, 0)


def test_buying_power_counts_slippage_fees_and_limit_prices() -> None:
    eng = engine()
    # 10 bps fees and 50 bps slippage (per symbol of the universe, as executors give it; 0 for CCC):
    #   sell AAA 10 @ 100·0.995 = 995 − 0.995 fee = 994.005 freed
    #   buy BBB 20 @ 100·1.005 = 2,010 + 2.01 = 2,012.01; buy CCC 10 @ limit 101 = 1,010 + 1.01 = 1,011.01
    #   buy DDD 1 @ 100.5 + 0.1005 = 100.6005
    costs = CostEstimate(slippage=np.array([0.005, 0.005, 0.0, 0.005]), fee_rate=0.001)
    base = {"quantity": [-10, 20, 10, 1], "position": [10, 0, 0, 0], "limit_price": [NAN, NAN, 101, NAN],
            "costs": costs}
    exact = 2_012.01 + 1_011.01 + 100.6005 - 994.005
    assert eng.check(ctx(**base, buying_power=exact)).tolist() == [0, 0, 0, 0]
    assert eng.check(ctx(**base, buying_power=exact - 0.01)).tolist() == codes(0, 0, 0, R.BUYING_POWER)
    assert eng.check(ctx(**base, buying_power=2_012.01 - 994.005 + 1_011.0)).tolist() == codes(
        0, 0, R.BUYING_POWER, 0)
    # switched off by config
    assert engine(check_buying_power=False).check(ctx(**base, buying_power=0.0)).tolist() == [0, 0, 0, 0]


def test_net_exposure_lets_orders_toward_zero_through_when_already_over_the_limit() -> None:
    eng = engine(max_net_exposure=0.5)
    c = ctx(quantity=[-100, 10, -10, 10], equity=100_000.0, gross_exposure=80_000.0, net_exposure=80_000.0)
    assert eng.check(c).tolist() == codes(0, R.MAX_NET_EXPOSURE, 0, R.MAX_NET_EXPOSURE)


def test_missing_context_for_a_configured_check_denies_as_invalid_input() -> None:
    all_invalid = codes(*[R.INVALID_INPUT] * 4)
    assert engine(max_adv_pct=0.1).check(ctx()).tolist() == all_invalid  # no ADV
    assert engine(daily_loss_limit=1.0).check(ctx()).tolist() == all_invalid  # no day-start equity
    assert engine(max_gross_exposure=1.0).check(ctx()).tolist() == all_invalid  # no book exposure
    assert engine(max_net_exposure=1.0).check(ctx()).tolist() == all_invalid
    assert engine(max_position_pct=0.5).check(ctx(equity=NAN)).tolist() == all_invalid
    assert engine().check(ctx(buying_power=NAN)).tolist() == all_invalid
    # only what a configured check needs: a NaN last price does not matter without a price band
    assert engine(max_order_value=1e9).check(ctx(last_price=[NAN] * 4)).tolist() == [0] * 4


def test_nothing_configured_passes_everything_and_empty_batches_are_fine() -> None:
    eng = engine()
    assert eng.check(ctx(quantity=[1e12, -1e12, 1, -1])).tolist() == [0] * 4
    empty = ctx(quantity=[])
    assert engine(allow_short=False, max_order_value=1.0).check(empty).shape == (0,)


def test_halt_denies_all_and_resume_restores_trading() -> None:
    eng = engine(max_order_value=1e9)
    eng.halt("manual halt", at=datetime(2024, 1, 2, 15, 30))
    assert eng.state == "halted"
    assert eng.halt_code == R.HALTED
    assert eng.check(ctx(quantity=[-10, 10, -1, 1], position=[10, 0, 5, 0])).tolist() == codes(*[R.HALTED] * 4)
    eng.resume()
    assert eng.state == "active" and eng.halt_code is None
    assert eng.check(ctx()).tolist() == [0] * 4
    log = eng.state_changes()
    assert log.columns.tolist() == ["timestamp", "previous", "state", "reason"]
    assert log[["previous", "state", "reason"]].values.tolist() == [
        ["active", "halted", "manual halt"], ["halted", "active", "resumed"]]
    assert log["timestamp"].iloc[0] == pd.Timestamp("2024-01-02 15:30")


def test_reducing_only_state_from_the_engine() -> None:
    eng = engine()
    eng.set_reducing_only("risk review")
    assert eng.state == "reducing_only"
    # sell part of a long, buy back part of a short, add to a long, flip a short to long
    reason = eng.check(ctx(quantity=[-5, 5, 5, 30], position=[10, -10, 10, -20]))
    assert reason.tolist() == codes(0, 0, R.REDUCING_ONLY, R.REDUCING_ONLY)
    assert [c.state for c in eng.state_log] == ["reducing_only"]


def test_daily_loss_limit_halts_records_and_lifts_on_a_new_day() -> None:
    eng = engine(daily_loss_limit=5_000)
    day1 = datetime(2024, 1, 2, 16, 0)
    ok = eng.check(ctx(equity=996_000.0, day_start_equity=1_000_000.0, trading_day=1, timestamp=day1))
    assert ok.tolist() == [0] * 4 and eng.state == "active"

    hit = eng.check(ctx(equity=994_999.0, day_start_equity=1_000_000.0, trading_day=1, timestamp=day1))
    assert hit.tolist() == codes(*[R.DAILY_LOSS_LIMIT] * 4)
    assert eng.state == "halted" and eng.halt_code == R.DAILY_LOSS_LIMIT
    # the rest of the day stays halted, even after a recovery, and says why
    later = eng.check(ctx(equity=1_001_000.0, day_start_equity=1_000_000.0, trading_day=1))
    assert later.tolist() == codes(*[R.DAILY_LOSS_LIMIT] * 4)
    changes = eng.state_changes()
    assert len(changes) == 1
    assert changes["state"].iloc[0] == "halted"
    assert changes["reason"].iloc[0].startswith("daily loss limit: P&L -5,001.00")
    assert changes["timestamp"].iloc[0] == pd.Timestamp(day1)

    # a new trading day lifts the halt and measures the loss from its own start
    day2 = datetime(2024, 1, 3, 16, 0)
    nxt = eng.check(ctx(equity=995_000.0, day_start_equity=994_999.0, trading_day=2, timestamp=day2))
    assert nxt.tolist() == [0] * 4 and eng.state == "active"
    assert eng.state_changes()["reason"].iloc[-1] == "new trading day: daily loss halt lifted"


def test_daily_loss_halt_without_a_trading_day_stays_until_resumed() -> None:
    eng = engine(daily_loss_limit=100)
    eng.check(ctx(equity=900.0, day_start_equity=1_000.0))
    assert eng.check(ctx(equity=1_000.0, day_start_equity=1_000.0)).tolist() == codes(*[R.DAILY_LOSS_LIMIT] * 4)
    eng.resume("operator")
    assert eng.check(ctx(equity=1_000.0, day_start_equity=1_000.0)).tolist() == [0] * 4


def test_a_manual_halt_does_not_lift_on_a_new_day() -> None:
    eng = engine(daily_loss_limit=100)
    eng.halt("ops")
    assert eng.check(ctx(equity=1_000.0, day_start_equity=1_000.0, trading_day=7)).tolist() == codes(
        *[R.HALTED] * 4)


def test_kill_switch_cancels_flattens_and_halts() -> None:
    eng = engine(emergency_flatten=True)
    actions = eng.kill_switch(np.array([7, 3, 9]), np.array([10.0, 0.0, -5.5, 2.0]), reason="desk kill")
    assert isinstance(actions, KillSwitchActions)
    assert actions.cancel.tolist() == [3, 7, 9]
    assert actions.flatten_symbol.tolist() == [0, 2, 3]
    assert actions.flatten_quantity.tolist() == [-10.0, 5.5, -2.0]
    assert actions.reason == "desk kill"
    assert eng.state == "halted"
    assert eng.state_changes()["reason"].tolist() == ["desk kill"]
    assert eng.check(ctx()).tolist() == codes(*[R.HALTED] * 4)


def test_kill_switch_without_emergency_flatten_only_cancels() -> None:
    eng = engine(emergency_flatten=False)
    actions = eng.kill_switch(np.array([1, 2], dtype=np.int64), np.array([10.0, -3.0, 0.0, 0.0]))
    assert actions.cancel.tolist() == [1, 2]
    assert actions.flatten_symbol.size == 0 and actions.flatten_quantity.size == 0
    assert eng.state == "halted"


def test_kill_switch_function_is_pure() -> None:
    position = np.array([1.0, 0.0, -2.0])
    actions = kill_switch(np.zeros(0, dtype=np.int64), position, flatten=True)
    assert actions.cancel.size == 0
    assert actions.flatten_quantity.tolist() == [-1.0, 2.0]
    assert position.tolist() == [1.0, 0.0, -2.0]


def test_risk_config_loads_from_yaml() -> None:
    cfg = load_config(
        """
        risk:
          max_order_value: 250000
          max_order_quantity: 10000
          max_position_pct: 0.1
          max_gross_exposure: 1.5
          max_net_exposure: 1.0
          max_daily_orders: 2000
          daily_loss_limit: 50000
          price_band_pct: 0.05
          max_adv_pct: 0.02
          check_buying_power: false
          restricted: [GME, AMC]
          trading_state: reducing_only
          emergency_flatten: true
        """
    )
    r = cfg.risk
    assert (r.max_order_value, r.max_order_quantity, r.max_position_pct) == (250_000, 10_000, 0.1)
    assert (r.max_gross_exposure, r.max_net_exposure, r.max_daily_orders) == (1.5, 1.0, 2000)
    assert (r.daily_loss_limit, r.price_band_pct, r.max_adv_pct) == (50_000, 0.05, 0.02)
    assert r.check_buying_power is False
    assert r.restricted == ("GME", "AMC")
    assert r.trading_state == "reducing_only" and r.emergency_flatten is True
    assert RiskEngine(r, UNIVERSE, True).state == "reducing_only"


def test_risk_config_defaults_are_all_off() -> None:
    r = RiskConfig()
    limits = ("max_order_value", "max_order_quantity", "max_position_pct", "max_gross_exposure", "max_net_exposure",
              "max_daily_orders", "daily_loss_limit", "price_band_pct", "max_adv_pct")
    assert all(getattr(r, k) is None for k in limits)
    assert r.trading_state == "active" and r.emergency_flatten is False and r.restricted == ()


@pytest.mark.parametrize(("text", "key"), [
    ("risk:\n  max_daily_order: 10\n", "risk.max_daily_order"),
    ("risk:\n  kill_switch: true\n", "risk.kill_switch"),
    ("risk:\n  daily_loss_limit: 0\n", "risk.daily_loss_limit"),
    ("risk:\n  max_order_value: -1\n", "risk.max_order_value"),
    ("risk:\n  trading_state: paused\n", "risk.trading_state"),
])
def test_bad_risk_keys_are_errors_naming_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(text)


def test_unknown_risk_key_says_unknown_key() -> None:
    with pytest.raises(ConfigError, match=r"risk\.max_daily_order: unknown key"):
        load_config({"risk": {"max_daily_order": 10}})


def test_backtest_denies_orders_above_max_order_value() -> None:
    days = pd.date_range("2024-01-02", periods=3, freq="D")
    closes = {"A": [50.0, 60.0, 60.0], "B": [20.0, 20.0, 25.0], "C": [100.0, 100.0, 90.0]}
    bars = pd.DataFrame([(days[i], s, c[i], 1e9) for s, c in closes.items() for i in range(3)],
                        columns=["timestamp", "symbol", "close", "volume"])
    targets = pd.DataFrame({"A": [100.0, 120.0], "B": [300.0, 300.0], "C": [20.0, 80.0]}, index=days[:2])
    cfg = Config(initial_cash=100_000.0, plan=PlanConfig(target_unit="shares"),
                 risk=RiskConfig(max_order_value=5_500.0))
    r = run_backtest(targets, bars, cfg)

    o = r.orders
    value = o["quantity"] * o["decision_price"]
    over = (value > 5_500.0).to_numpy()
    # bar 0: A 5,000, B 6,000 (denied), C 2,000; bar 1: A +20 @ 60 = 1,200, B +300 again (denied), C +60 = 6,000
    assert over.sum() == 3
    assert o.loc[over, "symbol"].tolist() == ["B", "B", "C"]
    assert (o.loc[over, "status"] == "denied").all()
    assert (o.loc[over, "reason"] == "max_order_value").all()
    assert (o.loc[~over, "status"] == "filled").all()
    assert (o.loc[~over, "reason"] == "").all()
    assert r.final_positions.to_dict() == {"A": 120.0, "B": 0.0, "C": 20.0}
    assert r.summary()["orders_denied"] == 3.0


def test_backtest_exposure_limit_ignores_symbols_not_listed_yet() -> None:
    # FB lists in 2012: before that its price is NaN; a gross-exposure limit must not deny everything as invalid.
    import execlab as xl
    from execlab.strategies import momentum_targets

    bars = xl.sample_bars()
    cfg = xl.Config.from_mapping({"plan": {"target_unit": "weight"}, "risk": {"max_gross_exposure": 1.5}})
    orders = xl.run_backtest(momentum_targets(bars), bars, cfg).orders
    assert (orders["reason"] == "invalid_input").sum() == 0
    assert (orders["status"] == "filled").sum() > 100


def test_backtest_daily_loss_limit_measures_from_the_previous_close() -> None:
    import execlab as xl

    bars = xl.sample_bars()
    closes = bars.pivot(index="timestamp", columns="symbol", values="close")[["AAPL", "IBM", "MSFT"]].iloc[:300]
    targets = closes * 0 + 1000.0  # hold 1000 shares of each, rebalanced daily: a tiny limit must trip on down days
    cfg = xl.Config.from_mapping({"initial_cash": 1e7, "risk": {"daily_loss_limit": 1.0}})
    targets.iloc[1::2] = 1001.0  # orders every day, so that the check runs every day
    orders = xl.run_backtest(targets, bars, cfg).orders
    tripped = orders[orders["reason"] == "daily_loss_limit"]
    assert len(tripped) > 0
    assert (orders["status"] == "filled").sum() > 0  # and the halt lifts on a new day
