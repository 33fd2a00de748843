"""One session builder for every mode (issue 10, item 2): every driver wires its pipeline with ``build_session``."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

import execlab as xl
from execlab._brokers.executor import BrokerExecutor
from execlab._brokers.sim_adapter import SimAdapter
from execlab._execution.backtest_executor import BacktestExecutor
from execlab._execution.session import build_session, journal_history
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance

RUNS = Path(xl.__file__).resolve().parent / "_runs"


def test_every_driver_builds_its_pipeline_with_the_session_builder() -> None:
    for name in ("backtest.py", "paper.py", "live.py"):
        tree = ast.parse((RUNS / name).read_text())
        called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert "build_session" in called, name
        assert not called & {"Rebalancer", "RiskEngine", "OrderBook", "BacktestExecutor", "PaperExecutor"}, name


def test_build_session_wires_the_executor_the_config_names() -> None:
    bars = pd.DataFrame({"timestamp": pd.date_range("2024-01-02", periods=3), "symbol": "AAA", "close": 10.0,
                         "volume": 1e6})
    session = build_session(xl.Config(), ("AAA",), market=xl.MarketData.from_bars(bars))
    assert isinstance(session.executor, BacktestExecutor)
    assert session.rebalancer.executor is session.executor and session.rebalancer.book is session.book
    assert session.rebalancer.risk is session.risk and session.symbols == ("AAA",)


def test_journal_history_counts_the_days_orders_and_the_working_ones(tmp_path: Path) -> None:
    config = xl.Config.from_mapping({"mode": "paper", "run_id": "h", "broker": {"name": "sim"}})
    journal = Journal(tmp_path / "j.sqlite")
    adapter = SimAdapter(config.venue, config.initial_cash)
    prices = {"AAA": 10.0, "BBB": 20.0}
    adapter.set_market(prices)
    run_live_rebalance({"AAA": 10, "BBB": 5}, prices, config, BrokerExecutor(adapter, journal, "h", (), stream=False),
                       journal, "2024-01-02", timeout=5)
    same_day = journal_history(journal, "h", "2024-01-02T15:00", pd.Timestamp("2024-01-02T15:00"))
    next_day = journal_history(journal, "h", "2024-01-03", pd.Timestamp("2024-01-03"))
    assert (same_day.orders_today, next_day.orders_today) == (2, 0)
    assert same_day.working.empty and same_day.day == pd.Timestamp("2024-01-02").toordinal()
