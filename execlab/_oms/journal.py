"""The journal: an append-only SQLite record of every intent, request, response, state change and fill.

One file, WAL mode, no server. Rows are never updated or deleted (triggers refuse it), secrets are redacted
before they are written, and every table reads back as a DataFrame.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pandas as pd

from execlab._oms.events import EventKind

__all__ = ["Intent", "Journal", "JournalCharge", "JournalFill", "redact"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS intents (
    client_order_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    rebalance_key TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity REAL NOT NULL,
    order_type TEXT NOT NULL,
    time_in_force TEXT NOT NULL,
    limit_price REAL,
    stop_price REAL,
    decision_price REAL,
    leg INTEGER NOT NULL,
    risk_reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    parent_id TEXT,
    algo TEXT
);
CREATE INDEX IF NOT EXISTS intents_run ON intents(run_id, rebalance_key);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    client_order_id TEXT,
    status TEXT,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_order ON events(client_order_id, seq);
CREATE INDEX IF NOT EXISTS events_kind ON events(run_id, kind);
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity REAL NOT NULL,
    price REAL NOT NULL,
    fee REAL NOT NULL,
    at TEXT NOT NULL,
    fee_currency TEXT,
    liquidity TEXT,
    executed_at TEXT,
    quote_rate REAL
);
CREATE INDEX IF NOT EXISTS fills_order ON fills(client_order_id);
CREATE TABLE IF NOT EXISTS targets (
    run_id TEXT NOT NULL,
    rebalance_key TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, rebalance_key)
);
CREATE TABLE IF NOT EXISTS charges (
    charge_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    symbol TEXT NOT NULL,
    amount REAL NOT NULL,
    currency TEXT NOT NULL,
    at TEXT NOT NULL,
    booked_at TEXT
);
"""
_APPEND_ONLY: Final = "".join(
    f"""
CREATE TRIGGER IF NOT EXISTS {table}_no_{op} BEFORE {op.upper()} ON {table}
BEGIN SELECT RAISE(ABORT, 'the journal is append-only: {op} on {table} refused'); END;"""
    for table in ("intents", "events", "fills", "targets", "charges")
    for op in ("update", "delete")
)

_SECRET_KEYS: Final = re.compile(r"(secret|password|passwd|token|api[_-]?key|authorization|apca-api|private)", re.I)
REDACTED: Final = "***"


def redact(value: Any, secrets: Sequence[str] = ()) -> Any:
    """A copy of ``value`` with secret-looking keys and every known secret string replaced by ``***``."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if _SECRET_KEYS.search(str(k)) and v not in (None, "") else redact(v, secrets))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret in value:
                value = value.replace(secret, REDACTED)
        return value
    return value


@dataclass(frozen=True, slots=True)
class Intent:
    """An order the OMS decided to send, journaled before anything is sent."""

    client_order_id: str
    run_id: str
    rebalance_key: str
    symbol: str
    side: str
    quantity: float
    order_type: str = "market"
    time_in_force: str = "day"
    limit_price: float | None = None
    stop_price: float | None = None
    decision_price: float | None = None
    leg: int = 0
    risk_reason: str = ""
    parent_id: str | None = None
    """For a child order of an execution algorithm: its parent's client order id (the parent is journaled once, as
    a ``parent`` event, and never sent)."""
    algo: str | None = None
    """For a child order: the algorithm that sent it (``twap``, ``vwap``, ``pov``, ``iceberg``)."""
    reason: str | None = None
    """For a child order: why the scheduler sent it (``schedule``, ``catch-up``, ``sweep``, ...)."""
    decided_at: str | None = None
    """For a child order: when the scheduler decided it, by the run's clock (ISO 8601)."""


_INTENT_EXTRA: Final = ("parent_id", "algo", "reason", "decided_at")
"""Intent columns added after the first journals were written (children of execution algorithms)."""


@dataclass(frozen=True, slots=True)
class JournalFill:
    """One execution as the broker reported it; ``fill_id`` makes recording it twice harmless."""

    fill_id: str
    client_order_id: str
    symbol: str
    side: str
    quantity: float
    price: float
    fee: float = 0.0
    at: str = ""
    """The run's clock when it was journaled (the paper executor's feed clock; empty: now)."""
    fee_currency: str | None = None
    """The currency of ``fee`` (None: the account's)."""
    liquidity: str | None = None
    """``maker`` or ``taker``, when the broker says."""
    executed_at: str | None = None
    """When the broker executed it, by the broker's clock (ISO 8601, UTC), when it says."""
    quote_rate: float | None = None
    """The broker's home-currency value of one unit of the price currency at the fill (a cross ``EUR/GBP`` in a USD
    account: GBP/USD), when it says: TCA converts the fill's costs with it."""


@dataclass(frozen=True, slots=True)
class JournalCharge:
    """Money the broker booked on a position outside a fill (``kind``: ``financing``), signed: negative paid."""

    charge_id: str
    kind: str
    symbol: str
    amount: float
    currency: str
    booked_at: str | None = None
    """When the broker booked it, by its clock (ISO 8601, UTC), when it says."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Journal:
    """Append-only SQLite journal (``":memory:"`` for a throwaway one)."""

    def __init__(self, path: str | Path, secrets: Iterable[str] = (), synchronous: str = "NORMAL"):
        self.path = str(path)
        self._secrets = tuple(s for s in secrets if s)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(_SCHEMA + _APPEND_ONLY)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Columns added since a journal file was created (a journal written by an older execlab stays readable)."""
        with self._lock:
            have = {row[1] for row in self._db.execute("PRAGMA table_info(fills)")}
            for name in ("fee_currency", "liquidity", "executed_at"):
                if name not in have:
                    self._db.execute(f"ALTER TABLE fills ADD COLUMN {name} TEXT")
            if "quote_rate" not in have:
                self._db.execute("ALTER TABLE fills ADD COLUMN quote_rate REAL")
            have = {row[1] for row in self._db.execute("PRAGMA table_info(intents)")}
            for name in _INTENT_EXTRA:
                if name not in have:
                    self._db.execute(f"ALTER TABLE intents ADD COLUMN {name} TEXT")

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()

    def add_secret(self, *secrets: str) -> None:
        """Register more strings that must never be written."""
        self._secrets = self._secrets + tuple(s for s in secrets if s)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _json(self, payload: Mapping[str, Any] | None) -> str:
        return json.dumps(redact(dict(payload or {}), self._secrets), default=str, sort_keys=True)

    # -- writes -------------------------------------------------------------------------------------------
    def record_intents(self, intents: Sequence[Intent]) -> None:
        """Journal a whole batch of intents in one transaction (all or nothing); each starts ``pending``."""
        at = _now()
        with self._tx() as db:
            db.executemany(
                "INSERT INTO intents (client_order_id, run_id, rebalance_key, symbol, side, quantity, order_type, "
                "time_in_force, limit_price, stop_price, decision_price, leg, risk_reason, created_at, parent_id, "
                "algo, reason, decided_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(i.client_order_id, i.run_id, i.rebalance_key, i.symbol, i.side, float(i.quantity), i.order_type,
                  i.time_in_force, i.limit_price, i.stop_price, i.decision_price, int(i.leg), i.risk_reason, at,
                  i.parent_id, i.algo, i.reason, i.decided_at)
                 for i in intents],
            )

    def record(self, run_id: str, kind: EventKind, client_order_id: str | None = None, status: str | None = None,
               payload: Mapping[str, Any] | None = None) -> None:
        """Append one event (request, response, state change, alert, reconciliation ...)."""
        self.record_many(run_id, [(kind, client_order_id, status, payload)])

    def record_many(self, run_id: str,
                    rows: Iterable[tuple[EventKind, str | None, str | None, Mapping[str, Any] | None]]) -> None:
        """Append several events in one transaction."""
        at = _now()
        with self._tx() as db:
            db.executemany(
                "INSERT INTO events (at, run_id, kind, client_order_id, status, payload) VALUES (?,?,?,?,?,?)",
                [(at, run_id, EventKind(kind).value, coid, status, self._json(payload))
                 for kind, coid, status, payload in rows],
            )

    def record_run(self, run_id: str, mode: str, venue: str, strategy_id: str, currency: str | None = None) -> None:
        """Journal what the run is (a ``run`` event; ``currency``: the account's), unless its last ``run`` event
        already says the same."""
        labels = {"mode": mode, "venue": venue, "strategy_id": strategy_id}
        if currency:
            labels["currency"] = currency
        if self.run_labels(run_id) != labels:
            self.record(run_id, EventKind.RUN, None, None, labels)

    def run_labels(self, run_id: str) -> dict[str, str]:
        """The run's ``mode``, ``venue``, ``strategy_id`` and account ``currency`` (when journaled) from its last
        ``run`` event (empty when it has none: journals written before runs were labelled)."""
        rows = self._frame("SELECT payload FROM events WHERE run_id = ? AND kind = ? ORDER BY seq DESC LIMIT 1",
                           (run_id, EventKind.RUN.value))
        if rows.empty:
            return {}
        try:
            data = json.loads(str(rows["payload"].iloc[0]))
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: str(data[k]) for k in ("mode", "venue", "strategy_id", "currency")
                if data.get(k) not in (None, "")}

    def record_states(self, run_id: str, rows: Iterable[tuple[str, str, str]],
                      kind: EventKind = EventKind.STATE) -> None:
        """Append state changes ``(client_order_id, new status, previous status)`` in one transaction."""
        at = _now()
        with self._tx() as db:
            db.executemany(
                "INSERT INTO events (at, run_id, kind, client_order_id, status, payload) VALUES (?,?,?,?,?,?)",
                [(at, run_id, kind.value, coid, new, f'{{"from": "{was}"}}') for coid, new, was in rows],
            )

    def record_targets(self, run_id: str, rebalance_key: str, content_hash: str,
                       payload: Mapping[str, Any]) -> None:
        """Journal the targets a rebalance was asked for (once per rebalance key), before anything is planned."""
        with self._tx() as db:
            db.execute("INSERT INTO targets VALUES (?,?,?,?,?)",
                       (run_id, rebalance_key, content_hash, self._json(payload), _now()))

    def targets(self, run_id: str | None = None) -> pd.DataFrame:
        """The journaled targets of every rebalance (payload as JSON text), oldest first."""
        if run_id is None:
            return self._frame("SELECT * FROM targets ORDER BY rowid")
        return self._frame("SELECT * FROM targets WHERE run_id = ? ORDER BY rowid", (run_id,))

    def record_fills(self, run_id: str, fills: Sequence[JournalFill]) -> list[bool]:
        """Journal executions; returns which were new (a fill seen before is ignored, not doubled)."""
        at = _now()
        return self._insert_new(
            "INSERT OR IGNORE INTO fills (fill_id, client_order_id, run_id, symbol, side, quantity, price, fee, at, "
            "fee_currency, liquidity, executed_at, quote_rate) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(f.fill_id, f.client_order_id, run_id, f.symbol, f.side, float(f.quantity), float(f.price), float(f.fee),
              f.at or at, f.fee_currency, f.liquidity, f.executed_at, f.quote_rate) for f in fills])

    def _insert_new(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> list[bool]:
        """Run ``sql`` (an ``INSERT OR IGNORE``) for each row in one transaction; returns which rows were new."""
        with self._tx() as db:
            return [db.execute(sql, row).rowcount == 1 for row in rows]

    # -- reads --------------------------------------------------------------------------------------------
    def _frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        with self._lock:
            cur = self._db.execute(sql, params)
            cols = [d[0] for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=cols)

    def orders(self, run_id: str | None = None, rebalance_key: str | None = None) -> pd.DataFrame:
        """Every intent with its latest status, filled quantity and average fill price."""
        where, params = [], []
        if run_id is not None:
            where.append("i.run_id = ?")
            params.append(run_id)
        if rebalance_key is not None:
            where.append("i.rebalance_key = ?")
            params.append(rebalance_key)
        sql = f"""
            SELECT i.*,
                   COALESCE((SELECT e.status FROM events e WHERE e.client_order_id = i.client_order_id
                             AND e.kind = 'state' ORDER BY e.seq DESC LIMIT 1), 'pending') AS status,
                   COALESCE((SELECT SUM(f.quantity) FROM fills f WHERE f.client_order_id = i.client_order_id), 0)
                       AS filled_quantity,
                   (SELECT SUM(f.quantity * f.price) / SUM(f.quantity) FROM fills f
                    WHERE f.client_order_id = i.client_order_id) AS avg_fill_price
            FROM intents i {'WHERE ' + ' AND '.join(where) if where else ''}
            ORDER BY i.rowid"""
        return self._frame(sql, params)

    def events(self, run_id: str | None = None, kind: str | None = None) -> pd.DataFrame:
        """The event log in order (payload as JSON text)."""
        where, params = [], []
        if run_id is not None:
            where.append("run_id = ?")
            params.append(run_id)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        return self._frame(f"SELECT * FROM events {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY seq",
                           params)

    def record_charges(self, run_id: str, charges: Sequence[JournalCharge]) -> list[bool]:
        """Journal money the broker booked outside fills (daily financing); returns which were new (one seen
        before, by any run, is ignored)."""
        at = _now()
        return self._insert_new(
            "INSERT OR IGNORE INTO charges (charge_id, run_id, kind, symbol, amount, currency, at, booked_at) "
            "VALUES (?,?,?,?,?,?,?,?)",
            [(c.charge_id, run_id, c.kind, c.symbol, float(c.amount), c.currency, at, c.booked_at) for c in charges])

    def charges(self, run_id: str | None = None) -> pd.DataFrame:
        """The charges journaled (of ``run_id``, or all), oldest first: ``amount`` signed, negative paid."""
        if run_id is None:
            return self._frame("SELECT * FROM charges ORDER BY rowid")
        return self._frame("SELECT * FROM charges WHERE run_id = ? ORDER BY rowid", (run_id,))

    def fills(self, run_id: str | None = None) -> pd.DataFrame:
        """Every execution recorded."""
        if run_id is None:
            return self._frame("SELECT * FROM fills ORDER BY rowid")
        return self._frame("SELECT * FROM fills WHERE run_id = ? ORDER BY rowid", (run_id,))

    def status_of(self, client_order_ids: Sequence[str]) -> dict[str, str]:
        """Latest journaled status of each given order (absent ids are left out)."""
        out: dict[str, str] = {}
        with self._lock:
            for coid in client_order_ids:
                row = self._db.execute(
                    "SELECT status FROM events WHERE client_order_id = ? AND kind = 'state' ORDER BY seq DESC LIMIT 1",
                    (coid,),
                ).fetchone()
                if row is not None:
                    out[coid] = row[0]
                elif self._db.execute("SELECT 1 FROM intents WHERE client_order_id = ?", (coid,)).fetchone():
                    out[coid] = "pending"
        return out

    def has_request(self, client_order_id: str) -> bool:
        """True when a request for this order was journaled: it may have reached the broker (one index lookup)."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM events WHERE client_order_id = ? AND kind = 'request' LIMIT 1", (client_order_id,),
            ).fetchone()
        return row is not None

    def fills_total(self, client_order_id: str) -> float:
        """Quantity filled so far for one order, by the journal."""
        with self._lock:
            row = self._db.execute("SELECT COALESCE(SUM(quantity), 0) FROM fills WHERE client_order_id = ?",
                                   (client_order_id,)).fetchone()
        return float(row[0])

    def fills_value(self, client_order_id: str) -> float:
        """Quantity × price filled so far for one order, by the journal."""
        with self._lock:
            row = self._db.execute("SELECT COALESCE(SUM(quantity * price), 0) FROM fills WHERE client_order_id = ?",
                                   (client_order_id,)).fetchone()
        return float(row[0])

    def known_order_ids(self) -> set[str]:
        """Client order ids the journal knows (intents and adopted external orders)."""
        with self._lock:
            ids = {r[0] for r in self._db.execute("SELECT client_order_id FROM intents")}
            ids |= {r[0] for r in self._db.execute(
                "SELECT client_order_id FROM events WHERE kind = 'adopted' AND client_order_id IS NOT NULL")}
        return ids

    def positions_from_fills(self, run_id: str | None = None) -> pd.Series:
        """Net quantity per symbol implied by the journaled fills."""
        fills = self.fills(run_id)
        if fills.empty:
            return pd.Series(dtype=float, name="quantity")
        signed = fills["quantity"].where(fills["side"] == "buy", -fills["quantity"])
        return signed.groupby(fills["symbol"]).sum().rename("quantity")
