"""Bracket groups through the OMS: native at Alpaca (alpaca-py against the local venue), emulated by the OMS at the
simulated broker (no native form), and in the simulated venue itself give the same legs' outcome; the emulation
resumes after a crash from the journal without sending a leg twice.

The group: buy 100 SPY at market (price 100) with take-profit 110 and stop-loss 95; then the price moves.
"""

from __future__ import annotations

import math
from contextlib import closing
from pathlib import Path

import pytest

from execlab import VenueConfig
from execlab._brokers.executor import BrokerExecutor
from execlab._brokers.order_groups import GroupRouter
from execlab._brokers.sim_adapter import SimAdapter
from execlab._core.codes import GTC, LIMIT, MARKET, STOP
from execlab._core.models import Order, OrderStatus, OrderType, Side, TimeInForce
from execlab._core.order_classes import OrderClass, OrderGroup
from execlab._oms.journal import Journal
from execlab._sim.quote_venue import ACTIVATED, CANCELLED, FILLED, QuoteVenue

from helpers.alpaca import StartVenue, broker_executor

PARENT = "xl-" + "5e" * 16
Outcome = tuple[tuple[str, float], ...]
"""(status, filled) of the entry, the take-profit and the stop-loss."""


def _group(entry_limit: float | None = None) -> OrderGroup:
    entry = Order(symbol="SPY", side=Side.BUY, quantity=100.0, client_order_id=PARENT, time_in_force=TimeInForce.GTC,
                  order_type=OrderType.MARKET if entry_limit is None else OrderType.LIMIT, limit_price=entry_limit)
    return OrderGroup(OrderClass.BRACKET, entry, take_profit=110.0, stop_loss=95.0)


def _outcome(router: GroupRouter, group: OrderGroup) -> Outcome:
    states = router.states(group)
    return tuple((states[role].status.value, states[role].filled) for role in ("entry", "take_profit", "stop_loss"))


def _in_sim_venue(moves: list[float]) -> Outcome:
    """The simulated venue's own bracket (held legs, one-cancels-other), on quotes."""
    v = QuoteVenue(VenueConfig(), 1_000_000.0)
    v.set_quotes([("SPY", 100.0, 100.0, 100.0, math.inf)])
    v.submit(1, "SPY", 100.0, MARKET, GTC, day=0)
    v.submit(2, "SPY", -100.0, LIMIT, GTC, day=0, limit=110.0, held_by=1)
    v.submit(3, "SPY", -100.0, STOP, GTC, day=0, stop=95.0, held_by=1)
    v.link([2, 3])
    status = {1: "submitted", 2: "pending", 3: "pending"}
    for step, price in enumerate([None, *moves]):
        if price is not None:
            v.set_quotes([("SPY", price, price, price, math.inf)])
        _fills, events = v.match(step)
        for e in events:
            status[e.oid] = {FILLED: "filled", CANCELLED: "cancelled", ACTIVATED: "submitted"}[e.status]
    return tuple((status[k], v.filled(k)) for k in (1, 2, 3))


def _emulated(tmp_path: Path, moves: list[float]) -> Outcome:
    adapter = SimAdapter(VenueConfig(), 1_000_000.0, state_path=tmp_path / "account.json")
    adapter.set_market({"SPY": 100.0})
    with closing(Journal(tmp_path / "j.sqlite")) as journal, \
            BrokerExecutor(adapter, journal, "r1", ("SPY",), stream=False, backoff_seconds=0.01) as ex:
        router = GroupRouter(ex)
        assert not router.native
        router.place(_group())
        router.step()
        for price in moves:
            adapter.set_market({"SPY": price})
            router.step()
        return _outcome(router, _group())


def _native(local_venue: StartVenue, tmp_path: Path, moves: list[float]) -> Outcome:
    venue = local_venue("PKGROUPS", "groups-secret")
    venue.set_quote("SPY", 100.0, 100.0, 100.0)
    with closing(Journal(tmp_path / "native.sqlite")) as journal, broker_executor(venue, journal, "r1") as ex:
        router = GroupRouter(ex)
        assert router.native
        router.place(_group())
        for price in moves:
            router.step()
            venue.set_quote("SPY", price, price, price)
        assert router.wait(10.0)
        return _outcome(router, _group())


@pytest.mark.parametrize(("moves", "expected"), [
    ([110.5], (("filled", 100.0), ("filled", 100.0), ("cancelled", 0.0))),
    ([94.5], (("filled", 100.0), ("cancelled", 0.0), ("filled", 100.0))),
], ids=["take-profit", "stop-loss"])
def test_same_legs_outcome_native_emulated_and_simulated(local_venue: StartVenue, tmp_path: Path,
                                                         moves: list[float], expected: Outcome) -> None:
    assert _in_sim_venue(moves) == expected
    assert _emulated(tmp_path, moves) == expected
    assert _native(local_venue, tmp_path, moves) == expected


def test_emulated_partial_entry_then_cancel_sizes_the_exits(tmp_path: Path) -> None:
    adapter = SimAdapter(VenueConfig(participation_cap=0.1), 1_000_000.0)
    adapter.set_market({"SPY": 100.0}, volume={"SPY": 400.0})
    with closing(Journal(tmp_path / "j.sqlite")) as journal, \
            BrokerExecutor(adapter, journal, "r1", ("SPY",), stream=False, backoff_seconds=0.01) as ex:
        router = GroupRouter(ex)
        router.place(_group())
        router.step()
        assert router.states(_group())["entry"] == router.states(_group())["entry"].__class__(
            OrderStatus.PARTIALLY_FILLED, 40.0, True)
        assert not router.states(_group())["take_profit"].sent  # the exits wait for the entry
        ex.cancel_order(ex.known_orders()[PARENT].broker_order_id)
        router.step()
        router.step()
        exits = [ex.known_orders()[leg.order.client_order_id] for leg in _group().exits()]
        assert [(o.quantity, o.status) for o in exits] == [(40.0, OrderStatus.SUBMITTED)] * 2
        adapter.set_market({"SPY": 110.5})
        router.step()
        assert _outcome(router, _group()) == (("cancelled", 40.0), ("filled", 40.0), ("cancelled", 0.0))
        assert adapter._positions() == {}


def test_emulated_cancel_of_the_unfilled_parent_ends_the_exits_unsent(tmp_path: Path) -> None:
    adapter = SimAdapter(VenueConfig(), 1_000_000.0)
    adapter.set_market({"SPY": 100.0})
    with closing(Journal(tmp_path / "j.sqlite")) as journal, \
            BrokerExecutor(adapter, journal, "r1", ("SPY",), stream=False, backoff_seconds=0.01) as ex:
        router = GroupRouter(ex)
        router.place(_group(entry_limit=90.0))
        router.step()
        ex.cancel_order(ex.known_orders()[PARENT].broker_order_id)
        router.step()
        assert router.done()
        assert _outcome(router, _group()) == (("cancelled", 0.0), ("cancelled", 0.0), ("cancelled", 0.0))
        assert set(adapter.received) == {PARENT}
        states = journal.orders("r1").set_index("client_order_id")["status"]
        assert states.tolist() == ["cancelled"] * 3


def test_emulation_resumes_after_a_crash_without_sending_a_leg_twice(tmp_path: Path) -> None:
    state = tmp_path / "account.json"
    adapter = SimAdapter(VenueConfig(), 1_000_000.0, state_path=state)
    adapter.set_market({"SPY": 100.0})
    journal = Journal(tmp_path / "j.sqlite")
    ex = BrokerExecutor(adapter, journal, "r1", ("SPY",), stream=False, backoff_seconds=0.01)
    router = GroupRouter(ex)
    router.place(_group())
    router.step()  # entry filled, exits sent
    sent_before = adapter.received
    assert len(sent_before) == 3
    journal.close()  # the process dies here: nothing in memory survives

    adapter = SimAdapter(state_path=state)
    with closing(Journal(tmp_path / "j.sqlite")) as journal, \
            BrokerExecutor(adapter, journal, "r1", ("SPY",), stream=False, backoff_seconds=0.01) as ex:
        router = GroupRouter(ex)  # the groups come back from the journal
        assert list(router.groups) == [PARENT]
        router.place(_group())  # a re-run asking for the same group changes nothing
        adapter.set_market({"SPY": 94.5})
        router.step()
        assert _outcome(router, _group()) == (("filled", 100.0), ("cancelled", 0.0), ("filled", 100.0))
        assert adapter.received == dict.fromkeys(sent_before, 1)


def test_native_group_resumes_after_a_restart_without_sending_it_again(local_venue: StartVenue,
                                                                      tmp_path: Path) -> None:
    venue = local_venue("PKGROUPS", "groups-secret")
    venue.set_quote("SPY", 100.0, 100.0, 100.0)
    with closing(Journal(tmp_path / "j.sqlite")) as journal, broker_executor(venue, journal, "r1") as ex:
        GroupRouter(ex).place(_group())
    # a new process: the journal names the group; Alpaca's leg ids are learnt again from the parent
    with closing(Journal(tmp_path / "j.sqlite")) as journal, broker_executor(venue, journal, "r1") as ex:
        router = GroupRouter(ex)
        router.place(_group())
        assert {leg.order.client_order_id for leg in _group().legs()} <= set(ex.known_orders())
        venue.set_quote("SPY", 94.5, 94.5, 94.5)
        assert router.wait(10.0)
        assert _outcome(router, _group()) == (("filled", 100.0), ("cancelled", 0.0), ("filled", 100.0))
        assert journal.orders("r1")["status"].tolist() == ["filled", "cancelled", "filled"]
    assert venue.stats()["order_attempts"] == {PARENT: 1}
