"""``broker: ibkr``: the config keys of Interactive Brokers (imports no SDK: a config is validated without ib_async).

The gateway is ``host:port`` (TWS paper 7497, IB Gateway paper 4002; live 7496 / 4001 only in mode ``live``), the
API ``client_id``, and the account; ``fx_separator`` is how execlab writes the FX pairs it trades (``EUR.USD``,
``EUR_USD`` or ``EUR/USD``); ``contracts`` names symbols that are not SMART stocks in the account currency (futures).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from execlab._config import BrokerConfig

__all__ = ["IBConfig", "IBContractConfig"]


class IBContractConfig(BaseModel):
    """One contract an execlab symbol stands for (``ESZ6: {sec_type: FUT, symbol: ES, expiry: "20261218", exchange:
    CME, multiplier: "50"}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sec_type: Literal["STK", "FUT", "CASH"] = "STK"
    symbol: str = Field(min_length=1, max_length=32)
    exchange: str = "SMART"
    currency: str = "USD"
    primary_exchange: str = ""
    expiry: str = ""
    multiplier: str = ""
    local_symbol: str = ""


class IBConfig(BrokerConfig):
    """Interactive Brokers through ib_async: which gateway, which client id, which account."""

    name: Literal["ibkr"] = "ibkr"
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] = 1_200
    """Broker calls per ``rate_window_seconds`` (each call is one or a few API messages; the messages themselves
    are paced by ``max_messages_per_second``)."""
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65_535)] = 7497
    client_id: Annotated[int, Field(ge=0, le=2**31 - 1)] = 1
    account_id: str | None = None
    """The account to trade (default: the gateway's only managed account)."""
    timeout_seconds: Annotated[float, Field(gt=0, le=600, allow_inf_nan=False)] = 10.0
    max_messages_per_second: Annotated[int, Field(ge=1, le=50)] = 40
    """ib_async's own throttle on every message sent (IB refuses more than 50 a second with error 100)."""
    fx_separator: Literal[".", "_", "/"] = "."
    contracts: dict[str, IBContractConfig] = Field(default_factory=dict)
