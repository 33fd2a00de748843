"""Alpaca through alpaca-py: :class:`AlpacaAdapter` (REST), :class:`AlpacaTradeStream` (``trade_updates``) and
:class:`AlpacaConfig` (``broker: alpaca``).

The names load on first use, so the config model is importable without alpaca-py; the adapter and the stream need
the ``[alpaca]`` extra and say so (:class:`execlab.MissingExtraError`) when it is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from execlab._core.extras import require_extra

if TYPE_CHECKING:
    from execlab.adapters.alpaca._adapter import AlpacaAdapter
    from execlab.adapters.alpaca._config import AlpacaConfig
    from execlab.adapters.alpaca._stream import AlpacaTradeStream, StreamAuthError, TradeUpdateEvent

__all__ = ["AlpacaAdapter", "AlpacaConfig", "AlpacaTradeStream", "StreamAuthError", "TradeUpdateEvent"]

_WHERE = {"AlpacaAdapter": "_adapter", "AlpacaConfig": "_config", "AlpacaTradeStream": "_stream",
          "StreamAuthError": "_stream", "TradeUpdateEvent": "_stream"}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if module != "_config":
        require_extra("alpaca", "The Alpaca adapter")  # alpaca-py, from the [alpaca] extra
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
