"""Slippage calibration: fit the backtest's model to paper fills, write it into a config, and check the round trip.

The round trips: paper fills from a venue whose true slippage is known and differs from the default (none) — the
local Alpaca paper venue through alpaca-py, and the paper executor on the simulated venue — are fitted from the
journal alone; a backtest with the fitted parameters must then land closer to those fills, order by order, than the
default config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import execlab as xl
from execlab import PaperResult, run_paper
from execlab._analysis.calibration import calibrate_slippage
from execlab._analysis.mode_comparison import compare_modes
from execlab._analysis.tca import TcaError, TcaResult, tca_from_backtest, tca_from_journal, transaction_costs
from execlab._brokers.executor import BrokerExecutor
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance
from execlab.adapters.alpaca import AlpacaAdapter
from execlab.venues import AlpacaVenue

KEY, SECRET = "PKTESTKEY0000001", "test-secret-do-not-log-0001"
SYMBOLS = ["AAPL", "GOOG", "IBM", "MSFT"]


def _bars(start: str, end: str, symbols: list[str]) -> pd.DataFrame:
    bars = xl.sample_bars()
    keep = (bars["timestamp"] >= start) & (bars["timestamp"] < end) & bars["symbol"].isin(symbols)
    return bars[keep].reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.local_venue
def test_fixed_bps_round_trip_through_the_local_alpaca_paper_venue(tmp_path: Path) -> None:
    # "Paper": six daily rebalances in share targets through the real alpaca-py client against the local Alpaca
    # venue, whose simulated market fills at the quote (bid = ask = the day's close) plus a true 8 bps of slippage.
    # The journal is all the calibration sees.
    bars = _bars("2012-01-01", "2012-03-01", ["AAPL", "IBM", "MSFT"])
    closes = bars.pivot(index="timestamp", columns="symbol", values="close")
    days = list(closes.index[::6][:6])
    rng = np.random.default_rng(3)
    targets = pd.DataFrame(rng.integers(0, 400, (len(days), 3)).astype(float), index=pd.DatetimeIndex(days),
                           columns=closes.columns)
    true_venue = xl.VenueConfig(slippage=xl.SlippageConfig(model="fixed_bps", bps=8.0))
    cfg = xl.Config.from_mapping({"mode": "paper", "run_id": "cal", "initial_cash": 1e7,
                                  "broker": {"name": "alpaca", "api_key": KEY, "api_secret": SECRET}})
    journal = Journal(tmp_path / "paper.sqlite", secrets=[SECRET])
    with AlpacaVenue(KEY, SECRET, initial_cash=1e7, venue_config=true_venue, rate_limit=100_000) as venue:
        for day in days:
            px = closes.loc[day]
            venue.set_quotes({s: (px[s], px[s], px[s], None) for s in closes.columns})
            executor = BrokerExecutor(AlpacaAdapter(KEY, SECRET, base_url=venue.base_url, timeout=5.0), journal,
                                      "cal", (), backoff_seconds=0.01)
            done = run_live_rebalance(targets.loc[day], px, cfg, executor, journal,
                                      pd.Timestamp(day).strftime("%Y-%m-%dT%H:%M:%S"), timeout=10)
            assert done.complete
    paper = tca_from_journal(journal, "cal", mode="paper", venue="alpaca")
    assert len(paper.fills) >= 12

    # Paper orders go out at the quote they were decided on, so the decision price is the reference.
    fit = calibrate_slippage(paper, None, "fixed_bps", reference="decision")
    assert fit.bps == pytest.approx(8.0, abs=0.01)
    assert fit.n == len(paper.fills) and fit.n_excluded == 0
    assert set(fit.data["reference_source"]) == {"decision"}

    # Backtests of the same targets (same run id, so the same client order ids), default config vs fitted config.
    base = xl.Config(run_id="cal", initial_cash=1e7)
    default = compare_modes(tca_from_backtest(xl.run_backtest(targets, bars, base)), paper)
    fitted = compare_modes(tca_from_backtest(xl.run_backtest(targets, bars, fit.apply(base))), paper)
    assert default.stats["count"] == fitted.stats["count"] == len(paper.orders)
    assert not default.unmatched_a and not default.unmatched_b
    assert default.stats["mean_abs"] == pytest.approx(8.0, abs=0.01)
    assert fitted.stats["mean_abs"] < 0.05 < default.stats["mean_abs"]


@dataclass(frozen=True)
class SqrtWorld:
    bars: pd.DataFrame
    targets: pd.DataFrame
    paper: PaperResult
    journal_tca: TcaResult


@pytest.fixture(scope="module")
def sqrt_world() -> SqrtWorld:
    """A paper run on the local simulated venue whose hidden config has square-root impact with k = 0.6.

    Targets are share positions of up to 8 % of each symbol's ADV, every third day over two years of four stocks.
    The paper executor (:func:`execlab._execution.paper_executor.run_paper`) replays the bars as its feed and journals
    intents, requests with arrival prices, and fills; the calibration reads only that journal.
    """
    bars = _bars("2010-01-01", "2012-01-01", SYMBOLS)
    md = xl.MarketData.from_bars(bars)
    adv = pd.DataFrame(md.volume, index=md.timestamps, columns=list(md.symbols)).rolling(20).mean()
    rng = np.random.default_rng(7)
    times = md.timestamps[25::3]
    share_of_adv = rng.uniform(0.0, 0.08, (len(times), len(SYMBOLS)))
    targets = pd.DataFrame(np.round(share_of_adv * adv.loc[times].to_numpy()), index=times, columns=SYMBOLS)
    hidden = xl.Config.from_mapping({"mode": "paper", "run_id": "rt", "initial_cash": 1e11,
                                     "venue": {"slippage": {"model": "sqrt_impact", "impact_coefficient": 0.6}}})
    journal = Journal(":memory:")
    paper = run_paper(targets, bars, hidden, journal=journal)
    return SqrtWorld(bars, targets, paper, tca_from_journal(journal, "rt", bars, mode="paper", venue="sim"))


def _mean_abs_gaps(world: SqrtWorld, paper: TcaResult, fitted: xl.Config) -> dict[str, float]:
    """Mean |fill-price gap| per order (bps of the decision price) of backtests of the same targets vs paper."""
    base = xl.Config(run_id="rt", initial_cash=1e11)
    configs = {"default": base,
               "default_sqrt": base.model_copy(update={"venue": xl.VenueConfig(
                   slippage=xl.SlippageConfig(model="sqrt_impact"))}),
               "fitted": fitted.model_copy(update={"run_id": "rt", "initial_cash": 1e11})}
    gaps = {}
    for name, cfg in configs.items():
        cmp = compare_modes(tca_from_backtest(xl.run_backtest(world.targets, world.bars, cfg)), paper)
        assert cmp.stats["count"] == len(paper.orders) and not cmp.unmatched_b
        gaps[name] = cmp.stats["mean_abs"]
    return gaps


@pytest.mark.slow
def test_journal_and_result_of_a_paper_run_give_the_same_costs(sqrt_world: SqrtWorld) -> None:
    from_result = tca_from_backtest(sqrt_world.paper).orders.set_index("client_order_id")
    from_journal = sqrt_world.journal_tca.orders.set_index("client_order_id").loc[from_result.index]
    assert set(from_result["arrival_source"]) == {"executor"} and set(from_journal["arrival_source"]) == {"journal"}
    assert (from_journal["timestamp"] == from_result["timestamp"]).all()  # the feed's clock, not the wall clock
    for column in ("arrival_price", "shortfall", "delay_cost", "execution_cost", "opportunity_cost",
                   "interval_vwap", "close_price", "participation"):
        np.testing.assert_allclose(from_journal[column].to_numpy(dtype=float),
                                   from_result[column].to_numpy(dtype=float), rtol=1e-12, err_msg=column)


@pytest.mark.slow
def test_sqrt_impact_round_trip_through_the_paper_journal(sqrt_world: SqrtWorld, tmp_path: Path) -> None:
    paper = sqrt_world.journal_tca
    fit = calibrate_slippage(paper, sqrt_world.bars, "sqrt_impact")
    assert set(fit.data["reference_source"]) == {"arrival"}  # the executor's arrival price from the journal
    assert fit.impact_coefficient == pytest.approx(0.6, rel=1e-6)
    assert fit.r_squared > 0.999 and fit.n == len(paper.fills)

    # The fitted parameters go into a config file the backtest reads.
    fitted_config = fit.write_config(None, tmp_path / "fitted.yaml")
    reloaded = xl.load_config(tmp_path / "fitted.yaml")
    assert reloaded == fitted_config
    assert reloaded.venue.slippage.model == "sqrt_impact"
    assert reloaded.venue.slippage.impact_coefficient == pytest.approx(fit.impact_coefficient)

    gaps = _mean_abs_gaps(sqrt_world, paper, reloaded)
    # ~13 bps without slippage, ~11 with the default k = 0.1, ~0 with the fitted k
    assert gaps["fitted"] < 0.01
    assert gaps["fitted"] < gaps["default_sqrt"] < gaps["default"]


@pytest.mark.slow
def test_sqrt_impact_round_trip_with_noisy_fills(sqrt_world: SqrtWorld) -> None:
    # Real fills scatter around any model: add N(0, 3 bps) to every paper fill price. The calibration sees the
    # journal's orders (decision prices, no arrival) and the noisy fills: its reference is then the bar's close.
    rng = np.random.default_rng(11)
    fills = sqrt_world.journal_tca.fills[["client_order_id", "timestamp", "quantity", "price", "fee"]].copy()
    fills["price"] = fills["price"] * (1.0 + rng.normal(0.0, 3e-4, len(fills)))
    orders = sqrt_world.journal_tca.orders[["client_order_id", "symbol", "side", "quantity", "decision_price",
                                            "timestamp", "status"]]
    noisy = transaction_costs(orders, fills, sqrt_world.bars, mode="paper")
    fit = calibrate_slippage(noisy, sqrt_world.bars, "sqrt_impact")
    assert set(fit.data["reference_source"]) == {"bar"}
    assert fit.impact_coefficient == pytest.approx(0.6, abs=0.02)
    assert 0.7 < fit.r_squared < 1.0
    assert fit.rmse_bps == pytest.approx(3.0, rel=0.15) and fit.rmse_bps < fit.rmse_zero_bps
    gaps = _mean_abs_gaps(sqrt_world, noisy, fit.apply())
    # down to the noise itself with the fitted k: mean |N(0, 3)| ≈ 2.4 bps
    assert gaps["fitted"] < 3.0
    assert gaps["fitted"] < gaps["default_sqrt"] < gaps["default"]


def test_fixed_bps_fit_is_the_mean_and_is_clipped_at_zero() -> None:
    # Three buys against a reference of 100: fills at 100.05, 100.10, 100.15 → 5, 10, 15 bps → mean 10 bps.
    fills = pd.DataFrame({"symbol": "X", "side": "buy", "timestamp": pd.Timestamp("2024-01-02"),
                          "quantity": [1.0, 2.0, 3.0], "price": [100.05, 100.10, 100.15],
                          "reference_price": 100.0})
    fit = calibrate_slippage(fills, None, "fixed_bps")
    assert fit.bps == pytest.approx(10.0)
    assert fit.rmse_bps == pytest.approx(np.sqrt((25 + 0 + 25) / 3))
    assert fit.slippage_config() == xl.SlippageConfig(model="fixed_bps", bps=fit.bps)
    # Price improvement everywhere: the model cannot go below 0 bps.
    better = fills.assign(price=[99.9, 99.95, 100.0])
    assert calibrate_slippage(better, None, "fixed_bps").bps == 0.0


def test_maker_fills_are_left_out() -> None:
    fills = pd.DataFrame({"symbol": "X", "side": ["sell", "sell"], "timestamp": pd.Timestamp("2024-01-02"),
                          "quantity": [1.0, 1.0], "price": [99.8, 100.5], "reference_price": 100.0,
                          "liquidity": ["taker", "maker"]})
    fit = calibrate_slippage(fills, None, "fixed_bps")
    assert fit.bps == pytest.approx(20.0) and fit.n == 1 and fit.n_excluded == 1


def test_write_config_keeps_the_rest_of_the_file_and_its_variables(tmp_path: Path) -> None:
    source = tmp_path / "base.yaml"
    source.write_text("mode: paper\nrun_id: nightly\nbroker:\n  name: alpaca\n  api_key: ${ALPACA_KEY}\n"
                      "venue:\n  fill_price: next_open\n  fees: {model: bps, bps: 1.5}\n")
    fills = pd.DataFrame({"symbol": "X", "side": "buy", "timestamp": pd.Timestamp("2024-01-02"),
                          "quantity": [1.0], "price": [100.07], "reference_price": 100.0})
    fit = calibrate_slippage(fills, None, "fixed_bps")
    out = tmp_path / "out" / "calibrated.yaml"
    cfg = fit.write_config(source, out, env={"ALPACA_KEY": "k-123"})
    text = out.read_text()
    assert text.startswith("# venue.slippage fitted by execlab.calibrate_slippage")
    assert "${ALPACA_KEY}" in text and "k-123" not in text  # the secret stays in the environment
    assert cfg.run_id == "nightly" and cfg.venue.fill_price == "next_open" and cfg.venue.fees.bps == 1.5
    assert cfg.venue.slippage.model == "fixed_bps" and cfg.venue.slippage.bps == pytest.approx(7.0)
    assert xl.load_config(out, env={"ALPACA_KEY": "k"}).venue.slippage == cfg.venue.slippage


def test_bad_calibration_input() -> None:
    fills = pd.DataFrame({"symbol": "X", "side": "buy", "timestamp": pd.Timestamp("2024-01-02"),
                          "quantity": [1.0], "price": [100.0]})
    with pytest.raises(TcaError, match="'none' and 'half_spread' have no parameter"):
        calibrate_slippage(fills, None, "half_spread")  # type: ignore[arg-type]
    with pytest.raises(TcaError, match="bars are needed"):
        calibrate_slippage(fills, None, "sqrt_impact")
    with pytest.raises(TcaError, match="no fill has both a reference price"):
        calibrate_slippage(fills, None, "fixed_bps")
    with pytest.raises(TcaError, match=r"missing columns \['price'\]"):
        calibrate_slippage(fills.drop(columns=["price"]), None, "fixed_bps", reference="decision")
    with pytest.raises(TcaError, match="config file not found"):
        calibrate_slippage(fills.assign(reference_price=99.0), None, "fixed_bps").write_config(
            "/nonexistent/base.yaml", "/tmp/never.yaml")
