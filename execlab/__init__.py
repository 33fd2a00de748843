"""execlab: target positions → orders → one OrderExecutor (backtest, paper, live) → what the trading cost."""


from execlab._analysis.calibration import Calibration, calibrate_slippage
from execlab._analysis.mode_comparison import ModeComparison, compare_modes
from execlab._analysis.order_comparison import compare_orders
from execlab._analysis.report import write_report
from execlab._analysis.tca import TcaError, TcaResult, tca_from_backtest, tca_from_journal, transaction_costs
from execlab._analysis.tca_report import write_tca_report
from execlab._brokers.contract import (
    BrokerAdapter,
    BrokerError,
    BrokerFill,
    BrokerOrder,
    BrokerRejectedError,
    BrokerUnavailableError,
    Capability,
)
from execlab._brokers.executor import BrokerExecutor
from execlab._brokers.kill_switch import KillSwitchReport, engage_kill_switch, halt_trading, resume_trading
from execlab._brokers.reconcile import ReconcileReport, reconcile
from execlab._brokers.registry import BrokerSpec, register_broker, registered_brokers
from execlab._config import (
    LIVE_ENDPOINTS,
    LIVE_OPT_IN_PHRASE,
    BrokerConfig,
    Config,
    ConfigError,
    DataConfig,
    FeeConfig,
    MarginConfig,
    PlanConfig,
    RiskConfig,
    SlippageConfig,
    VenueConfig,
    load_config,
)
from execlab._core.batches import FillBatch, OrderBatch, OrderEvents
from execlab._core.ids import client_order_id
from execlab._core.instruments import DEFAULT_INSTRUMENTS, Instrument, InstrumentTable
from execlab._core.models import (
    AccountSnapshot,
    Balance,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
    order_json_schema,
)
from execlab._data.bars import BarsError, MarketData, widen_ranges
from execlab._data.feeds import FeedError, FeedEvent, PriceFeed, QueueFeed, ReplayFeed
from execlab._data.gaps import DataGapError, DataGapWarning
from execlab._data.sample import sample_bars, write_sample_bars
from execlab._data.symbols import SymbolError, normalise_symbol, read_symbol_values, symbol_values
from execlab._data.targets import TargetError
from execlab._execution.backtest_executor import BacktestExecutor
from execlab._execution.executor import OrderExecutor
from execlab._execution.factory import make_executor
from execlab._execution.paper_executor import PaperExecutor
from execlab._oms.book import TRANSITIONS, OrderBook, allowed_transition
from execlab._oms.journal import Journal
from execlab._plan.diff import CostEstimate, Plan, PlanReason, PlanSettings, plan_orders
from execlab._plan.planner import make_plan
from execlab._risk.engine import RiskEngine, RiskReason
from execlab._runs.backtest import BacktestResult, run_backtest
from execlab._runs.live import LiveRebalance, TargetsChangedError, TradingHaltedError, run_live_rebalance
from execlab._runs.paper import PaperResult, run_paper
from execlab._sim import SimulatedVenue

__all__ = [
    "DEFAULT_INSTRUMENTS",
    "LIVE_ENDPOINTS",
    "LIVE_OPT_IN_PHRASE",
    "TRANSITIONS",
    "AccountSnapshot",
    "BacktestExecutor",
    "BacktestResult",
    "Balance",
    "BarsError",
    "BrokerAdapter",
    "BrokerConfig",
    "BrokerError",
    "BrokerExecutor",
    "BrokerFill",
    "BrokerOrder",
    "BrokerRejectedError",
    "BrokerSpec",
    "BrokerUnavailableError",
    "Calibration",
    "Capability",
    "Config",
    "ConfigError",
    "CostEstimate",
    "DataConfig",
    "DataGapError",
    "DataGapWarning",
    "FeeConfig",
    "FeedError",
    "FeedEvent",
    "Fill",
    "FillBatch",
    "Instrument",
    "InstrumentTable",
    "Journal",
    "KillSwitchReport",
    "LiveRebalance",
    "MarginConfig",
    "MarketData",
    "ModeComparison",
    "Order",
    "OrderBatch",
    "OrderBook",
    "OrderEvents",
    "OrderExecutor",
    "OrderStatus",
    "OrderType",
    "PaperExecutor",
    "PaperResult",
    "Plan",
    "PlanConfig",
    "PlanReason",
    "PlanSettings",
    "Position",
    "PriceFeed",
    "QueueFeed",
    "ReconcileReport",
    "ReplayFeed",
    "RiskConfig",
    "RiskEngine",
    "RiskReason",
    "Side",
    "SimulatedVenue",
    "SlippageConfig",
    "SymbolError",
    "TargetError",
    "TargetsChangedError",
    "TcaError",
    "TcaResult",
    "TimeInForce",
    "TradingHaltedError",
    "VenueConfig",
    "allowed_transition",
    "calibrate_slippage",
    "client_order_id",
    "compare_modes",
    "compare_orders",
    "engage_kill_switch",
    "halt_trading",
    "load_config",
    "make_executor",
    "make_plan",
    "normalise_symbol",
    "order_json_schema",
    "plan_orders",
    "read_symbol_values",
    "reconcile",
    "register_broker",
    "registered_brokers",
    "resume_trading",
    "run_backtest",
    "run_live_rebalance",
    "run_paper",
    "sample_bars",
    "symbol_values",
    "tca_from_backtest",
    "tca_from_journal",
    "transaction_costs",
    "widen_ranges",
    "write_report",
    "write_sample_bars",
    "write_tca_report",
]
