"""ccxt exchanges pointed at a given base URL (a local venue, or the exchange itself), with market loading limited to
spot in one request and ccxt's own behaviour that would hide venue answers switched off."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["SUPPORTED", "make_exchange", "point_at"]

#: Exchanges whose URL layout this module knows.
SUPPORTED: Final = ("binance", "okx")

_OPTIONS: Final[dict[str, dict[str, Any]]] = {
    # Only GET /api/v3/exchangeInfo for load_markets (else 7 endpoints, four of them signed /sapi calls).
    "binance": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False,
                "defaultType": "spot", "fetchOpenOrders": {"warnWithoutSymbol": False},
                "warnOnFetchOpenOrdersWithoutSymbol": False},
    # One GET /api/v5/public/instruments?instType=SPOT; orders through POST /api/v5/trade/order.
    "okx": {"fetchMarkets": {"types": ["spot"]}, "defaultType": "spot", "createOrder": "privatePostTradeOrder"},
}


def _swap_host(url: str, base_url: str) -> str:
    """``https://api.binance.com/api/v3`` → ``<base_url>/api/v3`` (scheme and host replaced, the path kept)."""
    rest = url.split("://", 1)[1]
    path = rest.split("/", 1)[1] if "/" in rest else ""
    return base_url.rstrip("/") + ("/" + path if path else "")


def point_at(exchange: Any, base_url: str) -> None:
    """Point a ccxt (or ccxt.pro) exchange's REST and websocket URLs at ``base_url`` (``http://host:port``)."""
    ws_base = base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1).rstrip("/")
    api = exchange.urls["api"]
    if exchange.id == "binance":
        for key, value in list(api.items()):
            if isinstance(value, str) and "://" in value:
                api[key] = _swap_host(value, base_url)
        if isinstance(api.get("ws"), dict):
            api["ws"]["ws-api"]["spot"] = ws_base + "/ws-api/v3"
            api["ws"]["spot"] = ws_base + "/ws"
    elif exchange.id == "okx":
        api["rest"] = base_url.rstrip("/")
        if "ws" in api:
            api["ws"] = ws_base + "/ws/v5"
    else:
        raise ValueError(f"ccxt exchange {exchange.id!r} is not supported (supported: {', '.join(SUPPORTED)})")


def make_exchange(exchange_id: str, *, api_key: str, secret: str, password: str | None = None,
                  base_url: str | None = None, pro: bool = False, timeout_ms: int = 10_000,
                  extra_options: dict[str, Any] | None = None) -> Any:
    """A ccxt exchange (``pro``: the ccxt.pro one, async) with the given keys, spot-only market loading and, when
    ``base_url`` is given, its URLs pointed there."""
    if exchange_id not in SUPPORTED:
        raise ValueError(f"ccxt exchange {exchange_id!r} is not supported (supported: {', '.join(SUPPORTED)})")
    if pro:
        import ccxt.pro as module
    else:
        import ccxt as module
    options = {**_OPTIONS[exchange_id], **(extra_options or {})}
    # enableLastJsonResponse: the adapter reads the limits Binance states in exchangeInfo (ccxt keeps no copy).
    config: dict[str, Any] = {"apiKey": api_key, "secret": secret, "timeout": timeout_ms, "enableRateLimit": False,
                              "enableLastJsonResponse": True, "options": options}
    if password is not None:
        config["password"] = password
    exchange = getattr(module, exchange_id)(config)
    exchange.has["fetchCurrencies"] = False
    if base_url is not None:
        point_at(exchange, base_url)
    return exchange
