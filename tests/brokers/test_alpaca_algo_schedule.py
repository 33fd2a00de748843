"""A TWAP / POV rebalance worked at the local Alpaca venue through alpaca-py, on the venue's clock: the real minute
bars of SPY, IBM, AIG and BAC are replayed bar by bar, the schedule ticks after each one.

It ends at the targets, each child's client id is its parent's id and sequence number and reached the venue once,
and a client thrown away mid-schedule and started again on the same journal sends the same children.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from brokers.algo_replay import MINUTES, algo_config, events_of, minute_bars, run_schedule, start_venue

from execlab._algos import child_client_id
from execlab._runs.minute_market import MinuteMarket

pytestmark = [pytest.mark.local_venue,
              pytest.mark.skipif(not MINUTES.exists(), reason="../shared/data is absent")]

VENUE = {"fill_price": "next_open", "participation_cap": 0.25, "fees": {"model": "bps", "bps": 0.5}}
TARGETS = {"SPY": 3000.0, "IBM": 800.0, "AIG": 2500.0, "BAC": 9000.0}
START_AT = 5


@pytest.mark.parametrize("execution", [
    {"algo": "twap", "horizon": "20min", "slices": 5},
    {"algo": "pov", "horizon": "20min", "participation": 0.02},
], ids=["twap", "pov"])
def test_a_schedule_at_the_broker_ends_at_the_targets_sending_each_child_once(tmp_path: Path,
                                                                              execution: dict[str, object]) -> None:
    bars = minute_bars()
    events, market = events_of(bars), MinuteMarket(bars)
    with start_venue(VENUE) as venue:
        config = algo_config("algo-" + str(execution["algo"]), venue, execution, VENUE)
        run = run_schedule(venue, config, tmp_path / "journal.sqlite", TARGETS, events, market, START_AT)
    assert run.ticks[-1].finished
    assert run.held == TARGETS
    children = run.children
    assert len(children) > len(TARGETS)  # worked in slices, not one order per symbol
    for parent in run.parents:
        mine = children[children["parent_id"] == parent.client_id]
        assert list(mine["client_order_id"]) == [child_client_id(parent.client_id, k) for k in range(len(mine))]
        assert mine["quantity"].sum() == pytest.approx(parent.quantity)
    assert {c: run.attempts.get(c, 0) for c in children["client_order_id"]} == dict.fromkeys(
        children["client_order_id"], 1)
    if execution["algo"] == "pov":  # each child within ρ × the volume printed since the one before
        for parent in run.parents:
            mine = children[(children["parent_id"] == parent.client_id) & (children["reason"] != "sweep")]
            since = [parent.start, *mine["decided_at"].iloc[:-1]]  # the first child counts the start bar too
            for k, ((_, child), after) in enumerate(zip(mine.iterrows(), since, strict=True)):
                volume = market.volume_between(parent.symbol, after, child["decided_at"], from_after=k == 0)
                assert child["quantity"] <= 0.02 * volume + 1e-9

def test_a_client_restarted_mid_schedule_sends_the_same_children(tmp_path: Path) -> None:
    bars = minute_bars()
    events, market = events_of(bars), MinuteMarket(bars)
    execution = {"algo": "twap", "horizon": "20min", "slices": 5}
    runs = []
    for name, restarts in (("straight", ()), ("restarted", (1, 4, 5, 9, 13))):
        with start_venue(VENUE) as venue:
            config = algo_config("algo-restart", venue, execution, VENUE)
            runs.append(run_schedule(venue, config, tmp_path / f"{name}.sqlite", TARGETS, events, market, START_AT,
                                     restarts=restarts))
    straight, restarted = runs
    assert restarted.held == straight.held == TARGETS
    assert restarted.children.equals(straight.children)
    assert set(restarted.attempts.values()) == {1}


def test_the_send_at_once_rebalance_refuses_an_algorithm_config(tmp_path: Path) -> None:
    from execlab._brokers.executor import BrokerExecutor
    from execlab._config import ConfigError
    from execlab._oms.journal import Journal
    from execlab._runs.live import run_live_rebalance
    from execlab.adapters.alpaca import AlpacaAdapter

    with start_venue(VENUE) as venue:
        config = algo_config("algo-refused", venue, {"algo": "twap"}, VENUE)
        journal = Journal(tmp_path / "journal.sqlite")
        executor = BrokerExecutor(AlpacaAdapter(venue.api_key, venue.secret_key, base_url=venue.base_url), journal,
                                  config.run_id, ())
        with pytest.raises(ConfigError, match=r"execution\.algo"):
            run_live_rebalance(TARGETS, dict.fromkeys(TARGETS, 100.0), config, executor, journal, "2013-10-07")
        executor.close()
        assert venue.stats()["order_attempts"] == {} and journal.orders(config.run_id).empty
