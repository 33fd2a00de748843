"""``IBVenue``: a local TWS / IB Gateway on 127.0.0.1 that unmodified ib_async connects to.

The TWS API socket protocol (:mod:`._wire`, :mod:`._requests`, :mod:`._messages`) in front of the broker kit's
:class:`execlab.venues._base.VenueAccount`: contracts from a catalogue (US stocks on SMART, FX on IDEALPRO, a future),
orders keyed by ``(clientId, orderId)`` and ``permId``, executions with commission reports, positions, account values
per currency. The harness routes (``/_stats``, ``/_quotes``, ``/_faults``, ``/_streams/drop``, plus ``/_restart``
and ``/_connectivity``) are served on an HTTP side port, guarded by the harness token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Self
from zoneinfo import ZoneInfo

import pandas as pd
from aiohttp import web

from execlab._config import FeeConfig, VenueConfig
from execlab.venues._base.account import VenueAccount, VenueEvent, VenueExecution, VenueOrder, VenueOrderRequest
from execlab.venues._base.faults import FaultInjector
from execlab.venues._base.server import VenueServer, harness_routes
from execlab.venues._harness import HARNESS_TOKEN_HEADER, HarnessGuard, new_harness_token
from execlab.venues.ibkr import _messages as m
from execlab.venues.ibkr._book import (
    IBOrderRecord,
    execution_id,
    ib_status,
    ib_time,
    instrument_of,
    wire_execution,
    wire_order,
)
from execlab.venues.ibkr._contracts import DEFAULT_CONTRACTS, ContractCatalogue, ContractSpec
from execlab.venues.ibkr._faults import IBFaults
from execlab.venues.ibkr._requests import ExecutionFilter
from execlab.venues.ibkr._session import IBSession
from execlab.venues.ibkr._wire import DEFAULT_SERVER_VERSION, SUPPORTED_SERVER_VERSIONS

__all__ = ["DEFAULT_ACCOUNT_ID", "DEFAULT_IB_VENUE_CONFIG", "IBVenue"]

#: The paper account a venue serves when none is named (IB paper accounts start with ``DU``).
DEFAULT_ACCOUNT_ID: Final = "DU1234567"
#: Fees close to IB's tiered rates on both stocks (~$0.005 a share on a $180 stock) and FX (0.2 bps): 0.25 bps.
DEFAULT_IB_VENUE_CONFIG: Final = VenueConfig(fill_price="quote", fees=FeeConfig(model="bps", bps=0.25))

Fields = list[object]


def _parse_filter_time(text: str) -> datetime | None:
    """``reqExecutions``' time filter: ``YYYYMMDD HH:MM:SS [zone]`` or ``YYYYMMDD-HH:MM:SS`` (UTC)."""
    text = text.strip()
    if not text:
        return None
    try:
        if "-" in text[:9]:
            return datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
        day, clock, *zone = text.split(" ", 2)
        when = datetime.strptime(day + clock, "%Y%m%d%H:%M:%S")
        return when.replace(tzinfo=ZoneInfo(zone[0]) if zone else UTC)
    except (ValueError, KeyError):
        return None


def _multiplier(spec: ContractSpec) -> float:
    """A contract's multiplier (1 when it has none): IB's average costs of futures include it."""
    return float(spec.contract.multiplier) if spec.contract.multiplier else 1.0


class IBVenue(VenueServer):
    """A local server speaking the TWS API (server version 178 by default; 157 and 176 selectable) on
    ``host:port``, in front of a kit :class:`VenueAccount`.

    Connect with ``IB().connect("127.0.0.1", venue.port, clientId=1)``. Orders fill against :meth:`set_quote`
    quotes (or :meth:`replay_bars`); :attr:`faults` are the knobs of :class:`IBFaults`; :meth:`restart`,
    :meth:`lose_connectivity` and :meth:`restore_connectivity` play a gateway's restarts and outages.

    Args:
        account_id: the managed account (``DU…`` for paper).
        cash: starting balances ``{currency: amount}`` (a number: that much of ``currency``).
        currency: the account's base currency.
        contracts: the contracts listed (default: AAPL, MSFT, SPY, EUR.USD, GBP.USD, EUR.GBP, USD.JPY, ESZ6).
        any_stock: also answer for any other US stock symbol (listed when first asked for).
        venue_config: fees, slippage, participation cap, margin (default: quote fills, 0.25 bps fees).
        server_version: the version answered to the handshake (157, 176 or 178).
        harness_port: the HTTP port of the harness routes (0: a free one; None: no harness routes).
    """

    name = "ibkr"

    def __init__(self, account_id: str = DEFAULT_ACCOUNT_ID, *, host: str = "127.0.0.1", port: int = 0,
                 cash: float | Mapping[str, float] | None = None, currency: str = "USD",
                 contracts: Iterable[ContractSpec] = DEFAULT_CONTRACTS, venue_config: VenueConfig | None = None,
                 allow_short: bool = False, server_version: int = DEFAULT_SERVER_VERSION,
                 faults: IBFaults | None = None, seed: int = 0, clock: Callable[[], datetime] | None = None,
                 harness_token: str | None = None, harness_port: int | None = 0,
                 allowed_hosts: Iterable[str] = (), any_stock: bool = False) -> None:
        if server_version not in SUPPORTED_SERVER_VERSIONS:
            raise ValueError(f"server_version must be one of {sorted(SUPPORTED_SERVER_VERSIONS)}, got "
                             f"{server_version}")
        if not account_id:
            raise ValueError("account_id must be non-empty")
        super().__init__(host, port)
        self.account_id = account_id
        self.server_version = server_version
        self.catalogue = ContractCatalogue(contracts, any_stock=any_stock)
        self.account = VenueAccount(1_000_000.0 if cash is None else cash, currency=currency,
                                    venue_config=venue_config or DEFAULT_IB_VENUE_CONFIG, allow_short=allow_short,
                                    instruments=[instrument_of(s) for s in self.catalogue],
                                    symbols_closed=not any_stock, clock=clock, seed=seed)
        self.account.subscribe(self._on_event)
        # The API connection is the stream: its connections, startApi's, drops and pushed order updates.
        self.account.count_stream(connections=0, open=0, authorized=0, auth_failures=0, drops=0, messages=0)
        self.injector = FaultInjector(faults if faults is not None else IBFaults())
        self.guard = HarnessGuard.for_bind(harness_token or new_harness_token(), host, allowed_hosts)
        self.sessions: set[IBSession] = set()
        self.counters: Counter[str] = Counter()
        self.accepting = True
        self.connectivity_lost = False
        self._records: dict[str, IBOrderRecord] = {}
        self._by_key: dict[tuple[int, int], IBOrderRecord] = {}
        self._used: defaultdict[int, set[int]] = defaultdict(set)
        self._next_id = 1
        self._perm = 0
        self._perm_base = 1_000_000 + self.account.rng.randrange(1_000_000) * 1000
        self._exec_prefix = f"0000{self.account.rng.getrandbits(16):04x}"
        self._held: list[VenueEvent] = []
        self._last_fill: dict[str, float] = {}
        self._loop_ref: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._harness_requested = harness_port
        self._harness_runner: web.AppRunner | None = None
        self._harness_port: int | None = None

    # -- serving ---------------------------------------------------------------------------------------------
    async def serve(self, sock: Any) -> None:
        """Serve the TWS protocol on ``sock`` and the harness routes on the side port."""
        loop = asyncio.get_running_loop()
        self._loop_ref = loop
        self._server = await loop.create_server(lambda: IBSession(self), sock=sock)
        if self._harness_requested is not None:
            runner = web.AppRunner(self._harness_app(), access_log=None, shutdown_timeout=2.0)
            await runner.setup()
            site = web.TCPSite(runner, self.host, self._harness_requested, reuse_address=True)
            await site.start()
            self._harness_runner = runner
            server = site._server
            assert isinstance(server, asyncio.Server)
            self._harness_port = int(server.sockets[0].getsockname()[1])

    async def shutdown(self) -> None:
        """Drop every client, close both servers."""
        for session in list(self.sessions):
            session.drop()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._harness_runner is not None:
            await self._harness_runner.cleanup()
            self._harness_runner = None

    @property
    def harness_port(self) -> int:
        """The HTTP port of the harness routes (after :meth:`start`)."""
        if self._harness_port is None:
            raise RuntimeError("IBVenue has no harness port (not started, or harness_port=None)")
        return self._harness_port

    @property
    def harness_url(self) -> str:
        """``http://host:harness_port``: where ``/_stats``, ``/_quotes``, ``/_faults`` … are served."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.harness_port}"

    @property
    def harness_token(self) -> str:
        """The token the harness routes require."""
        return self.guard.token

    @property
    def harness_headers(self) -> dict[str, str]:
        """Headers for a harness request."""
        return {HARNESS_TOKEN_HEADER: self.guard.token}

    @property
    def faults(self) -> IBFaults:
        """The live fault knobs (assign attributes, or ``POST /_faults``)."""
        knobs = self.injector.faults
        assert isinstance(knobs, IBFaults)
        return knobs

    # -- prices ----------------------------------------------------------------------------------------------
    def set_quote(self, symbol: str, bid: float | None, ask: float | None, last: float | None = None,
                  volume: float | None = None) -> None:
        """One contract's quote (by the venue's symbol: ``AAPL``, ``EUR.USD``, ``ESZ6``), then match."""
        self.account.set_quote(symbol, bid, ask, last, volume)

    def set_quotes(self, quotes: Mapping[str, tuple[float | None, float | None, float | None, float | None]]
                   ) -> None:
        """Several quotes ``{symbol: (bid, ask, last, volume)}`` as one market step, then match."""
        self.account.set_quotes((s, b, a, last, v) for s, (b, a, last, v) in quotes.items())

    def replay_bars(self, bars: Any) -> Iterator[pd.Timestamp]:
        """Step through long OHLCV bars one timestamp per ``next`` (see :meth:`VenueAccount.replay_bars`)."""
        return self.account.replay_bars(bars)

    # -- ids and records (on the serving loop) -----------------------------------------------------------------
    def next_id(self, client_id: int) -> int:
        """The ``nextValidId`` a client is told."""
        return self._next_id

    def id_used(self, client_id: int, order_id: int) -> bool:
        """Whether ``client_id`` has used ``order_id`` (a used id is refused with 103, even after a restart)."""
        return order_id in self._used[client_id]

    def use_id(self, client_id: int, order_id: int) -> None:
        """Record an order id as used."""
        self._used[client_id].add(order_id)
        self._next_id = max(self._next_id, order_id + 1)

    def new_perm_id(self) -> int:
        """A fresh permanent order id."""
        self._perm += 1
        return self._perm_base + self._perm

    def record(self, client_id: int, order_id: int) -> IBOrderRecord | None:
        """The order ``client_id`` placed as ``order_id``."""
        return self._by_key.get((client_id, order_id))

    def records(self) -> list[IBOrderRecord]:
        """Every order placed through the API, oldest first."""
        return list(self._records.values())

    def open_records(self) -> list[IBOrderRecord]:
        """Orders still working."""
        return [r for r in self._records.values() if (o := self.account.order(r.venue_id)) is not None
                and o.is_open]

    def place(self, rec: IBOrderRecord, request: VenueOrderRequest) -> VenueOrder:
        """Hand an order to the account (faults: reject next, partial fills, venue cancels) and keep its record."""
        reject = self.injector.take_reject()
        with self.account.lock:
            o = self.account.place(request, reject=reject, partial_ratio=self.injector.partial_fill_ratio)
            rec.venue_id = o.id
            self._records[o.id] = rec
            self._by_key[(rec.client_id, rec.order_id)] = rec
        if o.is_open and self._take_cancel():
            self.account.cancel(o.id)
        return o

    def _take_cancel(self) -> bool:
        knobs = self.faults
        if knobs.next_cancels > 0:
            knobs.next_cancels -= 1
            return True
        return False

    def cancel(self, rec: IBOrderRecord) -> None:
        """Cancel an order on a client's request."""
        rec.cancel_requested = True
        with contextlib.suppress(KeyError, ValueError):
            self.account.cancel(rec.venue_id)

    # -- account events → clients -------------------------------------------------------------------------------
    def _on_event(self, event: VenueEvent) -> None:
        loop = self._loop_ref
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._dispatch, event)

    def _owners(self, rec: IBOrderRecord) -> list[IBSession]:
        return [s for s in self.sessions if not s.closed and s.client_id == rec.client_id]

    def _dispatch(self, event: VenueEvent) -> None:
        rec = self._records.get(event.order.id)
        if rec is None:
            return
        if self.connectivity_lost:
            self._held.append(event)
            return
        ex = event.execution
        if ex is not None:
            self._last_fill[rec.venue_id] = ex.price
        for s in self._owners(rec):
            for fields in self._event_messages(event, rec, s.version):
                s.send(fields)
            s.pushed_update()
        if ex is not None:
            self._account_changed(rec.spec)

    def _status(self, rec: IBOrderRecord, o: VenueOrder, status: str | None = None) -> Fields:
        qty = float(o.qty or 0.0)
        return m.order_status(rec.order_id, status or ib_status(o), o.filled_qty, max(qty - o.filled_qty, 0.0),
                              o.avg_price or 0.0, rec.perm_id, self._last_fill.get(rec.venue_id, 0.0),
                              rec.client_id)

    def _event_messages(self, event: VenueEvent, rec: IBOrderRecord, version: int) -> list[Fields]:
        o, ex, c = event.order, event.execution, rec.spec.contract
        kind = event.kind
        if kind == "new":
            return [m.open_order(wire_order(rec, o), c, ib_status(o), version), self._status(rec, o)]
        if kind in ("fill", "partial_fill") and ex is not None:
            exec_id = execution_id(self._exec_prefix, ex)
            out = [m.exec_details(-1, wire_execution(rec, o, ex, exec_id, o.filled_qty, o.avg_price or ex.price), c,
                                  version)]
            if kind == "fill":
                out.append(m.open_order(wire_order(rec, o), c, "Filled", version))
            out += [self._status(rec, o), m.commission_report(exec_id, ex.fee, ex.fee_currency)]
            return out
        if kind == "canceled":
            reason = "" if rec.cancel_requested else "canceled by the venue"
            return [m.error(rec.order_id, 202, f"Order Canceled - reason:{reason}", version), self._status(rec, o)]
        if kind == "rejected":
            why = o.reason or "rejected"
            return [m.error(rec.order_id, 201, f"Order rejected - reason:{why}", version), self._status(rec, o)]
        return [self._status(rec, o)]  # expired

    def _account_changed(self, spec: ContractSpec) -> None:
        positions = {key: (qty, avg, mark) for key, qty, avg, mark in self._holdings()}
        for s in list(self.sessions):
            if s.closed or s.client_id is None:
                continue
            qty, avg, mark = positions.get(spec.key, (0.0, 0.0, 0.0))
            if s.subscribed_positions:
                s.send(m.position(self.account_id, spec.contract, qty, avg * _multiplier(spec)))
            if s.subscribed_account:
                s.send(self._portfolio(spec, qty, avg, mark))
                for fields in self._values_messages():
                    s.send(fields)
                s.send(m.account_time(self.account.now().strftime("%H:%M")))
            for req_id in sorted(s.multi_requests):
                for fields in self.account_multi_messages(req_id):
                    s.send(fields)

    # -- snapshots for requests ------------------------------------------------------------------------------
    def _holdings(self) -> list[tuple[str, float, float, float]]:
        """``(key, qty, avg cost, mark)`` of every position, FX pairs included (IB reports those as positions)."""
        out = list(self.account.positions())
        engine = self.account.engine
        for spec in self.catalogue:
            if spec.contract.sec_type != "CASH":
                continue
            qty = self.account.holding(spec.key)
            if qty:
                avg = float(engine.avg_price[engine.symbol_index(spec.key)])
                mark = engine.mark(spec.key)
                out.append((spec.key, qty, avg, avg if math.isnan(mark) else mark))
        return sorted(out)

    def position_messages(self) -> list[Fields]:
        """``position`` for every holding."""
        out = []
        for key, qty, avg, _mark in self._holdings():
            spec = self.catalogue.by_key(key) or self.catalogue.stock_on_demand(key)
            if spec is not None:
                out.append(m.position(self.account_id, spec.contract, qty, avg * _multiplier(spec)))
        return out

    def _portfolio(self, spec: ContractSpec, qty: float, avg: float, mark: float) -> Fields:
        mult = _multiplier(spec)
        return m.portfolio_value(spec.contract, qty, mark, qty * mark * mult, avg * mult, (mark - avg) * qty * mult,
                                 0.0, self.account_id)

    def account_values(self) -> list[tuple[str, str, str]]:
        """``(tag, value, currency)`` rows of the account, as ``updateAccountValue`` reports them."""
        a = self.account
        base = a.currency
        rows = [("AccountCode", self.account_id, ""), ("AccountType", "INDIVIDUAL", ""), ("AccountReady", "true", ""),
                ("Currency", base, base)]
        cash_in_base = 0.0
        for b in a.balances():
            rate = a.rate(b.currency)
            rows += [("CashBalance", f"{b.total:.2f}", b.currency), ("TotalCashBalance", f"{b.total:.2f}", b.currency),
                     ("ExchangeRate", "" if math.isnan(rate) else f"{rate:.6f}", b.currency)]
            if not math.isnan(rate):
                cash_in_base += b.total * rate
        equity, gross, power = a.equity(), a.gross(), a.buying_power()
        rows += [("CashBalance", f"{cash_in_base:.2f}", "BASE"), ("TotalCashValue", f"{cash_in_base:.2f}", base),
                 ("NetLiquidation", f"{equity:.2f}", base), ("EquityWithLoanValue", f"{equity:.2f}", base),
                 ("GrossPositionValue", f"{gross:.2f}", base), ("BuyingPower", f"{power:.2f}", base),
                 ("AvailableFunds", f"{power / max(a.leverage(), 1.0):.2f}", base),
                 ("PreviousDayEquityWithLoanValue", f"{a.last_equity:.2f}", base)]
        return rows

    def _values_messages(self) -> list[Fields]:
        return [m.account_value(tag, value, cur, self.account_id) for tag, value, cur in self.account_values()]

    def account_messages(self) -> list[Fields]:
        """Account values, the portfolio and the account time (the answer to ``reqAccountUpdates``)."""
        out = self._values_messages()
        for key, qty, avg, mark in self._holdings():
            spec = self.catalogue.by_key(key) or self.catalogue.stock_on_demand(key)
            if spec is not None:
                out.append(self._portfolio(spec, qty, avg, mark))
        out.append(m.account_time(self.account.now().strftime("%H:%M")))
        return out

    def account_multi_messages(self, req_id: int) -> list[Fields]:
        """The account values as ``accountUpdateMulti`` rows."""
        return [m.account_update_multi(req_id, self.account_id, tag, value, cur)
                for tag, value, cur in self.account_values()]

    def account_summary_messages(self, req_id: int) -> list[Fields]:
        """The account values as ``accountSummary`` rows (currency-less rows left out)."""
        return [m.account_summary(req_id, self.account_id, tag, value, cur)
                for tag, value, cur in self.account_values() if cur and cur != "BASE"]

    def order_messages(self, rec: IBOrderRecord, version: int) -> list[Fields]:
        """``openOrder`` and ``orderStatus`` of one order."""
        o = self.account.order(rec.venue_id)
        if o is None:
            return []
        return [m.open_order(wire_order(rec, o), rec.spec.contract, ib_status(o), version), self._status(rec, o)]

    def completed_messages(self, version: int) -> list[Fields]:
        """``completedOrder`` for every finished API order."""
        out = []
        for rec in self._records.values():
            o = self.account.order(rec.venue_id)
            if o is None or o.is_open:
                continue
            when = o.filled_at or o.canceled_at or o.expired_at or o.failed_at or o.updated_at or o.created_at
            status = ib_status(o)
            out.append(m.completed_order(wire_order(rec, o), rec.spec.contract, status, ib_time(when),
                                         f"{status} Size: {o.filled_qty:g}", version))
        return out

    def execution_messages(self, req_id: int, f: ExecutionFilter, version: int) -> list[Fields]:
        """``execDetails`` and ``commissionReport`` of every execution the filter selects (client id 0: every
        client's)."""
        since = _parse_filter_time(f.time)
        cumulative: dict[str, tuple[float, float]] = {}
        out: list[Fields] = []
        for ex in self.account.executions():
            qty, notional = cumulative.get(ex.order_id, (0.0, 0.0))
            qty, notional = qty + ex.qty, notional + ex.qty * ex.price
            cumulative[ex.order_id] = (qty, notional)
            rec = self._records.get(ex.order_id)
            o = self.account.order(ex.order_id)
            if rec is None or o is None or not self._selected(rec, ex, f, since):
                continue
            exec_id = execution_id(self._exec_prefix, ex)
            out.append(m.exec_details(req_id, wire_execution(rec, o, ex, exec_id, qty, notional / qty),
                                      rec.spec.contract, version))
            out.append(m.commission_report(exec_id, ex.fee, ex.fee_currency))
        return out

    def _selected(self, rec: IBOrderRecord, ex: VenueExecution, f: ExecutionFilter, since: datetime | None) -> bool:
        c = rec.spec.contract
        side = "BUY" if ex.side == "buy" else "SELL"
        return ((not f.client_id or f.client_id == rec.client_id)
                and (not f.account or f.account == self.account_id)
                and (since is None or ex.timestamp >= since)
                and (not f.symbol or f.symbol in (c.symbol, c.local_symbol))
                and (not f.sec_type or f.sec_type == c.sec_type)
                and (not f.side or f.side.upper() in (side, "BOT" if side == "BUY" else "SLD")))

    # -- gateway events -----------------------------------------------------------------------------------------
    def restart(self, roll_back_ids: bool = True, downtime: float = 0.0) -> Self:
        """Restart the gateway: every client is dropped; orders, positions and executions stay; with
        ``roll_back_ids`` the next ``nextValidId`` starts again from 1 (ids already used stay refused with 103);
        new connections are refused for ``downtime`` seconds. The listening socket stays (as a gateway that came
        back on its port); returns the venue."""
        self.call(self._restart(roll_back_ids, downtime))
        return self

    async def _restart(self, roll_back_ids: bool, downtime: float) -> None:
        self.counters["restarts"] += 1
        if downtime > 0:
            self.accepting = False
        for session in list(self.sessions):
            session.drop()
        self.connectivity_lost = False
        self._held.clear()
        if roll_back_ids:
            self._next_id = 1
        if downtime > 0:
            asyncio.get_running_loop().call_later(downtime, self._accept_again)

    def _accept_again(self) -> None:
        self.accepting = True

    def lose_connectivity(self) -> None:
        """Error 1100 to every client; order and execution messages are held until connectivity returns."""
        self.call(self._lose())

    async def _lose(self) -> None:
        self.connectivity_lost = True
        for s in list(self.sessions):
            s.error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost.")

    def restore_connectivity(self, data_lost: bool = False) -> None:
        """Error 1102 (data maintained: the held messages follow) or 1101 (data lost: they are dropped; clients
        recover with ``reqOpenOrders`` / ``reqExecutions``)."""
        self.call(self._restore(data_lost))

    async def _restore(self, data_lost: bool) -> None:
        self.connectivity_lost = False
        held, self._held = self._held, []
        for s in list(self.sessions):
            if data_lost:
                s.error(-1, 1101, "Connectivity between IB and TWS has been restored - data lost.")
            else:
                s.error(-1, 1102, "Connectivity between IB and TWS has been restored - data maintained.")
        if not data_lost:
            for event in held:
                self._dispatch(event)

    def drop_connections(self) -> int:
        """Drop every client's socket abruptly (as a network failure would); returns how many."""
        return self.call(self._drop_all())

    def drop_streams(self, timeout: float = 10.0) -> int:
        """The kit harness's name for :meth:`drop_connections` (IB's updates come on the API connection itself)."""
        return self.call(self._drop_all(), timeout)

    async def _drop_all(self) -> int:
        sessions = [s for s in self.sessions if not s.closed]
        for s in sessions:
            s.drop()
        self.counters["drops"] += len(sessions)
        return len(sessions)

    # -- introspection ---------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """The account's counters (``order_attempts`` per ``orderRef``) plus the gateway's (connections, pacing
        violations, client id clashes, restarts, drops)."""
        out = self.account.stats()
        out["faults_injected"] = dict(self.injector.counts)
        out["gateway"] = dict(self.counters)
        out["clients"] = sorted(s.client_id for s in self.sessions if s.client_id is not None and not s.closed)
        return out

    # -- harness routes ------------------------------------------------------------------------------------------
    def _harness_app(self) -> web.Application:
        guard = self.guard

        def error(status: int, message: str) -> web.Response:
            return web.json_response({"message": message}, status=status)

        @web.middleware
        async def gate(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
            problem = guard.host_problem(request.headers)
            if problem is not None:
                return error(403, problem)
            refused = guard.harness_problem(request.method, request.headers)
            if refused is not None:
                return error(*refused)
            response: web.StreamResponse = await handler(request)
            return response

        def check_symbol(symbol: str) -> None:
            if self.catalogue.by_key(symbol) is None and self.catalogue.stock_on_demand(symbol) is None:
                raise ValueError(f"unknown contract {symbol!r}; listed: {[s.key for s in self.catalogue]}")

        routes = web.RouteTableDef()
        harness_routes(routes, self.account, self.injector, error, stats=self.stats, check_symbol=check_symbol,
                       drop_streams=self._drop_all)

        @routes.post("/_restart")
        async def restart(request: web.Request) -> web.StreamResponse:
            body = json.loads(await request.read() or b"{}")
            await self._restart(bool(body.get("roll_back_ids", True)), float(body.get("downtime", 0.0)))
            return web.json_response({"restarts": self.counters["restarts"]})

        @routes.post("/_connectivity")
        async def connectivity(request: web.Request) -> web.StreamResponse:
            body = json.loads(await request.read() or b"{}")
            if body.get("lost"):
                await self._lose()
            else:
                await self._restore(bool(body.get("data_lost", False)))
            return web.json_response({"lost": self.connectivity_lost})

        app = web.Application(middlewares=[gate])
        app.add_routes(routes)
        return app
