"""Sweeps: many target frames and/or a parameter grid in one call, one result indexed by variant.

Every variant is one :func:`execlab.run_backtest` on the shared bars, in the compiled loop: back to back on this
machine's threads (the loop releases the GIL), or on a ``dask.distributed`` cluster (bars shipped once per worker,
results gathered, failures reported per variant with their parameters).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from execlab._config import Config, ConfigError
from execlab._core.arrays import FloatArray
from execlab._core.instruments import InstrumentTable
from execlab._data.bars import MarketData
from execlab._data.targets import TargetMatrix, align_targets
from execlab._execution.compiled_backtest import CompiledRun, compiled_run, loop_arguments
from execlab._execution.compiled_sweep import BOOK_STATUS, POSITIONS_ARG, loop_outputs
from execlab._runs.backtest import BacktestResult, compiled_arguments, run_aligned
from execlab._runs.performance import bars_per_year
from execlab._runs.sweep_summary import RunArrays, run_summaries
from execlab._sim import margin

__all__ = ["SweepResult", "Variant", "run_sweep", "sweep_variants"]


@dataclass(frozen=True)
class Variant:
    """One run of a sweep: which target frame, and the config values it changes (dotted keys)."""

    targets: str
    params: tuple[tuple[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """``targets`` and every parameter, for a table row."""
        return {"targets": self.targets, **dict(self.params)}


def sweep_variants(target_names: Sequence[str], grid: Mapping[str, Sequence[Any]] | None = None) -> list[Variant]:
    """Every target frame × every combination of the grid's values (the last grid key varies fastest)."""
    keys = list(grid or {})
    values = [list((grid or {})[k]) for k in keys]
    for k, v in zip(keys, values, strict=True):
        if not v:
            raise ConfigError(f"grid: {k!r} has no values")
    return [Variant(name, tuple(zip(keys, combo, strict=True)))
            for name in target_names for combo in itertools.product(*values)]


def variant_config(base: Config, params: Iterable[tuple[str, Any]]) -> Config:
    """``base`` with each dotted key (``venue.fees.bps``) set, validated; :class:`ConfigError` names a bad key."""
    data = base.model_dump()
    for key, value in params:
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"grid: {key!r} is not a config key")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"grid: {key!r} is not a config key")
        node[parts[-1]] = value
    return Config.from_mapping(data)


def _named_frames(targets: Any) -> dict[str, Any]:
    if isinstance(targets, Mapping):
        return {str(k): v for k, v in targets.items()}
    if isinstance(targets, (list, tuple)):
        return {str(k): v for k, v in enumerate(targets)}
    return {"targets": targets}


class _Runner:
    """Runs variants on one market: aligns each target frame once per plan unit, resolves each config once."""

    def __init__(self, frames: Mapping[str, Any], market: MarketData, base: Config,
                 instruments: InstrumentTable | None, keep: bool):
        self.frames = frames
        self.market = market
        self.base = base
        self.table = instruments if instruments is not None else InstrumentTable()
        self.keep = keep
        self._aligned: dict[tuple[Any, ...], tuple[TargetMatrix, MarketData]] = {}
        self._configs: dict[tuple[tuple[str, Any], ...], Config] = {}
        self._bars_per_year: dict[tuple[int, int], float] = {}

    def config(self, params: tuple[tuple[str, Any], ...]) -> Config:
        cfg = self._configs.get(params)
        if cfg is None:
            cfg = self._configs[params] = variant_config(self.base, params) if params else self.base
        return cfg

    def aligned(self, name: str, cfg: Config) -> tuple[TargetMatrix, MarketData]:
        lev = margin.leverage(cfg.venue.margin)
        key = (name, cfg.plan.target_unit, cfg.plan.allow_short, lev)
        hit = self._aligned.get(key)
        if hit is None:
            tm = align_targets(self.frames[name], self.market, cfg.plan.target_unit, cfg.plan.allow_short, lev,
                               self.table)
            market = self.market if tm.symbols == self.market.symbols else self.market.select(tm.symbols)
            hit = self._aligned[key] = (tm, market)
        return hit

    def run(self, variant: Variant) -> tuple[dict[str, float], np.ndarray, BacktestResult | None]:
        cfg = self.config(variant.params)
        tm, market = self.aligned(variant.targets, cfg)
        return self.figures(run_aligned(tm, market, cfg, self.table))

    def figures(self, result: BacktestResult) -> tuple[dict[str, float], np.ndarray, BacktestResult | None]:
        """A run's summary and equity curve (and the run itself when kept)."""
        first = int(result.rebalance_bars[0]) if result.rebalance_bars.size else 0
        ppy = self.periods_per_year(result.timestamps, first)
        return result.summary(periods_per_year=ppy), result._equity_values(), (result if self.keep else None)

    def periods_per_year(self, timestamps: pd.DatetimeIndex, first: int) -> float:
        """What the summary would find from the measured span's bars, found once per span."""
        key = (id(timestamps), first)
        ppy = self._bars_per_year.get(key)
        if ppy is None:
            ppy = self._bars_per_year[key] = bars_per_year(timestamps[first:])
        return ppy

    def _from_result(self, k: int, cfg: Config, market: MarketData, tm: TargetMatrix, rate: FloatArray | None,
                     run: CompiledRun) -> Row:
        try:
            summary, equity, result = self.figures(
                BacktestResult(cfg, market, run.book, run.positions, run.cash, tm.bars, rate=rate))
            return (k, summary, equity, result, None)
        except Exception as exc:  # pragma: no cover - summaries of a finished run do not fail
            return (k, None, None, None, f"{type(exc).__name__}: {exc}")

    def _from_arrays(self, arrays: Sequence[tuple[int, Variant, RunArrays]], market: MarketData) -> list[Row]:
        """The rows of runs summarised from their arrays at once (a run whose span is too short: through its
        result)."""
        done = run_summaries([a for *_, a in arrays], market,
                             lambda first: self.periods_per_year(market.timestamps, first))
        return [(k, fig[0], fig[1], None, None) if fig is not None else _run_one(self, k, v)
                for (k, v, _), fig in zip(arrays, done, strict=True)]

    def run_chunk(self, chunk: Sequence[tuple[int, Variant]]) -> list[Row]:
        """Run a chunk of variants: those the compiled loop can run in one compiled call per market, the others
        (execution algorithms, a data gap) one by one as :func:`run_backtest` runs them."""
        rows: list[Row] = []
        compiled: dict[int, list[tuple[int, Variant, Config, TargetMatrix, MarketData, FloatArray | None,
                                      tuple[Any, ...]]]] = {}
        for k, v in chunk:
            try:
                cfg = self.config(v.params)
                tm, market = self.aligned(v.targets, cfg)
                market, rate, args = compiled_arguments(tm, market, cfg, self.table)
                if args is not None:
                    compiled.setdefault(id(market), []).append((k, v, cfg, tm, market, rate, loop_arguments(*args)))
                    continue
            except Exception as exc:  # a failed variant is reported with its parameters, the sweep goes on
                rows.append((k, None, None, None, f"{type(exc).__name__}: {exc}"))
                continue
            rows.append(_run_one(self, k, v))
        for group in compiled.values():
            try:
                outs = loop_outputs([g[6] for g in group])
            except Exception:  # pragma: no cover - the loop raised: each variant alone reports its own error
                rows.extend(_run_one(self, k, v) for k, v, *_ in group)
                continue
            arrays: list[tuple[int, Variant, RunArrays]] = []
            for (k, v, cfg, tm, market, rate, args), out in zip(group, outs, strict=True):
                if out[4] >= 0:  # a data gap: the per-step path's data-gap policy decides
                    rows.append(_run_one(self, k, v))
                elif not self.keep and rate is None:  # figures from the arrays, no result built
                    arrays.append((k, v, _run_arrays(cfg, tm, args, out)))
                else:
                    run = compiled_run(args, out)
                    rows.append(_run_one(self, k, v) if run is None else self._from_result(k, cfg, market, tm, rate,
                                                                                          run))
            if arrays:
                rows.extend(self._from_arrays(arrays, group[0][4]))
        return rows


Row = tuple[int, Any, np.ndarray | None, Any, str | None]


def _run_arrays(cfg: Config, tm: TargetMatrix, args: tuple[Any, ...], out: tuple[Any, ...]) -> RunArrays:
    """A compiled run's arrays (``args`` from ``loop_arguments``, ``out`` what the loop returned for them)."""
    book, n_orders, fills, n_fills, _ = out
    return RunArrays(cfg.initial_cash, int(tm.bars[0]) if tm.bars.size else 0, args[POSITIONS_ARG],
                     args[POSITIONS_ARG + 1], book[BOOK_STATUS][:n_orders], fills[1][:n_fills],
                     fills[2][:n_fills], fills[3][:n_fills], fills[4][:n_fills], fills[5][:n_fills])


_CHUNK: int = 25
"""Variants per compiled call: large enough that the Python around each call is small beside it, small enough
that threads share the work evenly and the progress bar moves."""


def _run_one(runner: _Runner, k: int, variant: Variant) -> tuple[int, Any, np.ndarray | None, Any, str | None]:
    try:
        summary, equity, result = runner.run(variant)
        return k, summary, equity, result, None
    except Exception as exc:  # a failed variant is reported with its parameters, the sweep goes on
        return k, None, None, None, f"{type(exc).__name__}: {exc}"


class SweepResult:
    """Every variant's summary (one row per variant: its target frame, parameters and headline figures), its
    equity curve, failures with their parameters, and (when kept) each variant's :class:`BacktestResult`."""

    def __init__(self, variants: Sequence[Variant], timestamps: pd.DatetimeIndex,
                 rows: Sequence[tuple[int, Any, np.ndarray | None, Any, str | None]]):
        self.variants = list(variants)
        by_k = {r[0]: r for r in rows}
        params = pd.DataFrame([v.as_dict() for v in self.variants], index=pd.RangeIndex(len(self.variants),
                                                                                          name="variant"))
        ok = [k for k in range(len(self.variants)) if by_k[k][4] is None]
        figures = pd.DataFrame([by_k[k][1] for k in ok], index=pd.Index(ok, name="variant"))
        self.summary: pd.DataFrame = params.loc[ok].join(figures)
        """One row per variant that ran: ``targets``, the grid's keys, then :meth:`BacktestResult.summary`."""
        failed = [k for k in range(len(self.variants)) if by_k[k][4] is not None]
        errors: list[Any] = [by_k[k][4] for k in failed]
        self.failures: pd.DataFrame = params.loc[failed].assign(error=errors)
        """One row per variant that failed: its target frame, parameters and the error."""
        self._equity = {k: by_k[k][2] for k in ok}
        self._timestamps = timestamps
        self.results: dict[int, BacktestResult] = {k: by_k[k][3] for k in ok if by_k[k][3] is not None}
        """Each variant's full result (kept unless ``keep_results=False``; a Dask sweep gathers summaries and
        equity only)."""

    @property
    def equity(self) -> pd.DataFrame:
        """Equity per bar (rows) and variant (columns)."""
        return pd.DataFrame({k: v for k, v in self._equity.items()}, index=self._timestamps)

    def __getitem__(self, variant: int) -> BacktestResult:
        return self.results[variant]

    def __len__(self) -> int:
        return len(self.variants)

    def __repr__(self) -> str:
        return f"SweepResult(variants={len(self.variants)}, ran={len(self.summary)}, failed={len(self.failures)})"


def run_sweep(
    targets: Any,
    bars: Any,
    config: Config | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    instruments: InstrumentTable | None = None,
    *,
    keep_results: bool = True,
    progress: bool = False,
    client: Any = None,
) -> SweepResult:
    """Run many backtests in one call: every target frame × every combination of ``grid``'s values.

    ``targets``: one target frame, a list of them or a mapping of names to frames (as :func:`run_backtest` takes
    them). ``grid``: dotted config keys to lists of values, e.g. ``{"venue.fees.bps": [1, 2, 5],
    "plan.no_trade_band": [0, 0.01]}``. Each variant runs :func:`run_backtest` on the shared bars (in the
    compiled loop), so its figures are the ones a single run gives. Where: ``config.sweep`` (threads here, or a
    Dask cluster: a ``LocalCluster`` or ``sweep.dask_scheduler``), or an existing ``distributed.Client`` given as
    ``client``. A variant that fails (a bad grid value, targets its config refuses) is reported in
    :attr:`SweepResult.failures` with its parameters; the others run. ``progress`` shows a progress bar.
    """
    base = config or Config()
    frames = _named_frames(targets)
    variants = sweep_variants(list(frames), grid)
    market = bars if isinstance(bars, MarketData) else MarketData.from_bars(bars)
    if client is not None or base.sweep.executor == "dask":
        from execlab._runs.sweep_dask import run_on_dask

        return SweepResult(variants, market.timestamps,
                           run_on_dask(frames, market, base, instruments, variants, client, progress))
    runner = _Runner(frames, market, base, instruments, keep_results)
    threads = base.sweep.threads or os.cpu_count() or 1
    bar = _progress(len(variants), progress)
    indexed = list(enumerate(variants))
    chunks = variant_chunks(indexed, threads)
    rows: list[Row] = []
    if threads == 1 or len(chunks) == 1:
        for chunk in chunks:
            rows.extend(runner.run_chunk(chunk))
            bar(len(chunk))
    else:
        for v in variants:  # resolve configs and align frames once, before the threads share the runner
            try:
                runner.aligned(v.targets, runner.config(v.params))
            except Exception:
                continue
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for done in pool.map(runner.run_chunk, chunks):
                rows.extend(done)
                bar(len(done))
    bar(0, close=True)
    return SweepResult(variants, market.timestamps, rows)


def variant_chunks(indexed: Sequence[tuple[int, Variant]], workers: int, size: int = _CHUNK
                   ) -> list[list[tuple[int, Variant]]]:
    """``indexed`` in chunks of at most ``size`` consecutive variants, at least two per worker when there are
    enough variants (so no worker waits long for the last chunk)."""
    n = len(indexed)
    if n == 0:
        return []
    size = max(1, min(size, -(-n // (2 * max(workers, 1)))))
    return [list(indexed[c:c + size]) for c in range(0, n, size)]


def _progress(total: int, show: bool) -> Callable[..., None]:
    """A progress bar's update function (a no-op when not shown)."""
    if not show:
        return lambda n, close=False: None
    from tqdm.auto import tqdm  # type: ignore[import-untyped]

    bar = tqdm(total=total, unit="variant")

    def update(n: int, close: bool = False) -> None:
        bar.update(n)
        if close:
            bar.close()

    return update

