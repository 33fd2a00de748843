"""IB's view of the neutral account's orders: order ids, client ids and permIds, and the conversions both ways.

An IB order is keyed by ``(clientId, orderId)`` for the client that placed it and by ``permId`` everywhere;
``orderRef`` is free text the client chooses (IB does not make it unique). The account keeps the order itself; an
:class:`IBOrderRecord` keeps what IB adds. Conversions: a ``placeOrder`` into a :class:`VenueOrderRequest` (or the
IB error that refuses it), and a :class:`VenueOrder` back into the ``openOrder`` fields and its IB status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from execlab.venues._base.account import VenueExecution, VenueInstrument, VenueOrder, VenueOrderRequest
from execlab.venues.ibkr._contracts import ContractSpec
from execlab.venues.ibkr._messages import WireExecution, WireOrder
from execlab.venues.ibkr._requests import PlaceOrder

__all__ = [
    "IBOrderRecord",
    "OrderRefusal",
    "execution_id",
    "ib_status",
    "ib_time",
    "instrument_of",
    "to_request",
    "wire_execution",
    "wire_order",
]

#: IB order types the venue trades, as execlab's neutral types (``MOC``/``LOC`` trade at the close).
_TYPES: Final = {"MKT": "market", "LMT": "limit", "STP": "stop", "STP LMT": "stop_limit", "TRAIL": "trailing_stop",
                 "MOC": "market", "LOC": "limit"}
_TIFS: Final = {"DAY": "day", "GTC": "gtc", "IOC": "ioc", "FOK": "fok", "OPG": "opg", "": "day"}
#: The exchange an execution reports, by security type (stocks: their primary listing's ECN).
_EXEC_EXCHANGE: Final = {"CASH": "IDEALPRO", "FUT": "CME"}


@dataclass
class IBOrderRecord:
    """What IB adds to a neutral order: ids, the contract, the order's IB fields as the client sent them."""

    venue_id: str
    order_id: int
    client_id: int
    perm_id: int
    spec: ContractSpec
    order_type: str
    tif: str
    account: str
    order_ref: str
    lmt_price: float | None = None
    aux_price: float | None = None
    trail_stop_price: float | None = None
    trailing_percent: float | None = None
    outside_rth: bool = False
    cancel_requested: bool = False


@dataclass(frozen=True)
class OrderRefusal:
    """Why a ``placeOrder`` is refused before it reaches the account: IB's error code and message."""

    code: int
    message: str


def instrument_of(spec: ContractSpec) -> VenueInstrument:
    """The account's instrument for a listed contract: FX pairs settle currencies (spot), the rest are positions."""
    c = spec.contract
    if c.sec_type == "CASH":
        return VenueInstrument(spec.key, c.symbol, c.currency, lot=spec.size_increment, tick=spec.min_tick,
                               min_qty=spec.min_size, asset_class="fx", spot=True)
    multiplier = float(c.multiplier) if c.multiplier else 1.0
    return VenueInstrument(spec.key, spec.key, c.currency, lot=spec.size_increment, tick=spec.min_tick,
                           min_qty=spec.min_size, multiplier=multiplier,
                           asset_class="future" if c.sec_type == "FUT" else "equity")


def to_request(p: PlaceOrder, spec: ContractSpec, client_id: int, account: str,
               client_key: str | None = None) -> VenueOrderRequest | OrderRefusal:
    """The neutral order of a ``placeOrder``, or the error TWS answers it with; ``client_key`` is the account's
    client id for it (the ``orderRef`` while it is unused: IB itself does not make ``orderRef`` unique)."""
    kind = _TYPES.get(p.order_type)
    if kind is None:
        return OrderRefusal(201, f"Order rejected - reason:The order type {p.order_type!r} is not supported by "
                                 "this venue")
    tif = "cls" if p.order_type in ("MOC", "LOC") else _TIFS.get(p.tif)
    if tif is None:
        return OrderRefusal(201, f"Order rejected - reason:The time in force {p.tif!r} is not supported")
    if p.account and p.account != account:
        return OrderRefusal(201, f"Order rejected - reason:Account {p.account} is not managed by this login")
    if p.what_if or not p.transmit:
        return OrderRefusal(201, "Order rejected - reason:What-if and untransmitted orders are not supported by "
                                 "this venue")
    if p.conditions or p.algo_strategy or p.cash_qty is not None or p.parent_id:
        return OrderRefusal(201, "Order rejected - reason:Conditions, algos, cash quantity and attached orders "
                                 "are not supported by this venue")
    if not p.total_quantity > 0:
        return OrderRefusal(201, "Order rejected - reason:The order size must be positive")
    if p.action not in ("BUY", "SELL"):
        return OrderRefusal(201, f"Order rejected - reason:Unknown action {p.action!r}")
    limit = p.lmt_price if kind in ("limit", "stop_limit") else None
    stop = p.aux_price if kind in ("stop", "stop_limit") else None
    if kind in ("limit", "stop_limit") and limit is None:
        return OrderRefusal(201, "Order rejected - reason:A limit price is required")
    if kind in ("stop", "stop_limit") and stop is None:
        return OrderRefusal(201, "Order rejected - reason:A stop price (auxPrice) is required")
    trail_price = trail_percent = None
    if kind == "trailing_stop":
        trail_percent = p.trailing_percent
        trail_price = None if trail_percent is not None else p.aux_price
        if trail_price is None and trail_percent is None:
            return OrderRefusal(201, "Order rejected - reason:A trailing amount or percent is required")
    return VenueOrderRequest(symbol=spec.key, side="buy" if p.action == "BUY" else "sell", type=kind, tif=tif,
                             qty=p.total_quantity, limit=limit, stop=stop, trail_price=trail_price,
                             trail_percent=trail_percent, client_id=client_key or f"ib:{client_id}:{p.order_id}",
                             extra={"order_ref": p.order_ref, "order_id": p.order_id, "client_id": client_id})


def ib_status(o: VenueOrder) -> str:
    """IB's status of a neutral order (an untriggered stop waits as ``PreSubmitted``)."""
    if o.status == "filled":
        return "Filled"
    if o.status in ("canceled", "expired", "rejected"):
        return "Cancelled"
    if o.status == "new" and o.type in ("stop", "trailing_stop") and o.filled_qty == 0:
        return "PreSubmitted"
    return "Submitted"


def wire_order(rec: IBOrderRecord, o: VenueOrder) -> WireOrder:
    """The ``openOrder``/``completedOrder`` fields of an order."""
    return WireOrder(order_id=rec.order_id, client_id=rec.client_id, perm_id=rec.perm_id,
                     action="BUY" if o.side == "buy" else "SELL", total_quantity=float(o.qty or 0.0),
                     order_type=rec.order_type, account=rec.account, lmt_price=rec.lmt_price, aux_price=rec.aux_price,
                     tif=rec.tif or "DAY", order_ref=rec.order_ref, outside_rth=rec.outside_rth,
                     trail_stop_price=rec.trail_stop_price if o.hwm is None else _trail_stop(o),
                     trailing_percent=rec.trailing_percent, filled_quantity=o.filled_qty)


def _trail_stop(o: VenueOrder) -> float | None:
    if o.hwm is None:
        return None
    step = o.hwm * o.trail_percent / 100.0 if o.trail_percent is not None else o.trail_price or 0.0
    return o.hwm - step if o.side == "sell" else o.hwm + step


def ib_time(when: datetime) -> str:
    """``YYYYMMDD HH:MM:SS UTC``: how the venue writes execution and completion times."""
    return when.astimezone(UTC).strftime("%Y%m%d %H:%M:%S") + " UTC"


def execution_id(prefix: str, ex: VenueExecution) -> str:
    """The ``execId`` of an execution: the account's own execution id (unique, and the one its log and the kit's
    conformance suite know; real TWS ids look like ``0000e0d5.6571a2b3.01.01``, ib_async reads either as text)."""
    _ = prefix
    return ex.id


def wire_execution(rec: IBOrderRecord, o: VenueOrder, ex: VenueExecution, exec_id: str,
                   cum_qty: float, avg_price: float) -> WireExecution:
    """The ``execDetails`` fields of one execution (cumulative quantity and average price up to it)."""
    c = rec.spec.contract
    exchange = _EXEC_EXCHANGE.get(c.sec_type) or ("ISLAND" if c.primary_exchange == "NASDAQ"
                                                 else c.primary_exchange or c.exchange)
    return WireExecution(exec_id=exec_id, order_id=rec.order_id, client_id=rec.client_id, perm_id=rec.perm_id,
                         time=ib_time(ex.timestamp), account=rec.account, exchange=exchange,
                         side="BOT" if ex.side == "buy" else "SLD", shares=ex.qty, price=ex.price, cum_qty=cum_qty,
                         avg_price=avg_price, order_ref=rec.order_ref,
                         last_liquidity=1 if ex.liquidity == "maker" else 2)
