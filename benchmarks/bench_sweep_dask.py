"""Benchmark: the 1,000-variant sweep of ``bench_speed_grid.py`` on a Dask ``LocalCluster`` of 1 and of 2 worker
processes (one thread each, started as ``run_sweep`` starts one: ``sweep.dask_workers``), against the same sweep
run locally; prints the speed-up, the busiest worker's CPU
time per run (the speed-up a free core per worker would give, whatever the machine's load) and memory per worker.

Both clusters are started and every worker warmed up (one small sweep: numba's cached kernels loaded) outside
the timing; then ``--reps`` timed calls of ``xl.run_sweep(frames, market, cfg, grid, client=client)`` on each
(scatter of bars and frames, the runs, gathering), alternating between the two (ABBA: the machine is shared),
medians reported with the load average. Memory per worker: each
worker process's resident set after the runs (``client.run`` of ``psutil``). The summary tables of the Dask runs
must equal the local one.

Usage: ``python benchmarks/bench_sweep_dask.py [--reps 5] [--variants 1000]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
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


def _cpu_s() -> float:
    """This process's CPU seconds (user + system), run on each worker."""
    import psutil

    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=grid.DATA)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"SKIPPED: shared data not found at {args.data}")
        return 0
    import execlab as xl
    from execlab._runs.sweep_dask import sweep_client

    bars, close = grid.load(args.data)
    s = grid.sweep_inputs(bars, close)
    cfg = grid.execlab_config()
    fees = {"venue.fees.bps": list(grid.SWEEP_FEES)}
    t0 = time.perf_counter()
    local = xl.run_sweep(s["frames"], s["market"], cfg, fees, keep_results=False)
    print(f"local run_sweep ({len(local)} variants, threads): {time.perf_counter() - t0:.3f} s (one call)")
    with contextlib.ExitStack() as stack:
        clients = {}
        for n in (1, 2):
            client, cluster = sweep_client(cfg.model_copy(update={"sweep": cfg.sweep.model_copy(
                update={"dask_workers": n, "dask_threads_per_worker": 1})}))
            stack.callback(cluster.close)
            stack.callback(client.close)
            clients[n] = client
            first = list(s["frames"])[:1]
            xl.run_sweep({k: s["frames"][k] for k in first}, s["market"], cfg, {"venue.fees.bps": [1.0] * (2 * n)},
                         client=client)  # warm every worker
        runs: dict[int, list[float]] = {1: [], 2: []}
        busiest: dict[int, list[float]] = {1: [], 2: []}  # CPU seconds of the busiest worker, per run
        loads = []
        results = {}
        for rep in range(args.reps):  # alternating ABBA: both clusters meet the same machine load
            for n in ((1, 2) if rep % 2 == 0 else (2, 1)):
                loads.append(os.getloadavg()[0])
                before = clients[n].run(_cpu_s)
                t0 = time.perf_counter()
                results[n] = xl.run_sweep(s["frames"], s["market"], cfg, fees, client=clients[n])
                runs[n].append(time.perf_counter() - t0)
                after = clients[n].run(_cpu_s)
                busiest[n].append(max(after[w] - before[w] for w in after))
        times = {n: statistics.median(runs[n]) for n in runs}
        for n in (1, 2):
            res = results[n]
            same = res.summary.sort_index().equals(local.summary) and res.failures.empty
            mem = clients[n].run(_rss_mib)
            print(f"{n} worker(s): median {times[n]:.3f} s  [{', '.join(f'{t:.3f}' for t in runs[n])}]  same table "
                  f"as local: {same}  worker RSS MiB: {', '.join(f'{v:.0f}' for v in mem.values())}")
            if not same:
                pd.testing.assert_frame_equal(res.summary.sort_index(), local.summary)
    ratios = [a / b for a, b in zip(runs[1], runs[2], strict=True)]
    print(f"speed-up 2 workers vs 1: {times[1] / times[2]:.2f}x (goal >= 1.6); per alternating pair: "
          f"{', '.join(f'{r:.2f}' for r in ratios)}; load average during the runs {min(loads):.1f}-{max(loads):.1f}")
    cpu1, cpu2 = statistics.median(busiest[1]), statistics.median(busiest[2])
    print(f"busiest worker's CPU seconds per run: 1 worker {cpu1:.2f}, 2 workers {cpu2:.2f}: the speed-up with a "
          f"free core per worker would be about {cpu1 / cpu2:.2f}x (plus the client's scatter and gather)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
