"""``BrokerSpec.make_adapter`` of Interactive Brokers: an :class:`IBAdapter` from ``broker: ibkr``."""

from __future__ import annotations

from ib_async import Contract

from execlab._config import BrokerConfig, Config, ConfigError
from execlab.adapters.ibkr._adapter import IBAdapter
from execlab.adapters.ibkr._config import IBConfig, IBContractConfig
from execlab.adapters.ibkr._mapping import IBSymbols

__all__ = ["make_adapter", "symbols_of"]


def _contract(c: IBContractConfig) -> Contract:
    return Contract(secType=c.sec_type, symbol=c.symbol, exchange=c.exchange, currency=c.currency,
                    primaryExchange=c.primary_exchange, lastTradeDateOrContractMonth=c.expiry,
                    multiplier=c.multiplier, localSymbol=c.local_symbol)


def symbols_of(broker: IBConfig, currency: str = "USD") -> IBSymbols:
    """The symbol map a config describes."""
    return IBSymbols(fx_separator=broker.fx_separator, currency=currency,
                     contracts={s.upper(): _contract(c) for s, c in broker.contracts.items()})


def make_adapter(broker: BrokerConfig, config: Config) -> IBAdapter:
    """The adapter of ``broker`` (paper unless the mode is live; the port is checked against the mode first)."""
    if not isinstance(broker, IBConfig):
        raise ConfigError(f"broker.name: the IB adapter needs broker 'ibkr', got {broker.name!r}")
    return IBAdapter(broker.host, broker.port, broker.client_id, broker.account_id or "",
                     paper=not config.real_money, timeout=broker.timeout_seconds,
                     symbols=symbols_of(broker, config.currency),
                     max_messages_per_second=broker.max_messages_per_second)
