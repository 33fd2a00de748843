"""ccxt's unified structures in execlab's terms: markets → instruments, orders → status and quantities, trades →
executions with fee and fee currency, balances → free / locked per currency, and each exchange's client order id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from execlab._core.ids import PREFIX
from execlab._core.instruments import Instrument
from execlab._core.models import OrderStatus, Side

__all__ = ["CLIENT_ID_FORMS", "ClientIdForm", "Execution", "balances", "execution", "instrument", "order_status"]


@dataclass(frozen=True, slots=True)
class ClientIdForm:
    """How an exchange writes execlab's client order id (``xl-`` + 32 hex): the prefix before the hex digits and the
    exchange's length limit. Stage 1 of issue 14; the kit's ``ClientIdStyle`` takes these two values."""

    prefix: str
    max_length: int

    def render(self, canonical: str) -> str:
        """The wire form of a canonical id."""
        wire = self.prefix + canonical.removeprefix(PREFIX) if canonical.startswith(PREFIX) else canonical
        if not 0 < len(wire) <= self.max_length:
            raise ValueError(f"client order id {canonical!r} is {len(wire)} characters on the wire "
                             f"(the exchange takes 1..{self.max_length})")
        return wire

    def parse(self, wire: str | None) -> str | None:
        """The canonical id of a wire form (None: not execlab's)."""
        if not wire or not wire.startswith(self.prefix):
            return None
        digits = wire[len(self.prefix):]
        is_hex = len(digits) == 32 and all(c in "0123456789abcdef" for c in digits)
        return PREFIX + digits if is_hex else None


#: Binance's ``newClientOrderId`` takes ``^[a-zA-Z0-9-_]{1,36}$``: execlab's id as it is. OKX's ``clOrdId`` takes
#: 1–32 alphanumerics: the 32 hex digits alone.
CLIENT_ID_FORMS: Final = {"binance": ClientIdForm(PREFIX, 36), "okx": ClientIdForm("", 32)}

_STATUS: Final = {"closed": OrderStatus.FILLED, "canceled": OrderStatus.CANCELLED, "expired": OrderStatus.EXPIRED,
                  "rejected": OrderStatus.REJECTED}


def _step(value: Any, precision_mode: int) -> float:
    """A ccxt precision as a step (ccxt's TICK_SIZE mode gives steps; DECIMAL_PLACES gives a digit count)."""
    if value is None:
        return 0.0
    from ccxt.base.decimal_to_precision import TICK_SIZE
    return float(value) if precision_mode == TICK_SIZE else 10.0 ** -float(value)


def instrument(symbol: str, market: dict[str, Any], precision_mode: int) -> Instrument:
    """A ccxt spot market as an execlab instrument (``symbol`` is execlab's name for it)."""
    limits = market.get("limits") or {}
    precision = market.get("precision") or {}
    min_qty = (limits.get("amount") or {}).get("min") or 0.0
    min_cost = (limits.get("cost") or {}).get("min") or 0.0
    return Instrument(symbol, "crypto", str(market["quote"]),
                      lot_size=_step(precision.get("amount"), precision_mode),
                      tick_size=_step(precision.get("price"), precision_mode),
                      min_quantity=float(min_qty), min_notional=float(min_cost), fractional=True)


def order_status(order: dict[str, Any]) -> OrderStatus:
    """A ccxt order's status in execlab's terms (an open order with fills is partially filled)."""
    status = order.get("status")
    if status in _STATUS:
        return _STATUS[status]
    return OrderStatus.PARTIALLY_FILLED if (order.get("filled") or 0) > 0 else OrderStatus.SUBMITTED


@dataclass(frozen=True, slots=True)
class Execution:
    """One trade of ours: the exchange's trade id, order id, side, quantity, price, fee (>= 0) and its currency,
    maker or taker, time. Stage 1 of issue 14; the kit's ``BrokerFill`` takes these fields."""

    execution_id: str
    broker_order_id: str
    symbol: str
    side: Side
    quantity: float
    price: float
    fee: float
    fee_currency: str | None
    liquidity: str | None
    timestamp: datetime | None


def execution(trade: dict[str, Any], symbol: str, *, fee_sign: float = 1.0) -> Execution:
    """A ccxt trade as an execution. ``fee_sign`` -1 for a source that reports charges as negative numbers (ccxt.pro
    passes OKX's ``fillFee`` through as OKX sends it)."""
    fee = trade.get("fee") or {}
    cost = fee.get("cost")
    stamp = trade.get("timestamp")
    return Execution(
        execution_id=str(trade["id"]), broker_order_id=str(trade["order"]), symbol=symbol,
        side=Side(trade["side"]), quantity=float(trade["amount"]), price=float(trade["price"]),
        fee=max(0.0, fee_sign * float(cost)) if cost is not None else 0.0,
        fee_currency=fee.get("currency"), liquidity=trade.get("takerOrMaker"),
        timestamp=datetime.fromtimestamp(stamp / 1000, UTC) if stamp is not None else None,
    )


def balances(balance: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """``{currency: (free, locked)}`` from a ccxt balance, currencies with nothing left out."""
    out: dict[str, tuple[float, float]] = {}
    for currency, entry in balance.items():
        if not isinstance(entry, dict) or "free" not in entry or currency in ("info", "free", "used", "total"):
            continue
        free, used = float(entry.get("free") or 0.0), float(entry.get("used") or 0.0)
        if free or used:
            out[currency] = (free, used)
    return out
