"""The aiohttp application of the local OKX venue: ``/api/v5`` REST routes, the ``/ws/v5/private`` websocket and the
harness routes.

Each ``/api/v5`` request goes through: allowed ``Host``; the per-endpoint rate limit (429, ``50011``); for private
routes the ``OK-ACCESS-*`` signature (401, ``501xx``); then the handler. Business errors are HTTP 200 with a non-zero
``code`` (``"1"`` with per-order ``sCode`` for order routes), as OKX answers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from execlab.venues._base import (
    FaultInjector,
    RateLimiter,
    VenueAccount,
    VenueExecution,
    VenueOrder,
    VenueOrderRequest,
    VenueReject,
)
from execlab.venues._base.spot_venue import spot_app
from execlab.venues._harness import HarnessGuard
from execlab.venues.okx._auth import AuthFailure, check_headers
from execlab.venues.okx._mapping import balance_json, envelope, fill_json, order_json
from execlab.venues.okx._rules import CLIENT_ID, inst_id, instrument_json, order_problem, unified
from execlab.venues.okx._stream import PRIVATE_PATH, PrivateStreamHub

__all__ = ["OkxContext", "OkxError", "build_app", "venue_stats"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PUBLIC: Final = frozenset({"/api/v5/public/instruments", "/api/v5/public/time", "/api/v5/market/ticker",
                            "/api/v5/market/tickers"})
#: Requests allowed per rolling 2 seconds, per endpoint and method (OKX's documented limits).
ENDPOINT_LIMITS: Final = {
    "/api/v5/trade/order": 60, "/api/v5/trade/batch-orders": 300, "/api/v5/trade/cancel-order": 60,
    "/api/v5/trade/orders-pending": 60, "/api/v5/trade/orders-history": 40, "/api/v5/trade/fills": 60,
    "/api/v5/trade/fills-history": 10, "/api/v5/account/balance": 10, "/api/v5/public/instruments": 20,
}
_REJECTS: Final = {
    "insufficient_funds": ("51008", "Order failed. Insufficient balance."),
    "duplicate_client_id": ("51016", "Duplicated client order ID"),
    "unknown_symbol": ("51001", "Instrument ID does not exist"),
    "filter": ("51121", "Order quantity must be a multiple of the lot size."),
    "invalid": ("51000", "Parameter sz error"),
}


class OkxError(Exception):
    """A top-level OKX error answer: code, message, HTTP status."""

    def __init__(self, code: str, message: str, status: int = 200):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class OkxContext:
    """What the routes share."""

    account: VenueAccount
    api_key: str
    secret: str
    passphrase: str
    guard: HarnessGuard
    injector: FaultInjector
    limit_scale: float = 1.0
    """Multiplies every endpoint's limit (0 turns limits off)."""
    clock_skew_ms: int = 0
    limiters: dict[str, RateLimiter] = field(default_factory=dict)
    hub: PrivateStreamHub | None = None
    stopping: asyncio.Event | None = None
    list_market: Callable[[str], None] | None = None
    """Lists a quoted symbol that is not listed yet (an ``open_markets`` venue)."""

    def now_ms(self) -> int:
        """The venue's clock."""
        return int(time.time() * 1000) + self.clock_skew_ms

    def limiter(self, method: str, path: str) -> RateLimiter:
        """The 2-second limiter of one endpoint (placing and querying orders are separate endpoints)."""
        key = f"{method} {path}"
        if key not in self.limiters:
            self.limiters[key] = RateLimiter(max(1, math.ceil(ENDPOINT_LIMITS.get(path, 20) * self.limit_scale)), 2.0)
        return self.limiters[key]

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake when the venue stops."""
        if self.stopping is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)


def _ok(data: list[Any]) -> web.Response:
    return web.json_response(envelope(data))


def _order_failed(entries: list[dict[str, Any]], all_failed: bool) -> web.Response:
    code, msg = ("1", "All operations failed") if all_failed else ("2", "Bulk operation partially succeeded")
    return web.json_response(envelope(entries, code, msg))


def venue_stats(ctx: OkxContext) -> dict[str, Any]:
    """The account's statistics: requests, answers by status, 429s, order attempts per client id, streams."""
    return {**ctx.account.stats(), "faults_injected": dict(ctx.injector.counts)}


def _client_ids(raw: str) -> list[str | None]:
    """The ``clOrdId`` of each order in an order request's body (counted before any check)."""
    try:
        body = json.loads(raw or "null")
    except ValueError:
        return [None]
    items = body if isinstance(body, list) else [body]
    return [str(i["clOrdId"]) if isinstance(i, dict) and i.get("clOrdId") else None for i in items]


def build_app(ctx: OkxContext) -> web.Application:
    """The application (create it on the loop that serves it)."""
    account = ctx.account

    @web.middleware
    async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
        problem = ctx.guard.host_problem(request.headers)
        if problem is not None:
            return web.json_response(envelope([], "50100", problem), status=403)
        if request.path.startswith("/_"):
            refused = ctx.guard.harness_problem(request.method, request.headers)
            if refused is not None:
                return web.json_response(envelope([], "50100", refused[1]), status=refused[0])
            return await handler(request)
        if request.path.startswith("/ws/"):
            return await handler(request)
        account.count_request()
        if request.method == "POST" and request.path in ("/api/v5/trade/order", "/api/v5/trade/batch-orders"):
            for client_id in _client_ids(await request.text()):
                account.count_attempt(client_id)
        response = await _api(request, handler)
        account.count_status(response.status, rate_limited=response.status == 429)
        return response

    async def _api(request: web.Request, handler: Handler) -> web.StreamResponse:
        if ctx.limit_scale > 0 and not ctx.limiter(request.method, request.path).hit(ctx.api_key).allowed:
            return web.json_response(envelope([], "50011", "Too Many Requests"), status=429)
        try:
            if request.path not in _PUBLIC:
                body = (await request.text()) if request.body_exists else ""
                check_headers(request.headers, request.method, request.path_qs, body, ctx.api_key, ctx.secret,
                              ctx.passphrase, ctx.now_ms())
            return await _with_faults(request, handler)
        except AuthFailure as exc:
            return web.json_response(envelope([], exc.code, exc.message), status=401)
        except OkxError as exc:
            return web.json_response(envelope([], exc.code, exc.message), status=exc.status)
        except web.HTTPNotFound:
            return web.json_response(envelope([], "50000", "Not Found"), status=404)
        except web.HTTPMethodNotAllowed:
            return web.json_response(envelope([], "50000", "Method Not Allowed"), status=405)

    async def _with_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        injection = ctx.injector.draw(request.method, request.path)
        if injection.delay:
            await ctx.pause(injection.delay)
        if injection.error_status is not None:
            if injection.error_after_apply:
                with contextlib.suppress(OkxError):
                    await handler(request)
            return web.json_response(envelope([], "50001", "Service temporarily unavailable"),
                                     status=injection.error_status)
        if injection.hang and injection.hang_after:
            await ctx.pause(injection.hang)
            return await handler(request)
        response = await handler(request)
        if injection.hang:
            await ctx.pause(injection.hang)
        return response

    def by_number(number: int) -> VenueOrder | None:
        return next((o for o in account.all_orders() if o.oid == number), None)

    def symbol_of(raw: Any) -> str:
        if not raw:
            raise OkxError("51000", "Parameter instId error")
        symbol = unified(account.instruments.values(), str(raw))
        if symbol is None:
            raise OkxError("51001", "Instrument ID does not exist")
        return symbol

    def executions_of(order: VenueOrder) -> list[VenueExecution]:
        return [e for e in account.executions() if e.order_id == order.id]

    def place_one(arg: Any) -> dict[str, Any]:
        """Place one order argument; the per-order result entry (``sCode`` "0" when placed)."""
        cl = str(arg.get("clOrdId", "")) if isinstance(arg, dict) else ""
        tag = str(arg.get("tag", "")) if isinstance(arg, dict) else ""

        def failed(code: str, msg: str) -> dict[str, Any]:
            return {"clOrdId": cl, "ordId": "", "tag": tag, "ts": str(ctx.now_ms()), "sCode": code, "sMsg": msg}

        if not isinstance(arg, dict):
            return failed("51000", "Parameter error")
        if cl and not CLIENT_ID.match(cl):
            return failed("51000", "Parameter clOrdId error")
        symbol = unified(account.instruments.values(), str(arg.get("instId", "")))
        if symbol is None:
            return failed("51001", "Instrument ID does not exist")
        inst = account.instruments[symbol]
        side, ord_type = arg.get("side"), arg.get("ordType")
        if side not in ("buy", "sell"):
            return failed("51000", "Parameter side error")
        if ord_type not in ("market", "limit", "ioc", "fok"):
            return failed("51000", "Parameter ordType error")
        if arg.get("tdMode") != "cash":
            return failed("51000", "Parameter tdMode error")
        try:
            size = float(arg.get("sz", ""))
            price = float(arg["px"]) if ord_type != "market" else None
        except (KeyError, TypeError, ValueError):
            return failed("51000", "Parameter sz error" if "sz" not in arg else "Parameter px error")
        if not (math.isfinite(size) and size > 0) or (price is not None and not (math.isfinite(price) and price > 0)):
            return failed("51000", "Parameter sz error")
        if ord_type == "market" and side == "buy" and arg.get("tgtCcy", "quote_ccy") == "quote_ccy":
            ask = account.engine.touch(symbol, True)
            if not ask > 0:
                return failed("51000", "Parameter sz error")  # no market yet
            size = round(math.floor(size / ask / inst.lot + 1e-9) * inst.lot, 12)
        problem = order_problem(inst, size, price)
        if problem is not None:
            return failed(*problem)
        if ctx.injector.take_reject():  # the venue records the order as rejected; the client gets 51008
            account.place(VenueOrderRequest(symbol, side, "market", "gtc", qty=size, client_id=cl or None),
                          reject=True)
            return failed("51008", "Order failed. Insufficient balance.")
        tif = {"ioc": "ioc", "fok": "fok"}.get(str(ord_type), "gtc")
        try:
            order = account.place(VenueOrderRequest(symbol, side, "market" if ord_type == "market" else "limit", tif,
                                                    qty=size, limit=price, client_id=cl or None),
                                  partial_ratio=ctx.injector.partial_fill_ratio)
        except VenueReject as exc:
            return failed(*_REJECTS[exc.reason])
        return {"clOrdId": order.client_id if cl else "", "ordId": str(order.oid), "tag": tag, "ts": str(ctx.now_ms()),
                "sCode": "0", "sMsg": "Order placed"}

    async def after_placing(results: list[dict[str, Any]]) -> web.Response:
        placed = [r for r in results if r["sCode"] == "0"]
        if len(placed) == len(results):
            return _ok(results)
        return _order_failed(results, all_failed=not placed)

    routes = web.RouteTableDef()

    @routes.get("/api/v5/public/time")
    async def public_time(request: web.Request) -> web.StreamResponse:
        return _ok([{"ts": str(ctx.now_ms())}])

    @routes.get("/api/v5/public/instruments")
    async def instruments(request: web.Request) -> web.StreamResponse:
        if request.query.get("instType") != "SPOT":
            raise OkxError("51000", "Parameter instType error")
        wanted = request.query.get("instId")
        listed = [instrument_json(i, 1_600_000_000_000) for i in account.instruments.values()]
        return _ok([i for i in listed if wanted in (None, i["instId"])])

    def ticker_json(symbol: str) -> dict[str, str]:
        q = account.engine.quote(symbol)
        bid, ask = (q[0], q[1]) if q is not None else (0.0, 0.0)
        return {"instType": "SPOT", "instId": inst_id(symbol), "last": str((bid + ask) / 2), "bidPx": str(bid),
                "askPx": str(ask), "bidSz": "1", "askSz": "1", "ts": str(ctx.now_ms())}

    @routes.get("/api/v5/market/ticker")
    async def ticker(request: web.Request) -> web.StreamResponse:
        return _ok([ticker_json(symbol_of(request.query.get("instId")))])

    @routes.get("/api/v5/market/tickers")
    async def tickers(request: web.Request) -> web.StreamResponse:
        if request.query.get("instType") != "SPOT":
            raise OkxError("51000", "Parameter instType error")
        return _ok([ticker_json(symbol) for symbol in account.instruments])

    @routes.post("/api/v5/trade/order")
    async def create_order(request: web.Request) -> web.StreamResponse:
        arg = json.loads(await request.text() or "null")
        if not isinstance(arg, dict):
            raise OkxError("50002", "Json data format error")
        return await after_placing([place_one(arg)])

    @routes.post("/api/v5/trade/batch-orders")
    async def batch_orders(request: web.Request) -> web.StreamResponse:
        args = json.loads(await request.text() or "null")
        if not isinstance(args, list) or not 1 <= len(args) <= 20:
            raise OkxError("50002", "Json data format error")
        return await after_placing([place_one(a) for a in args])

    def find(query: Any) -> VenueOrder | None:
        symbol = symbol_of(query.get("instId"))
        if query.get("ordId"):
            try:
                order = by_number(int(query["ordId"]))
            except ValueError:
                return None
        elif query.get("clOrdId"):
            order = account.order_by_client_id(str(query["clOrdId"]))
        else:
            raise OkxError("51000", "Parameter ordId error")
        return order if order is not None and order.symbol == symbol else None

    @routes.get("/api/v5/trade/order")
    async def get_order(request: web.Request) -> web.StreamResponse:
        order = find(request.query)
        if order is None:
            raise OkxError("51603", "Order does not exist")
        return _ok([order_json(order, executions_of(order))])

    @routes.post("/api/v5/trade/cancel-order")
    async def cancel_order(request: web.Request) -> web.StreamResponse:
        arg = json.loads(await request.text() or "null")
        if not isinstance(arg, dict):
            raise OkxError("50002", "Json data format error")
        order = find(arg)
        entry = {"clOrdId": str(arg.get("clOrdId", "")), "ordId": str(arg.get("ordId", "")),
                 "ts": str(ctx.now_ms())}
        if order is None or not order.is_open:
            return _order_failed([{**entry, "sCode": "51400", "sMsg": "Order cancellation failed as the order has "
                                                                         "been filled, canceled or does not exist."}],
                                 all_failed=True)
        account.cancel(order.id)
        return _ok([{**entry, "clOrdId": order.client_id, "ordId": str(order.oid), "sCode": "0",
                     "sMsg": ""}])

    def listed(orders: list[VenueOrder], query: Any) -> web.Response:
        limit = min(int(query.get("limit", 100)), 100)
        newest = sorted(orders, key=lambda o: o.oid, reverse=True)
        if query.get("after"):
            newest = [o for o in newest if o.oid < int(query["after"])]
        return _ok([order_json(o, executions_of(o)) for o in newest[:limit]])

    @routes.get("/api/v5/trade/orders-pending")
    async def pending(request: web.Request) -> web.StreamResponse:
        symbol = symbol_of(request.query["instId"]) if request.query.get("instId") else None
        return listed([o for o in account.open_orders() if symbol in (None, o.symbol)], request.query)

    @routes.get("/api/v5/trade/orders-history")
    async def history(request: web.Request) -> web.StreamResponse:
        if request.query.get("instType") != "SPOT":
            raise OkxError("51000", "Parameter instType error")
        symbol = symbol_of(request.query["instId"]) if request.query.get("instId") else None
        return listed([o for o in account.all_orders() if not o.is_open and symbol in (None, o.symbol)],
                      request.query)

    async def fills(request: web.Request) -> web.StreamResponse:
        q = request.query
        symbol = symbol_of(q["instId"]) if q.get("instId") else None
        numbers = {o.id: o.oid for o in account.all_orders()}
        execs = [e for e in account.executions() if symbol in (None, e.symbol)]
        if q.get("ordId"):
            execs = [e for e in execs if str(numbers[e.order_id]) == q["ordId"]]
        begin, end = int(q.get("begin", 0)), int(q.get("end", 2**62))
        execs = [e for e in execs if begin <= int(e.timestamp.timestamp() * 1000) <= end]
        if q.get("after"):
            execs = [e for e in execs if e.seq < int(q["after"])]
        limit = min(int(q.get("limit", 100)), 100)
        return _ok([fill_json(e, numbers[e.order_id]) for e in sorted(execs, key=lambda e: -e.seq)[:limit]])

    routes.get("/api/v5/trade/fills")(fills)

    @routes.get("/api/v5/trade/fills-history")
    async def fills_history(request: web.Request) -> web.StreamResponse:
        if request.query.get("instType") != "SPOT":
            raise OkxError("51000", "Parameter instType error")
        return await fills(request)

    @routes.get("/api/v5/account/balance")
    async def balance(request: web.Request) -> web.StreamResponse:
        wanted = {c for c in request.query.get("ccy", "").split(",") if c}
        balances = [b for b in account.balances() if not wanted or b.currency in wanted]
        return _ok([balance_json(balances, ctx.now_ms())])

    # -- harness ---------------------------------------------------------------------------------------------
    def harness_error(status: int, message: str) -> web.Response:
        return web.json_response(envelope([], "50000", message), status=status)

    return spot_app(routes, ctx, gateway=gateway, error=harness_error, stats=lambda: venue_stats(ctx),
                    stream_path=PRIVATE_PATH)
