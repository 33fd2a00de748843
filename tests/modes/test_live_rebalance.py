"""A paper rebalance through the real alpaca-py against the local Alpaca venue: journal, resume, reconcile."""

from __future__ import annotations

from pathlib import Path

import pytest

import execlab as xl
from execlab._brokers.executor import BrokerExecutor
from execlab._brokers.reconcile import reconcile
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance
from execlab.adapters.alpaca import AlpacaAdapter
from execlab.venues import AlpacaVenue

from helpers.alpaca import StartVenue, broker_executor, held, paper_config

KEY, SECRET = "PKTESTKEY0000001", "test-secret-do-not-log-0001"
PRICES = {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0, "DDD": 5.0}


@pytest.fixture
def venue(local_venue: StartVenue) -> AlpacaVenue:
    return local_venue(KEY, SECRET, initial_cash=100_000.0, rate_limit=10_000, prices=PRICES)


def _config(run_id: str = "live-test") -> xl.Config:
    return paper_config(run_id, KEY, SECRET)


def _executor(venue: AlpacaVenue, journal: Journal, run_id: str = "live-test") -> BrokerExecutor:
    return broker_executor(venue, journal, run_id)


def test_rebalance_reaches_targets_and_journals_everything(venue: AlpacaVenue, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", secrets=[SECRET])
    targets = {"AAA": 100, "BBB": 50, "CCC": 10}
    done = run_live_rebalance(targets, PRICES, _config(), _executor(venue, journal), journal, "2024-01-02",
                              timeout=10)
    assert done.complete and not done.resumed
    assert held(venue) == targets
    orders = done.orders
    assert sorted(orders["symbol"]) == ["AAA", "BBB", "CCC"]
    assert set(orders["status"]) == {"filled"}
    assert (orders["filled_quantity"] == orders["quantity"]).all()
    kinds = set(journal.events("live-test")["kind"])
    assert {"request", "response", "state", "positions_snapshot", "reconcile"} <= kinds
    assert "refused_transition" not in kinds  # the broker repeating a status is not a refused move
    raw = (tmp_path / "j.sqlite").read_bytes() + (tmp_path / "j.sqlite-wal").read_bytes()
    assert SECRET.encode() not in raw


def test_running_the_same_rebalance_twice_sends_nothing_twice(venue: AlpacaVenue, journal: Journal) -> None:
    targets = {"AAA": 100, "BBB": 50}
    run_live_rebalance(targets, PRICES, _config(), _executor(venue, journal), journal, "k1", timeout=10)
    again = run_live_rebalance(targets, PRICES, _config(), _executor(venue, journal), journal, "k1", timeout=10)
    assert again.resumed
    stats = venue.stats()
    attempts = stats["order_attempts"]
    assert all(n == 1 for n in attempts.values()), attempts
    assert held(venue) == targets


class ProcessDiedError(Exception):
    """The first process's end, raised from the executor's progress hook."""


def _die_at_second_send(venue: AlpacaVenue, journal: Journal, cfg: xl.Config) -> list[str]:
    """A first process rebalances AAA, BBB and CCC and dies once its second request is journaled, before it is
    sent; returns the client order ids it reached."""
    sent: list[str] = []

    def die_at_second_send(event: str, coid: str) -> None:
        sent.append(coid)
        if len(sent) == 2:
            raise ProcessDiedError

    first = BrokerExecutor(AlpacaAdapter(KEY, SECRET, base_url=venue.base_url), journal, cfg.run_id, (),
                           progress=die_at_second_send)
    with pytest.raises(ProcessDiedError):
        run_live_rebalance({"AAA": 10, "BBB": 20, "CCC": 30}, PRICES, cfg, first, journal, "k", timeout=5)
    return sent


def test_resume_sends_only_what_never_reached_the_broker(venue: AlpacaVenue, journal: Journal) -> None:
    cfg = _config()
    # A first process journals the intents and sends only the first order before it dies.
    _die_at_second_send(venue, journal, cfg)
    assert len(journal.orders(cfg.run_id, "k")) == 3  # every intent was journaled before anything was sent
    done = run_live_rebalance({"AAA": 10, "BBB": 20, "CCC": 30}, PRICES, cfg, _executor(venue, journal), journal,
                              "k", timeout=10)
    assert done.resumed and done.complete
    assert held(venue) == {"AAA": 10, "BBB": 20, "CCC": 30}
    stats = venue.stats()
    attempts = stats["order_attempts"]
    assert sorted(attempts.values()) == [1, 1, 1]


def test_reconcile_asks_the_broker_only_about_orders_whose_request_was_journaled(venue: AlpacaVenue,
                                                                                   journal: Journal) -> None:
    cfg = _config()
    sent = _die_at_second_send(venue, journal, cfg)
    report = reconcile(_executor(venue, journal), journal, cfg.run_id)
    status = dict(zip(report.refreshed["client_order_id"], report.refreshed["broker_status"], strict=True))
    [never] = set(journal.orders(cfg.run_id, "k")["client_order_id"]) - set(sent)
    assert status == {sent[0]: "filled", sent[1]: "unknown_at_broker", never: "never_sent"}


def test_reconcile_adopts_external_orders_and_flags_unexplained_positions(venue: AlpacaVenue,
                                                                          journal: Journal) -> None:
    run_live_rebalance({"AAA": 10}, PRICES, _config(), _executor(venue, journal), journal, "k", timeout=10)
    outside = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url)
    # Someone trades in the account behind execlab's back: a filled buy, and a limit order left working.
    outside._submit(xl.Order(symbol="DDD", side=xl.Side.BUY, quantity=7, client_order_id="manual-1"))
    outside._submit(xl.Order(symbol="BBB", side=xl.Side.BUY, quantity=3, order_type=xl.OrderType.LIMIT,
                             limit_price=1.0, client_order_id="manual-2"))
    report = reconcile(_executor(venue, journal), journal, "live-test")
    assert list(report.adopted["client_order_id"]) == ["manual-2"]
    assert report.state == "reducing_only"
    diff = report.positions["difference"]
    assert diff["DDD"] == pytest.approx(7.0) and diff["AAA"] == pytest.approx(0.0)
    assert any("DDD" in a for a in report.alerts)
    assert "manual-2" in journal.known_order_ids()


def test_reconcile_with_nothing_unexplained_stays_active(venue: AlpacaVenue, journal: Journal) -> None:
    run_live_rebalance({"AAA": 10, "CCC": 2}, PRICES, _config(), _executor(venue, journal), journal, "k", timeout=10)
    report = reconcile(_executor(venue, journal), journal, "live-test")
    assert report.state == "active" and report.ok
    assert (report.positions["difference"].abs() < 1e-9).all()


def test_kill_switch_cancels_everything_and_flattens(venue: AlpacaVenue, journal: Journal) -> None:
    from execlab._brokers.kill_switch import engage_kill_switch

    run_live_rebalance({"AAA": 10, "BBB": 5}, PRICES, _config(), _executor(venue, journal), journal, "k", timeout=10)
    outside = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url)
    outside._submit(xl.Order(symbol="CCC", side=xl.Side.BUY, quantity=3, order_type=xl.OrderType.LIMIT,
                             limit_price=1.0, client_order_id="resting-1"))
    assert len(outside._open_orders()) == 1
    risk = xl.RiskEngine(xl.RiskConfig(), ("AAA", "BBB", "CCC"), False)
    executor = _executor(venue, journal)
    report = engage_kill_switch(executor, journal, "live-test", risk, flatten=True, reason="test")
    assert report.cancelled == ["resting-1"] and not report.failures
    assert len(report.flattened) == 2
    assert executor.wait(10)
    assert outside._open_orders() == []
    assert held(venue) == {}
    assert risk.state == "halted"
    assert list(journal.events("live-test", "kill_switch")["status"]) == ["halted", "done"]


def test_kill_switch_without_flatten_keeps_positions(venue: AlpacaVenue, journal: Journal) -> None:
    from execlab._brokers.kill_switch import engage_kill_switch

    run_live_rebalance({"AAA": 10}, PRICES, _config(), _executor(venue, journal), journal, "k", timeout=10)
    report = engage_kill_switch(_executor(venue, journal), journal, "live-test", flatten=False)
    assert report.flattened == [] and report.cancelled == []
    assert held(venue) == {"AAA": 10}
