"""``AlpacaAdapter``: Alpaca's Trading API v2 through alpaca-py's ``TradingClient``.

Every answer's ``X-Ratelimit-*`` headers go to the executor's pacer (a session response hook), so requests made by
another client on the same key, or by an earlier process, still leave this one without a 429.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final

import requests
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetStatus, QueryOrderStatus
from alpaca.trading.models import Asset, TradeAccount
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import Position as AlpacaPosition
from alpaca.trading.requests import GetAssetsRequest, GetOrdersRequest

from execlab._brokers.client_ids import ClientIdStyle
from execlab._brokers.contract import BrokerAdapter, BrokerFill, BrokerOrder, Capability
from execlab._brokers.http import mount_timeout
from execlab._core.endpoints import Mode, check_endpoint
from execlab._core.instruments import Instrument
from execlab._core.models import AccountSnapshot, Order
from execlab._core.order_classes import OrderGroup
from execlab.adapters.alpaca._mapping import (
    ERRORS,
    WIRE_IDS,
    activity_time,
    fills_from_activities,
    leg_aliases,
    rate_limit_headers,
    to_broker_order,
    to_group_request,
    to_instrument,
    to_request,
)
from execlab.adapters.alpaca._stream import AlpacaTradeStream

__all__ = ["AlpacaAdapter"]


def _stream_url(base_url: str | None) -> str | None:
    if not base_url:
        return None
    scheme, sep, rest = base_url.rstrip("/").partition("://")
    if not sep:
        return None
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest.split('/')[0]}/stream"


_ACTIVITY_TYPES: Final = "FILL,FEE,CFEE"
RECENT: Final = timedelta(days=1)
"""How far back from the latest execution ``_fills(None)`` reads."""
_PAGE: Final = 100
"""Alpaca's largest ``page_size`` of account activities."""


class AlpacaAdapter(BrokerAdapter):
    """Orders, positions and account through alpaca-py; ``base_url`` points at Alpaca or at a local venue.

    Fills come from the account activities (``FILL``, with the ``FEE``/``CFEE`` activities that charge them);
    order updates from the ``trade_updates`` stream.
    """

    name = "alpaca"
    capabilities = frozenset({Capability.ORDER_STREAM, Capability.FILLS, Capability.INSTRUMENTS,
                              Capability.TRADABLE, Capability.BULK_REFRESH, Capability.NATIVE_BRACKET})
    client_ids: ClassVar[ClientIdStyle] = WIRE_IDS

    def __init__(self, api_key: str, secret_key: str, base_url: str | None = None, paper: bool = True,
                 timeout: float = 10.0, stream_url: str | None = None):
        mode: Mode = "paper" if paper else "live"
        for key, url in (("base_url", base_url), ("stream_url", stream_url)):
            if url is not None:  # the same parsed-host guard as the config, for code that builds adapters directly
                check_endpoint(self.name, url, mode, key=key)
        self.client = TradingClient(api_key, secret_key, paper=paper, url_override=base_url)
        self._keys = (api_key, secret_key)
        self._paper = paper
        self.stream_url = stream_url if stream_url is not None else _stream_url(base_url)
        """The ``trade_updates`` websocket: given, else the REST base URL's host with ``ws(s)://.../stream`` (what
        Alpaca and the local venue both serve), else (no base URL) Alpaca's own for ``paper``."""
        # Rate limits are paced and retried by execlab; alpaca-py's own 3 s sleeps on 429 would hide them.
        self.client._retry = 0
        mount_timeout(self.client._session, timeout)  # alpaca-py sets none
        self.client._session.hooks["response"].append(self._rate_limit_hook)
        self._orders_by_id: dict[str, BrokerOrder] = {}
        self._leg_aliases: dict[str, str] = {}
        """Wire client id of a group's leg (Alpaca's own) → execlab's id of the leg."""
        self._leg_ids: dict[str, str] = {}
        """execlab's id of a group's leg → Alpaca's order id of it."""
        self._orders_lock = threading.Lock()
        self._streams: list[AlpacaTradeStream] = []

    def _rate_limit_hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Tell the pacer what Alpaca says about the key's rate limit (every answer carries it)."""
        pacer = self.pacer
        if pacer is not None:
            limit, remaining, reset_at = rate_limit_headers(response.headers)
            pacer.observe(limit, remaining, reset_at)

    def _order_view(self, order: AlpacaOrder) -> BrokerOrder:
        """The neutral view of an alpaca-py order, remembered by broker id (fills name only that id); a group's
        parent teaches the adapter its legs' ids (and its nested legs are remembered too)."""
        aliases = leg_aliases(order, self.client_ids)
        if aliases:
            with self._orders_lock:
                self._leg_aliases.update(aliases)
                for leg in order.legs or ():
                    self._leg_ids[aliases[str(leg.client_order_id)]] = str(leg.id)
            for leg in order.legs or ():
                self._remember(to_broker_order(leg, self.client_ids, self._leg_aliases))
        return self._remember(to_broker_order(order, self.client_ids, self._leg_aliases))

    def _remember(self, view: BrokerOrder) -> BrokerOrder:
        with self._orders_lock:
            alias = self._leg_aliases.get(view.client_order_id)
            if alias is not None:
                view = replace(view, client_order_id=alias)
            self._orders_by_id[view.broker_order_id] = view
        return view

    def _stream(self, on_order: Callable[[BrokerOrder], None], on_fill: Callable[[BrokerFill], None],
                on_gap: Callable[[], None], timeout: float = 10.0) -> AlpacaTradeStream:
        """Order updates from the ``trade_updates`` websocket (alpaca-py's ``TradingStream``), live on return.

        Fills are not pushed (``trade_updates`` carries no fee): the executor lists them with :meth:`_fills`.
        Raises StreamAuthError (a :class:`BrokerAuthError`) when the keys are refused, BrokerUnavailableError when
        it cannot connect in time.
        """
        stream = AlpacaTradeStream(*self._keys, lambda update: self._forward(update.order, on_order),
                                   url=self.stream_url, paper=self._paper, on_reconnect=on_gap, ids=self.client_ids)
        stream.start(timeout)
        self._streams.append(stream)
        return stream

    def _forward(self, view: BrokerOrder, on_order: Callable[[BrokerOrder], None]) -> None:
        """Hand a streamed order on, under execlab's id; a group leg not known yet is left to the next poll (its
        id is Alpaca's until the parent's answer names it)."""
        view = self._remember(view)
        order_class = view.raw.get("order_class") or "simple"
        if order_class != "simple" and self.client_ids.parse(view.client_order_id) is None:
            return
        on_order(view)

    def close(self) -> None:
        """Stop the streams this adapter started and close the HTTP session."""
        for stream in self._streams:
            stream.stop()
        self._streams.clear()
        self.client._session.close()

    @ERRORS
    def _submit(self, order: Order) -> BrokerOrder:
        placed = self.client.submit_order(to_request(order, self.client_ids))
        assert isinstance(placed, AlpacaOrder)
        return self._order_view(placed)

    @ERRORS
    def _submit_group(self, group: OrderGroup) -> list[BrokerOrder]:
        placed = self.client.submit_order(to_group_request(group, self.client_ids))
        assert isinstance(placed, AlpacaOrder)
        parent = self._order_view(placed)
        legs = [self._remember(to_broker_order(leg, self.client_ids, self._leg_aliases)) for leg in placed.legs or ()]
        return [parent, *legs]

    @ERRORS
    def _cancel(self, broker_order_id: str) -> None:
        self.client.cancel_order_by_id(broker_order_id)

    @ERRORS
    def _order(self, client_order_id: str) -> BrokerOrder | None:
        with self._orders_lock:
            leg_id = self._leg_ids.get(client_order_id)
        try:
            if leg_id is not None:  # a group's leg: Alpaca knows it by its own ids
                found = self.client.get_order_by_id(leg_id)
            else:
                found = self.client.get_order_by_client_id(self.client_ids.render(client_order_id))
        except APIError as exc:
            if exc.status_code == 404:  # an answer, not a failure: Alpaca has no such order
                return None
            raise
        assert isinstance(found, AlpacaOrder)
        return self._order_view(found)

    @ERRORS
    def _open_orders(self) -> list[BrokerOrder]:
        orders = self.client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500))
        return [self._order_view(o) for o in orders if isinstance(o, AlpacaOrder)]

    @ERRORS
    def _clock(self) -> datetime | None:
        """``GET /v2/clock``'s timestamp, in UTC (a local venue replaying bars answers its replay time)."""
        when = self.client.get_clock().timestamp  # type: ignore[union-attr]
        return when.astimezone(UTC) if when.tzinfo is not None else when.replace(tzinfo=UTC)

    @ERRORS
    def _recent_orders(self) -> list[BrokerOrder]:
        orders = self.client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500,
                                                         direction=Sort.DESC))
        return [self._order_view(o) for o in orders if isinstance(o, AlpacaOrder)]

    @ERRORS
    def _positions(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for p in self.client.get_all_positions():
            if isinstance(p, AlpacaPosition):
                qty = float(p.qty)
                side = p.side.value if hasattr(p.side, "value") else str(p.side)
                out[self.symbol_map.to_execlab(p.symbol)] = -abs(qty) if side == "short" else qty
        return out

    @ERRORS
    def _account(self) -> AccountSnapshot:
        acct = self.client.get_account()
        assert isinstance(acct, TradeAccount)
        return AccountSnapshot(cash=float(acct.cash or 0.0), equity=float(acct.equity or 0.0),
                               buying_power=float(acct.buying_power or 0.0), currency=str(acct.currency or "USD"),
                               day_start_equity=None if acct.last_equity is None else float(acct.last_equity))

    @ERRORS
    def _tradable(self, symbols: Sequence[str]) -> set[str] | None:
        assets = self.client.get_all_assets(GetAssetsRequest(status=AssetStatus.ACTIVE))
        listed = {a.symbol for a in assets if isinstance(a, Asset) and a.tradable}
        return {s for s in symbols if self.symbol_map.to_broker(s) in listed}

    @ERRORS
    def _instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        wanted = {self.symbol_map.to_broker(s): s for s in symbols}
        assets = self.client.get_all_assets(GetAssetsRequest(status=AssetStatus.ACTIVE))
        out: dict[str, Instrument] = {}
        for a in assets:
            if isinstance(a, Asset) and a.symbol in wanted:
                rules = to_instrument(a)
                out[wanted[a.symbol]] = Instrument(wanted[a.symbol], rules.asset_class, rules.currency, rules.lot_size,
                                                   rules.tick_size, rules.min_quantity, rules.min_notional,
                                                   rules.fractional)
        return out

    @ERRORS
    def _fills(self, since: datetime | None) -> list[BrokerFill]:
        """Executions from ``GET /v2/account/activities`` (``FILL``, ``FEE``, ``CFEE``), paged: after ``since``
        oldest first, or (``since`` None) newest first back to a day before the latest one."""
        params: dict[str, Any] = {"activity_types": _ACTIVITY_TYPES, "page_size": _PAGE,
                                  "direction": "desc" if since is None else "asc"}
        if since is not None:
            params["after"] = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
        rows: list[dict[str, Any]] = []
        oldest_wanted: datetime | None = None
        while True:
            if "page_token" in params:  # a further page: a request of its own for the pacer
                with self._another_request():
                    page = self.client.get("/account/activities", dict(params))
            else:
                page = self.client.get("/account/activities", dict(params))
            batch = [r for r in page if isinstance(r, dict)] if isinstance(page, list) else []
            rows.extend(batch)
            if since is None and batch:
                times = [t for t in (activity_time(r) for r in batch) if t is not None]
                if times and oldest_wanted is None:
                    oldest_wanted = max(times) - RECENT
                if oldest_wanted is not None and times and min(times) < oldest_wanted:
                    break
            if len(batch) < _PAGE:
                break
            params["page_token"] = batch[-1]["id"]
        if since is None:
            rows.reverse()
        return fills_from_activities(rows, self._known_order)

    def _known_order(self, broker_order_id: str) -> BrokerOrder | None:
        """An order this adapter has answered about (submitted, looked up, listed or streamed); the executions
        of other orders (other runs, other clients on the account) are not this executor's to journal."""
        with self._orders_lock:
            return self._orders_by_id.get(broker_order_id)
