"""A sweep's variants on a ``dask.distributed`` cluster: the bars and target frames scattered once to every worker,
variants sent in chunks, summaries and equity curves gathered, failures reported per variant with parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from execlab._config import Config
from execlab._core.instruments import InstrumentTable
from execlab._data.bars import MarketData
from execlab._runs.sweep import Row, Variant, _progress, _Runner, variant_chunks

__all__ = ["LOCAL_CLUSTER_CONFIG", "pack_rows", "run_on_dask", "sweep_client", "unpack_rows"]

_CHUNKS_PER_WORKER = 4

LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.tick.interval": "1s",
}
"""Dask settings the ``LocalCluster`` of :func:`sweep_client` starts with: no statistical profiler (it samples the
computing thread every 10 ms for a dashboard this cluster does not serve), and the system monitor and event-loop tick
at a slower pace; on a 2-core machine these cost the sweep's workers about a tenth of their time."""

_runner_cache: list[tuple[tuple[int, ...], _Runner]] = []


def sweep_client(config: Config) -> tuple[Any, Any]:
    """A ``distributed.Client`` as ``config.sweep`` says, and the ``LocalCluster`` started for it (``None`` when
    connected to ``dask_scheduler``); close both when done."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a dependency; a trimmed install may lack it
        raise ImportError("sweep.executor 'dask' needs the 'distributed' package (pip install 'dask[distributed]')"
                          ) from exc
    import dask

    s = config.sweep
    if s.dask_scheduler:
        return Client(s.dask_scheduler), None  # type: ignore[no-untyped-call]
    with dask.config.set(LOCAL_CLUSTER_CONFIG):  # read when the scheduler, nannies and client start
        cluster = LocalCluster(n_workers=s.dask_workers, threads_per_worker=s.dask_threads_per_worker,  # type: ignore[no-untyped-call]
                               processes=True, dashboard_address=None, host="127.0.0.1")
        return Client(cluster), cluster  # type: ignore[no-untyped-call]


def _chunk_on_worker(frames: Mapping[str, Any], market: MarketData, base: Config,
                     instruments: InstrumentTable | None, chunk: Sequence[tuple[int, Variant]]) -> Packed:
    """Run one chunk of variants on a worker, its rows packed (:func:`pack_rows`); the runner (aligned frames,
    resolved configs) is kept between chunks of the same sweep."""
    key = (id(frames), id(market), id(base), id(instruments))
    runner = next((r for k, r in _runner_cache if k == key), None)
    if runner is None:
        runner = _Runner(frames, market, base, instruments, keep=False)
        _runner_cache[:] = [(key, runner)]
    return pack_rows([row for part in variant_chunks(chunk, 1) for row in runner.run_chunk(part)])


Packed = tuple[list[tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]], list[tuple[int, str]]]
"""Rows as a few arrays: per set of summary keys, (keys, variant numbers, figures: variants × keys, equity:
variants × bars); and the failures as (variant number, error)."""


def pack_rows(rows: Sequence[Row]) -> Packed:
    """A chunk's rows as a few arrays (what a worker sends back: a handful of buffers, not one per variant)."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    failed: list[tuple[int, str]] = []
    for row in rows:
        if row[4] is not None or row[1] is None or row[2] is None:
            failed.append((row[0], str(row[4])))
        else:
            groups.setdefault(tuple(row[1]), []).append(row)
    return ([(keys, np.array([r[0] for r in members], dtype=np.int64),
              np.array([list(r[1].values()) for r in members], dtype=np.float64),
              np.stack([r[2] for r in members if r[2] is not None])) for keys, members in groups.items()], failed)


def unpack_rows(packed: Packed) -> list[Row]:
    """The rows :func:`pack_rows` packed (summary values back as Python floats)."""
    groups, failed = packed
    rows: list[Row] = []
    for keys, ks, figures, equity in groups:
        for k, values, curve in zip(ks.tolist(), figures.tolist(), equity, strict=True):
            rows.append((k, dict(zip(keys, values, strict=True)), curve, None, None))
    rows.extend((k, None, None, None, error) for k, error in failed)
    return rows


def run_on_dask(frames: Mapping[str, Any], market: MarketData, base: Config, instruments: InstrumentTable | None,
                variants: Sequence[Variant], client: Any, progress: bool) -> list[Row]:
    """Run every variant on the cluster of ``client`` (or one ``config.sweep`` describes); rows in any order."""
    from distributed import as_completed

    cluster = None
    own = client is None
    if own:
        client, cluster = sweep_client(base)
    try:
        n_workers = max(len(client.scheduler_info(n_workers=-1)["workers"]), 1)
        shared = client.scatter([dict(frames), market, base, instruments], broadcast=True)
        indexed = list(enumerate(variants))
        n_chunks = min(len(indexed), n_workers * _CHUNKS_PER_WORKER)
        chunks = [indexed[c::n_chunks] for c in range(n_chunks)] if n_chunks else []
        futures = [client.submit(_chunk_on_worker, *shared, chunk, pure=False) for chunk in chunks]
        sizes = {f.key: len(c) for f, c in zip(futures, chunks, strict=True)}
        members = {f.key: c for f, c in zip(futures, chunks, strict=True)}
        bar = _progress(len(indexed), progress)
        rows: list[Row] = []
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            try:
                rows.extend(unpack_rows(future.result()))
            except Exception as exc:  # the task itself failed (a worker died): each of its variants failed
                rows.extend((k, None, None, None, f"{type(exc).__name__}: {exc}") for k, _ in members[future.key])
            bar(sizes[future.key])
        bar(0, close=True)
        return rows
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
