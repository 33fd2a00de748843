"""``broker: alpaca``: the config keys of Alpaca (imports no SDK: a config is validated without alpaca-py)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import SecretStr

from execlab._config import BrokerConfig

__all__ = ["AlpacaConfig"]


class AlpacaConfig(BrokerConfig):
    """Alpaca's Trading API: ``base_url`` (Alpaca's paper or live API, or a local venue), the key pair (from the
    environment) and, optionally, the account id."""

    secret_keys: ClassVar[tuple[str, ...]] = ("api_key", "api_secret")
    url_keys: ClassVar[tuple[str, ...]] = ("base_url",)

    name: Literal["alpaca"] = "alpaca"
    base_url: str | None = None
    """The REST base URL; None: Alpaca's own (paper or live by the mode). The stream is at the same host."""
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    account_id: str | None = None
