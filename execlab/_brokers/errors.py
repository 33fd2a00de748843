"""The broker errors, one classifier of HTTP answers, and one translator of an SDK's exceptions.

Every adapter raises these (and only these): the executor decides from the class whether a request may be retried
(:class:`BrokerUnavailableError`), waited out (:class:`BrokerRateLimitedError`), looked up before it is sent again
(:class:`BrokerTimeoutError`, :class:`DuplicateClientOrderIdError`) or is final (:class:`BrokerRejectedError`,
:class:`BrokerAuthError`). An adapter maps its SDK's exception types once, in a table given to
:func:`translate_errors`, instead of a ``try``/``except`` in every method.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

__all__ = [
    "BrokerAuthError",
    "BrokerCircuitOpenError",
    "BrokerError",
    "BrokerRateLimitedError",
    "BrokerRejectedError",
    "BrokerTimeoutError",
    "BrokerUnavailableError",
    "DuplicateClientOrderIdError",
    "ErrorTable",
    "classify_http",
    "translate_errors",
]


class BrokerError(Exception):
    """A broker call failed."""


class BrokerUnavailableError(BrokerError):
    """Timeout, 5xx, refused connection or rate limit: the request may or may not have reached the broker."""


class BrokerTimeoutError(BrokerUnavailableError):
    """No answer in time: the request may have taken effect (look it up before sending it again)."""


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


class BrokerAuthError(BrokerError):
    """The broker refused the API keys (HTTP 401/403, an unauthorized stream): final, retrying will not help."""


def classify_http(status: int, message: str, *, retry_after: float | None = None,
                  duplicate: bool = False) -> BrokerError:
    """The kit's error for an HTTP answer ``status`` (the adapter says whether the body means a duplicate id).

    429 → rate limited (with ``retry_after``); 408 and 504 → timeout (may have taken effect); other 5xx →
    unavailable; 401/403 → auth; a duplicate client order id → :class:`DuplicateClientOrderIdError`; any other
    4xx → rejected.
    """
    text = f"HTTP {status}: {message}"
    if duplicate:
        return DuplicateClientOrderIdError(text)
    if status == 429:
        return BrokerRateLimitedError(text, retry_after)
    if status in (408, 504):
        return BrokerTimeoutError(text)
    if status >= 500:
        return BrokerUnavailableError(text)
    if status in (401, 403):
        return BrokerAuthError(text)
    if 400 <= status < 500:
        return BrokerRejectedError(text)
    return BrokerError(text)


ErrorTable = Sequence[tuple[type[BaseException] | tuple[type[BaseException], ...],
                            Callable[[Any], BrokerError]]]
"""``(exception type(s), translate)`` rows, tried in order: the first row whose type matches makes the error."""

P = ParamSpec("P")
T = TypeVar("T")


class translate_errors:  # noqa: N801 - used as a decorator and a context manager, like contextlib's
    """Map an SDK's exceptions to the kit's errors through ``table`` (the original is the ``__cause__``).

    Use as ``with translate_errors(TABLE): ...`` or as ``@translate_errors(TABLE)`` on an adapter method. The kit's
    own errors pass through unchanged; an exception no row matches propagates as it is.
    """

    def __init__(self, table: ErrorTable, prefix: str = ""):
        self.table = tuple(table)
        self.prefix = prefix

    def translate(self, exc: BaseException) -> BrokerError | None:
        """The kit's error for ``exc``, or None when no row of the table matches."""
        if isinstance(exc, BrokerError):
            return exc
        for types, make in self.table:
            if isinstance(exc, types):
                error = make(exc)
                if self.prefix and not str(error).startswith(self.prefix):
                    error.args = (f"{self.prefix}{error}", *error.args[1:])
                return error
        return None

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, BrokerError) or not isinstance(exc, Exception):
            return
        error = self.translate(exc)
        if error is not None:
            raise error from exc

    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            with self:
                return fn(*args, **kwargs)
            raise AssertionError("unreachable")  # pragma: no cover - for type checkers: __exit__ never swallows

        return wrapper
