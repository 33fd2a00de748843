"""Start-up cost: ``import execlab`` (total of ``python -X importtime``) and ``execlab --help`` wall time.

Prints the median of a few runs of each, and the bare interpreter's start for reference. Run from the repository
with the project's venv: ``.venv/bin/python benchmarks/bench_import.py``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 5


def _wall(args: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(args, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _importtime(module: str) -> float:
    """Seconds ``python -X importtime`` counts for ``module`` (its cumulative line), median of runs."""
    totals = []
    for _ in range(RUNS):
        err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True,
                             text=True, check=True).stderr
        line = next(x for x in reversed(err.splitlines()) if x.rstrip().endswith(f"| {module}"))
        totals.append(int(line.split("|")[1]) / 1e6)
    return statistics.median(totals)


def main() -> None:
    script = Path(sys.executable).parent / "execlab"
    bare = _wall([sys.executable, "-c", "pass"])
    print(f"python -c pass:                         {bare:6.3f} s")
    print(f"import execlab (-X importtime total):   {_importtime('execlab'):6.3f} s")
    print(f"python -c 'import execlab' (wall):      {_wall([sys.executable, '-c', 'import execlab']):6.3f} s")
    print(f"import execlab._cli.main (importtime):  {_importtime('execlab._cli.main'):6.3f} s")
    print(f"execlab --help (wall):                  {_wall([str(script), '--help']):6.3f} s")
    print(f"execlab.run_backtest resolved (wall):   "
          f"{_wall([sys.executable, '-c', 'import execlab; execlab.run_backtest']):6.3f} s")


if __name__ == "__main__":
    main()
