"""The backtest: a loop over bars that runs the shared pipeline at each rebalance time."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property, lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from execlab._config import Config
from execlab._core.arrays import FloatArray
from execlab._core.codes import (
    DENIED,
    FILLED,
    PARTIALLY_FILLED,
    PENDING,
    STATUS_NAMES,
    SUBMITTED,
    TIF_NAMES,
    TYPE_NAMES,
    VenueReason,
)
from execlab._core.ids import client_order_ids
from execlab._core.instruments import InstrumentTable
from execlab._data.bars import MarketData
from execlab._data.gaps import check_open_gaps, check_rebalance_prices, open_use
from execlab._data.targets import TargetMatrix, align_targets
from execlab._execution.algo_worker import AlgoWorker, uses_algorithms
from execlab._execution.backtest_executor import BacktestExecutor
from execlab._execution.compiled_backtest import compiled_inputs, run_compiled
from execlab._execution.rebalancer import RebalanceContext, Rebalancer
from execlab._execution.session import build_session
from execlab._oms.book import OrderBook
from execlab._risk.engine import RiskReason
from execlab._runs.home_currency import HomeConversion, bar_rates, fx_quote, home_conversion
from execlab._runs.performance import TearSheet, headline_figures, tear_sheet
from execlab._sim import SimulatedVenue, margin
from execlab._sim.costs import CostModel
from execlab._sim.estimators import ADV_RISK_WINDOW, adv_before
from execlab._sim.valuation import add_quote_flows, held_value, home_cash

__all__ = ["BacktestResult", "compiled_arguments", "run_backtest"]

_WORKING = ("pending", "submitted", "partially_filled")
_WORKING_CODES = (PENDING, SUBMITTED, PARTIALLY_FILLED)
Engine = Literal["auto", "compiled", "steps"]


def run_backtest(
    targets: Any,
    bars: Any,
    config: Config | None = None,
    instruments: InstrumentTable | None = None,
    *,
    engine: Engine = "auto",
) -> BacktestResult:
    """Run target positions (a time-indexed frame) against historical bars through plan → risk → OMS → executor.

    ``targets``: pandas or polars, wide (rebalance times × symbols) or long (time, symbol, value), in the unit
    of ``config.plan.target_unit``. ``bars``: a long OHLCV table or a :class:`MarketData`.

    Data gaps follow ``config.data.gaps`` (see :mod:`execlab._data.gaps`): a symbol with a target or a position
    but no close at a rebalance time, or a bar with a close but no open when the venue fills or triggers at the
    open, raise :class:`~execlab.DataGapError` (``error``, the default) or warn with
    :class:`~execlab.DataGapWarning` (``warn``: the symbol is held, the open taken from the close). Orders still
    working when the data ends are in :attr:`BacktestResult.working_at_end`.

    ``engine``: ``auto`` runs the whole bar loop compiled (the built-in plan, risk, order book and simulated venue,
    the same kernels without Python between them) and goes step by step when a rebalance meets a data gap (the
    data-gap policy runs per step); ``compiled`` insists on the compiled loop (``ValueError`` at a data gap);
    ``steps`` runs plan → risk → OMS → executor step by step, as paper and live do. Both give the same orders,
    fills, positions and cash. With an execution algorithm (``execution.algo`` other than ``none``) the run goes
    step by step: each rebalance's orders become parents worked by child orders bar by bar
    (:attr:`BacktestResult.parents`).
    """
    cfg = config or Config()
    if cfg.mode != "backtest":
        raise ValueError(f"mode: run_backtest needs mode 'backtest', the config says {cfg.mode!r}")
    table = instruments if instruments is not None else InstrumentTable()
    all_bars = bars if isinstance(bars, MarketData) else MarketData.from_bars(bars)
    allow_short = cfg.plan.allow_short
    leverage = margin.leverage(cfg.venue.margin)
    tm = align_targets(targets, all_bars, cfg.plan.target_unit, allow_short, leverage, table)
    return run_aligned(tm, all_bars, cfg, table, engine)


def run_aligned(tm: TargetMatrix, all_bars: MarketData, cfg: Config, table: InstrumentTable,
                engine: Engine = "auto") -> BacktestResult:
    """:func:`run_backtest` on targets already aligned to the bars (a sweep aligns each target frame once)."""
    market, rate, args = compiled_arguments(tm, all_bars, cfg, table, engine)
    if args is not None:
        run = run_compiled(*args)
        if run is not None:
            return BacktestResult(cfg, market, run.book, run.positions, run.cash, tm.bars, rate=rate)
        if engine == "compiled":
            raise ValueError("engine: the compiled loop cannot run this backtest: a rebalance meets a data gap (a "
                             "symbol without a price has a target or a position), which the per-step path's "
                             "data-gap policy handles; use engine='auto' or 'steps'")
    return _run_steps(tm, market, cfg, table, rate)


def compiled_arguments(tm: TargetMatrix, all_bars: MarketData, cfg: Config, table: InstrumentTable,
                       engine: Engine = "auto") -> tuple[MarketData, FloatArray | None, tuple[Any, ...] | None]:
    """The market a run of ``tm`` trades, its home-currency rates (``None``: nothing to convert) and the arguments
    of :func:`run_compiled` for it, or ``None`` when it runs step by step (``engine='steps'``, execution
    algorithms); raises what :func:`run_backtest` raises before its loop (a bad mode, a data gap at the open under
    ``error``)."""
    if cfg.mode != "backtest":
        raise ValueError(f"mode: run_backtest needs mode 'backtest', the config says {cfg.mode!r}")
    market = all_bars if tm.symbols == all_bars.symbols else all_bars.select(tm.symbols)
    n_t = market.close.shape[0]
    inputs = compiled_inputs(market)  # the market's arrays, resolved once per market
    adv = None
    if cfg.risk.max_adv_pct is not None:  # volume known before each bar
        adv = adv_before(market.volume, ADV_RISK_WINDOW)
    start = int(tm.bars[0]) if tm.bars.size else n_t
    why = open_use(cfg)
    if why is not None:
        check_open_gaps(cfg.data.gaps, market.symbols, market.timestamps, market.open_from_close, start + 1, why)
    algos = uses_algorithms(cfg.execution)
    if algos and engine == "compiled":
        raise ValueError("engine: the compiled loop sends each rebalance's orders at once; execution algorithms "
                         "(execution.algo) run on the per-step path: use engine='auto' or 'steps'")
    rate = _rates(market, all_bars, cfg.currency)
    if engine == "steps" or algos:
        return market, rate, None
    gap_rows: npt.NDArray[np.bool_] = _gap_bars(market, inputs.tradable)[tm.bars]
    restricted = (np.isin(np.asarray(tm.symbols, dtype=object), list(cfg.risk.restricted)) if cfg.risk.restricted
                  else np.zeros(len(tm.symbols), dtype=np.bool_))
    return market, rate, (inputs, cfg, CostModel.from_config(cfg.venue, market), tm.values, tm.bars, start,
                          table.arrays(tm.symbols), restricted, adv, gap_rows, rate)


def _gap_bars(market: MarketData, tradable: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Per bar, whether some symbol has no price (found once per market, kept beside its other cached arrays)."""
    cached: npt.NDArray[np.bool_] | None = market.__dict__.get("_gap_bars")
    if cached is None:
        cached = market.__dict__["_gap_bars"] = np.asarray(~tradable.all(axis=1), dtype=np.bool_)
    return cached


def _run_steps(tm: TargetMatrix, market: MarketData, cfg: Config, table: InstrumentTable,
               rate: FloatArray | None) -> BacktestResult:
    """The run step by step: plan → risk → OMS → executor at each rebalance, as paper and live run."""
    n_t = market.close.shape[0]
    tradable = compiled_inputs(market).tradable
    adv = None
    if cfg.risk.max_adv_pct is not None:
        adv = adv_before(market.volume, ADV_RISK_WINDOW)
    start = int(tm.bars[0]) if tm.bars.size else n_t
    policy = cfg.data.gaps
    gap_rows = _gap_bars(market, tradable)[tm.bars]
    algos = uses_algorithms(cfg.execution)
    session = build_session(cfg, tm.symbols, market=market, instruments=table,
                            capacity=min(max(1024, tm.values.size), 4_000_000))
    executor, book, rebalancer = session.executor, session.book, session.rebalancer
    if not isinstance(executor, BacktestExecutor):
        raise TypeError(f"run_backtest: the config chose {type(executor).__name__}, not the backtest executor")
    n_s = market.close.shape[1]
    positions = np.zeros((n_t, n_s))
    cash = np.zeros(n_t)
    venue = executor.venue
    marks = venue.mark_prices_all()
    days = venue.trading_days
    rebalance_at = np.full(n_t, -1, dtype=np.int64)
    rebalance_at[tm.bars] = np.arange(tm.bars.size)
    cash[:start] = cfg.initial_cash
    worker = None
    if algos:
        worker = AlgoWorker(cfg.execution, rebalancer, table, run_id=cfg.run_id)
        for i in range(start):  # the history before the first rebalance (VWAP profiles)
            worker.observe(i, market.timestamps[i], marks[i], market.volume[i])

    def on_gap(r: int, i: int) -> None:
        check_rebalance_prices(policy, market.symbols, market.timestamps[i], tradable[i], tm.values[r],
                               venue.position)

    with _no_cyclic_gc():
        _loop(start, n_t, executor, rebalancer, venue, tm.values, rebalance_at, marks, tradable, days, adv,
              positions, cash, market.timestamps, cfg.initial_cash, gap_rows, on_gap, worker, rate)
    rebalancer.sync()
    return BacktestResult(cfg, market, book, positions, cash, tm.bars, worker, rate)


def _rates(market: MarketData, all_bars: MarketData, home: str) -> FloatArray | None:
    """Per bar and symbol of ``market``, the home-currency value of one unit of its price currency (None unless a
    pair is quoted in another currency), converted through every pair of the bars (``GBP/USD`` converts an
    ``EUR/GBP`` target even when GBP/USD itself has none)."""
    if not _converts(tuple(market.symbols), home.upper()):
        return None
    if market is all_bars:
        return bar_rates(market.symbols, market.last_close(), home)
    full = bar_rates(all_bars.symbols, all_bars.last_close(), home)
    if full is None:
        return None
    index = {s: i for i, s in enumerate(all_bars.symbols)}
    return np.ascontiguousarray(full[:, [index[s] for s in market.symbols]])


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The loop makes no reference cycles; a full collection of a large heap in the middle only costs time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _loop(start: int, n_t: int, executor: BacktestExecutor, rebalancer: Rebalancer, venue: SimulatedVenue,
          targets: FloatArray, rebalance_at: npt.NDArray[np.int64], marks: FloatArray,
          tradable: npt.NDArray[np.bool_], days: npt.NDArray[np.int64], adv: FloatArray | None,
          positions: FloatArray, cash: FloatArray, timestamps: pd.DatetimeIndex, initial_cash: float,
          gap_rows: npt.NDArray[np.bool_], on_gap: Callable[[int, int], None],
          worker: AlgoWorker | None = None, rate: FloatArray | None = None) -> None:
    day_start_equity = initial_cash
    m = executor.market
    quotes = _QuoteBalance(rebalancer, marks.shape[1]) if rate is not None else None
    for i in range(start, n_t):
        if quotes is not None:  # the fills through bar i - 1
            quotes.count()
        executor.on_bar(i)
        if i > start and days[i] != days[i - 1]:  # a day starts from the previous day's closing equity
            if quotes is not None and rate is not None:
                day_start_equity = (home_cash(cash[i - 1], quotes.balance, rate[i - 1])
                                    + held_value(positions[i - 1], marks[i - 1] * rate[i - 1]))
            else:
                day_start_equity = cash[i - 1] + held_value(positions[i - 1], marks[i - 1])
        if worker is not None:
            worker.observe(i, timestamps[i], marks[i], m.volume[i])
        r = rebalance_at[i]
        if r >= 0:
            if gap_rows[r]:  # some symbol has no price now: the data-gap policy decides
                on_gap(int(r), i)
            c = venue.cash
            equity = c + held_value(venue.position, marks[i])
            rate_i = None
            if quotes is not None and rate is not None:  # money in the home currency
                quotes.count()
                rate_i = rate[i]
                c = home_cash(venue.cash, quotes.balance, rate_i)
                equity = c + held_value(venue.position, marks[i] * rate_i)
            ctx = RebalanceContext(i, marks[i], tradable[i], int(days[i]), day_start_equity,
                                   None if adv is None else adv[i], timestamps[i], rate_i)
            rebalancer.rebalance(targets[r], ctx, c, equity)
        if worker is not None and worker.active:
            worker.on_step(None if m.bid is None else m.bid[i], None if m.ask is None else m.ask[i], day=int(days[i]),
                           day_start_equity=day_start_equity, adv=None if adv is None else adv[i])
        positions[i] = venue.position
        cash[i] = venue.cash


class _QuoteBalance:
    """Per symbol, the cash its fills moved in its price currency (the per-step loop's count of what the compiled
    loop adds up as it books fills)."""

    def __init__(self, rebalancer: Rebalancer, n_symbols: int) -> None:
        self._rebalancer = rebalancer
        self.balance = np.zeros(n_symbols)
        self._counted = 0

    def count(self) -> None:
        """Book what the executor reported and add the fills not counted yet."""
        self._rebalancer.sync()
        book = self._rebalancer.book
        f = book.fills()
        if len(f.oid) > self._counted:
            add_quote_flows(self.balance, book.column("symbol"), f.oid, f.quantity, f.price, f.fee, self._counted,
                            len(f.oid))
            self._counted = len(f.oid)


@lru_cache(maxsize=64)
def _converts(symbols: tuple[str, ...], home: str) -> bool:
    """Whether some of ``symbols`` is a currency pair quoted in another currency than ``home`` (remembered for the
    symbol sets seen last: repeated runs on one market ask it again)."""
    return not all(fx_quote(s) in (None, home) for s in symbols)


class BacktestResult:
    """Orders, fills, positions, cash, equity, turnover and costs of one backtest, as DataFrames.

    Money (equity, cash, turnover, costs, the summary and tear sheet) is in ``config.currency``: a currency pair
    quoted in another (``EUR/GBP``) has its positions, P&L, fees and cash converted at each bar's rates
    (:mod:`execlab._runs.home_currency`); orders and fills keep their prices in the pair's quote currency.
    """

    def __init__(self, config: Config, market: MarketData, book: OrderBook, positions: FloatArray,
                 cash: FloatArray, rebalance_bars: npt.NDArray[np.int64], algo_worker: AlgoWorker | None = None,
                 rate: FloatArray | None = None):
        self.config = config
        self.algo_worker = algo_worker
        """The execution algorithms' worker of the run (``None`` when every order was sent at once)."""
        self.market = market
        self.book = book
        self._positions = positions
        self._cash = cash
        self.rebalance_bars = rebalance_bars
        self._marks = market.last_close()  # cached by MarketData
        self._rate = rate

    @property
    def timestamps(self) -> pd.DatetimeIndex:
        """Bar timestamps."""
        return self.market.timestamps

    @cached_property
    def _home(self) -> HomeConversion | None:
        """The home-currency conversion of a run with pairs quoted in another currency (None: nothing to convert)."""
        rate = self._rate
        if rate is None and _converts(tuple(self.market.symbols), self.config.currency.upper()):
            rate = bar_rates(self.market.symbols, self._marks, self.config.currency)
        if rate is None:
            return None
        f = self.book.fills()
        return home_conversion(rate, self._cash, f.bar, self.book.column("symbol")[f.oid], f.quantity, f.price,
                               f.fee)

    def _held(self) -> FloatArray:
        """Positions times the last known close, in the home currency, per bar and symbol."""
        held = self._positions * self._marks
        return held if self._home is None else held * self._home.rate

    def _home_cash(self) -> FloatArray:
        return self._cash if self._home is None else self._home.cash

    def fill_rates(self) -> FloatArray | None:
        """Per fill, the home-currency value of one unit of its price currency at its bar (None: every symbol is
        priced in the home currency)."""
        return None if self._home is None else self._fill_rates()

    def _fill_rates(self) -> FloatArray:
        """Per fill, the home-currency value of one unit of its price currency (1.0 without conversion)."""
        f = self.book.fills()
        if self._home is None:
            return np.ones(len(f.oid))
        rates: FloatArray = self._home.rate[f.bar, self.book.column("symbol")[f.oid]]
        return rates

    @cached_property
    def equity(self) -> pd.Series:
        """Cash plus positions at the last known close, per bar (in the home currency)."""
        value = np.nansum(self._held(), axis=1) + self._home_cash()
        return pd.Series(value, index=self.timestamps, name="equity")

    @cached_property
    def cash(self) -> pd.Series:
        """Cash per bar (in the home currency: quote-currency balances at the bar's rates)."""
        return pd.Series(self._home_cash(), index=self.timestamps, name="cash")

    @cached_property
    def positions(self) -> pd.DataFrame:
        """Shares held per bar (timestamps × symbols)."""
        return pd.DataFrame(self._positions, index=self.timestamps, columns=list(self.market.symbols))

    @property
    def final_value(self) -> float:
        """Equity at the last bar."""
        if "equity" in self.__dict__ or self._cash.size == 0 or self._home is not None:
            return float(self.equity.iloc[-1])
        return float(np.nansum(self._positions[-1] * self._marks[-1]) + self._cash[-1])  # the same sum, one row

    @property
    def final_positions(self) -> pd.Series:
        """Shares held at the last bar, per symbol."""
        return self.positions.iloc[-1].rename("quantity")

    @cached_property
    def orders(self) -> pd.DataFrame:
        """Every order with its final state, fill quantity and price, fees and the reason it ended as it did."""
        return pd.DataFrame(self._order_columns(), index=pd.RangeIndex(len(self.book), name="oid"))

    def _rebalance_keys(self, bars: npt.NDArray[np.int64]) -> Sequence[str]:
        """The key of the rebalance each order came from (its client order id is made from it): the bar's time."""
        keys: list[str] = self.timestamps[bars].strftime("%Y-%m-%dT%H:%M:%S").tolist()
        return keys

    def _order_columns(self) -> dict[str, Any]:
        """The columns of :attr:`orders`, in order."""
        col = self.book.column
        bars = col("bar")
        syms = np.array(self.market.symbols, dtype=object)[col("symbol")]
        ts = self.timestamps[bars]
        qty = col("quantity")
        filled = np.abs(col("filled"))
        with np.errstate(invalid="ignore", divide="ignore"):
            avg = np.where(filled > 0, np.abs(col("fill_value")) / filled, np.nan)
        risk_reason = col("risk_reason")
        venue_reason = col("venue_reason")
        risk_names = np.array([r.name.lower() for r in RiskReason], dtype=object)
        venue_names = np.array([r.name.lower() for r in VenueReason], dtype=object)
        reason = np.where(risk_reason > 0, risk_names[risk_reason], venue_names[venue_reason])
        reason = np.where(reason == "none", "", reason)
        keys = self._rebalance_keys(bars)
        ids = client_order_ids(self.config.run_id, zip(keys, syms, col("leg").tolist(), strict=True))
        children = self.book.children
        for oid, (child_id, _, _) in children.items():
            ids[oid] = child_id
        algo_columns: dict[str, Any] = {} if not children else {
            "parent_id": [children[o][1] if o in children else None for o in range(len(ids))],
            "algo": [children[o][2] if o in children else None for o in range(len(ids))]}
        return {
            "client_order_id": ids,
            "timestamp": ts,
            "symbol": syms,
            "side": np.where(qty > 0, "buy", "sell"),
            "quantity": np.abs(qty),
            "order_type": TYPE_NAMES[col("order_type")],
            "time_in_force": TIF_NAMES[col("time_in_force")],
            "limit_price": col("limit_price"),
            "stop_price": col("stop_price"),
            "decision_price": col("decision_price"),
            "status": STATUS_NAMES[col("status")],
            "filled_quantity": filled,
            "avg_fill_price": avg,
            "fees": col("fees"),
            "reason": reason,
            "strategy_id": self.config.strategy_id,
            "run_id": self.config.run_id,
            **algo_columns,
        }

    @cached_property
    def parents(self) -> pd.DataFrame:
        """The parent orders execution algorithms worked (empty when none): one row each, with its children's fill
        totals; the children are the rows of :attr:`orders` whose ``parent_id`` names it."""
        return pd.DataFrame() if self.algo_worker is None else self.algo_worker.parents()

    @cached_property
    def algo_skips(self) -> pd.DataFrame:
        """Why execution algorithms held children back (participation cap, guards, cash, minimum, left at end)."""
        return pd.DataFrame() if self.algo_worker is None else self.algo_worker.skip_table()

    @cached_property
    def working_at_end(self) -> pd.DataFrame:
        """The orders still working (pending, submitted or partially filled) when the data ended: rows of
        :attr:`orders`, with ``remaining_quantity``. They were neither filled nor cancelled; a live account would
        still hold them."""
        orders = self.orders
        working = orders[orders["status"].isin(_WORKING)].copy()
        working["remaining_quantity"] = working["quantity"] - working["filled_quantity"]
        return working

    @cached_property
    def fills(self) -> pd.DataFrame:
        """Every execution: time, order, symbol, side, quantity, price, model price before slippage, fee."""
        f = self.book.fills()
        orders = self.orders
        slip = np.abs(f.price - f.reference_price) * np.abs(f.quantity)
        return pd.DataFrame({
            "timestamp": self.timestamps[f.bar],
            "client_order_id": orders["client_order_id"].to_numpy()[f.oid],
            "symbol": orders["symbol"].to_numpy()[f.oid],
            "side": np.where(f.quantity > 0, "buy", "sell"),
            "quantity": np.abs(f.quantity),
            "price": f.price,
            "reference_price": f.reference_price,
            "fee": f.fee,
            "slippage_cost": slip,
            "liquidity": np.where(f.maker, "maker", "taker"),
        })

    @cached_property
    def turnover(self) -> pd.Series:
        """Traded notional over equity, per bar."""
        f = self.book.fills()
        traded = np.bincount(f.bar, weights=np.abs(f.quantity * f.price) * self._fill_rates(),
                             minlength=len(self.timestamps))
        return pd.Series(traded / self.equity.to_numpy(), index=self.timestamps, name="turnover")

    @cached_property
    def costs(self) -> pd.Series:
        """Total cost by kind, in the home currency: fees and slippage (price moved against the order by the
        slippage model)."""
        f = self.book.fills()
        rates = self._fill_rates()
        slip = float(np.sum(np.abs(f.price - f.reference_price) * np.abs(f.quantity) * rates))
        return pd.Series({"fees": float(np.sum(f.fee * rates)), "slippage": slip}, name="cost")

    def tear_sheet(self, benchmark: pd.Series | str | None = None, *, periods_per_year: float | None = None,
                   risk_free: float = 0.0) -> TearSheet:
        """Performance from the first rebalance to the end: headline figures, drawdown and its dates, monthly
        returns, rolling Sharpe, exposure, and versus ``benchmark`` (its prices, or a symbol of the run) when given.

        ``periods_per_year`` defaults to what the bars' spacing says (252 for daily bars); ``risk_free`` is an
        annual rate. See :func:`execlab._runs.performance.tear_sheet` for each figure's definition.
        """
        first, equity, turnover, gross, net, traded, fees, slippage = self._measured()
        index = self.timestamps[first:]
        if isinstance(benchmark, str):
            if benchmark not in self.market.symbols:
                raise ValueError(f"benchmark: {benchmark!r} is not a symbol of this run; pass its prices instead")
            benchmark = pd.Series(self._marks[:, self.market.symbols.index(benchmark)], index=self.timestamps)
        return tear_sheet(pd.Series(equity, index=index, name="equity"),
                          turnover=pd.Series(turnover, index=index, name="turnover"),
                          gross=pd.Series(gross, index=index), net=pd.Series(net, index=index), traded=traded,
                          fees=fees, slippage=slippage, benchmark=benchmark, periods_per_year=periods_per_year,
                          risk_free=risk_free)

    def _equity_values(self) -> FloatArray:
        """:attr:`equity` as an array (the same sums, without building the Series unless it was built)."""
        values: FloatArray | None = self.__dict__.get("_equity_array")
        if values is None:
            if "equity" in self.__dict__ or self._home is not None:
                values = self.equity.to_numpy()
            else:
                values = np.nansum(self._positions * self._marks, axis=1) + self._cash
            self.__dict__["_equity_array"] = values
        return values

    def _measured(self) -> tuple[int, FloatArray, FloatArray, FloatArray, FloatArray, float, float, float]:
        """What the tear sheet measures, as arrays from the first rebalance on: (first bar, equity, turnover,
        gross and net exposure per bar, traded notional, fees, slippage)."""
        first = int(self.rebalance_bars[0]) if self.rebalance_bars.size else 0
        all_equity = self._equity_values()
        f = self.book.fills()
        notional = np.abs(f.quantity * f.price)
        if self._home is not None:
            notional = notional * self._fill_rates()
        traded_per_bar = np.bincount(f.bar, weights=notional, minlength=all_equity.size)
        equity = all_equity[first:]
        values = np.nan_to_num(self._held()[first:])
        gross = np.abs(values).sum(axis=1) / equity
        net = values.sum(axis=1) / equity
        if self._home is not None:
            fees, slippage = float(self.costs["fees"]), float(self.costs["slippage"])
        else:
            fees, slippage = float(f.fee.sum()), float(np.sum(np.abs(f.price - f.reference_price) * np.abs(f.quantity)))
        return (first, equity, traded_per_bar[first:] / equity, gross, net, float(np.sum(notional)), fees, slippage)

    def summary(self, benchmark: pd.Series | str | None = None, *, periods_per_year: float | None = None,
                risk_free: float = 0.0) -> dict[str, float]:
        """Headline figures: values, return, turnover, costs by kind, order and fill counts (with the orders still
        working when the data ended), then the tear sheet's (:meth:`tear_sheet`: CAGR, volatility, Sharpe,
        Sortino, max drawdown, Calmar, costs in bps, hit rate, exposure and, with ``benchmark``, beta, alpha,
        tracking error and information ratio)."""
        status = self.book.column("status")
        start = self.config.initial_cash
        f = self.book.fills()
        equity = self._equity_values()
        final = float(equity[-1])
        rates = self._fill_rates() if self._home is not None else 1.0
        traded = np.bincount(f.bar, weights=np.abs(f.quantity * f.price) * rates, minlength=equity.size)
        counts = np.bincount(status, minlength=len(STATUS_NAMES))
        if benchmark is None:  # the tear sheet's headline without building its series
            first, m_equity, turnover, gross, net, m_traded, fees, slippage = self._measured()
            headline = headline_figures(m_equity, self.timestamps[first:], turnover=turnover, gross=gross, net=net,
                                        traded=m_traded, fees=fees, slippage=slippage,
                                        periods_per_year=periods_per_year, risk_free=risk_free)
        else:
            headline = self.tear_sheet(benchmark, periods_per_year=periods_per_year, risk_free=risk_free).headline
        return {
            "initial_value": start,
            "final_value": final,
            "total_return": final / start - 1.0,
            "turnover": float((traded / equity).sum()),
            "fees": float(np.sum(f.fee * rates)),
            "slippage": float(np.sum(np.abs(f.price - f.reference_price) * np.abs(f.quantity) * rates)),
            "orders": float(len(self.book)),
            "orders_filled": float(counts[FILLED]),
            "orders_denied": float(counts[DENIED]),
            "orders_working_at_end": float(counts[list(_WORKING_CODES)].sum()),
            "fills": float(len(f.oid)),
            **headline,
        }

    def __repr__(self) -> str:
        s = self.summary()
        return (f"BacktestResult(final_value={s['final_value']:,.2f}, return={s['total_return']:.2%}, "
                f"orders={int(s['orders'])}, fees={s['fees']:,.2f}, slippage={s['slippage']:,.2f})")
