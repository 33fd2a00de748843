"""Sweeps in one call: many target frames × a parameter grid, one result indexed by variant, each variant's figures
the ones a single ``run_backtest`` gives; failures reported per variant; the same table from a Dask cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import execlab as xl


def _market(n_bars: int = 40, symbols: tuple[str, ...] = ("A", "B", "C")) -> xl.MarketData:
    rng = np.random.default_rng(11)
    times = pd.bdate_range("2024-01-01", periods=n_bars)
    rows = []
    for sym in symbols:
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n_bars)))
        for ts, c in zip(times, close, strict=True):
            rows.append({"timestamp": ts, "symbol": sym, "open": c, "high": c * 1.01, "low": c * 0.99, "close": c,
                         "volume": 1e5})
    return xl.MarketData.from_bars(pd.DataFrame(rows))


def _frames(market: xl.MarketData) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(2)
    idx = market.timestamps[::2]
    return {name: pd.DataFrame(rng.integers(0, 300, size=(len(idx), 3)).astype(float), index=idx,
                               columns=list(market.symbols)) for name in ("fast", "slow")}


CONFIG = xl.Config.from_mapping({"initial_cash": 50_000.0, "venue": {"slippage": {"model": "fixed_bps", "bps": 5.0},
                                                                     "fees": {"model": "bps", "bps": 2.0}}})
GRID = {"venue.fees.bps": [0.0, 2.0, 10.0], "plan.no_trade_band": [0.0, 0.02]}


def test_every_variant_is_what_a_single_run_gives() -> None:
    market = _market()
    frames = _frames(market)
    sweep = xl.run_sweep(frames, market, CONFIG, GRID)
    assert len(sweep) == 12 and len(sweep.summary) == 12 and sweep.failures.empty
    assert list(sweep.summary.columns[:3]) == ["targets", "venue.fees.bps", "plan.no_trade_band"]
    for k, row in sweep.summary.iterrows():
        cfg = xl.Config.from_mapping({**CONFIG.model_dump(), "venue": {
            **CONFIG.venue.model_dump(), "fees": {**CONFIG.venue.fees.model_dump(), "bps": row["venue.fees.bps"]}},
            "plan": {**CONFIG.plan.model_dump(), "no_trade_band": row["plan.no_trade_band"]}})
        single = xl.run_backtest(frames[row["targets"]], market, cfg)
        assert row["final_value"] == single.final_value
        assert row.drop(["targets", "venue.fees.bps", "plan.no_trade_band"]).to_dict() == single.summary()
        pd.testing.assert_series_equal(sweep.equity[k], single.equity, check_names=False)
        pd.testing.assert_frame_equal(sweep[k].orders, single.orders)
    # the fee level moves the figures: the grid was applied
    fees = sweep.summary.groupby("venue.fees.bps")["fees"].sum()
    assert fees[0.0] == 0.0 and fees[10.0] > fees[2.0] > 0.0


def test_one_thread_and_many_give_the_same_table() -> None:
    market = _market()
    frames = _frames(market)
    one = xl.run_sweep(frames, market, CONFIG.model_copy(update={"sweep": xl.SweepConfig(threads=1)}), GRID)
    many = xl.run_sweep(frames, market, CONFIG.model_copy(update={"sweep": xl.SweepConfig(threads=4)}), GRID,
                        keep_results=False)
    pd.testing.assert_frame_equal(one.summary, many.summary)
    assert many.results == {}


def test_a_failing_variant_is_reported_with_its_parameters_and_the_others_run() -> None:
    market = _market()
    frames = _frames(market)
    sweep = xl.run_sweep(frames, market, CONFIG, {"venue.fees.bps": [1.0, -5.0], "plan.allow_short": [False]})
    assert len(sweep.summary) == 2 and len(sweep.failures) == 2
    failed = sweep.failures
    assert set(failed["venue.fees.bps"]) == {-5.0} and set(failed["targets"]) == {"fast", "slow"}
    assert failed["error"].str.contains("venue.fees.bps").all()
    unknown = xl.run_sweep(frames, market, CONFIG, {"no.such": [1]})
    assert unknown.summary.empty
    assert unknown.failures["error"].str.contains("'no.such' is not a config key").all()


def test_variants_that_meet_a_data_gap_run_step_by_step_beside_compiled_ones() -> None:
    rng = np.random.default_rng(5)
    times = pd.bdate_range("2024-01-01", periods=40)
    rows = []
    for sym in ("A", "B", "C"):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, 40)))
        for t, (ts, c) in enumerate(zip(times, close, strict=True)):
            if sym == "B" and t == 21:
                continue  # no bar for B at t = 21: a rebalance there meets a gap when B is held or targeted
            rows.append({"timestamp": ts, "symbol": sym, "open": c, "high": c * 1.01, "low": c * 0.99, "close": c,
                         "volume": 1e5})
    market = xl.MarketData.from_bars(pd.DataFrame(rows))
    odd = pd.DataFrame(100.0, index=market.timestamps[1::2], columns=list(market.symbols))  # meets t = 21
    even = pd.DataFrame(100.0, index=market.timestamps[::2], columns=list(market.symbols))  # does not
    cfg = xl.Config.from_mapping({**CONFIG.model_dump(), "data": {"gaps": "warn"},
                                  "sweep": {"threads": 1}})
    with pytest.warns(xl.DataGapWarning):
        sweep = xl.run_sweep({"odd": odd, "even": even}, market, cfg, {"venue.fees.bps": [1.0, 4.0]})
    assert sweep.failures.empty and len(sweep.summary) == 4
    with pytest.raises(ValueError, match="data gap"):  # the compiled loop stops at the gap: the sweep fell back
        xl.run_backtest(odd, market, cfg, engine="compiled")
    for k, row in sweep.summary.iterrows():
        frame = odd if row["targets"] == "odd" else even
        one = cfg.model_copy(update={"venue": cfg.venue.model_copy(update={
            "fees": cfg.venue.fees.model_copy(update={"bps": row["venue.fees.bps"]})})})
        if row["targets"] == "odd":
            with pytest.warns(xl.DataGapWarning):
                single = xl.run_backtest(frame, market, one)
        else:
            single = xl.run_backtest(frame, market, one, engine="compiled")
        assert row.drop(["targets", "venue.fees.bps"]).to_dict() == single.summary()
        pd.testing.assert_frame_equal(sweep[k].orders, single.orders)
        pd.testing.assert_series_equal(sweep.equity[k], single.equity, check_names=False)


@pytest.mark.slow
def test_a_dask_cluster_gives_the_same_table() -> None:
    pytest.importorskip("distributed")
    import dask

    from execlab._runs.sweep_dask import LOCAL_CLUSTER_CONFIG, sweep_client

    market = _market()
    frames = _frames(market)
    local = xl.run_sweep(frames, market, CONFIG, {**GRID, "venue.fees.bps": [2.0, -1.0]})
    client, cluster = sweep_client(CONFIG.model_copy(update={"sweep": CONFIG.sweep.model_copy(
        update={"dask_workers": 1, "dask_threads_per_worker": 1})}))
    try:
        remote = xl.run_sweep(frames, market, CONFIG, {**GRID, "venue.fees.bps": [2.0, -1.0]}, client=client)
        settings = client.run(lambda: {k: dask.config.get(k) for k in LOCAL_CLUSTER_CONFIG})
    finally:
        client.close()
        cluster.close()
    assert list(settings.values()) == [LOCAL_CLUSTER_CONFIG]  # one worker, started with the sweep's settings
    pd.testing.assert_frame_equal(local.summary, remote.summary.sort_index())
    pd.testing.assert_frame_equal(local.failures, remote.failures.sort_index())
    pd.testing.assert_frame_equal(local.equity, remote.equity[local.equity.columns])
    assert len(remote.failures) == 4 and remote.results == {}
