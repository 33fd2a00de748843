"""``execlab venue binance|okx --port N --key K`` (the secret from the environment: the command line refuses it) serves
a venue a user's own ccxt script trades on out of the box: BTC/USDT and ETH/USDT listed with quotes, a USDT
balance."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from execlab.adapters.ccxt import make_exchange

from helpers.readme import free_port

pytestmark = pytest.mark.local_venue

SECRET = "cli-secret-not-for-logs"
PASSPHRASE = "cli-passphrase"


@pytest.mark.parametrize("exchange", ["binance", "okx"])
def test_the_venue_command_serves_markets_a_plain_ccxt_script_trades_on(exchange: str, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "OKX_"))}
    env.update({"BINANCE_API_SECRET": SECRET} if exchange == "binance" else
               {"OKX_API_SECRET": SECRET, "OKX_API_PASSPHRASE": PASSPHRASE})
    log = tmp_path / "venue.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "execlab._cli.main", "venue", exchange, "--port", str(port),
                                 "--key", "cli-key"], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while "listening" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert SECRET not in log.read_text()
        ex = make_exchange(exchange, api_key="cli-key", secret=SECRET, password=PASSPHRASE,
                           base_url=f"http://127.0.0.1:{port}")
        markets = ex.load_markets()
        assert {"BTC/USDT", "ETH/USDT"} <= set(markets)
        assert markets["BTC/USDT"]["limits"]["amount"]["min"] > 0  # realistic filters: a minimum size
        assert ex.fetch_balance()["USDT"]["free"] == 100_000.0
        ex.create_order("ETH/USDT", "market", "buy", 0.5)
        held = ex.fetch_balance()["ETH"]["total"]
        assert held == pytest.approx(0.5 * 0.999)  # the fee taken in the asset received
        assert ex.fetch_balance()["USDT"]["free"] < 100_000.0 - 0.5 * 3_000.0 + 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    refused = subprocess.run([sys.executable, "-m", "execlab._cli.main", "venue", exchange, "--secret", SECRET],
                             capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode != 0 and "--secret-file" in refused.stderr
