"""Backtest parity through Interactive Brokers: the same targets, rebalanced by ``execlab rebalance --config
examples/paper_ibkr.yaml`` (ib_async against the local IB venue) and backtested on ``../shared/data`` (AAPL and
MSFT daily bars, EUR.USD, GBP.USD and EUR.GBP bid/ask bars), give the same order table: the same client order ids,
sides, quantities (shares; FX in base-currency units) and statuses, over two rebalances (the second one sells)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import execlab as xl
from execlab._cli.main import app
from execlab._core.ids import rebalance_key
from execlab._data.fx import quote_bars
from execlab._oms.journal import Journal
from execlab.venues.ibkr import IBVenue

from helpers.ibkr import held
from helpers.paths import EXAMPLES, SHARED_DATA

pytestmark = [pytest.mark.shared_data, pytest.mark.local_venue]

STOCKS = SHARED_DATA / "sp500_daily_2013_2018.parquet"
FX = SHARED_DATA / "fx_daily_oanda.parquet"
DAYS = ("2018-02-05", "2018-02-06")
TARGETS = ({"AAPL": 100.0, "MSFT": 40.0, "EUR.USD": 25_000.0, "GBP.USD": 10_000.0, "EUR.GBP": 5_000.0},
           {"AAPL": 60.0, "MSFT": 55.0, "EUR.USD": 10_000.0, "GBP.USD": 10_000.0, "EUR.GBP": 8_000.0})
COMPARED = ["symbol", "side", "quantity", "status"]


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    """AAPL and MSFT, and the three pairs named as IB writes them, over the weeks before the rebalances."""
    if not (STOCKS.is_file() and FX.is_file()):
        pytest.skip(f"{STOCKS} or {FX} is absent")
    stocks = pd.read_parquet(STOCKS, filters=[("symbol", "in", ["AAPL", "MSFT"]), ("date", ">=", pd.Timestamp(
        "2018-01-02"))]).rename(columns={"date": "timestamp"})
    fx = pd.read_parquet(FX, filters=[("symbol", "in", ["EUR/USD", "GBP/USD", "EUR/GBP"])])
    fx = quote_bars(fx[(fx["date"] >= "2018-01-02") & (fx["date"] <= stocks["timestamp"].max())])
    fx["symbol"] = fx["symbol"].str.replace("/", ".")
    fx["volume"] = 1e12  # FX bars have no volume: no participation cap binds
    out = pd.concat([stocks.astype({"volume": float}), fx], ignore_index=True)
    return out.sort_values(["timestamp", "symbol"]).reset_index(drop=True)


@pytest.fixture
def venue() -> Iterator[IBVenue]:
    with IBVenue(cash={"USD": 1_000_000.0, "GBP": 100_000.0}) as v:
        yield v


def _quote(venue: IBVenue, bars: pd.DataFrame, day: str) -> dict[str, float]:
    """Quote the venue at ``day``'s closes (FX: its bid and ask; stocks: a cent either side); the closes price the
    plan."""
    rows = bars[bars["timestamp"] == pd.Timestamp(day)].set_index("symbol")
    for symbol, row in rows.iterrows():
        close = float(row["close"])
        bid, ask = (float(row["bid"]), float(row["ask"])) if pd.notna(row.get("bid")) else (close - 0.01, close + 0.01)
        venue.set_quote(str(symbol), bid, ask)
    return {str(s): float(c) for s, c in rows["close"].items()}


def test_the_example_config_gives_the_backtests_order_table(venue: IBVenue, bars: pd.DataFrame, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECLAB_IB_PORT", str(venue.port))
    config = xl.load_config(EXAMPLES / "paper_ibkr.yaml")
    runner = CliRunner()
    for day, targets in zip(DAYS, TARGETS, strict=True):
        prices = _quote(venue, bars, day)
        (tmp_path / "t.csv").write_text("symbol,target\n" + "".join(f"{s},{q}\n" for s, q in targets.items()))
        (tmp_path / "p.csv").write_text("symbol,price\n" + "".join(f"{s},{prices[s]}\n" for s in targets))
        done = runner.invoke(app, ["rebalance", "--config", str(EXAMPLES / "paper_ibkr.yaml"), "--targets",
                                   str(tmp_path / "t.csv"), "--prices", str(tmp_path / "p.csv"), "--journal",
                                   str(tmp_path / "j.sqlite"), "--as-of", rebalance_key(pd.Timestamp(day)),
                                   "--timeout", "20"])
        assert done.exit_code == 0, done.output
        assert held(venue) == {s: q for s, q in targets.items() if q}

    frame = pd.DataFrame([{"timestamp": pd.Timestamp(d), "symbol": s, "target": q}
                          for d, t in zip(DAYS, TARGETS, strict=True) for s, q in t.items()])
    backtest = xl.run_backtest(frame, bars, xl.Config.from_mapping(
        {**config.model_dump(mode="json", exclude={"broker"}), "mode": "backtest"}))
    expected = backtest.orders.set_index("client_order_id")[COMPARED]
    with closing(Journal(tmp_path / "j.sqlite")) as journal:
        live = journal.orders(config.run_id).set_index("client_order_id")[COMPARED]
    assert sorted(live.index) == sorted(expected.index)  # the same deterministic ids, no more, no fewer
    assert len(live) == 9 and set(live["side"]) == {"buy", "sell"}
    pd.testing.assert_frame_equal(live.loc[expected.index].astype(str), expected.astype(str), check_dtype=False)
    assert set(live["status"]) == {"filled"}
    assert sorted(venue.stats()["order_attempts"].values()) == [1] * 9
