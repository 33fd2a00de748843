"""ccxt's exception classes as the kit's error kinds.

Notes from ccxt 4.5.90 against the local venues: a Binance 429 or 418 is ``DDoSProtection`` (not
``RateLimitExceeded``), OKX's 50011 is ``RateLimitExceeded``; a Binance NOTIONAL filter failure is ``BadRequest`` while
LOT_SIZE / PRICE_FILTER are ``InvalidOrder``; a duplicate client order id is ``InvalidOrder`` on both (Binance -2010
"Duplicate order sent.", OKX 51016); -1021 / 50102 (clock) are ``InvalidNonce``, a ``NetworkError``; at a URL other
than api.binance.com ccxt skips Binance's spot-only code table, so -1008 (server busy) arrives as a plain
``ExchangeError`` with the code in the message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Final

import ccxt

__all__ = ["ErrorKind", "error_kind", "retry_after"]


class ErrorKind(StrEnum):
    """What a failed call means for the caller (each maps to one kit error class)."""

    RATE_LIMITED = "rate_limited"   # not processed; wait (Retry-After) and send again
    TIMEOUT = "timeout"             # no answer: may have taken effect, look up before sending again
    UNAVAILABLE = "unavailable"     # 5xx / connection / busy: may have taken effect
    CLOCK = "clock"                 # timestamp outside recvWindow: not processed; resync the clock, send again
    AUTH = "auth"                   # keys refused: final
    DUPLICATE = "duplicate"         # the client order id is taken: look it up
    NOT_FOUND = "not_found"         # no such order
    REJECTED = "rejected"           # refused (funds, filters, symbol, parameters): final


_DUPLICATE: Final = re.compile(r"Duplicate order sent|\b51016\b|Duplicated client order ID|-4116")
_BUSY: Final = re.compile(r'"code":\s*-10(01|06|07|08)\b|\b5000[14]\b|\b50013\b')


def error_kind(exc: BaseException) -> ErrorKind | None:
    """The kind of a ccxt exception (None: not one of ccxt's)."""
    if not isinstance(exc, ccxt.BaseError):
        return None
    text = str(exc)
    if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return ErrorKind.RATE_LIMITED
    if isinstance(exc, ccxt.RequestTimeout):
        return ErrorKind.TIMEOUT
    if isinstance(exc, ccxt.InvalidNonce):
        return ErrorKind.CLOCK
    if isinstance(exc, ccxt.AuthenticationError | ccxt.PermissionDenied | ccxt.AccountSuspended):
        return ErrorKind.AUTH
    if isinstance(exc, ccxt.DuplicateOrderId) or (isinstance(exc, ccxt.InvalidOrder) and _DUPLICATE.search(text)):
        return ErrorKind.DUPLICATE
    if isinstance(exc, ccxt.OrderNotFound):
        return ErrorKind.NOT_FOUND
    if isinstance(exc, ccxt.NetworkError | ccxt.OperationFailed):
        return ErrorKind.UNAVAILABLE
    if isinstance(exc, ccxt.ExchangeError) and _BUSY.search(text):
        return ErrorKind.UNAVAILABLE
    return ErrorKind.REJECTED


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a ``Retry-After`` header (None when absent or not a number)."""
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None
