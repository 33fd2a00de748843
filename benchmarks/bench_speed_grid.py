"""Benchmark: execlab's compiled backtest against vectorbt on every workload shape, a 1,000-variant sweep against
vectorbt's broadcast of the same variants, and backtrader on one grid point. Prints ratios (execlab / other).

Data: ``../shared/data/sp500_daily_2013_2018.parquet``; the symbols with a close on every day (sorted, the first
10 / 40 / 100 / 470). Anchor workload: top-half 60-day momentum, equal dollars (95 % of the initial cash split over
the names held) in whole shares, fill at the close, 5 bp slippage, 2 bp fees, rebalanced daily, weekly (the last
bar of each week) or monthly (the last bar of each month).

- execlab:  ``xl.run_backtest(targets, market, cfg).final_value`` (``market`` a prebuilt ``xl.MarketData``);
- vectorbt: ``vbt.Portfolio.from_orders(close, size=targets_on_every_bar, size_type="targetamount", ...)`` then
  ``pf.final_value()`` (NaN size: no order at that bar);
- sweep:    ``xl.run_sweep(frames, market, cfg, grid={"venue.fees.bps": fees}, keep_results=False)`` on 10
  symbols daily, 40 momentum lookbacks × 25 fee levels = 1,000 variants, against one ``from_orders`` call over
  the 10,000 columns of the same variants (``group_by`` variant, one cash pool per variant, fees per column);
- backtrader: ``order_target_size`` per symbol at each rebalance, cheat-on-close, on 100 symbols daily (run once).

Timing: both libraries in this one process, one warm-up call each, then ``--reps`` timed calls alternating
between them (ABBA); the median is reported (the machine is shared: medians and alternation, not minima). Peak
memory: the resident set's high-water mark during one call (VmHWM reset through /proc/self/clear_refs, after
``gc.collect()`` and ``malloc_trim(0)``) minus the resident set before it.

Exits non-zero when a final value differs from vectorbt's by more than 1e-9 relative.

Usage: ``python benchmarks/bench_speed_grid.py [--reps 5] [--sweep-reps 3] [--skip-backtrader] [--skip-sweep]``
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sp500_daily_2013_2018.parquet"
INITIAL_CASH = 1e7
FEE_BPS = 2.0
SLIPPAGE_BPS = 5.0
LOOKBACK = 60
RTOL = 1e-9
SIZES = (10, 40, 100, 470)
FREQS = ("daily", "weekly", "monthly")


def load(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The repaired long bars of every full-history symbol, and their wide close."""
    import execlab as xl

    raw = xl.widen_ranges(pd.read_parquet(path))
    close = raw.pivot(index="date", columns="symbol", values="close")
    close.index = pd.DatetimeIndex(pd.to_datetime(close.index), name="date")
    full = sorted(close.columns[close.notna().all()])
    bars = raw[raw["symbol"].isin(full)].reset_index(drop=True)
    return bars, close[full]


def rebalance_rows(index: pd.DatetimeIndex, freq: str, first: int) -> pd.DatetimeIndex:
    """Every bar from ``first`` on (daily), or the last bar of each week or month from there."""
    idx = index[first:]
    if freq == "daily":
        return idx
    period = idx.to_period("W-FRI" if freq == "weekly" else "M")
    last = pd.Series(idx, index=idx).groupby(period).max()
    return pd.DatetimeIndex(last.to_numpy())


def momentum_shares(close: pd.DataFrame, rows: pd.DatetimeIndex, lookback: int = LOOKBACK) -> pd.DataFrame:
    """Top-half ``lookback``-bar momentum, equal dollars, whole shares, at each of ``rows``."""
    mom = (close / close.shift(lookback) - 1.0).loc[rows].to_numpy()
    px = close.loc[rows].to_numpy()
    k = max(close.shape[1] // 2, 1)
    out = np.zeros_like(px)
    order = np.argsort(-np.nan_to_num(mom, nan=-np.inf), axis=1, kind="mergesort")[:, :k]
    r = np.arange(px.shape[0])[:, None]
    out[r, order] = np.floor(0.95 * INITIAL_CASH / k / px[r, order])
    return pd.DataFrame(out, index=rows, columns=close.columns)


def execlab_config(fee_bps: float = FEE_BPS) -> Any:
    import execlab as xl

    return xl.Config.from_mapping({
        "initial_cash": INITIAL_CASH,
        "venue": {"fill_price": "close", "slippage": {"model": "fixed_bps", "bps": SLIPPAGE_BPS},
                  "fees": {"model": "bps", "bps": fee_bps}},
    })


def vbt_portfolio(close: pd.DataFrame, size: pd.DataFrame | np.ndarray, fees: Any = FEE_BPS * 1e-4,
                  group_by: Any = True) -> Any:
    import vectorbt as vbt

    return vbt.Portfolio.from_orders(
        close, size=size, size_type="targetamount", fees=fees, slippage=SLIPPAGE_BPS * 1e-4, init_cash=INITIAL_CASH,
        cash_sharing=True, group_by=group_by, call_seq="auto", size_granularity=1.0, freq="1D",
    )


# -- measuring ----------------------------------------------------------------------------------------------
def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_mib(fn: Callable[[], Any]) -> float | None:
    """Resident-set high-water mark during one call of ``fn`` minus the resident set before it, in MiB."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    before = _status_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return None
    result = fn()
    hwm = _status_kib("VmHWM")
    del result
    return None if before is None or hwm is None else (hwm - before) / 1024


def alternate(a: Callable[[], Any], b: Callable[[], Any], reps: int,
              cpu: tuple[list[float], list[float]] | None = None) -> tuple[list[float], list[float]]:
    """Time ``reps`` calls of each, alternating ABBA; returns both lists of wall seconds (and appends each call's
    process CPU seconds to ``cpu``'s two lists when given: on a loaded machine the CPU time is the steadier
    figure for single-threaded calls)."""
    ta: list[float] = []
    tb: list[float] = []
    ca, cb = cpu if cpu is not None else ([], [])
    for rep in range(reps):
        pair = ((a, ta, ca), (b, tb, cb)) if rep % 2 == 0 else ((b, tb, cb), (a, ta, ca))
        for fn, out, out_cpu in pair:
            gc.collect()
            c0 = time.process_time()
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
            out_cpu.append(time.process_time() - c0)
    return ta, tb


# -- the parts ----------------------------------------------------------------------------------------------
def grid(bars: pd.DataFrame, close: pd.DataFrame, reps: int) -> list[dict[str, Any]]:
    import execlab as xl

    cfg = execlab_config()
    rows = []
    for n in SIZES:
        symbols = list(close.columns[:n])
        market = xl.MarketData.from_bars(bars[bars["symbol"].isin(symbols)])
        cl = close[symbols]
        for freq in FREQS:
            targets = momentum_shares(cl, rebalance_rows(cl.index, freq, LOOKBACK))
            size = targets.reindex(cl.index)  # NaN: no order at that bar

            def run_xl(targets: pd.DataFrame = targets, market: Any = market) -> float:
                return float(xl.run_backtest(targets, market, cfg).final_value)

            def run_vbt(size: pd.DataFrame = size, cl: pd.DataFrame = cl) -> float:
                return float(vbt_portfolio(cl, size).final_value())

            xv, vv = run_xl(), run_vbt()  # warm-up, and the values compared
            cx: list[float] = []
            cv: list[float] = []
            load = os.getloadavg()[0]
            tx, tv = alternate(run_xl, run_vbt, reps, (cx, cv))
            row = {"symbols": n, "rebalance": freq, "rebalances": len(targets), "execlab_s": statistics.median(tx),
                   "vectorbt_s": statistics.median(tv), "execlab_value": xv, "vectorbt_value": vv,
                   "rel_diff": abs(xv - vv) / abs(vv), "execlab_peak_mib": peak_mib(run_xl),
                   "vectorbt_peak_mib": peak_mib(run_vbt)}
            row["ratio"] = row["execlab_s"] / row["vectorbt_s"]
            row["cpu_ratio"] = statistics.median(cx) / statistics.median(cv)
            row["load"] = load
            rows.append(row)
            print(f"  {n:4d} {freq:8s} {len(targets):5d}  execlab {row['execlab_s']:7.4f} s  vectorbt "
                  f"{row['vectorbt_s']:7.4f} s  ratio {row['ratio']:5.2f}  (CPU time {row['cpu_ratio']:5.2f}, load "
                  f"{load:4.1f})  |Δ| {row['rel_diff']:.1e}  peak MiB {_fmt(row['execlab_peak_mib'])} / "
                  f"{_fmt(row['vectorbt_peak_mib'])}", flush=True)
    return rows


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}"


SWEEP_LOOKBACKS = tuple(range(20, 220, 5))  # 40
SWEEP_FEES = tuple(float(f) for f in np.linspace(0.0, 12.0, 25))  # 25 -> 1,000 variants


def sweep_inputs(bars: pd.DataFrame, close: pd.DataFrame, n_symbols: int = 10) -> dict[str, Any]:
    """The 1,000-variant sweep's inputs: 40 momentum frames (by lookback) and 25 fee levels, both sides."""
    import execlab as xl

    symbols = list(close.columns[:n_symbols])
    cl = close[symbols]
    first = max(SWEEP_LOOKBACKS)
    rows = rebalance_rows(cl.index, "daily", first)
    frames = {f"lb{lb}": momentum_shares(cl, rows, lb) for lb in SWEEP_LOOKBACKS}
    market = xl.MarketData.from_bars(bars[bars["symbol"].isin(symbols)])
    # vectorbt: every variant's columns side by side, the frame of the variant's lookback, its fee on each column
    blocks, fees, groups = [], [], []
    v = 0
    for name in frames:
        sized = frames[name].reindex(cl.index).to_numpy()
        for fee in SWEEP_FEES:
            blocks.append(sized)
            fees.extend([fee * 1e-4] * n_symbols)
            groups.extend([v] * n_symbols)
            v += 1
    size = np.hstack(blocks)
    cols = pd.MultiIndex.from_arrays([np.repeat(np.arange(v), n_symbols), symbols * v], names=["variant", "symbol"])
    wide_close = pd.DataFrame(np.tile(cl.to_numpy(), (1, v)), index=cl.index, columns=cols)
    return {"frames": frames, "market": market, "size": size, "fees": np.array(fees)[None, :],
            "groups": np.array(groups), "close": wide_close, "variants": v}


def sweep(bars: pd.DataFrame, close: pd.DataFrame, reps: int) -> dict[str, Any]:
    import execlab as xl

    s = sweep_inputs(bars, close)
    cfg = execlab_config()

    def run_xl() -> Any:
        return xl.run_sweep(s["frames"], s["market"], cfg, grid={"venue.fees.bps": list(SWEEP_FEES)},
                            keep_results=False)

    def run_vbt() -> Any:
        return vbt_portfolio(s["close"], s["size"], fees=s["fees"], group_by=s["groups"])

    res, pf = run_xl(), run_vbt()
    xv = res.summary["final_value"].to_numpy()
    vv = pf.final_value().to_numpy()
    rel = float(np.max(np.abs(xv - vv) / np.abs(vv)))
    load = os.getloadavg()[0]
    tx, tv = alternate(run_xl, run_vbt, reps)
    out = {"variants": s["variants"], "failed": len(res.failures), "execlab_s": statistics.median(tx), "load": load,
           "vectorbt_s": statistics.median(tv), "rel_diff": rel, "execlab_peak_mib": peak_mib(run_xl),
           "vectorbt_peak_mib": peak_mib(run_vbt), "threads": cfg.sweep.threads or os.cpu_count()}
    out["ratio"] = out["execlab_s"] / out["vectorbt_s"]
    return out


def backtrader_point(bars: pd.DataFrame, close: pd.DataFrame, n_symbols: int = 100) -> dict[str, Any]:
    """backtrader and execlab on one grid point (``n_symbols`` daily), run once each (backtrader is slow)."""
    import backtrader as bt

    import execlab as xl

    symbols = list(close.columns[:n_symbols])
    cl = close[symbols]
    targets = momentum_shares(cl, rebalance_rows(cl.index, "daily", LOOKBACK))
    # With cheat-on-close an order placed at bar t executes at bar t's close in the next cycle, so the last
    # rebalance never executes: hold the last row equal to the one before on both sides.
    targets.iloc[-1] = targets.iloc[-2]
    by_date = {ts: row for ts, row in zip(targets.index, targets.to_numpy(), strict=True)}

    class Rebalance(bt.Strategy):  # type: ignore[misc]
        def next(self) -> None:
            row = by_date.get(pd.Timestamp(self.datas[0].datetime.date(0)))
            if row is None:
                return
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
    sub = bars[bars["symbol"].isin(symbols)].copy()
    sub["date"] = pd.to_datetime(sub["date"])
    for symbol, frame in sub.groupby("symbol", sort=True):
        feed = frame.set_index("date")[["open", "high", "low", "close", "volume"]].sort_index()
        cerebro.adddata(bt.feeds.PandasData(dataname=feed, openinterest=None), name=str(symbol))
    cerebro.addstrategy(Rebalance)
    market = xl.MarketData.from_bars(sub)
    cfg = execlab_config()
    xl.run_backtest(targets, market, cfg)  # warm
    t0 = time.perf_counter()
    xv = xl.run_backtest(targets, market, cfg).final_value
    tx = time.perf_counter() - t0
    t0 = time.perf_counter()
    cerebro.run()
    bv = float(cerebro.broker.getvalue())
    tb = time.perf_counter() - t0
    return {"symbols": n_symbols, "execlab_s": tx, "backtrader_s": tb, "execlab_value": xv, "backtrader_value": bv,
            "rel_diff": abs(xv - bv) / abs(xv)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--sweep-reps", type=int, default=3)
    parser.add_argument("--skip-backtrader", action="store_true")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--skip-grid", action="store_true")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"SKIPPED: shared data not found at {args.data}")
        return 0
    from importlib import metadata

    import numba
    import vectorbt

    print(f"python {sys.version.split()[0]}, execlab {metadata.version('execlab')}, vectorbt {vectorbt.__version__}, "
          f"numba {numba.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    bars, close = load(args.data)
    failed = False
    if not args.skip_grid:
        print(f"\n== grid: top-half {LOOKBACK}-day momentum, equal dollars, whole shares, close fills, "
              f"{SLIPPAGE_BPS:g} bp slippage, {FEE_BPS:g} bp fees; median of {args.reps}, alternating ==")
        print("  syms freq     rebal  times (median)                       execlab/vectorbt  final values  "
              "peak RSS increase execlab / vectorbt")
        rows = grid(bars, close, args.reps)
        worst = max(r["ratio"] for r in rows)
        print(f"  worst ratio {worst:.3f} (CPU time {max(r['cpu_ratio'] for r in rows):.3f}; goal <= 0.25); "
              f"largest value difference {max(r['rel_diff'] for r in rows):.1e} (goal <= {RTOL:g})")
        failed |= any(r["rel_diff"] > RTOL for r in rows)
    if not args.skip_sweep:
        print(f"\n== sweep: 10 symbols daily, {len(SWEEP_LOOKBACKS)} lookbacks x {len(SWEEP_FEES)} fee levels; "
              f"median of {args.sweep_reps}, alternating ==")
        s = sweep(bars, close, args.sweep_reps)
        print(f"  execlab run_sweep ({s['threads']} threads): {s['execlab_s']:.3f} s   vectorbt broadcast "
              f"({s['variants']} groups in one call): {s['vectorbt_s']:.3f} s   ratio {s['ratio']:.3f} "
              f"(goal <= 0.5; load {s['load']:.1f})")
        print(f"  failed variants {s['failed']}; largest final-value difference {s['rel_diff']:.1e}; peak RSS "
              f"increase execlab {_fmt(s['execlab_peak_mib'])} MiB, vectorbt {_fmt(s['vectorbt_peak_mib'])} MiB")
        failed |= s["rel_diff"] > RTOL or s["failed"] > 0
    if not args.skip_backtrader:
        b = backtrader_point(bars, close)
        print(f"\n== backtrader, one run each: {b['symbols']} symbols daily ==")
        print(f"  backtrader {b['backtrader_s']:.2f} s   execlab {b['execlab_s']:.4f} s   ratio backtrader/execlab "
              f"{b['backtrader_s'] / b['execlab_s']:,.0f}x   final values differ by {b['rel_diff']:.1e}")
    if failed:
        print(f"\nFAIL: a final value differs from vectorbt's by more than {RTOL:g}, or a variant failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
