"""OANDA v20 through oandapyV20: the adapter, its config and its order/fill mapping."""

from execlab.adapters.oanda._adapter import OandaAdapter
from execlab.adapters.oanda._config import OandaConfig

__all__ = ["OandaAdapter", "OandaConfig"]
