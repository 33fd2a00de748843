"""TCA per execution algorithm, from a backtest and from a paper run's journal (``execlab tca --by algo``), on
synthetic minute bars whose prices and volumes make every figure computable by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import execlab as xl
from execlab._analysis.algo_tca import algo_tca, parents_from_journal
from execlab._analysis.tca import tca_from_backtest, tca_from_journal
from execlab._cli.main import app
from execlab._oms.journal import Journal

START = pd.Timestamp("2024-03-05 14:30", tz="UTC")


def minute_bars() -> pd.DataFrame:
    """One symbol, 20 minutes: price 100 + 0.1 per minute (flat bars), volume 1,000 a minute."""
    rows = []
    for m in range(-5, 15):
        px = 100.0 + 0.1 * m
        rows.append({"ts": START + pd.Timedelta(minutes=m), "symbol": "XYZ", "open": px, "high": px, "low": px,
                     "close": px, "volume": 1_000.0})
    return pd.DataFrame(rows)


def targets() -> pd.DataFrame:
    return pd.DataFrame({"XYZ": [400.0]}, index=[START])


def config(mode: str, **execution: object) -> xl.Config:
    return xl.load_config({"mode": mode, "venue": {"fill_price": "next_open"},
                           "execution": {"algo": "twap", "horizon": "4min", "slices": 4, **execution}})


def test_twap_parent_costs_by_hand() -> None:
    bars = minute_bars()
    result = xl.run_backtest(targets(), bars, config("backtest"))
    kids = result.orders
    assert kids["quantity"].tolist() == [100.0] * 4 and kids["parent_id"].nunique() == 1
    costs = algo_tca(tca_from_backtest(result), result.parents, result.market)
    p = costs.parents.iloc[0]
    # children sent at minutes 0..3 fill at the next open: 100.1, 100.2, 100.3, 100.4
    assert p["fill_vwap"] == pytest.approx(100.25)
    assert p["slippage_arrival_bps"] == pytest.approx((100.25 - 100.0) / 100.0 * 1e4)
    # interval from the start (minute 0) to the last fill (minute 4): flat bars of equal volume
    assert p["interval_vwap"] == pytest.approx(100.2)
    assert p["slippage_vwap_bps"] == pytest.approx((100.25 - 100.2) / 100.2 * 1e4)
    assert p["participation"] == pytest.approx(400 / 5_000)
    assert p["schedule_deviation_mean_pct"] == pytest.approx(0.0)
    row = costs.by_algo().iloc[0]
    assert row["algo"] == "twap" and row["parents"] == 1 and row["children"] == 4
    assert len(costs.children) == 4 and np.isfinite(costs.children["slippage_arrival_bps"]).all()


def test_pov_reports_participation_against_its_cap() -> None:
    result = xl.run_backtest(targets(), minute_bars(), config("backtest", algo="pov", participation=0.1))
    costs = algo_tca(tca_from_backtest(result), result.parents, result.market)
    row = costs.by_algo().iloc[0]
    assert row["participation_cap"] == 0.1
    assert 0 < row["participation"] <= 0.1 + 1e-9  # 100 a minute against 1,000
    assert np.isnan(costs.parents.iloc[0]["schedule_deviation_mean_pct"])


def test_tca_by_algo_from_a_paper_journal(tmp_path: Path) -> None:
    bars = minute_bars()
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    xl.run_paper(targets(), bars, config("paper"), journal=journal)
    parents = parents_from_journal(journal, "run")
    assert parents[["symbol", "side", "quantity", "algo"]].values.tolist() == [["XYZ", "buy", 400.0, "twap"]]
    tca = tca_from_journal(journal, "run", bars)
    assert set(tca.orders["algo"]) == {"twap"} and tca.orders["parent_id"].nunique() == 1
    from_journal = algo_tca(tca, parents, bars).parents.iloc[0]
    assert from_journal["fill_vwap"] == pytest.approx(100.25)
    journal.close()
    bars_file = tmp_path / "bars.parquet"
    bars.to_parquet(bars_file)
    run = CliRunner().invoke(app, ["tca", "--journal", str(path), "--run-id", "run", "--bars", str(bars_file),
                                   "--by", "algo"], env={"COLUMNS": "200"})
    assert run.exit_code == 0, run.output
    assert "by algorithm" in run.output and "twap" in run.output and "parents" in run.output
