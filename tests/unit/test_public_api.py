"""The public surface: about 45 user-level names at the top, the advanced ones in namespaced public modules
(``execlab.brokers``, ``execlab.sim``, ``execlab.oms``, ``execlab.config``, ``execlab.testing``), each with an explicit
``__all__``, nothing else public, and ``__module__`` showing the public home."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types

import pytest

import execlab

PUBLIC = {
    # running
    "run_backtest", "run_paper", "run_live_rebalance", "make_plan", "run_sweep",
    # configuration
    "Config", "load_config", "LIVE_OPT_IN_PHRASE",
    # results
    "BacktestResult", "PaperResult", "LiveRebalance", "Plan", "TearSheet", "SweepResult",
    # reports, TCA, calibration
    "write_report", "transaction_costs", "tca_from_backtest", "tca_from_journal", "TcaResult", "compare_modes",
    "ModeComparison", "compare_orders", "calibrate_slippage", "Calibration", "write_tca_report",
    # data and feeds
    "sample_bars", "write_sample_bars", "MarketData", "widen_ranges", "ReplayFeed", "QueueFeed",
    # journal, reconciliation, kill switch
    "Journal", "reconcile", "ReconcileReport", "engage_kill_switch", "halt_trading", "resume_trading",
    "KillSwitchReport",
    # errors users catch
    "TargetError", "ConfigError", "BarsError", "SymbolError", "DataGapError", "DataGapWarning", "FeedError",
    "TargetsChangedError", "TradingHaltedError", "BrokerError", "TcaError", "MissingExtraError",
}

NAMESPACES = {
    "execlab.brokers": {
        "BrokerAdapter", "BrokerOrder", "BrokerExecutor", "OrderExecutor", "make_executor", "BrokerError",
        "BrokerUnavailableError", "BrokerRateLimitedError", "BrokerCircuitOpenError", "BrokerRejectedError",
        "DuplicateClientOrderIdError", "TradingHaltedError", "TargetsChangedError", "MissingExtraError",
        "EndpointError", "reconcile", "ReconcileReport", "engage_kill_switch", "halt_trading", "resume_trading",
        "KillSwitchReport", "BrokerAuthError", "BrokerTimeoutError", "BrokerFill", "Capability", "Balance",
        "BrokerSpec", "register_broker", "registered_brokers", "GroupRouter",
    },
    "execlab.sim": {
        "SimulatedVenue", "QuoteVenue", "BacktestExecutor", "PaperExecutor", "PriceFeed", "FeedEvent", "ReplayFeed",
        "QueueFeed", "FeedError", "MarketData",
    },
    "execlab.oms": {
        "Order", "Fill", "Position", "AccountSnapshot", "OrderStatus", "OrderType", "Side", "TimeInForce",
        "OrderBatch", "FillBatch", "OrderEvents", "OrderBook", "TRANSITIONS", "allowed_transition", "Journal",
        "client_order_id", "order_json_schema", "plan_orders", "Plan", "PlanReason", "PlanSettings", "CostEstimate",
        "RiskEngine", "RiskReason", "Instrument", "InstrumentTable", "DEFAULT_INSTRUMENTS", "symbol_values",
        "read_symbol_values", "normalise_symbol", "OrderGroup", "OrderClass", "LegRole", "leg_client_id",
    },
    "execlab.config": {
        "Config", "load_config", "ConfigError", "BrokerConfig", "DataConfig", "FeeConfig", "MarginConfig",
        "PlanConfig", "RiskConfig", "SlippageConfig", "VenueConfig", "LIVE_ENDPOINTS", "LIVE_OPT_IN_PHRASE",
        "SweepConfig", "ExecutionConfig", "ExecutionOverride",
    },
    "execlab.testing": {"AlpacaVenue", "AlpacaFaults", "IBVenue", "IBFaults", "BinanceVenue", "OkxVenue", "OandaVenue"},
}

#: Names that were at the top before the namespaces: still importable (old code and notebooks keep working).
MOVED = {"DEFAULT_INSTRUMENTS", "LIVE_ENDPOINTS", "TRANSITIONS", "AccountSnapshot", "BacktestExecutor", "BrokerAdapter",
         "BrokerConfig", "BrokerExecutor", "BrokerOrder", "BrokerRejectedError", "BrokerUnavailableError",
         "CostEstimate", "DataConfig", "FeeConfig", "FeedEvent", "Fill", "FillBatch", "Instrument", "InstrumentTable",
         "MarginConfig", "Order", "OrderBatch", "OrderBook", "OrderEvents", "OrderExecutor", "OrderStatus",
         "OrderType", "PaperExecutor", "PlanConfig", "PlanReason", "PlanSettings", "Position", "PriceFeed",
         "RiskConfig", "RiskEngine", "RiskReason", "Side", "SimulatedVenue", "SlippageConfig", "TimeInForce",
         "VenueConfig", "allowed_transition", "client_order_id", "make_executor", "normalise_symbol",
         "order_json_schema", "plan_orders", "read_symbol_values", "symbol_values",
         # exported at the top by main before the namespaces landed
         "Balance", "BrokerFill", "BrokerSpec", "Capability", "SweepConfig", "register_broker",
         "registered_brokers"}


def test_all_is_exactly_the_public_set() -> None:
    assert len(execlab.__all__) == len(set(execlab.__all__)), "duplicates in __all__"
    assert set(execlab.__all__) - PUBLIC == set(), "added to __all__ without updating this test"
    assert PUBLIC - set(execlab.__all__) == set(), "removed from __all__"
    assert 40 <= len(PUBLIC) <= 50


def test_a_name_has_one_namespace() -> None:
    """So its ``__module__`` (its home) does not depend on which namespace was used first."""
    seen: dict[str, str] = {}
    for module, names in NAMESPACES.items():
        for name in names - PUBLIC:
            assert name not in seen, (name, seen.get(name), module)
            seen[name] = module


@pytest.mark.parametrize("module", sorted(NAMESPACES))
def test_namespaces_export_exactly_their_names(module: str) -> None:
    mod = importlib.import_module(module)
    assert set(mod.__all__) == NAMESPACES[module]
    for name in mod.__all__:
        namespace: dict[str, object] = {}
        exec(f"from {module} import {name}", namespace)
        assert namespace[name] is getattr(mod, name)
        if name in PUBLIC:
            assert getattr(mod, name) is getattr(execlab, name), name  # one object, two ways in


def test_every_broker_error_is_in_execlab_brokers() -> None:
    """Every exception class the broker machinery defines is exported where users look for it."""
    import execlab._brokers.errors as broker_errors
    import execlab.brokers

    errors = {name for name, obj in vars(broker_errors).items()
              if isinstance(obj, type) and issubclass(obj, Exception)
              and obj.__module__ in (broker_errors.__name__, "execlab.brokers", "execlab")}
    assert errors and errors <= set(execlab.brokers.__all__)
    assert issubclass(execlab.brokers.BrokerRateLimitedError, execlab.BrokerError)


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_name_is_importable(name: str) -> None:
    obj = getattr(execlab, name)
    assert obj is not None
    namespace: dict[str, object] = {}
    exec(f"from execlab import {name}", namespace)
    assert namespace[name] is obj


@pytest.mark.parametrize("name", sorted(MOVED))
def test_moved_names_stay_importable_from_the_top(name: str) -> None:
    homes = [m for m, names in NAMESPACES.items() if name in names]
    assert homes, f"{name} has no namespace"
    obj = getattr(importlib.import_module(homes[0]), name)
    assert getattr(execlab, name) is obj
    assert name not in execlab.__all__


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from execlab import *", namespace)
    assert set(namespace) - {"__builtins__"} == PUBLIC


def _home(module: str, name: str) -> str:
    return "execlab" if name in PUBLIC else module


def test_module_is_the_public_home() -> None:
    """Reprs and docs show ``execlab.BacktestResult``, ``execlab.brokers.BrokerRateLimitedError``; pydantic models
    keep their defining module (pydantic resolves their annotations there)."""
    for module, names in {"execlab": PUBLIC, **NAMESPACES}.items():
        mod = importlib.import_module(module)
        for name in names:
            obj = getattr(mod, name)
            if not (inspect.isclass(obj) or isinstance(obj, types.FunctionType)):
                continue
            if inspect.isclass(obj) and any(b.__module__.startswith("pydantic") for b in obj.__mro__[1:]):
                assert obj.__module__.startswith("execlab._"), name
                continue
            if obj.__module__.startswith("execlab.venues"):  # a public subpackage already
                continue
            assert obj.__module__ == _home(module, name), (module, name, obj.__module__)
            assert obj.__doc__, f"{name} has no docstring"
    assert repr(execlab.BacktestResult) == "<class 'execlab.BacktestResult'>"


def _unexpected_public_names() -> list[str]:
    out = []
    for name, obj in vars(execlab).items():
        if name.startswith("_") or name in PUBLIC:
            continue
        if isinstance(obj, types.ModuleType) and obj.__name__ == f"execlab.{name}":
            continue  # a public subpackage or namespace, e.g. execlab.strategies
        out.append(name)
    return out


def test_no_other_public_module_level_names() -> None:
    for name in MOVED:
        getattr(execlab, name)  # a moved name is resolved, not cached on the module
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
    assert set(public_modules) == {"adapters", "dashboard", "strategies", "venues", "brokers", "sim", "oms",
                                   "config", "testing"}, public_modules
