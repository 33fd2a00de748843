"""``broker: ccxt``: the config keys of a crypto exchange through ccxt (imports no SDK)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, SecretStr

from execlab._config import BrokerConfig

__all__ = ["CcxtConfig"]


class CcxtConfig(BrokerConfig):
    """A spot exchange through ccxt: ``exchange`` (``binance`` or ``okx``), ``base_url`` (a local venue; None: the
    exchange itself, live only), the keys from the environment (OKX also needs its ``password``, the passphrase),
    and the exchange's request-weight limit the adapter paces to."""

    secret_keys: ClassVar[tuple[str, ...]] = ("api_key", "api_secret", "password")
    url_keys: ClassVar[tuple[str, ...]] = ("base_url",)

    name: Literal["ccxt"] = "ccxt"
    broker_instruments: bool = True
    exchange: Literal["binance", "okx"] = "binance"
    base_url: str | None = None
    """``http://127.0.0.1:PORT`` of a local venue; None: the exchange's own URLs (real money: ``mode: live``)."""
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    password: SecretStr | None = None
    """OKX's API passphrase."""
    quote_currency: str = "USDT"
    """The account's currency: cash, and the quote of the traded pairs (``BTC/USDT``)."""
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] = 6000
    """Requests per rolling window for the executor's own pacer (request weight is paced by the adapter)."""
    weight_limit: Annotated[int, Field(ge=1, le=1_000_000)] = 6000
    """Binance's request weight per ``weight_window_seconds`` (6000 a minute for spot)."""
    weight_window_seconds: Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)] = 60.0
    timeout_seconds: Annotated[float, Field(gt=0, le=300, allow_inf_nan=False)] = 10.0
    stream: bool = True
    """Order and fill updates from ccxt.pro's websocket (else REST polling)."""
    symbols: Literal["pair", "base"] = "pair"
    """How execlab names a pair: ``BTC/USDT`` (``pair``) or its base currency ``BTC`` (``base``, quoted in
    ``quote_currency``)."""
