"""An FX rebalance of EUR/USD, GBP/USD, NZD/USD and the cross EUR/GBP through oandapyV20 and the local v20 venue,
against the backtest of the same targets on ``../shared/data/fx_daily_oanda.parquet`` (bid/ask bars: buys at the
ask, sells at the bid): the same plan, the same fill prices, the cross's P&L in GBP converted to USD."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import execlab as xl
from execlab._brokers.executor import BrokerExecutor
from execlab._cli.main import app
from execlab._data.fx import home_prices, quote_bars
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance
from execlab.adapters.oanda import OandaAdapter
from execlab.venues.oanda import OandaVenue

from helpers.paths import SHARED_DATA

pytestmark = [pytest.mark.shared_data, pytest.mark.local_venue]

DATA = SHARED_DATA / "fx_daily_oanda.parquet"
PAIRS = ("EUR/USD", "GBP/USD", "NZD/USD", "EUR/GBP")


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    if not DATA.is_file():
        pytest.skip(f"{DATA} is absent")
    frame = pd.read_parquet(DATA)
    return quote_bars(frame[frame["date"] >= "2018-09-01"])


def quotes_on(bars: pd.DataFrame, day: pd.Timestamp) -> dict[str, tuple[float, float]]:
    rows = bars[bars["timestamp"] == day].set_index("symbol")
    return {s: (float(rows.at[s, "bid"]), float(rows.at[s, "ask"])) for s in PAIRS}


def last_quotes(bars: pd.DataFrame) -> tuple[pd.Timestamp, dict[str, float], dict[str, tuple[float, float]]]:
    """The decision day (the day before the last: its mids price the plan) and the last day's (bid, ask), where
    the backtest fills the decision's orders and where the venue is quoted."""
    days = sorted(bars["timestamp"].unique())
    decided = quotes_on(bars, days[-2])
    return pd.Timestamp(days[-2]), {s: (b + a) / 2 for s, (b, a) in decided.items()}, quotes_on(bars, days[-1])


@pytest.fixture
def venue(bars: pd.DataFrame) -> Iterator[OandaVenue]:
    _, _, quotes = last_quotes(bars)
    with OandaVenue(balance=1_000_000.0, quotes={s.replace("/", "_"): q for s, q in quotes.items()}) as v:
        yield v


def config(mode: str, unit: str, **extra: Any) -> xl.Config:
    return xl.Config.from_mapping({"mode": mode, "run_id": "fx", "initial_cash": 1_000_000.0,
                                   "plan": {"target_unit": unit, "allow_short": True},
                                   "venue": {"fill_price": "quote", "slippage": {"model": "half_spread"}},
                                   **extra})


def paper(venue: OandaVenue, tmp_path: Any, targets: dict[str, float], prices: dict[str, float], unit: str,
          as_of: str) -> pd.DataFrame:
    """Rebalance to ``targets`` through oandapyV20 and the venue; the journal's fills (journal: ``<unit>.sqlite``)."""
    adapter = OandaAdapter(venue.token, base_url=venue.base_url)
    journal = Journal(tmp_path / f"{unit}.sqlite")
    try:
        cfg = config("paper", unit, broker={"name": "oanda", "base_url": venue.base_url})
        executor = BrokerExecutor(adapter, journal, cfg.run_id, (), config=cfg.broker)
        result = run_live_rebalance(targets, prices, cfg, executor, journal, as_of, timeout=30.0)
        assert result.complete
        fills = journal.fills(cfg.run_id)
    finally:
        adapter.close()
        journal.close()
    return fills


def signed(frame: pd.DataFrame) -> dict[str, float]:
    """Net signed quantity per symbol."""
    side = frame["side"].astype(str).str.lower().map({"buy": 1.0, "sell": -1.0}).astype(float)
    qty = side * frame["quantity"].astype(float)
    return {str(k): float(v) for k, v in qty.groupby(frame["symbol"].astype(str)).sum().items()}


def test_unit_targets_trade_as_the_backtest_does(venue: OandaVenue, bars: pd.DataFrame, tmp_path: Any) -> None:
    day, mids, quotes = last_quotes(bars)
    targets = {"EUR/USD": 100_000.0, "GBP/USD": -50_000.0, "NZD/USD": 80_000.0, "EUR/GBP": 30_000.0}
    fills = paper(venue, tmp_path, targets, mids, "shares", str(day.date()))
    frame = pd.DataFrame({"timestamp": [day] * 4, "symbol": list(targets), "target": list(targets.values())})
    backtest = xl.run_backtest(frame, bars, config("backtest", "shares"))
    assert signed(fills) == signed(backtest.fills) == targets
    paid = {str(k): float(v) for k, v in zip(fills["symbol"], fills["price"], strict=True)}
    tested = {str(k): float(v) for k, v in zip(backtest.fills["symbol"], backtest.fills["price"], strict=True)}
    assert paid == pytest.approx(tested, abs=1e-12)
    for symbol, units in targets.items():  # buys at the ask, sells at the bid
        assert paid[symbol] == quotes[symbol][1 if units > 0 else 0]
    held = OandaAdapter(venue.token, base_url=venue.base_url)._positions()
    assert held == targets


def test_home_currency_notional_targets_give_the_backtest_plan(venue: OandaVenue, bars: pd.DataFrame,
                                                                tmp_path: Any) -> None:
    """USD notional per pair, given the pairs' own prices: the plan (``make_plan``), the rebalance through the venue
    and the backtest of the same notional targets size EUR/GBP by its GBP price times GBP/USD (not by the GBP price
    read as USD)."""
    day, mids, _ = last_quotes(bars)
    notional = {"EUR/USD": 200_000.0, "GBP/USD": -100_000.0, "NZD/USD": 50_000.0, "EUR/GBP": 150_000.0}
    plan = xl.make_plan(notional, {}, mids, cash=1_000_000.0, config=config("backtest", "notional"))
    units = {str(s): float(q) for s, q in plan.orders["order_qty"].items()}
    # Whole units (the default FX lot): within one unit of notional / (EUR/GBP × GBP/USD); read as USD the GBP price
    # would size some 40,000 units more.
    assert units["EUR/GBP"] == pytest.approx(150_000 / (mids["EUR/GBP"] * mids["GBP/USD"]), abs=1.0)
    assert units["EUR/USD"] == pytest.approx(200_000 / mids["EUR/USD"], abs=1.0)
    assert plan.orders.at["EUR/GBP", "notional"] == pytest.approx(150_000.0, rel=1e-4)  # in USD
    assert home_prices(mids)["EUR/GBP"] == pytest.approx(mids["EUR/GBP"] * mids["GBP/USD"], rel=1e-12)
    fills = paper(venue, tmp_path, notional, mids, "notional", str(day.date()))
    assert signed(fills) == units
    frame = pd.DataFrame({"timestamp": [day] * 4, "symbol": list(notional), "target": list(notional.values())})
    backtest = xl.run_backtest(frame, bars, config("backtest", "notional"))
    assert signed(backtest.fills) == units
    steps = xl.run_backtest(frame, bars, config("backtest", "notional"), engine="steps")
    assert signed(steps.fills) == units


def test_cross_pl_is_in_gbp_converted_to_usd(venue: OandaVenue, bars: pd.DataFrame, tmp_path: Any) -> None:
    day, mids, quotes = last_quotes(bars)
    paper(venue, tmp_path, {"EUR/GBP": 40_000.0}, mids, "shares", str(day.date()))
    bid, ask = quotes["EUR/GBP"]
    venue.set_quote("EUR_GBP", bid + 0.002, ask + 0.002)
    adapter = OandaAdapter(venue.token, base_url=venue.base_url)
    gbp_usd = sum(quotes["GBP/USD"]) / 2  # the venue's rate now
    mark = (bid + ask) / 2 + 0.002  # the kit's account marks at the mid
    assert adapter._account().equity == pytest.approx(1_000_000 + 40_000 * (mark - ask) * gbp_usd, abs=0.01)
    adapter.close()


def test_tca_of_the_journal_converts_the_cross_at_the_venues_rates(venue: OandaVenue, bars: pd.DataFrame,
                                                                    tmp_path: Any) -> None:
    """The venue's ``homeConversionFactors`` of each fill are journaled (``quote_rate``); TCA converts EUR/GBP's
    costs and notionals in GBP to USD with them, and leaves the USD-quoted pairs as they are."""
    day, mids, quotes = last_quotes(bars)
    targets = {"EUR/USD": 100_000.0, "EUR/GBP": 60_000.0}
    fills = paper(venue, tmp_path, targets, mids, "shares", str(day.date()))
    gbp_usd = sum(quotes["GBP/USD"]) / 2  # the venue converts at the GBP/USD mid
    rates = dict(zip(fills["symbol"], fills["quote_rate"], strict=True))
    assert rates["EUR/GBP"] == pytest.approx(gbp_usd, abs=1e-8)
    assert rates["EUR/USD"] == pytest.approx(1.0)
    journal = Journal(tmp_path / "shares.sqlite")
    try:
        tca = xl.tca_from_journal(journal, "fx")
    finally:
        journal.close()
    orders = tca.orders.set_index("symbol")
    for symbol, rate in (("EUR/GBP", gbp_usd), ("EUR/USD", 1.0)):
        row = orders.loc[symbol]
        assert row["quote_rate"] == pytest.approx(rate, abs=1e-8)
        in_quote = row["filled_quantity"] * (row["fill_vwap"] - row["arrival_price"])  # buys
        assert row["execution_cost"] == pytest.approx(in_quote * rate, rel=1e-9, abs=1e-9)
        assert row["decision_notional"] == pytest.approx(row["quantity"] * row["decision_price"] * rate, rel=1e-12)
    cross = orders.loc["EUR/GBP"]
    assert cross["fill_vwap"] == quotes["EUR/GBP"][1]  # bought at the ask, in GBP
    assert tca.summary()["decision_notional"] == pytest.approx(
        100_000 * orders.at["EUR/USD", "decision_price"] + 60_000 * cross["decision_price"] * gbp_usd, rel=1e-12)


def test_daily_financing_is_booked_journaled_and_shown_by_tca(venue: OandaVenue, bars: pd.DataFrame,
                                                               tmp_path: Any) -> None:
    """A rollover books one v20 ``DAILY_FINANCING`` transaction (a ``positionFinancings`` entry per open position,
    in USD: EUR/GBP's GBP financing at GBP/USD); the next rebalance's journal records each as a charge once, and TCA
    shows them as financing."""
    day, mids, quotes = last_quotes(bars)
    targets = {"EUR/USD": 100_000.0, "GBP/USD": -50_000.0, "EUR/GBP": 60_000.0}
    paper(venue, tmp_path, targets, mids, "shares", str(day.date()))
    assert venue.transactions()[-1]["type"] != "DAILY_FINANCING"
    before = OandaAdapter(venue.token, base_url=venue.base_url)._account().cash
    txn = venue.rollover()
    assert txn is not None and txn["type"] == "DAILY_FINANCING" and txn["accountFinancingMode"] == "DAILY"
    entries = {e["instrument"]: e for e in txn["positionFinancings"]}
    assert set(entries) == {"EUR_USD", "GBP_USD", "EUR_GBP"}
    mid = {s: sum(q) / 2 for s, q in quotes.items()}
    expected = {"EUR_USD": -100_000 * mid["EUR/USD"] * 0.02 / 365,  # longs pay 2 % a year, shorts 1 % (the venue's)
                "GBP_USD": -50_000 * mid["GBP/USD"] * 0.01 / 365,
                "EUR_GBP": -60_000 * mid["EUR/GBP"] * 0.02 / 365 * mid["GBP/USD"]}
    for name, amount in expected.items():
        assert float(entries[name]["financing"]) == pytest.approx(amount, abs=1e-4)
    total = float(txn["financing"])
    assert total == pytest.approx(sum(expected.values()), abs=3e-4) and total < 0
    adapter = OandaAdapter(venue.token, base_url=venue.base_url)
    try:
        assert adapter._account().cash == pytest.approx(before + total, abs=1e-6)
    finally:
        adapter.close()
    # The next rebalance (nothing to trade) journals the financing; a second one adds nothing.
    paper(venue, tmp_path, targets, mids, "shares", str((day + pd.Timedelta(days=1)).date()))
    paper(venue, tmp_path, targets, mids, "shares", str((day + pd.Timedelta(days=2)).date()))
    journal = Journal(tmp_path / "shares.sqlite")
    try:
        charges = journal.charges()
        tca = xl.tca_from_journal(journal, "fx")
    finally:
        journal.close()
    assert len(charges) == 3 and set(charges["kind"]) == {"financing"}
    booked = dict(zip(charges["symbol"], charges["amount"], strict=True))
    assert booked == pytest.approx({k.replace("_", "/"): float(entries[k]["financing"]) for k in entries})
    assert tca.summary()["financing"] == pytest.approx(-total, abs=1e-9)
    assert tca.financing().loc["EUR/GBP", "financing"] == pytest.approx(-float(entries["EUR_GBP"]["financing"]))
    shown = CliRunner().invoke(app, ["tca", "--journal", str(tmp_path / "shares.sqlite"), "--run-id", "fx"])
    assert shown.exit_code == 0, shown.output
    assert f"financing (holding cost, not in the shortfall): {-total:,.2f}" in shown.output
    assert "EUR/GBP" in shown.output.split("financing (holding cost")[1]
