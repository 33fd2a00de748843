"""The OANDA harness: the local v20 venue in process (or ``python -m execlab.venues.oanda``), oandapyV20 through
:class:`execlab.adapters.oanda.OandaAdapter`.

The suite trades neutral names (``AAA``, ``BBB``, ...) at equity-like prices, so the venue runs with
``open_instruments``: a name is listed at its first quote as a CFD in USD (whole units, prices to the cent). FX pairs
have their own tests (``tests/brokers/test_oanda_*.py``).
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import requests
from brokers.harnesses.base import BrokerHarness, VenueHandle

import execlab as xl
from execlab._brokers.contract import BrokerAdapter
from execlab.adapters.oanda import OandaAdapter
from execlab.venues._base.account import VenueExecution
from execlab.venues.oanda import OandaVenue


def paced(window: float) -> float:
    """The window the client paces to: the venue's plus a margin. v20 states no remaining budget in its answers,
    so a request that left the client later in one window than another may reach the venue earlier in the next."""
    return round(window * 1.1 + 0.1, 3)


class OandaHarness(BrokerHarness):
    name = "oanda"
    key = "conformance-oanda-token"
    secret = "conformance-oanda-token"
    symbols: ClassVar[dict[str, float]] = {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0, "DDD": 5.0}
    order_match = "POST /v3/accounts"
    fee_rounding = 1e-4
    """v20 states commissions in the account currency to four decimals."""
    duplicate_order: ClassVar[dict[str, Any]] = {"order_type": "limit", "limit_price": 5.0, "time_in_force": "gtc"}
    """v20 refuses a repeated ``clientExtensions.id`` only while the first order is pending
    (CLIENT_ORDER_ID_ALREADY_EXISTS): the case sends a limit order below the market, which rests. (A filled market
    order's id is accepted again; the adapter's lookup before any resend is the guard there:
    tests/brokers/test_oanda_adapter.py.)"""
    resting_plan: ClassVar[dict[str, Any]] = {"order_type": "limit", "limit_offset_bps": 100.0,
                                              "time_in_force": "gtc"}
    """v20 market orders are FOK or IOC and cannot rest partly filled: the partial-fill, dropped-stream and restart
    cases trade marketable limit orders (1 % through the price), which rest until the next quote fills the rest."""
    funds_refusal = "rejected_order"
    funds_reason = "INSUFFICIENT_MARGIN"
    """v20 answers an order beyond the margin with 201 and an ``orderCancelTransaction`` (INSUFFICIENT_MARGIN): the
    adapter reports the order rejected with that reason instead of raising."""
    known_gaps: ClassVar[dict[str, str]] = {}
    """Conformance cases OANDA does not meet, and why (marked xfail, not strict, by the suite's conftest): none.

    The pacing cases pass: v20 states no remaining budget in its answers, so a restarted client and two clients on
    one key share the limit only through the pacer's state file, i.e. on one machine (the cases' setting); clients
    on different machines must split the limit in their configs."""
    served_rate: tuple[int, float] = (100, 1.0)
    """The limit of the last venue served in a process (OANDA states no limit in its answers: the client's pacer
    must be configured to it)."""

    def start_venue(self, **opts: Any) -> VenueHandle:
        venue = OandaVenue(self.key, balance=opts.pop("cash", 100_000.0), rate_limit=opts.pop("rate_limit", 10_000),
                           rate_window=opts.pop("rate_window", 1.0), open_instruments=True, heartbeat_seconds=0.5,
                           **opts).start()
        for s, p in self.symbols.items():
            venue.set_quote(s, p - 0.01, p + 0.01, p)
        return venue

    def make_adapter(self, venue: VenueHandle, *, timeout: float = 5.0) -> BrokerAdapter:
        assert isinstance(venue, OandaVenue)
        return OandaAdapter(self.key, account_id=venue.account_id, base_url=venue.base_url, timeout=timeout)

    def config(self, venue: VenueHandle, run_id: str, **broker: Any) -> xl.Config:
        assert isinstance(venue, OandaVenue)
        return xl.Config.from_mapping({"mode": "paper", "run_id": run_id, "broker": {
            "name": "oanda", "api_key": self.key, "base_url": venue.base_url,
            "rate_limit_per_minute": venue.limiter.limit, "rate_window_seconds": paced(venue.limiter.window),
            **broker}})

    def venue_command(self, port: int, *, rate_limit: int, rate_window: float) -> tuple[list[str], dict[str, str]]:
        self.served_rate = (rate_limit, rate_window)
        return ([sys.executable, "-m", "execlab.venues.oanda", "--port", str(port), "--open-instruments",
                 "--rate-limit", str(rate_limit), "--rate-window", repr(rate_window), "--cash", "1e12"],
                {"OANDA_ACCESS_TOKEN": self.key})

    def config_yaml(self, url: str, run_id: str) -> tuple[str, dict[str, str]]:
        limit, window = self.served_rate
        return (f"mode: paper\nrun_id: {run_id}\nbroker:\n  name: oanda\n  base_url: {url}\n"
                f"  api_key: ${{CONF_OANDA_TOKEN}}\n  rate_limit_per_minute: {limit}\n"
                f"  rate_window_seconds: {paced(window)!r}\n", {"CONF_OANDA_TOKEN": self.key})

    def harness_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def held_at(self, url: str) -> dict[str, float]:
        headers = self.harness_headers()
        account = requests.get(f"{url}/v3/accounts", headers=headers, timeout=30).json()["accounts"][0]["id"]
        answer = requests.get(f"{url}/v3/accounts/{account}/openPositions", headers=headers, timeout=30)
        answer.raise_for_status()
        out = {}
        for p in answer.json()["positions"]:
            units = float(p["long"]["units"]) + float(p["short"]["units"])
            if units:
                out[p["instrument"]] = units
        return out

    def journal_secrets(self) -> list[str]:
        return [self.key]

    def execution_id(self, venue: VenueHandle, execution: VenueExecution) -> str:
        """v20's execution id is the ``ORDER_FILL`` transaction id."""
        assert isinstance(venue, OandaVenue)
        return venue.state.fill_transactions[execution.id]


HARNESS = OandaHarness()
