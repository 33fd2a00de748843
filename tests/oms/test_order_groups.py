"""Order groups as values (legs, derived ids, validation, journal payload) and the emulating OMS's decisions."""

from __future__ import annotations

import pytest

from execlab._core.models import Order, OrderStatus, OrderType, Side
from execlab._core.order_classes import LegRole, OrderClass, OrderGroup, leg_client_id
from execlab._oms.journal import Journal
from execlab._oms.order_groups import CancelLeg, EndLeg, LegState, SendLeg, journaled_groups, next_actions, record_group

PARENT = "xl-" + "ab" * 16


def _entry(**kw: object) -> Order:
    return Order(**{"symbol": "SPY", "side": Side.BUY, "quantity": 100.0, "client_order_id": PARENT, **kw})


def _bracket() -> OrderGroup:
    return OrderGroup(OrderClass.BRACKET, _entry(), take_profit=110.0, stop_loss=95.0)


def test_legs_have_ids_derived_from_the_parent_and_fit_every_broker() -> None:
    legs = _bracket().legs()
    assert [leg.role for leg in legs] == [LegRole.ENTRY, LegRole.TAKE_PROFIT, LegRole.STOP_LOSS]
    ids = [leg.order.client_order_id for leg in legs]
    assert ids[0] == PARENT and len(set(ids)) == 3
    assert ids[1] == leg_client_id(PARENT, "take_profit") == _bracket().legs()[1].order.client_order_id
    assert all(len(i) == 35 and i.startswith("xl-") for i in ids)
    tp, sl = legs[1].order, legs[2].order
    assert (tp.side, tp.order_type, tp.limit_price, sl.order_type, sl.stop_price) == (
        Side.SELL, OrderType.LIMIT, 110.0, OrderType.STOP, 95.0)
    assert all(leg.held for leg in legs[1:]) and not legs[0].held
    assert _bracket().exits(40.0)[0].order.quantity == 40.0


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"order_class": OrderClass.BRACKET, "take_profit": 90.0, "stop_loss": 95.0}, "must be below"),
    ({"order_class": OrderClass.BRACKET, "take_profit": 110.0}, "needs take_profit and stop_loss"),
    ({"order_class": OrderClass.OTO, "take_profit": 110.0, "stop_loss": 95.0}, "exactly one"),
    ({"order_class": OrderClass.OCO, "take_profit": 110.0, "stop_loss": 95.0}, "limit order"),
])
def test_invalid_groups_say_why(kwargs: dict[str, object], problem: str) -> None:
    cls = kwargs.pop("order_class")
    assert isinstance(cls, OrderClass)
    with pytest.raises(ValueError, match=problem):
        OrderGroup(cls, _entry(), **kwargs)  # type: ignore[arg-type]


def test_group_round_trips_through_the_journal() -> None:
    journal = Journal(":memory:")
    group = _bracket()
    record_group(journal, "r1", group)
    record_group(journal, "r1", group)  # journaled twice (a re-run): one group, one intent per leg
    assert journaled_groups(journal, "r1") == [group]
    assert journal.orders("r1")["client_order_id"].tolist() == [leg.order.client_order_id for leg in group.legs()]


def _ids() -> tuple[str, str, str]:
    legs = _bracket().legs()
    return legs[0].order.client_order_id, legs[1].order.client_order_id, legs[2].order.client_order_id


def test_emulation_sends_the_entry_then_exits_sized_to_its_fill() -> None:
    group = _bracket()
    entry = _ids()[0]
    first = next_actions(group, {})
    assert [type(a) for a in first] == [SendLeg] and first[0].order.client_order_id == entry
    assert next_actions(group, {entry: LegState(OrderStatus.PARTIALLY_FILLED, 40.0, True)}) == []
    done = next_actions(group, {entry: LegState(OrderStatus.CANCELLED, 40.0, True)})
    assert [(a.role, a.order.quantity) for a in done if isinstance(a, SendLeg)] == [
        (LegRole.TAKE_PROFIT, 40.0), (LegRole.STOP_LOSS, 40.0)]


def test_emulation_cancels_the_sibling_and_ends_unsent_legs() -> None:
    group = _bracket()
    entry, tp, sl = _ids()
    filled = LegState(OrderStatus.FILLED, 100.0, True)
    working = LegState(OrderStatus.SUBMITTED, 0.0, True)
    assert next_actions(group, {entry: filled, tp: filled, sl: working}) == [CancelLeg(LegRole.STOP_LOSS, sl)]
    assert next_actions(group, {entry: filled, tp: filled, sl: LegState(OrderStatus.CANCELLED, 0.0, True)}) == []
    assert next_actions(group, {entry: LegState(OrderStatus.CANCELLED, 0.0, True)}) == [
        EndLeg(LegRole.TAKE_PROFIT, tp, "parent_ended"), EndLeg(LegRole.STOP_LOSS, sl, "parent_ended")]


def test_oco_sends_both_members_at_once() -> None:
    group = OrderGroup(OrderClass.OCO, _entry(side=Side.SELL, order_type=OrderType.LIMIT, limit_price=110.0),
                       stop_loss=95.0)
    assert [(a.role, a.order.order_type) for a in next_actions(group, {}) if isinstance(a, SendLeg)] == [
        (LegRole.TAKE_PROFIT, OrderType.LIMIT), (LegRole.STOP_LOSS, OrderType.STOP)]
