"""execlab: target positions → orders → one OrderExecutor (backtest, paper, live) → what the trading cost.

Every name here is imported on first use (PEP 562), so ``import execlab`` loads none of pandas, numba, the broker
SDKs or the plotting libraries until a name that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from execlab._analysis.calibration import Calibration, calibrate_slippage
    from execlab._analysis.mode_comparison import ModeComparison, compare_modes
    from execlab._analysis.order_comparison import compare_orders
    from execlab._analysis.report import write_report
    from execlab._analysis.tca import TcaError, TcaResult, tca_from_backtest, tca_from_journal, transaction_costs
    from execlab._analysis.tca_report import write_tca_report
    from execlab._brokers.contract import (
        BrokerAdapter,
        BrokerError,
        BrokerOrder,
        BrokerRejectedError,
        BrokerUnavailableError,
    )
    from execlab._brokers.executor import BrokerExecutor
    from execlab._brokers.kill_switch import KillSwitchReport, engage_kill_switch, halt_trading, resume_trading
    from execlab._brokers.reconcile import ReconcileReport, reconcile
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

#: Where each public name lives: its module is imported when the name is first used.
_EXPORTS: dict[str, str] = {
    "Calibration": "execlab._analysis.calibration",
    "calibrate_slippage": "execlab._analysis.calibration",
    "ModeComparison": "execlab._analysis.mode_comparison",
    "compare_modes": "execlab._analysis.mode_comparison",
    "compare_orders": "execlab._analysis.order_comparison",
    "write_report": "execlab._analysis.report",
    "TcaError": "execlab._analysis.tca",
    "TcaResult": "execlab._analysis.tca",
    "tca_from_backtest": "execlab._analysis.tca",
    "tca_from_journal": "execlab._analysis.tca",
    "transaction_costs": "execlab._analysis.tca",
    "write_tca_report": "execlab._analysis.tca_report",
    "BrokerAdapter": "execlab._brokers.contract",
    "BrokerError": "execlab._brokers.contract",
    "BrokerOrder": "execlab._brokers.contract",
    "BrokerRejectedError": "execlab._brokers.contract",
    "BrokerUnavailableError": "execlab._brokers.contract",
    "BrokerExecutor": "execlab._brokers.executor",
    "KillSwitchReport": "execlab._brokers.kill_switch",
    "engage_kill_switch": "execlab._brokers.kill_switch",
    "halt_trading": "execlab._brokers.kill_switch",
    "resume_trading": "execlab._brokers.kill_switch",
    "ReconcileReport": "execlab._brokers.reconcile",
    "reconcile": "execlab._brokers.reconcile",
    "BrokerConfig": "execlab._config",
    "Config": "execlab._config",
    "ConfigError": "execlab._config",
    "DataConfig": "execlab._config",
    "FeeConfig": "execlab._config",
    "LIVE_ENDPOINTS": "execlab._config",
    "LIVE_OPT_IN_PHRASE": "execlab._config",
    "MarginConfig": "execlab._config",
    "PlanConfig": "execlab._config",
    "RiskConfig": "execlab._config",
    "SlippageConfig": "execlab._config",
    "VenueConfig": "execlab._config",
    "load_config": "execlab._config",
    "FillBatch": "execlab._core.batches",
    "OrderBatch": "execlab._core.batches",
    "OrderEvents": "execlab._core.batches",
    "client_order_id": "execlab._core.ids",
    "DEFAULT_INSTRUMENTS": "execlab._core.instruments",
    "Instrument": "execlab._core.instruments",
    "InstrumentTable": "execlab._core.instruments",
    "AccountSnapshot": "execlab._core.models",
    "Fill": "execlab._core.models",
    "Order": "execlab._core.models",
    "OrderStatus": "execlab._core.models",
    "OrderType": "execlab._core.models",
    "Position": "execlab._core.models",
    "Side": "execlab._core.models",
    "TimeInForce": "execlab._core.models",
    "order_json_schema": "execlab._core.models",
    "BarsError": "execlab._data.bars",
    "MarketData": "execlab._data.bars",
    "widen_ranges": "execlab._data.bars",
    "FeedError": "execlab._data.feeds",
    "FeedEvent": "execlab._data.feeds",
    "PriceFeed": "execlab._data.feeds",
    "QueueFeed": "execlab._data.feeds",
    "ReplayFeed": "execlab._data.feeds",
    "DataGapError": "execlab._data.gaps",
    "DataGapWarning": "execlab._data.gaps",
    "sample_bars": "execlab._data.sample",
    "write_sample_bars": "execlab._data.sample",
    "SymbolError": "execlab._data.symbols",
    "normalise_symbol": "execlab._data.symbols",
    "read_symbol_values": "execlab._data.symbols",
    "symbol_values": "execlab._data.symbols",
    "TargetError": "execlab._data.targets",
    "BacktestExecutor": "execlab._execution.backtest_executor",
    "OrderExecutor": "execlab._execution.executor",
    "make_executor": "execlab._execution.factory",
    "PaperExecutor": "execlab._execution.paper_executor",
    "OrderBook": "execlab._oms.book",
    "TRANSITIONS": "execlab._oms.book",
    "allowed_transition": "execlab._oms.book",
    "Journal": "execlab._oms.journal",
    "CostEstimate": "execlab._plan.diff",
    "Plan": "execlab._plan.diff",
    "PlanReason": "execlab._plan.diff",
    "PlanSettings": "execlab._plan.diff",
    "plan_orders": "execlab._plan.diff",
    "make_plan": "execlab._plan.planner",
    "RiskEngine": "execlab._risk.engine",
    "RiskReason": "execlab._risk.engine",
    "BacktestResult": "execlab._runs.backtest",
    "run_backtest": "execlab._runs.backtest",
    "LiveRebalance": "execlab._runs.live",
    "TargetsChangedError": "execlab._runs.live",
    "TradingHaltedError": "execlab._runs.live",
    "run_live_rebalance": "execlab._runs.live",
    "PaperResult": "execlab._runs.paper",
    "run_paper": "execlab._runs.paper",
    "SimulatedVenue": "execlab._sim",
}

__all__ = [
    "DEFAULT_INSTRUMENTS",
    "LIVE_ENDPOINTS",
    "LIVE_OPT_IN_PHRASE",
    "TRANSITIONS",
    "AccountSnapshot",
    "BacktestExecutor",
    "BacktestResult",
    "BarsError",
    "BrokerAdapter",
    "BrokerConfig",
    "BrokerError",
    "BrokerExecutor",
    "BrokerOrder",
    "BrokerRejectedError",
    "BrokerUnavailableError",
    "Calibration",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'execlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
