"""OKX spot trading rules: the default instruments (``/api/v5/public/instruments`` entries), ``instId`` ↔ symbol,
client order ids (1–32 alphanumerics) and the size / price checks an order must pass (``sCode`` 51121, 51020, 51000).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final, Literal

from execlab.venues._base import VenueInstrument

__all__ = ["CLIENT_ID", "DEFAULT_MARKETS", "MAX_QTY", "QUOTE", "inst_id", "instrument_json", "order_problem",
           "spot_market", "unified"]


#: The quote currency of a market named by its base alone (``AAA`` is ``AAA/USDT``).
QUOTE: Final = "USDT"


def spot_market(symbol: str, lot: float, tick: float, min_qty: float, min_notional: float = 0.0,
                fee_in: Literal["quote", "received"] = "received") -> VenueInstrument:
    """An OKX spot instrument ``BASE/QUOTE`` (a bare ``BASE`` is quoted in USDT); balances per currency; the fee in
    the asset received (OKX's default) or in the quote asset."""
    base, _, quote = symbol.partition("/")
    return VenueInstrument(symbol, base, quote or QUOTE, lot=lot, tick=tick, min_qty=min_qty,
                           min_notional=min_notional, asset_class="crypto", spot=True, fee_in=fee_in)


#: OKX's client order id: case-sensitive alphanumerics, 1 to 32 characters.
CLIENT_ID: Final = re.compile(r"[A-Za-z0-9]{1,32}\Z")

#: Spot instruments a venue lists by default (lot, tick and minimum size as OKX lists them, 2025).
DEFAULT_MARKETS: Final = (
    spot_market("BTC/USDT", lot=0.00000001, tick=0.1, min_qty=0.00001),
    spot_market("ETH/USDT", lot=0.000001, tick=0.01, min_qty=0.0001),
    spot_market("SOL/USDT", lot=0.000001, tick=0.01, min_qty=0.001),
)
#: Largest limit order size (``maxLmtSz``).
MAX_QTY: Final = 9_000_000.0


def inst_id(symbol: str) -> str:
    """``BTC/USDT`` → ``BTC-USDT`` (a bare ``AAA`` is ``AAA-USDT``)."""
    return symbol.replace("/", "-") if "/" in symbol else f"{symbol}-{QUOTE}"


def unified(instruments: Iterable[VenueInstrument], wire: str) -> str | None:
    """``BTC-USDT`` → ``BTC/USDT`` among ``instruments`` (None: not listed)."""
    for inst in instruments:
        if inst_id(inst.symbol) == wire:
            return inst.symbol
    return None


def _s(x: float) -> str:
    return format(Decimal(repr(x)).normalize(), "f")


def instrument_json(inst: VenueInstrument, list_time_ms: int) -> dict[str, Any]:
    """One ``/api/v5/public/instruments?instType=SPOT`` entry."""
    return {
        "instType": "SPOT", "instId": inst_id(inst.symbol), "uly": "", "instFamily": "", "baseCcy": inst.base,
        "quoteCcy": inst.quote, "settleCcy": "", "ctVal": "", "ctMult": "", "ctValCcy": "", "optType": "",
        "stk": "", "listTime": str(list_time_ms), "expTime": "", "lever": "", "tickSz": _s(inst.tick),
        "lotSz": _s(inst.lot), "minSz": _s(inst.min_qty), "ctType": "", "alias": "", "state": "live",
        "ruleType": "normal", "maxLmtSz": _s(MAX_QTY), "maxMktSz": "1000000", "maxLmtAmt": "20000000",
        "maxMktAmt": "1000000", "maxTwapSz": _s(MAX_QTY), "maxIcebergSz": _s(MAX_QTY),
        "maxTriggerSz": _s(MAX_QTY), "maxStopSz": "1000000",
    }


def _on_grid(value: float, step: float) -> bool:
    k = Decimal(repr(value)) / Decimal(repr(step))
    return k == k.to_integral_value()


def order_problem(inst: VenueInstrument, quantity: float, price: float | None) -> tuple[str, str] | None:
    """``(sCode, sMsg)`` for a size or price OKX would refuse, or None."""
    if quantity < inst.min_qty:
        return "51020", "Your order should meet or exceed the minimum order amount."
    if not _on_grid(quantity, inst.lot):
        return "51121", "Order quantity must be a multiple of the lot size."
    if quantity > MAX_QTY:
        return "51202", "Market order amount exceeds the maximum amount."
    if price is not None and not _on_grid(price, inst.tick):
        return "51000", "Parameter px error"
    if inst.min_notional and price is not None and quantity * price < inst.min_notional:
        return "51020", "Your order should meet or exceed the minimum order amount."
    return None
