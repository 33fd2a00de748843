"""Binance spot trading rules: the default markets, their ``exchangeInfo`` entries (PRICE_FILTER, LOT_SIZE,
MARKET_LOT_SIZE, NOTIONAL) and the filter checks an order must pass (``-1013 Filter failure: <FILTER>``)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final, Literal

from execlab.venues._base import VenueInstrument

__all__ = ["DEFAULT_MARKETS", "MAX_QTY", "QUOTE", "filter_failure", "spot_market", "symbol_info", "unified",
           "wire_symbol"]


#: The quote currency of a market named by its base alone (``AAA`` is ``AAA/USDT``).
QUOTE: Final = "USDT"


def spot_market(symbol: str, lot: float, tick: float, min_qty: float, min_notional: float = 0.0,
                fee_in: Literal["quote", "received"] = "received") -> VenueInstrument:
    """A Binance spot market ``BASE/QUOTE`` (a bare ``BASE`` is quoted in USDT); balances settle per currency; the
    fee in the asset received (Binance's default) or in the quote asset (as when paid in another asset)."""
    base, _, quote = symbol.partition("/")
    return VenueInstrument(symbol, base, quote or QUOTE, lot=lot, tick=tick, min_qty=min_qty,
                           min_notional=min_notional, asset_class="crypto", spot=True, fee_in=fee_in)


#: Spot markets a venue lists by default, with filters like Binance's own (2025).
DEFAULT_MARKETS: Final = (
    spot_market("BTC/USDT", lot=0.00001, tick=0.01, min_qty=0.00001, min_notional=5.0),
    spot_market("ETH/USDT", lot=0.0001, tick=0.01, min_qty=0.0001, min_notional=5.0),
    spot_market("SOL/USDT", lot=0.001, tick=0.01, min_qty=0.001, min_notional=5.0),
)
#: LOT_SIZE maxQty (MARKET_LOT_SIZE allows a tenth of it).
MAX_QTY: Final = 9000.0
_MAX_PRICE: Final = 1_000_000.0


def wire_symbol(symbol: str) -> str:
    """``BTC/USDT`` → ``BTCUSDT`` (a bare ``AAA`` is ``AAAUSDT``)."""
    return symbol.replace("/", "") if "/" in symbol else symbol + QUOTE


def unified(instruments: Iterable[VenueInstrument], wire: str) -> str | None:
    """``BTCUSDT`` → ``BTC/USDT`` among ``instruments`` (None: not listed)."""
    for inst in instruments:
        if wire_symbol(inst.symbol) == wire:
            return inst.symbol
    return None


def _num(x: float) -> str:
    return f"{x:.8f}"


def symbol_info(inst: VenueInstrument) -> dict[str, Any]:
    """One ``symbols[]`` entry of ``GET /api/v3/exchangeInfo``."""
    return {
        "symbol": wire_symbol(inst.symbol), "status": "TRADING",
        "baseAsset": inst.base, "baseAssetPrecision": 8, "quoteAsset": inst.quote, "quotePrecision": 8,
        "quoteAssetPrecision": 8, "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True, "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True, "cancelReplaceAllowed": True, "amendAllowed": True,
        "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": _num(inst.tick), "maxPrice": _num(_MAX_PRICE),
             "tickSize": _num(inst.tick)},
            {"filterType": "LOT_SIZE", "minQty": _num(inst.min_qty), "maxQty": _num(MAX_QTY),
             "stepSize": _num(inst.lot)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": _num(0.0), "maxQty": _num(MAX_QTY / 10),
             "stepSize": _num(0.0)},
            {"filterType": "NOTIONAL", "minNotional": _num(inst.min_notional), "applyMinToMarket": True,
             "maxNotional": _num(9_000_000.0), "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def _on_grid(value: float, start: float, step: float) -> bool:
    if step <= 0:
        return True
    k = (Decimal(repr(value)) - Decimal(repr(start))) / Decimal(repr(step))
    return k == k.to_integral_value()


def filter_failure(inst: VenueInstrument, order_type: str, quantity: float, price: float | None,
                   reference_price: float | None) -> str | None:
    """The name of the first filter the order fails (``LOT_SIZE``, ``MARKET_LOT_SIZE``, ``PRICE_FILTER``,
    ``NOTIONAL``), or None. Market orders are valued at ``reference_price`` (Binance: the average price)."""
    if order_type == "MARKET":
        if quantity > MAX_QTY / 10:
            return "MARKET_LOT_SIZE"
        if quantity < inst.min_qty or not _on_grid(quantity, inst.min_qty, inst.lot):
            return "LOT_SIZE"
    else:
        if not (inst.min_qty <= quantity <= MAX_QTY) or not _on_grid(quantity, inst.min_qty, inst.lot):
            return "LOT_SIZE"
        if price is None or not (inst.tick <= price <= _MAX_PRICE) or not _on_grid(price, inst.tick, inst.tick):
            return "PRICE_FILTER"
    value_price = price if order_type != "MARKET" else reference_price
    if value_price is not None and quantity * value_price < inst.min_notional:
        return "NOTIONAL"
    return None

