"""A 500-order rebalance against the local Alpaca venue under Alpaca's rate limit: time against what the limit allows.

execlab's run goes through ``run_live_rebalance`` (real alpaca-py, the journal, the pacer, the breaker). The time the
limit allows for ``N`` requests in a rolling window of ``limit`` per ``window`` seconds, starting fresh, is
``floor((N - 1) / limit) * window``; the issue's aim is zero 429s and an elapsed time within 10 % of that.
For comparison the same orders go through bare alpaca-py (its default: on a 429, sleep 3 s, at most 3 times).

Run: ``.venv/bin/python benchmarks/bench_alpaca_pacing.py`` (Alpaca's real 200 per 60 s: about 4 minutes in all), or
``--window 6`` to scale the window down (the venue's own time per request then weighs more in the ratio).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

import execlab as xl
from execlab._brokers.executor import BrokerExecutor
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance
from execlab.adapters.alpaca import AlpacaAdapter
from execlab.venues import AlpacaVenue

KEY, SECRET = "PKBENCHPACING001", "bench-secret-not-for-logs"


def _venue(orders: int, limit: int, window: float) -> tuple[AlpacaVenue, dict[str, float]]:
    venue = AlpacaVenue(KEY, SECRET, initial_cash=1e9, rate_limit=limit, rate_window=window).start()
    symbols = [f"B{i:04d}" for i in range(orders)]
    venue.set_quotes({s: (9.99, 10.01, 10.0, None) for s in symbols})
    return venue, {s: float(1 + i % 9) for i, s in enumerate(symbols)}


def _allowed(requests: int, limit: int, window: float) -> float:
    return math.floor((requests - 1) / limit) * window


def _report(name: str, elapsed: float, stats: dict[str, Any], limit: int, window: float, extra: str) -> None:
    n = stats["requests"]
    allowed = _allowed(n, limit, window)
    ratio = f"{elapsed / allowed:.3f}" if allowed else "n/a (within one window)"
    print(f"{name:9s} elapsed {elapsed:8.2f} s   allowed {allowed:7.2f} s   ratio {ratio}   requests {n}   "
          f"429s {stats['rate_limited']}   {extra}")


def run_execlab(orders: int, limit: int, window: float) -> None:
    venue, targets = _venue(orders, limit, window)
    try:
        with tempfile.TemporaryDirectory() as folder:
            journal = Journal(Path(folder) / "journal.sqlite")
            cfg = xl.Config.from_mapping({"mode": "paper", "run_id": "bench", "broker": {
                "name": "alpaca", "api_key": KEY, "api_secret": SECRET,
                "rate_limit_per_minute": limit, "rate_window_seconds": window}})
            executor = BrokerExecutor(AlpacaAdapter(KEY, SECRET, base_url=venue.base_url), journal, cfg.run_id, (),
                                      config=cfg.broker)
            started = time.monotonic()
            done = run_live_rebalance(targets, dict.fromkeys(targets, 10.0), cfg, executor, journal, "bench",
                                      timeout=120)
            elapsed = time.monotonic() - started
            stats = venue.stats()
            filled = int((done.orders["status"] == "filled").sum())
            pacer = executor.pacer.stats
            _report("execlab", elapsed, stats, limit, window,
                    f"filled {filled}/{orders}   waited {pacer.waited_seconds:.1f} s   broker holds "
                    f"{pacer.broker_holds}   dead letters {len(executor.dead_letters)}")
            journal.close()
    finally:
        venue.stop()


def run_bare_alpaca_py(orders: int, limit: int, window: float) -> None:
    venue, targets = _venue(orders, limit, window)
    try:
        client = TradingClient(KEY, SECRET, paper=True, url_override=venue.base_url)  # default retries on 429
        failed = 0
        started = time.monotonic()
        for k, (symbol, qty) in enumerate(targets.items()):
            try:
                client.submit_order(MarketOrderRequest(symbol=symbol, qty=qty, side=OrderSide.BUY,
                                                       time_in_force=TimeInForce.DAY, client_order_id=f"naive-{k}"))
            except APIError:
                failed += 1
        elapsed = time.monotonic() - started
        stats = venue.stats()
        _report("alpaca-py", elapsed, stats, limit, window,
                f"placed {stats['orders']}/{orders}   given up {failed}   (no fill wait, no journal)")
    finally:
        venue.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--limit", type=int, default=200, help="Requests per window (Alpaca: 200).")
    parser.add_argument("--window", type=float, default=60.0, help="Rolling window in seconds (Alpaca: 60).")
    parser.add_argument("--no-baseline", action="store_true", help="Skip the bare alpaca-py run.")
    args = parser.parse_args()
    print(f"{args.orders} orders, rate limit {args.limit} per rolling {args.window:g} s")
    run_execlab(args.orders, args.limit, args.window)
    if not args.no_baseline:
        run_bare_alpaca_py(args.orders, args.limit, args.window)


if __name__ == "__main__":
    main()
