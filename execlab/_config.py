"""Run configuration: one validated object, loaded from YAML with ``${ENV}`` substitution.

Unknown keys are errors, secrets come only from the environment, and ``mode: live`` needs an explicit opt-in.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final, Literal, cast

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    SerializeAsAny,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from execlab._core.endpoints import check_endpoint, live_endpoints, registered_brokers
from execlab._core.models import OrderType, TimeInForce

__all__ = [
    "LIVE_ENDPOINTS",
    "LIVE_OPT_IN_PHRASE",
    "BrokerConfig",
    "Config",
    "ConfigError",
    "DataConfig",
    "ExecutionConfig",
    "ExecutionOverride",
    "FeeConfig",
    "MarginConfig",
    "PlanConfig",
    "RiskConfig",
    "SimBrokerConfig",
    "SlippageConfig",
    "SweepConfig",
    "VenueConfig",
    "broker_config_model",
    "load_config",
    "register_broker_config",
    "registered_broker_names",
]

#: The exact value ``live.opt_in`` must have before live orders are routed: a typo cannot give it.
LIVE_OPT_IN_PHRASE = "I understand this sends real orders"

_STRICT = ConfigDict(extra="forbid", frozen=True)
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]

# Upper bounds: far beyond any real use, low enough that no arithmetic on them overflows.
_MAX_MONEY: Final = 1e15
"""Largest amount of money a config may give (initial cash, an order's value, a loss limit): a quadrillion."""
_MAX_BPS: Final = 5_000.0
"""Largest price adjustment in basis points (slippage, limit offsets): 50 %, so a price stays positive."""
_MAX_FEE_BPS: Final = 1_000.0
"""Largest fee in basis points of notional: 10 %."""
_MAX_WINDOW: Final = 10_000
"""Largest window or delay in bars: about 40 years of daily bars."""
_MAX_MULTIPLE: Final = 100.0
"""Largest multiple of equity (leverage, exposures, position size): 100×."""


class ConfigError(ValueError):
    """A configuration is invalid; the message names every offending key."""


class PlanConfig(BaseModel):
    """How targets become orders."""

    model_config = _STRICT

    target_unit: Literal["shares", "weight", "notional"] = "shares"
    allow_short: bool = False
    no_trade_band: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.0
    """Skip an order whose notional is below this fraction of equity (0 .. 1)."""
    cash_buffer: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """Fraction of equity kept in cash when weights or notionals are sized."""
    order_type: Literal[OrderType.MARKET, OrderType.LIMIT] = OrderType.MARKET
    limit_offset_bps: Annotated[float, Field(ge=0, le=_MAX_BPS, allow_inf_nan=False)] = 0.0
    """For limit orders: buy limit = decision price × (1 + offset), sell limit × (1 − offset), on the tick grid
    (0 .. 5,000 bps)."""
    time_in_force: TimeInForce = TimeInForce.GTC
    cancel_open_orders: bool = True
    """Cancel the run's working orders before each rebalance (cancel-replace)."""
    untargeted: Literal["close", "hold"] = "hold"
    """A held symbol the targets do not name: ``hold`` leaves it alone (an account may hold other strategies'
    positions; list a symbol with 0 to sell it), ``close`` sells it (the targets are the whole portfolio). Applied
    the same way by ``make_plan``, ``execlab plan`` and every rebalance, and shown in the plan either way."""


class SlippageConfig(BaseModel):
    """Price slippage model: none, fixed basis points, half the quoted spread or square-root impact."""

    model_config = _STRICT

    model: Literal["none", "fixed_bps", "half_spread", "sqrt_impact"] = "none"
    bps: Annotated[float, Field(ge=0, le=_MAX_BPS, allow_inf_nan=False)] = 0.0
    """Fixed slippage in basis points of the price (0 .. 5,000)."""
    impact_coefficient: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = 0.1
    """Square-root impact: cost = coefficient · σ_daily · sqrt(quantity / ADV) (0 .. 100; typically 0.1 .. 1)."""
    volatility_window: Annotated[int, Field(ge=2, le=_MAX_WINDOW)] = 20
    """Bars in the volatility estimate of the square-root impact (2 .. 10,000)."""
    adv_window: Annotated[int, Field(ge=1, le=_MAX_WINDOW)] = 20
    """Bars in the average-daily-volume estimate of the square-root impact (1 .. 10,000)."""


class FeeConfig(BaseModel):
    """Commission model: none, bps of notional, per share with minimum/maximum (IBKR-style), maker/taker."""

    model_config = _STRICT

    model: Literal["none", "bps", "per_share", "maker_taker"] = "none"
    bps: Annotated[float, Field(ge=0, le=_MAX_FEE_BPS, allow_inf_nan=False)] = 0.0
    """Fee in basis points of notional (0 .. 1,000)."""
    per_share: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = 0.005
    """Fee per share or unit, in the account currency (0 .. 100)."""
    minimum: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)] = 1.0
    """Smallest per-share fee of one order, in the account currency (0 .. 1,000,000)."""
    maximum_pct: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.01
    """Per-share fee cap as a fraction of the trade's notional (0 .. 1)."""
    maker_bps: Annotated[float, Field(ge=-_MAX_FEE_BPS, le=_MAX_FEE_BPS, allow_inf_nan=False)] = 0.0
    """Maker fee in basis points of notional; negative is a rebate (−1,000 .. 1,000)."""
    taker_bps: Annotated[float, Field(ge=0, le=_MAX_FEE_BPS, allow_inf_nan=False)] = 0.0
    """Taker fee in basis points of notional (0 .. 1,000)."""


class MarginConfig(BaseModel):
    """Whether cash may go negative, and how far (gross exposure up to ``max_leverage`` × equity)."""

    model_config = _STRICT

    enabled: bool = False
    max_leverage: Annotated[float, Field(ge=1, le=_MAX_MULTIPLE, allow_inf_nan=False)] = 1.0
    """Largest gross exposure as a multiple of equity (1 .. 100)."""


class VenueConfig(BaseModel):
    """The simulated venue: fill price, slippage, fees, participation cap, margin and latency."""

    model_config = _STRICT

    fill_price: Literal["close", "next_open", "vwap", "quote"] = "close"
    slippage: SlippageConfig = SlippageConfig()
    fees: FeeConfig = FeeConfig()
    participation_cap: Annotated[float, Field(gt=0, le=1)] | None = None
    """Largest fraction of a bar's volume one order may take; the rest carries to later bars (0 .. 1)."""
    margin: MarginConfig = MarginConfig()
    latency_bars: Annotated[int, Field(ge=0, le=_MAX_WINDOW)] = 0
    """Bars between an order being sent and its first chance to fill (0 .. 10,000)."""


class RiskConfig(BaseModel):
    """Pre-trade limits, checked over each batch before anything is sent; ``None`` disables a limit.

    Fractions are of equity (``max_position_pct``: 0.1 is 10 %; exposures are multiples: 1.0 is 100 %). Every limit
    has an upper bound far beyond real use, so that a typo (``1e20``) is refused rather than overflowing.
    """

    model_config = _STRICT

    max_order_value: Annotated[float, Field(ge=0, le=_MAX_MONEY, allow_inf_nan=False)] | None = None
    """Largest notional of one order (quantity × limit price, or decision price for market orders; 0 .. 1e15)."""
    max_order_quantity: Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)] | None = None
    """Largest quantity of one order, in shares or units (0 .. 1e12)."""
    max_position_pct: Annotated[float, Field(ge=0, le=_MAX_MULTIPLE, allow_inf_nan=False)] | None = None
    """Largest position value after the order, as a fraction of equity (orders that shrink a position pass;
    0 .. 100)."""
    max_gross_exposure: Annotated[float, Field(ge=0, le=_MAX_MULTIPLE, allow_inf_nan=False)] | None = None
    """Largest sum of |position values| of the whole book after the batch, as a multiple of equity (0 .. 100)."""
    max_net_exposure: Annotated[float, Field(ge=0, le=_MAX_MULTIPLE, allow_inf_nan=False)] | None = None
    """Largest |sum of signed position values| of the whole book after the batch, as a multiple of equity
    (0 .. 100)."""
    max_daily_orders: Annotated[int, Field(ge=0, le=100_000_000)] | None = None
    """Most orders sent per trading day, counting those already sent today (0 .. 1e8)."""
    daily_loss_limit: Annotated[float, Field(gt=0, le=_MAX_MONEY, allow_inf_nan=False)] | None = None
    """Loss from the day's start equity (a currency amount, up to 1e15) at which trading halts for the rest of the
    day."""
    price_band_pct: Annotated[float, Field(ge=0, le=_MAX_MULTIPLE, allow_inf_nan=False)] | None = None
    """Fat-finger band: deny an order whose limit (or decision) price is further than this fraction from the last
    price (0 .. 100)."""
    max_adv_pct: Annotated[float, Field(ge=0, le=_MAX_MULTIPLE, allow_inf_nan=False)] | None = None
    """Largest order quantity as a fraction of the symbol's average daily volume (0 .. 100)."""
    check_buying_power: bool = True
    """Deny buys whose estimated cost (after the batch's earlier sells) exceeds the account's buying power."""
    restricted: tuple[str, ...] = ()
    """Symbols that may not be traded at all."""
    trading_state: Literal["active", "reducing_only", "halted"] = "active"
    """State the risk engine starts in."""
    emergency_flatten: bool = False
    """Whether the kill switch, besides cancelling open orders, also closes every position."""


class BrokerConfig(BaseModel):
    """What every broker's config has: its ``name`` and how hard execlab may call it.

    Each broker's own model subclasses it with ``name: Literal["<name>"]`` and its keys (``extra="forbid"``, so an
    unknown key is an error naming it); :class:`Config` picks the model by ``broker.name`` among the registered ones
    (:func:`register_broker_config`; the broker registry in ``execlab._brokers.registry`` registers every broker).
    """

    model_config = _STRICT

    secret_keys: ClassVar[tuple[str, ...]] = ()
    """Keys whose values are secrets: they must come from the environment (``${VAR}``) and are never logged."""
    url_keys: ClassVar[tuple[str, ...]] = ()
    """Keys holding endpoint URLs, checked against the mode by the endpoint guard."""

    name: str = "sim"
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] = 200
    """Requests the broker allows in any rolling ``rate_window_seconds`` (Alpaca: 200 a minute; 1 .. 1,000,000).
    Every broker call is paced to it; a broker that states its own limit in its answers (Alpaca does) is followed
    instead."""
    rate_window_seconds: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)] = 60.0
    """The rolling window of ``rate_limit_per_minute``, in seconds (up to a day)."""
    breaker_fail_max: Annotated[int, Field(ge=1, le=1_000)] = 5
    """Consecutive unavailable answers (timeouts, 5xx, refused connections) that open the circuit breaker
    (1 .. 1,000)."""
    breaker_reset_seconds: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)] = 30.0
    """How long an open breaker fails calls fast before it lets one trial call through, in seconds (up to a
    day)."""
    broker_instruments: bool = False
    """Plan with the broker's own trading rules (lot or step, tick, minimum quantity and notional) of the symbols
    it lists, instead of execlab's instrument table (default for crypto exchanges, whose step grids and minimum
    notionals differ per market)."""

    def endpoints(self) -> dict[str, str]:
        """The endpoint URLs this config sets, by key (for the endpoint guard)."""
        return {key: str(value) for key in self.url_keys if (value := getattr(self, key, None)) is not None}

    def secrets(self) -> tuple[str, ...]:
        """The secret values this config holds (to redact from journals and logs)."""
        out = []
        for key in self.secret_keys:
            value = getattr(self, key, None)
            if isinstance(value, SecretStr):
                out.append(value.get_secret_value())
        return tuple(s for s in out if s)


class SimBrokerConfig(BrokerConfig):
    """``broker: sim``: the local simulated venue (``venue`` configures it); no keys."""

    name: Literal["sim"] = "sim"
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] = 1_000_000
    """The simulated venue has no rate limit of its own: unpaced unless set."""


_BROKER_MODELS: dict[str, Callable[[], type[BrokerConfig]]] = {"sim": lambda: SimBrokerConfig}

#: The module whose import registers the built-in brokers (``sim``, ``alpaca``, ``ibkr``). ``import execlab`` loads
#: nothing, so it is imported by name (no SDK comes with it) the first time a config's broker is looked up.
_BROKER_REGISTRY: Final = "execlab._brokers.registry"


def _register_built_in_brokers() -> None:
    """Import the broker registry once (idempotent: a module is imported once)."""
    importlib.import_module(_BROKER_REGISTRY)


def register_broker_config(name: str, load: Callable[[], type[BrokerConfig]]) -> None:
    """Make ``broker.name: <name>`` valid; ``load`` returns its config model (called at the first config that
    names it, so a broker's module is imported only when used)."""
    _BROKER_MODELS[name] = load


def registered_broker_names() -> tuple[str, ...]:
    """Broker names a config may give, sorted."""
    _register_built_in_brokers()
    return tuple(sorted(_BROKER_MODELS))


def broker_config_model(name: str) -> type[BrokerConfig]:
    """The config model of a registered broker.

    Raises:
        ValueError: ``name`` is not registered (the message lists the registered ones).
    """
    load = _BROKER_MODELS.get(name)
    if load is None:
        _register_built_in_brokers()
        load = _BROKER_MODELS.get(name)
    if load is None:
        raise ValueError(f"{name!r} is not a registered broker (registered: {', '.join(registered_broker_names())})")
    model = load()
    if not (isinstance(model, type) and issubclass(model, BrokerConfig)):
        raise TypeError(f"broker {name!r}: its config model {model!r} is not a BrokerConfig")
    return model


class DataConfig(BaseModel):
    """What a run does when the market data has a gap where it matters."""

    model_config = _STRICT

    gaps: Literal["error", "warn"] = "error"
    """A symbol with a target or a position has no price (NaN close) at a rebalance time, or a bar has a close but
    no open where the venue would fill at the open: ``error`` stops the run with a
    :class:`~execlab.DataGapError` naming the symbol and time; ``warn`` issues a :class:`~execlab.DataGapWarning`
    naming them and trades on (the symbol's order is skipped, the open is taken from the close)."""


class SweepConfig(BaseModel):
    """Where :func:`execlab.run_sweep` runs its variants: threads here, or a Dask cluster."""

    model_config = _STRICT

    executor: Literal["threads", "dask"] = "threads"
    """``threads``: back to back on this machine's threads (the compiled loop releases the GIL); ``dask``: on a
    ``dask.distributed`` cluster (needs the ``distributed`` package)."""
    threads: Annotated[int, Field(ge=1, le=1024)] | None = None
    """Threads for ``executor: threads`` (``None``: one per CPU)."""
    dask_scheduler: str | None = None
    """Scheduler address of an existing cluster (``tcp://host:8786``); ``None`` starts a ``LocalCluster``."""
    dask_workers: Annotated[int, Field(ge=1, le=1024)] = 2
    """Worker processes of the ``LocalCluster`` started when no scheduler is given."""
    dask_threads_per_worker: Annotated[int, Field(ge=1, le=1024)] = 1
    """Threads per worker process of that ``LocalCluster``."""


_ALGOS: Final = ("none", "twap", "vwap", "pov", "iceberg")


def _horizon(value: Any) -> str:
    """A horizon as a pandas Timedelta text (``30min``, ``1h``, ``90s``), positive and at most a week."""
    import pandas as pd  # loaded only when a config sets an execution horizon

    try:
        delta = pd.Timedelta(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a duration (write it like '30min', '1h', '90s')") from None
    if pd.isna(delta) or not pd.Timedelta(0) < delta <= pd.Timedelta(days=7):
        raise ValueError(f"{value!r} must be a positive duration of at most 7 days")
    return str(value)


class ExecutionOverride(BaseModel):
    """One symbol's changes to ``execution:`` (any key but ``per_symbol``; unset keys keep the run's value)."""

    model_config = _STRICT

    algo: Literal["none", "twap", "vwap", "pov", "iceberg"] | None = None
    horizon: str | None = None
    slices: Annotated[int, Field(ge=1, le=10_000)] | None = None
    participation: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    display_size: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)] | None = None
    min_child: Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)] | None = None
    limit_bps: Annotated[float, Field(ge=0, le=_MAX_BPS, allow_inf_nan=False)] | None = None
    max_spread_bps: Annotated[float, Field(ge=0, le=_MAX_BPS, allow_inf_nan=False)] | None = None
    at_end: Literal["sweep", "leave"] | None = None
    profile: tuple[Annotated[float, Field(ge=0, allow_inf_nan=False)], ...] | None = None

    @field_validator("horizon")
    @classmethod
    def _check_horizon(cls, value: str | None) -> str | None:
        return None if value is None else _horizon(value)


class ExecutionConfig(BaseModel):
    """How each order of a rebalance is worked: at once (``algo: none``, the default) or by an execution algorithm
    sending child orders over ``horizon``.

    ``twap`` and ``vwap`` split the order into ``slices`` (``vwap`` by the symbol's own minute-volume profile, or
    ``profile`` when given); ``pov`` sends at most ``participation`` × the volume traded since its previous child;
    ``iceberg`` shows ``display_size`` at a time. ``participation`` caps every algorithm's children when set;
    ``limit_bps`` prices children at the arrival price ± that many bps and holds them while the market is beyond;
    ``max_spread_bps`` holds them while the quoted spread is wider; ``at_end`` sweeps what is left when the horizon
    ends or leaves it (reported). ``per_symbol`` overrides any key for one symbol.
    """

    model_config = _STRICT

    algo: Literal["none", "twap", "vwap", "pov", "iceberg"] = "none"
    horizon: str = "30min"
    """The schedule's length, as a pandas duration (``30min``, ``1h``; up to 7 days)."""
    slices: Annotated[int, Field(ge=1, le=10_000)] = 10
    """Child intervals of ``twap`` and ``vwap`` (1 .. 10,000)."""
    participation: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    """POV's rate ρ, and a cap for every algorithm when set: a child is at most ρ × the volume since the previous
    child (0 .. 1)."""
    display_size: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)] = 100.0
    """``iceberg``: quantity shown at a time (re-posted when it fills)."""
    min_child: Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)] = 1.0
    """Smallest child, in shares or units; a smaller one is carried into the next child."""
    limit_bps: Annotated[float, Field(ge=0, le=_MAX_BPS, allow_inf_nan=False)] | None = None
    """Guard: children are limit orders at the arrival price ± this many bps (0 .. 5,000)."""
    max_spread_bps: Annotated[float, Field(ge=0, le=_MAX_BPS, allow_inf_nan=False)] | None = None
    """Guard: no child while the quoted spread is wider than this many bps of the mid (0 .. 5,000)."""
    at_end: Literal["sweep", "leave"] = "sweep"
    """When the horizon ends: ``sweep`` sends what is left, ``leave`` leaves it (and reports it)."""
    profile: tuple[Annotated[float, Field(ge=0, allow_inf_nan=False)], ...] | None = None
    """``vwap``: the volume weight of each slice (``slices`` of them); unset, it comes from the symbol's minute
    history."""
    per_symbol: dict[str, ExecutionOverride] = {}
    """Per-symbol changes to any key above (``{SPY: {participation: 0.05}}``)."""

    @field_validator("horizon")
    @classmethod
    def _check_horizon(cls, value: str) -> str:
        return _horizon(value)

    @model_validator(mode="after")
    def _consistent(self) -> ExecutionConfig:
        for where, resolved in [("execution", self), *((f"execution.per_symbol.{sym}", self.for_symbol(sym))
                                                        for sym in self.per_symbol)]:
            if resolved.algo == "pov" and resolved.participation is None:
                raise ValueError(f"{where}.participation: algo 'pov' needs a participation rate")
            if resolved.profile is not None and len(resolved.profile) != resolved.slices:
                raise ValueError(f"{where}.profile: {len(resolved.profile)} weights for {resolved.slices} slices")
            if resolved.profile is not None and sum(resolved.profile) <= 0:
                raise ValueError(f"{where}.profile: the weights must have a positive sum")
        return self

    def for_symbol(self, symbol: str) -> ExecutionConfig:
        """This section with ``symbol``'s overrides applied (and no ``per_symbol``)."""
        override = self.per_symbol.get(symbol)
        changes = override.model_dump(exclude_none=True) if override is not None else {}
        return self.model_construct(**{**self.model_dump(exclude={"per_symbol"}), **changes, "per_symbol": {}})

    def algos(self) -> tuple[str, ...]:
        """Every algorithm this section uses (the default and the overrides'), sorted."""
        return tuple(sorted({self.algo, *(o.algo for o in self.per_symbol.values() if o.algo is not None)}))


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
    initial_cash: Annotated[float, Field(gt=0, le=_MAX_MONEY, allow_inf_nan=False)] = 1_000_000.0
    """Starting cash of a backtest or simulated paper account (up to 1e15)."""
    currency: str = "USD"
    plan: PlanConfig = PlanConfig()
    venue: VenueConfig = VenueConfig()
    risk: RiskConfig = RiskConfig()
    broker: SerializeAsAny[BrokerConfig] = SimBrokerConfig()
    live: LiveConfig = LiveConfig()
    data: DataConfig = DataConfig()
    sweep: SweepConfig = SweepConfig()
    execution: ExecutionConfig = ExecutionConfig()

    @property
    def real_money(self) -> bool:
        """Whether orders go to the broker's live account (``mode: live``) rather than its paper one."""
        return self.mode == "live"

    @field_validator("broker", mode="wrap")
    @classmethod
    def _broker_by_name(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> BrokerConfig:
        """``broker`` is validated by the model its ``name`` registered (unknown keys of it are errors)."""
        if isinstance(value, BrokerConfig):
            data: Any = value.model_dump() if type(value) is BrokerConfig else value
        else:
            data = value
        if isinstance(data, BrokerConfig):
            broker_config_model(data.name)
            return data
        if not isinstance(data, Mapping):
            return cast(BrokerConfig, handler(data))
        name = data.get("name", "sim")
        if not isinstance(name, str):
            raise PydanticCustomError("broker_name", "broker.name must be a text, got {given}",
                                      {"given": type(name).__name__})
        try:
            model = broker_config_model(name)
        except ValueError as exc:
            raise PydanticCustomError("broker_name", "broker.name: {why}", {"why": str(exc)}) from None
        return model.model_validate(data)

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
        """Paper stays off live hosts, live stays off loopback, and no URL hides its host (see _core.endpoints)."""
        for key, url in self.broker.endpoints().items():
            check_endpoint(self.broker.name, url, self.mode, key=f"broker.{key}")
        return self

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Config:
        """Validate a mapping; a :class:`ConfigError` names every bad key."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None


#: Hosts (and IB gateway ports, as ``":port"``) that trade real money, per broker: a view of
#: :mod:`execlab._core.endpoints`, where the check (by parsed host, not by text) lives.
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


def _describe(exc: ValidationError, line_of: Callable[[tuple[Any, ...]], int | None] | None = None) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        line = line_of(tuple(err["loc"])) if line_of is not None else None
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{key}: {message}" + (f" (line {line})" if line is not None else ""))
    return "invalid config:\n  " + "\n  ".join(lines)


_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_KINDS: Final = {"bool": "true/false", "int": "a number", "float": "a number", "null": "null", "timestamp": "a date",
                 "binary": "binary data"}


def _key_path(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader for configs: every key is text and given once per mapping (YAML would silently keep the
    last), and merge keys (``<<``), complex keys and aliases (``*name``) are refused, each with its line."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ConfigError(f"line {event.start_mark.line + 1}: alias *{event.anchor} is not supported in a "
                              "config; write the values out")
        return super().compose_node(parent, index)

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            _check_keys(node, "")
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        _check_mapping(node, "")
        return super().construct_mapping(node, deep=deep)


def _check_mapping(node: yaml.MappingNode, where: str) -> list[tuple[str, yaml.Node]]:
    """The ``(key, value node)`` pairs of one mapping; raise on a merge key, a key that is not text or a repeat."""
    seen: set[str] = set()
    pairs = []
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if key_node.tag == _MERGE_TAG:
            raise ConfigError(f"line {line}: {_key_path(where, '<<')}: merge keys are not supported in a config; "
                              "write the keys out")
        if not isinstance(key_node, yaml.ScalarNode):
            raise ConfigError(f"line {line}: {where or '<root>'}: a key must be a plain name, not a "
                              f"{'list' if isinstance(key_node, yaml.SequenceNode) else 'mapping'}")
        if key_node.tag != "tag:yaml.org,2002:str":
            kind = _KINDS.get(key_node.tag.rsplit(":", 1)[-1], "something else")
            raise ConfigError(f"line {line}: {_key_path(where, key_node.value)}: a key must be a name, but YAML reads "
                              f"{key_node.value!r} as {kind} (quote it if you mean the text)")
        key = str(key_node.value)
        if key in seen:
            raise ConfigError(f"{_key_path(where, key)}: given twice in the same section (line {line}); "
                              "YAML would silently keep the last one")
        seen.add(key)
        pairs.append((key, value_node))
    return pairs


def _check_keys(node: yaml.Node, where: str) -> None:
    """:func:`_check_mapping` over every mapping of a document, with each key's full path."""
    if isinstance(node, yaml.MappingNode):
        for key, value in _check_mapping(node, where):
            _check_keys(value, _key_path(where, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _check_keys(value, f"{where}[{i}]")


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest key of ``loc`` found in the document (1-based), or None."""
    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)),
                       None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _parse_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """The data and the node tree of one YAML document, checked by :class:`_UniqueKeyLoader`."""
    loader = _UniqueKeyLoader(text)
    try:
        root = loader.get_single_node()
        return (loader.construct_document(root) if root is not None else None), root
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_yaml_fault(exc)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError("not valid as a config: nested too deeply") from None
    finally:
        loader.dispose()


def _at(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _yaml_fault(exc: yaml.MarkedYAMLError) -> str:
    """A YAML syntax error as ``line L, column C: not valid YAML: problem (context at line ...)``."""
    mark = exc.problem_mark or exc.context_mark
    where = f"{_at(mark)}: " if mark is not None else ""
    problem = exc.problem or exc.context or "syntax error"
    if exc.context and exc.problem:
        context = exc.context + (f" that starts at {_at(exc.context_mark)}" if exc.context_mark is not None else "")
        problem += f" ({context})"
    return f"{where}not valid YAML: {problem}"


def _read(source: str | Path) -> tuple[str, str]:
    """``(name, text)`` of a config file or of YAML text."""
    is_file = isinstance(source, Path) or str(source).endswith((".yaml", ".yml"))
    if not is_file:
        return "config", str(source)
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"config file not found: {source}")
    try:
        return str(source), path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not a text file (UTF-8): byte {exc.start} cannot be read") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot be read ({exc.strerror or exc})") from None


def load_config(source: str | Path | dict[str, Any], env: dict[str, str] | None = None) -> Config:
    """Load and validate a config from a YAML file, YAML text or a mapping, substituting ``${VAR}``.

    Every fault is a :class:`ConfigError` naming the file (or ``config`` for YAML text), the line and the key:
    YAML syntax, a key given twice, merge keys (``<<``), aliases, keys that are not names, a top level that is not a
    mapping, unknown keys and values out of their bounds.
    """
    if isinstance(source, dict):
        return _validate(source, env, None)
    name, text = _read(source)
    try:
        raw, root = _parse_yaml(text)
        return _validate(raw if raw is not None else {}, env, root)
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def _validate(raw: Any, env: dict[str, str] | None, root: yaml.Node | None) -> Config:
    if not isinstance(raw, dict):
        raise ConfigError(f"invalid config: the top level must be a mapping of keys, not a {type(raw).__name__}")
    broker: dict[str, Any] = raw["broker"] if isinstance(raw.get("broker"), dict) else {}
    try:
        secret_keys = broker_config_model(str(broker.get("name", "sim"))).secret_keys
    except ValueError:
        secret_keys = _SECRET_KEYS  # an unregistered name is refused by the validation below
    for key in secret_keys:
        value = broker.get(key)
        if value is not None and not (isinstance(value, str) and _ENV_ONLY.fullmatch(value.strip())):
            raise ConfigError(f"broker.{key}: secrets must come from the environment; write it as "
                              f"'${{SOME_VARIABLE}}', not as a literal value")
    substituted = _substitute(raw, "", dict(os.environ) if env is None else env)
    try:
        return Config.model_validate(substituted)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, lambda loc: _line_of(root, loc))) from None
