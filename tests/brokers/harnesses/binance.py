"""The Binance harness: the local Binance spot venue in process (or ``python -m execlab.venues.binance``), ccxt and
ccxt.pro through :class:`execlab.adapters.ccxt.BinanceAdapter`.

The suite's symbols (``AAA``, …) are named by their base currency (``broker.symbols: base``): the venue lists them as
``AAA/USDT`` pairs with a 0.001 step, and charges fees in USDT so that positions equal the targets exactly.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from brokers.harnesses.base import BrokerHarness, VenueHandle

import execlab as xl
from execlab._brokers.contract import BrokerAdapter
from execlab.adapters.ccxt import BinanceAdapter
from execlab.venues.binance import BinanceVenue
from execlab.venues.binance._limits import ROUTE_WEIGHTS
from execlab.venues.binance._rules import spot_market


class BinanceHarness(BrokerHarness):
    name = "binance"
    key = "conformance-binance-key"
    secret = "conformance-binance-secret-not-for-logs"
    symbols: ClassVar[dict[str, float]] = {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0, "DDD": 5.0}
    order_match = "POST /api/v3/order"
    requests_per_connection = 1  # GET /api/v3/exchangeInfo: ccxt's markets, loaded once per client
    poll_cost = float(ROUTE_WEIGHTS[("GET", "/api/v3/account")])  # the venue's limit is request weight
    crash_orders = 30
    """Binance lists trades one symbol at a time (``myTrades``, weight 20): a client restarted after a crash lists
    those of every order it sent whose fills the journal lacks, so the rate-limited crash trial (60 weight per 2 s)
    spends at least 25 weight an order (order 1, lookup 4, trades 20): 200 orders would take minutes."""

    def start_venue(self, **opts: Any) -> VenueHandle:
        markets = [spot_market(s, lot=0.001, tick=0.01, min_qty=0.001, fee_in="quote") for s in self.symbols]
        venue = BinanceVenue(self.key, self.secret, markets=markets, balances={"USDT": opts.pop("cash", 100_000.0)},
                             weight_limit=opts.pop("rate_limit", 1_000_000),
                             weight_window=opts.pop("rate_window", 60.0), open_markets=True, **opts).start()
        for s, p in self.symbols.items():
            venue.set_quote(s, p - 0.01, p + 0.01, p)
        return venue

    def make_adapter(self, venue: VenueHandle, *, timeout: float = 5.0) -> BrokerAdapter:
        assert isinstance(venue, BinanceVenue)
        return BinanceAdapter(self.key, self.secret, base_url=venue.base_url, timeout=timeout, bare_symbols=True,
                              weight_limit=venue.limits.limit, weight_window=venue.limits.weights.window)

    def burner(self, venue: VenueHandle) -> BrokerAdapter:
        """A client that sends without pacing (another program on the key: the adapter itself would pace)."""
        assert isinstance(venue, BinanceVenue)
        return BinanceAdapter(self.key, self.secret, base_url=venue.base_url, bare_symbols=True, stream=False,
                              weight_limit=1_000_000, follow_stated_limit=False)

    def config(self, venue: VenueHandle, run_id: str, **broker: Any) -> xl.Config:
        assert isinstance(venue, BinanceVenue)
        return xl.Config.from_mapping({"mode": "paper", "run_id": run_id, "currency": "USDT", "broker": {
            "name": "ccxt", "exchange": "binance", "api_key": self.key, "api_secret": self.secret,
            "base_url": venue.base_url, "symbols": "base", **broker}})

    def venue_command(self, port: int, *, rate_limit: int, rate_window: float) -> tuple[list[str], dict[str, str]]:
        return ([sys.executable, "-m", "execlab.venues.binance", "--port", str(port), "--key", self.key,
                 "--rate-limit", str(rate_limit), "--rate-window", repr(rate_window), "--cash", "1e12",
                 "--open-markets"], {"BINANCE_API_SECRET": self.secret})

    def config_yaml(self, url: str, run_id: str) -> tuple[str, dict[str, str]]:
        return (f"mode: paper\nrun_id: {run_id}\ncurrency: USDT\nbroker:\n  name: ccxt\n  exchange: binance\n"
                f"  base_url: {url}\n  symbols: base\n  api_key: ${{CONF_KEY}}\n  api_secret: ${{CONF_SECRET}}\n",
                {"CONF_KEY": self.key, "CONF_SECRET": self.secret})

    def harness_headers(self) -> dict[str, str]:
        return {"X-MBX-APIKEY": self.key}

    def held_at(self, url: str) -> dict[str, float]:
        adapter = BinanceAdapter(self.key, self.secret, base_url=url, bare_symbols=True, stream=False)
        try:
            return {s: q for s, q in adapter._positions().items() if q}
        finally:
            adapter.close()


HARNESS = BinanceHarness()
