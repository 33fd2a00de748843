"""The path that trades is the backtest's pipeline: same inputs, same checks, same state (issue 10).

Every test drives the real alpaca-py against the local Alpaca venue on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import execlab as xl
from execlab._brokers.executor import BrokerExecutor
from execlab._core.ids import rebalance_key
from execlab._oms.journal import Journal
from execlab._runs.live import TargetsChangedError, TradingHaltedError, run_live_rebalance
from execlab.adapters.alpaca import AlpacaAdapter
from execlab.venues import AlpacaVenue

pytestmark = [pytest.mark.local_venue]

KEY, SECRET = "PKTESTKEY0000002", "test-secret-trading-path-0002"
PRICES = {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0}


def _executor(venue: AlpacaVenue, journal: Journal, run_id: str) -> BrokerExecutor:
    adapter = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url, timeout=5.0)
    return BrokerExecutor(adapter, journal, run_id, (), backoff_seconds=0.01)


def _held(venue: AlpacaVenue) -> dict[str, float]:
    adapter = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url)
    return {s: q for s, q in adapter._positions().items() if q}


def _paper(run_id: str, **sections: object) -> xl.Config:
    return xl.Config.from_mapping({"mode": "paper", "run_id": run_id, **sections,
                                   "broker": {"name": "alpaca", "api_key": KEY, "api_secret": SECRET}})


@pytest.fixture
def venue() -> Iterator[AlpacaVenue]:
    with AlpacaVenue(KEY, SECRET, initial_cash=100_000.0, rate_limit=10_000) as v:
        for sym, px in PRICES.items():
            v.set_quote(sym, px, px, px)
        yield v


# -- the same trades as the backtest, with the risk limits that need the day, its start equity and ADV ----------
def _bars(n_days: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    days = pd.bdate_range("2024-01-02", periods=n_days)
    rows = []
    for s, (sym, start) in enumerate({"AAA": 10.0, "BBB": 20.0, "CCC": 50.0, "DDD": 5.0}.items()):
        px = start * np.exp(np.cumsum(rng.normal(0, 0.02, n_days)))
        vol = rng.integers(2_000, 20_000, n_days) * (s + 1)
        for d, p, v in zip(days, px, vol, strict=True):
            p = round(float(p), 2)
            rows.append({"timestamp": d, "symbol": sym, "open": p, "high": p, "low": p, "close": p,
                         "volume": float(v)})
    return pd.DataFrame(rows)


def test_paper_with_daily_limits_and_adv_trades_exactly_as_the_backtest(tmp_path: Path) -> None:
    bars = _bars()
    days = sorted(bars["timestamp"].unique())
    rebalance_days = days[21::2]
    rng = np.random.default_rng(11)
    targets = pd.DataFrame(rng.integers(0, 600, (len(rebalance_days), 4)).astype(float),
                           index=pd.DatetimeIndex(rebalance_days, name="timestamp"),
                           columns=["AAA", "BBB", "CCC", "DDD"])
    sections = {"initial_cash": 100_000.0,
                "risk": {"daily_loss_limit": 50_000.0, "max_adv_pct": 0.03, "max_daily_orders": 3}}
    backtest = xl.run_backtest(targets, bars, xl.Config.from_mapping({"run_id": "same", **sections}))
    expected = backtest.orders
    assert (expected["status"] == "denied").any() and (expected["status"] == "filled").any()  # the limits bind

    journal = Journal(tmp_path / "j.sqlite")
    config = _paper("same", **sections)
    with AlpacaVenue(KEY, SECRET, initial_cash=100_000.0, rate_limit=10_000) as venue:
        for stamp in venue.replay_bars(bars):
            if stamp not in targets.index:
                continue
            row = targets.loc[stamp]
            close = bars[bars["timestamp"] == stamp].set_index("symbol")["close"]
            done = run_live_rebalance(row, close, config, _executor(venue, journal, "same"), journal,
                                      rebalance_key(stamp), timeout=10, bars=bars[bars["timestamp"] < stamp])
            assert done.complete
        held = _held(venue)
    live = journal.orders("same").set_index("client_order_id")
    want = expected.set_index("client_order_id")
    assert sorted(live.index) == sorted(want.index)  # the same deterministic client order ids, no more, no fewer
    live = live.loc[want.index]
    assert (live["status"].to_numpy() == want["status"].to_numpy()).all()
    signed = np.where(live["side"] == "buy", 1.0, -1.0) * live["quantity"]
    want_signed = np.where(want["side"] == "buy", 1.0, -1.0) * want["quantity"]
    np.testing.assert_allclose(signed, want_signed)
    denied = want["status"] == "denied"
    assert set(live.loc[denied, "risk_reason"]) == set(want.loc[denied, "reason"])
    assert not live.loc[denied, "risk_reason"].str.contains("invalid_input").any()
    final = backtest.positions.iloc[-1]
    assert held == {s: q for s, q in final.items() if q}


def test_a_limit_without_its_input_is_an_error_before_anything_is_sent(venue: AlpacaVenue, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    config = _paper("adv", risk={"max_adv_pct": 0.1})
    with pytest.raises(xl.ConfigError, match=r"risk\.max_adv_pct"):
        run_live_rebalance({"AAA": 10}, PRICES, config, _executor(venue, journal, "adv"), journal, "2024-01-02")
    assert journal.orders("adv").empty
    assert not venue.stats()["order_attempts"]


# -- orders left working by one as-of are cancelled by the next -------------------------------------------------
def test_two_as_ofs_with_partial_fills_end_at_the_second_targets(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    config = _paper("partial")
    venue_config = xl.VenueConfig(participation_cap=1.0)
    with AlpacaVenue(KEY, SECRET, initial_cash=100_000.0, rate_limit=10_000, venue_config=venue_config) as venue:
        for sym, px in PRICES.items():
            venue.set_quote(sym, px, px, px, volume=40.0)  # at most 40 shares per quote
        first = run_live_rebalance({"AAA": 100, "BBB": 100}, PRICES, config, _executor(venue, journal, "partial"),
                                   journal, "d1", timeout=2)
        assert not first.complete  # 60 of each still working
        assert _held(venue) == {"AAA": 40, "BBB": 40}
        second = run_live_rebalance({"AAA": 100, "BBB": 100}, PRICES, config,
                                    _executor(venue, journal, "partial"), journal, "d2", timeout=2)
        for sym, px in PRICES.items():  # plenty of volume now: whatever is still working fills
            venue.set_quote(sym, px, px, px, volume=1e9)
        third = run_live_rebalance({"AAA": 100, "BBB": 100}, PRICES, config,
                                   _executor(venue, journal, "partial"), journal, "d3", timeout=5)
        held = _held(venue)
    assert held == {"AAA": 100, "BBB": 100}  # not 160: the leftovers of d1 and d2 were cancelled
    d1 = journal.orders("partial", "d1")
    assert set(d1["status"]) == {"cancelled"}
    assert not second.complete and third.complete


# -- symbols ------------------------------------------------------------------------------------------------------
def test_lower_case_symbols_are_one_symbol_across_as_ofs(venue: AlpacaVenue, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    config = _paper("case")
    for as_of in ("d1", "d2", "d3"):
        run_live_rebalance({" aaa ": 10}, {"aaa": 10.0}, config, _executor(venue, journal, "case"), journal, as_of,
                           timeout=5)
    assert _held(venue) == {"AAA": 10}
    assert list(journal.orders("case")["symbol"]) == ["AAA"]


def test_na_is_a_ticker_and_an_empty_cell_is_an_error(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("symbol,target\nNA,5\nAAA,1\n")
    read = xl.read_symbol_values(good, "targets")
    assert read.to_dict() == {"NA": 5.0, "AAA": 1.0}
    empty = tmp_path / "empty.csv"
    empty.write_text("symbol,target\nAAA,1\n,5\n")
    with pytest.raises(xl.TargetError, match=r"line 3: empty symbol"):
        xl.read_symbol_values(empty, "targets")
    blank_value = tmp_path / "blank.csv"
    blank_value.write_text("symbol,target\nAAA,\n")
    with pytest.raises(xl.TargetError, match=r"line 2, symbol 'AAA': empty value"):
        xl.read_symbol_values(blank_value, "targets")
    header_only = tmp_path / "header.csv"
    header_only.write_text("symbol,target\n")
    with pytest.raises(xl.TargetError, match="no rows"):
        xl.read_symbol_values(header_only, "targets")


# -- plan = rebalance ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("untargeted", ["close", "hold"])
def test_the_venue_receives_exactly_the_plans_orders(venue: AlpacaVenue, tmp_path: Path, untargeted: str) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    setup = _paper("setup")
    run_live_rebalance({"AAA": 300, "CCC": 100}, PRICES, setup, _executor(venue, journal, "setup"), journal, "s",
                       timeout=5)
    config = _paper(f"plan-{untargeted}", plan={"target_unit": "weight", "untargeted": untargeted})
    targets = {"AAA": 0.2, "BBB": 0.5}  # CCC is held and not named
    executor = _executor(venue, journal, config.run_id)
    plan = xl.make_plan(targets, executor.positions_by_symbol(), PRICES, executor.account().cash, config)
    expected = {s: q for s, q in plan.table["order_qty"].items() if q}
    assert ("CCC" in expected) == (untargeted == "close")
    if untargeted == "hold":
        assert plan.table.loc["CCC", "reason"] == "untargeted_held"
    before = len(venue.trade_updates())
    done = run_live_rebalance(targets, PRICES, config, executor, journal, "r", timeout=5)
    assert done.complete
    received = {}
    for update in venue.trade_updates(before):
        if update["event"] == "new":
            order = update["order"]
            received[order["symbol"]] = float(order["qty"]) * (1 if order["side"] == "buy" else -1)
    assert received == pytest.approx(expected)


# -- the intent is journaled ------------------------------------------------------------------------------------
def test_re_running_an_as_of_with_other_targets_is_refused_unless_superseded(venue: AlpacaVenue,
                                                                             tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    config = _paper("changed")
    run_live_rebalance({"AAA": 10, "BBB": 5}, PRICES, config, _executor(venue, journal, "changed"), journal, "d1",
                       timeout=5)
    attempts = dict(venue.stats()["order_attempts"])
    with pytest.raises(TargetsChangedError, match=r"symbols that differ: \['BBB', 'CCC'\]"):
        run_live_rebalance({"AAA": 10, "BBB": 7, "CCC": 1}, PRICES, config, _executor(venue, journal, "changed"),
                           journal, "d1", timeout=5)
    assert venue.stats()["order_attempts"] == attempts  # nothing sent
    again = run_live_rebalance({"AAA": 10, "BBB": 5}, PRICES, config, _executor(venue, journal, "changed"), journal,
                               "d1", timeout=5)
    assert again.resumed and again.rebalance_key == "d1"
    new = run_live_rebalance({"AAA": 10, "BBB": 7, "CCC": 1}, PRICES, config,
                             _executor(venue, journal, "changed"), journal, "d1", timeout=5, supersede=True)
    assert not new.resumed and new.rebalance_key == "d1#2"
    assert _held(venue) == {"AAA": 10, "BBB": 7, "CCC": 1}
    stored = journal.targets("changed")
    assert list(stored["rebalance_key"]) == ["d1", "d1#2"]
    assert stored["content_hash"].nunique() == 2


def test_a_resume_obeys_the_trading_state_reconciliation_sets(venue: AlpacaVenue, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    config = _paper("resume")
    run_live_rebalance({"CCC": 100}, PRICES, config, _executor(venue, journal, "resume"), journal, "d0", timeout=5)
    # d1 "crashes" before its orders reach the broker: every submission fails before it takes effect.
    venue.faults.error_rate, venue.faults.error_match = 1.0, "POST /v2/orders"
    first = run_live_rebalance({"AAA": 10, "BBB": 10, "CCC": 100}, PRICES, config,
                               _executor(venue, journal, "resume"), journal, "d1", timeout=1)
    assert not first.complete
    venue.faults.error_rate = 0.0
    # Between the crash and the restart a person sells 30 CCC by hand: reconciliation cannot explain it.
    AlpacaAdapter(KEY, SECRET, base_url=venue.base_url)._submit(
        xl.Order(symbol="CCC", side="sell", quantity=30, client_order_id="by-hand-1", run_id="person"))
    attempts = dict(venue.stats()["order_attempts"])
    again = run_live_rebalance({"AAA": 10, "BBB": 10, "CCC": 100}, PRICES, config,
                               _executor(venue, journal, "resume"), journal, "d1", timeout=2)
    assert again.resumed and again.reconciliation.state == "reducing_only"
    new_attempts = {k: v - attempts.get(k, 0) for k, v in venue.stats()["order_attempts"].items()}
    assert not any(new_attempts.values())  # no buy went out while reducing-only
    assert _held(venue) == {"CCC": 70}
    d1 = journal.orders("resume", "d1").set_index("symbol")
    assert set(d1.loc[["AAA", "BBB"], "status"]) == {"denied"}


def test_a_halt_from_reconciliation_stops_a_resume(venue: AlpacaVenue, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    config = _paper("halt")
    venue.faults.error_rate, venue.faults.error_match = 1.0, "POST /v2/orders"
    run_live_rebalance({"AAA": 10}, PRICES, config, _executor(venue, journal, "halt"), journal, "d1", timeout=1)
    venue.faults.error_rate = 0.0
    xl.halt_trading(journal, "halt", "test")
    with pytest.raises(TradingHaltedError):
        run_live_rebalance({"AAA": 10}, PRICES, config, _executor(venue, journal, "halt"), journal, "d1", timeout=1)
    assert _held(venue) == {}


def test_max_daily_orders_counts_the_day_across_rebalances(venue: AlpacaVenue, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    config = _paper("daily", risk={"max_daily_orders": 3})
    first = run_live_rebalance({"AAA": 10, "BBB": 10}, PRICES, config, _executor(venue, journal, "daily"), journal,
                               "2024-01-02T10:00:00", timeout=5)
    assert set(first.orders["status"]) == {"filled"}
    second = run_live_rebalance({"AAA": 20, "BBB": 20, "CCC": 5}, PRICES, config,
                                _executor(venue, journal, "daily"), journal, "2024-01-02T14:00:00", timeout=5)
    assert sorted(second.orders["status"]) == ["denied", "denied", "filled"]  # 2 sent earlier today + 1 more
    assert set(second.orders.loc[second.orders["status"] == "denied", "risk_reason"]) == {"max_daily_orders"}
    next_day = run_live_rebalance({"AAA": 20, "BBB": 20, "CCC": 5}, PRICES, config,
                                  _executor(venue, journal, "daily"), journal, "2024-01-03T10:00:00", timeout=5)
    assert set(next_day.orders["status"]) == {"filled"} and len(next_day.orders) == 2


def test_keys_that_are_not_dates_count_orders_on_the_day_they_were_sent(venue: AlpacaVenue, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    config = _paper("named", risk={"max_daily_orders": 2})
    run_live_rebalance({"AAA": 10}, PRICES, config, _executor(venue, journal, "named"), journal, "morning", timeout=5)
    later = run_live_rebalance({"AAA": 10, "BBB": 10, "CCC": 1}, PRICES, config, _executor(venue, journal, "named"),
                               journal, "afternoon", timeout=5)
    assert sorted(later.orders["status"]) == ["denied", "filled"]  # 1 sent this morning, 1 more allowed today
    with pytest.raises(xl.TargetError, match="as_of"):
        run_live_rebalance({"AAA": 10}, PRICES, config, _executor(venue, journal, "named"), journal, "x#2")


def test_a_run_stopped_after_journaling_its_targets_plans_them_on_the_rerun(venue: AlpacaVenue,
                                                                             tmp_path: Path) -> None:
    from execlab._plan.inputs import gate_rebalance_inputs
    from execlab._runs.live import _targets_record

    journal = Journal(tmp_path / "j.sqlite")
    config = _paper("stopped")
    targets = {"AAA": 10, "BBB": 5}
    # What a process killed between journaling the targets and journaling the plan leaves behind.
    digest, payload = _targets_record(gate_rebalance_inputs(targets, {}, PRICES, 100_000.0, config), config)
    journal.record_targets("stopped", "d1", digest, payload)
    done = run_live_rebalance(targets, PRICES, config, _executor(venue, journal, "stopped"), journal, "d1", timeout=5)
    assert not done.resumed and done.complete and done.rebalance_key == "d1"
    assert _held(venue) == targets
    with pytest.raises(TargetsChangedError):  # other targets for that key are still refused
        run_live_rebalance({"AAA": 11}, PRICES, config, _executor(venue, journal, "stopped"), journal, "d1")
