"""Paper runs on the local simulated venue: :func:`run_paper` steps a :class:`PaperExecutor` with a price feed and
rebalances through the backtest's plan → risk → OMS → executor steps; :class:`PaperResult` holds its tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from execlab._config import Config, ConfigError
from execlab._core.arrays import FloatArray, IntArray
from execlab._core.ids import rebalance_key
from execlab._core.instruments import InstrumentTable
from execlab._data.bars import MarketData
from execlab._data.feeds import FeedError, FeedEvent, PriceFeed, ReplayFeed
from execlab._data.gaps import check_event_open, check_rebalance_prices, open_use
from execlab._data.targets import TargetError, check_unit, checked_target_values
from execlab._execution.algo_worker import AlgoWorker, uses_algorithms
from execlab._execution.paper_executor import PaperExecutor
from execlab._execution.rebalancer import RebalanceContext, Rebalancer
from execlab._execution.session import build_session
from execlab._oms.book import BookJournal, OrderBook
from execlab._oms.journal import Journal
from execlab._runs.backtest import BacktestResult, _converts, _QuoteBalance
from execlab._runs.home_currency import LatestRates
from execlab._sim import margin
from execlab._sim.valuation import home_cash

__all__ = ["PaperResult", "run_paper"]


# -- the loop -------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Targets:
    times: pd.DatetimeIndex
    values: FloatArray
    symbols: tuple[str, ...]


def _paper_targets(targets: Any, config: Config, instruments: InstrumentTable | None) -> _Targets:
    """The checks of the backtest's target alignment that need no bars (those run at each rebalance)."""
    frame, index, values = checked_target_values(targets)
    if len(index) == 0 or frame.shape[1] == 0:
        raise TargetError("targets: no rebalance rows or no symbols")
    if not config.plan.allow_short and (values < 0).any():
        r, c = np.argwhere(values < 0)[0]
        raise TargetError(f"targets: negative target for symbol {frame.columns[c]!r} at {index[r]} but "
                          f"plan.allow_short is false ({int((values < 0).sum())} such values)")
    leverage = margin.leverage(config.venue.margin)
    check_unit(frame, values, config.plan.target_unit, leverage, instruments)
    return _Targets(index, np.ascontiguousarray(values), tuple(frame.columns))


def run_paper(
    targets: Any,
    feed: Any,
    config: Config | None = None,
    journal: Journal | None = None,
    instruments: InstrumentTable | None = None,
) -> PaperResult:
    """Trade target positions on the local simulated venue as ``feed`` delivers prices: ``mode: paper``, ``broker:
    sim``.

    ``targets`` are what :func:`execlab.run_backtest` takes. ``feed`` is a :class:`PriceFeed`
    (:class:`execlab.ReplayFeed`, :class:`execlab.QueueFeed`) or a long table of bars, replayed as fast as possible.
    Each target row is traded at the first event at or after its time (a row overtaken by a later one before any
    event arrives is skipped); its orders' client order ids come from the row's time, so on bars whose timestamps
    are the target times they equal the backtest's. With a ``journal``, intents, requests (with arrival prices),
    state changes and fills are journaled as they happen.
    """
    cfg = config or Config(mode="paper")
    if cfg.mode != "paper":
        raise ConfigError(f"mode: run_paper needs mode 'paper', the config says {cfg.mode!r}")
    if cfg.broker.name != "sim":
        raise ConfigError(f"broker.name: run_paper trades on the local simulated venue 'sim'; for "
                          f"{cfg.broker.name!r} use make_executor or the rebalance command (the broker's own paper "
                          f"account)")
    source = _as_feed(feed)
    tg = _paper_targets(targets, cfg, instruments)
    known = source.symbols
    if known is not None:
        missing = [s for s in tg.symbols if s not in set(known)]
        if missing:
            raise TargetError(f"targets: no prices in the feed for symbols {missing[:10]}"
                              f"{' …' if len(missing) > 10 else ''}")
    keys: dict[int, str] = {}
    if journal is not None:
        journal.record_run(cfg.run_id, cfg.mode, cfg.broker.name, cfg.strategy_id, cfg.currency)
    clock: list[pd.Timestamp] = []

    def key_of(step: int) -> str:
        """A rebalance's key; a child order sent at a later step is keyed by that step's time."""
        return keys[step] if step in keys else rebalance_key(clock[-1])

    journaled = None if journal is None else BookJournal(journal, cfg.run_id, tg.symbols, key_of)
    session = build_session(cfg, tg.symbols, journal=journal, instruments=instruments, book_journal=journaled)
    executor, book, rebalancer = session.executor, session.book, session.rebalancer
    if not isinstance(executor, PaperExecutor):
        raise TypeError(f"run_paper: the config chose {type(executor).__name__}, not the paper executor")
    worker = None
    if uses_algorithms(cfg.execution):
        worker = AlgoWorker(cfg.execution, rebalancer, instruments, run_id=cfg.run_id, journal=journal)
    loop = _Loop(executor, rebalancer, tg, keys, cfg, worker, clock)
    for event in source:
        loop.step(event)
    rebalancer.sync()
    return loop.result(book, journal)


def _as_feed(feed: Any) -> PriceFeed:
    if isinstance(feed, pd.DataFrame | MarketData) or hasattr(feed, "to_pandas"):
        return ReplayFeed.from_bars(feed)
    if isinstance(feed, PriceFeed):
        return feed
    raise FeedError(f"feed: expected a price feed (ReplayFeed, QueueFeed ...) or a table of bars, got "
                    f"{type(feed).__name__}")


class _Loop:
    """One pass over the feed: step the executor, rebalance when a target row is due, record the account."""

    def __init__(self, executor: PaperExecutor, rebalancer: Rebalancer, targets: _Targets, keys: dict[int, str],
                 config: Config, worker: AlgoWorker | None = None, clock: list[pd.Timestamp] | None = None):
        self.executor, self.rebalancer, self.targets, self.keys, self.config = (executor, rebalancer, targets, keys,
                                                                                 config)
        self.worker = worker
        self.clock = clock if clock is not None else []
        self.next_row = 0
        self.times: list[pd.Timestamp] = []
        self.positions: list[FloatArray] = []
        self.cash: list[float] = []
        self.bars: dict[str, list[FloatArray]] = {k: [] for k in ("open", "high", "low", "close", "volume")}
        self.rebalance_bars: list[int] = []
        self.skipped: list[pd.Timestamp] = []
        self.day_start_equity = config.initial_cash
        self.last_marks = executor.marks.copy()
        self._checked_tz = False
        self._open_use = open_use(config)
        self.universe = np.array(targets.symbols, dtype=object)
        # pairs quoted in another currency than the home one: money in the home currency at the feed's latest rates
        converts = _converts(tuple(targets.symbols), config.currency.upper())
        self.quotes = _QuoteBalance(rebalancer, len(targets.symbols)) if converts else None
        self.latest = LatestRates(targets.symbols, config.currency) if converts else None
        self.rate_now: FloatArray | None = None
        self.rates: list[FloatArray] = []

    def step(self, event: FeedEvent) -> None:
        ex = self.executor
        last_day = ex.day if ex.step >= 0 else None
        gap = event.open_from_close
        if self.rebalance_bars and self._open_use is not None and gap is not None and gap.any():
            # the open may price a fill of the universe's orders: the data-gap policy decides, as in the backtest
            ours = gap & np.isin(np.array(event.symbols, dtype=object), self.universe)
            check_event_open(self.config.data.gaps, event.symbols, event.timestamp, ours, self._open_use)
        if self.quotes is not None:  # the fills through the previous event
            self.quotes.count()
        ex.on_event(event)
        i = ex.step
        ts = event.timestamp
        if last_day is not None and ex.day != last_day:  # a day starts from the previous event's closing equity
            was = self.positions[-1] != 0.0
            marks = self.last_marks
            if self.quotes is not None:
                rate = self.rates[-1]
                self.day_start_equity = (home_cash(self.cash[-1], self.quotes.balance, rate)
                                         + float(self.positions[-1][was] @ (marks[was] * rate[was])))
            else:
                self.day_start_equity = self.cash[-1] + float(self.positions[-1][was] @ marks[was])
        if self.latest is not None:
            self.rate_now = self.latest.update(dict(zip(event.symbols, event.close.tolist(), strict=True)))
        self.clock.append(ts)
        worker = self.worker
        if worker is not None:
            worker.observe(i, ts, ex.marks, ex.last_bar.get("volume", np.zeros(len(ex.symbols))))
        row = self._due(ts)
        if row is not None:
            self._rebalance(row, i, ts)
        if worker is not None and worker.active:
            worker.on_step(ex.bid, ex.ask, day=ex.day, day_start_equity=self.day_start_equity,
                           adv=ex.adv if self.config.risk.max_adv_pct is not None else None)
        self.times.append(ts)
        if self.rate_now is not None:
            self.rates.append(self.rate_now)
        self.positions.append(ex.positions().copy())
        self.cash.append(ex.cash())
        self.last_marks = ex.marks.copy()
        for k, v in ex.last_bar.items():
            self.bars[k].append(v)

    def _due(self, ts: pd.Timestamp) -> int | None:
        times = self.targets.times
        if not self._checked_tz:
            self._checked_tz = True
            if (times.tz is None) != (ts.tz is None):
                raise TargetError(f"targets: rebalance times are {'naive' if times.tz is None else 'time-zone aware'}"
                                  f" but the feed's are {'naive' if ts.tz is None else 'in ' + str(ts.tz)}; "
                                  f"give both in the same form")
        row = None
        while self.next_row < len(times) and times[self.next_row] <= ts:
            if row is not None:
                self.skipped.append(times[row])
            row = self.next_row
            self.next_row += 1
        return row

    def _rebalance(self, row: int, i: int, ts: pd.Timestamp) -> None:
        ex, tg = self.executor, self.targets
        target = tg.values[row]
        price = ex.marks
        no_price = (target != 0) & np.isnan(price)
        if no_price.any():
            k = int(np.flatnonzero(no_price)[0])
            raise TargetError(f"targets: symbol {tg.symbols[k]!r} has a target at {tg.times[row]} but the feed has "
                              f"given no price for it by {ts} ({int(no_price.sum())} such values)")
        if not ex.tradable.all():  # priced before but not in this event: the data-gap policy decides, as in a backtest
            check_rebalance_prices(self.config.data.gaps, tg.symbols, ts, ex.tradable, target, ex.positions())
        when = tg.times[row]
        # as the backtest writes it: in the feed's time zone
        self.keys[i] = rebalance_key(when if when.tz is None or ts.tz is None else when.tz_convert(ts.tz))
        adv = ex.adv if self.config.risk.max_adv_pct is not None else None
        cash, equity, rate = ex.cash(), ex.equity(), self.rate_now
        if self.quotes is not None and rate is not None:  # money in the home currency
            self.quotes.count()
            cash = home_cash(cash, self.quotes.balance, rate)
            held = ex.positions()
            was = held != 0.0
            equity = cash + float(held[was] @ (price[was] * rate[was]))
        ctx = RebalanceContext(i, price.copy(), ex.tradable.copy(), ex.day, self.day_start_equity, adv,
                               ts.to_pydatetime(), None if rate is None else rate.copy())
        self.rebalancer.rebalance(target, ctx, cash, equity)
        self.rebalance_bars.append(i)

    def result(self, book: OrderBook, journal: Journal | None) -> PaperResult:
        n = len(self.targets.symbols)
        if not self.times:
            raise FeedError("feed: no events arrived; nothing was traded")

        def stack(rows: list[FloatArray]) -> FloatArray:
            return np.array(rows, dtype=np.float64).reshape(len(rows), n)

        index = pd.DatetimeIndex(self.times, name="timestamp")
        b = {k: stack(v) for k, v in self.bars.items()}
        market = MarketData(index, self.targets.symbols, b["open"], b["high"], b["low"], b["close"], b["volume"])
        return PaperResult(self.config, market, book, stack(self.positions), np.array(self.cash),
                           np.array(self.rebalance_bars, dtype=np.int64), self.executor, self.keys, journal,
                           self.skipped, self.worker, np.array(self.rates) if self.rates else None)


class PaperResult(BacktestResult):
    """A paper run's orders, fills, positions, cash and equity per feed event: :class:`BacktestResult`'s tables
    (its ``timestamps`` are the events'), plus each order's ``arrival_price``, the executor and the journal."""

    def __init__(self, config: Config, market: MarketData, book: OrderBook, positions: FloatArray, cash: FloatArray,
                 rebalance_bars: IntArray, executor: PaperExecutor, keys: dict[int, str], journal: Journal | None,
                 skipped: Sequence[pd.Timestamp] = (), algo_worker: AlgoWorker | None = None,
                 rate: FloatArray | None = None):
        super().__init__(config, market, book, positions, cash, rebalance_bars, algo_worker, rate)
        self.executor = executor
        self.journal = journal
        self.skipped_rebalances = list(skipped)
        """Target rows overtaken by a later row before an event arrived (never traded)."""
        self._keys = keys

    def _rebalance_keys(self, bars: IntArray) -> Sequence[str]:
        if not self.book.children:
            return [self._keys[b] for b in bars.tolist()]
        times = self.timestamps
        return [self._keys[b] if b in self._keys else rebalance_key(times[b]) for b in bars.tolist()]

    def _order_columns(self) -> dict[str, Any]:
        cols = super()._order_columns()
        arrival = np.array([self.executor.arrival_price(o) for o in range(len(self.book))], dtype=np.float64)
        out: dict[str, Any] = {}
        for key, value in cols.items():
            out[key] = value
            if key == "decision_price":
                out["arrival_price"] = arrival
        return out

    def __repr__(self) -> str:
        return super().__repr__().replace("BacktestResult(", "PaperResult(", 1)
