"""``broker: sim`` as a broker: the local simulated venue behind the adapter contract.

:class:`SimAdapter` puts execlab's quote-driven simulated venue (:class:`execlab._sim.quote_venue.QuoteVenue`, the
engine behind the backtest's fills and every local broker venue) behind :class:`BrokerAdapter`, so a ``broker:
sim`` paper rebalance runs through the same :class:`BrokerExecutor` and the same journaled, resumable driver
(:func:`execlab.run_live_rebalance`, ``execlab rebalance``) as a real broker.

The account lives in the process; with a ``state_path`` it is also written there (JSON, replaced atomically) after
every change, and a new :class:`SimAdapter` on the same file starts from it: cash, positions, the last prices, the
trading day and its starting equity, every order it received with its fills, every execution it reported (id, fee
from the venue config's fee model, maker or taker, time: :meth:`SimAdapter._fills`, so the journal holds the fees
the simulated broker charged), and the orders still working (sent to the venue again with what is left of them).
A process killed before the file was replaced loses only the request in flight, which the venue then never
received: the driver looks the order up before sending it again.

Prices come from the caller, one market step at a time (:meth:`SimAdapter.set_market`): the command line sets the
``--prices`` of the rebalance (and the volume of the last ``--bars`` row at or before the as-of, for the
participation cap); a test may replay bars. The venue lists as tradable every symbol it has a price for.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from execlab._brokers.contract import (
    BrokerAdapter,
    BrokerFill,
    BrokerOrder,
    BrokerRejectedError,
    Capability,
    DuplicateClientOrderIdError,
)
from execlab._config import BrokerConfig, Config, VenueConfig
from execlab._core.codes import TIF, TYPE, VenueReason
from execlab._core.models import AccountSnapshot, Order, OrderStatus, OrderType, Side, TimeInForce
from execlab._sim.quote_venue import CANCELLED, EXPIRED, FILLED, REJECTED, EngineEvent, EngineFill, QuoteVenue

__all__ = ["SimAdapter", "make_sim_adapter", "sim_account_path"]

_FORMAT: Final = 1
_WORKING: Final = (OrderStatus.SUBMITTED.value, OrderStatus.PARTIALLY_FILLED.value)


@dataclass
class _Record:
    """One order as the simulated broker keeps it (and writes it to the state file)."""

    client_order_id: str
    broker_order_id: str
    symbol: str
    side: str
    quantity: float
    order_type: str
    time_in_force: str
    limit_price: float | None
    stop_price: float | None
    status: str = OrderStatus.SUBMITTED.value
    filled: float = 0.0
    filled_value: float = 0.0
    fees: float = 0.0
    oid: int = -1
    """The venue's key of the order in this process (-1: not working there)."""
    reason: str = ""

    def view(self) -> BrokerOrder:
        avg = self.filled_value / self.filled if self.filled > 0 else None
        return BrokerOrder(self.client_order_id, self.broker_order_id, self.symbol, Side(self.side), self.quantity,
                           self.filled, avg, OrderStatus(self.status),
                           {"id": self.broker_order_id, "client_order_id": self.client_order_id,
                            "status": self.status, "filled_qty": self.filled, "fees": self.fees,
                            "reason": self.reason})


@dataclass(frozen=True)
class _Execution:
    """One execution as the simulated broker reports it (and writes it to the state file)."""

    execution_id: str
    client_order_id: str
    broker_order_id: str
    symbol: str
    side: str
    quantity: float
    price: float
    fee: float
    liquidity: str
    timestamp: str
    """ISO 8601, UTC: the market time of the step that matched it."""

    def fill(self) -> BrokerFill:
        return BrokerFill(self.execution_id, self.client_order_id, self.broker_order_id, self.symbol, Side(self.side),
                          self.quantity, self.price, self.fee, None,
                          "maker" if self.liquidity == "maker" else "taker", datetime.fromisoformat(self.timestamp),
                          asdict(self))


class SimAdapter(BrokerAdapter):
    """The local simulated venue as a broker (``broker: sim``), optionally persisted to ``state_path``.

    ``venue``, ``initial_cash`` and ``allow_short`` are the config's (``venue``, ``initial_cash``,
    ``plan.allow_short``); ``initial_cash`` is used only when ``state_path`` does not exist yet.
    """

    name = "sim"
    capabilities = frozenset({Capability.TRADABLE, Capability.BULK_REFRESH, Capability.FILLS})

    def __init__(self, venue: VenueConfig | None = None, initial_cash: float = 100_000.0, allow_short: bool = False,
                 *, state_path: str | Path | None = None, read_only: bool = False) -> None:
        self.config = venue or VenueConfig()
        self.allow_short = bool(allow_short)
        self.state_path = None if state_path is None else Path(state_path)
        self.read_only = bool(read_only)
        """Read the state file but never write it (``execlab plan``: nothing may change)."""
        self._venue = QuoteVenue(self.config, initial_cash, self.allow_short, sells_first=True)
        self._orders: dict[str, _Record] = {}
        self._by_oid: dict[int, _Record] = {}
        self._by_broker_id: dict[str, _Record] = {}
        self._received: dict[str, int] = {}
        self._executions: list[_Execution] = []
        self._next = 1
        self._day: int | None = None
        self._day_start_equity: float | None = None
        self._time: datetime | None = None
        if self.state_path is not None and self.state_path.exists():
            self._load(self.state_path)

    def _bind_run(self, journal_path: str | None, read_only: bool) -> None:
        """Keep the account beside the journal (:func:`sim_account_path`), reading it back when it exists."""
        self.read_only = self.read_only or read_only
        if self.state_path is None and journal_path is not None:
            self.state_path = sim_account_path(Path(journal_path))
            if self.state_path.exists():
                self._load(self.state_path)

    # -- the market ----------------------------------------------------------------------------------------
    def set_market(self, prices: Mapping[str, float], when: datetime | None = None,
                   volume: Mapping[str, float] | None = None) -> None:
        """One market step at ``when`` (UTC now when None): each symbol's price (bid = ask = last) and the volume
        the participation cap may take from it (unlimited when not given); then every working order is matched.

        On a new trading day the day's starting equity is the equity at the previous step's prices, and day
        orders of the previous day expire.
        """
        when = when if when is not None else datetime.now(UTC)
        day = when.date().toordinal()
        if self._day is None or day != self._day:
            self._day_start_equity = self._venue.equity()
            self._day = day
        self._time = when
        rows = []
        for symbol, price in prices.items():
            px = float(price)
            if not (math.isfinite(px) and px > 0):
                raise ValueError(f"sim: price for symbol {symbol!r} must be positive and finite, got {price!r}")
            vol = math.inf if volume is None else float(volume.get(symbol, math.inf))
            rows.append((str(symbol), px, px, px, vol))
        self._venue.set_quotes(rows)
        self._apply(*self._venue.match(day))
        self._save()

    @property
    def received(self) -> dict[str, int]:
        """Submissions received per client order id (duplicates refused included): what the venue was sent."""
        return dict(self._received)

    # -- the adapter hooks ---------------------------------------------------------------------------------
    def _submit(self, order: Order) -> BrokerOrder:
        coid = order.client_order_id
        self._received[coid] = self._received.get(coid, 0) + 1
        if coid in self._orders:
            self._save()
            raise DuplicateClientOrderIdError(f"sim: client order id {coid!r} is already used")
        if self._venue.quote(order.symbol) is None:
            self._save()
            raise BrokerRejectedError(f"sim: no price for symbol {order.symbol!r}; nothing to trade it at")
        record = _Record(coid, f"sim-{self._next}", order.symbol, order.side.value, float(order.quantity),
                         order.order_type.value, order.time_in_force.value, order.limit_price, order.stop_price)
        self._next += 1
        self._orders[coid] = record
        self._by_broker_id[record.broker_order_id] = record
        self._work(record, record.quantity)
        self._apply(*self._venue.match(self._today()))
        self._save()
        return record.view()

    def _cancel(self, broker_order_id: str) -> None:
        record = self._by_broker_id.get(broker_order_id)
        if record is None:
            raise BrokerRejectedError(f"sim: no order {broker_order_id!r}")
        if record.status not in _WORKING:
            return
        if record.oid >= 0:
            self._venue.cancel(record.oid)
            self._by_oid.pop(record.oid, None)
        record.oid = -1
        record.status = OrderStatus.CANCELLED.value
        record.reason = "cancelled_by_client"
        self._save()

    def _order(self, client_order_id: str) -> BrokerOrder | None:
        record = self._orders.get(client_order_id)
        return None if record is None else record.view()

    def _open_orders(self) -> list[BrokerOrder]:
        return [r.view() for r in self._orders.values() if r.status in _WORKING]

    def _recent_orders(self) -> list[BrokerOrder]:
        return [r.view() for r in self._orders.values()]

    def _positions(self) -> dict[str, float]:
        v = self._venue
        return {s: float(v.position[k]) for k, s in enumerate(v.symbols) if v.position[k] != 0.0}

    def _account(self) -> AccountSnapshot:
        cash = self._venue.cash
        return AccountSnapshot(timestamp=self._time, cash=cash, equity=self._venue.equity(), buying_power=cash,
                               day_start_equity=self._day_start_equity)

    def _tradable(self, symbols: Sequence[str]) -> set[str] | None:
        return {s for s in symbols if self._venue.quote(s) is not None}

    def _fills(self, since: datetime | None) -> list[BrokerFill]:
        """Every execution (``since`` None), or those at or after ``since``, oldest first; the fee is in the account
        currency (``fee_currency`` None)."""
        cut = None if since is None else since.astimezone(UTC)
        return [e.fill() for e in self._executions
                if cut is None or datetime.fromisoformat(e.timestamp) >= cut]

    # -- matching --------------------------------------------------------------------------------------------
    def _today(self) -> int:
        if self._day is None:
            self._day = datetime.now(UTC).date().toordinal()
        return self._day

    def _work(self, record: _Record, quantity: float) -> None:
        """Give ``quantity`` of ``record`` to the venue under a new key."""
        oid = self._next_oid()
        record.oid = oid
        self._by_oid[oid] = record
        sign = 1.0 if record.side == Side.BUY.value else -1.0
        self._venue.submit(oid, record.symbol, sign * quantity, TYPE[OrderType(record.order_type)],
                           TIF[TimeInForce(record.time_in_force)], day=self._today(),
                           limit=math.nan if record.limit_price is None else record.limit_price,
                           stop=math.nan if record.stop_price is None else record.stop_price)

    def _next_oid(self) -> int:
        oid = self._next
        self._next += 1
        return oid

    def _apply(self, fills: list[EngineFill], events: list[EngineEvent]) -> None:
        at = (self._time or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
        for f in fills:
            record = self._by_oid[f.oid]
            record.filled += abs(f.qty)
            record.filled_value += abs(f.qty) * f.price
            record.fees += f.fee
            record.status = OrderStatus.PARTIALLY_FILLED.value
            self._executions.append(_Execution(
                f"sim-x{len(self._executions) + 1}", record.client_order_id, record.broker_order_id, record.symbol,
                record.side, abs(f.qty), f.price, f.fee, "maker" if f.maker else "taker", at))
        ended = {e.oid: e for e in events}
        for oid in [o for o in self._by_oid if o in ended or not self._venue.is_working(o)]:
            record = self._by_oid.pop(oid)
            record.oid = -1
            event = ended.get(oid)
            if record.filled >= record.quantity - 1e-9:
                record.status = OrderStatus.FILLED.value
            elif event is not None:
                record.status = _final(event, record.filled).value
                record.reason = VenueReason(event.reason).name.lower() if event.reason else ""
            else:
                record.status = OrderStatus.CANCELLED.value

    # -- the state file ----------------------------------------------------------------------------------------
    def _save(self) -> None:
        if self.state_path is None or self.read_only:
            return
        v = self._venue
        quotes = {}
        for s in v.symbols:
            q = v.quote(s)
            if q is not None:
                quotes[s] = [_num(q[2])]
        state = {
            "format": _FORMAT, "cash": v.cash, "next": self._next, "day": self._day,
            "day_start_equity": self._day_start_equity,
            "time": None if self._time is None else self._time.isoformat(),
            "positions": {s: [float(v.position[k]), float(v.avg_price[k])] for k, s in enumerate(v.symbols)
                          if v.position[k] != 0.0},
            "prices": quotes,
            "orders": [{k: x for k, x in asdict(r).items() if k != "oid"}
                       | {"remaining": v.remaining(r.oid) if r.oid >= 0 else 0.0}
                       for r in self._orders.values()],
            "received": self._received,
            "executions": [asdict(e) for e in self._executions],
        }
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.state_path)

    def _load(self, path: Path) -> None:
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BrokerRejectedError(f"sim: cannot read the simulated account {path}: {exc}") from None
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise BrokerRejectedError(f"sim: {path} is not a simulated account this version of execlab writes")
        v = QuoteVenue(self.config, float(state["cash"]), self.allow_short, sells_first=True)
        for symbol, (qty, avg) in state["positions"].items():
            k = v.symbol_index(symbol)
            v.position[k], v.avg_price[k] = float(qty), float(avg)
        self._venue = v
        v.set_quotes([(s, p[0], p[0], p[0], math.inf) for s, p in state["prices"].items()])
        self._next = int(state["next"])
        self._day = state["day"]
        self._day_start_equity = state["day_start_equity"]
        self._time = None if state["time"] is None else datetime.fromisoformat(state["time"])
        self._received = {str(k): int(n) for k, n in state["received"].items()}
        self._executions = [_Execution(**row) for row in state.get("executions", [])]  # none in older files
        for row in state["orders"]:
            remaining = float(row.pop("remaining"))
            record = _Record(**row)
            self._orders[record.client_order_id] = record
            self._by_broker_id[record.broker_order_id] = record
            if record.status in _WORKING and remaining > 0:
                self._work(record, remaining)


def _final(event: EngineEvent, filled: float) -> OrderStatus:
    if event.status == FILLED:
        return OrderStatus.FILLED
    if event.status == EXPIRED:
        return OrderStatus.EXPIRED
    refused = event.reason in (VenueReason.INSUFFICIENT_CASH, VenueReason.NO_SHORTING)
    if event.status == REJECTED or (event.status == CANCELLED and refused and filled == 0):
        return OrderStatus.REJECTED
    return OrderStatus.CANCELLED


def _num(value: float) -> float | None:
    return None if math.isnan(value) else float(value)



def sim_account_path(journal: Path) -> Path:
    """Where ``broker: sim`` keeps the simulated account of the journal ``journal``: ``<journal>.sim-account.json``."""
    return journal.with_name(journal.name + ".sim-account.json")


def make_sim_adapter(broker: BrokerConfig, config: Config) -> SimAdapter:
    """The registry's factory for ``broker: sim``: the config's venue, starting cash and short-selling rule."""
    return SimAdapter(config.venue, config.initial_cash, config.plan.allow_short)
