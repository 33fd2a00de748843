"""The paper → live guard judges the host the HTTP client connects to, not the text of the URL.

A hypothesis property throws spelling variants of every registered live host (case, trailing dots, percent escapes,
full-width letters and ideographic dots, user info, backslashes, ports, paths) at the guard in paper mode: none may
pass. A second property checks the guard against requests itself: whenever requests would send a request to a live
host, the guard refused the URL in paper mode.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from urllib3.util import parse_url

import execlab as xl
from execlab._core import endpoints
from execlab._core.endpoints import (
    EndpointError,
    check_endpoint,
    endpoint_problems,
    is_loopback_host,
    live_endpoints,
    normalise_host,
    parse_endpoint,
    register_live_endpoints,
    registered_brokers,
)
from execlab.adapters.alpaca import AlpacaAdapter

ISSUE_EXAMPLES = [
    "https://paper-api.alpaca.markets@api.alpaca.markets",
    "https://user@api.alpaca.markets",
    "https://api.alpaca.markets.",
    "https://api%2Ealpaca%2Emarkets",
    "https://api.alpaca.markets\\@paper-api.alpaca.markets",
    "HTTPS://API.ALPACA.MARKETS",
    "https://Api.Alpaca.Markets:443/v2",
    "wss://api.alpaca.markets/stream",
    "https://api.alpaca.markets..",
    "https://ａｐｉ.alpaca.markets",
    "https://api。alpaca。markets",
    "https://api.alpaca.markets%2F@paper-api.alpaca.markets",
]

PAPER_HOSTS = {"alpaca": "paper-api.alpaca.markets", "oanda": "api-fxpractice.oanda.com",
               "ccxt": "testnet.binance.vision", "ibkr": "127.0.0.1"}
LIVE_BROKERS = [b for b in registered_brokers() if live_endpoints(b).hosts]
FULL_WIDTH = {c: chr(ord(c) - 0x21 + 0xFF01) for c in "abcdefghijklmnopqrstuvwxyz0123456789"}


@pytest.mark.parametrize("url", ISSUE_EXAMPLES)
def test_the_issue_examples_are_refused_in_paper_mode(url: str) -> None:
    assert endpoint_problems("alpaca", url, "paper")
    with pytest.raises(xl.ConfigError, match=r"broker\.base_url"):
        xl.load_config({"mode": "paper", "broker": {"name": "alpaca", "base_url": url}})


@st.composite
def _host_spelling(draw: st.DrawFn, host: str) -> str:
    """One way of writing ``host`` that a client may still resolve to it."""
    out = []
    for ch in host:
        how = draw(st.sampled_from(["same", "same", "upper", "percent", "full_width"]))
        if ch == "." and how in ("percent", "full_width"):
            out.append(draw(st.sampled_from(["%2e", "%2E", "。", "．", "｡"])))
        elif how == "upper":
            out.append(ch.upper())
        elif how == "percent":
            out.append("".join(f"%{b:02X}" for b in ch.encode()))
        elif how == "full_width" and ch in FULL_WIDTH:
            out.append(FULL_WIDTH[ch])
        else:
            out.append(ch)
    return "".join(out) + "." * draw(st.integers(0, 2))


@st.composite
def live_url_variants(draw: st.DrawFn) -> tuple[str, str]:
    """A broker and a URL whose real host is one of its live hosts (or, for IB, whose port is a live port)."""
    broker = draw(st.sampled_from(registered_brokers()))
    live = live_endpoints(broker)
    scheme = draw(st.sampled_from(["http", "https", "ws", "wss", "HTTPS", "Https", "WSS"]))
    if live.hosts:
        host = draw(_host_spelling(draw(st.sampled_from(sorted(live.hosts)))))
        port = draw(st.one_of(st.just(""), st.sampled_from([":443", ":80", ":8443", ":0443"])))
    else:  # IB: live by port, on any host (usually this machine)
        host = draw(st.sampled_from(["127.0.0.1", "localhost", "LOCALHOST.", "[::1]", "gateway.internal"]))
        port = f":{draw(st.sampled_from(sorted(live.ports)))}"
    decoy = PAPER_HOSTS.get(broker, "paper.example")
    userinfo = draw(st.sampled_from(["", "", f"{decoy}@", "user@", "user:pass@", "@", f"{decoy}%40x@"]))
    path = draw(st.sampled_from(["", "/", "/v2", "/v2/orders?x=1", "#frag", f"/{decoy}", f"?next={decoy}"]))
    url = f"{scheme}://{userinfo}{host}{port}{path}"
    if draw(st.booleans()) and live.hosts:  # the backslash trick: "live\@paper"
        url = f"{scheme}://{host}{port}\\@{decoy}{path}"
    return broker, url


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(live_url_variants())
def test_no_spelling_of_a_live_endpoint_is_accepted_in_paper_mode(case: tuple[str, str]) -> None:
    broker, url = case
    assert endpoint_problems(broker, url, "paper"), f"{broker}: paper mode accepted {url!r}"
    assert endpoint_problems(broker, url, "backtest"), f"{broker}: backtest mode accepted {url!r}"


def _requests_host(url: str) -> str | None:
    """The host requests would connect to for ``url`` (None if requests refuses the URL itself)."""
    http_url = url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
    try:
        prepared = requests.Request("GET", http_url).prepare()
        host = parse_url(prepared.url).host
        return normalise_host(host) if host else None
    except (requests.RequestException, ValueError):
        return None


_URL_CHARS = st.sampled_from([*"aApPiI.-:@/\\%2Ee0-_?#。ａ", "api", "alpaca", "markets", "paper-", "%2E", "@"])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_URL_CHARS, max_size=14).map("".join), st.sampled_from(["https://", "http://", "wss://"]),
       st.sampled_from(["api.alpaca.markets", "paper-api.alpaca.markets", ""]))
def test_guard_refuses_whatever_requests_would_send_to_a_live_host(noise: str, scheme: str, base: str) -> None:
    for url in (f"{scheme}{noise}{base}", f"{scheme}{base}{noise}", f"{scheme}{noise}"):
        host = _requests_host(url)
        if host in live_endpoints("alpaca").hosts:
            assert endpoint_problems("alpaca", url, "paper"), f"requests goes to {host} for {url!r}"


@pytest.mark.parametrize("broker", LIVE_BROKERS)
def test_plain_paper_endpoints_and_loopback_stay_usable(broker: str) -> None:
    """The guard is not a wall: ordinary paper URLs and the local venue pass in paper mode."""
    paper = PAPER_HOSTS[broker]
    for url in (f"https://{paper}", f"HTTPS://{paper.upper()}.:443/v2", f"wss://{paper}/stream",
                "http://127.0.0.1:8765", "http://localhost:8765", "http://[::1]:8765"):
        assert endpoint_problems(broker, url, "paper") == [], url
    live_host = sorted(live_endpoints(broker).hosts)[0]
    assert endpoint_problems(broker, f"https://{live_host}", "live") == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:2", "http://127.1:3",
                                 "http://0.0.0.0:4", "http://2130706433:5", "http://[::ffff:127.0.0.1]:6",
                                 "http://LocalHost.:7"])
def test_loopback_is_refused_in_live_mode(url: str) -> None:
    assert endpoint_problems("alpaca", url, "live")
    assert endpoint_problems("alpaca", url, "paper") == []


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://paper-api.alpaca.markets", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("paper-api.alpaca.markets", "scheme"),
    ("https://user:pw@paper-api.alpaca.markets", "user info"),
    ("https://paper-api.alpaca.markets\\x", "backslash"),
    ("https://paper-api.alpaca.markets /v2", "space"),
    ("https://", "host"),
])
@pytest.mark.parametrize("mode", ["backtest", "paper", "live"])
def test_malformed_urls_are_refused_in_every_mode(url: str, reason: str, mode: Any) -> None:
    problems = endpoint_problems("alpaca", url, mode)
    assert problems and reason in " ".join(problems)


def test_ib_ports_are_live_whatever_the_host() -> None:
    for port in (7496, 4001):
        assert endpoint_problems("ibkr", f"http://127.0.0.1:{port}", "paper")
    for port in (7497, 4002):
        assert endpoint_problems("ibkr", f"http://127.0.0.1:{port}", "paper") == []


def test_a_broker_registers_its_live_hosts_in_one_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(endpoints, "_REGISTRY", dict(endpoints._REGISTRY))
    register_live_endpoints("example-broker", ["LIVE.Example.COM."], [9999])
    assert live_endpoints("example-broker").hosts == {"live.example.com"}
    assert endpoint_problems("example-broker", "https://live.example.com", "paper")
    assert endpoint_problems("example-broker", "https://demo.example.com:9999", "paper")
    assert "example-broker" in registered_brokers()


def test_errors_name_the_key() -> None:
    with pytest.raises(EndpointError, match=r"^broker\.base_url: "):
        check_endpoint("alpaca", "https://user@api.alpaca.markets", "paper")
    with pytest.raises(EndpointError, match=r"^base_url: "):
        AlpacaAdapter("k", "s", base_url="https://api.alpaca.markets.", paper=True)
    with pytest.raises(EndpointError, match=r"^stream_url: "):
        AlpacaAdapter("k", "s", base_url="http://127.0.0.1:1", stream_url="wss://API.alpaca.markets/stream")


def test_parse_endpoint_reports_the_host_the_client_uses() -> None:
    parsed = parse_endpoint("HTTPS://Paper-API.Alpaca.Markets.:443/v2")
    assert not isinstance(parsed, list)
    assert (parsed.scheme, parsed.host, parsed.port) == ("https", "paper-api.alpaca.markets", 443)
    assert is_loopback_host("127.0.0.53") and not is_loopback_host("10.0.0.1")
    assert xl.LIVE_ENDPOINTS["alpaca"] == ("api.alpaca.markets",)
