"""Bracket, OCO and OTO orders through unmodified alpaca-py against the local Alpaca venue, leg by leg.

A long bracket on SPY: market buy 100 with take-profit 110 and stop-loss 95. Quotes move the touch; the case where
one bar reaches both exits steps an OHLC bar through the venue's matching (the stop fills first).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest, StopLossRequest, TakeProfitRequest

from execlab.venues import AlpacaVenue

from helpers.alpaca import StartVenue

KEY, SECRET = "PKBRACKET", "bracket-secret"


def _start(local_venue: StartVenue) -> tuple[AlpacaVenue, TradingClient]:
    venue = local_venue(KEY, SECRET, prices={"SPY": 100.0})
    return venue, TradingClient(KEY, SECRET, paper=True, url_override=venue.base_url)


def _bracket(client: TradingClient, **entry: object) -> Order:
    request = (LimitOrderRequest if "limit_price" in entry else MarketOrderRequest)(
        symbol="SPY", qty=100, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, order_class=OrderClass.BRACKET,
        take_profit=TakeProfitRequest(limit_price=110), stop_loss=StopLossRequest(stop_price=95), **entry)
    placed = client.submit_order(request)
    assert isinstance(placed, Order)
    return placed


def _get(client: TradingClient, order_id: object) -> Order:
    found = client.get_order_by_id(str(order_id))
    assert isinstance(found, Order)
    return found


def _legs(client: TradingClient, parent: Order) -> tuple[Order, Order]:
    now = _get(client, parent.id)
    assert now.legs is not None and len(now.legs) == 2
    tp, sl = now.legs
    return tp, sl


def _status(order: Order) -> str:
    return str(getattr(order.status, "value", order.status))


def _position(client: TradingClient) -> float:
    return sum(float(p.qty) for p in client.get_all_positions() if getattr(p, "symbol", "") == "SPY")


def _step_bar(venue: AlpacaVenue, o: float, h: float, lo: float, c: float) -> None:
    """One OHLC bar of SPY matched as the backtest matches bars (the venue's kernel, bar mode)."""
    account = venue.account
    with account.lock:
        account.engine.set_bars([("SPY", o, h, lo, c, 1e9)])
        account._apply(*account.engine.match_bars(account.day))


def test_bracket_is_placed_with_held_legs_then_activated(local_venue: StartVenue) -> None:
    venue, client = _start(local_venue)
    placed = _bracket(client, limit_price=90)
    assert str(placed.order_class.value) == "bracket"
    assert placed.legs is not None and [_status(leg) for leg in placed.legs] == ["held", "held"]
    tp, sl = placed.legs
    assert (str(tp.type.value), tp.limit_price, str(tp.side.value)) == ("limit", "110", "sell")
    assert (str(sl.type.value), sl.stop_price, str(sl.side.value)) == ("stop", "95", "sell")
    venue.set_quote("SPY", 89.9, 90.0, 90.0)
    assert _status(_get(client, placed.id)) == "filled"
    assert [_status(leg) for leg in _legs(client, placed)] == ["new", "new"]


@pytest.mark.parametrize(("bid", "ask", "filled_leg", "price"), [(110.5, 110.6, 0, "110.5"), (94.5, 94.6, 1, "94.5")])
def test_one_exit_fills_and_cancels_the_other(local_venue: StartVenue, bid: float, ask: float, filled_leg: int,
                                              price: str) -> None:
    venue, client = _start(local_venue)
    placed = _bracket(client)
    assert _status(_get(client, placed.id)) == "filled"
    venue.set_quote("SPY", bid, ask, bid)
    legs = _legs(client, placed)
    assert _status(legs[filled_leg]) == "filled"
    assert legs[filled_leg].filled_avg_price == price
    assert _status(legs[1 - filled_leg]) == "canceled"
    assert _position(client) == 0.0


def test_both_exits_in_one_bar_the_stop_fills(local_venue: StartVenue) -> None:
    venue, client = _start(local_venue)
    placed = _bracket(client)
    _step_bar(venue, 100.0, 112.0, 93.0, 100.0)
    tp, sl = _legs(client, placed)
    assert (_status(sl), sl.filled_avg_price, _status(tp)) == ("filled", "95", "canceled")
    assert _position(client) == 0.0


def test_partial_entry_sizes_the_legs(local_venue: StartVenue) -> None:
    venue, client = _start(local_venue)
    venue.faults.partial_fill_ratio = 0.4
    placed = _bracket(client, limit_price=101)
    venue.faults.partial_fill_ratio = None
    assert _get(client, placed.id).filled_qty == "40"
    assert [_status(leg) for leg in _legs(client, placed)] == ["held", "held"]
    client.cancel_order_by_id(str(placed.id))
    tp, sl = _legs(client, placed)
    assert [(_status(leg), leg.qty) for leg in (tp, sl)] == [("new", "40"), ("new", "40")]
    venue.set_quote("SPY", 110.5, 110.6, 110.5)
    tp, sl = _legs(client, placed)
    assert (_status(tp), tp.filled_qty, _status(sl)) == ("filled", "40", "canceled")
    assert _position(client) == 0.0


def test_cancel_of_the_parent_cancels_the_held_legs(local_venue: StartVenue) -> None:
    venue, client = _start(local_venue)
    placed = _bracket(client, limit_price=90)
    client.cancel_order_by_id(str(placed.id))
    assert [_status(leg) for leg in _legs(client, placed)] == ["canceled", "canceled"]
    venue.set_quote("SPY", 89.0, 89.1, 89.0)
    assert _position(client) == 0.0
    open_ids = {str(o.id) for o in client.get_orders() if isinstance(o, Order)}
    assert not open_ids


def test_oco_pair_and_oto_leg(local_venue: StartVenue) -> None:
    venue, client = _start(local_venue)
    client.submit_order(MarketOrderRequest(symbol="SPY", qty=100, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    oco = client.submit_order(LimitOrderRequest(
        symbol="SPY", qty=100, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, order_class=OrderClass.OCO,
        take_profit=TakeProfitRequest(limit_price=110), stop_loss=StopLossRequest(stop_price=95)))
    assert isinstance(oco, Order) and oco.legs is not None and len(oco.legs) == 1
    assert (oco.limit_price, _status(oco.legs[0])) == ("110", "new")
    venue.set_quote("SPY", 94.5, 94.6, 94.5)
    now = _get(client, oco.id)
    assert now.legs is not None
    assert (_status(now.legs[0]), _status(now)) == ("filled", "canceled")
    oto = client.submit_order(MarketOrderRequest(
        symbol="SPY", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, order_class=OrderClass.OTO,
        stop_loss=StopLossRequest(stop_price=90)))
    assert isinstance(oto, Order) and oto.legs is not None and len(oto.legs) == 1
    leg = _get(client, oto.legs[0].id)
    assert (_status(leg), str(leg.side.value), leg.qty) == ("new", "sell", "10")


@pytest.mark.parametrize(("make", "message"), [
    (lambda: MarketOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
                                order_class=OrderClass.BRACKET, take_profit=TakeProfitRequest(limit_price=90),
                                stop_loss=StopLossRequest(stop_price=95)), "stop_loss.stop_price must be below"),
    (lambda: MarketOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.IOC,
                                order_class=OrderClass.BRACKET, take_profit=TakeProfitRequest(limit_price=110),
                                stop_loss=StopLossRequest(stop_price=95)), "day or gtc"),
])
def test_invalid_groups_are_refused(local_venue: StartVenue, make: Callable[[], MarketOrderRequest],
                                    message: str) -> None:
    _venue, client = _start(local_venue)
    with pytest.raises(APIError) as caught:
        client.submit_order(make())
    assert caught.value.status_code == 422 and message in str(caught.value)
