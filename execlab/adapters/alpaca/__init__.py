"""Alpaca through alpaca-py: :class:`AlpacaAdapter` (REST) and :class:`AlpacaTradeStream` (``trade_updates``)."""

from execlab.adapters.alpaca._adapter import AlpacaAdapter
from execlab.adapters.alpaca._stream import AlpacaTradeStream, StreamAuthError, TradeUpdateEvent

__all__ = ["AlpacaAdapter", "AlpacaTradeStream", "StreamAuthError", "TradeUpdateEvent"]
