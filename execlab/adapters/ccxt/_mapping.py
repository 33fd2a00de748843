"""ccxt's unified structures in execlab's terms: markets → instruments, orders → :class:`BrokerOrder`, trades →
:class:`BrokerFill` with fee and fee currency, balances → :class:`Balance` per currency, and each exchange's form of
execlab's client order id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from execlab._brokers.client_ids import ALPHANUMERIC_32, ClientIdStyle
from execlab._brokers.contract import BrokerFill, BrokerOrder
from execlab._core.instruments import Instrument
from execlab._core.models import Balance, OrderStatus, Side

__all__ = ["CLIENT_ID_STYLES", "QuotedSymbols", "balances", "broker_order", "fill", "instrument", "order_status",
           "wire_client_id"]

#: Binance's ``newClientOrderId`` takes ``^[a-zA-Z0-9-_]{1,36}$``: execlab's id as it is. OKX's ``clOrdId`` takes
#: 1–32 alphanumerics: the 32 hex digits alone.
CLIENT_ID_STYLES: Final[dict[str, ClientIdStyle]] = {"binance": ClientIdStyle(), "okx": ALPHANUMERIC_32}

_STATUS: Final = {"closed": OrderStatus.FILLED, "canceled": OrderStatus.CANCELLED, "expired": OrderStatus.EXPIRED,
                  "rejected": OrderStatus.REJECTED}


@dataclass(frozen=True)
class QuotedSymbols:
    """execlab symbols ↔ ccxt's unified ``BASE/QUOTE``: a pair passes as it is; a bare ``BTC`` means ``BTC/<quote>``
    and, with ``bare``, pairs in ``quote`` come back bare (``BTC/USDT`` → ``BTC``)."""

    quote: str = "USDT"
    bare: bool = False

    def to_broker(self, symbol: str) -> str:
        return symbol if "/" in symbol else f"{symbol}/{self.quote}"

    def to_execlab(self, broker_symbol: str) -> str:
        base, _, quote = broker_symbol.partition("/")
        return base if self.bare and quote == self.quote else broker_symbol


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


def wire_client_id(raw: dict[str, Any]) -> str | None:
    """The client order id a ccxt order or trade carries (ccxt's field, else the exchange's own)."""
    info = raw.get("info") or {}
    found = raw.get("clientOrderId") or info.get("clientOrderId") or info.get("c") or info.get("clOrdId")
    return str(found) if found else None


def broker_order(raw: dict[str, Any], style: ClientIdStyle, symbol: str) -> BrokerOrder:
    """A ccxt order as a :class:`BrokerOrder` (the client id canonical when it is execlab's, else as sent)."""
    wire = wire_client_id(raw) or ""
    amount = float(raw.get("amount") or 0.0)
    return BrokerOrder(client_order_id=style.parse(wire) or wire, broker_order_id=str(raw["id"]), symbol=symbol,
                       side=Side(raw["side"]), quantity=amount, filled_quantity=float(raw.get("filled") or 0.0),
                       avg_fill_price=float(raw["average"]) if raw.get("average") else None,
                       status=order_status(raw), raw=raw)


def fill(trade: dict[str, Any], symbol: str, client_order_id: str, *, fee_sign: float = 1.0) -> BrokerFill:
    """A ccxt trade as a :class:`BrokerFill`. ``fee_sign`` -1 for a source that reports charges as negative numbers
    (ccxt.pro passes OKX's ``fillFee`` through as OKX sends it)."""
    fee = trade.get("fee") or {}
    cost = fee.get("cost")
    stamp = trade.get("timestamp")
    liquidity = trade.get("takerOrMaker")
    return BrokerFill(
        execution_id=str(trade["id"]), client_order_id=client_order_id, broker_order_id=str(trade["order"]),
        symbol=symbol, side=Side(trade["side"]), quantity=float(trade["amount"]), price=float(trade["price"]),
        fee=max(0.0, fee_sign * float(cost)) if cost is not None else 0.0, fee_currency=fee.get("currency"),
        liquidity=liquidity if liquidity in ("maker", "taker") else None,
        timestamp=datetime.fromtimestamp(stamp / 1000, UTC) if stamp is not None else None, raw=trade,
    )


def balances(balance: dict[str, Any]) -> tuple[Balance, ...]:
    """Balances per currency from a ccxt balance, currencies with nothing left out."""
    out = []
    for currency, entry in sorted(balance.items()):
        if currency in ("info", "free", "used", "total", "timestamp", "datetime") or not isinstance(entry, dict):
            continue
        free, used = float(entry.get("free") or 0.0), float(entry.get("used") or 0.0)
        if free or used:
            out.append(Balance(currency=currency, free=free, locked=used))
    return tuple(out)
