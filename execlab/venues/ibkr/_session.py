"""One client connection to the IB venue: handshake, framing, pacing, and the answer to every request.

Requests are answered one at a time in arrival order (a slow acknowledgement delays what follows it, as on a real
gateway). Messages about orders and the account that happen meanwhile (fills, cancels) are pushed by the venue
through :meth:`IBSession.send`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING, Final

from execlab.venues._base.account import VenueReject
from execlab.venues._base.rate_limit import RateLimiter
from execlab.venues.ibkr import _messages as m
from execlab.venues.ibkr import _requests as rq
from execlab.venues.ibkr._book import IBOrderRecord, OrderRefusal, to_request
from execlab.venues.ibkr._wire import (
    FrameReader,
    HandshakeError,
    frame,
    handshake_reply,
    negotiate_version,
    parse_handshake,
)

if TYPE_CHECKING:
    from execlab.venues.ibkr._server import IBVenue

__all__ = ["IBSession"]

log = logging.getLogger(__name__)

#: The farm-status notices a real gateway sends after the API starts (ib_async logs 2100-2199 as information).
FARM_NOTICES: Final = ((2104, "Market data farm connection is OK:usfarm"),
                       (2106, "HMDS data farm connection is OK:ushmds"),
                       (2158, "Sec-def data farm connection is OK:secdefnj"))

_REJECT_CODES: Final = {"insufficient_funds": 201, "unknown_symbol": 200, "filter": 110, "invalid": 201,
                        "duplicate_client_id": 103}


class IBSession(asyncio.Protocol):
    """The server side of one TWS API connection."""

    def __init__(self, venue: IBVenue) -> None:
        self.venue = venue
        self.version = 0
        self.client_id: int | None = None
        self.transport: asyncio.Transport | None = None
        self._opening = b""
        self._frames = FrameReader()
        self._inbox: asyncio.Queue[list[str]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._pacing: RateLimiter | None = None
        self._paused_until = 0.0
        self._held: list[bytes] = []
        self.sent = 0
        self.updates = 0
        """Order and execution updates pushed on this connection (what ``stream_drop_after`` counts)."""
        self.received = 0
        self.subscribed_account = False
        self.subscribed_positions = False
        self.multi_requests: set[int] = set()
        self.closed = False

    # -- connection --------------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # asyncio sets TCP_NODELAY only on sockets made with proto=IPPROTO_TCP; without it a fill's messages
            # would wait ~40 ms for the client's delayed ACK (Nagle).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.venue.accepting:
            transport.abort()  # the gateway is restarting
            return
        self.venue.sessions.add(self)
        self.venue.counters["connections"] += 1
        self.venue.account.count_stream(connections=1, open=1)
        self._worker = asyncio.get_running_loop().create_task(self._work())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self in self.venue.sessions:
            self.venue.account.count_stream(open=-1)
        self.venue.sessions.discard(self)
        if self._worker is not None:
            self._worker.cancel()

    def drop(self) -> None:
        """Close the socket at once, without a goodbye (as a network failure or a crashed gateway)."""
        if not self.closed and self.client_id is not None:
            self.venue.account.count_stream(drops=1)
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def pushed_update(self) -> None:
        """Count one pushed order update (the stream's ``messages``); drop the socket when ``stream_drop_after``
        says so."""
        self.updates += 1
        self.venue.account.count_stream(messages=1)
        after = self.venue.faults.stream_drop_after
        if after and self.updates >= after:
            self.venue.counters["fault_drops"] += 1
            self.drop()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if not self.version:
            self._opening += data
            try:
                parsed = parse_handshake(self._opening)
                if parsed is None:
                    return
                offer, data = parsed
                self.version = negotiate_version(offer, self.venue.server_version)
            except HandshakeError as exc:
                log.info("IB venue: refused a connection: %s", exc)
                self.drop()
                return
            self._opening = b""
            self._write(handshake_reply(self.version, self.venue.account.now()))
        try:
            messages = self._frames.feed(data)
        except ValueError:
            self.drop()
            return
        for fields in messages:
            self.received += 1
            self.venue.account.count_request()  # every message after the handshake, startApi included
            if not self._paced(fields):
                continue
            self._inbox.put_nowait(fields)

    def _paced(self, fields: list[str]) -> bool:
        """False (and error 100) when this message exceeds the connection's messages-per-second limit, or is an
        order the ``next_pacing_errors`` knob refuses."""
        knobs = self.venue.faults
        limit = knobs.max_messages_per_second
        if self.client_id is None:
            return True
        place = bool(fields) and fields[0] == "3"
        if place and knobs.next_pacing_errors > 0:
            knobs.next_pacing_errors -= 1
            used = limit + 1
        elif not limit:
            return True
        else:
            if self._pacing is None or self._pacing.limit != limit:
                self._pacing = RateLimiter(limit, 1.0)
            decision = self._pacing.hit("messages")
            if decision.allowed:
                return True
            used = decision.used + 1
        self.venue.counters["pacing_violations"] += 1
        self.venue.account.count_status(100, rate_limited=True)
        req_id = int(fields[1]) if place and len(fields) > 1 and fields[1].isdigit() else -1
        self.error(req_id, 100, f"Max rate of messages per second has been exceeded:max={limit} rec={used} (1)")
        if self.venue.faults.disconnect_on_pacing:
            self.drop()
        return False

    # -- sending -----------------------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def send(self, fields: list[object]) -> None:
        """Send one message (held back while acknowledgements are slowed, dropped with the socket when a fault
        says so)."""
        if self.closed:
            return
        data = frame(fields)
        loop = asyncio.get_running_loop()
        if self._held or loop.time() < self._paused_until:
            self._held.append(data)
            return
        self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        self._write(data)
        self.sent += 1
        after = self.venue.faults.drop_after_messages
        if after and self.sent >= after:
            self.venue.counters["fault_drops"] += 1
            self.drop()

    def pause_output(self, seconds: float) -> None:
        """Hold every message for ``seconds`` (a slow acknowledgement), then send them in order."""
        loop = asyncio.get_running_loop()
        self._paused_until = max(self._paused_until, loop.time() + seconds)
        loop.call_at(self._paused_until, self._flush)

    def _flush(self) -> None:
        if asyncio.get_running_loop().time() < self._paused_until:
            return
        held, self._held = self._held, []
        for data in held:
            if self.closed:
                return
            self._deliver(data)

    def error(self, req_id: int, code: int, message: str) -> None:
        """Send IB's ``error`` message."""
        self.send(m.error(req_id, code, message, self.version))

    # -- requests ----------------------------------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            fields = await self._inbox.get()
            try:
                request = rq.decode_request(fields, self.version)
            except rq.RequestDecodeError as exc:
                log.warning("IB venue: %s", exc)
                self.error(-1, 320, f"Error reading request: {exc}")
                continue
            try:
                await self._handle(request)
            except Exception:
                log.exception("IB venue: failed to answer %s", request)
                self.error(-1, 321, f"Error validating request: {type(request).__name__}")

    async def _handle(self, r: rq.Request) -> None:
        venue = self.venue
        if isinstance(r, rq.StartApi):
            self._start(r.client_id)
            return
        if self.client_id is None:
            return  # nothing is answered before startApi
        account = venue.account_id
        match r:
            case rq.PlaceOrder():
                await self._place(r)
            case rq.CancelOrder():
                await self._cancel(r.order_id)
            case rq.ReqGlobalCancel():
                for rec in venue.open_records():
                    venue.cancel(rec)
            case rq.ReqPositions():
                self.subscribed_positions = True
                for fields in venue.position_messages():
                    self.send(fields)
                self.send(m.position_end())
            case rq.CancelPositions():
                self.subscribed_positions = False
            case rq.ReqOpenOrders() | rq.ReqAllOpenOrders():
                everyone = isinstance(r, rq.ReqAllOpenOrders) or self.client_id == 0
                for rec in venue.open_records():
                    if everyone or rec.client_id == self.client_id:
                        for fields in venue.order_messages(rec, self.version):
                            self.send(fields)
                self.send(m.open_order_end())
            case rq.ReqCompletedOrders():
                for fields in venue.completed_messages(self.version):
                    self.send(fields)
                self.send(m.completed_orders_end())
            case rq.ReqAccountUpdates():
                self.subscribed_account = r.subscribe and r.account in ("", account)
                if self.subscribed_account:
                    for fields in venue.account_messages():
                        self.send(fields)
                    self.send(m.account_download_end(account))
            case rq.ReqAccountUpdatesMulti():
                self.multi_requests.add(r.req_id)
                for fields in venue.account_multi_messages(r.req_id):
                    self.send(fields)
                self.send(m.account_update_multi_end(r.req_id))
            case rq.CancelAccountUpdatesMulti():
                self.multi_requests.discard(r.req_id)
            case rq.ReqAccountSummary():
                for fields in venue.account_summary_messages(r.req_id):
                    self.send(fields)
                self.send(m.account_summary_end(r.req_id))
            case rq.ReqExecutions():
                if not self._fault("reqExecutions"):
                    return
                for fields in venue.execution_messages(r.req_id, r.filter, self.version):
                    self.send(fields)
                self.send(m.exec_details_end(r.req_id))
            case rq.ReqContractDetails():
                found = venue.catalogue.find(r.contract)
                if not found:
                    self.error(r.req_id, 200, "No security definition has been found for the request")
                    return
                for spec in found:
                    self.send(m.contract_data(r.req_id, spec, self.version))
                self.send(m.contract_data_end(r.req_id))
            case rq.ReqIds():
                self.send(m.next_valid_id(venue.next_id(self.client_id)))
            case rq.ReqCurrentTime():
                self.send(m.current_time(int(venue.account.now().timestamp())))
            case rq.ReqManagedAccts():
                self.send(m.managed_accounts([account]))
            case rq.UnhandledRequest(msg_id=1, fields=fields) if len(fields) > 2:
                self.error(int(fields[2] or -1), 354, "Requested market data is not subscribed (this venue has no "
                                                      "market data; prices come from its quotes)")
            case _:
                pass

    def _start(self, client_id: int) -> None:
        venue = self.venue
        if self.client_id is not None:
            return
        if any(s is not self and s.client_id == client_id and not s.closed for s in venue.sessions):
            venue.counters["client_id_clashes"] += 1
            venue.account.count_stream(auth_failures=1)
            self.error(-1, 326, "Unable to connect as the client id is already in use. Retry with a unique client "
                                "id.")
            if self.transport is not None:
                self.transport.close()  # after the error is written
            self.closed = True
            return
        self.client_id = client_id
        venue.account.count_stream(authorized=1)
        self.send(m.managed_accounts([venue.account_id]))
        self.send(m.next_valid_id(venue.next_id(client_id)))
        for code, text in FARM_NOTICES:
            self.error(-1, code, text)
        if venue.connectivity_lost:
            self.error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost.")

    def _fault(self, request: str) -> bool:
        """Apply the drawn delay, hang and socket drop that come before a request; False when it is dropped."""
        injection = self.venue.injector.draw("API", request)
        if injection.error_status is not None and not injection.error_after_apply:
            self.drop()
            return False
        if injection.delay or (injection.hang and not injection.hang_after):
            self.pause_output(injection.delay + injection.hang)
        return True

    async def _place(self, p: rq.PlaceOrder) -> None:
        venue = self.venue
        assert self.client_id is not None
        injection = venue.injector.draw("API", "placeOrder")
        if injection.error_status is not None and not injection.error_after_apply:
            self.drop()
            return
        if injection.hang and injection.hang_after:
            await venue.pause(injection.hang)
            if self.closed:
                return
        refusal = self._refusal(p)
        if refusal is not None:
            self.error(p.order_id, refusal.code, refusal.message)
        if injection.delay or (injection.hang and not injection.hang_after):
            self.pause_output(injection.delay + injection.hang)
        if injection.error_status is not None:
            self.drop()  # the order exists; the client never heard

    def _refusal(self, p: rq.PlaceOrder) -> OrderRefusal | None:
        """Place the order; the error TWS would answer instead, if any."""
        venue = self.venue
        assert self.client_id is not None
        existing = venue.record(self.client_id, p.order_id)
        if existing is not None:
            o = venue.account.order(existing.venue_id)
            if o is not None and o.is_open:
                return OrderRefusal(105, "Order being modified does not match original order: this venue does not "
                                         "modify orders (cancel and place a new one)")
            return OrderRefusal(103, "Duplicate order id")
        if venue.id_used(self.client_id, p.order_id):
            return OrderRefusal(103, "Duplicate order id")
        # A placement counts from here on (a refused duplicate order id never reached the order book).
        venue.account.count_attempt(p.order_ref or None)
        found = venue.catalogue.find(p.contract)
        if len(found) != 1:
            return OrderRefusal(200, "No security definition has been found for the request" if not found else
                                "The contract description specified is ambiguous")
        spec = found[0]
        key = p.order_ref if p.order_ref and venue.account.order_by_client_id(p.order_ref) is None else None
        request = to_request(p, spec, self.client_id, venue.account_id, key)
        if isinstance(request, OrderRefusal):
            return request
        venue.use_id(self.client_id, p.order_id)
        rec = IBOrderRecord(venue_id="", order_id=p.order_id, client_id=self.client_id, perm_id=venue.new_perm_id(),
                            spec=spec, order_type=p.order_type, tif=p.tif or "DAY", account=venue.account_id,
                            order_ref=p.order_ref, lmt_price=p.lmt_price, aux_price=p.aux_price,
                            trail_stop_price=p.trail_stop_price, trailing_percent=p.trailing_percent,
                            outside_rth=p.outside_rth)
        try:
            venue.place(rec, request)
        except VenueReject as exc:
            code = _REJECT_CODES.get(exc.reason, 201)
            text = exc.message if code != 201 else f"Order rejected - reason:{exc.message}"
            return OrderRefusal(code, text)
        return None

    async def _cancel(self, order_id: int) -> None:
        venue = self.venue
        assert self.client_id is not None
        if not self._fault("cancelOrder"):
            return
        rec = venue.record(self.client_id, order_id)
        o = None if rec is None else venue.account.order(rec.venue_id)
        if rec is None or o is None:
            self.error(order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found.")
            return
        if not o.is_open:
            state = "Filled" if o.status == "filled" else "Cancelled"
            self.error(order_id, 10148, f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: "
                                        f"{state}.")
            return
        venue.cancel(rec)

