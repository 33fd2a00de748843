"""Benchmark: the 1,000-variant sweep of ``bench_speed_grid.py`` on a Dask ``LocalCluster`` of 1 and of 2 worker
processes (one thread each), against the same sweep run locally; prints the speed-up and memory per worker.

Per cluster size: the cluster is started and every worker warmed up (one small sweep: numba's cached kernels
loaded) outside the timing; then ``--reps`` timed calls of ``xl.run_sweep(frames, market, cfg, grid,
client=client)`` (scatter of bars and frames, the runs, gathering), median reported. Memory per worker: each
worker process's resident set after the runs (``client.run`` of ``psutil``). The summary tables of the Dask runs
must equal the local one.

Usage: ``python benchmarks/bench_sweep_dask.py [--reps 3] [--variants 1000]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_speed_grid as grid


def _rss_mib() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss / 2**20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=grid.DATA)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"SKIPPED: shared data not found at {args.data}")
        return 0
    from distributed import Client, LocalCluster

    import execlab as xl

    bars, close = grid.load(args.data)
    s = grid.sweep_inputs(bars, close)
    cfg = grid.execlab_config()
    fees = {"venue.fees.bps": list(grid.SWEEP_FEES)}
    t0 = time.perf_counter()
    local = xl.run_sweep(s["frames"], s["market"], cfg, fees, keep_results=False)
    print(f"local run_sweep ({len(local)} variants, threads): {time.perf_counter() - t0:.3f} s (one call)")
    times: dict[int, float] = {}
    for n in (1, 2):
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                          host="127.0.0.1") as cluster, Client(cluster) as client:
            first = list(s["frames"])[:1]
            xl.run_sweep({k: s["frames"][k] for k in first}, s["market"], cfg, {"venue.fees.bps": [1.0] * (2 * n)},
                         client=client)  # warm every worker
            runs = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                res = xl.run_sweep(s["frames"], s["market"], cfg, fees, client=client)
                runs.append(time.perf_counter() - t0)
            same = res.summary.sort_index().equals(local.summary) and res.failures.empty
            mem = client.run(_rss_mib)
            times[n] = statistics.median(runs)
            print(f"{n} worker(s): median {times[n]:.3f} s  [{', '.join(f'{t:.3f}' for t in runs)}]  same table as "
                  f"local: {same}  worker RSS MiB: {', '.join(f'{v:.0f}' for v in mem.values())}")
            if not same:
                pd.testing.assert_frame_equal(res.summary.sort_index(), local.summary)
    print(f"speed-up 2 workers vs 1: {times[1] / times[2]:.2f}x (goal >= 1.6)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
