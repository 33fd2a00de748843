"""Which :class:`OrderExecutor` runs is chosen here, from the configuration, and nowhere else.

``mode: backtest`` → :class:`BacktestExecutor` over the bars; ``mode: paper`` with ``broker: sim`` →
:class:`PaperExecutor` (the local simulated venue, stepped by a price feed); ``mode: paper`` or ``live`` with
``broker: alpaca`` → :class:`BrokerExecutor` over :class:`AlpacaAdapter` (the broker's own paper account, or the
real one: :class:`Config` already refuses ``live`` without its opt-in phrase and a paper config that points at a
live endpoint).
"""

from __future__ import annotations

from collections.abc import Sequence

from execlab._config import Config, ConfigError
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
    if broker.name == "alpaca":
        if broker.api_key is None or broker.api_secret is None:
            raise ConfigError("broker.api_key: broker 'alpaca' needs broker.api_key and broker.api_secret "
                              "(as ${ENV} references)")
        if journal is None:
            raise ValueError("make_executor: a broker executor journals every request before sending it; "
                             "pass journal=")
        from execlab._brokers.executor import BrokerExecutor
        from execlab.adapters.alpaca import AlpacaAdapter

        key, secret = broker.api_key.get_secret_value(), broker.api_secret.get_secret_value()
        journal.add_secret(key, secret)
        adapter = AlpacaAdapter(key, secret, base_url=broker.base_url, paper=config.mode != "live")
        return BrokerExecutor(adapter, journal, config.run_id, symbols, config=broker)
    if broker.name == "oanda":  # until the broker kit's registry (issue 12) replaces these branches
        if broker.api_key is None:
            raise ConfigError("broker.api_key: broker 'oanda' needs broker.api_key, the access token (as an ${ENV} "
                              "reference)")
        if journal is None:
            raise ValueError("make_executor: a broker executor journals every request before sending it; "
                             "pass journal=")
        from execlab._brokers.executor import BrokerExecutor
        from execlab.adapters.oanda import OandaAdapter

        token = broker.api_key.get_secret_value()
        journal.add_secret(token)
        oanda = OandaAdapter(token, account_id=broker.account_id, base_url=broker.base_url,
                             environment="live" if config.mode == "live" else "practice")
        return BrokerExecutor(oanda, journal, config.run_id, symbols, config=broker)
    raise ConfigError(f"broker.name: {broker.name!r} has no executor yet (supported: 'sim', 'alpaca', 'oanda')")
