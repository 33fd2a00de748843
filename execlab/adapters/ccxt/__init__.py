"""execlab on ccxt / ccxt.pro: exchanges pointed at a venue, market and order mapping, error kinds."""

from execlab.adapters.ccxt._exchange import SUPPORTED, make_exchange, point_at

__all__ = ["SUPPORTED", "make_exchange", "point_at"]
