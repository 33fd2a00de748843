"""The aiohttp application: Alpaca Trading API v2 routes, authentication, rate limit, fault injection, harness routes.

Request path through the gateway middleware, for ``/v2`` routes: count the request (and the order attempt of a
``POST /v2/orders``), check ``APCA-API-KEY-ID``/``APCA-API-SECRET-KEY`` (401), the per-key rolling rate limit (429),
then the drawn faults (delay, 5xx, hang), then the handler. Every ``/v2`` answer carries the ``X-Ratelimit-*``
headers. Routes under ``/_`` (``/_stats``, ``/_quotes``, ``/_faults``, ``/_trade_updates``, ``/_streams/drop``) are
the harness's: no rate limit, no faults, but the harness token (or the API keys) and, for ``POST``, a JSON content
type (:mod:`execlab.venues._harness`). ``GET /stream`` is the ``trade_updates`` websocket
(:mod:`execlab.venues.alpaca._stream`): it authenticates inside the socket, so the gateway lets it through. Every
request, whatever its route, must name an allowed ``Host``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from execlab.venues._base.rate_limit import RateDecision
from execlab.venues._base.server import harness_routes
from execlab.venues.alpaca._faults import rate_limit_headers
from execlab.venues.alpaca._mapping import error_body
from execlab.venues.alpaca._state import AlpacaError
from execlab.venues.alpaca._stream import STREAM_PATH

if TYPE_CHECKING:
    from execlab.venues.alpaca._server import AlpacaVenue

__all__ = ["build_app", "credentials_match"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_SERVER_ERRORS: Final = {
    500: (50010000, "internal server error"),
    502: (50210000, "bad gateway"),
    503: (50310000, "service unavailable"),
    504: (50410000, "gateway timeout"),
}


def credentials_match(headers: Mapping[str, str], api_key: str, secret_key: str) -> bool:
    """Whether ``headers`` carry ``APCA-API-KEY-ID`` and ``APCA-API-SECRET-KEY`` equal to these (constant time)."""
    key = headers.get("APCA-API-KEY-ID", "").encode()
    secret = headers.get("APCA-API-SECRET-KEY", "").encode()
    return hmac.compare_digest(key, api_key.encode()) & hmac.compare_digest(secret, secret_key.encode())


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def _error(status: int, code: int, message: str) -> web.Response:
    return _json(error_body(code, message), status)


async def _call(handler: Handler, request: web.Request) -> web.StreamResponse:
    """Run a handler, turning venue errors and router errors into Alpaca's JSON error bodies."""
    try:
        return await handler(request)
    except AlpacaError as exc:
        return _json(exc.body(), exc.status)
    except web.HTTPNotFound:
        return _error(404, 40410000, "endpoint not found")
    except web.HTTPMethodNotAllowed:
        return _error(405, 40510000, "method not allowed")


async def _order_attempt_id(request: web.Request) -> str | None:
    try:
        body = json.loads(await request.read() or b"null")
    except ValueError:
        return None
    coid = body.get("client_order_id") if isinstance(body, dict) else None
    return coid if isinstance(coid, str) and coid else None


def build_app(ctx: AlpacaVenue) -> web.Application:
    """The application serving ``ctx`` (created inside the event loop that runs it)."""
    state = ctx.state
    venue_account = state.account_

    @web.middleware
    async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
        host_problem = ctx.guard.host_problem(request.headers)
        if host_problem is not None:
            return _error(403, 40310000, host_problem)
        if request.path.startswith("/_"):
            refused = ctx.guard.harness_problem(request.method, request.headers)
            if refused is not None:
                return _error(refused[0], refused[0] * 100_000 + 10_000, refused[1])
            return await _call(handler, request)
        if request.path == STREAM_PATH:
            return await handler(request)
        venue_account.count_request()
        if request.method == "POST" and request.path.rstrip("/") == "/v2/orders":
            venue_account.count_attempt(await _order_attempt_id(request))
        key = request.headers.get("APCA-API-KEY-ID", "")
        decision: RateDecision
        if not ctx.keys_match(request.headers):
            decision = ctx.limiter.hit(key, consume=False)
            response: web.StreamResponse = _error(401, 40110000, "request is not authorized")
        else:
            decision = ctx.limiter.hit(key)
            if not decision.allowed:
                response = _error(429, 42910000, "rate limit exceeded")
            else:
                response = await _with_faults(request, handler)
        response.headers.update(rate_limit_headers(decision))
        venue_account.count_status(response.status, rate_limited=response.status == 429)
        return response

    async def _with_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        injection = ctx.injector.draw(request.method, request.path)
        if injection.delay:
            await ctx.pause(injection.delay)
        state.sync()
        if injection.error_status is not None:
            if injection.error_after_apply:
                await _call(handler, request)
            code, message = _SERVER_ERRORS.get(injection.error_status, (50010000, "internal server error"))
            return _error(injection.error_status, code, message)
        if injection.hang and injection.hang_after:
            await ctx.pause(injection.hang)
            return await _call(handler, request)
        response = await _call(handler, request)
        if injection.hang:
            await ctx.pause(injection.hang)
        return response

    routes = web.RouteTableDef()

    # -- orders ------------------------------------------------------------------------------------------
    @routes.post("/v2/orders")
    async def submit_order(request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            raise AlpacaError(400, 40010000, "request body format is invalid") from None
        return _json(state.submit(body))

    @routes.get("/v2/orders")
    async def list_orders(request: web.Request) -> web.StreamResponse:
        return _json(state.list_orders(dict(request.query)))

    @routes.delete("/v2/orders")
    async def cancel_all(request: web.Request) -> web.StreamResponse:
        return _json(state.cancel_all(), 207)

    @routes.get("/v2/orders:by_client_order_id")
    async def by_client_order_id(request: web.Request) -> web.StreamResponse:
        return _json(state.order_by_client_id(request.query.get("client_order_id")))

    @routes.get("/v2/orders/{order_id}")
    async def get_order(request: web.Request) -> web.StreamResponse:
        return _json(state.order(request.match_info["order_id"]))

    @routes.delete("/v2/orders/{order_id}")
    async def cancel_order(request: web.Request) -> web.StreamResponse:
        state.cancel(request.match_info["order_id"])
        return web.Response(status=204)

    # -- positions ---------------------------------------------------------------------------------------
    @routes.get("/v2/positions")
    async def positions(request: web.Request) -> web.StreamResponse:
        return _json(state.positions())

    @routes.delete("/v2/positions")
    async def close_all(request: web.Request) -> web.StreamResponse:
        cancel = request.query.get("cancel_orders", "false").lower() == "true"
        return _json(state.close_all(cancel), 207)

    @routes.get("/v2/positions/{symbol:.+}")
    async def position(request: web.Request) -> web.StreamResponse:
        return _json(state.position(request.match_info["symbol"]))

    @routes.delete("/v2/positions/{symbol:.+}")
    async def close_position(request: web.Request) -> web.StreamResponse:
        return _json(state.close_position(request.match_info["symbol"], dict(request.query)))

    # -- account, clock, assets --------------------------------------------------------------------------
    @routes.get("/v2/account")
    async def account(request: web.Request) -> web.StreamResponse:
        return _json(state.account())

    @routes.get("/v2/clock")
    async def clock(request: web.Request) -> web.StreamResponse:
        return _json(state.clock())

    @routes.get("/v2/assets")
    async def assets(request: web.Request) -> web.StreamResponse:
        return _json(state.assets(request.query.get("status")))

    @routes.get("/v2/assets/{symbol:.+}")
    async def asset(request: web.Request) -> web.StreamResponse:
        return _json(state.asset(request.match_info["symbol"]))

    # -- account activities ----------------------------------------------------------------------------
    @routes.get("/v2/account/activities")
    async def activities(request: web.Request) -> web.StreamResponse:
        return _json(state.activities(dict(request.query)))

    @routes.get("/v2/account/activities/{activity_type}")
    async def activities_of(request: web.Request) -> web.StreamResponse:
        return _json(state.activities(dict(request.query), request.match_info["activity_type"]))

    # -- harness (not Alpaca API) ------------------------------------------------------------------------
    harness_routes(routes, venue_account, ctx.injector, lambda status, message: _error(status, 40010000, message),
                   stats=state.stats, check_symbol=state.check_symbol, drop_streams=ctx.streams.drop_all)

    @routes.get("/_trade_updates")
    async def trade_updates(request: web.Request) -> web.StreamResponse:
        try:
            since = int(request.query.get("since", "0"))
        except ValueError:
            return _error(400, 40010000, "since must be an integer")
        with state.lock:
            return _json(state.events[since:])

    routes.get(STREAM_PATH)(ctx.streams.handle)

    app = web.Application(middlewares=[gateway])
    app.add_routes(routes)
    return app
