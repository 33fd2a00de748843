"""The aiohttp application of the local Binance spot venue: ``/api/v3`` REST routes, the ``/ws-api/v3`` websocket API
(user-data stream) and the harness routes.

Each ``/api`` request goes through: allowed ``Host``; the request-weight limit (429 / 418 with ``Retry-After``);
signature, key and ``recvWindow`` for SIGNED routes; then the handler. Every ``/api`` answer carries
``X-MBX-USED-WEIGHT-1M``; order answers carry ``X-MBX-ORDER-COUNT-10S`` and ``-1D``. Routes under ``/_`` need the
harness token (:mod:`execlab.venues._harness`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web

from execlab.venues._base import FaultInjector, VenueAccount, VenueOrder, VenueOrderRequest, VenueReject
from execlab.venues._base.spot_venue import spot_app
from execlab.venues._harness import HarnessGuard
from execlab.venues.binance._auth import AuthFailure, check_signed
from execlab.venues.binance._limits import BinanceLimits, route_weight
from execlab.venues.binance._mapping import (
    account_json,
    cancel_json,
    error_body,
    ms,
    order_json,
    trade_json,
)
from execlab.venues.binance._rules import filter_failure, symbol_info, unified, wire_symbol
from execlab.venues.binance._stream import WS_API_PATH, UserStreamHub

__all__ = ["BinanceContext", "BinanceError", "build_app"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CLIENT_ID: Final = re.compile(r"[a-zA-Z0-9_-]{1,36}\Z")
_SIGNED: Final = frozenset({"/api/v3/order", "/api/v3/openOrders", "/api/v3/allOrders", "/api/v3/account",
                            "/api/v3/myTrades"})
PARAMS: Final = web.RequestKey("params", dict)
"""The request's parameters (query and body), checked."""
_REJECT_REASONS: Final = {
    "insufficient_funds": "Account has insufficient balance for requested action.",
    "duplicate_client_id": "Duplicate order sent.",
}


class BinanceError(Exception):
    """An answer in Binance's error shape: HTTP status, code, message."""

    def __init__(self, status: int, code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def response(self) -> web.Response:
        """The JSON error answer."""
        return web.json_response(error_body(self.code, self.message), status=self.status, headers=self.headers)


_SERVER_ERRORS: Final = {500: (-1000, "An unknown error occurred while processing the request."),
                          502: (-1000, "An unknown error occurred while processing the request."),
                          503: (-1008, "Server is currently overloaded with other requests. Please try again in a "
                                       "few minutes."),
                          504: (-1007, "Timeout waiting for response from backend server. Send status unknown; "
                                       "execution status unknown.")}


@dataclass
class BinanceContext:
    """What the routes share."""

    account: VenueAccount
    api_key: str
    secret: str
    guard: HarnessGuard
    limits: BinanceLimits
    injector: FaultInjector
    strict_signature: bool = True
    clock_skew_ms: int = 0
    """How far the venue's clock runs ahead of this machine's (a fault: clients then see -1021)."""
    hub: UserStreamHub | None = None
    stopping: asyncio.Event | None = None
    list_market: Callable[[str], None] | None = None
    """Lists a quoted symbol that is not listed yet (an ``open_markets`` venue)."""

    def now_ms(self) -> int:
        """The venue's clock."""
        return int(time.time() * 1000) + self.clock_skew_ms

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake when the venue stops."""
        if self.stopping is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)


def _param(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise BinanceError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return value


def _number(params: dict[str, str], name: str) -> float:
    raw = _param(params, name)
    try:
        value = float(raw)
    except ValueError:
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                       "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.") from None
    if not value > 0:
        raise BinanceError(400, -1013, f"Invalid {name}.")
    return value


def _symbol(ctx: BinanceContext, params: dict[str, str]) -> str:
    symbol = unified(ctx.account.instruments.values(), _param(params, "symbol"))
    if symbol is None:
        raise BinanceError(400, -1121, "Invalid symbol.")
    return symbol


def _by_number(account: VenueAccount, number: int) -> VenueOrder | None:
    """The order whose Binance ``orderId`` (the venue's sequence number) is ``number``."""
    orders = account.all_orders()
    return orders[number - 1] if 0 < number <= len(orders) and orders[number - 1].oid == number else next(
        (o for o in orders if o.oid == number), None)


def _find(ctx: BinanceContext, params: dict[str, str], symbol: str, missing_code: int,
          missing_msg: str) -> VenueOrder:
    order: VenueOrder | None
    if params.get("orderId"):
        try:
            order = _by_number(ctx.account, int(params["orderId"]))
        except ValueError:
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'orderId'.") from None
    elif params.get("origClientOrderId"):
        order = ctx.account.order_by_client_id(params["origClientOrderId"])
    else:
        raise BinanceError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    if order is None or order.symbol != symbol:
        raise BinanceError(400, missing_code, missing_msg)
    return order


def build_app(ctx: BinanceContext) -> web.Application:
    """The application (create it on the loop that serves it)."""
    account = ctx.account

    @web.middleware
    async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
        problem = ctx.guard.host_problem(request.headers)
        if problem is not None:
            return web.json_response(error_body(-1002, problem), status=403)
        if request.path.startswith("/_"):
            refused = ctx.guard.harness_problem(request.method, request.headers)
            if refused is not None:
                return web.json_response(error_body(-1002, refused[1]), status=refused[0])
            return await handler(request)
        if request.path == WS_API_PATH:
            return await handler(request)
        account.count_request()
        if request.method == "POST" and request.path == "/api/v3/order":
            account.count_attempt(await _order_attempt_id(request))
        response = await _api(request, handler)
        account.count_status(response.status, rate_limited=response.status in (418, 429))
        return response

    async def _api(request: web.Request, handler: Handler) -> web.StreamResponse:
        weight = route_weight(request.method, request.path, "symbol" in request.query)
        answer = ctx.limits.check(request.remote or "?", weight)
        used = {ctx.limits.weight_header: str(answer.used)}
        if answer.status == 418:
            return BinanceError(418, -1003, f"Way too much request weight used; IP banned until "
                                            f"{answer.banned_until_ms}. Please use WebSocket Streams for live "
                                            "updates to avoid bans.",
                                {"Retry-After": str(answer.retry_after)}).response()
        if answer.status == 429:
            return BinanceError(429, -1003, f"Too many requests; current limit of IP({request.remote}) is "
                                            f"{ctx.limits.limit} requests per minute. Please use WebSocket Streams "
                                            "for live updates to avoid polling the API.",
                                {"Retry-After": str(answer.retry_after), **used}).response()
        try:
            if request.path in _SIGNED:
                body = (await request.text()) if request.body_exists else ""
                request[PARAMS] = check_signed(request.headers, request.query_string, body, ctx.api_key,
                                                 ctx.secret, ctx.now_ms(), strict=ctx.strict_signature)
            else:
                request[PARAMS] = dict(request.query)
            response = await _with_faults(request, handler)
        except (BinanceError, AuthFailure) as exc:
            response = web.json_response(error_body(exc.code, exc.message), status=exc.status)
            if isinstance(exc, BinanceError):
                response.headers.update(exc.headers)
        except web.HTTPNotFound:
            response = web.json_response(error_body(-1000, "Unknown endpoint."), status=404)
        except web.HTTPMethodNotAllowed:
            response = web.json_response(error_body(-1000, "Method not allowed."), status=405)
        response.headers.update(used)
        return response

    async def _with_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        injection = ctx.injector.draw(request.method, request.path)
        if injection.delay:
            await ctx.pause(injection.delay)
        if injection.error_status is not None:
            if injection.error_after_apply:
                with contextlib.suppress(BinanceError):
                    await handler(request)
            code, message = _SERVER_ERRORS.get(injection.error_status, _SERVER_ERRORS[500])
            raise BinanceError(injection.error_status, code, message)
        if injection.hang and injection.hang_after:
            await ctx.pause(injection.hang)
            return await handler(request)
        response = await handler(request)
        if injection.hang:
            await ctx.pause(injection.hang)
        return response

    routes = web.RouteTableDef()

    @routes.get("/api/v3/ping")
    async def ping(request: web.Request) -> web.StreamResponse:
        return web.json_response({})

    @routes.get("/api/v3/time")
    async def server_time(request: web.Request) -> web.StreamResponse:
        return web.json_response({"serverTime": ctx.now_ms()})

    @routes.get("/api/v3/exchangeInfo")
    async def exchange_info(request: web.Request) -> web.StreamResponse:
        return web.json_response({
            "timezone": "UTC", "serverTime": ctx.now_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": ctx.limits.interval[0],
                 "intervalNum": ctx.limits.interval[1], "limit": ctx.limits.limit},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                 "limit": ctx.limits.orders_10s.limit},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": ctx.limits.orders_day.limit},
            ],
            "exchangeFilters": [],
            "symbols": [symbol_info(i) for i in account.instruments.values()],
        })

    @routes.get("/api/v3/ticker/bookTicker")
    async def book_ticker(request: web.Request) -> web.StreamResponse:
        out = []
        for symbol in account.instruments:
            q = account.engine.quote(symbol)
            if q is not None and q[0] == q[0] and q[1] == q[1]:
                out.append({"symbol": wire_symbol(symbol), "bidPrice": f"{q[0]:.8f}", "bidQty": "1.00000000",
                            "askPrice": f"{q[1]:.8f}", "askQty": "1.00000000"})
        wanted = request.query.get("symbol")
        if wanted:
            match = [t for t in out if t["symbol"] == wanted]
            if not match:
                raise BinanceError(400, -1121, "Invalid symbol.")
            return web.json_response(match[0])
        return web.json_response(out)

    @routes.post("/api/v3/order")
    async def create_order(request: web.Request) -> web.StreamResponse:
        params: dict[str, str] = request[PARAMS]
        symbol = _symbol(ctx, params)
        inst = account.instruments[symbol]
        side = _param(params, "side").upper()
        if side not in ("BUY", "SELL"):
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'side'; legal range is 'BUY, SELL'.")
        order_type = _param(params, "type").upper()
        if order_type not in ("MARKET", "LIMIT"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        quantity = _number(params, "quantity")
        price = _number(params, "price") if order_type == "LIMIT" else None
        tif = "gtc"
        if order_type == "LIMIT":
            tif = _param(params, "timeInForce").lower()
            if tif not in ("gtc", "ioc", "fok"):
                raise BinanceError(400, -1115, "Invalid timeInForce.")
        client_id = params.get("newClientOrderId") or f"web_{len(account.all_orders()) + 1:020d}"
        if not _CLIENT_ID.match(client_id):
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'newClientOrderId'; legal range "
                                           "is '^[a-zA-Z0-9-_]{1,36}$'.")
        ten, day, within = ctx.limits.count_order(ctx.api_key)
        counts = {"X-MBX-ORDER-COUNT-10S": str(ten), "X-MBX-ORDER-COUNT-1D": str(day)}
        if not within:
            raise BinanceError(429, -1015, f"Too many new orders; current limit is {ctx.limits.orders_10s.limit} "
                                           "orders per TEN_SECONDS.", counts)
        if ctx.injector.take_reject():  # the venue records the order as rejected; the client gets -2010
            account.place(VenueOrderRequest(symbol, "buy" if side == "BUY" else "sell", "market", "gtc", qty=quantity,
                                            client_id=client_id), reject=True)
            raise BinanceError(400, -2010, "Order would immediately trigger.", counts)
        failed = filter_failure(inst, order_type, quantity, price, _reference_price(account, symbol))
        if failed is not None:
            raise BinanceError(400, -1013, f"Filter failure: {failed}", counts)
        seen = len(account.executions())
        try:
            order = account.place(VenueOrderRequest(
                symbol, "buy" if side == "BUY" else "sell", "market" if order_type == "MARKET" else "limit",
                tif, qty=quantity, limit=price, client_id=client_id), partial_ratio=ctx.injector.partial_fill_ratio)
        except VenueReject as exc:
            if exc.reason in _REJECT_REASONS:
                raise BinanceError(400, -2010, _REJECT_REASONS[exc.reason], counts) from None
            if exc.reason == "unknown_symbol":
                raise BinanceError(400, -1121, "Invalid symbol.") from None
            raise BinanceError(400, -1013, exc.message, counts) from None
        fills = [e for e in account.executions(seen) if e.order_id == order.id]
        resp_type = params.get("newOrderRespType", "FULL").upper()
        body = order_json(order, fills if resp_type == "FULL" else [])
        if resp_type == "ACK":
            body = {k: body[k] for k in ("symbol", "orderId", "orderListId", "clientOrderId", "transactTime")}
        return web.json_response(body, headers=counts)

    @routes.get("/api/v3/order")
    async def get_order(request: web.Request) -> web.StreamResponse:
        params = request[PARAMS]
        symbol = _symbol(ctx, params)
        return web.json_response(order_json(_find(ctx, params, symbol, -2013, "Order does not exist.")))

    @routes.delete("/api/v3/order")
    async def cancel_order(request: web.Request) -> web.StreamResponse:
        params = request[PARAMS]
        symbol = _symbol(ctx, params)
        order = _find(ctx, params, symbol, -2011, "Unknown order sent.")
        try:
            canceled = account.cancel(order.id)
        except ValueError:
            raise BinanceError(400, -2011, "Unknown order sent.") from None
        return web.json_response(cancel_json(canceled, params.get("newClientOrderId") or f"cancel{order.oid}"))

    @routes.get("/api/v3/openOrders")
    async def open_orders(request: web.Request) -> web.StreamResponse:
        params = request[PARAMS]
        symbol = _symbol(ctx, params) if params.get("symbol") else None
        return web.json_response([order_json(o) for o in account.open_orders() if symbol in (None, o.symbol)])

    @routes.get("/api/v3/allOrders")
    async def all_orders(request: web.Request) -> web.StreamResponse:
        params = request[PARAMS]
        symbol = _symbol(ctx, params)
        limit = min(int(params.get("limit", 500)), 1000)
        start = int(params.get("startTime", 0))
        orders = [o for o in account.all_orders() if o.symbol == symbol and ms(o.created_at) >= start]
        return web.json_response([order_json(o) for o in orders[-limit:]])

    @routes.get("/api/v3/account")
    async def get_account(request: web.Request) -> web.StreamResponse:
        fees = account.engine.config.fees
        maker, taker = round(fees.maker_bps), round(fees.taker_bps)
        return web.json_response(account_json(account.balances(), ctx.now_ms(), maker, taker))

    @routes.get("/api/v3/myTrades")
    async def my_trades(request: web.Request) -> web.StreamResponse:
        params = request[PARAMS]
        symbol = _symbol(ctx, params)
        limit = min(int(params.get("limit", 500)), 1000)
        numbers = {o.id: o.oid for o in account.all_orders()}
        trades = [e for e in account.executions() if e.symbol == symbol]
        if params.get("orderId"):
            trades = [e for e in trades if numbers[e.order_id] == int(params["orderId"])]
        if params.get("fromId"):
            trades = [e for e in trades if e.seq >= int(params["fromId"])]
            return web.json_response([trade_json(e, numbers[e.order_id]) for e in trades[:limit]])
        start, end = int(params.get("startTime", 0)), int(params.get("endTime", 2**62))
        trades = [e for e in trades if start <= ms(e.timestamp) <= end]
        chosen = trades[:limit] if "startTime" in params else trades[-limit:]
        return web.json_response([trade_json(e, numbers[e.order_id]) for e in chosen])

    # -- harness ---------------------------------------------------------------------------------------------
    def harness_error(status: int, message: str) -> web.Response:
        return web.json_response(error_body(-1100, message), status=status)

    return spot_app(routes, ctx, gateway=gateway, error=harness_error, stats=lambda: venue_stats(ctx),
                    stream_path=WS_API_PATH)


def venue_stats(ctx: BinanceContext) -> dict[str, Any]:
    """The account's statistics (requests, answers by status, order attempts per client id, streams) and the 429s
    and 418s of the weight limit."""
    return {**ctx.account.stats(), "answered_429": ctx.limits.answered_429,
            "answered_418": ctx.limits.answered_418, "faults_injected": dict(ctx.injector.counts)}


def _reference_price(account: VenueAccount, symbol: str) -> float | None:
    """The mid of the symbol's quote (what a market order's notional is valued at), None before a quote."""
    quote = account.engine.quote(symbol)
    if quote is None:
        return None
    bid, ask = float(quote[0]), float(quote[1])
    return (bid + ask) / 2 if bid == bid and ask == ask else None


async def _order_attempt_id(request: web.Request) -> str | None:
    """The ``newClientOrderId`` of an order request (form body or query), counted before any check."""
    raw = (await request.text()) if request.body_exists else ""
    params = dict(parse_qsl(raw)) | dict(parse_qsl(request.query_string))
    return params.get("newClientOrderId") or None
