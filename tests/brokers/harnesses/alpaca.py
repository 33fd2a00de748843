"""The Alpaca harness: the local Alpaca venue in process (or ``python -m execlab.venues.alpaca``), alpaca-py through
:class:`execlab.adapters.alpaca.AlpacaAdapter`."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import requests
from brokers.harnesses.base import BrokerHarness, VenueHandle

import execlab as xl
from execlab._brokers.contract import BrokerAdapter
from execlab.adapters.alpaca import AlpacaAdapter
from execlab.venues import AlpacaVenue


class AlpacaHarness(BrokerHarness):
    name = "alpaca"
    key = "PKCONFORMANCE00001"
    secret = "conformance-secret-not-for-logs"
    symbols: ClassVar[dict[str, float]] = {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0, "DDD": 5.0}
    order_match = "POST /v2/orders"

    def start_venue(self, **opts: Any) -> VenueHandle:
        venue = AlpacaVenue(self.key, self.secret, initial_cash=opts.pop("cash", 100_000.0),
                            rate_limit=opts.pop("rate_limit", 10_000), rate_window=opts.pop("rate_window", 60.0),
                            **opts).start()
        venue.set_quotes({s: (p - 0.01, p + 0.01, p, None) for s, p in self.symbols.items()})
        return venue

    def make_adapter(self, venue: VenueHandle, *, timeout: float = 5.0) -> BrokerAdapter:
        assert isinstance(venue, AlpacaVenue)
        return AlpacaAdapter(self.key, self.secret, base_url=venue.base_url, timeout=timeout)

    def config(self, venue: VenueHandle, run_id: str, **broker: Any) -> xl.Config:
        assert isinstance(venue, AlpacaVenue)
        return xl.Config.from_mapping({"mode": "paper", "run_id": run_id, "broker": {
            "name": "alpaca", "api_key": self.key, "api_secret": self.secret, "base_url": venue.base_url,
            **broker}})

    def venue_command(self, port: int, *, rate_limit: int, rate_window: float) -> tuple[list[str], dict[str, str]]:
        return ([sys.executable, "-m", "execlab.venues.alpaca", "--port", str(port), "--key", self.key,
                 "--rate-limit", str(rate_limit), "--rate-window", repr(rate_window), "--cash", "1e12"],
                {"APCA_API_SECRET_KEY": self.secret})

    def config_yaml(self, url: str, run_id: str) -> tuple[str, dict[str, str]]:
        return (f"mode: paper\nrun_id: {run_id}\nbroker:\n  name: alpaca\n  base_url: {url}\n"
                "  api_key: ${CONF_KEY}\n  api_secret: ${CONF_SECRET}\n",
                {"CONF_KEY": self.key, "CONF_SECRET": self.secret})

    def harness_headers(self) -> dict[str, str]:
        return {"APCA-API-KEY-ID": self.key, "APCA-API-SECRET-KEY": self.secret}

    def held_at(self, url: str) -> dict[str, float]:
        answer = requests.get(f"{url}/v2/positions", headers=self.harness_headers(), timeout=30)
        answer.raise_for_status()
        return {p["symbol"]: float(p["qty"]) for p in answer.json() if float(p["qty"])}


HARNESS = AlpacaHarness()
