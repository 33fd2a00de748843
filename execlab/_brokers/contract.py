"""The broker adapter contract: the private hooks an adapter implements, the neutral order it reports, and the
errors it raises (which tell the executor whether a request may be retried)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from execlab._brokers.pacing import RequestPacer
from execlab._core.models import AccountSnapshot, Order, OrderStatus, Side

__all__ = [
    "BrokerAdapter",
    "BrokerCircuitOpenError",
    "BrokerError",
    "BrokerOrder",
    "BrokerRateLimitedError",
    "BrokerRejectedError",
    "BrokerUnavailableError",
    "DeadLetter",
    "DuplicateClientOrderIdError",
    "OrderStream",
]


class BrokerError(Exception):
    """A broker call failed."""


class BrokerUnavailableError(BrokerError):
    """Timeout, 5xx or rate limit: the request may or may not have reached the broker."""


class BrokerRateLimitedError(BrokerUnavailableError):
    """The broker refused the request as one too many (HTTP 429): it was not processed, so it may be sent again."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        """Seconds until the broker takes requests again, when it said."""


class BrokerCircuitOpenError(BrokerUnavailableError):
    """Nothing was sent: the broker failed too many calls in a row and the circuit breaker is open."""


class BrokerRejectedError(BrokerError):
    """The broker refused the request (insufficient buying power, bad symbol ...): final."""


class DuplicateClientOrderIdError(BrokerError):
    """The broker already has an order with this client order id."""


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
    """A running stream of order updates (see :meth:`BrokerAdapter._stream`)."""

    @property
    def connected(self) -> bool:
        """Whether updates are flowing now."""

    def stop(self, timeout: float = 10.0) -> None:
        """End the stream."""


class BrokerAdapter(ABC):
    """One broker's API behind neutral calls. Subclasses implement only the private hooks."""

    name: str = "broker"
    pacer: RequestPacer | None = None
    """Set by :class:`BrokerExecutor`: an adapter that sees the broker's rate-limit headers passes them to
    :meth:`RequestPacer.observe`. Pacing itself is the executor's."""

    @abstractmethod
    def _submit(self, order: Order) -> BrokerOrder:
        """Send one order. Raise BrokerUnavailableError, BrokerRejectedError or DuplicateClientOrderIdError."""

    @abstractmethod
    def _cancel(self, broker_order_id: str) -> None:
        """Ask to cancel one order."""

    @abstractmethod
    def _order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client order id, or None if the broker has none."""

    @abstractmethod
    def _open_orders(self) -> list[BrokerOrder]:
        """Every order still working at the broker."""

    @abstractmethod
    def _positions(self) -> dict[str, float]:
        """Signed quantity per symbol."""

    @abstractmethod
    def _account(self) -> AccountSnapshot:
        """Cash, equity and buying power."""

    def _stream(self, on_order: Callable[[BrokerOrder], None], on_gap: Callable[[], None],
                timeout: float = 10.0) -> OrderStream | None:
        """Optional: push every order update to ``on_order`` (from another thread) until stopped; call ``on_gap``
        when updates may have been missed (a reconnect). Returns once the stream is live, or None: this broker has
        no stream and the executor polls. Raise BrokerUnavailableError when it cannot connect, and a
        :class:`BrokerError` that is not one (refused keys) when polling would not help either."""
        return None

    def _tradable(self, symbols: Sequence[str]) -> set[str] | None:
        """Optional: which of ``symbols`` the broker lists as tradable now (None: this broker cannot say)."""
        return None

    def _recent_orders(self) -> list[BrokerOrder]:
        """Optional: the broker's most recent orders of any status, as many as one request returns.

        An adapter that implements it lets the executor refresh a whole batch with one request instead of one
        lookup per order.
        """
        raise NotImplementedError
