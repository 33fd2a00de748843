"""``BrokerHarness``: what the conformance suite needs from a broker (KIT_SPEC.md section C)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import yaml

import execlab as xl
from execlab._brokers.contract import BrokerAdapter, BrokerError
from execlab.venues._base.account import VenueAccount, VenueExecution
from execlab.venues._base.faults import FaultInjector, FaultKnobs


class VenueHandle(Protocol):
    """A started local venue, as the suite drives it."""

    injector: FaultInjector

    @property
    def faults(self) -> FaultKnobs: ...
    @property
    def account(self) -> VenueAccount: ...
    def set_quote(self, symbol: str, bid: float | None, ask: float | None, last: float | None = None,
                  volume: float | None = None) -> None: ...
    def stats(self) -> dict[str, Any]: ...
    def restart(self) -> Any: ...
    def drop_streams(self, timeout: float = 10.0) -> int: ...
    def stop(self) -> None: ...


class BrokerHarness(ABC):
    """One broker under the suite. ``symbols`` are a small universe with prices; ``order_match`` is the
    ``"METHOD /path"`` prefix of order placements (for the fault knobs' ``*_match``)."""

    name: str
    key: str
    secret: str
    symbols: Mapping[str, float]
    order_match: str
    fee_rounding: float = 0.0
    """How far a fee the broker reports may be from the venue's exact one (a broker that states amounts rounded)."""

    @abstractmethod
    def start_venue(self, **opts: Any) -> VenueHandle:
        """A started venue quoting :attr:`symbols` one cent either side. ``opts``: ``rate_limit``, ``rate_window``,
        ``venue_config``, ``cash`` (in the account currency)."""

    @abstractmethod
    def make_adapter(self, venue: VenueHandle, *, timeout: float = 5.0) -> BrokerAdapter:
        """The real adapter over the unmodified SDK, pointed at ``venue``."""

    @abstractmethod
    def config(self, venue: VenueHandle, run_id: str, **broker: Any) -> xl.Config:
        """A paper config of ``run_id`` trading on ``venue`` (``broker`` keys merged in)."""

    @abstractmethod
    def venue_command(self, port: int, *, rate_limit: int, rate_window: float) -> tuple[list[str], dict[str, str]]:
        """The command line (and extra environment) serving the venue in a process of its own on ``port``."""

    @abstractmethod
    def config_yaml(self, url: str, run_id: str) -> tuple[str, dict[str, str]]:
        """The config file of ``execlab rebalance`` against the venue at ``url`` (and the environment it reads)."""

    @abstractmethod
    def harness_headers(self) -> dict[str, str]:
        """Headers the harness routes accept (a process-run venue's)."""

    def burner(self, venue: VenueHandle) -> BrokerAdapter:
        """Another client on the same key that does not pace itself (the fault matrix's 429 case burns the window
        with it); default: :meth:`make_adapter` (adapters that pace only through the executor)."""
        return self.make_adapter(venue, timeout=5.0)

    def held(self, venue: VenueHandle) -> dict[str, float]:
        """The venue's non-zero positions, read through the adapter."""
        adapter = self.make_adapter(venue)
        try:
            return {s: q for s, q in adapter._positions().items() if q}
        finally:
            adapter.close()

    def held_at(self, url: str) -> dict[str, float]:
        """The non-zero positions of a process-run venue at ``url``."""
        raise NotImplementedError

    crash_orders: int = 200
    """Orders of one crash trial (each trial rebalances this many fresh symbols)."""
    duplicate_attempts: int = 2
    """Placements of a repeated client order id that reach the venue: 2 where the venue refuses the second, 1 where
    the broker has no unique client id and the adapter refuses it before sending (IB's ``orderRef``)."""
    requests_per_connection: int = 0
    """Requests the venue counts when an adapter connects (0 for HTTP; IB: ib_async's startup sync; ccxt: the
    markets, loaded once per client)."""
    poll_cost: float = 1.0
    """How many of the suite's rate-limit units one :meth:`poll` spends at the venue (1: a venue counting
    requests; Binance counts the account's request weight, 20)."""
    duplicate_order: Mapping[str, Any] = {}
    """Fields of the order the duplicate-client-id case sends twice (none: a market order). A broker whose duplicate
    check covers only pending orders (v20) sends a limit order that rests."""
    resting_plan: Mapping[str, Any] = {}
    """Plan keys of the cases whose orders must rest partly filled until the next quote (none: market orders). A
    broker whose market orders cannot rest (v20: FOK or IOC) trades marketable limit orders there."""
    funds_refusal: str = "raises"
    """How the broker refuses an order beyond the funds: ``raises`` (:class:`BrokerRejectedError` from ``_submit``)
    or ``rejected_order`` (the order comes back rejected with the broker's reason, v20's 201 with an
    ``orderCancelTransaction``)."""
    funds_reason: str = ""
    """With ``funds_refusal: rejected_order``, the broker's reason the rejected order names."""

    def burn_rate_limit(self, venue: VenueHandle) -> None:
        """Make the venue's rate limit bind on the next client (the ``rate_limited_429`` fault): by default another
        client on the same key (:meth:`burner`) spends the rolling window."""
        other = self.burner(venue)
        try:
            for _ in range(40):
                try:
                    other._account()
                except BrokerError:
                    break
        finally:
            other.close()

    def poll(self, adapter: BrokerAdapter) -> None:
        """One request the venue counts, as a client polling the broker sends it (default: the account)."""
        adapter._account()

    def venue_client_id(self, client_order_id: str) -> str:
        """The form the venue counts a canonical client order id in (its ``order_attempts`` keys)."""
        return client_order_id

    def journal_secrets(self) -> list[str]:
        """Secrets that must never reach the journal."""
        return [self.secret]

    def execution_id(self, venue: VenueHandle, execution: VenueExecution) -> str:
        """The id the broker's clients see for one of the kit account's executions (the journal's fill id)."""
        return execution.id

    def tmp_config_file(self, folder: Path, url: str, run_id: str, **broker: Any) -> dict[str, str]:
        """Write ``config.yaml`` into ``folder`` (``broker`` keys merged into its ``broker:`` block, e.g. the
        venue's scaled ``rate_limit_per_minute`` and ``rate_window_seconds``); returns the environment it needs."""
        text, env = self.config_yaml(url, run_id)
        if broker:
            data = yaml.safe_load(text)
            data["broker"] = {**data["broker"], **broker}
            text = yaml.safe_dump(data, sort_keys=False)
        (folder / "config.yaml").write_text(text)
        return env


NOT_RUN = "not run: "
"""Prefix of a known gap's reason when the case is not even run (it cannot finish within CI's time)."""
