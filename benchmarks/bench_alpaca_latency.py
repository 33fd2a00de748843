"""Submit → acknowledgement and submit → fill notification, through execlab and through bare alpaca-py.

Both sides talk to the same local Alpaca venue on 127.0.0.1 (rate limit lifted: this measures latency, not pacing;
see bench_alpaca_pacing.py for that), alternating order by order so machine noise hits both alike.

- bare: ``TradingClient.submit_order`` (ack = the call returns) and alpaca-py's ``TradingStream`` delivering the
  ``fill`` trade update (through :class:`AlpacaTradeStream`, which only adds a callback hop).
- execlab: ``BrokerExecutor.place`` (journal the request, pacer, breaker, send, journal the response: ack) and the
  fill taken in from the stream by the executor (journaled, turned into an OMS fill: notification).

Prints p50 / p95 / p99 in milliseconds for each, and execlab's added overhead (execlab − bare, per percentile).

    .venv/bin/python benchmarks/bench_alpaca_latency.py [--orders 300]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from execlab._brokers.executor import BrokerExecutor
from execlab._core.models import Order, OrderStatus, Side
from execlab._oms.journal import Journal
from execlab.adapters.alpaca import AlpacaAdapter, AlpacaTradeStream, TradeUpdateEvent
from execlab.venues import AlpacaVenue

KEY, SECRET = "PKBENCHLATENCY0001", "bench-latency-secret-01"
SYMBOLS = ("AAA", "BBB", "CCC", "DDD")


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    p50, p95, p99 = np.percentile(np.array(samples) * 1e3, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300, help="orders per side (default 300)")
    args = parser.parse_args()

    with AlpacaVenue(KEY, SECRET, initial_cash=1e9, rate_limit=1_000_000) as venue, \
            tempfile.TemporaryDirectory() as tmp:
        for i, sym in enumerate(SYMBOLS):
            px = 10.0 * (i + 1)
            venue.set_quote(sym, px - 0.01, px + 0.01, px)

        # bare alpaca-py: REST client + trade_updates stream
        bare = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url).client
        bare_fills: dict[str, float] = {}
        fill_seen = threading.Condition()

        def on_update(update: TradeUpdateEvent) -> None:
            if update.event == "fill":
                with fill_seen:
                    bare_fills[update.order.client_order_id] = update.received_at
                    fill_seen.notify_all()

        stream = AlpacaTradeStream(KEY, SECRET, on_update, url=venue.stream_url)
        stream.start()

        # execlab: the executor with its own stream
        journal = Journal(Path(tmp) / "bench.sqlite", synchronous="NORMAL")
        executor = BrokerExecutor(AlpacaAdapter(KEY, SECRET, base_url=venue.base_url), journal, "bench", SYMBOLS,
                                  fallback_poll_seconds=60.0)
        executor.start_stream()

        ack = {"bare": [], "execlab": []}  # type: dict[str, list[float]]
        fill = {"bare": [], "execlab": []}  # type: dict[str, list[float]]
        for k in range(args.orders):
            sym = SYMBOLS[k % len(SYMBOLS)]
            # bare
            coid = f"bare-{k}"
            t0 = time.monotonic()
            bare.submit_order(MarketOrderRequest(symbol=sym, qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                                                 client_order_id=coid))
            ack["bare"].append(time.monotonic() - t0)
            with fill_seen:
                if not fill_seen.wait_for(lambda c=coid: c in bare_fills, timeout=10):  # type: ignore[misc]
                    raise RuntimeError(f"no fill update for {coid}")
            fill["bare"].append(bare_fills[coid] - t0)
            # execlab
            coid = f"xl-bench-{k}"
            order = Order(symbol=sym, side=Side.BUY, quantity=1, client_order_id=coid, run_id="bench")
            t0 = time.monotonic()
            executor.place(order)
            ack["execlab"].append(time.monotonic() - t0)
            deadline = t0 + 10
            while executor.known_orders()[coid].status is not OrderStatus.FILLED:
                executor.refresh()
                if executor.known_orders()[coid].status is OrderStatus.FILLED:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no fill for {coid}")
                executor._wake.wait(0.05)
                executor._wake.clear()
            fill["execlab"].append(time.monotonic() - t0)
        stream.stop()
        executor.stop_stream()

    print(f"{args.orders} market orders per side against the local Alpaca venue on 127.0.0.1 "
          f"(alternating bare alpaca-py and execlab)")
    print(f"{'':40}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    rows = {}
    for what, data in (("submit → ack", ack), ("submit → fill notification", fill)):
        for side in ("bare", "execlab"):
            rows[(what, side)] = _percentiles(data[side])
            p = rows[(what, side)]
            print(f"{what + ' (' + side + ')':40}{p[0]:>10.2f}{p[1]:>10.2f}{p[2]:>10.2f}")
        over = [x - b for x, b in zip(rows[(what, "execlab")], rows[(what, "bare")], strict=True)]
        print(f"{what + ' overhead':40}{over[0]:>10.2f}{over[1]:>10.2f}{over[2]:>10.2f}")


if __name__ == "__main__":
    main()
