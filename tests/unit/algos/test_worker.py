"""The algorithm worker inside the pipeline: mixed per-symbol algorithms, journaled parents and children, cash that
only realised sells can fund, and ``algo: none`` leaving the run as it was."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import execlab as xl
from execlab._oms.journal import Journal

START = pd.Timestamp("2024-03-05 14:30", tz="UTC")


def bars(symbols: tuple[str, ...] = ("AAA", "BBB")) -> pd.DataFrame:
    rows = []
    for m in range(-10, 20):
        for k, sym in enumerate(symbols):
            px = 50.0 * (k + 1) + 0.05 * m
            rows.append({"ts": START + pd.Timedelta(minutes=m), "symbol": sym, "open": px, "high": px, "low": px,
                         "close": px, "volume": 10_000.0})
    return pd.DataFrame(rows)


def test_a_symbol_set_to_none_is_sent_at_once_the_others_are_worked() -> None:
    cfg = xl.load_config({"venue": {"fill_price": "next_open"}, "execution": {
        "algo": "twap", "horizon": "5min", "slices": 5, "per_symbol": {"BBB": {"algo": "none"}}}})
    result = xl.run_backtest(pd.DataFrame({"AAA": [500.0], "BBB": [300.0]}, index=[START]), bars(), cfg)
    orders = result.orders
    direct = orders[orders["parent_id"].isna()]
    assert direct["symbol"].tolist() == ["BBB"] and direct["quantity"].tolist() == [300.0]
    kids = orders[orders["parent_id"].notna()]
    assert set(kids["symbol"]) == {"AAA"} and kids["quantity"].tolist() == [100.0] * 5
    assert result.final_positions.to_dict() == {"AAA": 500.0, "BBB": 300.0}


def test_paper_journal_holds_one_parent_event_and_children_naming_it() -> None:
    journal = Journal(":memory:")
    cfg = xl.load_config({"mode": "paper", "venue": {"fill_price": "next_open"},
                          "execution": {"algo": "iceberg", "display_size": 150, "horizon": "10min"}})
    xl.run_paper(pd.DataFrame({"AAA": [400.0]}, index=[START]), bars(("AAA",)), cfg, journal=journal)
    parents = journal.events("run", kind="parent")
    assert len(parents) == 1
    payload = json.loads(parents["payload"].iloc[0])
    assert (payload["symbol"], payload["quantity"], payload["algo"]) == ("AAA", 400.0, "iceberg")
    intents = journal.orders("run")
    assert (intents["parent_id"] == parents["client_order_id"].iloc[0]).all()
    assert intents["quantity"].tolist() == [150.0, 150.0, 100.0] and set(intents["algo"]) == {"iceberg"}
    assert intents["filled_quantity"].sum() == pytest.approx(400.0)


def test_buys_wait_for_the_cash_that_sells_realise() -> None:
    """Fully invested in AAA, rotate into BBB: each BBB child is funded only by AAA already sold, never by the AAA
    children still working."""
    buy = pd.DataFrame({"AAA": [1_000.0], "BBB": [0.0]}, index=[START - pd.Timedelta(minutes=10)])
    rotate = pd.DataFrame({"AAA": [0.0], "BBB": [480.0]}, index=[START])
    cfg = xl.load_config({"initial_cash": 50_000.0, "venue": {"fill_price": "next_open"}, "execution": {
        "algo": "twap", "horizon": "5min", "slices": 5}})
    result = xl.run_backtest(pd.concat([buy, rotate]), bars(), cfg)
    assert result.cash.min() >= 0
    orders = result.orders[result.orders["timestamp"] >= START]
    first = orders[orders["timestamp"] == START]
    assert first["side"].tolist() == ["sell", "buy"]  # sells are sized first
    cash_at_start = float(result.cash[result.cash.index < START].iloc[-1])
    bbb_first = float(first.loc[first["symbol"] == "BBB", "quantity"].iloc[0])
    assert bbb_first * 100.0 <= cash_at_start < 96 * 100.0  # the schedule wants 96; the cash funds fewer
    skips = result.algo_skips
    assert ((skips["timestamp"] == START) & skips["reason"].str.startswith("cash")).any()
    assert result.final_positions.to_dict() == {"AAA": 0.0, "BBB": 480.0}


def test_algo_none_is_the_compiled_loop_as_before() -> None:
    targets = pd.DataFrame({"AAA": [500.0], "BBB": [300.0]}, index=[START])
    plain = xl.run_backtest(targets, bars(), xl.load_config({}))
    explicit = xl.run_backtest(targets, bars(), xl.load_config({"execution": {"algo": "none", "slices": 3}}))
    pd.testing.assert_frame_equal(plain.orders, explicit.orders)
    assert "parent_id" not in plain.orders.columns and plain.parents.empty
    with pytest.raises(ValueError, match="compiled"):
        xl.run_backtest(targets, bars(), xl.load_config({"execution": {"algo": "twap"}}), engine="compiled")


def test_the_dashboard_shows_a_working_parents_progress() -> None:
    from execlab.dashboard import load_dashboard_data

    journal = Journal(":memory:")
    cfg = xl.load_config({"mode": "paper", "venue": {"fill_price": "next_open"},
                          "execution": {"algo": "twap", "horizon": "10min", "slices": 5}})
    # the feed stops 4 minutes into the 10-minute horizon: the parent is still working
    feed = bars(("AAA",))
    feed = feed[feed["ts"] <= START + pd.Timedelta(minutes=4)]
    xl.run_paper(pd.DataFrame({"AAA": [500.0]}, index=[START]), feed, cfg, journal=journal)
    row = load_dashboard_data(journal, "run").parents.iloc[0]
    assert (row["algo"], row["symbol"], row["state"], row["children"]) == ("twap", "AAA", "working", 3)
    assert row["filled_quantity"] == 200.0 and row["working_quantity"] == 100.0  # the third child is not filled yet
    assert row["done_pct"] == pytest.approx(40.0) and row["scheduled_pct"] == pytest.approx(60.0)
    plain = Journal(":memory:")
    xl.run_paper(pd.DataFrame({"AAA": [500.0]}, index=[START]), feed, xl.load_config({"mode": "paper"}),
                 journal=plain)
    assert load_dashboard_data(plain, "run").parents.empty
