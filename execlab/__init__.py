"""execlab: target positions → orders → one OrderExecutor (backtest, paper, live) → what the trading cost."""


from execlab._backtest import BacktestResult, run_backtest
from execlab._backtest_executor import BacktestExecutor
from execlab._batches import FillBatch, OrderBatch, OrderEvents
from execlab._config import (
    LIVE_ENDPOINTS,
    LIVE_OPT_IN_PHRASE,
    BrokerConfig,
    Config,
    ConfigError,
    FeeConfig,
    MarginConfig,
    PlanConfig,
    RiskConfig,
    SlippageConfig,
    VenueConfig,
    load_config,
)
from execlab._executor import OrderExecutor
from execlab._ids import client_order_id
from execlab._instruments import DEFAULT_INSTRUMENTS, Instrument, InstrumentTable
from execlab._market_data import BarsError, MarketData
from execlab._oms import TRANSITIONS, OrderBook, allowed_transition
from execlab._plan import CostEstimate, Plan, PlanReason, PlanSettings, plan_orders
from execlab._planner import make_plan
from execlab._report_api import write_report
from execlab._risk import RiskEngine, RiskReason
from execlab._sample_data import sample_bars, write_sample_bars
from execlab._schema import (
    AccountSnapshot,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
    order_json_schema,
)
from execlab._targets import TargetError
from execlab._venue import SimulatedVenue

__all__ = [
    "DEFAULT_INSTRUMENTS",
    "LIVE_ENDPOINTS",
    "LIVE_OPT_IN_PHRASE",
    "TRANSITIONS",
    "AccountSnapshot",
    "BacktestExecutor",
    "BacktestResult",
    "BarsError",
    "BrokerConfig",
    "Config",
    "ConfigError",
    "CostEstimate",
    "FeeConfig",
    "Fill",
    "FillBatch",
    "Instrument",
    "InstrumentTable",
    "MarginConfig",
    "MarketData",
    "Order",
    "OrderBatch",
    "OrderBook",
    "OrderEvents",
    "OrderExecutor",
    "OrderStatus",
    "OrderType",
    "Plan",
    "PlanConfig",
    "PlanReason",
    "PlanSettings",
    "Position",
    "RiskConfig",
    "RiskEngine",
    "RiskReason",
    "Side",
    "SimulatedVenue",
    "SlippageConfig",
    "TargetError",
    "TimeInForce",
    "VenueConfig",
    "allowed_transition",
    "client_order_id",
    "load_config",
    "make_plan",
    "order_json_schema",
    "plan_orders",
    "run_backtest",
    "sample_bars",
    "write_report",
    "write_sample_bars",
]
