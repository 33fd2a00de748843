"""Plan + risk + OMS with the SQLite journal: orders per second when batched, and per-order overhead (p50, p99).

The executor is a no-op (it accepts every order), so the figures are execlab's own cost: the diff, the risk checks,
deterministic client order ids, and journaling every intent and state change in SQLite (WAL) before acting.
Run: ``.venv/bin/python benchmarks/bench_oms_journal.py``. Aims (issue 3): ≥ 20,000 orders/s batched, p50 < 100 µs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import execlab as xl
from execlab._core.batches import NO_EVENTS, NO_FILLS, FillBatch, OrderBatch, OrderEvents
from execlab._core.models import AccountSnapshot
from execlab._execution.rebalancer import RebalanceContext, Rebalancer
from execlab._oms.book import BookJournal, OrderBook
from execlab._oms.journal import Journal


class AcceptAll(xl.OrderExecutor):
    """Takes orders and does nothing: isolates execlab's own overhead."""

    def __init__(self, symbols: tuple[str, ...]):
        self._symbols = symbols
        self._pos = np.zeros(len(symbols))

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def submit(self, orders: OrderBatch) -> None:
        pass

    def cancel(self, oids: np.ndarray) -> None:
        pass

    def order_status(self, oids: np.ndarray) -> OrderEvents:
        return NO_EVENTS

    def positions(self) -> np.ndarray:
        return self._pos

    def account(self) -> AccountSnapshot:
        return AccountSnapshot(cash=1e12, equity=1e12, buying_power=1e12)

    def poll(self) -> tuple[FillBatch, OrderEvents]:
        return NO_FILLS, NO_EVENTS


def _rebalancer(folder: Path, n: int, name: str) -> tuple[Rebalancer, tuple[str, ...]]:
    symbols = tuple(f"S{i:04d}" for i in range(n))
    journal = Journal(folder / f"{name}.sqlite")
    book = OrderBook(journal=BookJournal(journal, "bench", symbols, lambda bar: f"k{bar}"))
    cfg = xl.Config.from_mapping({"risk": {"max_order_value": 1e9, "max_position_pct": 1.0}})
    risk = xl.RiskEngine(cfg.risk, symbols, False)
    return Rebalancer(AcceptAll(symbols), book, risk, cfg.plan, xl.InstrumentTable().arrays(symbols)), symbols


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=500, help="orders per rebalance (default 500)")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--singles", type=int, default=2000, help="one-order rebalances for the latency percentiles")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reb, symbols = _rebalancer(folder, args.batch, "batched")
        price = rng.uniform(10, 200, len(symbols))
        warm = RebalanceContext(0, price)
        reb.rebalance(rng.integers(1, 100, len(symbols)).astype(float), warm, 1e12, 1e12)  # warm-up
        started = time.perf_counter()
        sent = 0
        per_batch = []
        for b in range(1, args.batches + 1):
            t0 = time.perf_counter()
            out = reb.rebalance(rng.integers(1, 100, len(symbols)).astype(float), RebalanceContext(b, price), 1e12,
                                1e12)
            per_batch.append((time.perf_counter() - t0) / max(out.sent, 1))
            sent += out.sent
        batched = time.perf_counter() - started

        single, _ = _rebalancer(folder, 1, "single")
        one_price = np.array([100.0])
        single.rebalance(np.array([5.0]), RebalanceContext(0, one_price), 1e12, 1e12)
        lat = np.empty(args.singles)
        for k in range(args.singles):
            t0 = time.perf_counter()
            single.rebalance(np.array([float(k % 50 + 1)]), RebalanceContext(k + 1, one_price), 1e12, 1e12)
            lat[k] = time.perf_counter() - t0
    per_order = batched / sent * 1e6
    print(f"batched: {sent:,} orders in {args.batches} rebalances of {args.batch}: {batched:.3f} s, "
          f"{sent / batched:,.0f} orders/s, {per_order:.1f} µs per order (aim ≥ 20,000 orders/s)")
    print(f"one order per rebalance ({args.singles:,} rebalances, plan + risk + 2 journal transactions): "
          f"p50 {np.percentile(lat, 50) * 1e6:.0f} µs, p95 {np.percentile(lat, 95) * 1e6:.0f} µs, "
          f"p99 {np.percentile(lat, 99) * 1e6:.0f} µs")
    pb = np.array(per_batch) * 1e6
    print(f"per-order overhead when batched, over the {args.batches} rebalances: p50 {np.percentile(pb, 50):.1f} µs, "
          f"p99 {np.percentile(pb, 99):.1f} µs (aim: p50 < 100 µs)")


if __name__ == "__main__":
    main()
