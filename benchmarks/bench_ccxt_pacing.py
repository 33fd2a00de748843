"""500 orders through ccxt against the local Binance venue at its request-weight limit: time against what the limit
allows, and the 429s / 418s (the aim: none).

The venue counts request weight per IP over a rolling window (Binance: 6000 per minute; scaled down here with
``--limit`` and ``--window`` so the limit binds within seconds). execlab's ``CcxtClient`` paces by weight and follows
the venue's ``X-MBX-USED-WEIGHT-1M``. The time the limit allows for ``W`` weight starting fresh is
``floor((W - 1) / limit) * window``. For comparison, bare ccxt (its own token bucket, ``enableRateLimit``, which
knows neither the venue's limit nor its headers) sends the same orders.

Run: ``.venv/bin/python benchmarks/bench_ccxt_pacing.py [--orders 500 --limit 100 --window 2]``.
"""

from __future__ import annotations

import argparse
import math
import time

import ccxt

from execlab._core.ids import client_order_id
from execlab.adapters.ccxt import make_exchange
from execlab.adapters.ccxt._client import CcxtClient
from execlab.venues.binance import BinanceVenue

_MARKETS_WEIGHT = 20


def _venue(limit: int, window: float) -> BinanceVenue:
    venue = BinanceVenue(weight_limit=limit, weight_window=window, orders_per_10s=10**6, balances={"USDT": 10**9})
    venue.start()
    venue.set_quote("BTC/USDT", 50_000.0, 50_001.0)
    return venue


def _report(name: str, elapsed: float, weight: int, limit: int, window: float, venue: BinanceVenue) -> None:
    allowed = math.floor((weight - 1) / limit) * window
    stats = venue.stats()
    ratio = f"{elapsed / allowed:5.2f}" if allowed else "  n/a"
    print(f"{name:10s} elapsed {elapsed:7.2f} s   allowed {allowed:7.2f} s   elapsed/allowed {ratio}   "
          f"orders {stats['orders']}   429s {stats['answered_429']}   418s {stats['answered_418']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--limit", type=int, default=100, help="request weight per window")
    parser.add_argument("--window", type=float, default=2.0, help="seconds (Binance: 60)")
    args = parser.parse_args()
    weight = _MARKETS_WEIGHT + args.orders
    print(f"{args.orders} market orders (weight 1 each, plus 20 for the markets), weight limit {args.limit} per "
          f"rolling {args.window:g} s")

    venue = _venue(args.limit, args.window)
    client = CcxtClient("binance", api_key=venue.api_key, secret=venue.secret, base_url=venue.base_url,
                        weight_limit=args.limit, weight_window=args.window)
    try:
        start = time.monotonic()
        client.markets()
        for i in range(args.orders):
            client.place(client_order_id("bench", "t", "BTC/USDT", i), "BTC/USDT", "buy", 0.001)
        _report("execlab", time.monotonic() - start, weight, args.limit, args.window, venue)
    finally:
        client.close()
        venue.stop()

    venue = _venue(args.limit, args.window)
    bare = make_exchange("binance", api_key=venue.api_key, secret=venue.secret, base_url=venue.base_url)
    bare.enableRateLimit = True
    failures = 0
    try:
        start = time.monotonic()
        bare.load_markets()
        for _ in range(args.orders):
            try:
                bare.create_order("BTC/USDT", "market", "buy", 0.001)
            except ccxt.DDoSProtection:
                failures += 1
                if venue.stats()["answered_418"]:
                    break
        _report("bare ccxt", time.monotonic() - start, weight, args.limit, args.window, venue)
        print(f"bare ccxt: {failures} orders refused (429 / 418), stopped at the first ban")
    finally:
        venue.stop()


if __name__ == "__main__":
    main()
