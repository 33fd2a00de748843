"""The aiohttp application of the local OANDA venue: v20 REST routes, bearer-token auth, the per-token rate limit
(100 requests a second, answered 429), fault injection and the harness routes.

Request path for ``/v3`` routes: the ``Host`` check, count the request (and the order-create attempt with its
``clientExtensions.id``), ``Authorization: Bearer <token>`` (401), the account id (403), the rate limit (429), the
drawn faults (delay, 5xx before or after the order took effect, hang), then the handler. Routes under ``/_`` are the
harness's (:mod:`execlab.venues._harness`): no rate limit, no faults.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from execlab.venues._base.faults import FaultInjector, answer_with_faults
from execlab.venues._base.rate_limit import RateLimiter
from execlab.venues._base.server import harness_refusal, harness_routes
from execlab.venues._harness import HarnessGuard
from execlab.venues.oanda._state import OandaState, V20Error
from execlab.venues.oanda._stream import StreamHub

__all__ = ["AppContext", "build_app", "token_matches"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ACCOUNT = "/v3/accounts/{account}"


class AppContext:
    """What the routes share: state, token, limiter, fault injector, stream hub, harness guard, and a pause that
    wakes when the venue stops."""

    def __init__(self, state: OandaState, token: str, limiter: RateLimiter, injector: FaultInjector,
                 guard: HarnessGuard, streams: StreamHub, pause: Callable[[float], Awaitable[None]]) -> None:
        self.state = state
        self.token = token
        self.limiter = limiter
        self.injector = injector
        self.guard = guard
        self.streams = streams
        self.pause = pause


def token_matches(headers: Any, token: str) -> bool:
    """Whether ``headers`` carry ``Authorization: Bearer <token>`` (constant time)."""
    given = headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def _error(status: int, message: str) -> web.Response:
    return _json({"errorMessage": message}, status)


async def _call(handler: Handler, request: web.Request) -> web.StreamResponse:
    try:
        return await handler(request)
    except V20Error as exc:
        return _json(exc.body, exc.status)
    except web.HTTPNotFound:
        return _error(404, "The requested resource does not exist")
    except web.HTTPMethodNotAllowed:
        return _error(405, "The requested method is not allowed")


async def _client_id(request: web.Request) -> str | None:
    try:
        body = json.loads(await request.read() or b"null")
        cid = body["order"]["clientExtensions"]["id"]
    except (ValueError, KeyError, TypeError):
        return None
    return cid if isinstance(cid, str) and cid else None


async def _body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except ValueError:
        raise V20Error(400, "Invalid JSON in the request body") from None


def build_app(ctx: AppContext) -> web.Application:
    """The application serving ``ctx``'s venue (create it inside the event loop that will run it)."""
    state = ctx.state
    orders_path = f"/v3/accounts/{state.account_id}/orders"

    @web.middleware
    async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
        host_problem = ctx.guard.host_problem(request.headers)
        if host_problem is not None:
            return _error(403, host_problem)
        if request.path.startswith("/_"):
            refused = harness_refusal(ctx.guard, request)
            if refused is not None:
                return _error(*refused)
            return await _call(handler, request)
        state.account.count_request()
        if request.method == "POST" and request.path.rstrip("/") == orders_path:
            state.count_attempt(await _client_id(request))
        limited = False
        if not token_matches(request.headers, ctx.token):
            response: web.StreamResponse = _error(401, "Insufficient authorization to perform request.")
        else:
            account = request.match_info.get("account")
            if account is not None and account != state.account_id:
                response = _error(403, "The provided request was forbidden.")
            elif not request.path.endswith("/stream") and not ctx.limiter.hit(ctx.token).allowed:
                # (the streams are served by OANDA's stream host, outside the REST limit)
                limited = True
                response = _error(429, "Requests per second exceeded")
            else:
                response = await _with_faults(request, handler)
        state.account.count_status(response.status, rate_limited=limited)
        return response

    async def _with_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await answer_with_faults(ctx.injector.draw(request.method, request.path),
                                        lambda: _call(handler, request),
                                        lambda status: _error(status, "An unexpected error occurred"), ctx.pause)

    routes = web.RouteTableDef()

    @routes.get("/v3/accounts")
    async def accounts(request: web.Request) -> web.StreamResponse:
        return _json({"accounts": [{"id": state.account_id, "tags": []}]})

    @routes.get(_ACCOUNT)
    async def details(request: web.Request) -> web.StreamResponse:
        return _json(state.details())

    @routes.get(_ACCOUNT + "/summary")
    async def summary(request: web.Request) -> web.StreamResponse:
        return _json(state.summary())

    @routes.get(_ACCOUNT + "/instruments")
    async def instruments(request: web.Request) -> web.StreamResponse:
        return _json(state.instrument_list(request.query.get("instruments")))

    @routes.get(_ACCOUNT + "/changes")
    async def changes(request: web.Request) -> web.StreamResponse:
        return _json(state.changes(request.query.get("sinceTransactionID")))

    @routes.post(_ACCOUNT + "/orders")
    async def create_order(request: web.Request) -> web.StreamResponse:
        status, answer = state.create_order(await _body(request))
        return _json(answer, status)

    @routes.get(_ACCOUNT + "/orders")
    async def list_orders(request: web.Request) -> web.StreamResponse:
        return _json(state.list_orders(request.query))

    @routes.get(_ACCOUNT + "/pendingOrders")
    async def pending(request: web.Request) -> web.StreamResponse:
        return _json(state.pending_orders())

    @routes.get(_ACCOUNT + "/orders/{spec}")
    async def order(request: web.Request) -> web.StreamResponse:
        return _json(state.order(request.match_info["spec"]))

    @routes.put(_ACCOUNT + "/orders/{spec}/cancel")
    async def cancel(request: web.Request) -> web.StreamResponse:
        return _json(state.cancel(request.match_info["spec"]))

    @routes.get(_ACCOUNT + "/positions")
    async def positions(request: web.Request) -> web.StreamResponse:
        return _json(state.positions(open_only=False))

    @routes.get(_ACCOUNT + "/openPositions")
    async def open_positions(request: web.Request) -> web.StreamResponse:
        return _json(state.positions(open_only=True))

    @routes.get(_ACCOUNT + "/positions/{instrument}")
    async def position(request: web.Request) -> web.StreamResponse:
        return _json(state.position(request.match_info["instrument"]))

    @routes.get(_ACCOUNT + "/pricing")
    async def pricing(request: web.Request) -> web.StreamResponse:
        return _json(state.pricing(request.query.get("instruments")))

    @routes.get(_ACCOUNT + "/pricing/stream")
    async def pricing_stream(request: web.Request) -> web.StreamResponse:
        return await ctx.streams.serve(request, "pricing")

    @routes.get(_ACCOUNT + "/transactions/sinceid")
    async def since_id(request: web.Request) -> web.StreamResponse:
        since = request.query.get("id")
        if since is None:
            raise V20Error(400, "Invalid value specified for 'id'")
        return _json({"transactions": state.transactions_since(since),
                      "lastTransactionID": state.last_transaction_id})

    @routes.get(_ACCOUNT + "/transactions/stream")
    async def transaction_stream(request: web.Request) -> web.StreamResponse:
        return await ctx.streams.serve(request, "transactions")

    @routes.get(_ACCOUNT + "/transactions/{id}")
    async def transaction(request: web.Request) -> web.StreamResponse:
        with state.lock:
            txns = state.transactions
            index = request.match_info["id"]
            if not index.isdigit() or not 1 <= int(index) <= len(txns):
                raise V20Error(404, "The Transaction specified does not exist", errorCode="NO_SUCH_TRANSACTION")
            return _json({"transaction": txns[int(index) - 1], "lastTransactionID": state.last_transaction_id})

    # -- harness (not v20): the kit's routes; quotes name v20 instruments ({"symbol": "EUR_USD", ...}) ------------
    harness_routes(routes, state.account, ctx.injector, _error, stats=lambda: {
        **state.stats(), "stream_connections": ctx.streams.connections}, check_symbol=state.check_instrument,
        drop_streams=ctx.streams.drop_all)

    app = web.Application(middlewares=[gateway])
    app.add_routes(routes)
    return app
