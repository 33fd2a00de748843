"""The broker adapter contract (v2): the private hooks an adapter implements, the capabilities it declares, the
neutral orders and fills it reports, and the errors it raises (from :mod:`execlab._brokers.errors`)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal, Protocol

from execlab._brokers.client_ids import ClientIdStyle
from execlab._brokers.errors import (
    BrokerAuthError,
    BrokerCircuitOpenError,
    BrokerError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    DuplicateClientOrderIdError,
)
from execlab._brokers.pacing import RequestPacer
from execlab._brokers.symbols import IdentityMap, SymbolMap
from execlab._core.instruments import Instrument
from execlab._core.models import AccountSnapshot, Order, OrderStatus, Side
from execlab._core.order_classes import OrderGroup

__all__ = [
    "BrokerAdapter",
    "BrokerAuthError",
    "BrokerCharge",
    "BrokerCircuitOpenError",
    "BrokerError",
    "BrokerFill",
    "BrokerOrder",
    "BrokerRateLimitedError",
    "BrokerRejectedError",
    "BrokerTimeoutError",
    "BrokerUnavailableError",
    "Capability",
    "DeadLetter",
    "DuplicateClientOrderIdError",
    "OrderStream",
]


class Capability(StrEnum):
    """What an adapter does beyond the required hooks; :class:`BrokerExecutor` reads it instead of guessing."""

    ORDER_STREAM = "order_stream"
    """``_stream`` pushes order updates."""
    FILL_STREAM = "fill_stream"
    """``_stream`` pushes fills (executions) too."""
    FILLS = "fills"
    """``_fills(since)`` lists executions with their fees."""
    CHARGES = "charges"
    """``_charges(since)`` lists money booked on positions outside fills (daily financing)."""
    INSTRUMENTS = "instruments"
    """``_instruments(symbols)`` gives lot, tick, minimums, currency."""
    TRADABLE = "tradable"
    """``_tradable(symbols)`` says which symbols trade now."""
    BULK_REFRESH = "bulk_refresh"
    """``_recent_orders()`` lists recent orders of any status in one request."""
    MODIFY = "modify"
    """The broker can amend a working order (declared only; no hook yet)."""
    NATIVE_BRACKET = "native_bracket"
    """``_submit_group`` places bracket, OCO and OTO groups as the broker's own order classes; without it the OMS
    emulates them (:class:`execlab._brokers.order_groups.GroupRouter`)."""


@dataclass(frozen=True, slots=True)
class BrokerFill:
    """One execution as the broker reported it: its own id (the journal's dedup key), price, quantity and fee."""

    execution_id: str
    client_order_id: str
    """execlab's canonical id (parsed back from the wire form)."""
    broker_order_id: str
    symbol: str
    """execlab's symbol (through the adapter's symbol map)."""
    side: Side
    quantity: float
    price: float
    fee: float = 0.0
    """What the broker charged for this execution, in ``fee_currency``; negative is a rebate (a maker rebate)."""
    fee_currency: str | None = None
    liquidity: Literal["maker", "taker"] | None = None
    timestamp: datetime | None = None
    """When it executed (UTC)."""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    quote_rate: float | None = None
    """The broker's home-currency value of one unit of the price currency at this execution (OANDA's
    ``homeConversionFactors`` of a cross), when it says."""

    def __post_init__(self) -> None:
        if not self.quantity > 0:
            raise ValueError(f"fill {self.execution_id}: quantity must be > 0, got {self.quantity!r}")
        if not math.isfinite(self.fee):
            raise ValueError(f"fill {self.execution_id}: fee must be finite, got {self.fee!r}")


@dataclass(frozen=True, slots=True)
class BrokerCharge:
    """Money the broker booked on a position outside a fill (OANDA's daily financing): signed, negative paid."""

    charge_id: str
    """The broker's id of the booking (the journal's dedup key)."""
    kind: str
    """``financing``."""
    symbol: str
    amount: float
    currency: str
    timestamp: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """An order as the broker sees it, in neutral terms."""

    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    quantity: float
    filled_quantity: float
    avg_fill_price: float | None
    status: OrderStatus
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An order that could not be placed and needs a person, or a re-run of the rebalance (which resumes it)."""

    client_order_id: str
    symbol: str
    reason: str
    at: datetime
    """When it was given up (UTC)."""


class OrderStream(Protocol):
    """A running stream of order updates and fills (see :meth:`BrokerAdapter._stream`)."""

    @property
    def connected(self) -> bool:
        """Whether updates are flowing now."""

    def stop(self, timeout: float = 10.0) -> None:
        """End the stream."""


class BrokerAdapter(ABC):
    """One broker's API behind neutral calls. Subclasses implement the private hooks and declare
    :attr:`capabilities` for the optional ones they implement."""

    name: str = "broker"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    """The optional hooks this adapter implements; the executor calls no other."""
    client_ids: ClassVar[ClientIdStyle] = ClientIdStyle()
    """How the venue writes execlab's client order ids."""
    symbol_map: SymbolMap = IdentityMap()
    """execlab symbol ↔ the broker's instrument name."""
    pacer: RequestPacer | None = None
    """Set by :class:`BrokerExecutor`: an adapter that sees the broker's rate-limit headers passes them to
    :meth:`RequestPacer.observe`. Pacing itself is the executor's."""

    def supports(self, capability: Capability) -> bool:
        """Whether this adapter declared ``capability``."""
        return capability in self.capabilities

    def _another_request(self) -> AbstractContextManager[None]:
        """Wrap each request after the first that one hook call sends (the next page of a listing): the executor
        paced the call as one request, so every further one takes its own slot of the pacer."""
        return self.pacer.request() if self.pacer is not None else nullcontext()

    def _each_request(self) -> AbstractContextManager[None]:
        """Wrap every request a hook sends, where a hook may send more than one (a lookup that falls back to a
        second endpoint, a listing read first): the first spends the slot the executor paced the call with, each
        further one takes its own (:meth:`RequestPacer.each_request`)."""
        return self.pacer.each_request() if self.pacer is not None else nullcontext()

    @abstractmethod
    def _submit(self, order: Order) -> BrokerOrder:
        """Send one order. Raise BrokerUnavailableError, BrokerRejectedError or DuplicateClientOrderIdError."""

    @abstractmethod
    def _cancel(self, broker_order_id: str) -> None:
        """Ask to cancel one order."""

    @abstractmethod
    def _order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client order id, or None if the broker has none."""

    def _note_symbol(self, client_order_id: str, symbol: str) -> None:  # noqa: B027 - optional hook
        """The symbol an order with this client order id was sent for (the journal's, before a lookup after a
        restart): an adapter whose broker finds an order only within one symbol (ccxt's) looks there alone."""

    @abstractmethod
    def _open_orders(self) -> list[BrokerOrder]:
        """Every order still working at the broker."""

    @abstractmethod
    def _positions(self) -> dict[str, float]:
        """Signed quantity per symbol."""

    @abstractmethod
    def _account(self) -> AccountSnapshot:
        """Cash, equity, buying power and, where the broker has several, the balance of each currency."""

    def _submit_group(self, group: OrderGroup) -> list[BrokerOrder]:
        """:attr:`Capability.NATIVE_BRACKET`: send a bracket, OCO or OTO group as one request; returns the parent's
        view then its legs' (each under execlab's id of that leg, :func:`execlab._core.order_classes.leg_client_id`,
        whatever client ids the broker gave them)."""
        raise NotImplementedError(f"{self.name}: no native order groups (Capability.NATIVE_BRACKET not declared)")

    def _fills(self, since: datetime | None) -> list[BrokerFill]:
        """:attr:`Capability.FILLS`: the account's executions after ``since``, oldest first, with their fees; with
        ``since`` None, its recent ones (at least those of the day before its latest execution, by the broker's
        clock)."""
        raise NotImplementedError(f"{self.name}: no fills hook (Capability.FILLS not declared)")

    def _charges(self, since: datetime | None) -> list[BrokerCharge]:
        """:attr:`Capability.CHARGES`: money the broker booked on the account's positions outside fills (daily
        financing) after ``since`` (None: all it can read), oldest first."""
        raise NotImplementedError(f"{self.name}: no charges hook (Capability.CHARGES not declared)")

    def _instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        """:attr:`Capability.INSTRUMENTS`: trading rules of those of ``symbols`` the broker lists."""
        raise NotImplementedError(f"{self.name}: no instruments hook (Capability.INSTRUMENTS not declared)")

    def _tradable(self, symbols: Sequence[str]) -> set[str] | None:
        """:attr:`Capability.TRADABLE`: which of ``symbols`` the broker lists as tradable now."""
        return None

    def _clock(self) -> datetime | None:
        """The broker's time now (UTC), where it says (a local venue replaying history answers its replay time);
        None: the broker has no clock to read and the machine's clock stands in."""
        return None

    def _recent_orders(self) -> list[BrokerOrder]:
        """:attr:`Capability.BULK_REFRESH`: the broker's most recent orders of any status, as many as one request
        returns (the executor refreshes a batch with one request instead of one lookup per order)."""
        raise NotImplementedError(f"{self.name}: no bulk refresh (Capability.BULK_REFRESH not declared)")

    def _stream(self, on_order: Callable[[BrokerOrder], None], on_fill: Callable[[BrokerFill], None],
                on_gap: Callable[[], None], timeout: float = 10.0) -> OrderStream | None:
        """:attr:`Capability.ORDER_STREAM`: push every order update to ``on_order`` (and, with
        :attr:`Capability.FILL_STREAM`, every execution to ``on_fill``) from another thread until stopped; call
        ``on_gap`` when updates may have been missed (a reconnect). Returns once the stream is live. Raise
        BrokerUnavailableError when it cannot connect, BrokerAuthError when the keys are refused."""
        return None

    def _bind_run(self, journal_path: str | None, read_only: bool) -> None:  # noqa: B027 - optional hook
        """Where the run's journal is (None: in memory) and whether the run only reads the broker (``execlab
        plan``): an adapter that keeps local state (the simulated broker's account) keeps it beside the journal."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release sockets and loop threads (the executor calls it when it is closed); safe to call twice."""
