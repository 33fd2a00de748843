"""execlab: target positions → orders → one OrderExecutor (backtest, paper, live) → what the trading cost.

The names users need are here; advanced surfaces live in `execlab.brokers`, `execlab.sim`, `execlab.oms`,
`execlab.config` and `execlab.testing`. Every name is imported on first use (PEP 562), so `import execlab` loads
none of pandas, numba, the broker SDKs or the plotting libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from execlab._core.lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers and editors see; at run time each name is imported on first use
    from execlab._analysis.calibration import (
        Calibration as Calibration,
    )
    from execlab._analysis.calibration import (
        calibrate_slippage as calibrate_slippage,
    )
    from execlab._analysis.mode_comparison import (
        ModeComparison as ModeComparison,
    )
    from execlab._analysis.mode_comparison import (
        compare_modes as compare_modes,
    )
    from execlab._analysis.order_comparison import (
        compare_orders as compare_orders,
    )
    from execlab._analysis.report import (
        write_report as write_report,
    )
    from execlab._analysis.tca import (
        TcaError as TcaError,
    )
    from execlab._analysis.tca import (
        TcaResult as TcaResult,
    )
    from execlab._analysis.tca import (
        tca_from_backtest as tca_from_backtest,
    )
    from execlab._analysis.tca import (
        tca_from_journal as tca_from_journal,
    )
    from execlab._analysis.tca import (
        transaction_costs as transaction_costs,
    )
    from execlab._analysis.tca_report import (
        write_tca_report as write_tca_report,
    )
    from execlab._brokers.contract import (
        BrokerError as BrokerError,
    )
    from execlab._brokers.kill_switch import (
        KillSwitchReport as KillSwitchReport,
    )
    from execlab._brokers.kill_switch import (
        engage_kill_switch as engage_kill_switch,
    )
    from execlab._brokers.kill_switch import (
        halt_trading as halt_trading,
    )
    from execlab._brokers.kill_switch import (
        resume_trading as resume_trading,
    )
    from execlab._brokers.reconcile import (
        ReconcileReport as ReconcileReport,
    )
    from execlab._brokers.reconcile import (
        reconcile as reconcile,
    )
    from execlab._config import (
        LIVE_OPT_IN_PHRASE as LIVE_OPT_IN_PHRASE,
    )
    from execlab._config import (
        Config as Config,
    )
    from execlab._config import (
        ConfigError as ConfigError,
    )
    from execlab._config import (
        load_config as load_config,
    )
    from execlab._core.extras import (
        MissingExtraError as MissingExtraError,
    )
    from execlab._data.bars import (
        BarsError as BarsError,
    )
    from execlab._data.bars import (
        MarketData as MarketData,
    )
    from execlab._data.bars import (
        widen_ranges as widen_ranges,
    )
    from execlab._data.feeds import (
        FeedError as FeedError,
    )
    from execlab._data.feeds import (
        QueueFeed as QueueFeed,
    )
    from execlab._data.feeds import (
        ReplayFeed as ReplayFeed,
    )
    from execlab._data.gaps import (
        DataGapError as DataGapError,
    )
    from execlab._data.gaps import (
        DataGapWarning as DataGapWarning,
    )
    from execlab._data.sample import (
        sample_bars as sample_bars,
    )
    from execlab._data.sample import (
        write_sample_bars as write_sample_bars,
    )
    from execlab._data.symbols import (
        SymbolError as SymbolError,
    )
    from execlab._data.targets import (
        TargetError as TargetError,
    )
    from execlab._oms.journal import (
        Journal as Journal,
    )
    from execlab._plan.diff import (
        Plan as Plan,
    )
    from execlab._plan.planner import (
        make_plan as make_plan,
    )
    from execlab._runs.backtest import (
        BacktestResult as BacktestResult,
    )
    from execlab._runs.backtest import (
        run_backtest as run_backtest,
    )
    from execlab._runs.live import (
        LiveRebalance as LiveRebalance,
    )
    from execlab._runs.live import (
        TargetsChangedError as TargetsChangedError,
    )
    from execlab._runs.live import (
        TradingHaltedError as TradingHaltedError,
    )
    from execlab._runs.live import (
        run_live_rebalance as run_live_rebalance,
    )
    from execlab._runs.paper import (
        PaperResult as PaperResult,
    )
    from execlab._runs.paper import (
        run_paper as run_paper,
    )
    from execlab._runs.performance import (
        TearSheet as TearSheet,
    )
    from execlab._runs.sweep import (
        SweepResult as SweepResult,
    )
    from execlab._runs.sweep import (
        run_sweep as run_sweep,
    )

#: Each public name and the module it is defined in. Adding a name is one line here.
_EXPORTS: dict[str, str] = {
    "SweepResult": "execlab._runs.sweep",
    "run_sweep": "execlab._runs.sweep",
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
    "BrokerError": "execlab._brokers.contract",
    "KillSwitchReport": "execlab._brokers.kill_switch",
    "engage_kill_switch": "execlab._brokers.kill_switch",
    "halt_trading": "execlab._brokers.kill_switch",
    "resume_trading": "execlab._brokers.kill_switch",
    "ReconcileReport": "execlab._brokers.reconcile",
    "reconcile": "execlab._brokers.reconcile",
    "Config": "execlab._config",
    "ConfigError": "execlab._config",
    "LIVE_OPT_IN_PHRASE": "execlab._config",
    "load_config": "execlab._config",
    "MissingExtraError": "execlab._core.extras",
    "BarsError": "execlab._data.bars",
    "MarketData": "execlab._data.bars",
    "widen_ranges": "execlab._data.bars",
    "FeedError": "execlab._data.feeds",
    "QueueFeed": "execlab._data.feeds",
    "ReplayFeed": "execlab._data.feeds",
    "DataGapError": "execlab._data.gaps",
    "DataGapWarning": "execlab._data.gaps",
    "sample_bars": "execlab._data.sample",
    "write_sample_bars": "execlab._data.sample",
    "SymbolError": "execlab._data.symbols",
    "TargetError": "execlab._data.targets",
    "Journal": "execlab._oms.journal",
    "Plan": "execlab._plan.diff",
    "make_plan": "execlab._plan.planner",
    "BacktestResult": "execlab._runs.backtest",
    "run_backtest": "execlab._runs.backtest",
    "LiveRebalance": "execlab._runs.live",
    "TargetsChangedError": "execlab._runs.live",
    "TradingHaltedError": "execlab._runs.live",
    "run_live_rebalance": "execlab._runs.live",
    "PaperResult": "execlab._runs.paper",
    "run_paper": "execlab._runs.paper",
    "TearSheet": "execlab._runs.performance",
}

#: Names that were at the top before the namespaces; still importable, not in ``__all__``.
_LEGACY: dict[str, str] = {
    "registered_brokers": "execlab._brokers.registry",
    "register_broker": "execlab._brokers.registry",
    "BrokerSpec": "execlab._brokers.registry",
    "Capability": "execlab._brokers.contract",
    "BrokerFill": "execlab._brokers.contract",
    "Balance": "execlab._core.models",
    "SweepConfig": "execlab._config",
    "BrokerAdapter": "execlab._brokers.contract",
    "BrokerCircuitOpenError": "execlab._brokers.contract",
    "BrokerOrder": "execlab._brokers.contract",
    "BrokerRateLimitedError": "execlab._brokers.contract",
    "BrokerRejectedError": "execlab._brokers.contract",
    "BrokerUnavailableError": "execlab._brokers.contract",
    "DuplicateClientOrderIdError": "execlab._brokers.contract",
    "BrokerExecutor": "execlab._brokers.executor",
    "BrokerConfig": "execlab._config",
    "DataConfig": "execlab._config",
    "FeeConfig": "execlab._config",
    "LIVE_ENDPOINTS": "execlab._config",
    "MarginConfig": "execlab._config",
    "PlanConfig": "execlab._config",
    "RiskConfig": "execlab._config",
    "SlippageConfig": "execlab._config",
    "VenueConfig": "execlab._config",
    "FillBatch": "execlab._core.batches",
    "OrderBatch": "execlab._core.batches",
    "OrderEvents": "execlab._core.batches",
    "EndpointError": "execlab._core.endpoints",
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
    "FeedEvent": "execlab._data.feeds",
    "PriceFeed": "execlab._data.feeds",
    "normalise_symbol": "execlab._data.symbols",
    "read_symbol_values": "execlab._data.symbols",
    "symbol_values": "execlab._data.symbols",
    "BacktestExecutor": "execlab._execution.backtest_executor",
    "OrderExecutor": "execlab._execution.executor",
    "make_executor": "execlab._execution.factory",
    "PaperExecutor": "execlab._execution.paper_executor",
    "OrderBook": "execlab._oms.book",
    "TRANSITIONS": "execlab._oms.book",
    "allowed_transition": "execlab._oms.book",
    "CostEstimate": "execlab._plan.diff",
    "PlanReason": "execlab._plan.diff",
    "PlanSettings": "execlab._plan.diff",
    "plan_orders": "execlab._plan.diff",
    "RiskEngine": "execlab._risk.engine",
    "RiskReason": "execlab._risk.engine",
    "SimulatedVenue": "execlab._sim",
    "QuoteVenue": "execlab._sim.quote_venue",
}

__all__, __getattr__, __dir__ = lazy_exports('execlab', _EXPORTS, _LEGACY)

del annotations, TYPE_CHECKING, lazy_exports  # only the public names stay on the module
