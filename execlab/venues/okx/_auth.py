"""OKX request signing as the venue checks it: ``OK-ACCESS-KEY``/``-PASSPHRASE``/``-TIMESTAMP``/``-SIGN`` with
``SIGN = base64(HMAC-SHA256(secret, timestamp + METHOD + path[?query] + body))``, the timestamp within 30 seconds,
and the websocket login (``timestamp`` in seconds, ``GET/users/self/verify``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Final

__all__ = ["AuthFailure", "check_headers", "check_login", "sign"]

_WINDOW_MS: Final = 30_000


class AuthFailure(Exception):  # noqa: N818 - a failure answer, not a bug
    """A private request is refused: OKX code and message (HTTP 401)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def sign(prehash: str, secret: str) -> str:
    """base64 HMAC-SHA256 of ``prehash``."""
    return base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def check_headers(headers: Mapping[str, str], method: str, path_qs: str, body: str, api_key: str, secret: str,
                  passphrase: str, now_ms: int) -> None:
    """Raise :class:`AuthFailure` unless the headers sign this request with these credentials, in time."""
    key = headers.get("OK-ACCESS-KEY", "")
    if not key:
        raise AuthFailure("50103", "Request header OK-ACCESS-KEY cannot be empty.")
    if not _same(key, api_key):
        raise AuthFailure("50111", "Invalid OK-ACCESS-KEY.")
    if not _same(headers.get("OK-ACCESS-PASSPHRASE", ""), passphrase):
        raise AuthFailure("50105", "Request header OK-ACCESS-PASSPHRASE incorrect.")
    stamp = headers.get("OK-ACCESS-TIMESTAMP", "")
    try:
        when = int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        raise AuthFailure("50112", "Invalid OK-ACCESS-TIMESTAMP.") from None
    if abs(now_ms - when) > _WINDOW_MS:
        raise AuthFailure("50102", "Timestamp request expired.")
    if not _same(sign(stamp + method.upper() + path_qs + body, secret), headers.get("OK-ACCESS-SIGN", "")):
        raise AuthFailure("50113", "Invalid Sign.")


def check_login(args: Mapping[str, str], api_key: str, secret: str, passphrase: str, now_ms: int) -> None:
    """Raise :class:`AuthFailure` unless a websocket ``login`` argument is valid (codes as OKX's ws: 60xxx)."""
    if not _same(str(args.get("apiKey", "")), api_key):
        raise AuthFailure("60005", "Invalid OK-ACCESS-KEY")
    if not _same(str(args.get("passphrase", "")), passphrase):
        raise AuthFailure("60024", "Wrong passphrase")
    stamp = str(args.get("timestamp", ""))
    if not stamp.isdigit() or abs(now_ms - int(stamp) * 1000) > _WINDOW_MS:
        raise AuthFailure("60006", "Timestamp request expired")
    if not _same(sign(stamp + "GET/users/self/verify", secret), str(args.get("sign", ""))):
        raise AuthFailure("60007", "Invalid sign")
