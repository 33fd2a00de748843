"""The SQLite journal: append-only, WAL, redacted, readable as DataFrames, idempotent fills."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from execlab._core.codes import CANCELLED, FILLED, SUBMITTED
from execlab._oms.book import BookJournal, OrderBook
from execlab._oms.journal import Intent, Journal, JournalFill, redact


def _intent(coid: str, symbol: str = "AAA", qty: float = 10.0) -> Intent:
    return Intent(client_order_id=coid, run_id="r1", rebalance_key="2024-01-02", symbol=symbol, side="buy",
                  quantity=qty, decision_price=10.0)


def test_wal_mode_and_append_only(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    j.record_intents([_intent("a")])
    j.record("r1", "state", "a", "submitted")
    j.record_fills("r1", [JournalFill("f1", "a", "AAA", "buy", 1, 10.0)])
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    db = sqlite3.connect(path)
    for sql in ("UPDATE intents SET quantity = 1", "DELETE FROM intents", "DELETE FROM events",
                "UPDATE events SET status = 'x'", "DELETE FROM fills"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(sql)
    assert len(j.orders()) == 1


def test_intents_are_all_or_nothing(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    j.record_intents([_intent("a")])
    with pytest.raises(sqlite3.IntegrityError):
        j.record_intents([_intent("b"), _intent("a")])  # "a" again: the batch fails
    assert list(j.orders()["client_order_id"]) == ["a"]  # and "b" was not written either


def test_latest_status_filled_quantity_and_average_price(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    j.record_intents([_intent("a", qty=10)])
    j.record("r1", "state", "a", "submitted")
    j.record_fills("r1", [JournalFill("f1", "a", "AAA", "buy", 4, 10.0), JournalFill("f2", "a", "AAA", "buy", 6, 11.0)])
    j.record("r1", "state", "a", "filled")
    row = j.orders("r1").iloc[0]
    assert row["status"] == "filled"
    assert row["filled_quantity"] == 10
    assert row["avg_fill_price"] == pytest.approx((4 * 10 + 6 * 11) / 10)


def test_a_fill_recorded_twice_counts_once(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    fill = JournalFill("broker-1:10", "a", "AAA", "buy", 10, 10.0)
    assert j.record_fills("r1", [fill]) == [True]
    assert j.record_fills("r1", [fill]) == [False]
    assert j.fills_total("a") == 10
    assert j.positions_from_fills("r1").to_dict() == {"AAA": 10.0}


def test_secrets_are_redacted_by_key_and_by_value(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite", secrets=["sk-live-123456"])
    j.record("r1", "request", "a", None, {"headers": {"APCA-API-SECRET-KEY": "abc", "Accept": "json"},
                                           "api_key": "k", "note": "sent with sk-live-123456 inside"})
    raw = Path(tmp_path / "j.sqlite").read_bytes() + (tmp_path / "j.sqlite-wal").read_bytes()
    assert b"sk-live-123456" not in raw
    assert b'"abc"' not in raw
    payload = j.events("r1", "request").iloc[0]["payload"]
    assert "***" in payload and "json" in payload


def test_redact_leaves_harmless_values() -> None:
    assert redact({"symbol": "AAPL", "qty": 3, "password": "p"}) == {"symbol": "AAPL", "qty": 3, "password": "***"}


def test_journaled_order_book_writes_intents_and_states_before_acting(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    book = OrderBook(journal=BookJournal(j, "r1", ("AAA", "BBB"), lambda bar: f"key{bar}"))
    oids = book.add({"bar": 3, "symbol": np.array([0, 1]), "quantity": np.array([5.0, -2.0]),
                     "decision_price": np.array([10.0, 20.0])})
    orders = j.orders("r1")
    assert list(orders["status"]) == ["pending", "pending"]
    assert list(orders["side"]) == ["buy", "sell"]
    assert list(orders["rebalance_key"]) == ["key3", "key3"]
    ids = book.ids_of(oids)
    assert ids is not None and len(set(ids)) == 2 and all(len(i) <= 36 for i in ids)
    book.transition(oids, SUBMITTED)
    book.transition(oids[:1], FILLED)
    book.transition(oids[:1], CANCELLED)  # filled is terminal: refused, recorded
    assert j.status_of(list(ids)) == {ids[0]: "filled", ids[1]: "submitted"}
    refused = j.events("r1", "refused_transition")
    assert len(refused) == 1 and refused.iloc[0]["client_order_id"] == ids[0]


def test_same_run_key_and_symbol_give_the_same_client_order_id(tmp_path: Path) -> None:
    ids = []
    for name in ("a", "b"):
        book = OrderBook(journal=BookJournal(Journal(tmp_path / f"{name}.sqlite"), "r1", ("AAA",), lambda _: "k"))
        ids.append(book.ids_of(book.add({"bar": 0, "symbol": np.array([0]), "quantity": np.array([1.0])})))
    assert ids[0] == ids[1]


def test_event_kinds_are_typed() -> None:
    from execlab._oms.events import EventKind

    j = Journal(":memory:")
    j.record("r1", EventKind.ALERT, None, None, {"text": "look"})
    j.record("r1", "state", "a", "submitted")  # a kind's value names it too
    assert list(j.events("r1")["kind"]) == ["alert", "state"]
    with pytest.raises(ValueError, match="'note'"):
        j.record("r1", "note", None, None)  # type: ignore[arg-type]
    assert len(j.events("r1")) == 2
