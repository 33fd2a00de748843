"""Which IB gateway ports trade real money: paper and live differ by port, usually on the same (loopback) host.

TWS listens on 7497 (paper) and 7496 (live), IB Gateway on 4002 (paper) and 4001 (live). The live ports are
registered in :mod:`execlab._core.endpoints`; outside live mode they are refused (the same parsed-host guard as every
broker's base URL). In live mode the paper ports are refused, and loopback is allowed: a live TWS runs on the
user's machine.
"""

from __future__ import annotations

from typing import Final

from execlab._core.endpoints import EndpointError, Mode, endpoint_problems, live_endpoints

__all__ = ["PAPER_PORTS", "check_ib_endpoint", "ib_endpoint_problems"]

#: The paper-trading ports of TWS and IB Gateway.
PAPER_PORTS: Final = frozenset({7497, 4002})


def ib_endpoint_problems(host: str, port: int, mode: Mode) -> list[str]:
    """Why ``host:port`` may not be the gateway in ``mode`` (empty: it may)."""
    if not 0 < int(port) < 65536:
        return [f"port {port} is not a TCP port"]
    url = f"http://{host}:{int(port)}"
    if mode != "live":
        return endpoint_problems("ibkr", url, mode)
    reasons = [r for r in endpoint_problems("ibkr", url, "paper") if "live-trading" not in r]
    if int(port) in PAPER_PORTS:
        reasons.append(f"port {port} is a paper-trading port of ibkr, but mode is 'live'")
    if not live_endpoints("ibkr").ports:
        reasons.append("no live ports are registered for ibkr")
    return reasons


def check_ib_endpoint(host: str, port: int, mode: Mode, key: str = "broker") -> None:
    """Raise :class:`EndpointError` naming ``key`` when ``host:port`` may not be used in ``mode``."""
    reasons = ib_endpoint_problems(host, port, mode)
    if reasons:
        raise EndpointError(f"{key}: {host}:{port} " + "; ".join(reasons))
