"""Which broker endpoints trade real money, and whether a base URL may be used in a given mode.

A URL is judged by the host the HTTP client would really connect to, not by its text: it is parsed with the parser
of the client the SDKs use (``urllib3.util.parse_url``, which ``requests`` calls, hence alpaca-py, oandapyV20 and
ccxt), then the host is percent-decoded, lower-cased, stripped of trailing dots and IDNA-normalised (UTS #46, so
full-width letters and ideographic dots fold to ASCII). The standard library's parser (what ``websockets`` uses for
stream URLs) must find the same host and port, or the URL is refused as ambiguous.

In every mode a base URL is refused when it has user info (``user@host``: the classic way to make a string
comparison see one host while the client connects to another), a backslash (some clients treat it as a path
separator, others as part of the host), control characters or spaces, or a scheme other than http, https, ws or
wss. Outside live mode a broker's live hosts and live ports are refused; in live mode a loopback address is refused
(a live config must reach the broker, not a local fake). Each broker registers its live endpoints here
(:func:`register_live_endpoints`), so a new adapter adds a table row, not a new check.

Checks return reasons (an empty list means the URL is fine); :func:`check_endpoint` raises them as one error.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import unquote, urlsplit

import idna
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

__all__ = [
    "ALLOWED_SCHEMES",
    "EndpointError",
    "LiveEndpoints",
    "Mode",
    "ParsedEndpoint",
    "check_endpoint",
    "endpoint_problems",
    "is_loopback_host",
    "live_endpoints",
    "normalise_host",
    "parse_endpoint",
    "register_live_endpoints",
    "registered_brokers",
]

Mode = Literal["backtest", "paper", "live"]
"""The config's run modes, as the guard sees them."""

#: The only URL schemes a broker base URL may have.
ALLOWED_SCHEMES: Final = frozenset({"http", "https", "ws", "wss"})
_DEFAULT_PORTS: Final = {"http": 80, "ws": 80, "https": 443, "wss": 443}
_UNSAFE_CHARACTERS: Final = re.compile(r"[\\\x00-\x20\x7f]")
_ASCII_HOST: Final = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")


class EndpointError(ValueError):
    """A base URL may not be used in this mode; the message names the config key and every reason."""


@dataclass(frozen=True)
class LiveEndpoints:
    """A broker's real-money endpoints: host names (normalised) and, for brokers whose paper and live gateways
    differ only by port (Interactive Brokers), port numbers."""

    hosts: frozenset[str]
    ports: frozenset[int] = frozenset()


@dataclass(frozen=True)
class ParsedEndpoint:
    """A base URL as the HTTP client sees it: scheme, normalised host, and port (the scheme's default if none)."""

    scheme: str
    host: str
    port: int


_REGISTRY: dict[str, LiveEndpoints] = {}


def register_live_endpoints(broker: str, hosts: Iterable[str] = (), ports: Iterable[int] = ()) -> None:
    """Declare ``broker``'s live hosts and ports (added to any already registered)."""
    current = _REGISTRY.get(broker, LiveEndpoints(frozenset()))
    _REGISTRY[broker] = LiveEndpoints(current.hosts | {normalise_host(h) for h in hosts},
                                      current.ports | {int(p) for p in ports})


def live_endpoints(broker: str) -> LiveEndpoints:
    """``broker``'s registered live endpoints (empty for ``sim`` or a broker that registered none)."""
    return _REGISTRY.get(broker, LiveEndpoints(frozenset()))


def registered_brokers() -> tuple[str, ...]:
    """Brokers with registered live endpoints, sorted."""
    return tuple(sorted(_REGISTRY))


def normalise_host(host: str) -> str:
    """Percent-decode, lower-case, strip trailing dots and IDNA-normalise a host name (IP literals: canonical form).

    Raises:
        ValueError: the host is empty or not a valid (internationalised) domain name.
    """
    text = unquote(host).strip("[]").rstrip(".").lower()
    if not text:
        raise ValueError("the host is empty")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if text.isascii() and not any(label.startswith("xn--") for label in text.split(".")):
        if not _ASCII_HOST.fullmatch(text):
            raise ValueError(f"the host {host!r} has characters a host name cannot have")
        return text
    try:
        return idna.encode(text, uts46=True, transitional=False).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise ValueError(f"the host {host!r} is not a valid domain name ({exc})") from None


def is_loopback_host(host: str) -> bool:
    """Whether a normalised host is this machine: ``localhost`` (and its subdomains), 127.0.0.0/8, ``::1``, the
    unspecified addresses, or a legacy IPv4 spelling of one of them (``127.1``, ``0x7f.0.0.1``, ``2130706433``)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:  # what the resolver accepts as IPv4 besides dotted quads
            address = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def parse_endpoint(url: str) -> ParsedEndpoint | list[str]:
    """Parse ``url`` as the HTTP client would; returns the endpoint, or the reasons it cannot be used at all."""
    reasons: list[str] = []
    if _UNSAFE_CHARACTERS.search(url):
        reasons.append("contains a backslash, a space or a control character (clients disagree on what host "
                       "that means)")
    try:
        parsed = parse_url(url)
    except LocationParseError as exc:
        return [*reasons, f"cannot be parsed as a URL ({exc})"]
    scheme = (parsed.scheme or "").lower()
    if scheme not in ALLOWED_SCHEMES:
        reasons.append(f"scheme {parsed.scheme!r} is not one of {sorted(ALLOWED_SCHEMES)}" if parsed.scheme
                       else f"has no scheme: write one of {sorted(ALLOWED_SCHEMES)}, e.g. https://host")
    if parsed.auth is not None or "@" in (urlsplit(url).netloc or ""):
        reasons.append("has user info ('...@host'): write the host alone; keys belong in api_key/api_secret")
    if not parsed.host:
        return [*reasons, "has no host"]
    try:
        host = normalise_host(parsed.host)
    except ValueError as exc:
        return [*reasons, str(exc)]
    port = parsed.port if parsed.port is not None else _DEFAULT_PORTS.get(scheme, 0)
    reasons += _second_opinion(url, scheme, host, port)
    return reasons or ParsedEndpoint(scheme, host, port)


def _second_opinion(url: str, scheme: str, host: str, port: int) -> list[str]:
    """The standard library's parse (``websockets``, ``aiohttp``) must land on the same host and port."""
    try:
        other = urlsplit(url)
        other_host = normalise_host(other.hostname or "")
        other_port = other.port if other.port is not None else _DEFAULT_PORTS.get(scheme, 0)
    except ValueError as exc:
        return [f"is ambiguous: the standard library cannot parse its host ({exc})"]
    if (other_host, other_port) != (host, port):
        return [f"is ambiguous: one parser reads host {host}:{port}, another {other_host}:{other_port}"]
    return []


def endpoint_problems(broker: str, url: str, mode: Mode) -> list[str]:
    """Why ``url`` may not be ``broker``'s base URL in ``mode`` (empty: it may)."""
    parsed = parse_endpoint(url)
    if isinstance(parsed, list):
        return parsed
    live = live_endpoints(broker)
    reasons: list[str] = []
    if mode != "live":
        if parsed.host in live.hosts:
            reasons.append(f"host {parsed.host} is a live-trading endpoint of {broker}, but mode is {mode!r}; use "
                           "the broker's paper endpoint, or mode 'live' with the opt-in")
        if parsed.port in live.ports:
            reasons.append(f"port {parsed.port} is a live-trading port of {broker}, but mode is {mode!r}")
    elif is_loopback_host(parsed.host):
        reasons.append(f"host {parsed.host} is this machine: mode 'live' must reach the broker, not a local venue")
    return reasons


def check_endpoint(broker: str, url: str, mode: Mode, key: str = "broker.base_url") -> None:
    """Raise :class:`EndpointError` naming ``key`` when ``url`` may not be used in ``mode``."""
    reasons = endpoint_problems(broker, url, mode)
    if reasons:
        raise EndpointError(f"{key}: {url!r} " + "; ".join(reasons))


register_live_endpoints("alpaca", ["api.alpaca.markets"])
register_live_endpoints("oanda", ["api-fxtrade.oanda.com", "stream-fxtrade.oanda.com"])
register_live_endpoints("ccxt", ["api.binance.com", "api1.binance.com", "api2.binance.com", "api3.binance.com",
                                 "api4.binance.com", "fapi.binance.com", "dapi.binance.com", "ws-api.binance.com",
                                 "stream.binance.com", "www.okx.com", "aws.okx.com", "ws.okx.com", "wsaws.okx.com",
                                 "us.okx.com", "eea.okx.com"])
# Interactive Brokers: paper and live differ by port (TWS paper 7497 / live 7496, IB Gateway paper 4002 / live 4001),
# usually on loopback. The ibkr adapter does not exist yet; when it does it passes host:port through this guard.
register_live_endpoints("ibkr", ports=[7496, 4001])
