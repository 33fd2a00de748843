"""Performance of an equity curve: the tear sheet's figures (returns, risk, drawdown, costs, exposure, benchmark).

Conventions (those of empyrical and quantstats, so figures can be checked against them): simple returns per bar,
risk-free rate 0 unless given (an annual rate, compounded down to one bar), sample standard deviation (ddof 1),
annualised by the bars per year. The measured span starts at the first rebalance (the warm-up before it holds
cash and would only dilute the figures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd

__all__ = ["Drawdown", "TearSheet", "bars_per_year", "benchmark_levels", "headline_figures", "headline_rows",
           "tear_sheet"]

#: Bars in a year of daily trading sessions (the usual annualisation of daily returns).
TRADING_DAYS: Final = 252.0
#: The rolling Sharpe ratio's window, in bars (six months of daily bars).
ROLLING_WINDOW: Final = 126
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Drawdown:
    """The deepest fall of equity from a previous high: its depth (a negative fraction) and its dates."""

    depth: float
    peak: pd.Timestamp
    trough: pd.Timestamp
    recovery: pd.Timestamp | None
    """The first bar back at the peak's value; None while it has not recovered."""

    @property
    def days(self) -> int:
        """Calendar days from the peak to the recovery (to the last bar when it has not recovered)."""
        end = self.recovery if self.recovery is not None else self.trough
        return int((end - self.peak).days)


@dataclass(frozen=True)
class TearSheet:
    """The figures of one run over its measured span: headline numbers and the series behind the report."""

    headline: dict[str, float]
    """CAGR, volatility, Sharpe, Sortino, max drawdown, Calmar, turnover, costs in bps, hit rate, exposure and,
    with a benchmark, its return, beta, alpha, tracking error and information ratio (see :func:`tear_sheet`)."""
    drawdown: Drawdown
    returns: pd.Series
    """Simple returns per bar over the measured span."""
    drawdowns: pd.Series
    """Equity over its running maximum, minus 1, per bar."""
    monthly_returns: pd.DataFrame
    """Compounded returns by year (rows) and month (columns ``Jan`` .. ``Dec``), with the year's in ``Year``."""
    rolling_sharpe: pd.Series
    exposure: pd.DataFrame
    """``gross`` (sum of absolute position values) and ``net`` exposure over equity, per bar."""
    benchmark_returns: pd.Series | None = field(default=None)

    @property
    def start(self) -> pd.Timestamp:
        """The first bar of the measured span."""
        return pd.Timestamp(self.drawdowns.index[0])

    @property
    def end(self) -> pd.Timestamp:
        """The last bar of the measured span."""
        return pd.Timestamp(self.drawdowns.index[-1])


def bars_per_year(index: pd.DatetimeIndex) -> float:
    """Bars per year for annualising: 252 for daily bars, 52 weekly, 12 monthly; intraday, 252 × bars per day."""
    if len(index) < 2:
        return TRADING_DAYS
    days = float(np.median(np.diff(index.to_numpy()) / np.timedelta64(1, "D")))
    if days < 0.75:  # intraday: sessions a year × bars in a session
        per_day = float(pd.Series(1, index=index).groupby(index.normalize()).size().median())
        return TRADING_DAYS * per_day
    if days < 4.0:
        return TRADING_DAYS
    if days < 10.0:
        return 52.0
    if days < 45.0:
        return 12.0
    if days < 120.0:
        return 4.0
    return max(1.0, round(365.25 / days))


def benchmark_levels(benchmark: pd.Series, index: pd.DatetimeIndex) -> pd.Series:
    """A benchmark's prices (or any level series) on ``index``, carried forward over missing bars.

    Raises ``ValueError`` when the benchmark starts after ``index`` does or has non-positive levels.
    """
    levels = pd.Series(benchmark, dtype=np.float64).sort_index()
    levels.index = pd.DatetimeIndex(levels.index)
    levels = levels.dropna()
    if levels.empty or levels.index[0] > index[0]:
        first = "nothing" if levels.empty else f"{levels.index[0]}"
        raise ValueError(f"benchmark: it must start by {index[0]} (the first rebalance); it starts at {first}")
    if (levels <= 0).any():
        bad = levels.index[(levels <= 0).to_numpy()][0]
        raise ValueError(f"benchmark: levels must be positive prices; {levels[bad]} at {bad}")
    return levels.reindex(levels.index.union(index)).ffill().reindex(index)


def tear_sheet(equity: pd.Series, *, turnover: pd.Series, gross: pd.Series, net: pd.Series, traded: float,
               fees: float, slippage: float, benchmark: pd.Series | None = None,
               periods_per_year: float | None = None, risk_free: float = 0.0,
               rolling_window: int = ROLLING_WINDOW) -> TearSheet:
    """The tear sheet of ``equity`` (per bar, the measured span), with the run's turnover, gross and net exposure
    (fractions of equity per bar), traded notional, fees and slippage.

    Headline keys: ``cagr`` (calendar years of 365.25 days), ``volatility``, ``sharpe``, ``sortino`` (downside
    deviation over every bar, as empyrical), ``max_drawdown``, ``max_drawdown_days``, ``calmar`` (CAGR over the
    drawdown's depth), ``turnover_per_year``, ``cost_bps`` / ``fee_bps`` / ``slippage_bps`` (of traded notional),
    ``hit_rate`` (bars up over bars that moved), ``best_bar``, ``worst_bar``, ``gross_exposure`` and
    ``net_exposure`` (means), ``time_in_market``, ``bars_per_year``; with ``benchmark`` (prices):
    ``benchmark_return``, ``benchmark_cagr``, ``beta``, ``alpha`` (annualised, empyrical's), ``tracking_error``,
    ``information_ratio`` (annualised active return over tracking error), ``correlation``.
    """
    index = pd.DatetimeIndex(equity.index)
    ppy = float(periods_per_year) if periods_per_year is not None else bars_per_year(index)
    headline, dd_at = _headline(equity.to_numpy(dtype=np.float64), index.to_numpy("datetime64[ns]"),
                                turnover.to_numpy(dtype=np.float64), gross.to_numpy(dtype=np.float64),
                                net.to_numpy(dtype=np.float64), traded, fees, slippage, ppy, risk_free)
    returns = equity.pct_change().iloc[1:].rename("returns")
    r = returns.to_numpy()
    rf = (1.0 + risk_free) ** (1.0 / ppy) - 1.0
    years = (equity.index[-1] - equity.index[0]).days / 365.25
    dd = _drawdown_dates(index, *dd_at)
    drawdowns = equity / equity.cummax() - 1.0
    bench_returns = None
    if benchmark is not None:
        levels = benchmark_levels(benchmark, pd.DatetimeIndex(equity.index))
        bench_returns = levels.pct_change().iloc[1:].rename("benchmark")
        headline.update(_versus(r, bench_returns.to_numpy(), rf, ppy, levels, years))
    roll = returns.rolling(rolling_window, min_periods=rolling_window)
    rolling = (roll.mean() / roll.std(ddof=1) * math.sqrt(ppy)).rename("rolling_sharpe")
    exposure = pd.DataFrame({"gross": gross, "net": net})
    return TearSheet(headline, dd, returns, drawdowns.rename("drawdown"), monthly_returns(equity), rolling,
                     exposure, bench_returns)


def headline_figures(equity: np.ndarray, timestamps: pd.DatetimeIndex, *, turnover: np.ndarray, gross: np.ndarray,
                     net: np.ndarray, traded: float, fees: float, slippage: float,
                     periods_per_year: float | None = None, risk_free: float = 0.0) -> dict[str, float]:
    """:attr:`TearSheet.headline` without a benchmark, from arrays (equity, turnover, gross and net exposure per bar
    of the measured span, ``timestamps`` its bars): the same figures, bit for bit, without building the tear
    sheet's series (a sweep asks for thousands)."""
    ppy = float(periods_per_year) if periods_per_year is not None else bars_per_year(timestamps)
    return _headline(np.asarray(equity, dtype=np.float64), timestamps.to_numpy("datetime64[ns]"),
                     np.asarray(turnover, dtype=np.float64),
                     np.asarray(gross, dtype=np.float64), np.asarray(net, dtype=np.float64), traded, fees, slippage,
                     ppy, risk_free)[0]


_DAY: Final = np.timedelta64(1, "D")


def _headline(values: np.ndarray, times: np.ndarray, turnover: np.ndarray, gross: np.ndarray, net: np.ndarray,
              traded: float, fees: float, slippage: float, ppy: float,
              risk_free: float) -> tuple[dict[str, float], tuple[float, int, int, int | None]]:
    """The headline figures (no benchmark) from arrays, and the drawdown as (depth, peak, trough, recovery) bars;
    ``times``: the bars' times (``datetime64``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = values[1:] / values[:-1] - 1.0  # pandas' pct_change
    rf = (1.0 + risk_free) ** (1.0 / ppy) - 1.0
    excess = r - rf
    years = int((times[-1] - times[0]) // _DAY) / 365.25  # whole days, as Timedelta.days
    growth = float(values[-1] / values[0])
    cagr = growth ** (1.0 / years) - 1.0 if years > 0 and growth > 0 else math.nan
    depth, peak, trough, recovery = _drawdown_bars(values)
    end = recovery if recovery is not None else trough
    dd_days = float((times[end] - times[peak]) // _DAY)
    moved = r[r != 0.0]
    headline: dict[str, float] = {
        "cagr": cagr,
        "volatility": _std(r) * math.sqrt(ppy),
        "sharpe": _ratio(float(np.mean(excess)) if r.size else math.nan, _std(excess)) * math.sqrt(ppy),
        "sortino": _sortino(excess, ppy),
        "max_drawdown": depth,
        "max_drawdown_days": dd_days,
        "calmar": cagr / -depth if depth < 0 else math.nan,
        "turnover_per_year": float(np.nansum(turnover)) / years if years > 0 else math.nan,
        "cost_bps": (fees + slippage) / traded * 1e4 if traded > 0 else 0.0,
        "fee_bps": fees / traded * 1e4 if traded > 0 else 0.0,
        "slippage_bps": slippage / traded * 1e4 if traded > 0 else 0.0,
        "hit_rate": float(np.mean(moved > 0)) if moved.size else math.nan,
        "best_bar": float(r.max()) if r.size else math.nan,
        "worst_bar": float(r.min()) if r.size else math.nan,
        "gross_exposure": _nanmean(gross),
        "net_exposure": _nanmean(net),
        "time_in_market": float(np.mean(gross > 0)) if gross.size else math.nan,
        "bars_per_year": ppy,
    }
    return headline, (depth, peak, trough, recovery)


def headline_rows(values: np.ndarray, timestamps: pd.DatetimeIndex, *, turnover: np.ndarray, gross: np.ndarray,
                  net: np.ndarray, traded: np.ndarray, fees: np.ndarray, slippage: np.ndarray,
                  periods_per_year: float, risk_free: float = 0.0) -> list[dict[str, float]]:
    """:func:`headline_figures` of many runs on the same bars at once: row ``k`` of ``values`` (equity), ``turnover``,
    ``gross`` and ``net`` (runs × bars of the measured span, at least three bars) and element ``k`` of ``traded``,
    ``fees`` and ``slippage`` give run ``k``'s figures, bit for bit the ones :func:`headline_figures` gives it (the
    same operations, each reduction row by row)."""
    ppy = float(periods_per_year)
    times = timestamps.to_numpy("datetime64[ns]")
    with np.errstate(divide="ignore", invalid="ignore"):
        r = values[:, 1:] / values[:, :-1] - 1.0
        rf = (1.0 + risk_free) ** (1.0 / ppy) - 1.0
        excess = r - rf
        growth = values[:, -1] / values[:, 0]
        volatility = np.std(r, axis=1, ddof=1)
        mean_excess = np.mean(excess, axis=1)
        std_excess = np.std(excess, axis=1, ddof=1)
        downside = np.mean(np.minimum(excess, 0.0) ** 2, axis=1)
        peaks = np.maximum.accumulate(values, axis=1)
        depth_all = values / peaks - 1.0
    years = int((times[-1] - times[0]) // _DAY) / 365.25
    n = values.shape[1]
    rows = np.arange(values.shape[0])
    trough = np.argmin(depth_all, axis=1)
    depth = depth_all[rows, trough]
    top = peaks[rows, trough][:, None]
    fell = depth < 0
    col = np.arange(n)[None, :]
    peak = np.where(fell, np.argmax((values == top) & (col <= trough[:, None]), axis=1), trough)
    back = (values >= top) & (col >= trough[:, None])
    recovered = back.any(axis=1) | ~fell
    end = np.where(fell, np.where(recovered, np.argmax(back, axis=1), trough), trough)
    dd_days = ((times[end] - times[peak]) // _DAY).astype(np.float64)
    moved = np.count_nonzero(r != 0.0, axis=1)
    up = np.count_nonzero(r > 0.0, axis=1)
    best, worst = r.max(axis=1), r.min(axis=1)
    turnover_sum = np.nansum(turnover, axis=1)
    gross_nan, net_nan = np.isnan(gross), np.isnan(net)
    gross_count = gross.shape[1] - np.count_nonzero(gross_nan, axis=1)
    net_count = net.shape[1] - np.count_nonzero(net_nan, axis=1)
    gross_sum = np.where(gross_nan, 0.0, gross).sum(axis=1)
    net_sum = np.where(net_nan, 0.0, net).sum(axis=1)
    in_market = np.count_nonzero(gross > 0, axis=1)
    root = math.sqrt(ppy)
    out: list[dict[str, float]] = []
    for k in range(values.shape[0]):
        g = float(growth[k])
        cagr = g ** (1.0 / years) - 1.0 if years > 0 and g > 0 else math.nan
        d = float(depth[k])
        t, f, s = float(traded[k]), float(fees[k]), float(slippage[k])
        out.append({
            "cagr": cagr,
            "volatility": float(volatility[k]) * root,
            "sharpe": _ratio(float(mean_excess[k]), float(std_excess[k])) * root,
            "sortino": _ratio(float(mean_excess[k]), math.sqrt(float(downside[k]))) * root,
            "max_drawdown": d,
            "max_drawdown_days": float(dd_days[k]),
            "calmar": cagr / -d if d < 0 else math.nan,
            "turnover_per_year": float(turnover_sum[k]) / years if years > 0 else math.nan,
            "cost_bps": (f + s) / t * 1e4 if t > 0 else 0.0,
            "fee_bps": f / t * 1e4 if t > 0 else 0.0,
            "slippage_bps": s / t * 1e4 if t > 0 else 0.0,
            "hit_rate": float(up[k] / moved[k]) if moved[k] else math.nan,
            "best_bar": float(best[k]),
            "worst_bar": float(worst[k]),
            "gross_exposure": float(gross_sum[k] / gross_count[k]) if gross_count[k] else math.nan,
            "net_exposure": float(net_sum[k] / net_count[k]) if net_count[k] else math.nan,
            "time_in_market": float(in_market[k] / gross.shape[1]),
            "bars_per_year": ppy,
        })
    return out


def _nanmean(x: np.ndarray) -> float:
    """The mean of the values that are not NaN (pandas' ``Series.mean``: the sum with NaN as 0, over the count)."""
    nan = np.isnan(x)
    count = x.size - int(nan.sum())
    if count == 0:
        return math.nan
    return float((np.where(nan, 0.0, x) if count < x.size else x).sum() / count)


def monthly_returns(equity: pd.Series) -> pd.DataFrame:
    """Compounded returns per calendar month (columns ``Jan`` .. ``Dec``) and year (``Year``), one row a year."""
    index = pd.DatetimeIndex(equity.index)
    month_end = equity.groupby(index.to_period("M")).last()
    previous = month_end.shift(1)
    previous.iloc[0] = float(equity.iloc[0])
    monthly = month_end / previous - 1.0
    months = pd.PeriodIndex(monthly.index)
    table = pd.DataFrame({"year": months.year, "month": months.month, "r": monthly.to_numpy()})
    wide = table.pivot(index="year", columns="month", values="r").reindex(columns=range(1, 13))
    wide.columns = list(_MONTHS)
    year_end = equity.groupby(index.year).last()
    year_start = year_end.shift(1)
    year_start.iloc[0] = float(equity.iloc[0])
    wide["Year"] = (year_end / year_start - 1.0).to_numpy()
    wide.index.name = "year"
    return wide


def _std(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1)) if x.size > 1 else math.nan


def _ratio(num: float, den: float) -> float:
    if math.isnan(num) or math.isnan(den):
        return math.nan
    if den == 0.0:
        return math.nan if num == 0.0 else math.copysign(math.inf, num)
    return num / den


def _sortino(excess: np.ndarray, ppy: float) -> float:
    if not excess.size:
        return math.nan
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    return _ratio(float(np.mean(excess)), downside) * math.sqrt(ppy)


def _drawdown_bars(values: np.ndarray) -> tuple[float, int, int, int | None]:
    """The deepest drawdown of ``values``: (depth, peak bar, trough bar, recovery bar or None)."""
    peaks = np.maximum.accumulate(values)
    depth = values / peaks - 1.0
    trough = int(np.argmin(depth))
    peak = int(np.flatnonzero(values[: trough + 1] == peaks[trough])[0]) if depth[trough] < 0 else trough
    after = np.flatnonzero(values[trough:] >= peaks[trough]) + trough if depth[trough] < 0 else np.array([trough])
    return float(depth[trough]), peak, trough, (int(after[0]) if after.size else None)


def _drawdown_dates(index: pd.DatetimeIndex, depth: float, peak: int, trough: int, recovery: int | None) -> Drawdown:
    return Drawdown(depth, pd.Timestamp(index[peak]), pd.Timestamp(index[trough]),
                    None if recovery is None else pd.Timestamp(index[recovery]))


def _versus(r: np.ndarray, b: np.ndarray, rf: float, ppy: float, levels: pd.Series,
            years: float) -> dict[str, float]:
    """Beta, alpha, tracking error, information ratio and correlation of returns ``r`` against ``b``."""
    ar, ab = r - rf, b - rf
    centred = ab - ab.mean()
    beta = _ratio(float(np.mean(centred * ar)), float(np.mean(centred**2)))
    alpha = (float(np.mean(ar - beta * ab)) + 1.0) ** ppy - 1.0 if math.isfinite(beta) else math.nan
    active = r - b
    te = _std(active)
    growth = float(levels.iloc[-1] / levels.iloc[0])
    corr = float(np.corrcoef(r, b)[0, 1]) if r.size > 1 and np.std(r) > 0 and np.std(b) > 0 else math.nan
    return {
        "benchmark_return": growth - 1.0,
        "benchmark_cagr": growth ** (1.0 / years) - 1.0 if years > 0 else math.nan,
        "beta": beta,
        "alpha": alpha,
        "tracking_error": te * math.sqrt(ppy),
        "information_ratio": _ratio(float(np.mean(active)) if active.size else math.nan, te) * math.sqrt(ppy),
        "correlation": corr,
    }
