"""Benchmark: the compiled bar loop alone (``_loop``), per variant, on the sweep's and the grid's workloads.

The arguments of one run are built as a sweep builds them (``compiled_arguments`` → ``loop_arguments``), with fresh
output arrays for every call; only the ``_loop`` call is timed (process CPU time, median of ``--reps`` calls, so a
loaded machine shows less). Also prints µs per rebalance and ns per order, and a checksum of the results (final
cash and positions), equal before and after a change that must not alter results.

Usage: ``python benchmarks/bench_loop_alone.py [--reps 200] [--symbols 10 470]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_speed_grid import DATA, LOOKBACK, execlab_config, load, momentum_shares, rebalance_rows


def variant_arguments(bars: Any, close: Any, n: int) -> tuple[Any, ...]:
    """The compiled loop's arguments builder for ``n`` symbols daily (the anchor workload)."""
    import execlab as xl
    from execlab._core.instruments import InstrumentTable
    from execlab._data.targets import align_targets
    from execlab._execution.compiled_backtest import loop_arguments
    from execlab._runs.backtest import compiled_arguments

    symbols = list(close.columns[:n])
    cl = close[symbols]
    targets = momentum_shares(cl, rebalance_rows(cl.index, "daily", LOOKBACK))
    market = xl.MarketData.from_bars(bars[bars["symbol"].isin(symbols)])
    cfg = execlab_config()
    table = InstrumentTable()
    tm = align_targets(targets, market, cfg.plan.target_unit, cfg.plan.allow_short, 1.0, table)
    _, _, args = compiled_arguments(tm, market, cfg, table)
    assert args is not None

    def build() -> tuple[Any, ...]:
        return loop_arguments(*args)

    return build, len(targets)  # type: ignore[return-value]


def main() -> int:
    from execlab._execution.compiled_backtest import _loop

    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--symbols", type=int, nargs="+", default=[10, 470])
    a = ap.parse_args()
    bars, close = load(DATA)
    for n in a.symbols:
        build, n_reb = variant_arguments(bars, close, n)
        out = _loop(*build())  # compile / load from cache
        reps = max(5, a.reps if n <= 40 else a.reps // 20)
        cpu = []
        for _ in range(reps):
            args = build()
            c0 = time.process_time()
            out = _loop(*args)
            cpu.append(time.process_time() - c0)
        med = statistics.median(cpu)
        n_orders, n_fills = int(out[1]), int(out[3])
        pos, cash = args[35], args[36]
        check = float(cash[-1]) + float((pos[-1] * close[list(close.columns[:n])].to_numpy()[-1]).sum())
        print(f"{n:4d} symbols daily: _loop {med * 1e3:7.3f} ms per variant (CPU, median of {reps}), "
              f"{med / n_reb * 1e6:6.2f} µs per rebalance, {med / max(n_orders, 1) * 1e9:6.0f} ns per order "
              f"({n_orders} orders, {n_fills} fills), check {check:.6f}, load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
