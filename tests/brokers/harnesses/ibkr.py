"""The IB harness: the local IB venue in process (or ``python -m execlab.venues.ibkr``), ib_async through
:class:`execlab.adapters.ibkr.IBAdapter`.

IB differs from the HTTP brokers in ways the harness absorbs and declares:

- the venue's harness routes live on an HTTP side port (a process-run venue serves them on the suite's port and the
  TWS API on another, remembered here);
- every adapter connects with a client id of its own: two connections with one id are refused with 326, so "two
  clients on one key" are two client ids on one account;
- the rate limit is IB's messages per second *per connection* (error 100 above it, not 429): the suite's
  ``rate_limit`` per ``rate_window`` becomes the venue's per-second limit, and ib_async's throttle is set to 80 % of
  it. Another client cannot spend this connection's budget, so the ``rate_limited_429`` fault is a burst from a
  second connection (refused with 100) plus the gateway refusing the rebalance's next order messages with 100
  (``next_pacing_errors``): the adapter sends them again after a second;
- the venue counts every message after the handshake as a request; a connection costs ib_async's startup sync
  (:attr:`IBHarness.requests_per_connection`), and polling is ``reqExecutions`` (account values are pushed, reading
  them sends nothing);
- IB keeps no unique client order id: the adapter refuses an ``orderRef`` it knows before sending, so a repeated id
  reaches the venue once.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import sys
from typing import Any, ClassVar
from urllib.parse import urlsplit

from brokers.harnesses.base import BrokerHarness, VenueHandle

import execlab as xl
from execlab._brokers.contract import BrokerAdapter
from execlab.adapters.ibkr import IBAdapter
from execlab.venues._harness import HARNESS_TOKEN_ENV, HARNESS_TOKEN_HEADER
from execlab.venues.ibkr import IBFaults, IBVenue


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class IBHarness(BrokerHarness):
    name = "ibkr"
    key = "DU0000001"
    secret = "ib-conformance-harness-token-0001"
    symbols: ClassVar[dict[str, float]] = {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0, "DDD": 5.0}
    order_match = "API placeOrder"
    duplicate_attempts = 1
    crash_orders = 60
    """IB paces every message (50 a second, two per new symbol: contract details, then the order): 60 orders keep a
    crash trial near 15 s on an idle machine, so the six trials of ``make test`` stay within about three minutes."""
    requests_per_connection = 7
    """startApi, then ib_async's startup sync: positions, open orders, completed orders, account updates, account
    updates multi, executions."""

    def __init__(self) -> None:
        self._client_ids = itertools.count(11)
        self._api_port: dict[int, int] = {}
        self._rate: dict[int, int] = {}

    @staticmethod
    def _per_second(rate_limit: int, rate_window: float) -> int:
        return max(1, min(int(rate_limit / rate_window), 1_000_000))

    def start_venue(self, **opts: Any) -> VenueHandle:
        faults = IBFaults(max_messages_per_second=self._per_second(opts.pop("rate_limit", 10_000),
                                                                    opts.pop("rate_window", 60.0)))
        venue = IBVenue(self.key, cash=opts.pop("cash", 100_000.0), any_stock=True, faults=faults,
                        harness_token=self.secret, **opts).start()
        venue.set_quotes({s: (p - 0.01, p + 0.01, p, None) for s, p in self.symbols.items()})
        return venue

    def make_adapter(self, venue: VenueHandle, *, timeout: float = 5.0) -> BrokerAdapter:
        """ib_async's throttle at 80 % of the venue's pacing limit (what a user sets below IB's 50 a second: the
        throttle spaces what it sends, the gateway counts what arrives, and a busy machine bunches arrivals)."""
        assert isinstance(venue, IBVenue)
        limit = venue.faults.max_messages_per_second
        rate = max(1, min(50, int(limit * 0.8))) if limit else 50
        return IBAdapter(venue.host, venue.port, next(self._client_ids), timeout=timeout,
                         max_messages_per_second=rate)

    def burn_rate_limit(self, venue: VenueHandle) -> None:
        """A second connection bursts past the per-connection limit (refused with error 100); the gateway then
        refuses the next two order messages with 100 as well, whoever sends them."""
        assert isinstance(venue, IBVenue)
        burner = IBAdapter(venue.host, venue.port, next(self._client_ids), timeout=5.0)
        try:
            burner._run(self._burst(burner, 2 * venue.faults.max_messages_per_second + 5))
        finally:
            burner.close()
        assert venue.stats()["rate_limited"] >= 1
        venue.injector.update({"next_pacing_errors": 2})

    @staticmethod
    async def _burst(adapter: IBAdapter, messages: int) -> None:
        ib = await adapter.ensure_connected()
        ib.client.MaxRequests = 0  # no client-side throttle
        for _ in range(messages):
            ib.client.reqCurrentTime()  # type: ignore[no-untyped-call]
        await asyncio.sleep(0.5)  # the venue answers error 100 to what went over

    def poll(self, adapter: BrokerAdapter) -> None:
        """``reqExecutions``: one message (IB pushes the account's values; reading them sends nothing)."""
        adapter._fills(None)

    def config(self, venue: VenueHandle, run_id: str, **broker: Any) -> xl.Config:
        assert isinstance(venue, IBVenue)
        return xl.Config.from_mapping({"mode": "paper", "run_id": run_id, "broker": {
            "name": "ibkr", "host": venue.host, "port": venue.port, "client_id": next(self._client_ids),
            "timeout_seconds": 5.0, **broker}})

    def venue_command(self, port: int, *, rate_limit: int, rate_window: float) -> tuple[list[str], dict[str, str]]:
        api = _free_port()
        self._api_port[port] = api
        self._rate[port] = self._per_second(rate_limit, rate_window)
        return ([sys.executable, "-m", "execlab.venues.ibkr", "--port", str(api), "--harness-port", str(port),
                 "--key", self.key, "--any-stock", "--cash", "1e12", "--rate-limit",
                 str(self._per_second(rate_limit, rate_window))], {HARNESS_TOKEN_ENV: self.secret})

    def _api_of(self, url: str) -> int:
        return self._api_port[int(urlsplit(url).port or 0)]

    def config_yaml(self, url: str, run_id: str) -> tuple[str, dict[str, str]]:
        rate = max(1, min(50, int(self._rate[int(urlsplit(url).port or 0)] * 0.8)))
        return (f"mode: paper\nrun_id: {run_id}\nbroker:\n  name: ibkr\n  port: {self._api_of(url)}\n"
                f"  client_id: {next(self._client_ids)}\n  timeout_seconds: 5\n"
                f"  max_messages_per_second: {rate}\n", {})

    def harness_headers(self) -> dict[str, str]:
        return {HARNESS_TOKEN_HEADER: self.secret}

    def held_at(self, url: str) -> dict[str, float]:
        adapter = IBAdapter("127.0.0.1", self._api_of(url), next(self._client_ids), timeout=10.0)
        try:
            return {s: q for s, q in adapter._positions().items() if q}
        finally:
            adapter.close()

    def journal_secrets(self) -> list[str]:
        return []  # TWS has no API keys; the harness token never reaches a client


HARNESS = IBHarness()
