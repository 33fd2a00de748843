"""Interactive Brokers through ib_async: :class:`IBAdapter` (orders, executions with commissions, positions,
per-currency account, instruments, a reconnecting order and fill stream) and the mapping of execlab's symbols,
orders and fills to IB's contracts, orders, trades and executions.

The names load on first use, so ``broker: ibkr`` configs (``_config``) and the endpoint checks are usable without
ib_async; the adapter, the stream and the mapping need the ``[ibkr]`` extra and say so
(:class:`execlab.MissingExtraError`) when it is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from execlab._core.extras import require_extra

if TYPE_CHECKING:
    from execlab.adapters.ibkr._adapter import IBAdapter
    from execlab.adapters.ibkr._endpoints import PAPER_PORTS, check_ib_endpoint, ib_endpoint_problems
    from execlab.adapters.ibkr._mapping import IBSymbols
    from execlab.adapters.ibkr._stream import IBOrderStream

__all__ = ["PAPER_PORTS", "IBAdapter", "IBOrderStream", "IBSymbols", "check_ib_endpoint", "ib_endpoint_problems"]

_WHERE = {"IBAdapter": "_adapter", "IBOrderStream": "_stream", "IBSymbols": "_mapping", "PAPER_PORTS": "_endpoints",
          "check_ib_endpoint": "_endpoints", "ib_endpoint_problems": "_endpoints"}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if module != "_endpoints":
        require_extra("ib_async", "The Interactive Brokers adapter")  # from the [ibkr] extra
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
