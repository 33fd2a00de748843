"""A backtest of EUR/USD, GBP/USD, NZD/USD and the cross EUR/GBP on ``../shared/data/fx_daily_oanda.parquet``: its
equity in USD checked bar by bar against a hand computation from the bars (the cross's P&L is in GBP, worth the
GBP/USD mid of each bar), the same with the compiled loop and step by step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import execlab as xl
from execlab._data.fx import quote_bars
from execlab._runs.home_currency import fx_quote

from helpers.paths import SHARED_DATA

pytestmark = pytest.mark.shared_data

DATA = SHARED_DATA / "fx_daily_oanda.parquet"
UNITS = {"EUR/USD": 100_000.0, "GBP/USD": -50_000.0, "NZD/USD": 80_000.0, "EUR/GBP": 300_000.0}
CASH = 1_000_000.0


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    if not DATA.is_file():
        pytest.skip(f"{DATA} is absent")
    frame = pd.read_parquet(DATA)
    return quote_bars(frame[(frame["date"] >= "2018-06-01") & (frame["date"] < "2018-10-01")])


def config() -> xl.Config:
    return xl.Config.from_mapping({"mode": "backtest", "run_id": "fx", "initial_cash": CASH,
                                   "plan": {"target_unit": "shares", "allow_short": True},
                                   "venue": {"fill_price": "quote", "slippage": {"model": "half_spread"}}})


def targets(bars: pd.DataFrame) -> tuple[pd.DataFrame, list[pd.Timestamp]]:
    """Open the four positions on the 10th day, close the cross and halve EUR/USD on the 50th."""
    days = sorted(bars["timestamp"].unique())
    later = {**UNITS, "EUR/GBP": 0.0, "EUR/USD": UNITS["EUR/USD"] / 2}
    rows = [(days[9], s, q) for s, q in UNITS.items()] + [(days[49], s, q) for s, q in later.items()]
    return pd.DataFrame(rows, columns=["timestamp", "symbol", "target"]), [pd.Timestamp(d) for d in days]


def by_hand(bars: pd.DataFrame, fills: pd.DataFrame, days: list[pd.Timestamp]) -> pd.Series:
    """USD cash, GBP cash (what the cross's fills paid and received) and the positions, each bar valued at its mids:
    GBP at the GBP/USD mid, a EUR/GBP unit at the EUR/GBP mid times the GBP/USD mid."""
    mid = bars.pivot(index="timestamp", columns="symbol", values="close").reindex(days).ffill()
    out = []
    for day in days:
        done = fills[fills["timestamp"] <= day]
        signed = np.where(done["side"] == "buy", 1.0, -1.0) * done["quantity"]
        paid = signed * done["price"] + done["fee"]
        in_gbp = done["symbol"] == "EUR/GBP"
        usd, gbp = CASH - float(paid[~in_gbp].sum()), -float(paid[in_gbp].sum())
        held = signed.groupby(done["symbol"]).sum()
        gbp_usd = float(mid.at[day, "GBP/USD"])
        value = usd + gbp * gbp_usd
        for symbol, units in held.items():
            price = float(mid.at[day, symbol])
            value += units * price * (gbp_usd if symbol == "EUR/GBP" else 1.0)
        out.append(value)
    return pd.Series(out, index=pd.DatetimeIndex(days))


def test_cross_pl_and_equity_are_in_usd_at_each_bars_rates(bars: pd.DataFrame) -> None:
    frame, days = targets(bars)
    result = xl.run_backtest(frame, bars, config())
    fills = result.fills
    assert len(fills) == 4 + 2
    quotes = bars.set_index(["timestamp", "symbol"])
    for row in fills.itertuples():  # buys at the ask, sells at the bid of the bar after the decision
        assert row.price == pytest.approx(quotes.at[(row.timestamp, row.symbol), "ask" if row.side == "buy" else "bid"],
                                          abs=1e-12)
    expected = by_hand(bars, fills, days)
    np.testing.assert_allclose(result.equity.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-6)
    # The cross's P&L in GBP, read as USD, would be off by (1 - GBP/USD) of it: the conversion is not a rounding.
    unconverted = result._positions * result._marks
    naive = np.nansum(unconverted, axis=1) + result._cash
    assert np.max(np.abs(naive - expected.to_numpy())) > 100.0
    # Realized: after the cross is closed, its P&L is a GBP balance worth GBP/USD of each bar.
    assert result.summary()["final_value"] == pytest.approx(float(expected.iloc[-1]), abs=1e-6)
    assert result.final_value == pytest.approx(float(expected.iloc[-1]), abs=1e-6)


def test_the_compiled_loop_and_the_steps_give_the_same_home_currency_money(bars: pd.DataFrame) -> None:
    frame, _ = targets(bars)
    compiled = xl.run_backtest(frame, bars, config(), engine="compiled")
    steps = xl.run_backtest(frame, bars, config(), engine="steps")
    pd.testing.assert_series_equal(compiled.equity, steps.equity)
    pd.testing.assert_series_equal(compiled.costs, steps.costs)
    assert compiled.fills.equals(steps.fills)


def test_fees_and_turnover_of_a_cross_are_in_usd(bars: pd.DataFrame) -> None:
    frame, days = targets(bars)
    cfg = config().model_copy(update={"venue": xl.VenueConfig(fill_price="quote", slippage={"model": "half_spread"},
                                                               fees={"model": "bps", "bps": 1.0})})
    result = xl.run_backtest(frame, bars, cfg)
    fills = result.fills
    mid = bars.pivot(index="timestamp", columns="symbol", values="close")
    rate = np.where(fills["symbol"] == "EUR/GBP", mid.loc[fills["timestamp"], "GBP/USD"].to_numpy(), 1.0)
    assert result.costs["fees"] == pytest.approx(float((fills["fee"] * rate).sum()), rel=1e-12)
    assert result.costs["fees"] > float(fills["fee"].sum())  # the cross's fees are in GBP, each worth more than $1
    np.testing.assert_allclose(result.equity.to_numpy(), by_hand(bars, fills, days).to_numpy(), atol=1e-6)


def test_pairs_are_read_from_their_names() -> None:
    assert [fx_quote(s) for s in ("EUR/GBP", "USD_JPY", "AAPL", "BTC/USDT", "GOOGLE")] == ["GBP", "JPY", None, None,
                                                                                            None]


@pytest.mark.parametrize("engine", ["compiled", "steps"])
def test_the_loops_cash_check_reads_a_cross_in_usd(bars: pd.DataFrame, engine: str) -> None:
    """$400,000 buys 440,000 EUR/GBP if its GBP price (about 0.88) were dollars, but not at GBP/USD (about 1.30):
    the plan caps the order to the cash at the decision bar's EUR/GBP mid × GBP/USD."""
    days = sorted(bars["timestamp"].unique())
    cash = 400_000.0
    frame = pd.DataFrame({"timestamp": [days[9]], "symbol": ["EUR/GBP"], "target": [440_000.0]})
    cfg = config().model_copy(update={"initial_cash": cash})
    universe = bars[bars["symbol"].isin(["EUR/GBP", "GBP/USD"])]
    result = xl.run_backtest(frame, universe, cfg, engine=engine)  # type: ignore[arg-type]
    order = result.orders.iloc[0]
    rows = universe[universe["timestamp"] == days[9]].set_index("symbol")
    mid, gbp_usd = float(rows.at["EUR/GBP", "close"]), float(rows.at["GBP/USD", "close"])
    spread = float(rows.at["EUR/GBP", "ask"] - rows.at["EUR/GBP", "bid"])
    unit_usd = (mid + spread / 2) * gbp_usd  # one unit bought at the mid plus the half spread, in USD
    assert order["decision_price"] == mid  # the order keeps its price in GBP
    assert order["quantity"] * mid < cash  # what reading GBP as USD would have let through ...
    assert 440_000.0 * mid < cash
    assert order["quantity"] < 440_000.0  # ... is capped: the cash is dollars and a unit costs mid × GBP/USD
    assert cash - unit_usd < order["quantity"] * unit_usd <= cash + 1e-6


def test_tca_of_a_cross_is_in_usd_at_each_fills_bar_rate(bars: pd.DataFrame) -> None:
    frame, _ = targets(bars)
    cfg = config().model_copy(update={"venue": xl.VenueConfig(fill_price="quote", slippage={"model": "half_spread"},
                                                               fees={"model": "bps", "bps": 1.0})})
    result = xl.run_backtest(frame, bars, cfg)
    tca = xl.tca_from_backtest(result)
    orders = tca.orders.set_index("client_order_id")
    assert float(orders["fees"].sum()) == pytest.approx(float(result.costs["fees"]), rel=1e-12)
    mid = bars.pivot(index="timestamp", columns="symbol", values="close")
    for row in result.fills.itertuples():
        order = orders.loc[row.client_order_id]
        rate = float(mid.at[row.timestamp, "GBP/USD"]) if row.symbol == "EUR/GBP" else 1.0
        assert order["quote_rate"] == pytest.approx(rate, rel=1e-12)
        s = 1.0 if row.side == "buy" else -1.0
        in_quote = s * row.quantity * (row.price - order["arrival_price"])
        assert order["execution_cost"] == pytest.approx(in_quote * rate, rel=1e-9, abs=1e-9)
        assert order["decision_notional"] == pytest.approx(row.quantity * order["decision_price"] * rate, rel=1e-12)
    # the half spread paid on the cross, in USD, is what the result's slippage cost says
    assert float(orders["execution_cost"].sum()) == pytest.approx(float(result.costs["slippage"]), rel=1e-9)


def test_a_paper_run_values_and_caps_a_cross_in_usd_as_the_backtest_does(bars: pd.DataFrame) -> None:
    """The same targets (the four pairs, then the capped cross) on the local simulated venue, fed the same quote
    bars: the paper run's orders, fills and USD equity are the backtest's, bar by bar."""
    frame, days = targets(bars)
    # fills at the next bar's open with slippage (the paper executor's replay of a table has no quote-fill model)
    venue = xl.VenueConfig(fill_price="next_open", slippage={"model": "fixed_bps", "bps": 1.0})
    backtest_cfg = config().model_copy(update={"venue": venue})
    paper_cfg = backtest_cfg.model_copy(update={"mode": "paper"})
    backtest = xl.run_backtest(frame, bars, backtest_cfg)
    paper = xl.run_paper(frame, bars, paper_cfg)
    assert paper.fills.equals(backtest.fills)
    np.testing.assert_allclose(paper.equity.to_numpy(), backtest.equity.to_numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(paper.equity.to_numpy(), by_hand(bars, paper.fills, days).to_numpy(), atol=1e-6)
    assert paper.costs["fees"] == backtest.costs["fees"]
    # the cash check: $400,000 of EUR/GBP at its GBP price would pass as dollars; the paper run caps it as the backtest
    capped = pd.DataFrame({"timestamp": [days[9]], "symbol": ["EUR/GBP"], "target": [440_000.0]})
    universe = bars[bars["symbol"].isin(["EUR/GBP", "GBP/USD"])]
    small = {"initial_cash": 400_000.0}
    b = xl.run_backtest(capped, universe, backtest_cfg.model_copy(update=small))
    p = xl.run_paper(capped, universe, paper_cfg.model_copy(update=small))
    assert p.orders["quantity"].tolist() == b.orders["quantity"].tolist()
    assert p.orders["quantity"].iloc[0] < 440_000.0
