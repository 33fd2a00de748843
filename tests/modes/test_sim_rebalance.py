"""``broker: sim`` runs the same journaled, resumable rebalance as a real broker (issue 10, item 2).

:class:`SimAdapter` puts the simulated venue behind the broker adapter contract; its account is kept next to the
journal, so every ``execlab rebalance`` below is a new process-worth of state read back from that file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import execlab as xl
from execlab._brokers.contract import BrokerUnavailableError
from execlab._brokers.executor import BrokerExecutor
from execlab._brokers.sim_adapter import SimAdapter
from execlab._cli.common import sim_account_path
from execlab._cli.main import app
from execlab._core.ids import rebalance_key
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance

PRICES = {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0}
CRASH_TRIALS = int(os.environ.get("EXECLAB_CRASH_TRIALS", "2"))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _config(tmp: Path, run_id: str, extra: str = "") -> Path:
    return _write(tmp / f"{run_id}.yaml", f"mode: paper\nrun_id: {run_id}\ninitial_cash: 100000\n"
                                          f"broker:\n  name: sim\n{extra}")


def _csv(tmp: Path, name: str, header: str, values: dict[str, float]) -> Path:
    return _write(tmp / name, header + "\n" + "".join(f"{s},{v}\n" for s, v in values.items()))


def _state(journal: Path) -> dict:  # type: ignore[type-arg]
    out: dict = json.loads(sim_account_path(journal).read_text())  # type: ignore[type-arg]
    return out


def _held(journal: Path) -> dict[str, float]:
    return {s: q for s, (q, _avg) in _state(journal)["positions"].items()}


def _rebalance(tmp: Path, config: Path, targets: dict[str, float], as_of: str, *extra: str,
               prices: dict[str, float] = PRICES) -> tuple[int, str]:
    t = _csv(tmp, f"t-{as_of}.csv", "symbol,target", targets)
    p = _csv(tmp, f"p-{as_of}.csv", "symbol,price", prices)
    done = CliRunner().invoke(app, ["rebalance", "--config", str(config), "--targets", str(t), "--prices", str(p),
                                    "--journal", str(tmp / "j.sqlite"), "--as-of", as_of, "--timeout", "0.5",
                                    *extra])
    return done.exit_code, done.output


# -- the backtest's trades, with the limits that need the day, its start equity and ADV -----------------------------
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


def test_sim_paper_rebalance_with_daily_limits_and_adv_trades_exactly_as_the_backtest(tmp_path: Path) -> None:
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

    config = xl.Config.from_mapping({"mode": "paper", "run_id": "same", "broker": {"name": "sim"}, **sections})
    journal = Journal(tmp_path / "j.sqlite")
    state = tmp_path / "sim.json"
    for stamp, day in bars.groupby("timestamp"):
        # a new process for every bar: the account is read back from its file each time
        adapter = SimAdapter(config.venue, config.initial_cash, state_path=state)
        close = day.set_index("symbol")["close"]
        adapter.set_market(close.to_dict(), stamp.to_pydatetime(), day.set_index("symbol")["volume"].to_dict())
        if stamp not in targets.index:
            continue
        executor = BrokerExecutor(adapter, journal, "same", (), stream=False)
        done = run_live_rebalance(targets.loc[stamp], close, config, executor, journal, rebalance_key(stamp),
                                  timeout=5, bars=bars[bars["timestamp"] < stamp])
        assert done.complete
    live = journal.orders("same").set_index("client_order_id")
    want = expected.set_index("client_order_id")
    assert sorted(live.index) == sorted(want.index)  # the same deterministic client order ids, no more, no fewer
    live = live.loc[want.index]
    assert (live["status"].to_numpy() == want["status"].to_numpy()).all()
    signed = np.where(live["side"] == "buy", 1.0, -1.0) * live["quantity"]
    np.testing.assert_allclose(signed, np.where(want["side"] == "buy", 1.0, -1.0) * want["quantity"])
    denied = want["status"] == "denied"
    assert set(live.loc[denied, "risk_reason"]) == set(want.loc[denied, "reason"])
    held = SimAdapter(state_path=state)._positions()
    assert held == {s: q for s, q in backtest.positions.iloc[-1].items() if q}


# -- the command line ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("untargeted", ["hold", "close"])
def test_cli_sim_the_orders_received_are_the_plans_rows(tmp_path: Path, untargeted: str) -> None:
    config = _config(tmp_path, "plan", f"plan:\n  untargeted: {untargeted}\n")
    assert _rebalance(tmp_path, config, {"AAA": 100, "CCC": 20}, "2024-01-02")[0] == 0
    targets = _csv(tmp_path, "t.csv", "symbol,target", {"aaa": 40, " BBB ": 30})  # CCC held, not targeted
    prices = _csv(tmp_path, "p.csv", "symbol,price", PRICES)
    journal = tmp_path / "j.sqlite"
    shown = CliRunner().invoke(app, ["plan", "--config", str(config), "--targets", str(targets), "--prices",
                                     str(prices), "--journal", str(journal), "--out", str(tmp_path / "plan.csv")])
    assert shown.exit_code == 0, shown.output
    plan = pd.read_csv(tmp_path / "plan.csv")
    rows = plan[plan["order_qty"] != 0]
    want = sorted((str(r.symbol), float(r.order_qty)) for r in rows.itertuples())
    before = {o["client_order_id"] for o in _state(journal)["orders"]}
    code, out = _rebalance(tmp_path, config, {"aaa": 40, " BBB ": 30}, "2024-01-03")
    assert code == 0, out
    got = sorted((o["symbol"], o["quantity"] * (1 if o["side"] == "buy" else -1))
                 for o in _state(journal)["orders"] if o["client_order_id"] not in before)
    assert got == want
    assert ("CCC", -20.0) in got if untargeted == "close" else all(s != "CCC" for s, _ in got)
    assert _held(journal) == {"AAA": 40, "BBB": 30, **({"CCC": 20} if untargeted == "hold" else {})}


def test_cli_sim_two_as_ofs_with_partial_fills_end_at_the_second_targets(tmp_path: Path) -> None:
    config = _config(tmp_path, "partial", "venue:\n  participation_cap: 1.0\n")
    days = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"])
    bars = pd.DataFrame([{"timestamp": d, "symbol": s, "open": px, "high": px, "low": px, "close": px,
                          "volume": vol} for d, vol in zip(days, (40.0, 40.0, 1e9), strict=True)
                         for s, px in PRICES.items()])
    bars.to_csv(tmp_path / "bars.csv", index=False)
    runs = [_rebalance(tmp_path, config, {"AAA": 100, "BBB": 100}, str(d.date()), "--bars",
                       str(tmp_path / "bars.csv")) for d in days]
    journal = tmp_path / "j.sqlite"
    assert [code for code, _ in runs] == [5, 5, 0], runs  # 5: orders left working at the timeout
    assert _held(journal) == {"AAA": 100, "BBB": 100}  # not above: what d1 and d2 left working was cancelled
    d1 = Journal(journal).orders("partial", "2024-01-02")
    assert set(d1["status"]) == {"cancelled"} and (d1["filled_quantity"] > 0).all()
    assert "rebalance 2024-01-04" in runs[2][1] and "per symbol" in runs[2][1]


def test_cli_sim_other_targets_for_an_as_of_are_refused_unless_superseded(tmp_path: Path) -> None:
    config = _config(tmp_path, "changed")
    assert _rebalance(tmp_path, config, {"AAA": 10}, "d1")[0] == 0
    code, out = _rebalance(tmp_path, config, {"AAA": 10, "BBB": 7}, "d1")
    assert code == 2 and "BBB" in out
    assert _held(tmp_path / "j.sqlite") == {"AAA": 10}
    code, out = _rebalance(tmp_path, config, {"AAA": 10, "BBB": 7}, "d1", "--supersede")
    assert code == 0 and "d1#2" in out
    assert _held(tmp_path / "j.sqlite") == {"AAA": 10, "BBB": 7}


def test_cli_sim_a_resume_obeys_the_trading_state_reconciliation_sets(tmp_path: Path) -> None:
    config_path = _config(tmp_path, "resume")
    journal_path = tmp_path / "j.sqlite"
    assert _rebalance(tmp_path, config_path, {"CCC": 100}, "d0")[0] == 0
    # d1 "crashes" before its orders reach the venue: every submission fails before it takes effect.
    config = xl.load_config(config_path)

    class Down(SimAdapter):
        def _submit(self, order: xl.Order) -> object:  # type: ignore[override]
            raise BrokerUnavailableError("connection refused")

    down = Down(config.venue, config.initial_cash, state_path=sim_account_path(journal_path))
    down.set_market(PRICES)
    journal = Journal(journal_path)
    first = run_live_rebalance({"AAA": 10, "BBB": 10, "CCC": 100}, PRICES, config,
                               BrokerExecutor(down, journal, "resume", (), backoff_seconds=0.0, stream=False),
                               journal, "d1", timeout=0.5)
    assert not first.complete
    journal.close()
    # Between the crash and the restart a person sells 30 CCC by hand: reconciliation cannot explain it.
    person = SimAdapter(state_path=sim_account_path(journal_path))
    person._submit(xl.Order(symbol="CCC", side="sell", quantity=30, client_order_id="by-hand-1", run_id="person"))
    code, out = _rebalance(tmp_path, config_path, {"AAA": 10, "BBB": 10, "CCC": 100}, "d1")
    assert code == 3, out  # 3: orders denied (the buys, while reducing-only)
    assert "resumed" in out
    received = _state(journal_path)["received"]
    assert set(received) == set(Journal(journal_path).orders("resume", "d0")["client_order_id"]) | {"by-hand-1"}
    assert _held(journal_path) == {"CCC": 70}
    d1 = Journal(journal_path).orders("resume", "d1").set_index("symbol")
    assert set(d1.loc[["AAA", "BBB"], "status"]) == {"denied"}


def _execlab() -> list[str]:
    return [sys.executable, "-c", "from execlab._cli.main import app; app()"]


@pytest.mark.slow  # two fresh processes per trial (EXECLAB_CRASH_TRIALS, 2 by default)
def test_cli_sim_sigkill_mid_rebalance_then_rerun_places_every_order_exactly_once(tmp_path: Path) -> None:
    symbols = [f"S{k:02d}" for k in range(24)]
    prices = {s: 10.0 + k for k, s in enumerate(symbols)}
    targets = {s: float(5 + k) for k, s in enumerate(symbols)}
    mid_way = 0
    for trial in range(CRASH_TRIALS):
        tmp = tmp_path / f"trial{trial}"
        tmp.mkdir()
        # paced to 8 requests per 0.2 s so that the kill lands while orders are still being sent
        config = _config(tmp, "crash", "  rate_limit_per_minute: 8\n  rate_window_seconds: 0.2\n")
        t = _csv(tmp, "t.csv", "symbol,target", targets)
        p = _csv(tmp, "p.csv", "symbol,price", prices)
        journal = tmp / "j.sqlite"
        argv = [*_execlab(), "rebalance", "--config", str(config), "--targets", str(t), "--prices", str(p),
                "--journal", str(journal), "--as-of", "2024-03-01", "--progress"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        sent = 0
        for line in proc.stdout:
            sent += line.startswith("sending ")
            if sent == 3 + (5 * trial) % 18:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        mid_way += len(_state(journal)["received"]) < len(symbols)
        again = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "(resumed)" in again.stdout
        state = _state(journal)
        assert len(state["received"]) == len(symbols)
        assert set(state["received"].values()) == {1}  # every order reached the venue exactly once
        assert _held(journal) == targets
        orders = Journal(journal).orders("crash")
        assert len(orders) == len(symbols) and set(orders["status"]) == {"filled"}
    assert mid_way == CRASH_TRIALS  # every kill landed before the last order reached the venue


def test_cli_sim_journals_the_venue_fee_models_fees_per_execution_and_tca_counts_them(tmp_path: Path) -> None:
    config = _config(tmp_path, "fees", "venue:\n  fees:\n    model: bps\n    bps: 10\n")
    journal = tmp_path / "j.sqlite"
    assert _rebalance(tmp_path, config, {"AAA": 100, "BBB": 50}, "2024-01-02")[0] == 0
    first = _state(journal)["executions"]
    assert len(first) == 2 and all(e["fee"] > 0 for e in first)
    code, out = _rebalance(tmp_path, config, {"AAA": 40, "BBB": 50, "CCC": 10}, "2024-01-03")  # a new process
    assert code == 0, out
    executions = _state(journal)["executions"]
    assert executions[:2] == first  # the restart kept the first day's executions
    assert len(executions) == 4 and len({e["execution_id"] for e in executions}) == 4
    fills = Journal(journal).fills("fees")
    assert sorted(fills["fill_id"]) == sorted(e["execution_id"] for e in executions)  # each once, by its id
    by_id = {e["execution_id"]: e for e in executions}
    for row in fills.itertuples():
        expected = by_id[row.fill_id]
        assert row.fee == pytest.approx(expected["fee"]) and row.liquidity == expected["liquidity"]
        assert row.fee == pytest.approx(row.quantity * row.price * 10 / 1e4)  # the config's 10 bps of notional
    assert fills["fee"].sum() == pytest.approx((100 * 10 + 50 * 20 + 60 * 10 + 10 * 50) * 10 / 1e4)
    shown = CliRunner().invoke(app, ["tca", "--journal", str(journal), "--run-id", "fees"])
    assert shown.exit_code == 0, shown.output
    assert f"fees {fills['fee'].sum():,.2f}" in shown.output and "fees 0.00" not in shown.output
