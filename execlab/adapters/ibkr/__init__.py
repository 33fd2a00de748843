"""Interactive Brokers through ib_async: the mapping of execlab's symbols, orders and fills to IB's contracts,
orders, trades and executions (:mod:`._mapping`)."""

from execlab.adapters.ibkr._mapping import IBSymbols

__all__ = ["IBSymbols"]
