"""The tear sheet: figures equal to empyrical's (an independent library, test-only) and a report that reads well
for a large universe and says when a run's settings flatter it."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import empyrical as ep
import numpy as np
import pandas as pd
import pytest

import execlab as xl
from execlab._analysis.report import default_settings
from execlab._runs.performance import bars_per_year, monthly_returns, tear_sheet
from execlab.strategies import equal_weight_index

TOL = 1e-9


def _curve(seed: int = 7, n: int = 800) -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2015-01-02", periods=n)
    return pd.Series(1e6 * np.cumprod(1.0 + rng.normal(0.0004, 0.012, n)), index=index, name="equity")


def _sheet(equity: pd.Series, benchmark: pd.Series | None = None, risk_free: float = 0.0) -> xl.BacktestResult:
    zeros = pd.Series(0.0, index=equity.index)
    return tear_sheet(equity, turnover=zeros, gross=zeros + 1.0, net=zeros + 1.0, traded=0.0, fees=0.0,
                      slippage=0.0, benchmark=benchmark, risk_free=risk_free)  # type: ignore[return-value]


def test_figures_equal_empyrical() -> None:
    equity = _curve()
    bench_levels = _curve(seed=11) / 1e4
    sheet = _sheet(equity, bench_levels)
    r, b = sheet.returns, sheet.benchmark_returns
    h = sheet.headline
    assert h["sharpe"] == pytest.approx(ep.sharpe_ratio(r), abs=TOL)
    assert h["sortino"] == pytest.approx(ep.sortino_ratio(r), abs=TOL)
    assert h["max_drawdown"] == pytest.approx(ep.max_drawdown(r), abs=TOL)
    assert h["volatility"] == pytest.approx(ep.annual_volatility(r), abs=TOL)
    assert h["beta"] == pytest.approx(ep.beta(r, b), abs=TOL)
    assert h["alpha"] == pytest.approx(ep.alpha(r, b), abs=TOL)
    assert h["information_ratio"] == pytest.approx(ep.excess_sharpe(r, b) * math.sqrt(252), abs=TOL)
    assert h["tracking_error"] == pytest.approx(np.std(r - b, ddof=1) * math.sqrt(252), abs=TOL)
    years = (equity.index[-1] - equity.index[0]).days / 365.25
    assert h["cagr"] == pytest.approx((equity.iloc[-1] / equity.iloc[0]) ** (1 / years) - 1, abs=TOL)
    assert h["calmar"] == pytest.approx(h["cagr"] / -h["max_drawdown"], abs=TOL)
    assert h["hit_rate"] == pytest.approx((r > 0).sum() / (r != 0).sum(), abs=TOL)


def test_risk_free_rate_is_compounded_down_to_one_bar() -> None:
    equity = _curve(seed=3)
    sheet = _sheet(equity, risk_free=0.03)
    per_bar = 1.03 ** (1 / 252) - 1
    r = sheet.returns
    assert sheet.headline["sharpe"] == pytest.approx(ep.sharpe_ratio(r, risk_free=per_bar), abs=TOL)
    assert sheet.headline["sortino"] == pytest.approx(ep.sortino_ratio(r, required_return=per_bar), abs=TOL)


def test_drawdown_dates_and_recovery() -> None:
    index = pd.bdate_range("2020-01-01", periods=7)
    equity = pd.Series([100.0, 110.0, 99.0, 88.0, 95.0, 111.0, 105.0], index=index)
    dd = _sheet(equity).drawdown
    assert dd.depth == pytest.approx(88 / 110 - 1)
    assert (dd.peak, dd.trough, dd.recovery) == (index[1], index[3], index[5])
    still_down = _sheet(equity.iloc[:5]).drawdown
    assert still_down.recovery is None and still_down.days == (index[3] - index[1]).days


def test_monthly_returns_compound_within_months_and_years() -> None:
    index = pd.DatetimeIndex(["2020-12-30", "2020-12-31", "2021-01-15", "2021-01-29", "2021-02-26"])
    equity = pd.Series([100.0, 110.0, 99.0, 121.0, 96.8], index=index)
    table = monthly_returns(equity)
    assert table.loc[2020, "Dec"] == pytest.approx(0.10)
    assert table.loc[2021, "Jan"] == pytest.approx(0.10)
    assert table.loc[2021, "Feb"] == pytest.approx(-0.20)
    assert table.loc[2021, "Year"] == pytest.approx(96.8 / 110 - 1)
    assert math.isnan(table.loc[2021, "Dec"])


def test_bars_per_year_follows_the_spacing() -> None:
    assert bars_per_year(pd.bdate_range("2020-01-01", periods=50)) == 252
    assert bars_per_year(pd.date_range("2020-01-03", periods=50, freq="W-FRI")) == 52
    assert bars_per_year(pd.date_range("2020-01-31", periods=24, freq="ME")) == 12
    hours = pd.DatetimeIndex([d + pd.Timedelta(hours=h) for d in pd.bdate_range("2020-01-01", periods=5)
                              for h in range(10, 16)])
    assert bars_per_year(hours) == 252 * 6


def test_benchmark_must_cover_the_span() -> None:
    equity = _curve(n=50)
    late = _curve(seed=2, n=50).iloc[10:]
    with pytest.raises(ValueError, match="benchmark: it must start by"):
        _sheet(equity, late)
    with pytest.raises(ValueError, match="positive"):
        _sheet(equity, _curve(seed=2, n=50) * 0.0)


def _universe(n_symbols: int, n_days: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    days = pd.bdate_range("2019-01-01", periods=n_days)
    frames = []
    for k in range(n_symbols):
        close = 50 * np.cumprod(1 + rng.normal(0.0003, 0.015, n_days))
        frames.append(pd.DataFrame({"timestamp": days, "symbol": f"SYMBOL{k:03d}", "open": close, "high": close,
                                    "low": close, "close": close, "volume": 1e6}))
    return pd.concat(frames, ignore_index=True)


def test_report_headline_survives_a_large_universe(tmp_path: Path) -> None:
    bars = _universe(60)
    closes = bars.pivot(index="timestamp", columns="symbol", values="close")
    month_ends = closes.groupby(closes.index.to_period("M")).tail(1).index
    targets = pd.DataFrame(1.0 / 60 * 0.95, index=month_ends, columns=closes.columns)
    config = xl.Config.from_mapping({"plan": {"target_unit": "weight"}})
    result = xl.run_backtest(targets, bars, config)
    bench = equal_weight_index(bars)
    page = xl.write_report(result, tmp_path / "big.html", benchmark=bench, benchmark_name="equal weight")
    text = page.read_text(encoding="utf-8")
    headline = text.split('id="execlab-headline">', 1)[1].split("<h2>", 1)[0]
    cells = re.findall(r"<td>(.*?)</td>", headline)
    assert len(cells) >= 70  # four tables of figures
    assert max(len(c) for c in cells) < 120, max(cells, key=len)
    assert "SYMBOL059" not in headline and "60: SYMBOL000" in headline
    assert text.index('id="execlab-headline"') < text.index("<h2>")  # first thing on the page after the title
    assert "SYMBOL059" in text.split("<h2>Symbols</h2>", 1)[1]  # the whole universe, at the end
    for label in ("Sharpe ratio", "Sortino ratio", "Max drawdown", "Calmar ratio", "Beta", "Alpha (annualised)",
                  "Tracking error", "Information ratio", "Hit rate (bars up / bars that moved)",
                  "Costs, bps of traded notional"):
        assert f"<td>{label}</td>" in headline, label
    s = result.summary(bench)
    assert f"<td>{s['sharpe']:.2f}</td>" in headline and f"<td>{s['beta']:.2f}</td>" in headline
    embedded = re.search(r'id="execlab-summary">(.*?)</script>', text, re.S)
    assert embedded is not None and json.loads(embedded.group(1)) == pytest.approx(s)
    assert "<h2>Monthly returns</h2>" in text and "rolling-sharpe" in text and "exposure" in text


def test_minimal_config_defaults_are_stated_at_the_top(tmp_path: Path) -> None:
    minimal = xl.Config.from_mapping({"plan": {"target_unit": "weight"}})
    said = default_settings(minimal)
    assert len(said) == 4 and all("the default" in s for s in said)
    assert "close of the bar that decided them" in said[0]
    chosen = xl.Config.from_mapping({"venue": {"fill_price": "close"}})
    assert "set in the config" in default_settings(chosen)[0]
    realistic = xl.load_config(Path(__file__).parents[3] / "examples" / "demo.yaml")
    assert default_settings(realistic) == []

    bars = _universe(3, 60)
    closes = bars.pivot(index="timestamp", columns="symbol", values="close")
    targets = pd.DataFrame(0.3, index=closes.index[[5, 30]], columns=closes.columns)
    page = xl.write_report(xl.run_backtest(targets, bars, minimal), tmp_path / "r.html").read_text()
    note = page.index('id="execlab-defaults"')
    assert page.index("<h1>") < note < page.index('id="execlab-headline"')
    assert "No fees or commissions" in page and "No slippage" in page


def test_summary_measures_from_the_first_rebalance() -> None:
    bars = _universe(2, 80)
    closes = bars.pivot(index="timestamp", columns="symbol", values="close")
    targets = pd.DataFrame(0.5, index=closes.index[[40]], columns=closes.columns)
    result = xl.run_backtest(targets, bars, xl.Config.from_mapping({"plan": {"target_unit": "weight"}}))
    sheet = result.tear_sheet()
    assert sheet.start == closes.index[40] and len(sheet.returns) == 39
    assert sheet.headline["time_in_market"] == 1.0  # filled at the deciding close, held to the end
    assert result.summary()["sharpe"] == sheet.headline["sharpe"]
    with pytest.raises(ValueError, match="not a symbol of this run"):
        result.tear_sheet("SPY")
    by_symbol = result.tear_sheet("SYMBOL000")
    assert by_symbol.headline["correlation"] > 0.5


def test_summary_headline_equals_the_tear_sheet_bit_for_bit() -> None:
    # summary() computes the headline from arrays (no series): every figure must be the tear sheet's, exactly
    bars = _universe(3, 300)
    closes = bars.pivot(index="timestamp", columns="symbol", values="close")
    targets = pd.DataFrame(0.3, index=closes.index[20::7], columns=closes.columns)
    targets.iloc[::3] = 0.1
    result = xl.run_backtest(targets, bars, xl.Config.from_mapping({
        "plan": {"target_unit": "weight"}, "venue": {"fees": {"model": "bps", "bps": 3.0}}}))
    summary, headline = result.summary(), result.tear_sheet().headline
    for key, value in headline.items():
        assert summary[key] == value or (np.isnan(summary[key]) and np.isnan(value)), key
    assert summary["max_drawdown"] < 0 and summary["turnover_per_year"] > 0
