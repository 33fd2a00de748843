"""The adapter's record of the account's v20 transactions: order creations, fills, cancels and rejects, indexed by
order id and by ``clientExtensions.id``.

Fed by order-create answers, the transaction stream and ``/transactions/sinceid``; it is what the adapter consults
before any resend (a retried market order is not refused as a duplicate by OANDA: the log says it was placed) and
where fills with their financing and commission come from. Thread-safe: the stream's thread writes too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from execlab.adapters.oanda._mapping import OrderView

__all__ = ["TransactionBook"]

Txn = Mapping[str, Any]
_RESPONSE_KEYS = ("orderCreateTransaction", "orderFillTransaction", "orderCancelTransaction",
                  "orderRejectTransaction")


class TransactionBook:
    """Transactions seen so far (any order), and the newest transaction id."""

    def __init__(self, last_id: str = "0") -> None:
        self._lock = threading.Lock()
        self.last_id = last_id
        self.creates: dict[str, Txn] = {}
        self.fills: dict[str, dict[str, Txn]] = {}
        self.cancels: dict[str, Txn] = {}
        self.rejects: dict[str, Txn] = {}
        """Reject transactions by client id."""
        self.by_client: dict[str, str] = {}
        """Order id of the newest order created with each client id."""
        self.financing: dict[str, Txn] = {}
        """``DAILY_FINANCING`` transactions by id."""

    def ingest(self, transactions: Iterable[Txn]) -> list[Txn]:
        """Record transactions; returns those not seen before."""
        new = []
        with self._lock:
            for txn in transactions:
                kind, tid = str(txn.get("type", "")), str(txn.get("id", ""))
                if kind == "ORDER_FILL":
                    bucket = self.fills.setdefault(str(txn["orderID"]), {})
                    if tid in bucket:
                        continue
                    bucket[tid] = txn
                elif kind == "ORDER_CANCEL":
                    if str(txn["orderID"]) in self.cancels:
                        continue
                    self.cancels[str(txn["orderID"])] = txn
                elif kind.endswith("_ORDER_REJECT"):
                    cid = (txn.get("clientExtensions") or {}).get("id")
                    if cid is None or cid in self.rejects:
                        continue
                    self.rejects[cid] = txn
                elif kind == "DAILY_FINANCING":
                    if tid in self.financing:
                        continue
                    self.financing[tid] = txn
                elif kind.endswith("_ORDER"):
                    if tid in self.creates:
                        continue
                    self.creates[tid] = txn
                    cid = (txn.get("clientExtensions") or {}).get("id")
                    if cid is not None:
                        self.by_client[cid] = tid
                else:
                    continue
                new.append(txn)
                if tid.isdigit() and int(tid) > int(self.last_id):
                    self.last_id = tid
        return new

    def ingest_response(self, answer: Mapping[str, Any]) -> None:
        """Record the transactions of an order-create (or cancel) answer."""
        self.ingest(answer[k] for k in _RESPONSE_KEYS if isinstance(answer.get(k), Mapping))
        last = str(answer.get("lastTransactionID", ""))
        with self._lock:
            if last.isdigit() and int(last) > int(self.last_id):
                self.last_id = last

    def advance(self, last_id: str) -> None:
        """Note that everything up to ``last_id`` has been read."""
        with self._lock:
            if last_id.isdigit() and int(last_id) > int(self.last_id):
                self.last_id = last_id

    def view(self, order: Mapping[str, Any]) -> OrderView:
        """``order`` (a v20 Order or its create transaction) with the fills and cancel recorded for it."""
        oid = str(order["id"])
        with self._lock:
            fills = tuple(sorted(self.fills.get(oid, {}).values(), key=lambda t: int(t["id"])))
            return OrderView(order, fills, self.cancels.get(oid))

    def fill_ids_missing(self, order: Mapping[str, Any]) -> bool:
        """Whether ``order`` names a filling transaction this book has not seen."""
        tid = order.get("fillingTransactionID")
        with self._lock:
            return tid is not None and str(tid) not in self.fills.get(str(order["id"]), {})

    def all_financing(self) -> list[Txn]:
        """Every daily financing recorded, oldest first."""
        with self._lock:
            out = list(self.financing.values())
        return sorted(out, key=lambda t: int(t["id"]))

    def all_fills(self) -> list[Txn]:
        """Every fill recorded, oldest first."""
        with self._lock:
            out = [t for bucket in self.fills.values() for t in bucket.values()]
        return sorted(out, key=lambda t: int(t["id"]))
