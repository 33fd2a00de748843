"""``broker: oanda``: the config keys of OANDA's v20 API (imports no SDK: a config is validated without oandapyV20)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import SecretStr

from execlab._config import BrokerConfig

__all__ = ["OandaConfig"]


class OandaConfig(BrokerConfig):
    """OANDA v20: ``base_url`` (OANDA's practice or live API, or a local venue), the access token (from the
    environment) and, optionally, the account id (default: the token's first account)."""

    secret_keys: ClassVar[tuple[str, ...]] = ("api_key",)
    url_keys: ClassVar[tuple[str, ...]] = ("base_url", "stream_url")

    name: Literal["oanda"] = "oanda"
    base_url: str | None = None
    """The REST root; None: OANDA's own (practice, or live in live mode)."""
    stream_url: str | None = None
    """The streaming root; default: ``base_url`` (OANDA's own stream host for OANDA's own API)."""
    api_key: SecretStr | None = None
    """The personal access token (``Authorization: Bearer``)."""
    account_id: str | None = None
    rate_limit_per_minute: int = 100
    """OANDA: 100 requests a second on a connection."""
    rate_window_seconds: float = 1.0
