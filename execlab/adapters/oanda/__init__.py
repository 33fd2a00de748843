"""OANDA v20 through oandapyV20: the adapter, its symbol map and its order/fill mapping."""

from execlab.adapters.oanda._adapter import OandaAdapter
from execlab.adapters.oanda._symbols import OandaSymbols

__all__ = ["OandaAdapter", "OandaSymbols"]
