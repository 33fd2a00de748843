"""Order management: the state machine as a table, and an in-memory columnar order book.

The backtest keeps its journal here in memory; paper and live put the same transitions in SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numba
import numpy as np
import numpy.typing as npt

from execlab._core.arrays import IntArray
from execlab._core.batches import FillBatch, OrderEvents, concat_fills
from execlab._core.codes import (
    CANCELLED,
    DENIED,
    EXPIRED,
    FILLED,
    PARTIALLY_FILLED,
    PENDING,
    REJECTED,
    SUBMITTED,
    TIF_NAMES,
    TYPE_NAMES,
)
from execlab._core.ids import client_order_id
from execlab._core.models import OrderStatus
from execlab._oms.events import EventKind
from execlab._oms.journal import Intent, Journal
from execlab._risk.engine import RiskReason

__all__ = ["TRANSITIONS", "BookJournal", "OrderBook", "allowed_transition"]


_EDGES: Final = {
    PENDING: (SUBMITTED, DENIED, REJECTED, CANCELLED),
    SUBMITTED: (PARTIALLY_FILLED, FILLED, CANCELLED, REJECTED, EXPIRED),
    PARTIALLY_FILLED: (PARTIALLY_FILLED, FILLED, CANCELLED, EXPIRED),
}
#: ``TRANSITIONS[a, b]`` is True when an order may move from status code ``a`` to ``b``.
TRANSITIONS: Final = np.zeros((len(OrderStatus), len(OrderStatus)), dtype=np.bool_)
for _src, _dsts in _EDGES.items():
    TRANSITIONS[_src, list(_dsts)] = True
TRANSITIONS.setflags(write=False)


def allowed_transition(current: OrderStatus, new: OrderStatus) -> bool:
    """Whether the table allows ``current`` → ``new``."""
    codes = list(OrderStatus)
    return bool(TRANSITIONS[codes.index(current), codes.index(new)])


_COLUMNS: Final[dict[str, type]] = {
    "bar": np.int64, "symbol": np.int64, "leg": np.int64, "quantity": np.float64, "order_type": np.int8,
    "time_in_force": np.int8, "limit_price": np.float64, "stop_price": np.float64, "trail_amount": np.float64,
    "trail_percent": np.float64, "decision_price": np.float64, "status": np.int8, "filled": np.float64,
    "fill_value": np.float64, "fees": np.float64, "risk_reason": np.int8, "venue_reason": np.int8,
}


@numba.njit(cache=True)
def _apply_transitions(status: np.ndarray, oids: np.ndarray, new: np.ndarray, table: np.ndarray,
                       before: np.ndarray) -> np.ndarray:
    ok = np.empty(oids.shape[0], dtype=np.bool_)
    one = new.shape[0] == 1
    for k in range(oids.shape[0]):
        to = new[0] if one else new[k]
        before[k] = status[oids[k]]
        allowed = table[before[k], to]
        ok[k] = allowed
        if allowed:
            status[oids[k]] = to
    return ok


@numba.njit(cache=True)
def _book_fills(filled: np.ndarray, value: np.ndarray, fees: np.ndarray, oid: np.ndarray, qty: np.ndarray,
                price: np.ndarray, fee: np.ndarray) -> None:
    for k in range(oid.shape[0]):
        filled[oid[k]] += qty[k]
        value[oid[k]] += qty[k] * price[k]
        fees[oid[k]] += fee[k]


_RISK_NAMES: Final = ["" if r == 0 else RiskReason(r).name.lower() for r in range(max(RiskReason) + 1)]
_NAN_COLUMNS: Final = frozenset({"limit_price", "stop_price", "trail_amount", "trail_percent", "decision_price"})


def _blank(column: str, size: int) -> np.ndarray:
    dtype = _COLUMNS[column]
    return np.full(size, np.nan) if column in _NAN_COLUMNS else np.zeros(size, dtype=dtype)


@dataclass(frozen=True, slots=True)
class RejectedTransition:
    """A state change the table refused: recorded, not applied."""

    oid: int
    current: int
    requested: int


@dataclass(frozen=True)
class BookJournal:
    """Where a journaled order book writes: the journal, the run, its symbols and the key of each rebalance."""

    journal: Journal
    run_id: str
    symbols: tuple[str, ...]
    rebalance_key: Callable[[int], str]
    """Maps the rebalance's bar (or sequence number) to its key, e.g. the as-of timestamp."""


class OrderBook:
    """Every order of a run as columns, keyed by a dense integer id; fills appended as batches.

    With a :class:`BookJournal`, intents are journaled (in one transaction per batch) when added and every state
    change when applied, each before the caller acts on it; orders then carry deterministic client order ids.
    """

    def __init__(self, capacity: int = 1024, journal: BookJournal | None = None):
        self.journal = journal
        self.client_ids: list[str] = []
        self._n = 0
        self._open_from = 0  # every order below this id is in a terminal state
        self._record_refusals = True
        self.cols: dict[str, np.ndarray] = {k: _blank(k, capacity) for k in _COLUMNS}
        self._fills: list[FillBatch] = []
        self.refused: list[RejectedTransition] = []
        self.children: dict[int, tuple[str, str, str]] = {}
        """Child orders of execution algorithms by id: ``(client order id, parent id, algo)``."""

    def __len__(self) -> int:
        return self._n

    @classmethod
    def from_columns(cls, columns: dict[str, np.ndarray], n: int, fills: FillBatch) -> OrderBook:
        """A book (without a journal) holding ``n`` orders given as columns (views of their first ``n`` rows, not
        copies; columns not given are blank) and their fills, as a compiled run leaves them."""
        book = cls(capacity=0)
        # Columns not given are read-only blank views (one value, no memory per order); adding grows them anew.
        book.cols = {key: columns[key][:n] if key in columns else np.broadcast_to(_blank(key, 1), (n,))
                     for key in _COLUMNS}
        book._n = n
        book._fills = [fills] if len(fills) else []
        return book

    def column(self, name: str) -> np.ndarray:
        """A column's live values (a view)."""
        return self.cols[name][: self._n]

    def add(self, values: dict[str, np.ndarray | float | int],
            children: Sequence[tuple[str, str, str]] | None = None) -> IntArray:
        """Append orders; columns not given keep their blank value (NaN prices, zero else). Returns their ids.

        ``children`` marks them as child orders of execution algorithms: per order ``(client order id, parent id,
        algo)``; the client id is the one given (not derived from the rebalance) and the journal records the parent.
        """
        m = len(np.asarray(values["symbol"]))
        need = self._n + m
        if need > self.cols["bar"].size:
            size = max(need, 2 * self.cols["bar"].size)
            for key, arr in self.cols.items():
                grown = _blank(key, size)
                grown[: self._n] = arr[: self._n]
                self.cols[key] = grown
        sl = slice(self._n, need)
        for key, value in values.items():
            self.cols[key][sl] = value
        oids = np.arange(sl.start, need, dtype=np.int64)
        if children is not None:
            if len(children) != m:
                raise ValueError(f"order book: {len(children)} child tags for {m} orders")
            self.children.update(zip(oids.tolist(), children, strict=True))
        if self.journal is not None:
            self._journal_intents(oids)
        self._n = need
        return oids

    def _journal_intents(self, oids: IntArray) -> None:
        bj = self.journal
        assert bj is not None
        c = self.cols
        sl = slice(int(oids[0]), int(oids[-1]) + 1)
        keys = [bj.rebalance_key(b) for b in c["bar"][sl].tolist()]
        symbols = [bj.symbols[k] for k in c["symbol"][sl].tolist()]
        legs = c["leg"][sl].tolist()
        qty = c["quantity"][sl].tolist()
        types = TYPE_NAMES[c["order_type"][sl]].tolist()
        tifs = TIF_NAMES[c["time_in_force"][sl]].tolist()
        limits = [None if v != v else v for v in c["limit_price"][sl].tolist()]
        stops = [None if v != v else v for v in c["stop_price"][sl].tolist()]
        decision = c["decision_price"][sl].tolist()
        reasons = [_RISK_NAMES[r] for r in c["risk_reason"][sl].tolist()]
        run = bj.run_id
        tags = [self.children.get(o) for o in oids.tolist()] if self.children else [None] * len(keys)
        intents = [
            Intent(client_order_id(run, key, sym, leg) if tag is None else tag[0], run, key, sym,
                   "buy" if q > 0 else "sell", abs(q), ot, tif, lim, stp, dp, leg, rr,
                   None if tag is None else tag[1], None if tag is None else tag[2])
            for key, sym, leg, q, ot, tif, lim, stp, dp, rr, tag in zip(keys, symbols, legs, qty, types, tifs, limits,
                                                                       stops, decision, reasons, tags, strict=True)
        ]
        bj.journal.record_intents(intents)
        self.client_ids.extend(i.client_order_id for i in intents)

    def ids_of(self, oids: IntArray) -> tuple[str, ...] | None:
        """Client order ids of ``oids`` (None for a book without a journal)."""
        if self.journal is None:
            return None
        return tuple(self.client_ids[int(o)] for o in oids)

    def transition(self, oids: IntArray, new_status: npt.NDArray[np.int8] | int) -> npt.NDArray[np.bool_]:
        """Move orders to ``new_status`` where the table allows; returns which ones moved."""
        status = self.cols["status"]
        new = np.asarray(new_status, dtype=np.int8).reshape(-1)
        before = np.empty(oids.shape[0], dtype=np.int8)
        ok = _apply_transitions(status, oids, new, TRANSITIONS, before)
        if self.journal is not None:
            self._journal_states(oids, new, ok, before)
        if self._record_refusals and not ok.all():
            new_b = np.broadcast_to(new, oids.shape)
            for oid, cur, req in zip(oids[~ok], before[~ok], new_b[~ok], strict=True):
                self.refused.append(RejectedTransition(int(oid), int(cur), int(req)))
        return ok

    def _journal_states(self, oids: IntArray, new: npt.NDArray[np.int8], ok: npt.NDArray[np.bool_],
                        before: npt.NDArray[np.int8]) -> None:
        bj = self.journal
        assert bj is not None
        names = [s.value for s in OrderStatus]
        new_b = np.broadcast_to(new, oids.shape)
        ids = self.client_ids
        if ok.all():
            bj.journal.record_states(bj.run_id, [(ids[o], names[t], names[w]) for o, t, w in
                                                 zip(oids.tolist(), new_b.tolist(), before.tolist(), strict=True)])
            return
        rows: list[tuple[EventKind, str | None, str | None, dict[str, object] | None]] = []
        for oid, to, moved, was in zip(oids.tolist(), new_b.tolist(), ok.tolist(), before.tolist(), strict=True):
            if moved:
                rows.append((EventKind.STATE, ids[oid], names[to], {"from": names[was]}))
            elif to != was:  # a repeated report of the status it already has is no refusal
                rows.append((EventKind.REFUSED_TRANSITION, ids[oid], None, {"from": names[was], "to": names[to]}))
        bj.journal.record_many(bj.run_id, rows)

    def apply(self, fills: FillBatch, events: OrderEvents) -> None:
        """Book executions and state changes reported by an executor."""
        if len(fills):
            self._fills.append(fills)
            c = self.cols
            _book_fills(c["filled"], c["fill_value"], c["fees"], fills.oid, fills.quantity, fills.price, fills.fee)
        if len(events):
            moved = self.transition(events.oid, events.status)
            oids = events.oid[moved]
            self.cols["venue_reason"][oids] = np.maximum(self.cols["venue_reason"][oids], events.reason[moved])

    def open_ids(self) -> IntArray:
        """Ids of orders that are submitted or partially filled."""
        lo = self._open_from
        st = self.cols["status"][lo : self._n]
        live = np.flatnonzero((st == SUBMITTED) | (st == PARTIALLY_FILLED) | (st == PENDING))
        if live.size == 0:
            self._open_from = self._n
            return np.zeros(0, dtype=np.int64)
        self._open_from = lo + int(live[0])
        out: IntArray = (live[st[live] != PENDING] + lo).astype(np.int64)
        return out

    def fills(self) -> FillBatch:
        """All executions booked, in order."""
        if len(self._fills) > 1:
            self._fills = [concat_fills(self._fills)]
        return concat_fills(self._fills)

