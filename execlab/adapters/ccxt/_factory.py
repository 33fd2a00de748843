"""``BrokerSpec.make_adapter`` of ccxt: a :class:`CcxtAdapter` from ``broker: ccxt``."""

from __future__ import annotations

from execlab._config import BrokerConfig, Config, ConfigError
from execlab.adapters.ccxt._adapter import CcxtAdapter, adapter_for
from execlab.adapters.ccxt._config import CcxtConfig

__all__ = ["make_adapter"]


def make_adapter(broker: BrokerConfig, config: Config) -> CcxtAdapter:
    """The adapter of ``broker``; the keys must be set (from the environment), and without a ``base_url`` (the
    exchange itself) only a live config may trade."""
    if not isinstance(broker, CcxtConfig):
        raise ConfigError(f"broker.name: the ccxt adapter needs broker 'ccxt', got {broker.name!r}")
    if broker.api_key is None or broker.api_secret is None:
        raise ConfigError("broker.api_key: broker 'ccxt' needs broker.api_key and broker.api_secret (as ${ENV} "
                          "references)")
    if broker.exchange == "okx" and broker.password is None:
        raise ConfigError("broker.password: OKX needs its API passphrase (as an ${ENV} reference)")
    if broker.base_url is None and not config.real_money:
        raise ConfigError("broker.base_url: without a base_url ccxt reaches the exchange itself (real money); "
                          "a paper config must name a local venue (execlab venue binance|okx)")
    password = broker.password.get_secret_value() if broker.password is not None else None
    return adapter_for(broker.exchange)(
        broker.api_key.get_secret_value(), broker.api_secret.get_secret_value(), password=password,
        base_url=broker.base_url, quote_currency=broker.quote_currency, timeout=broker.timeout_seconds,
        weight_limit=broker.weight_limit, weight_window=broker.weight_window_seconds, stream=broker.stream,
        bare_symbols=broker.symbols == "base")
