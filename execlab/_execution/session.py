"""The one session builder: config → executor → OMS book → risk engine → rebalancer, for every mode.

The backtest, the paper replay and the journaled (paper or live) rebalance all get their pipeline from
:func:`build_session`; what differs is only what the configuration chooses (the executor, through
:func:`execlab._execution.factory.make_executor`) and, for a run that keeps a journal, the state read back from it
(:func:`journal_history`: the orders earlier rebalances left working and the orders already sent that trading
day), so cancel-and-replan and the daily limits mean what they mean in the backtest. The inputs of each rebalance
pass the one gate (:mod:`execlab._plan.inputs`) in the driver before the session plans them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pandas as pd

from execlab._config import Config
from execlab._core.instruments import InstrumentArrays, InstrumentTable
from execlab._data.bars import MarketData
from execlab._execution.executor import OrderExecutor
from execlab._execution.factory import make_executor
from execlab._execution.rebalancer import Rebalancer
from execlab._oms.book import BookJournal, OrderBook
from execlab._oms.journal import Journal
from execlab._risk.engine import RiskEngine

__all__ = ["SessionHistory", "TradingSession", "build_session", "journal_history"]

_WORKING: Final = ("pending", "submitted", "partially_filled")
#: Marks a superseded rebalance's key (``as_of#2`` …).
GENERATION: Final = "#"


@dataclass(frozen=True, eq=False)
class SessionHistory:
    """What a journal says about a run before one of its rebalances."""

    day: int
    """The rebalance's trading day (a proleptic ordinal)."""
    orders_today: int
    """Orders the run sent (not denied) on that day by earlier rebalances."""
    working: pd.DataFrame
    """Journaled orders of earlier rebalances still working (the journal's order rows)."""


@dataclass(frozen=True, eq=False)
class TradingSession:
    """One run's pipeline, wired: the executor, the OMS book, the risk engine and the rebalancer over them."""

    config: Config
    symbols: tuple[str, ...]
    rules: InstrumentArrays
    executor: OrderExecutor
    book: OrderBook
    risk: RiskEngine
    rebalancer: Rebalancer


def build_session(config: Config, symbols: Sequence[str], *, executor: OrderExecutor | None = None,
                  market: MarketData | None = None, journal: Journal | None = None,
                  instruments: InstrumentTable | None = None, book_journal: BookJournal | None = None,
                  capacity: int = 1024, history: SessionHistory | None = None) -> TradingSession:
    """The pipeline ``config`` describes over the universe ``symbols``.

    ``executor``: one already made (a broker's, whose adapter the caller chose); by default the one the config
    names (:func:`make_executor`, given ``market`` for a backtest and ``journal`` for a journaling executor).
    ``book_journal`` makes the OMS book journal its intents and state changes; ``history`` (from
    :func:`journal_history`) carries the orders already sent on the rebalance's trading day into the daily count.
    """
    universe = tuple(symbols)
    table = instruments if instruments is not None else InstrumentTable()
    rules = table.arrays(universe)
    if executor is None:
        executor = make_executor(config, universe, market=market, journal=journal, instruments=table)
    book = OrderBook(capacity=capacity, journal=book_journal)
    risk = RiskEngine(config.risk, universe, config.plan.allow_short)
    rebalancer = Rebalancer(executor, book, risk, config.plan, rules)
    if history is not None:
        rebalancer.resume_day(history.day, history.orders_today)
    return TradingSession(config, universe, rules, executor, book, risk, rebalancer)


def journal_history(journal: Journal, run_id: str, key: str, when: pd.Timestamp) -> SessionHistory:
    """The run's state before its rebalance ``key`` at ``when``, rebuilt from the journal.

    A key that is a date or time says its day; another key's orders count on the day they were journaled.
    """
    orders = journal.orders(run_id)
    earlier = orders[orders["rebalance_key"] != key]
    working = earlier[earlier["status"].isin(_WORKING)]
    sent = earlier[earlier["risk_reason"] == ""]
    days = [(parsed_time(str(k).split(GENERATION)[0]) or pd.Timestamp(str(at))).date()
            for k, at in zip(sent["rebalance_key"], sent["created_at"], strict=True)]
    return SessionHistory(when.date().toordinal(), sum(d == when.date() for d in days), working)


def parsed_time(key: str) -> pd.Timestamp | None:
    """The time a rebalance key names, or None when it names none."""
    try:
        when = pd.Timestamp(key)
    except (ValueError, TypeError):
        return None
    return None if pd.isna(when) else when

