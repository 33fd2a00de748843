"""execlab on ccxt / ccxt.pro: exchanges pointed at a venue, market and order mapping, error kinds."""

from execlab.adapters.ccxt._adapter import BinanceAdapter, CcxtAdapter, OkxAdapter, adapter_for
from execlab.adapters.ccxt._config import CcxtConfig
from execlab.adapters.ccxt._exchange import SUPPORTED, make_exchange, point_at

__all__ = ["SUPPORTED", "BinanceAdapter", "CcxtAdapter", "CcxtConfig", "OkxAdapter", "adapter_for", "make_exchange",
           "point_at"]
