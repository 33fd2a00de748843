"""The OMS order states: the transition table, and the order book applying (or refusing) transitions."""

from __future__ import annotations

import numpy as np
import pytest

from execlab import TRANSITIONS, OrderBook, OrderStatus, allowed_transition

S = OrderStatus
CODE = {s: i for i, s in enumerate(OrderStatus)}
EXPECTED_EDGES = {
    (S.PENDING, S.SUBMITTED), (S.PENDING, S.DENIED), (S.PENDING, S.REJECTED), (S.PENDING, S.CANCELLED),
    (S.SUBMITTED, S.PARTIALLY_FILLED), (S.SUBMITTED, S.FILLED), (S.SUBMITTED, S.CANCELLED),
    (S.SUBMITTED, S.REJECTED), (S.SUBMITTED, S.EXPIRED),
    (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED), (S.PARTIALLY_FILLED, S.FILLED), (S.PARTIALLY_FILLED, S.CANCELLED),
    (S.PARTIALLY_FILLED, S.EXPIRED),
}
TERMINAL = {S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED, S.DENIED}


def test_transition_table_is_exactly_the_expected_edges() -> None:
    assert TRANSITIONS.shape == (len(OrderStatus), len(OrderStatus))
    assert TRANSITIONS.dtype == np.bool_
    for a in OrderStatus:
        for b in OrderStatus:
            expected = (a, b) in EXPECTED_EDGES
            assert bool(TRANSITIONS[CODE[a], CODE[b]]) is expected, (a, b)
            assert allowed_transition(a, b) is expected, (a, b)


def test_terminal_states_have_no_exits_and_nothing_returns_to_pending() -> None:
    for s in OrderStatus:
        assert s.is_terminal is (s in TERMINAL), s
        assert (not TRANSITIONS[CODE[s]].any()) is (s in TERMINAL), s
    assert not TRANSITIONS[:, CODE[S.PENDING]].any()
    assert not TRANSITIONS[:, CODE[S.SUBMITTED]][CODE[S.SUBMITTED]:].any()


def test_transition_table_is_read_only() -> None:
    with pytest.raises(ValueError, match="read-only"):
        TRANSITIONS[CODE[S.FILLED], CODE[S.CANCELLED]] = True
    assert not allowed_transition(S.FILLED, S.CANCELLED)


def new_book(n: int) -> tuple[OrderBook, np.ndarray]:
    book = OrderBook(capacity=2)
    ids = book.add({"symbol": np.arange(n), "quantity": np.ones(n)})
    assert (book.column("status") == CODE[S.PENDING]).all()
    return book, ids


def test_order_book_applies_allowed_and_records_refused_transitions() -> None:
    book, ids = new_book(4)
    assert book.transition(ids, CODE[S.SUBMITTED]).all()
    book.transition(ids[:1], CODE[S.FILLED])
    assert book.refused == []
    requested = np.array([CODE[S.CANCELLED], CODE[S.PARTIALLY_FILLED], CODE[S.PENDING], CODE[S.EXPIRED]],
                         dtype=np.int8)
    moved = book.transition(ids, requested)
    assert moved.tolist() == [False, True, False, True]
    assert book.column("status").tolist() == [CODE[S.FILLED], CODE[S.PARTIALLY_FILLED], CODE[S.SUBMITTED],
                                              CODE[S.EXPIRED]]
    refused = [(r.oid, r.current, r.requested) for r in book.refused]
    assert refused == [(0, CODE[S.FILLED], CODE[S.CANCELLED]), (2, CODE[S.SUBMITTED], CODE[S.PENDING])]


def test_order_book_refuses_leaving_every_terminal_state() -> None:
    for terminal in sorted(TERMINAL, key=CODE.get):
        book, ids = new_book(1)
        path = [S.DENIED] if terminal is S.DENIED else [S.SUBMITTED, terminal]
        for step in path:
            assert book.transition(ids, CODE[step]).all()
        for target in OrderStatus:
            assert not book.transition(ids, CODE[target]).any(), (terminal, target)
        assert book.column("status").tolist() == [CODE[terminal]]
        assert len(book.refused) == len(OrderStatus)


def test_order_book_batch_with_the_same_order_twice_is_applied_in_order() -> None:
    """A fill then a late cancel for one order in one batch: the order ends filled, and the refusal record
    names the state it was refused from (filled), never an edge the table allows."""
    book, ids = new_book(1)
    book.transition(ids, CODE[S.SUBMITTED])
    moved = book.transition(np.array([0, 0]), np.array([CODE[S.FILLED], CODE[S.CANCELLED]], dtype=np.int8))
    assert moved.tolist() == [True, False]
    assert book.column("status").tolist() == [CODE[S.FILLED]]
    assert [(r.oid, r.requested) for r in book.refused] == [(0, CODE[S.CANCELLED])]
    for r in book.refused:
        assert not TRANSITIONS[r.current, r.requested], r
    assert book.refused[0].current == CODE[S.FILLED]
