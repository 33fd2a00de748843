"""Transaction-cost analysis against examples worked out by hand (each written out in the comments)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

import execlab as xl
from execlab._analysis.tca import TcaError, TcaResult, tca_from_backtest, tca_from_journal, transaction_costs
from execlab._oms.journal import Intent, Journal, JournalFill

# Two days of bars. Typical price (h + l + c) / 3:
#   X 01-02: (10.8 + 9.9 + 10.5) / 3 = 10.4, volume 1000     X 01-03: (11.1 + 10.2 + 10.8) / 3 = 10.7, volume 3000
#   Y 01-02: (21.0 + 19.5 + 20.1) / 3 = 20.2, volume  500     Y 01-03: (20.4 + 19.2 + 19.5) / 3 = 19.7, volume  500
BARS = pd.DataFrame({
    "timestamp": pd.to_datetime(["2024-01-02", "2024-01-02", "2024-01-03", "2024-01-03"]),
    "symbol": ["X", "Y", "X", "Y"],
    "open": [10.0, 20.0, 10.6, 20.0],
    "high": [10.8, 21.0, 11.1, 20.4],
    "low": [9.9, 19.5, 10.2, 19.2],
    "close": [10.5, 20.1, 10.8, 19.5],
    "volume": [1000.0, 500.0, 3000.0, 500.0],
})


def _orders() -> pd.DataFrame:
    return pd.DataFrame({
        "client_order_id": ["A", "B", "C", "D"],
        "symbol": ["X", "Y", "X", "X"],
        "side": ["buy", "sell", "buy", "sell"],
        "quantity": [100.0, 50.0, 200.0, 30.0],
        "decision_price": [10.0, 20.0, 10.0, 10.0],
        "arrival_price": [10.05, np.nan, 10.0, np.nan],
        "timestamp": pd.to_datetime(["2024-01-02 10:00", "2024-01-02 10:00", "2024-01-02 10:00",
                                     "2024-01-03 09:00"]),
        "status": ["filled", "filled", "cancelled", "cancelled"],
        "venue": ["sim", "sim", "sim", "sim"],
    })


def _fills() -> pd.DataFrame:
    return pd.DataFrame({
        "client_order_id": ["A", "B", "C", "C"],
        "timestamp": pd.to_datetime(["2024-01-02 11:00", "2024-01-02 11:00", "2024-01-02 12:00",
                                     "2024-01-03 10:00"]),
        "quantity": [100.0, 50.0, 60.0, 20.0],
        "price": [10.10, 19.90, 10.20, 10.40],
        "fee": [1.0, 0.5, 0.3, 0.1],
    })


@pytest.fixture
def tca() -> TcaResult:
    return transaction_costs(_orders(), _fills(), BARS, mode="paper")


def _row(result: TcaResult, coid: str) -> pd.Series:
    return result.orders.set_index("client_order_id").loc[coid]


def test_full_fill_buy(tca: TcaResult) -> None:
    # A: buy 100 X, decided at 10.00, arrived at 10.05, filled 100 @ 10.10, fee 1.00.
    #   delay       = 100 · (10.05 − 10.00) = 5.00
    #   execution   = 100 · (10.10 − 10.05) = 5.00
    #   fees        = 1.00, opportunity = 0 (all filled)
    #   shortfall   = 11.00 = 110 bps of the 1 000 decision notional
    #   vs arrival  = (10.10 − 10.05) / 10.05 = 49.7512 bps
    #   interval    = the 01-02 bar only (decision 10:00 .. last fill 11:00): VWAP 10.4 → (10.10 − 10.4) / 10.4
    #               = −288.4615 bps; close of the decision day 10.5 → −380.9524 bps; participation 100 / 1000 = 0.1
    a = _row(tca, "A")
    assert a["fill_vwap"] == pytest.approx(10.10)
    assert a["delay_cost"] == pytest.approx(5.0)
    assert a["execution_cost"] == pytest.approx(5.0)
    assert a["fees"] == pytest.approx(1.0) and a["fee_cost"] == pytest.approx(1.0)
    assert a["opportunity_cost"] == 0.0
    assert a["shortfall"] == pytest.approx(11.0)
    assert a["shortfall_bps"] == pytest.approx(110.0)
    assert a["slippage_arrival_bps"] == pytest.approx(49.7512, abs=1e-4)
    assert a["interval_vwap"] == pytest.approx(10.4)
    assert a["slippage_vwap_bps"] == pytest.approx(-288.4615, abs=1e-4)
    assert a["close_price"] == pytest.approx(10.5)
    assert a["slippage_close_bps"] == pytest.approx(-380.9524, abs=1e-4)
    assert a["participation"] == pytest.approx(0.1)
    assert a["arrival_source"] == "given"
    assert (a["mode"], a["venue"], a["day"]) == ("paper", "sim", pd.Timestamp("2024-01-02"))


def test_sell_without_arrival_price_falls_back_to_decision(tca: TcaResult) -> None:
    # B: sell 50 Y, decided at 20.00, no arrival price (so 20.00, and no delay), filled 50 @ 19.90, fee 0.50.
    #   execution   = −1 · 50 · (19.90 − 20.00) = 5.00 (a sell below arrival is a cost)
    #   shortfall   = 5.50 = 55 bps of 1 000
    #   vs VWAP 20.2: −(19.90 − 20.2) / 20.2 = 148.5149 bps; vs close 20.1: −(19.90 − 20.1) / 20.1 = 99.5025 bps
    b = _row(tca, "B")
    assert b["arrival_price"] == 20.0 and b["arrival_source"] == "decision_price"
    assert b["delay_cost"] == 0.0
    assert b["execution_cost"] == pytest.approx(5.0)
    assert b["shortfall"] == pytest.approx(5.5)
    assert b["shortfall_bps"] == pytest.approx(55.0)
    assert b["slippage_arrival_bps"] == pytest.approx(50.0)
    assert b["slippage_vwap_bps"] == pytest.approx(148.5149, abs=1e-4)
    assert b["slippage_close_bps"] == pytest.approx(99.5025, abs=1e-4)
    assert any("no arrival price" in n for n in tca.notes)


def test_partial_fill_with_cancelled_remainder(tca: TcaResult) -> None:
    # C: buy 200 X at decision 10.00 = arrival; fills 60 @ 10.20 (01-02) and 20 @ 10.40 (01-03), fees 0.30 + 0.10,
    # then the remaining 120 are cancelled.
    #   fill VWAP   = (60 · 10.20 + 20 · 10.40) / 80 = (612 + 208) / 80 = 10.25
    #   delay       = 80 · (10.00 − 10.00) = 0
    #   execution   = 80 · (10.25 − 10.00) = 20.00
    #   fees        = 0.40
    #   opportunity = 120 · (P_end − 10.00), P_end = close of the day the order ended (01-03, its last fill) = 10.8
    #               = 120 · 0.80 = 96.00
    #   shortfall   = 116.40 = 582 bps of the 2 000 decision notional
    #   interval    = bars 01-02 and 01-03: (10.4 · 1000 + 10.7 · 3000) / 4000 = 42 500 / 4 000 = 10.625
    #               → (10.25 − 10.625) / 10.625 = −352.9412 bps; decision-day close 10.5 → −238.0952 bps
    #   participation = 80 / 4000 = 0.02
    c = _row(tca, "C")
    assert c["filled_quantity"] == 80.0 and c["unfilled_quantity"] == 120.0 and c["fill_count"] == 2
    assert c["fill_vwap"] == pytest.approx(10.25)
    assert c["delay_cost"] == 0.0
    assert c["execution_cost"] == pytest.approx(20.0)
    assert c["fees"] == pytest.approx(0.4)
    assert c["end_price"] == pytest.approx(10.8) and c["end_price_source"] == "close"
    assert c["opportunity_cost"] == pytest.approx(96.0)
    assert c["shortfall"] == pytest.approx(116.4)
    assert c["shortfall_bps"] == pytest.approx(582.0)
    assert c["interval_vwap"] == pytest.approx(10.625)
    assert c["slippage_vwap_bps"] == pytest.approx(-352.9412, abs=1e-4)
    assert c["slippage_close_bps"] == pytest.approx(-238.0952, abs=1e-4)
    assert c["participation"] == pytest.approx(0.02)


def test_unfilled_sell_opportunity_is_a_gain_when_price_rises(tca: TcaResult) -> None:
    # D: sell 30 X decided on 01-03 at 10.00, never filled. Close of 01-03 is 10.80:
    #   opportunity = −1 · 30 · (10.80 − 10.00) = −24.00 (not selling before a rise saved money)
    #   shortfall   = −24.00 = −800 bps of 300; no fill, so no slippage figures
    d = _row(tca, "D")
    assert d["filled_quantity"] == 0.0 and np.isnan(d["fill_vwap"])
    assert d["opportunity_cost"] == pytest.approx(-24.0)
    assert d["shortfall"] == pytest.approx(-24.0)
    assert d["shortfall_bps"] == pytest.approx(-800.0)
    assert np.isnan(d["slippage_arrival_bps"]) and np.isnan(d["slippage_vwap_bps"])


def test_end_price_without_bars_is_the_last_fill_then_arrival() -> None:
    # Without bars: C's remainder is valued at its last fill, 10.40: 120 · 0.40 = 48.00;
    # D never filled and has no arrival price, so P_end = arrival = decision and the opportunity cost is 0.
    result = transaction_costs(_orders(), _fills())
    c, d = _row(result, "C"), _row(result, "D")
    assert c["end_price_source"] == "last_fill" and c["opportunity_cost"] == pytest.approx(48.0)
    assert d["end_price_source"] == "arrival_price" and d["opportunity_cost"] == 0.0
    assert np.isnan(c["interval_vwap"]) and np.isnan(c["close_price"]) and np.isnan(c["participation"])
    assert (result.orders["mode"] == "unknown").all()


def test_fills_table_has_slippage_against_arrival(tca: TcaResult) -> None:
    # C's fills against arrival 10.00: 60 @ 10.20 → 200 bps, 20 @ 10.40 → 400 bps.
    f = tca.fills[tca.fills["client_order_id"] == "C"]
    assert list(f["slippage_arrival_bps"]) == pytest.approx([200.0, 400.0])
    assert list(f["notional"]) == pytest.approx([612.0, 208.0])
    assert set(f["symbol"]) == {"X"} and set(f["side"]) == {"buy"}
    assert len(tca.fills) == 4


def test_by_symbol_by_hand(tca: TcaResult) -> None:
    # X = A + C + D: decision notional 1 000 + 2 000 + 300 = 3 300; shortfall 11 + 116.4 − 24 = 103.4
    #   → 103.4 / 3 300 = 313.3333 bps
    #   vs arrival: Σ s·q·(P_f − P_a) / Σ q·P_a = (5 + 20) / (100 · 10.05 + 80 · 10.00) = 25 / 1 805 = 138.5042 bps
    #   fill rate: (100 · 10 + 80 · 10 + 0) / 3 300 = 0.545454...
    # Y = B: 5.5 → 55 bps
    by = tca.by("symbol").set_index("symbol")
    assert list(by.index) == ["X", "Y"]
    x = by.loc["X"]
    assert x["orders"] == 3 and x["fills"] == 3
    assert x["decision_notional"] == pytest.approx(3300.0)
    assert x["delay_cost"] == pytest.approx(5.0)
    assert x["execution_cost"] == pytest.approx(25.0)
    assert x["fee_cost"] == pytest.approx(1.4)
    assert x["opportunity_cost"] == pytest.approx(72.0)
    assert x["shortfall"] == pytest.approx(103.4)
    assert x["shortfall_bps"] == pytest.approx(313.3333, abs=1e-4)
    assert x["slippage_arrival_bps"] == pytest.approx(138.5042, abs=1e-4)
    assert x["fill_rate"] == pytest.approx(1800.0 / 3300.0)
    assert by.loc["Y", "shortfall_bps"] == pytest.approx(55.0)


def test_by_day_and_side_by_hand(tca: TcaResult) -> None:
    # (01-02, buy) = A + C: 127.4 / 3 000 = 424.6667 bps; (01-02, sell) = B: 55 bps; (01-03, sell) = D: −800 bps
    by = tca.by("day", "side").set_index(["day", "side"])
    assert len(by) == 3
    assert by.loc[(pd.Timestamp("2024-01-02"), "buy"), "shortfall"] == pytest.approx(127.4)
    assert by.loc[(pd.Timestamp("2024-01-02"), "buy"), "shortfall_bps"] == pytest.approx(424.6667, abs=1e-4)
    assert by.loc[(pd.Timestamp("2024-01-02"), "sell"), "shortfall_bps"] == pytest.approx(55.0)
    assert by.loc[(pd.Timestamp("2024-01-03"), "sell"), "shortfall_bps"] == pytest.approx(-800.0)


def test_summary_adds_up(tca: TcaResult) -> None:
    # Everything: shortfall 11 + 5.5 + 116.4 − 24 = 108.9 over 1 000 + 1 000 + 2 000 + 300 = 4 300 of decision
    # notional = 253.2558 bps
    s = tca.summary()
    assert s["orders"] == 4 and s["fills"] == 4
    assert s["shortfall"] == pytest.approx(108.9)
    assert s["shortfall_bps"] == pytest.approx(253.2558, abs=1e-4)
    assert s["shortfall"] == pytest.approx(s["delay_cost"] + s["execution_cost"] + s["fee_cost"]
                                           + s["opportunity_cost"])
    by_mode = tca.by("mode")
    assert list(by_mode["mode"]) == ["paper"] and by_mode["shortfall"].iloc[0] == pytest.approx(108.9)
    assert "TcaResult(orders=4" in repr(tca)
    assert list(tca.worst(2)["client_order_id"]) == ["C", "A"]


def test_fee_column_is_optional() -> None:
    result = transaction_costs(_orders(), _fills().drop(columns=["fee"]))
    assert result.summary()["fees"] == 0.0


def test_polars_input_gives_the_same_numbers(tca: TcaResult) -> None:
    result = transaction_costs(pl.from_pandas(_orders()), pl.from_pandas(_fills()), pl.from_pandas(BARS),
                               mode="paper")
    cols = ["shortfall", "delay_cost", "execution_cost", "opportunity_cost", "slippage_vwap_bps"]
    pd.testing.assert_frame_equal(result.orders[cols], tca.orders[cols])


def test_timezone_aware_times_compare_with_naive_bars() -> None:
    orders = _orders()
    orders["timestamp"] = orders["timestamp"].dt.tz_localize("UTC")
    fills = _fills()
    fills["timestamp"] = fills["timestamp"].dt.tz_localize("UTC")
    result = transaction_costs(orders, fills, BARS)
    assert _row(result, "C")["interval_vwap"] == pytest.approx(10.625)
    # the day is the calendar date in the timestamps' own zone, without it, so days of different sources compare
    assert _row(result, "C")["day"] == pd.Timestamp("2024-01-02")
    assert result.orders["timestamp"].dt.tz is not None


def test_naive_daily_bars_are_on_the_orders_local_calendar() -> None:
    # D decided at 20:00 New York time on 01-02 — already 01:00 UTC on 01-03. Daily bars are labelled by local date,
    # so its decision-day close is 01-02's 10.5 (not 01-03's 10.8), and its interval is the 01-02 bar.
    orders = _orders().iloc[[3]].assign(timestamp=pd.Timestamp("2024-01-02 20:00", tz="America/New_York"))
    row = transaction_costs(orders, _fills().iloc[:0], BARS).orders.iloc[0]
    assert row["day"] == pd.Timestamp("2024-01-02")
    assert row["close_price"] == pytest.approx(10.5) and row["interval_vwap"] == pytest.approx(10.4)
    # the same bars with a zone: 01-02 00:00 New York .. the order is inside 01-02's bar either way
    aware = BARS.assign(timestamp=BARS["timestamp"].dt.tz_localize("America/New_York"))
    row = transaction_costs(orders, _fills().iloc[:0], aware).orders.iloc[0]
    assert row["close_price"] == pytest.approx(10.5) and row["interval_vwap"] == pytest.approx(10.4)


@pytest.mark.parametrize(("where", "change", "message"), [
    ("orders", lambda o, f: (o.drop(columns=["decision_price"]), f), r"orders: missing columns \['decision_price'\]"),
    ("fills", lambda o, f: (o, f.drop(columns=["price"])), r"fills: missing columns \['price'\]"),
    ("orders", lambda o, f: (o.assign(quantity=[100.0, -50.0, 200.0, 30.0]), f), r"orders row 1 .*'B'.*quantity"),
    ("orders", lambda o, f: (o.assign(side=["buy", "short", "buy", "sell"]), f), r"orders row 1 .*'B'.*side"),
    ("orders", lambda o, f: (o.assign(client_order_id=["A", "B", "A", "D"]), f), r"orders row 2 .*duplicate"),
    ("orders", lambda o, f: (o.assign(decision_price=[10.0, np.nan, 10.0, 10.0]), f), r"'B'.*decision_price"),
    ("fills", lambda o, f: (o, f.assign(client_order_id=["A", "B", "C", "Z"])), r"fills row 3 .*'Z'.*not in the"),
    ("fills", lambda o, f: (o, f.assign(quantity=[100.0, 50.0, 0.0, 20.0])), r"fills row 2 .*'C'.*quantity"),
    ("fills", lambda o, f: (o, f.assign(quantity=[100.0, 50.0, 60.0, 150.0])), r"order 'C' is overfilled"),
    ("fills", lambda o, f: (o, f.assign(price=[10.1, -1.0, 10.2, 10.4])), r"fills row 1 .*'B'.*price"),
    ("orders", lambda o, f: (o.assign(filled_quantity=[100.0, 50.0, 90.0, 0.0]), f), r"'C'.*filled_quantity 90"),
])
def test_bad_input_names_the_row(where: str, change: object, message: str) -> None:
    orders, fills = change(_orders(), _fills())  # type: ignore[operator]
    with pytest.raises(TcaError, match=message):
        transaction_costs(orders, fills)


def test_bad_group_key() -> None:
    with pytest.raises(TcaError, match="unknown keys"):
        transaction_costs(_orders(), _fills()).by("desk")


def test_tca_error_is_a_value_error() -> None:
    assert issubclass(TcaError, ValueError)


# ------------------------------------------------------------------------------------------------ adapters


def test_backtest_adapter_arrival_is_the_next_open() -> None:
    # One symbol, three daily bars. The target of 100 shares is decided at 01-02's close (10.0); with
    # fill_price next_open the order becomes eligible at 01-03 and its model price there is the open, 10.2.
    # fixed_bps slippage of 50 bps fills it at 10.2 · 1.005 = 10.251; fees 10 bps of 1 025.10 = 1.0251.
    #   delay     = 100 · (10.2 − 10.0) = 20.00   (the overnight gap)
    #   execution = 100 · (10.251 − 10.2) = 5.10  (the slippage model, = the backtest's slippage cost)
    #   shortfall = 20 + 5.10 + 1.0251 = 26.1251
    bars = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"]),
                         "symbol": "X", "open": [9.9, 10.2, 10.4], "high": [10.1, 10.5, 10.6],
                         "low": [9.8, 10.1, 10.3], "close": [10.0, 10.3, 10.5], "volume": 1e6})
    targets = pd.DataFrame({"X": [100.0]}, index=pd.to_datetime(["2024-01-02"]))
    cfg = xl.Config.from_mapping({"venue": {"fill_price": "next_open",
                                            "slippage": {"model": "fixed_bps", "bps": 50},
                                            "fees": {"model": "bps", "bps": 10}}})
    result = xl.run_backtest(targets, bars, cfg)
    tca = tca_from_backtest(result)
    row = tca.orders.iloc[0]
    assert row["arrival_price"] == pytest.approx(10.2) and row["arrival_source"] == "model_price"
    assert row["delay_cost"] == pytest.approx(20.0)
    assert row["execution_cost"] == pytest.approx(5.10)
    assert row["execution_cost"] == pytest.approx(result.costs["slippage"])
    assert row["fees"] == pytest.approx(1.0251)
    assert row["shortfall"] == pytest.approx(26.1251)
    assert (row["mode"], row["venue"]) == ("backtest", "sim")
    assert "reference_price" in tca.fills.columns


def test_backtest_adapter_close_fills_have_no_delay() -> None:
    bars = xl.sample_bars()
    bars = bars[(bars["timestamp"] >= "2012-01-01") & (bars["timestamp"] < "2012-04-01")]
    times = sorted(bars["timestamp"].unique())[::10]
    targets = pd.DataFrame({"AAPL": 0.3, "MSFT": 0.3}, index=times)
    targets.iloc[1::2] = 0.1
    cfg = xl.Config.from_mapping({"plan": {"target_unit": "weight"},
                                  "venue": {"slippage": {"model": "fixed_bps", "bps": 5}}})
    result = xl.run_backtest(targets, bars, cfg)
    tca = tca_from_backtest(result)
    assert len(tca.orders) == len(result.orders) and len(tca.fills) == len(result.fills)
    assert (tca.orders["delay_cost"] == 0).all()
    # fixed 5 bps slippage against the model price is exactly 5 bps against arrival, for buys and sells alike
    assert tca.orders["slippage_arrival_bps"].to_numpy() == pytest.approx(5.0)
    assert tca.summary()["execution_cost"] == pytest.approx(result.costs["slippage"])
    assert set(tca.orders["side"]) == {"buy", "sell"}


def test_journal_adapter_reads_arrival_from_event_payloads() -> None:
    # Order j1: buy 10 @ decision 50.00, arrival 50.10 recorded by the executor, filled 4 @ 50.20 then cancelled.
    #   delay = 4 · 0.10 = 0.40; execution = 4 · 0.10 = 0.40; fee 0.05
    #   no bars: the 6 unfilled are valued at the last fill 50.20 → opportunity 6 · 0.20 = 1.20; shortfall 2.05
    # Order j2: sell 5 @ 20.00 with no arrival event: arrival = decision; filled 5 @ 19.95 → execution 0.25.
    # A fill of an order the run never decided (adopted) is left out.
    journal = Journal(":memory:")
    journal.record_intents([
        Intent("j1", "r1", "2024-01-02", "AAA", "buy", 10.0, decision_price=50.0),
        Intent("j2", "r1", "2024-01-02", "BBB", "sell", 5.0, decision_price=20.0),
    ])
    journal.record_states("r1", [("j1", "submitted", "pending"), ("j2", "submitted", "pending")])
    journal.record("r1", "request", "j1", None, {"arrival_price": 50.1, "op": "submit"})
    journal.record_fills("r1", [JournalFill("f1", "j1", "AAA", "buy", 4.0, 50.2, 0.05),
                                JournalFill("f2", "j2", "BBB", "sell", 5.0, 19.95),
                                JournalFill("f3", "manual-1", "CCC", "buy", 1.0, 5.0)])
    journal.record_states("r1", [("j1", "cancelled", "partially_filled"), ("j2", "filled", "submitted")])
    tca = tca_from_journal(journal, "r1", mode="paper", venue="alpaca")
    j1, j2 = _row(tca, "j1"), _row(tca, "j2")
    assert j1["arrival_price"] == pytest.approx(50.1) and j1["arrival_source"] == "journal"
    assert j1["status"] == "cancelled"
    assert j1["delay_cost"] == pytest.approx(0.4)
    assert j1["execution_cost"] == pytest.approx(0.4)
    assert j1["opportunity_cost"] == pytest.approx(1.2)
    assert j1["shortfall"] == pytest.approx(2.05)
    assert j2["arrival_source"] == "decision_price" and j2["execution_cost"] == pytest.approx(0.25)
    assert len(tca.fills) == 2
    assert any("1 fills of orders this run did not decide" in n for n in tca.notes)
    assert set(tca.orders["mode"]) == {"paper"} and set(tca.orders["venue"]) == {"alpaca"}
    assert tca.orders["timestamp"].dt.tz is not None


def test_journal_adapter_with_bars_on_the_journal_day() -> None:
    journal = Journal(":memory:")
    journal.record_intents([Intent("k1", "r2", "k", "X", "buy", 10.0, decision_price=10.0)])
    journal.record_fills("r2", [JournalFill("g1", "k1", "X", "buy", 10.0, 10.1)])
    journal.record_states("r2", [("k1", "filled", "submitted")])
    day = pd.Timestamp(journal.orders("r2")["created_at"].iloc[0]).tz_convert("UTC").tz_localize(None).normalize()
    bars = pd.DataFrame({"timestamp": [day], "symbol": ["X"], "open": [10.0], "high": [10.3], "low": [9.9],
                         "close": [10.2], "volume": [1000.0]})
    tca = tca_from_journal(journal, "r2", bars)
    row = tca.orders.iloc[0]
    # typical price (10.3 + 9.9 + 10.2) / 3 = 10.1333; close 10.2; participation 10 / 1000
    assert row["interval_vwap"] == pytest.approx(30.4 / 3)
    assert row["close_price"] == pytest.approx(10.2)
    assert row["participation"] == pytest.approx(0.01)


def test_journal_adapter_uses_the_executors_market_clock() -> None:
    # A replayed paper run journals on the wall clock but sends (and fills) on the feed's clock: the request's
    # payload "at" is the decision time, so benchmarks come from the bars of that day, not of today.
    #   k2: buy 10 X decided on 2024-01-02 at 10.00, arrival 10.05, filled 6 @ 10.10 on 01-02, rest cancelled
    #   interval VWAP (01-02 only) 10.4; end = last fill's day → close 10.5; opportunity 4 · (10.5 − 10.0) = 2.00
    journal = Journal(":memory:")
    journal.record_intents([Intent("k2", "r3", "2024-01-02T00:00:00", "X", "buy", 10.0, decision_price=10.0)])
    journal.record("r3", "request", "k2", None, {"op": "submit", "at": "2024-01-02T00:00:00", "arrival_price": 10.05})
    journal.record_fills("r3", [JournalFill("h1", "k2", "X", "buy", 6.0, 10.1, 0.0, "2024-01-02T00:00:00")])
    journal.record_states("r3", [("k2", "cancelled", "partially_filled")])  # at wall-clock time: not used
    row = tca_from_journal(journal, "r3", BARS).orders.iloc[0]
    assert row["timestamp"] == pd.Timestamp("2024-01-02") and row["day"] == pd.Timestamp("2024-01-02")
    assert row["interval_vwap"] == pytest.approx(10.4)
    assert row["end_price"] == pytest.approx(10.5)
    assert row["opportunity_cost"] == pytest.approx(2.0)
    assert row["delay_cost"] == pytest.approx(0.3) and row["execution_cost"] == pytest.approx(0.3)


def test_journal_fees_in_the_base_asset_are_valued_at_the_fill_price_and_others_listed_per_currency(
        tmp_path) -> None:  # type: ignore[no-untyped-def]
    journal = Journal(tmp_path / "fees.sqlite")
    journal.record_intents([
        Intent("b1", "c1", "k", "BTC/USD", "buy", 0.5, decision_price=40_000.0),
        Intent("b2", "c1", "k", "BTC/USD", "sell", 0.2, decision_price=40_000.0),
        Intent("e1", "c1", "k", "ETH/USDT", "buy", 2.0, decision_price=2_000.0),
    ])
    journal.record_fills("c1", [
        # a crypto buy pays its fee in the asset it receives: 0.0005 BTC at the fill's 40,100 = 20.05 USD
        JournalFill("x1", "b1", "BTC/USD", "buy", 0.5, 40_100.0, 0.0005, fee_currency="BTC", liquidity="taker"),
        JournalFill("x2", "b2", "BTC/USD", "sell", 0.2, 39_900.0, 7.98, fee_currency="USD"),  # as charged
        JournalFill("x3", "e1", "ETH/USDT", "buy", 1.0, 2_001.0, 0.8, fee_currency="USDT"),  # the price's currency
        JournalFill("x4", "e1", "ETH/USDT", "buy", 1.0, 2_002.0, 3.0, fee_currency="BNB"),  # no rate: listed
    ])
    journal.record_states("c1", [("b1", "filled", "submitted"), ("b2", "filled", "submitted"),
                                 ("e1", "filled", "submitted")])
    tca = tca_from_journal(journal, "c1")
    b1, b2, e1 = _row(tca, "b1"), _row(tca, "b2"), _row(tca, "e1")
    assert b1["fees"] == pytest.approx(0.0005 * 40_100.0) and b1["fee_cost"] == b1["fees"]  # not 0.0005 "USD"
    assert b2["fees"] == pytest.approx(7.98)
    assert e1["fees"] == pytest.approx(0.8)  # the BNB fee is not added as if it were dollars
    assert tca.summary()["fee_cost"] == pytest.approx(20.05 + 7.98 + 0.8)
    assert tca.other_fees.to_dict("records") == [{"currency": "BNB", "fee": 3.0, "fills": 1}]
    assert any("BNB" in note for note in tca.notes)
    values = dict(zip(tca.fills["fill_id"], tca.fills["fee_value"], strict=True))
    assert values["x1"] == pytest.approx(20.05) and np.isnan(values["x4"])
    # a EUR account: BTC/USD's USD fee is in the currency its costs are priced in; a stock's USD fee is not the EUR
    journal.record_intents([Intent("s1", "c1", "k", "SAP", "buy", 10.0, decision_price=150.0)])
    journal.record_fills("c1", [JournalFill("x5", "s1", "SAP", "buy", 10.0, 150.0, 1.5, fee_currency="USD")])
    eur = tca_from_journal(journal, "c1", account_currency="EUR")
    assert _row(eur, "b2")["fees"] == pytest.approx(7.98) and _row(eur, "b1")["fees"] == pytest.approx(20.05)
    assert _row(eur, "s1")["fees"] == 0.0
    assert eur.other_fees.set_index("currency")["fee"].to_dict() == {"BNB": 3.0, "USD": 1.5}
    assert _row(tca_from_journal(journal, "c1"), "s1")["fees"] == pytest.approx(1.5)  # on a USD account: counted


def test_cli_tca_lists_fees_it_cannot_value(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from execlab._cli.main import app

    path = tmp_path / "cli.sqlite"
    journal = Journal(path)
    journal.record_intents([Intent("e1", "c2", "k", "ETH/USDT", "buy", 2.0, decision_price=2_000.0)])
    journal.record_fills("c2", [JournalFill("y1", "e1", "ETH/USDT", "buy", 1.0, 2_000.0, 0.01, fee_currency="ETH"),
                                JournalFill("y2", "e1", "ETH/USDT", "buy", 1.0, 2_000.0, 0.25, fee_currency="BNB")])
    journal.close()
    shown = CliRunner().invoke(app, ["tca", "--journal", str(path), "--run-id", "c2"])
    assert shown.exit_code == 0, shown.output
    assert "fees 20.00" in shown.output  # 0.01 ETH at 2,000
    assert "fees in other currencies, not in the fee cost: 0.25 BNB (1 fills)" in shown.output
