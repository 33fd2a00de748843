"""``BrokerSpec.make_adapter`` of OANDA: an :class:`OandaAdapter` from ``broker: oanda``."""

from __future__ import annotations

from execlab._config import BrokerConfig, Config, ConfigError
from execlab.adapters.oanda._adapter import OandaAdapter
from execlab.adapters.oanda._config import OandaConfig

__all__ = ["make_adapter"]


def make_adapter(broker: BrokerConfig, config: Config) -> OandaAdapter:
    """The adapter of ``broker`` (OANDA's practice environment unless the mode trades real money)."""
    if not isinstance(broker, OandaConfig):
        raise ConfigError(f"broker.name: the OANDA adapter needs broker 'oanda', got {broker.name!r}")
    if broker.api_key is None:
        raise ConfigError("broker.api_key: broker 'oanda' needs broker.api_key, the access token (as an ${ENV} "
                          "reference)")
    return OandaAdapter(broker.api_key.get_secret_value(), account_id=broker.account_id, base_url=broker.base_url,
                        stream_url=broker.stream_url, environment="live" if config.real_money else "practice")
