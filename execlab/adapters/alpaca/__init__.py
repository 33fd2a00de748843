"""Alpaca through alpaca-py: :class:`AlpacaAdapter` (REST) and :class:`AlpacaTradeStream` (``trade_updates``)."""

from execlab._core.extras import require_extra

require_extra("alpaca", "The Alpaca adapter")  # alpaca-py, from the [alpaca] extra

from execlab.adapters.alpaca._adapter import AlpacaAdapter  # noqa: E402
from execlab.adapters.alpaca._stream import AlpacaTradeStream, StreamAuthError, TradeUpdateEvent  # noqa: E402

__all__ = ["AlpacaAdapter", "AlpacaTradeStream", "StreamAuthError", "TradeUpdateEvent"]
