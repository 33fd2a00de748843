"""Alpaca's rules over the neutral venue account: request validation, error codes, the JSON of orders, positions,
the account, account activities and trade updates.

The orders, balances, matching, executions and statistics are :class:`execlab.venues._base.VenueAccount`'s; every
public method takes its lock, so the HTTP handlers (event-loop thread) and in-process callers (``set_quote`` from a
test or a harness thread) see one consistent venue.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Literal

from execlab._config import VenueConfig
from execlab._core.models import OrderType, TimeInForce
from execlab.venues._base.account import (
    VenueAccount,
    VenueEvent,
    VenueInstrument,
    VenueOrder,
    VenueOrderRequest,
    VenueReject,
)
from execlab.venues._base.faults import FaultInjector
from execlab.venues.alpaca._mapping import (
    NEW_YORK,
    asset_json,
    clock_json,
    error_body,
    fee_activity_json,
    fill_activity_json,
    num,
    order_json,
    position_json,
    session_close,
    ts,
)

__all__ = ["AlpacaError", "AlpacaState", "TradeUpdateListener"]

TradeUpdateListener = Callable[[dict[str, Any]], None]

_TYPES: Final = tuple(t.value for t in OrderType)
_TIFS: Final = tuple(t.value for t in TimeInForce)
_SYMBOL: Final = re.compile(r"^[A-Z0-9][A-Z0-9./-]{0,31}$")
_CODE_INVALID: Final = 40010001
_CODE_FORBIDDEN: Final = 40310000
_CODE_NOT_FOUND: Final = 40410000
_ORDER_CLASSES: Final = ("simple", "bracket", "oco", "oto")


class AlpacaError(Exception):
    """An API error: HTTP status plus Alpaca's ``{"code", "message", ...}`` body."""

    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON error object."""
        return error_body(self.code, self.message, **self.extra)


def _invalid(message: str) -> AlpacaError:
    return AlpacaError(422, _CODE_INVALID, message)


def _number(body: Mapping[str, Any], key: str) -> float | None:
    """A positive finite decimal sent as a JSON number or a string; None when absent."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _invalid(f"{key} must be a number, got {value!r}")
    try:
        x = float(value)
    except ValueError:
        raise _invalid(f"{key} must be a number, got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise _invalid(f"{key} must be > 0, got {value!r}")
    return x


def _choice(body: Mapping[str, Any], key: str, allowed: Iterable[str]) -> str:
    value = body.get(key)
    options = tuple(allowed)
    if value is None or value == "":
        raise _invalid(f"{key} is required")
    if not isinstance(value, str) or value.lower() not in options:
        raise _invalid(f"{key} must be one of {', '.join(options)}, got {value!r}")
    return value.lower()


def _check_increment(key: str, price: float | None, crypto: bool) -> None:
    if price is None or crypto:
        return
    tick = 0.01 if price >= 1.0 else 0.0001
    if abs(price / tick - round(price / tick)) > 1e-6:
        raise _invalid(f"invalid {key} {num(price)}. sub-penny increment does not fulfill minimum pricing criteria")


def _flag(value: Any, key: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _invalid(f"{key} must be true or false, got {value!r}")


def _parse_time(value: str, key: str) -> datetime:
    text = value.strip().replace(" ", "+")  # an unescaped '+' in a query string arrives as a space
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(f"{key} must be an RFC 3339 timestamp, got {value!r}") from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


_ACTIVITY_TYPES: Final = ("FILL", "FEE", "CFEE")


def _session(now: datetime) -> int:
    return now.astimezone(NEW_YORK).date().toordinal()


def _instrument(symbol: str) -> VenueInstrument:
    """Alpaca keeps crypto as positions too (``BTC/USD``), all in USD."""
    crypto = "/" in symbol
    base, _, quote = symbol.partition("/")
    return VenueInstrument(symbol, base, quote if crypto else "USD", asset_class="crypto" if crypto else "equity")


class AlpacaState:
    """The venue behind the REST endpoints: Alpaca's validation and JSON over a :class:`VenueAccount`."""

    def __init__(self, *, initial_cash: float = 100_000.0, venue_config: VenueConfig | None = None,
                 allow_short: bool = False, symbols: Iterable[str] | None = None,
                 clock: Callable[[], datetime] | None = None, injector: FaultInjector | None = None,
                 seed: int = 0, always_open: bool = True) -> None:
        self.symbols = None if symbols is None else frozenset(symbols)
        self.account_ = VenueAccount(
            initial_cash, currency="USD", venue_config=venue_config, allow_short=allow_short,
            instruments=[_instrument(s) for s in self.symbols or ()], symbols_closed=self.symbols is not None,
            default_instrument=_instrument, session_of=_session, clock=clock, seed=seed)
        self.lock = self.account_.lock
        self.allow_short = allow_short
        self.always_open = always_open
        self.injector = injector or FaultInjector()
        self.account_id = self.account_.new_id()
        self.account_number = "PA" + "".join(str(self.account_.rng.randrange(10)) for _ in range(10))
        self.events: list[dict[str, Any]] = []
        self.listeners: list[TradeUpdateListener] = []
        self._activities: list[dict[str, Any]] = []
        self.account_.subscribe(self._on_event)

    # -- time, quotes --------------------------------------------------------------------------------------
    def now(self) -> datetime:
        """The venue's time."""
        return self.account_.now()

    def set_time(self, when: datetime | None) -> None:
        """Freeze the venue clock at ``when``, or follow the clock again with None."""
        self.account_.set_time(when)

    def sync(self) -> None:
        """Bring time-driven state up to date (called before every API request)."""
        self.account_.sync()

    def check_symbol(self, symbol: str) -> None:
        """ValueError unless ``symbol`` is written as Alpaca writes symbols."""
        if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
            raise ValueError(f"symbol must be upper-case letters, digits, '.', '/' or '-', got {symbol!r}")

    def set_quotes(self, quotes: Iterable[tuple[str, float, float, float | None, float | None]]) -> None:
        """Replace quotes ``(symbol, bid, ask, last, volume)`` as one step and match every working order."""
        batch = list(quotes)
        for q in batch:
            self.check_symbol(q[0])
        self.account_.set_quotes(batch)

    @property
    def orders(self) -> list[Any]:
        """Every order (neutral :class:`VenueOrder` values), oldest first."""
        return self.account_.all_orders()

    # -- events --------------------------------------------------------------------------------------------
    def _on_event(self, event: VenueEvent) -> None:
        """One account event → one ``trade_updates`` message (and the FILL/fee activities of an execution)."""
        update: dict[str, Any] = {"event": event.kind, "order": self._json(event.order),
                                  "timestamp": ts(event.timestamp)}
        ex = event.execution
        if ex is not None:
            update.update(execution_id=ex.id, price=num(ex.price), qty=num(ex.qty),
                          position_qty=num(ex.position_qty), timestamp=ts(ex.timestamp))
            o = event.order
            self._activities.append(fill_activity_json(self.account_id, ex, o, o.filled_qty, o.status))
            if ex.fee > 0:
                self._activities.append(fee_activity_json(self.account_id, ex))
        self.events.append(update)
        for listener in list(self.listeners):
            listener(update)

    def _json(self, o: VenueOrder) -> dict[str, Any]:
        """An order's object, a group's parent with its legs nested."""
        legs = self.account_.legs_of(o)
        return order_json(o, [order_json(leg) for leg in legs] if legs else None)

    # -- orders --------------------------------------------------------------------------------------------
    def submit(self, body: Any) -> dict[str, Any]:
        """``POST /v2/orders``: validate, accept, then match; returns the order as accepted (status ``new``).

        ``order_class`` ``bracket`` / ``oco`` / ``oto`` with ``take_profit`` (``limit_price``) and ``stop_loss``
        (``stop_price``, optional ``limit_price``) places the legs too (Alpaca gives them their own ids and client
        ids); they are returned under ``legs``, ``held`` until a bracket's or OTO's entry is done."""
        with self.lock:
            self.account_.sync()
            order_class, legs, body = self._group(body)
            request = self._request(body)
            try:
                o = self.account_.place_group(request, order_class, legs(request),
                                              reject=self.injector.take_reject(),
                                              partial_ratio=self.injector.faults.partial_fill_ratio)
            except VenueReject as exc:
                raise _alpaca_error(exc) from None
            # the answer is the order as accepted, before this call's matching
            return next(e["order"] for e in reversed(self.events)
                        if e["event"] == "new" and e["order"]["id"] == o.id)

    def _request(self, body: Any) -> VenueOrderRequest:
        if not isinstance(body, dict):
            raise AlpacaError(400, 40010000, "request body format is invalid")
        symbol = body.get("symbol")
        if not symbol:
            raise _invalid("symbol is required")
        if not isinstance(symbol, str) or not _SYMBOL.match(symbol.upper()):
            raise _invalid(f"symbol {symbol!r} is not a valid symbol")
        symbol = symbol.upper()
        if self.symbols is not None and symbol not in self.symbols:
            raise _invalid(f'asset "{symbol}" not found')
        crypto = "/" in symbol
        side = _choice(body, "side", ("buy", "sell"))
        kind = _choice(body, "type", _TYPES)
        tif = _choice(body, "time_in_force", _TIFS)
        qty, notional = _number(body, "qty"), _number(body, "notional")
        limit, stop = _number(body, "limit_price"), _number(body, "stop_price")
        trail_price, trail_percent = _number(body, "trail_price"), _number(body, "trail_percent")
        extended = _flag(body.get("extended_hours"), "extended_hours")
        if qty is None and notional is None:
            raise _invalid("qty or notional is required")
        if qty is not None and notional is not None:
            raise _invalid("only one of qty or notional may be given")
        if kind in ("limit", "stop_limit") and limit is None:
            raise _invalid(f"limit_price is required for {kind} orders")
        if kind in ("stop", "stop_limit") and stop is None:
            raise _invalid(f"stop_price is required for {kind} orders")
        if kind not in ("limit", "stop_limit") and limit is not None:
            raise _invalid(f"limit_price is not accepted for {kind} orders")
        if kind not in ("stop", "stop_limit") and stop is not None:
            raise _invalid(f"stop_price is not accepted for {kind} orders")
        if kind == "trailing_stop":
            if (trail_price is None) == (trail_percent is None):
                raise _invalid("exactly one of trail_price or trail_percent is required for trailing_stop orders")
            if tif not in ("day", "gtc"):
                raise _invalid(f"time_in_force {tif} is not accepted for trailing_stop orders (day or gtc)")
        elif trail_price is not None or trail_percent is not None:
            raise _invalid(f"trail_price and trail_percent are not accepted for {kind} orders")
        if notional is not None and kind != "market" and not crypto:
            raise _invalid("notional is only accepted for market orders")
        fractional = notional is not None or (qty is not None and not float(qty).is_integer())
        if fractional and not crypto:
            if tif != "day":
                raise _invalid(f"fractional orders must be DAY orders (time_in_force {tif})")
            if kind not in ("market", "limit"):
                raise _invalid(f"fractional orders must be market or limit orders (type {kind})")
        if tif in ("opg", "cls") and kind not in ("market", "limit"):
            raise _invalid(f"time_in_force {tif} is only accepted for market or limit orders")
        if extended and not (kind == "limit" and tif == "day"):
            raise _invalid("extended_hours orders must be DAY limit orders")
        _check_increment("limit_price", limit, crypto)
        _check_increment("stop_price", stop, crypto)
        coid = body.get("client_order_id")
        if coid is not None and not isinstance(coid, str):
            raise _invalid(f"client_order_id must be a string, got {coid!r}")
        if coid and len(coid) > 128:
            raise _invalid("client_order_id must be no more than 128 characters")
        held = self.account_.holding(symbol)
        if side == "buy":
            intent = "buy_to_close" if held < 0 else "buy_to_open"
        else:
            intent = "sell_to_close" if held > 0 else "sell_to_open"
        now = self.now()
        return VenueOrderRequest(
            symbol, "buy" if side == "buy" else "sell", kind, tif, qty=qty, notional=notional, limit=limit,
            stop=stop, trail_price=trail_price, trail_percent=trail_percent, client_id=coid or None,
            expires_at=session_close(now) if tif == "day" else None,
            extra={"extended_hours": extended, "position_intent": intent})

    def _group(self, body: Any) -> tuple[str, Callable[[VenueOrderRequest], list[VenueOrderRequest]], Any]:
        """The order class of a ``POST /v2/orders`` body, a maker of its legs' requests from the parent's, and the
        body to parse as the parent (an OCO's parent takes ``take_profit.limit_price`` when it has no limit)."""
        if not isinstance(body, dict):
            return "simple", lambda r: [], body
        order_class = body.get("order_class") or "simple"
        if order_class not in _ORDER_CLASSES:
            raise _invalid(f"order_class must be one of {', '.join(_ORDER_CLASSES)}, got {order_class!r}")
        take_profit, stop_loss = body.get("take_profit"), body.get("stop_loss")
        if order_class == "simple":
            if take_profit is not None or stop_loss is not None:
                raise _invalid("take_profit and stop_loss are only accepted for bracket, oco and oto orders")
            return "simple", lambda r: [], body
        for key, value in (("take_profit", take_profit), ("stop_loss", stop_loss)):
            if value is not None and not isinstance(value, dict):
                raise _invalid(f"{key} must be an object, got {value!r}")
        tp = _number(take_profit, "limit_price") if take_profit else None
        sl = _number(stop_loss, "stop_price") if stop_loss else None
        sl_limit = _number(stop_loss, "limit_price") if stop_loss else None
        if take_profit is not None and tp is None:
            raise _invalid("take_profit.limit_price is required")
        if stop_loss is not None and sl is None:
            raise _invalid("stop_loss.stop_price is required")
        if order_class in ("bracket", "oco") and (tp is None or sl is None):
            raise _invalid(f"{order_class} orders require take_profit.limit_price and stop_loss.stop_price")
        if order_class == "oto" and (tp is None) == (sl is None):
            raise _invalid("oto orders require either take_profit or stop_loss")
        kind = str(body.get("type", "")).lower()
        if order_class == "oco" and kind != "limit":
            raise _invalid("oco orders must be limit orders")
        if order_class != "oco" and kind not in ("market", "limit"):
            raise _invalid(f"{order_class} orders must be market or limit orders (type {kind})")
        if str(body.get("time_in_force", "")).lower() not in ("day", "gtc"):
            raise _invalid(f"{order_class} orders must be day or gtc orders")
        if body.get("notional") is not None:
            raise _invalid(f"{order_class} orders do not accept notional")
        for key, price in (("take_profit.limit_price", tp), ("stop_loss.stop_price", sl),
                           ("stop_loss.limit_price", sl_limit)):
            _check_increment(key, price, False)
        if order_class == "oco" and body.get("limit_price") is None:
            body = {**body, "limit_price": tp}

        def legs(parent: VenueOrderRequest) -> list[VenueOrderRequest]:
            if "/" in parent.symbol:
                raise _invalid(f"{order_class} orders are not accepted for crypto")
            buy = parent.side == "buy"
            exit_side: Literal["buy", "sell"] = ("sell" if buy else "buy") if order_class != "oco" else parent.side
            exit_buys = exit_side == "buy"
            base = parent.limit if order_class != "oco" else None
            if tp is not None and sl is not None and not (sl > tp if exit_buys else sl < tp):
                raise _invalid(f"stop_loss.stop_price must be {'above' if exit_buys else 'below'} "
                               "take_profit.limit_price")
            if base is not None and tp is not None and not (tp < base if exit_buys else tp > base):
                raise _invalid(f"take_profit.limit_price must be {'<' if exit_buys else '>'} limit_price")
            common: dict[str, Any] = {"symbol": parent.symbol, "side": exit_side, "tif": parent.tif, "qty": parent.qty,
                      "expires_at": parent.expires_at, "extra": {"position_intent":
                                                                 "buy_to_close" if exit_buys else "sell_to_close"}}
            out = []
            if tp is not None and order_class != "oco":
                out.append(VenueOrderRequest(type="limit", limit=tp, **common))
            if sl is not None:
                out.append(VenueOrderRequest(type="stop" if sl_limit is None else "stop_limit", stop=sl,
                                             limit=sl_limit, **common))
            return out

        return order_class, legs, body

    # -- order queries and cancels ------------------------------------------------------------------------
    def order(self, order_id: str) -> dict[str, Any]:
        """``GET /v2/orders/{order_id}``."""
        o = self.account_.order(order_id)
        if o is None:
            raise AlpacaError(404, _CODE_NOT_FOUND, "order not found")
        return self._json(o)

    def order_by_client_id(self, client_order_id: str | None) -> dict[str, Any]:
        """``GET /v2/orders:by_client_order_id``."""
        if not client_order_id:
            raise _invalid("client_order_id is required")
        o = self.account_.order_by_client_id(client_order_id)
        if o is None:
            raise AlpacaError(404, _CODE_NOT_FOUND, "order not found")
        return self._json(o)

    def list_orders(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET /v2/orders`` with ``status``, ``limit``, ``after``, ``until``, ``direction``, ``side``,
        ``symbols``."""
        status = params.get("status", "open").lower()
        nested = str(params.get("nested", "false")).lower() == "true"
        if status not in ("open", "closed", "all"):
            raise _invalid(f"status must be one of open, closed, all, got {status!r}")
        limit = _limit(params, 50, 500)
        direction = _direction(params)
        side = params.get("side")
        if side is not None and side.lower() not in ("buy", "sell"):
            raise _invalid(f"side must be buy or sell, got {side!r}")
        after = _parse_time(params["after"], "after") if params.get("after") else None
        until = _parse_time(params["until"], "until") if params.get("until") else None
        symbols = {s.strip().upper() for s in params["symbols"].split(",") if s.strip()} \
            if params.get("symbols") else None
        with self.lock:
            chosen = [
                o for o in self.account_.all_orders()
                if (status == "all" or (status == "open") == o.is_open)
                and (after is None or o.created_at > after)
                and (until is None or o.created_at < until)
                and (symbols is None or o.symbol in symbols)
                and (side is None or o.side == side.lower())
            ]
            if nested:  # legs rolled up under their parents
                chosen = [o for o in chosen if "parent_id" not in o.extra]
            chosen.sort(key=lambda o: (o.created_at, o.oid), reverse=direction == "desc")
            return [self._json(o) if nested else order_json(o) for o in chosen[:limit]]

    def cancel(self, order_id: str) -> None:
        """``DELETE /v2/orders/{order_id}``: 422 when the order is no longer open."""
        with self.lock:
            if self.account_.order(order_id) is None:
                raise AlpacaError(404, _CODE_NOT_FOUND, "order not found")
            try:
                self.account_.cancel(order_id)
            except ValueError as exc:
                raise AlpacaError(422, 42210000, str(exc)) from None

    def cancel_all(self) -> list[dict[str, Any]]:
        """``DELETE /v2/orders``: one ``{"id", "status", "body"}`` per open order (HTTP 207)."""
        with self.lock:
            # a leg's sibling is cancelled with it: skip what an earlier cancel of this call ended
            return [{"id": o.id, "status": 200, "body": order_json(self.account_.cancel(o.id))}
                    for o in self.account_.open_orders() if o.is_open]

    # -- positions -----------------------------------------------------------------------------------------
    def _position(self, symbol: str, qty: float, avg: float, price: float) -> dict[str, Any]:
        lastday = self.account_.lastday.get(symbol, price)
        available = qty - self.account_.held_for_orders(symbol) if qty > 0 else qty
        return position_json(symbol, qty, avg, price, lastday, available)

    def positions(self) -> list[dict[str, Any]]:
        """``GET /v2/positions``, sorted by symbol."""
        with self.lock:
            return [self._position(*p) for p in self.account_.positions()]

    def position(self, symbol: str) -> dict[str, Any]:
        """``GET /v2/positions/{symbol}``: 404 when flat."""
        with self.lock:
            symbol = symbol.upper()
            for p in self.account_.positions():
                if p[0] == symbol:
                    return self._position(*p)
            raise AlpacaError(404, _CODE_NOT_FOUND, "position does not exist")

    def close_position(self, symbol: str, params: Mapping[str, str]) -> dict[str, Any]:
        """``DELETE /v2/positions/{symbol}`` (optionally ``qty`` or ``percentage``): a market order the other way."""
        with self.lock:
            symbol = symbol.upper()
            held = self.account_.holding(symbol)
            if held == 0.0:
                raise AlpacaError(404, _CODE_NOT_FOUND, "position does not exist")
            qty = abs(held)
            if params.get("qty") and params.get("percentage"):
                raise _invalid("only one of qty or percentage may be given")
            if params.get("qty"):
                qty = _number(params, "qty") or 0.0
                if qty > abs(held) + 1e-9:
                    raise _invalid(f"qty {num(qty)} is more than the position {num(abs(held))}")
            elif params.get("percentage"):
                pct = _number(params, "percentage") or 0.0
                if pct > 100:
                    raise _invalid(f"percentage must be between 0 and 100, got {num(pct)}")
                qty = math.floor(abs(held) * pct / 100 * 1e9) / 1e9
            return self.submit({"symbol": symbol, "qty": qty, "side": "sell" if held > 0 else "buy",
                                "type": "market", "time_in_force": "gtc" if "/" in symbol else "day"})

    def close_all(self, cancel_orders: bool) -> list[dict[str, Any]]:
        """``DELETE /v2/positions``: one ``{"symbol", "status", "body"}`` per position (HTTP 207)."""
        with self.lock:
            if cancel_orders:
                self.cancel_all()
            out: list[dict[str, Any]] = []
            for symbol, *_ in self.account_.positions():
                try:
                    out.append({"symbol": symbol, "status": 200, "body": self.close_position(symbol, {})})
                except AlpacaError as exc:
                    out.append({"symbol": symbol, "status": exc.status, "body": {**exc.body(), "symbol": symbol}})
            return out

    # -- account, activities, clock, assets ----------------------------------------------------------------
    def account(self) -> dict[str, Any]:
        """``GET /v2/account``."""
        with self.lock:
            a = self.account_
            pos = a.positions()
            long_mv = sum(q * m for _s, q, _a, m in pos if q > 0)
            short_mv = sum(q * m for _s, q, _a, m in pos if q < 0)
            equity = a.equity()
            bp = a.buying_power()
            cash = a.balance("USD")
            reserved = a.locked("USD")
            fees = sum(o.fees for o in a.all_orders() if o.fee_currency in (None, "USD"))
            gross = long_mv - short_mv
            margin = gross / 2.0 if a.leverage() > 1 else gross
            return {
                "id": self.account_id,
                "account_number": self.account_number,
                "status": "ACTIVE",
                "crypto_status": "ACTIVE",
                "currency": "USD",
                "buying_power": num(bp),
                "regt_buying_power": num(bp),
                "daytrading_buying_power": num(bp if a.leverage() >= 4 else 0.0),
                "effective_buying_power": num(bp),
                "non_marginable_buying_power": num(max(cash - reserved, 0.0)),
                "options_buying_power": num(max(cash - reserved, 0.0)),
                "bod_dtbp": "0",
                "cash": num(cash),
                "accrued_fees": num(fees),
                "pending_transfer_in": "0",
                "pending_transfer_out": "0",
                "portfolio_value": num(equity),
                "pattern_day_trader": False,
                "trading_blocked": False,
                "transfers_blocked": False,
                "account_blocked": False,
                "created_at": ts(a.created_at),
                "trade_suspended_by_user": False,
                "multiplier": num(a.leverage()),
                "shorting_enabled": self.allow_short,
                "equity": num(equity),
                "last_equity": num(a.last_equity),
                "long_market_value": num(long_mv),
                "short_market_value": num(short_mv),
                "position_market_value": num(gross),
                "initial_margin": num(margin),
                "maintenance_margin": num(0.3 * gross),
                "last_maintenance_margin": "0",
                "sma": "0",
                "daytrade_count": 0,
                "balance_asof": self.now().astimezone(NEW_YORK).date().isoformat(),
                "options_approved_level": 0,
                "options_trading_level": 0,
                "intraday_adjustments": "0",
                "pending_reg_taf_fees": "0",
            }

    def activities(self, params: Mapping[str, str], activity_type: str | None = None) -> list[dict[str, Any]]:
        """``GET /v2/account/activities[/{type}]``: FILL activities and the fee activities (``FEE``, ``CFEE``) of
        fills that paid one; ``activity_types``, ``after``, ``until``, ``direction`` (default desc),
        ``page_size`` (default 100) and ``page_token`` (the id of the last activity of the previous page)."""
        if activity_type is not None:
            types = {activity_type.upper()}
        elif params.get("activity_types"):
            types = {t.strip().upper() for t in params["activity_types"].split(",") if t.strip()}
        else:
            types = set(_ACTIVITY_TYPES)
        unknown = sorted(t for t in types if not t.isalpha())
        if unknown:
            raise _invalid(f"invalid activity type: {unknown[0]}")
        direction = _direction(params)
        size = _limit(params, 100, 100, key="page_size")
        after = _parse_time(params["after"], "after") if params.get("after") else None
        until = _parse_time(params["until"], "until") if params.get("until") else None
        with self.lock:
            chosen = [a for a in self._activities if a["activity_type"] in types]
        def when(a: dict[str, Any]) -> datetime:
            return _parse_time(a.get("transaction_time") or a["created_at"], "time")
        chosen = [a for a in chosen if (after is None or when(a) > after) and (until is None or when(a) < until)]
        chosen.sort(key=lambda a: a["id"], reverse=direction == "desc")
        token = params.get("page_token")
        if token:
            ids = [a["id"] for a in chosen]
            chosen = chosen[ids.index(token) + 1:] if token in ids else []
        return chosen[:size]

    def clock(self) -> dict[str, Any]:
        """``GET /v2/clock`` (under the lock: a bar step in progress is answered once its orders are matched)."""
        with self.lock:
            return clock_json(self.now(), self.always_open)

    def assets(self, status: str | None = None) -> list[dict[str, Any]]:
        """``GET /v2/assets``: the venue's symbol list when it has one, else every symbol it has quoted or traded
        (all active and tradable)."""
        if status not in (None, "active"):
            return []
        with self.lock:
            listed = sorted(self.symbols) if self.symbols is not None else list(self.account_.engine.symbols)
        return [asset_json(s, self.allow_short) for s in listed]

    def asset(self, symbol: str) -> dict[str, Any]:
        """``GET /v2/assets/{symbol}``: 404 for a symbol outside the venue's list (when it has one)."""
        symbol = symbol.upper()
        if not _SYMBOL.match(symbol) or (self.symbols is not None and symbol not in self.symbols):
            raise AlpacaError(404, _CODE_NOT_FOUND, f"asset not found for {symbol}")
        return asset_json(symbol, self.allow_short)

    # -- statistics ----------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """``GET /_stats``: the account's counters, the trade updates sent, the faults injected."""
        with self.lock:
            out = self.account_.stats()
            out["trade_updates"] = len(self.events)
            out["faults_injected"] = dict(self.injector.counts)
            return out


def _limit(params: Mapping[str, str], default: int, most: int, key: str = "limit") -> int:
    try:
        limit = int(params.get(key, str(default)))
    except ValueError:
        raise _invalid(f"{key} must be an integer, got {params.get(key)!r}") from None
    if not 1 <= limit <= most:
        raise _invalid(f"{key} must be between 1 and {most}, got {limit}")
    return limit


def _direction(params: Mapping[str, str]) -> str:
    direction = params.get("direction", "desc").lower()
    if direction not in ("asc", "desc"):
        raise _invalid(f"direction must be asc or desc, got {direction!r}")
    return direction


def _alpaca_error(exc: VenueReject) -> AlpacaError:
    """The account's neutral refusal in Alpaca's words (403 for funds, 422 otherwise)."""
    d = exc.detail
    if exc.reason == "insufficient_funds" and d.get("kind") == "position":
        return AlpacaError(
            403, _CODE_FORBIDDEN,
            f"insufficient qty available for order (requested: {num(d['requested'])}, available: "
            f"{num(d['available'])})",
            available=num(d["available"]), existing_qty=num(d["held"]), held_for_orders=num(d["held_for_orders"]),
            symbol=d["symbol"])
    if exc.reason == "insufficient_funds":
        return AlpacaError(403, _CODE_FORBIDDEN, "insufficient buying power",
                           buying_power=num(d.get("buying_power", d.get("available"))), cost_basis=num(d["cost"]))
    if exc.reason == "duplicate_client_id":
        return _invalid("client_order_id must be unique")
    if exc.reason == "unknown_symbol":
        return _invalid(f'asset "{d.get("symbol")}" not found')
    return _invalid(exc.message)
