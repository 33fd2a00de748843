"""The OKX harness: the local OKX v5 venue in process (or ``python -m execlab.venues.okx``), ccxt and
ccxt.pro through :class:`execlab.adapters.ccxt.OkxAdapter`.

The suite's symbols (``AAA``, …) are named by their base currency (``broker.symbols: base``): the venue lists them as
``AAA/USDT`` pairs with a 0.001 step, and charges fees in USDT so that positions equal the targets exactly.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from brokers.harnesses.base import BrokerHarness, VenueHandle

import execlab as xl
from execlab._brokers.contract import BrokerAdapter
from execlab.adapters.ccxt import OkxAdapter
from execlab.venues.okx import OkxVenue
from execlab.venues.okx._app import ENDPOINT_LIMITS
from execlab.venues.okx._rules import spot_market

_ORDERS_PER_2S = ENDPOINT_LIMITS["/api/v5/trade/order"]
"""OKX's limit of the order endpoint (requests per 2 s per key): what the suite's rate limit stands for."""


class OkxHarness(BrokerHarness):
    name = "okx"
    key = "conformance-okx-key"
    secret = "conformance-okx-secret-not-for-logs"
    passphrase = "conformance-okx-passphrase"
    symbols: ClassVar[dict[str, float]] = {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0, "DDD": 5.0}
    order_match = "POST /api/v5/trade"
    requests_per_connection = 1  # GET /api/v5/public/instruments: ccxt's markets, loaded once per client
    poll_cost = _ORDERS_PER_2S / ENDPOINT_LIMITS["/api/v5/account/balance"]  # the balance allows 10 per 2 s

    def start_venue(self, **opts: Any) -> VenueHandle:
        markets = [spot_market(s, lot=0.001, tick=0.01, min_qty=0.001, fee_in="quote") for s in self.symbols]
        rate_limit, rate_window = opts.pop("rate_limit", None), opts.pop("rate_window", 2.0)
        # OKX limits each endpoint per 2 s: a suite limit of N per window scales OKX's table (N per window is the
        # order endpoint's 60 per 2 s).
        scale = 0.0 if rate_limit is None else (rate_limit / rate_window * 2.0) / _ORDERS_PER_2S
        venue = OkxVenue(self.key, self.secret, self.passphrase, markets=markets,
                         balances={"USDT": opts.pop("cash", 100_000.0)}, limit_scale=scale, open_markets=True,
                         **opts).start()
        for s, p in self.symbols.items():
            venue.set_quote(s, p - 0.01, p + 0.01, p)
        return venue

    def make_adapter(self, venue: VenueHandle, *, timeout: float = 5.0) -> BrokerAdapter:
        assert isinstance(venue, OkxVenue)
        return OkxAdapter(self.key, self.secret, password=self.passphrase, base_url=venue.base_url, timeout=timeout,
                          bare_symbols=True)

    def config(self, venue: VenueHandle, run_id: str, **broker: Any) -> xl.Config:
        assert isinstance(venue, OkxVenue)
        return xl.Config.from_mapping({"mode": "paper", "run_id": run_id, "currency": "USDT", "broker": {
            "name": "ccxt", "exchange": "okx", "api_key": self.key, "api_secret": self.secret,
            "password": self.passphrase, "base_url": venue.base_url, "symbols": "base", **broker}})

    def venue_command(self, port: int, *, rate_limit: int, rate_window: float) -> tuple[list[str], dict[str, str]]:
        return ([sys.executable, "-m", "execlab.venues.okx", "--port", str(port), "--key", self.key,
                 "--rate-limit", str(rate_limit), "--rate-window", repr(rate_window), "--cash", "1e12",
                 "--open-markets"], {"OKX_API_SECRET": self.secret, "OKX_API_PASSPHRASE": self.passphrase})

    def config_yaml(self, url: str, run_id: str) -> tuple[str, dict[str, str]]:
        return (f"mode: paper\nrun_id: {run_id}\ncurrency: USDT\nbroker:\n  name: ccxt\n  exchange: okx\n"
                f"  base_url: {url}\n  symbols: base\n  api_key: ${{CONF_KEY}}\n  api_secret: ${{CONF_SECRET}}\n"
                "  password: ${CONF_PASSPHRASE}\n",
                {"CONF_KEY": self.key, "CONF_SECRET": self.secret, "CONF_PASSPHRASE": self.passphrase})

    def venue_client_id(self, client_order_id: str) -> str:
        """OKX's ``clOrdId``: the 32 hex digits."""
        return OkxAdapter.client_ids.render(client_order_id)

    def harness_headers(self) -> dict[str, str]:
        return {"OK-ACCESS-KEY": self.key, "OK-ACCESS-PASSPHRASE": self.passphrase}

    def held_at(self, url: str) -> dict[str, float]:
        adapter = OkxAdapter(self.key, self.secret, password=self.passphrase, base_url=url, bare_symbols=True,
                             stream=False)
        try:
            return {s: q for s, q in adapter._positions().items() if q}
        finally:
            adapter.close()


HARNESS = OkxHarness()
