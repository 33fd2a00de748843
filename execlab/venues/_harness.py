"""Who may reach a local venue, and its harness routes: checks shared by every broker's local venue.

A local venue listens on loopback, but loopback is not private: every user and every web page the machine's browser
opens can reach it. So:

- every request's ``Host`` header must name this machine (``127.0.0.1``, ``localhost``, ``::1``) or a host the
  venue was explicitly bound to, which stops DNS rebinding (a page whose name resolves to 127.0.0.1 after loading);
- the harness routes (``/_…``: quotes, faults, statistics, stream drops) need the harness token (header
  :data:`HARNESS_TOKEN_HEADER`, printed when the venue starts) or the venue's API keys, and a ``POST`` must say
  ``Content-Type: application/json``: a page on another origin can send neither without a CORS preflight, which
  the venue never grants, so its "simple" ``text/plain`` or form POSTs are refused;
- a request to a harness route that carries an ``Origin`` header must come from an allowed host too.

The checks return reasons (None: allowed); the venue's server turns them into error answers.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "HARNESS_TOKEN_ENV",
    "HARNESS_TOKEN_HEADER",
    "LOOPBACK_NAMES",
    "HarnessGuard",
    "is_loopback_bind",
    "new_harness_token",
]

#: The request header that carries the harness token.
HARNESS_TOKEN_HEADER: Final = "X-Execlab-Harness-Token"
#: The environment variable a venue's command line reads the harness token from (else it makes and prints one).
HARNESS_TOKEN_ENV: Final = "EXECLAB_VENUE_TOKEN"
#: Host names that always mean this machine.
LOOPBACK_NAMES: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})


def new_harness_token() -> str:
    """A fresh random harness token (32 bytes of entropy, URL-safe)."""
    return secrets.token_urlsafe(32)


def is_loopback_bind(host: str) -> bool:
    """Whether binding ``host`` keeps a server reachable from this machine only."""
    name = host.strip("[]").lower()
    return name in LOOPBACK_NAMES or name.startswith("127.")


def _host_name(value: str) -> str:
    """``host[:port]`` or ``[v6]:port`` → the lower-cased name without port, brackets or trailing dot."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    name = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    return name.rstrip(".")


@dataclass(frozen=True)
class HarnessGuard:
    """The checks of one venue: its harness token, the host names it answers to, and how to recognise its API keys.

    Args:
        token: the harness token.
        allowed_hosts: host names requests may address (loopback names are always allowed).
        keys_match: whether a request's headers carry the venue's API keys (accepted instead of the token).
    """

    token: str
    allowed_hosts: frozenset[str]
    keys_match: Callable[[Mapping[str, str]], bool]

    @classmethod
    def for_bind(cls, token: str, bind_host: str, extra_hosts: Iterable[str] = (),
                 keys_match: Callable[[Mapping[str, str]], bool] = lambda headers: False) -> HarnessGuard:
        """The guard of a venue bound to ``bind_host``: loopback names, the bound host (unless it is the wildcard
        address) and ``extra_hosts``."""
        if not token:
            raise ValueError("the harness token must be non-empty")
        hosts = set(LOOPBACK_NAMES) | {_host_name(h) for h in extra_hosts}
        bound = _host_name(bind_host)
        if bound not in ("0.0.0.0", "::", ""):
            hosts.add(bound)
        return cls(token, frozenset(hosts), keys_match)

    def host_problem(self, headers: Mapping[str, str]) -> str | None:
        """Why the ``Host`` header is refused (None: it names an allowed host)."""
        host = headers.get("Host")
        if not host:
            return "the request has no Host header"
        if _host_name(host) not in self.allowed_hosts:
            return f"Host {host!r} is not one this venue answers to ({', '.join(sorted(self.allowed_hosts))})"
        return None

    def harness_problem(self, method: str, headers: Mapping[str, str]) -> tuple[int, str] | None:
        """Why a request to a harness route is refused, as (HTTP status, reason); None: allowed."""
        origin = headers.get("Origin")
        if origin is not None and _host_name(urlsplit(origin).netloc) not in self.allowed_hosts:
            return 403, f"Origin {origin!r} may not use the harness routes"
        given = headers.get(HARNESS_TOKEN_HEADER, "")
        if not (given and hmac.compare_digest(given.encode(), self.token.encode())) and not self.keys_match(headers):
            return 401, (f"harness routes need the {HARNESS_TOKEN_HEADER} header (the token printed when the venue "
                         "started) or the venue's API key headers")
        if method.upper() in _BODY_METHODS:
            content_type = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            if content_type != "application/json":
                return 415, f"harness {method.upper()} requests must be Content-Type: application/json"
        return None
