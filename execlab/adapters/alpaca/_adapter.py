"""``AlpacaAdapter``: Alpaca's Trading API v2 through alpaca-py's ``TradingClient``.

Every answer's ``X-Ratelimit-*`` headers go to the executor's pacer (a session response hook), so requests made by
another client on the same key, or by an earlier process, still leave this one without a 429.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import requests
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetStatus, QueryOrderStatus
from alpaca.trading.models import Asset, TradeAccount
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import Position as AlpacaPosition
from alpaca.trading.requests import GetAssetsRequest, GetOrdersRequest
from requests.adapters import HTTPAdapter

from execlab._brokers.contract import BrokerAdapter, BrokerOrder
from execlab._core.endpoints import Mode, check_endpoint
from execlab._core.models import AccountSnapshot, Order
from execlab.adapters.alpaca._mapping import rate_limit_headers, to_broker_order, to_error, to_request
from execlab.adapters.alpaca._stream import AlpacaTradeStream

__all__ = ["AlpacaAdapter"]


class _TimeoutAdapter(HTTPAdapter):
    """A transport that gives every request a timeout (alpaca-py sets none)."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def _stream_url(base_url: str | None) -> str | None:
    if not base_url:
        return None
    scheme, sep, rest = base_url.rstrip("/").partition("://")
    if not sep:
        return None
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest.split('/')[0]}/stream"


class AlpacaAdapter(BrokerAdapter):
    """Orders, positions and account through alpaca-py; ``base_url`` points at Alpaca or at a local venue."""

    name = "alpaca"

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
        transport = _TimeoutAdapter(timeout)
        self.client._session.mount("http://", transport)
        self.client._session.mount("https://", transport)
        self.client._session.hooks["response"].append(self._rate_limit_hook)

    def _rate_limit_hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Tell the pacer what Alpaca says about the key's rate limit (every answer carries it)."""
        pacer = self.pacer
        if pacer is not None:
            limit, remaining, reset_at = rate_limit_headers(response.headers)
            pacer.observe(limit, remaining, reset_at)

    def _stream(self, on_order: Callable[[BrokerOrder], None], on_gap: Callable[[], None],
                timeout: float = 10.0) -> AlpacaTradeStream:
        """Order updates from the ``trade_updates`` websocket (alpaca-py's ``TradingStream``), live on return.

        Raises StreamAuthError when the keys are refused, BrokerUnavailableError when it cannot connect in time.
        """
        stream = AlpacaTradeStream(*self._keys, lambda update: on_order(update.order), url=self.stream_url,
                                   paper=self._paper, on_reconnect=on_gap)
        stream.start(timeout)
        return stream

    def _submit(self, order: Order) -> BrokerOrder:
        try:
            placed = self.client.submit_order(to_request(order))
        except (APIError, requests.RequestException) as exc:
            raise to_error(exc) from exc
        assert isinstance(placed, AlpacaOrder)
        return to_broker_order(placed)

    def _cancel(self, broker_order_id: str) -> None:
        try:
            self.client.cancel_order_by_id(broker_order_id)
        except (APIError, requests.RequestException) as exc:
            raise to_error(exc) from exc

    def _order(self, client_order_id: str) -> BrokerOrder | None:
        try:
            found = self.client.get_order_by_client_id(client_order_id)
        except APIError as exc:
            if exc.status_code == 404:
                return None
            raise to_error(exc) from exc
        except requests.RequestException as exc:
            raise to_error(exc) from exc
        assert isinstance(found, AlpacaOrder)
        return to_broker_order(found)

    def _open_orders(self) -> list[BrokerOrder]:
        try:
            orders = self.client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500))
        except (APIError, requests.RequestException) as exc:
            raise to_error(exc) from exc
        return [to_broker_order(o) for o in orders if isinstance(o, AlpacaOrder)]

    def _recent_orders(self) -> list[BrokerOrder]:
        try:
            orders = self.client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500,
                                                             direction=Sort.DESC))
        except (APIError, requests.RequestException) as exc:
            raise to_error(exc) from exc
        return [to_broker_order(o) for o in orders if isinstance(o, AlpacaOrder)]

    def _positions(self) -> dict[str, float]:
        try:
            held = self.client.get_all_positions()
        except (APIError, requests.RequestException) as exc:
            raise to_error(exc) from exc
        out: dict[str, float] = {}
        for p in held:
            if isinstance(p, AlpacaPosition):
                qty = float(p.qty)
                side = p.side.value if hasattr(p.side, "value") else str(p.side)
                out[p.symbol] = -abs(qty) if side == "short" else qty
        return out

    def _account(self) -> AccountSnapshot:
        try:
            acct = self.client.get_account()
        except (APIError, requests.RequestException) as exc:
            raise to_error(exc) from exc
        assert isinstance(acct, TradeAccount)
        return AccountSnapshot(cash=float(acct.cash or 0.0), equity=float(acct.equity or 0.0),
                               buying_power=float(acct.buying_power or 0.0), currency=str(acct.currency or "USD"),
                               day_start_equity=None if acct.last_equity is None else float(acct.last_equity))

    def _tradable(self, symbols: Sequence[str]) -> set[str] | None:
        try:
            assets = self.client.get_all_assets(GetAssetsRequest(status=AssetStatus.ACTIVE))
        except (APIError, requests.RequestException) as exc:
            raise to_error(exc) from exc
        listed = {a.symbol for a in assets if isinstance(a, Asset) and a.tradable}
        return {s for s in symbols if s in listed}
