"""Submit → acknowledgement and submit → fill (with its commission), through execlab and through bare ib_async.

Both sides talk to the same local IB venue (the TWS API on 127.0.0.1, pacing lifted: this measures latency),
alternating order by order so machine noise hits both alike.

- bare: ``IB.placeOrder`` on the main thread's loop; ack = the trade's first status after ``PendingSubmit``; fill =
  the ``commissionReport`` of its execution (what prices the fill).
- execlab: ``BrokerExecutor.place`` (journal the request, pacer, breaker, send through the adapter's loop thread,
  wait for the acknowledgement, journal the response: ack) and the order reaching ``filled`` in the executor's OMS
  (the fill taken in from the adapter's stream, journaled with IB's execution id and commission).

Prints p50 / p95 / p99 in milliseconds for each, and execlab's added overhead (execlab − bare, per percentile).

    .venv/bin/python benchmarks/bench_ibkr_latency.py [--orders 200]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np
from ib_async import IB, MarketOrder, Stock

from execlab._brokers.executor import BrokerExecutor
from execlab._core.models import Order, OrderStatus, Side
from execlab._oms.journal import Journal
from execlab.adapters.ibkr import IBAdapter
from execlab.venues.ibkr import IBFaults, IBVenue

SYMBOLS = ("AAPL", "MSFT", "SPY")


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    p50, p95, p99 = np.percentile(np.array(samples) * 1e3, [50, 95, 99])
    return float(p50), float(p95), float(p99)


async def _bare_one(ib: IB, contract: Stock, ref: str) -> tuple[float, float]:
    acked, filled = asyncio.Event(), asyncio.Event()
    t0 = time.monotonic()
    trade = ib.placeOrder(contract, MarketOrder("BUY", 1, orderRef=ref))
    marks: dict[str, float] = {}

    def on_status(t: object) -> None:
        if trade.orderStatus.status != "PendingSubmit" and "ack" not in marks:
            marks["ack"] = time.monotonic()
            acked.set()

    def on_commission(*_: object) -> None:
        marks.setdefault("fill", time.monotonic())
        filled.set()

    trade.statusEvent += on_status
    trade.commissionReportEvent += on_commission
    await asyncio.wait_for(acked.wait(), 10)
    await asyncio.wait_for(filled.wait(), 10)
    return marks["ack"] - t0, marks["fill"] - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200, help="orders per side (default 200)")
    args = parser.parse_args()

    faults = IBFaults(max_messages_per_second=0)
    with IBVenue(cash=1e9, faults=faults) as venue, tempfile.TemporaryDirectory() as tmp:
        for i, sym in enumerate(SYMBOLS):
            px = 100.0 * (i + 1)
            venue.set_quote(sym, px - 0.01, px + 0.01, px)

        bare = IB()
        bare.connect("127.0.0.1", venue.port, clientId=2, timeout=10)
        bare.client.MaxRequests = 0
        contracts = {s: bare.qualifyContracts(Stock(s, "SMART", "USD"))[0] for s in SYMBOLS}

        journal = Journal(Path(tmp) / "bench.sqlite", synchronous="NORMAL")
        adapter = IBAdapter("127.0.0.1", venue.port, client_id=1, max_messages_per_second=50)
        executor = BrokerExecutor(adapter, journal, "bench", SYMBOLS, fallback_poll_seconds=60.0)
        executor.start_stream()

        ack: dict[str, list[float]] = {"bare": [], "execlab": []}
        fill: dict[str, list[float]] = {"bare": [], "execlab": []}
        for k in range(args.orders):
            sym = SYMBOLS[k % len(SYMBOLS)]
            a, f = bare.run(_bare_one(bare, contracts[sym], f"bare-{k}"))
            ack["bare"].append(a)
            fill["bare"].append(f)
            coid = f"xl-{k:032x}"
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
                executor._wake.wait(0.005)
                executor._wake.clear()
            fill["execlab"].append(time.monotonic() - t0)
        executor.close()
        bare.disconnect()

    print(f"{args.orders} market orders per side against the local IB venue on 127.0.0.1 "
          f"(alternating bare ib_async and execlab)")
    print(f"{'':44}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    rows = {}
    for what, data in (("submit → ack", ack), ("submit → fill + commission", fill)):
        for side in ("bare", "execlab"):
            rows[(what, side)] = _percentiles(data[side])
            p = rows[(what, side)]
            print(f"{what + ' (' + side + ')':44}{p[0]:>10.2f}{p[1]:>10.2f}{p[2]:>10.2f}")
        over = [x - b for x, b in zip(rows[(what, "execlab")], rows[(what, "bare")], strict=True)]
        print(f"{what + ' overhead':44}{over[0]:>10.2f}{over[1]:>10.2f}{over[2]:>10.2f}")
        ratio = rows[(what, "execlab")][0] / rows[(what, "bare")][0]
        print(f"{what + ' p50 ratio execlab/bare':44}{ratio:>10.2f}")


if __name__ == "__main__":
    main()
