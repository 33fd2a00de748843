"""HTTP pieces for adapters over ``requests``-based SDKs (alpaca-py, oandapyV20, ccxt): a default timeout on
every request of a session, and readers of the numbers and times in JSON answers."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter

__all__ = ["TimeoutHTTPAdapter", "mount_timeout", "number", "parse_time"]


class TimeoutHTTPAdapter(HTTPAdapter):
    """A transport that gives every request a timeout when the SDK sets none."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def mount_timeout(session: requests.Session, timeout: float) -> None:
    """Give every request of ``session`` (http and https) a ``timeout`` in seconds unless it sets one."""
    transport = TimeoutHTTPAdapter(timeout)
    session.mount("http://", transport)
    session.mount("https://", transport)


def number(value: Any, default: float = 0.0) -> float:
    """A finite float from a JSON number or decimal string; ``default`` when absent or unreadable."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset), or None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
