"""``BrokerSpec.make_adapter`` of Alpaca: an :class:`AlpacaAdapter` from ``broker: alpaca``."""

from __future__ import annotations

from execlab._config import BrokerConfig, Config, ConfigError
from execlab.adapters.alpaca._adapter import AlpacaAdapter
from execlab.adapters.alpaca._config import AlpacaConfig

__all__ = ["make_adapter"]


def make_adapter(broker: BrokerConfig, config: Config) -> AlpacaAdapter:
    """The adapter of ``broker`` (paper unless the mode is live); the keys must be set (from the environment)."""
    if not isinstance(broker, AlpacaConfig):
        raise ConfigError(f"broker.name: the Alpaca adapter needs broker 'alpaca', got {broker.name!r}")
    if broker.api_key is None or broker.api_secret is None:
        raise ConfigError("broker.api_key: broker 'alpaca' needs broker.api_key and broker.api_secret "
                          "(as ${ENV} references)")
    return AlpacaAdapter(broker.api_key.get_secret_value(), broker.api_secret.get_secret_value(),
                         base_url=broker.base_url, paper=not config.real_money)
