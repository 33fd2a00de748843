"""The local venue's harness routes (``/_…``) need the harness token (or the API keys) and JSON; every route needs a
loopback ``Host``; a page on another origin cannot change faults or quotes (checked in real Chromium too); the
command line takes no secret on argv."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
import requests

from execlab.venues import AlpacaVenue
from execlab.venues._harness import HARNESS_TOKEN_HEADER, HarnessGuard
from execlab.venues.alpaca import serve

KEY, SECRET = "PKHARNESSTEST001", "harness-secret-not-for-argv"
CHROMIUM: Final = Path("/usr/bin/chromium")
ROUTES: Final = [("GET", "/_stats"), ("POST", "/_quotes"), ("GET", "/_faults"), ("POST", "/_faults"),
                 ("DELETE", "/_faults"), ("GET", "/_trade_updates"), ("POST", "/_streams/drop")]

pytestmark = [pytest.mark.local_venue]


@pytest.fixture(scope="module")
def venue() -> Iterator[AlpacaVenue]:
    with AlpacaVenue(KEY, SECRET, rate_limit=10_000) as v:
        v.set_quote("AAPL", 19.99, 20.01)
        yield v


def _send(venue: AlpacaVenue, method: str, path: str, headers: dict[str, str] | None = None,
          **kwargs: Any) -> requests.Response:
    return requests.request(method, venue.base_url + path, headers=headers or {}, timeout=10, **kwargs)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_harness_route_needs_the_token(venue: AlpacaVenue, method: str, path: str) -> None:
    body = {} if method == "POST" else None
    refused = _send(venue, method, path, json=body)
    assert refused.status_code == 401 and HARNESS_TOKEN_HEADER in refused.json()["message"]
    wrong = _send(venue, method, path, {HARNESS_TOKEN_HEADER: venue.harness_token[:-1] + "x"}, json=body)
    assert wrong.status_code == 401
    if path != "/_quotes":  # an empty quote batch is a 400 of its own
        assert _send(venue, method, path, venue.harness_headers, json=body).ok
        keys = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
        assert _send(venue, method, path, keys, json=body).ok


def test_harness_posts_must_be_json(venue: AlpacaVenue) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None):
        headers = dict(venue.harness_headers)
        if content_type:
            headers["Content-Type"] = content_type
        reply = _send(venue, "POST", "/_faults", headers, data='{"error_rate": 1.0}')
        assert reply.status_code == 415, content_type
    assert venue.faults.error_rate == 0.0


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example", "localhost.evil"])
def test_a_foreign_host_header_is_refused_on_every_route(venue: AlpacaVenue, host: str) -> None:
    """DNS rebinding: a name the attacker controls resolving to 127.0.0.1 reads nothing."""
    for path, headers in (("/_stats", venue.harness_headers),
                          ("/v2/account", {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET})):
        reply = _send(venue, "GET", path, {**headers, "Host": host})
        assert reply.status_code == 403 and "Host" in reply.json()["message"]
    for host_ok in ("localhost", f"127.0.0.1:{venue.port}", f"[::1]:{venue.port}", "LOCALHOST."):
        assert _send(venue, "GET", "/_stats", {**venue.harness_headers, "Host": host_ok}).ok


def test_a_foreign_origin_is_refused_even_with_the_token(venue: AlpacaVenue) -> None:
    reply = _send(venue, "POST", "/_faults", {**venue.harness_headers, "Origin": "https://evil.example"},
                  json={"error_rate": 1.0})
    assert reply.status_code == 403
    assert venue.faults.error_rate == 0.0


def test_guard_allows_a_bound_host_and_extra_names() -> None:
    guard = HarnessGuard.for_bind("t", "10.1.2.3", ["venue.lan"])
    assert guard.host_problem({"Host": "10.1.2.3:8765"}) is None
    assert guard.host_problem({"Host": "venue.lan"}) is None
    assert guard.host_problem({"Host": "other.lan"}) is not None
    assert HarnessGuard.for_bind("t", "0.0.0.0").host_problem({"Host": "0.0.0.0"}) is not None


def test_command_line_refuses_a_secret_on_argv(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        serve(["--secret", "hunter2"])
    err = capsys.readouterr().err
    assert "APCA_API_SECRET_KEY" in err and "--secret-file" in err


@pytest.mark.slow  # starts the venue command in a process of its own
def test_command_line_reads_the_secret_from_a_file_and_warns_off_loopback(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "EXECLAB_VENUE"))}
    proc = subprocess.Popen([sys.executable, "-m", "execlab.venues.alpaca", "--host", "0.0.0.0", "--port", "0",
                             "--key", KEY, "--secret-file", str(secret_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        assert "listening on http://0.0.0.0:" in first, first + proc.stderr.read()
        url = first.split("listening on ")[1].split()[0].replace("0.0.0.0", "127.0.0.1")
        lines = [proc.stdout.readline() for _ in range(3)]
        token = next(line.split(": ", 1)[1].strip() for line in lines if "harness token" in line)
        with open(f"/proc/{proc.pid}/cmdline", "rb") as cmdline:
            assert SECRET.encode() not in cmdline.read()
        keys = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
        assert requests.get(url + "/v2/account", headers=keys, timeout=10).ok
        assert requests.get(url + "/_stats", timeout=10).status_code == 401
        assert requests.get(url + "/_stats", headers={HARNESS_TOKEN_HEADER: token}, timeout=10).ok
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "WARNING: --host 0.0.0.0" in err


class _AttackPage(http.server.BaseHTTPRequestHandler):
    """Serves the attacking page on another origin."""

    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (`make browser`)")
@pytest.mark.browser
@pytest.mark.slow
def test_a_page_on_another_origin_cannot_move_quotes_or_faults(venue: AlpacaVenue) -> None:
    """The issue's attack in a real browser: text/plain (no preflight) and JSON (preflight) POSTs from a page on
    another origin change nothing, even when the page knows the token (the preflight is never granted)."""
    from playwright.sync_api import sync_playwright

    token = venue.harness_token
    _AttackPage.page = f"""<html><body><script>
      const venue = "{venue.base_url}";
      async function attack() {{
        const out = [];
        for (const [path, body] of [["/_faults", '{{"error_rate": 1.0}}'],
                                    ["/_quotes", '{{"symbol": "AAPL", "bid": 1.0, "ask": 1.02}}']]) {{
          try {{ await fetch(venue + path, {{method: "POST", mode: "no-cors", body,
                                              headers: {{"Content-Type": "text/plain"}}}}); out.push("sent"); }}
          catch (e) {{ out.push("blocked"); }}
          try {{ await fetch(venue + path, {{method: "POST", body,
                   headers: {{"Content-Type": "application/json", "{HARNESS_TOKEN_HEADER}": "{token}"}}}});
                 out.push("read"); }}
          catch (e) {{ out.push("blocked"); }}
        }}
        return out;
      }}
    </script></body></html>""".encode()
    server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), _AttackPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    before = venue.stats()["requests"]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.2:{server.server_address[1]}/")
                outcome = page.evaluate("attack()")
            finally:
                browser.close()
    finally:
        server.shutdown()
    assert outcome[1] == outcome[3] == "blocked"  # the JSON + token POSTs: preflight refused
    assert venue.faults.error_rate == 0.0
    assert venue.stats()["requests"] == before
    keys = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    order = requests.post(venue.base_url + "/v2/orders", headers=keys, timeout=10, json={
        "symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}).json()
    order = requests.get(f"{venue.base_url}/v2/orders/{order['id']}", headers=keys, timeout=10).json()
    assert float(order["filled_avg_price"]) == pytest.approx(20.01)  # the quote did not move to 1.02
