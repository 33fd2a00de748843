"""Benchmark: numba's cold compile, what a fresh clone (and every new interpreter in CI) pays on its first run.

Deletes every numba cache file (``*.nbi``, ``*.nbc``) under ``execlab/``, then in a fresh interpreter runs the demo's
first backtest and, after it, a first ``run_sweep`` of two variants, and prints the CPU seconds of each and the
compiles that took longest (exclusive of the compiles they started, from numba's ``numba:compile`` events). The
caches are left filled for the next run. Reports the load (``uptime``): the machine is shared.

Usage: ``python benchmarks/bench_cold_compile.py [--top 12]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import collections, sys, time
from numba.core import event

stack, excl, incl = [], collections.Counter(), collections.Counter()


class Timer(event.Listener):
    def on_start(self, ev):
        f = ev.data["dispatcher"].py_func
        stack.append([f.__module__ + "." + f.__qualname__, time.process_time(), 0.0])

    def on_end(self, ev):
        name, t0, child = stack.pop()
        d = time.process_time() - t0
        incl[name] += d
        excl[name] += d - child
        if stack:
            stack[-1][2] += d


event.register("numba:compile", Timer())
import execlab as xl
from execlab.strategies import momentum_targets

bars = xl.sample_bars()
config = xl.load_config("examples/demo.yaml")
t = time.process_time()
xl.run_backtest(momentum_targets(bars), bars, config)
print(f"demo backtest, cold: {time.process_time() - t:5.1f} s CPU")
t = time.process_time()
xl.run_sweep(momentum_targets(bars), bars, config, grid={"plan.no_trade_band": [0.0, 0.01]})
print(f"first run_sweep of 2 variants after it: {time.process_time() - t:5.1f} s CPU")
print("longest compiles (s CPU, exclusive / inclusive):")
for name, e in excl.most_common(int(sys.argv[1])):
    print(f"  {e:5.1f} / {incl[name]:5.1f}  {name}")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=12, help="how many compiles to list")
    args = parser.parse_args()
    removed = 0
    for pattern in ("*.nbi", "*.nbc"):
        for path in (ROOT / "execlab").rglob(pattern):
            path.unlink()
            removed += 1
    print(f"removed {removed} numba cache files; load {os.getloadavg()[0]:.1f}")
    subprocess.run([sys.executable, "-c", _CHILD, str(args.top)], cwd=ROOT, check=True)
    print(f"load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
