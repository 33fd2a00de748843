"""The one input gate: the untargeted policy, and what a kept holding needs."""

from __future__ import annotations

import math

import pytest

import execlab as xl


def _config(untargeted: str) -> xl.Config:
    return xl.Config.from_mapping({"plan": {"target_unit": "weight", "untargeted": untargeted}})


def test_hold_keeps_a_held_symbol_and_values_it_at_its_price() -> None:
    plan = xl.make_plan({"AAA": 0.5}, {"AAA": 0, "OTHER": 100}, {"AAA": 10.0, "OTHER": 50.0}, 5_000.0,
                        _config("hold"))
    assert plan.table.loc["OTHER", "reason"] == "untargeted_held" and plan.table.loc["OTHER", "order_qty"] == 0
    assert plan.equity == 5_000.0 + 100 * 50.0
    assert plan.table.loc["AAA", "order_qty"] == math.floor(0.5 * plan.equity / 10.0)


def test_close_sells_a_held_symbol_the_targets_leave_out() -> None:
    plan = xl.make_plan({"AAA": 0.5}, {"OTHER": 100}, {"AAA": 10.0, "OTHER": 50.0}, 5_000.0, _config("close"))
    assert plan.table.loc["OTHER", "order_qty"] == -100
    assert list(plan.orders.index) == ["OTHER", "AAA"]  # the sell first


def test_a_kept_holding_without_a_price_needs_the_brokers_equity() -> None:
    with pytest.raises(xl.TargetError, match=r"no price for symbols \['OTHER'\]"):
        xl.make_plan({"AAA": 0.5}, {"OTHER": 100}, {"AAA": 10.0}, 5_000.0, _config("hold"))
    plan = xl.make_plan({"AAA": 0.5}, {"OTHER": 100}, {"AAA": 10.0}, 8_000.0, _config("hold"), equity=12_000.0)
    assert plan.equity == 12_000.0 and math.isnan(plan.table.loc["OTHER", "price"])
    assert plan.table.loc["AAA", "order_qty"] == math.floor(0.5 * 12_000.0 / 10.0)  # 6,000 of the 8,000 cash
    with pytest.raises(xl.TargetError, match=r"no price for symbols \['OTHER'\]"):  # closing it needs a price
        xl.make_plan({"AAA": 0.5}, {"OTHER": 100}, {"AAA": 10.0}, 5_000.0, _config("close"), equity=12_000.0)
