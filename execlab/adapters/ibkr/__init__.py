"""Interactive Brokers through ib_async: :class:`IBAdapter` (orders, executions with commissions, positions,
per-currency account, instruments, a reconnecting order and fill stream) and the mapping of execlab's symbols,
orders and fills to IB's contracts, orders, trades and executions."""

from execlab.adapters.ibkr._adapter import IBAdapter
from execlab.adapters.ibkr._endpoints import PAPER_PORTS, check_ib_endpoint, ib_endpoint_problems
from execlab.adapters.ibkr._mapping import IBSymbols
from execlab.adapters.ibkr._stream import IBOrderStream

__all__ = ["PAPER_PORTS", "IBAdapter", "IBOrderStream", "IBSymbols", "check_ib_endpoint", "ib_endpoint_problems"]
