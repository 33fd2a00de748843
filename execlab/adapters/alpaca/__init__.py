"""Alpaca through alpaca-py: :class:`AlpacaAdapter`."""

from execlab.adapters.alpaca._adapter import AlpacaAdapter

__all__ = ["AlpacaAdapter"]
