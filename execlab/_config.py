"""Run configuration: one validated object, loaded from YAML with ``${ENV}`` substitution.

Unknown keys are errors, secrets come only from the environment, and ``mode: live`` needs an explicit opt-in.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from execlab._brokers.endpoints import check_endpoint, live_endpoints, registered_brokers
from execlab._core.models import OrderType, TimeInForce

__all__ = [
    "LIVE_ENDPOINTS",
    "LIVE_OPT_IN_PHRASE",
    "BrokerConfig",
    "Config",
    "ConfigError",
    "FeeConfig",
    "MarginConfig",
    "PlanConfig",
    "RiskConfig",
    "SlippageConfig",
    "VenueConfig",
    "load_config",
]

#: The exact value ``live.opt_in`` must have before live orders are routed: a typo cannot give it.
LIVE_OPT_IN_PHRASE = "I understand this sends real orders"

_STRICT = ConfigDict(extra="forbid", frozen=True)
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ConfigError(ValueError):
    """A configuration is invalid; the message names every offending key."""


class PlanConfig(BaseModel):
    """How targets become orders."""

    model_config = _STRICT

    target_unit: Literal["shares", "weight", "notional"] = "shares"
    allow_short: bool = False
    no_trade_band: NonNegative = 0.0
    """Skip an order whose notional is below this fraction of equity."""
    cash_buffer: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """Fraction of equity kept in cash when weights or notionals are sized."""
    order_type: Literal[OrderType.MARKET, OrderType.LIMIT] = OrderType.MARKET
    limit_offset_bps: NonNegative = 0.0
    """For limit orders: buy limit = decision price × (1 + offset), sell limit × (1 − offset), on the tick grid."""
    time_in_force: TimeInForce = TimeInForce.GTC
    cancel_open_orders: bool = True
    """Cancel the run's working orders before each rebalance (cancel-replace)."""


class SlippageConfig(BaseModel):
    """Price slippage model: none, fixed basis points, half the quoted spread or square-root impact."""

    model_config = _STRICT

    model: Literal["none", "fixed_bps", "half_spread", "sqrt_impact"] = "none"
    bps: NonNegative = 0.0
    impact_coefficient: NonNegative = 0.1
    """Square-root impact: cost = coefficient · σ_daily · sqrt(quantity / ADV)."""
    volatility_window: Annotated[int, Field(ge=2)] = 20
    adv_window: Annotated[int, Field(ge=1)] = 20


class FeeConfig(BaseModel):
    """Commission model: none, bps of notional, per share with minimum/maximum (IBKR-style), maker/taker."""

    model_config = _STRICT

    model: Literal["none", "bps", "per_share", "maker_taker"] = "none"
    bps: NonNegative = 0.0
    per_share: NonNegative = 0.005
    minimum: NonNegative = 1.0
    maximum_pct: NonNegative = 0.01
    """Per-share fee cap as a fraction of the trade's notional."""
    maker_bps: float = Field(default=0.0, allow_inf_nan=False)
    taker_bps: NonNegative = 0.0


class MarginConfig(BaseModel):
    """Whether cash may go negative, and how far (gross exposure up to ``max_leverage`` × equity)."""

    model_config = _STRICT

    enabled: bool = False
    max_leverage: Annotated[float, Field(ge=1, allow_inf_nan=False)] = 1.0


class VenueConfig(BaseModel):
    """The simulated venue: fill price, slippage, fees, participation cap, margin and latency."""

    model_config = _STRICT

    fill_price: Literal["close", "next_open", "vwap", "quote"] = "close"
    slippage: SlippageConfig = SlippageConfig()
    fees: FeeConfig = FeeConfig()
    participation_cap: Annotated[float, Field(gt=0, le=1)] | None = None
    """Largest fraction of a bar's volume one order may take; the rest carries to later bars."""
    margin: MarginConfig = MarginConfig()
    latency_bars: Annotated[int, Field(ge=0)] = 0


class RiskConfig(BaseModel):
    """Pre-trade limits, checked over each batch before anything is sent; ``None`` disables a limit.

    Fractions are of equity (``max_position_pct``: 0.1 is 10 %; exposures are multiples: 1.0 is 100 %).
    """

    model_config = _STRICT

    max_order_value: NonNegative | None = None
    """Largest notional of one order (quantity × limit price, or decision price for market orders)."""
    max_order_quantity: NonNegative | None = None
    """Largest quantity of one order, in shares or units."""
    max_position_pct: NonNegative | None = None
    """Largest position value after the order, as a fraction of equity (orders that shrink a position pass)."""
    max_gross_exposure: NonNegative | None = None
    """Largest sum of |position values| of the whole book after the batch, as a multiple of equity."""
    max_net_exposure: NonNegative | None = None
    """Largest |sum of signed position values| of the whole book after the batch, as a multiple of equity."""
    max_daily_orders: Annotated[int, Field(ge=0)] | None = None
    """Most orders sent per trading day, counting those already sent today."""
    daily_loss_limit: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    """Loss from the day's start equity (a currency amount) at which trading halts for the rest of the day."""
    price_band_pct: NonNegative | None = None
    """Fat-finger band: deny an order whose limit (or decision) price is further than this fraction from the last
    price."""
    max_adv_pct: NonNegative | None = None
    """Largest order quantity as a fraction of the symbol's average daily volume."""
    check_buying_power: bool = True
    """Deny buys whose estimated cost (after the batch's earlier sells) exceeds the account's buying power."""
    restricted: tuple[str, ...] = ()
    """Symbols that may not be traded at all."""
    trading_state: Literal["active", "reducing_only", "halted"] = "active"
    """State the risk engine starts in."""
    emergency_flatten: bool = False
    """Whether the kill switch, besides cancelling open orders, also closes every position."""


class BrokerConfig(BaseModel):
    """Which broker (or ``sim``, the local simulated venue) and its credentials."""

    model_config = _STRICT

    name: Literal["sim", "alpaca", "ibkr", "ccxt", "oanda"] = "sim"
    base_url: str | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    account_id: str | None = None
    rate_limit_per_minute: Annotated[int, Field(ge=1)] = 200
    """Requests the broker allows in any rolling ``rate_window_seconds`` (Alpaca: 200 a minute). Every broker call
    is paced to it; a broker that states its own limit in its answers (Alpaca does) is followed instead."""
    rate_window_seconds: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)] = 60.0
    """The rolling window of ``rate_limit_per_minute``, in seconds."""
    breaker_fail_max: Annotated[int, Field(ge=1)] = 5
    """Consecutive unavailable answers (timeouts, 5xx, refused connections) that open the circuit breaker."""
    breaker_reset_seconds: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 30.0
    """How long an open breaker fails calls fast before it lets one trial call through."""


class LiveConfig(BaseModel):
    """The explicit opt-in that live trading requires."""

    model_config = _STRICT

    opt_in: SecretStr | None = None


class Config(BaseModel):
    """Everything one run needs. ``mode`` picks the executor; nothing else branches on it."""

    model_config = _STRICT

    mode: Literal["backtest", "paper", "live"] = "backtest"
    run_id: str = Field(default="run", pattern=r"^[A-Za-z0-9._-]{1,40}$")
    strategy_id: str = Field(default="default", pattern=r"^[A-Za-z0-9._-]{1,40}$")
    initial_cash: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1_000_000.0
    currency: str = "USD"
    plan: PlanConfig = PlanConfig()
    venue: VenueConfig = VenueConfig()
    risk: RiskConfig = RiskConfig()
    broker: BrokerConfig = BrokerConfig()
    live: LiveConfig = LiveConfig()

    @model_validator(mode="after")
    def _live_needs_opt_in(self) -> Config:
        if self.mode == "live":
            given = self.live.opt_in.get_secret_value() if self.live.opt_in else None
            if given != LIVE_OPT_IN_PHRASE:
                raise ValueError(f"live.opt_in: mode 'live' requires live.opt_in to be exactly {LIVE_OPT_IN_PHRASE!r}")
            if self.broker.name == "sim":
                raise ValueError("broker.name: mode 'live' cannot use the simulated broker 'sim'")
        return self

    @model_validator(mode="after")
    def _endpoint_fits_the_mode(self) -> Config:
        """Paper stays off live hosts, live stays off loopback, and no URL hides its host (see _brokers.endpoints)."""
        url = self.broker.base_url
        if url is not None:
            check_endpoint(self.broker.name, url, self.mode, key="broker.base_url")
        return self

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Config:
        """Validate a mapping; a :class:`ConfigError` names every bad key."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None


#: Hosts (and IB gateway ports, as ``":port"``) that trade real money, per broker: a view of
#: :mod:`execlab._brokers.endpoints`, where the check (by parsed host, not by text) lives.
LIVE_ENDPOINTS: dict[str, tuple[str, ...]] = {
    broker: (*sorted(live_endpoints(broker).hosts), *(f":{p}" for p in sorted(live_endpoints(broker).ports)))
    for broker in registered_brokers()
}


_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


_SECRET_KEYS = ("api_key", "api_secret")
_ENV_ONLY = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def _substitute(value: Any, where: str, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, f"{where}.{k}" if where else str(k), env) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, f"{where}[{i}]", env) for i, v in enumerate(value)]
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(f"{where}: environment variable ${{{name}}} is not set")

        return _ENV_PATTERN.sub(replace, value)
    return value


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{key}: {message}")
    return "invalid config:\n  " + "\n  ".join(lines)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would silently keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"{key}: given twice in the same section (line {key_node.start_mark.line + 1}); "
                                  "YAML would silently keep the last one")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(source: str | Path | dict[str, Any], env: dict[str, str] | None = None) -> Config:
    """Load and validate a config from a YAML file, YAML text or a mapping, substituting ``${VAR}``."""
    if isinstance(source, dict):
        raw: Any = source
    else:
        is_file = isinstance(source, Path) or str(source).endswith((".yaml", ".yml"))
        if is_file and not Path(source).is_file():
            raise ConfigError(f"config file not found: {source}")
        text = Path(source).read_text() if is_file else str(source)
        raw = yaml.load(text, Loader=_UniqueKeyLoader) or {}
    if not isinstance(raw, dict):
        raise ConfigError("invalid config: the top level must be a mapping of keys")
    broker: dict[str, Any] = raw["broker"] if isinstance(raw.get("broker"), dict) else {}
    for key in _SECRET_KEYS:
        value = broker.get(key)
        if value is not None and not (isinstance(value, str) and _ENV_ONLY.fullmatch(value.strip())):
            raise ConfigError(f"broker.{key}: secrets must come from the environment; write it as "
                              f"'${{SOME_VARIABLE}}', not as a literal value")
    substituted = _substitute(raw, "", dict(os.environ) if env is None else env)
    return Config.from_mapping(substituted)
