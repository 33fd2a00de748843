"""Binance request signing as the venue checks it: ``X-MBX-APIKEY``, HMAC-SHA256 (hex) of the parameters as sent,
and ``timestamp`` within ``recvWindow`` of the server's clock."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qsl

__all__ = ["AuthFailure", "check_signed", "sign", "split_signature"]

_MAX_RECV_WINDOW: Final = 60_000
_DEFAULT_RECV_WINDOW: Final = 5_000
_AHEAD_TOLERANCE_MS: Final = 1_000


class AuthFailure(Exception):  # noqa: N818 - a failure answer, not a bug
    """A signed request is refused: HTTP status, Binance code and message."""

    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def sign(payload: str, secret: str) -> str:
    """HMAC-SHA256 of ``payload`` under ``secret``, hex."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def split_signature(raw: str) -> tuple[str, str | None]:
    """``a=1&b=2&signature=xx`` → (``a=1&b=2``, ``xx``)."""
    head, sep, tail = raw.rpartition("&signature=")
    if sep:
        return head, tail.split("&", 1)[0]
    if raw.startswith("signature="):
        return "", raw[len("signature="):].split("&", 1)[0]
    return raw, None


def check_signed(headers: Mapping[str, str], query: str, body: str, api_key: str, secret: str, now_ms: int,
                 *, strict: bool = True) -> dict[str, str]:
    """The request's parameters (query and body), after the checks Binance makes on a SIGNED endpoint; raises
    :class:`AuthFailure` (-2014/-2015 key, -1022 signature, -1102 missing timestamp, -1021 outside recvWindow).

    The signature covers the query string followed by the body (Binance's ``totalParams``); ``strict=False`` skips
    the HMAC check (the key and the clock are still checked)."""
    given_key = headers.get("X-MBX-APIKEY", "")
    if not given_key:
        raise AuthFailure(401, -2014, "API-key format invalid.")
    if not hmac.compare_digest(given_key.encode(), api_key.encode()):
        raise AuthFailure(401, -2015, "Invalid API-key, IP, or permissions for action.")
    q_payload, q_sig = split_signature(query)
    b_payload, b_sig = split_signature(body)
    signature = q_sig or b_sig
    payload = q_payload + b_payload if q_payload and b_payload else (q_payload or b_payload)
    params = dict(parse_qsl(payload, keep_blank_values=True))
    if strict:
        if not signature:
            raise AuthFailure(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, "
                                          "or malformed.")
        if not hmac.compare_digest(sign(payload, secret), signature):
            raise AuthFailure(400, -1022, "Signature for this request is not valid.")
    raw_ts = params.get("timestamp")
    if raw_ts is None or not raw_ts.lstrip("-").isdigit():
        raise AuthFailure(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
    raw_window = params.get("recvWindow", str(_DEFAULT_RECV_WINDOW))
    try:
        window = int(float(raw_window))
    except ValueError:
        raise AuthFailure(400, -1100, "Illegal characters found in parameter 'recvWindow'.") from None
    if not 0 < window <= _MAX_RECV_WINDOW:
        raise AuthFailure(400, -1131, "recvWindow must be less than 60000")
    timestamp = int(raw_ts)
    if timestamp - now_ms > _AHEAD_TOLERANCE_MS:
        raise AuthFailure(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now_ms - timestamp > window:
        raise AuthFailure(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    params.pop("signature", None)
    return params
