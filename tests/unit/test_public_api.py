"""The public surface of ``execlab`` is exactly what we meant: an explicit ``__all__``, nothing else public."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import execlab

PUBLIC = {
    "Balance",
    "BrokerFill",
    "BrokerSpec",
    "Capability",
    "register_broker",
    "registered_brokers",
    "widen_ranges",
    "symbol_values",
    "read_symbol_values",
    "normalise_symbol",
    "TargetsChangedError",
    "SymbolError",
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
    "DataConfig",
    "DataGapError",
    "DataGapWarning",
    "CostEstimate",
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
    "TargetError",
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
    "order_json_schema",
    "plan_orders",
    "reconcile",
    "resume_trading",
    "run_backtest",
    "run_live_rebalance",
    "run_paper",
    "sample_bars",
    "tca_from_backtest",
    "tca_from_journal",
    "transaction_costs",
    "write_report",
    "write_sample_bars",
    "write_tca_report",
}


def test_all_is_exactly_the_public_set() -> None:
    assert len(execlab.__all__) == len(set(execlab.__all__)), "duplicates in __all__"
    assert set(execlab.__all__) - PUBLIC == set(), "added to __all__ without updating this test"
    assert PUBLIC - set(execlab.__all__) == set(), "removed from __all__"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_name_is_importable(name: str) -> None:
    module = importlib.import_module("execlab")
    obj = getattr(module, name)
    assert obj is not None
    namespace: dict[str, object] = {}
    exec(f"from execlab import {name}", namespace)
    assert namespace[name] is obj


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from execlab import *", namespace)
    assert set(namespace) - {"__builtins__"} == PUBLIC


def test_public_classes_and_functions_are_defined_in_execlab() -> None:
    for name in PUBLIC:
        obj = getattr(execlab, name)
        if isinstance(obj, type | types.FunctionType):
            assert obj.__module__.startswith("execlab."), (name, obj.__module__)
            assert obj.__doc__, f"{name} has no docstring"


def _unexpected_public_names() -> list[str]:
    out = []
    for name, obj in vars(execlab).items():
        if name.startswith("_") or name in PUBLIC:
            continue
        if isinstance(obj, types.ModuleType) and obj.__name__ == f"execlab.{name}":
            continue  # a public subpackage, e.g. execlab.strategies
        out.append(name)
    return out


def test_no_other_public_module_level_names() -> None:
    assert _unexpected_public_names() == []


@pytest.mark.slow
def test_no_other_public_names_after_importing_every_submodule() -> None:
    for info in pkgutil.walk_packages(execlab.__path__, "execlab."):
        if info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    assert _unexpected_public_names() == []


def test_private_modules_are_underscored() -> None:
    public_modules = [m.name for m in pkgutil.iter_modules(execlab.__path__) if not m.name.startswith("_")]
    assert set(public_modules) <= {"adapters", "dashboard", "strategies", "venues"}, public_modules
