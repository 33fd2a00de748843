"""oandapyV20 clients pointed at OANDA or at a local v20 venue.

oandapyV20 builds every URL as ``TRADING_ENVIRONMENTS[environment]["api" or "stream"] + "/" + endpoint`` (the
dict is read at ``API.__init__`` and at each request), so a base URL other than OANDA's own is given by adding an
environment entry: its key is derived from the URLs, so two venues never share one.
"""

from __future__ import annotations

from typing import Final

from oandapyV20 import API
from oandapyV20.oandapyV20 import TRADING_ENVIRONMENTS

__all__ = ["OANDA_ENVIRONMENTS", "environment_for", "make_api"]

#: OANDA's own environments (oandapyV20's names).
OANDA_ENVIRONMENTS: Final = ("practice", "live")


def environment_for(api_url: str, stream_url: str | None = None) -> str:
    """The oandapyV20 environment name serving ``api_url`` (and ``stream_url``, default the same), added to
    ``TRADING_ENVIRONMENTS`` on first use."""
    api = api_url.rstrip("/")
    stream = (stream_url or api_url).rstrip("/")
    key = f"execlab:{api}|{stream}"
    TRADING_ENVIRONMENTS.setdefault(key, {"api": api, "stream": stream})
    return key


def make_api(token: str, environment: str, timeout: float | tuple[float, float]) -> API:
    """An oandapyV20 client whose every request has ``timeout`` (seconds; or (connect, read) for streams)."""
    return API(access_token=token, environment=environment, request_params={"timeout": timeout})
