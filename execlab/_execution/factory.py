"""Which :class:`OrderExecutor` runs is chosen here, from the configuration, and nowhere else.

``mode: backtest`` → :class:`BacktestExecutor` over the bars; ``mode: paper`` with ``broker: sim`` →
:class:`PaperExecutor` (the local simulated venue, stepped by a price feed); ``mode: paper`` or ``live`` with a
registered broker → :class:`BrokerExecutor` over the adapter its registry entry makes
(:mod:`execlab._brokers.registry`; the broker's own paper account, or the real one: :class:`Config` already refuses
``live`` without its opt-in phrase and a paper config that points at a live endpoint).
"""

from __future__ import annotations

from collections.abc import Sequence

from execlab._config import Config
from execlab._core.instruments import InstrumentTable
from execlab._data.bars import MarketData
from execlab._execution.backtest_executor import BacktestExecutor
from execlab._execution.executor import OrderExecutor
from execlab._execution.paper_executor import PaperExecutor
from execlab._oms.journal import Journal

__all__ = ["make_executor"]


def make_executor(config: Config, symbols: Sequence[str], *, market: MarketData | None = None,
                  journal: Journal | None = None, instruments: InstrumentTable | None = None) -> OrderExecutor:
    """The executor ``config`` names, over the universe ``symbols``.

    A backtest needs ``market`` (the bars); a broker needs ``journal`` (every request is journaled before it is
    sent) and ``broker.api_key`` / ``broker.api_secret`` (from the environment). The paper executor journals its
    requests and fills when given a ``journal``.
    """
    rules = (instruments if instruments is not None else InstrumentTable()).arrays(symbols)
    allow_short = config.plan.allow_short
    if config.mode == "backtest":
        if market is None:
            raise ValueError("make_executor: a backtest executor needs the bars (market=)")
        bars = market if market.symbols == tuple(symbols) else market.select(symbols)
        return BacktestExecutor(bars, config.venue, config.initial_cash, rules.lot_size, allow_short)
    broker = config.broker
    if broker.name == "sim":  # Config refuses mode 'live' with the simulated broker
        return PaperExecutor(symbols, config.venue, config.initial_cash, rules.lot_size, allow_short,
                             journal=journal, run_id=config.run_id)
    if journal is None:
        raise ValueError("make_executor: a broker executor journals every request before sending it; pass journal=")
    from execlab._brokers.registry import make_broker_executor

    return make_broker_executor(config, journal, symbols)
