"""Benchmark: execlab's backtest against vectorbt (and backtrader) on a daily target-share rebalance.

Data: ``../shared/data/sp500_daily_2013_2018.parquet`` (from the repository root); every symbol with a close
on every day. Targets: random whole-share targets (seeded) for every symbol on every day (daily rebalance).

Each of execlab and vectorbt runs in its own fresh process (one after the other): inputs built once outside
the timing, one warm-up call, then the median of ``--reps`` timed calls of:

- execlab:  ``xl.run_backtest(targets, market, cfg)`` + ``result.final_value`` (``market`` a prebuilt
  ``xl.MarketData``);
- vectorbt: ``vbt.Portfolio.from_orders(close, size=targets, size_type="targetamount", ...)`` +
  ``pf.final_value()`` with the same fees, slippage, cash pool, sequencing and whole-share granularity;
- backtrader (``--skip-backtrader`` to leave out): ``order_target_size`` per symbol per day, cheat-on-close,
  one broker cash pool, on ``--bt-symbols`` symbols; run once (it is slow).

Peak memory, in the same per-side process before the timed calls: the resident set's high-water mark (VmHWM,
reset through /proc/self/clear_refs) after one warmed-up call minus the resident set just before it (after
``gc.collect()`` and ``malloc_trim(0)``), and, separately, tracemalloc's peak over one call.

Exits non-zero when execlab's and vectorbt's final values differ by more than 1e-6 relative.

Usage: ``python benchmarks/bench_backtest_vs_vectorbt.py [--reps 5] [--seed 7] [--skip-backtrader]``
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sp500_daily_2013_2018.parquet"
INITIAL_CASH = 1e7
FEE_BPS = 10.0
SLIPPAGE_BPS = 5.0
MAX_SHARES = 200  # targets are drawn from 0 .. MAX_SHARES - 1
RTOL = 1e-6


# -- inputs ------------------------------------------------------------------------------------------------
class Inputs:
    """The bars of every full-history symbol, the wide close, the targets and (optionally) MarketData."""

    def __init__(self, path: Path, seed: int, with_market: bool = True):
        import execlab as xl

        # 13 of the vendor's bars contradict themselves (high < low, adjusted closes outside the range): the usual
        # repair, applied to both sides; fills are at the close, so it changes no number compared.
        raw = xl.widen_ranges(pd.read_parquet(path))
        close = raw.pivot(index="date", columns="symbol", values="close")
        close.index = pd.DatetimeIndex(pd.to_datetime(close.index), name="date")
        self.n_symbols_all = close.shape[1]
        full = sorted(close.columns[close.notna().all()])
        self.symbols: list[str] = full
        self.close = close[full]
        self.bars = raw[raw["symbol"].isin(full)].reset_index(drop=True)
        rng = np.random.default_rng(seed)
        values = rng.integers(0, MAX_SHARES, size=self.close.shape).astype(np.float64)
        self.targets = pd.DataFrame(values, index=self.close.index, columns=full)
        self.market = xl.MarketData.from_bars(self.bars) if with_market else None
        self.config = xl.Config.from_mapping({
            "initial_cash": INITIAL_CASH,
            "venue": {
                "fill_price": "close",
                "slippage": {"model": "fixed_bps", "bps": SLIPPAGE_BPS},
                "fees": {"model": "bps", "bps": FEE_BPS},
            },
        })


def run_execlab(inp: Inputs) -> float:
    import execlab as xl

    result = xl.run_backtest(inp.targets, inp.market, inp.config)
    return result.final_value


def run_vectorbt(inp: Inputs) -> float:
    import vectorbt as vbt

    pf = vbt.Portfolio.from_orders(
        inp.close, size=inp.targets, size_type="targetamount", fees=FEE_BPS * 1e-4,
        slippage=SLIPPAGE_BPS * 1e-4, init_cash=INITIAL_CASH, cash_sharing=True, group_by=True,
        call_seq="auto", size_granularity=1.0, freq="1D",
    )
    return float(pf.final_value())


SIDES: dict[str, Callable[[Inputs], float]] = {"execlab": run_execlab, "vectorbt": run_vectorbt}


# -- one side, in its own process ------------------------------------------------------------------------
def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS, so an earlier call's pages are not reused."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def worker(side: str, path: Path, seed: int, reps: int) -> dict[str, Any]:
    """Build the inputs, warm up, measure one call's peak memory two ways, then time ``reps`` calls."""
    t0 = time.perf_counter()
    version = None
    if side == "vectorbt":
        import vectorbt

        version = vectorbt.__version__
    inp = Inputs(path, seed, with_market=side == "execlab")
    out: dict[str, Any] = {"side": side, "setup_s": time.perf_counter() - t0, "shape": list(inp.close.shape),
                           "n_symbols_all": inp.n_symbols_all, "version": version}
    fn = SIDES[side]
    t0 = time.perf_counter()
    fn(inp)  # warm-up: numba caches loaded, lazy imports done
    out["warmup_s"] = time.perf_counter() - t0

    _release_free_memory()
    rss_before = _status_kib("VmRSS")
    out["peak_increase_mib"] = None
    if rss_before is not None and _reset_hwm():
        fn(inp)
        hwm = _status_kib("VmHWM")
        if hwm is not None:
            out["peak_increase_mib"] = (hwm - rss_before) / 1024
    _release_free_memory()
    tracemalloc.start()
    fn(inp)
    out["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    import resource

    out["process_maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # Ready: the parent now asks for one timed call at a time, alternating the two sides, so that both
    # see the same machine load (this shared 2-core machine's speed drifts by ±30% within a minute).
    print(json.dumps(out), flush=True)
    times = []
    for line in sys.stdin:
        if line.strip() != "run":
            break
        gc.collect()
        t0 = time.perf_counter()
        value = fn(inp)
        elapsed = time.perf_counter() - t0
        times.append(elapsed)
        print(json.dumps({"time_s": elapsed, "value": value}), flush=True)
    out["times_s"] = times
    return out


def run_workers(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Start one worker process per side, then time ``reps`` calls of each, interleaved (ABBA order)."""
    procs = {}
    for side in SIDES:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", side, "--data", str(args.data),
               "--seed", str(args.seed), "--reps", str(args.reps)]
        procs[side] = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
        # Set up one side at a time so imports and warm-ups do not overlap.
        ready = procs[side].stdout.readline() if procs[side].stdout else ""
        if not ready:
            stderr = procs[side].stderr
            raise RuntimeError(f"{side} worker failed:\n{stderr.read()[-3000:] if stderr else ''}")
        procs[side].result = json.loads(ready)  # type: ignore[attr-defined]
    res: dict[str, dict[str, Any]] = {side: {**p.result, "times_s": []} for side, p in procs.items()}  # type: ignore[attr-defined]
    order = list(SIDES)
    for rep in range(args.reps):
        for side in (order if rep % 2 == 0 else order[::-1]):
            proc = procs[side]
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("run\n")
            proc.stdin.flush()
            answer = json.loads(proc.stdout.readline())
            res[side]["times_s"].append(answer["time_s"])
            res[side]["value"] = answer["value"]
    for proc in procs.values():
        assert proc.stdin is not None
        proc.stdin.write("exit\n")
        proc.stdin.close()
        proc.wait(timeout=60)
    return res


# -- backtrader --------------------------------------------------------------------------------------------
def run_backtrader(inp: Inputs, n_symbols: int) -> None:
    import backtrader as bt

    import execlab as xl

    symbols = inp.symbols[:n_symbols]
    targets = inp.targets[symbols].copy()
    # With cheat-on-close an order placed at bar t executes in the broker's cycle at t+1 at bar t's close, so
    # orders placed on the last bar never execute: hold the last row equal to the one before on both sides.
    targets.iloc[-1] = targets.iloc[-2]
    values = targets.to_numpy()

    class Rebalance(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.i = 0

        def next(self) -> None:
            row = values[self.i]
            self.i += 1
            held = np.array([self.getposition(d).size for d in self.datas])
            price = np.array([d.close[0] for d in self.datas])
            order_value = (row - held) * price
            for j in np.argsort(order_value, kind="mergesort"):  # sells first, then small buys
                if order_value[j] != 0:
                    self.order_target_size(self.datas[j], row[j])

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(INITIAL_CASH)
    cerebro.broker.set_coc(True)
    cerebro.broker.set_slippage_perc(SLIPPAGE_BPS * 1e-4, slip_open=True, slip_limit=True, slip_match=True,
                                     slip_out=True)
    cerebro.broker.setcommission(commission=FEE_BPS * 1e-4)
    bars = inp.bars[inp.bars["symbol"].isin(symbols)].copy()
    bars["date"] = pd.to_datetime(bars["date"])
    for symbol, frame in bars.groupby("symbol", sort=True):
        feed = frame.set_index("date")[["open", "high", "low", "close", "volume"]].sort_index()
        cerebro.adddata(bt.feeds.PandasData(dataname=feed, openinterest=None), name=str(symbol))
    cerebro.addstrategy(Rebalance)

    assert inp.market is not None
    market = inp.market.select(symbols)
    xl.run_backtest(targets, market, inp.config)  # warm
    t0 = time.perf_counter()
    xl_value = xl.run_backtest(targets, market, inp.config).final_value
    xl_time = time.perf_counter() - t0

    gc.collect()
    rss_before = _status_kib("VmRSS")
    can_reset = rss_before is not None and _reset_hwm()
    t0 = time.perf_counter()
    cerebro.run()
    bt_value = float(cerebro.broker.getvalue())
    bt_time = time.perf_counter() - t0
    hwm = _status_kib("VmHWM") if can_reset else None

    rel = abs(bt_value - xl_value) / abs(xl_value)
    print(f"\n== backtrader 1 run: {len(symbols)} symbols x {len(targets)} days, order_target_size daily, "
          "cheat-on-close, one cash pool ==")
    print(f"  run once (it is slow); the time includes backtrader preloading its {len(symbols)} pandas feeds")
    print("  settings: set_coc(True); set_slippage_perc(5 bps, slip_out=True: slippage not capped at the")
    print("            bar's high/low); setcommission(0.001 of fill value)")
    print(f"  backtrader : {bt_time:8.2f} s   final value {bt_value:,.6f}")
    print(f"  execlab    : {xl_time:8.3f} s   final value {xl_value:,.6f}   (same symbols, targets; 1 run)")
    print(f"  ratio backtrader/execlab: {bt_time / xl_time:,.1f}x;  final values agree to {rel:.2e} relative")
    if hwm is not None and rss_before is not None:
        print(f"  backtrader peak RSS increase during cerebro.run(): {(hwm - rss_before) / 1024:,.1f} MiB "
              "(in the main process; VmHWM reset before the run)")


# -- main ---------------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-backtrader", action="store_true")
    parser.add_argument("--bt-symbols", type=int, default=100)
    parser.add_argument("--worker", choices=sorted(SIDES), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if not args.data.is_file():
        print(f"SKIPPED: shared data not found at {args.data}")
        return 0
    if args.worker:
        worker(args.worker, args.data, args.seed, args.reps)
        return 0

    # One fresh process per side: neither side's imports, caches or freed memory affect the other's
    # figures; the timed calls alternate between the two, and only one runs at a time.
    res = run_workers(args)
    import numba

    n_t, n_s = res["execlab"]["shape"]
    print("== execlab vs vectorbt: daily random whole-share targets ==")
    print(f"  python {sys.version.split()[0]}, execlab {metadata.version('execlab')}, "
          f"vectorbt {res['vectorbt']['version']}, numpy {np.__version__}, pandas {pd.__version__}, "
          f"numba {numba.__version__}, {os.cpu_count()} CPUs")
    print(f"  data: {args.data.name}: {n_s} of {res['execlab']['n_symbols_all']} symbols have the full "
          f"history; {n_s} symbols x {n_t} days = {n_s * n_t:,} targets (seed {args.seed}, "
          f"0..{MAX_SHARES - 1} shares)")
    print(f"  settings: cash {INITIAL_CASH:,.0f}, fill at close, slippage {SLIPPAGE_BPS:g} bps, "
          f"fees {FEE_BPS:g} bps, sells first then buys by order value, whole shares (vectorbt "
          "size_granularity=1)")
    print("  each side runs in its own fresh process: inputs built once outside the timing (execlab: the")
    print("  long bars -> xl.MarketData; vectorbt: the wide close), one warm-up call, then the timed calls,")
    print("  alternating between the two processes (ABBA) so both see the same machine load")
    for side, r in res.items():
        print(f"    {side:9s}: setup {r['setup_s']:5.1f} s (imports, parquet, inputs), "
              f"warm-up {r['warmup_s']:5.2f} s")

    med = {side: statistics.median(r["times_s"]) for side, r in res.items()}
    xl_value, vbt_value = res["execlab"]["value"], res["vectorbt"]["value"]
    rel = abs(xl_value - vbt_value) / abs(vbt_value)
    print(f"\n  wall time per backtest, median of {args.reps} (every run in s):")
    print("    execlab  = xl.run_backtest(targets, market, cfg) + result.final_value")
    print("    vectorbt = vbt.Portfolio.from_orders(close, size=targets, ...) + pf.final_value()")
    for side, r in res.items():
        print(f"    {side:9s}: {med[side]:7.3f} s   [{', '.join(f'{t:.3f}' for t in r['times_s'])}]")
    print(f"    ratio execlab/vectorbt: {med['execlab'] / med['vectorbt']:.2f}")
    print(f"  final value: execlab {xl_value:,.6f}  vectorbt {vbt_value:,.6f}  relative difference {rel:.2e} "
          f"({'AGREE' if rel <= RTOL else 'DISAGREE'} at {RTOL:g})")

    print("\n  peak memory of one warmed-up call (same worker processes, before the timed calls):")
    print("    RSS increase = VmHWM after the call - VmRSS just before it. Before the call the warm-up's")
    print("                   garbage is collected, malloc_trim(0) returns freed heap pages to the OS and")
    print("                   VmHWM is reset via /proc/self/clear_refs. Counts every allocation (numpy,")
    print("                   numba, pandas, Python), incl. the result object (alive when VmHWM is read).")
    print("    tracemalloc  = peak of Python-tracked allocations during another call (numpy and numba arrays")
    print("                   are tracked too).")
    print("    process peak = the worker's lifetime maximum RSS (imports + data + inputs + warm-up + calls).")
    for side, r in res.items():
        inc = r.get("peak_increase_mib")
        inc_s = "n/a (no clear_refs)" if inc is None else f"{inc:7.1f} MiB"
        print(f"    {side:9s}: RSS increase {inc_s}   tracemalloc {r['tracemalloc_peak_mib']:7.1f} MiB   "
              f"process peak {r['process_maxrss_mib']:7.1f} MiB")

    if not args.skip_backtrader:
        run_backtrader(Inputs(args.data, args.seed), args.bt_symbols)
    else:
        print("\n  backtrader: skipped (--skip-backtrader)")

    if rel > RTOL:
        print(f"\nFAIL: execlab and vectorbt final values differ by {rel:.2e} relative (> {RTOL:g})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
