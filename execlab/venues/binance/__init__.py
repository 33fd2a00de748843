"""A local Binance spot venue for ccxt and ccxt.pro: REST ``/api/v3`` and the websocket API user-data stream."""

from execlab.venues.binance._venue import DEFAULT_API_KEY, DEFAULT_SECRET, BinanceVenue

__all__ = ["DEFAULT_API_KEY", "DEFAULT_SECRET", "BinanceVenue"]
