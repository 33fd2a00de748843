"""Data gaps are a stated policy (``data.gaps``), never a silent change of the result: a symbol with a target or a
position but no price at a rebalance time, and a bar with a close but no open where the venue fills at the open,
stop the run (``error``, the default) or warn and go on (``warn``). Orders still working when the data ends are
listed in the result and counted in its summary."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import execlab as xl
from execlab import Config, DataGapError, DataGapWarning, ReplayFeed, run_backtest, run_paper
from execlab._cli.main import app

DAYS = pd.date_range("2024-01-02", periods=4, freq="D")


def _bars(drop: tuple[str, pd.Timestamp] | None = None, no_open: tuple[str, pd.Timestamp] | None = None,
          volume: float = 1e6) -> pd.DataFrame:
    rows = [{"timestamp": ts, "symbol": sym, "open": px + i, "high": px + i + 1, "low": px + i - 1,
             "close": px + i + 0.5, "volume": volume}
            for i, ts in enumerate(DAYS) for sym, px in (("AAA", 10.0), ("BBB", 20.0))]
    frame = pd.DataFrame(rows)
    if drop is not None:
        frame = frame[~((frame["symbol"] == drop[0]) & (frame["timestamp"] == drop[1]))]
    if no_open is not None:
        frame.loc[(frame["symbol"] == no_open[0]) & (frame["timestamp"] == no_open[1]), "open"] = np.nan
    return frame.reset_index(drop=True)


def _targets(rows: dict[pd.Timestamp, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index")


def _config(**data: object) -> Config:
    return Config.from_mapping({"initial_cash": 100_000.0, "data": data} if data else {"initial_cash": 100_000.0})


# -- a missing close at a rebalance time ----------------------------------------------------------------------------
def test_no_close_for_a_targeted_symbol_is_an_error_naming_symbol_and_time() -> None:
    targets = _targets({DAYS[0]: {"AAA": 100, "BBB": 0}, DAYS[2]: {"AAA": 100, "BBB": 50}})
    bars = _bars(drop=("BBB", DAYS[2]))
    with pytest.raises(DataGapError, match=r"symbol 'BBB' has a target or a position at rebalance time "
                                           r"2024-01-04 00:00:00 but no price.*data\.gaps: warn"):
        run_backtest(targets, bars, _config())
    with pytest.raises(xl.BarsError):  # a DataGapError is a BarsError
        run_backtest(targets, bars, _config())


def test_no_close_for_a_held_symbol_is_an_error_too() -> None:
    targets = _targets({DAYS[0]: {"AAA": 100, "BBB": 50}, DAYS[2]: {"AAA": 100, "BBB": 0}})
    with pytest.raises(DataGapError, match=r"symbol 'BBB'.*2024-01-04"):
        run_backtest(targets, _bars(drop=("BBB", DAYS[2])), _config())


def test_no_close_for_a_symbol_neither_targeted_nor_held_is_fine() -> None:
    targets = _targets({DAYS[0]: {"AAA": 100, "BBB": 0}, DAYS[2]: {"AAA": 120, "BBB": 0}})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataGapWarning)
        result = run_backtest(targets, _bars(drop=("BBB", DAYS[2])), _config(gaps="warn"))
    assert result.final_positions["AAA"] == 120


def test_warn_names_the_gap_and_trades_the_rest_as_before() -> None:
    targets = _targets({DAYS[0]: {"AAA": 100, "BBB": 0}, DAYS[2]: {"AAA": 150, "BBB": 50}})
    with pytest.warns(DataGapWarning, match=r"symbol 'BBB'.*2024-01-04.*data\.gaps: warn"):
        result = run_backtest(targets, _bars(drop=("BBB", DAYS[2])), _config(gaps="warn"))
    assert result.final_positions["AAA"] == 150  # the rest traded
    assert result.final_positions["BBB"] == 0  # the gap's order skipped, as the backtest always did
    assert "BBB" not in set(result.orders["symbol"])


# -- a missing open where the venue fills at the open -------------------------------------------------------------
def test_no_open_is_an_error_when_the_venue_fills_at_the_open() -> None:
    targets = _targets({DAYS[0]: {"AAA": 100, "BBB": 10}})
    bars = _bars(no_open=("AAA", DAYS[1]))
    cfg = Config.from_mapping({"venue": {"fill_price": "next_open"}})
    with pytest.raises(DataGapError, match=r"symbol 'AAA' at 2024-01-03 00:00:00 has a close but no open, and "
                                           r"venue\.fill_price is 'next_open'.*1 such bars"):
        run_backtest(targets, bars, cfg)
    warn = cfg.model_copy(update={"data": xl.DataConfig(gaps="warn")})
    with pytest.warns(DataGapWarning, match="symbol 'AAA' at 2024-01-03"):
        result = run_backtest(targets, bars, warn)
    # as before: the open is taken from the close
    assert result.fills.set_index("symbol").loc["AAA", "price"] == pytest.approx(11.5)


def test_no_open_does_not_matter_when_fills_are_at_the_close() -> None:
    targets = _targets({DAYS[0]: {"AAA": 100, "BBB": 10}})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataGapWarning)
        result = run_backtest(targets, _bars(no_open=("AAA", DAYS[1])), _config(gaps="warn"))
    assert result.final_positions["AAA"] == 100


def test_no_open_before_the_first_rebalance_is_not_a_gap() -> None:
    targets = _targets({DAYS[1]: {"AAA": 100, "BBB": 10}})
    cfg = Config.from_mapping({"venue": {"fill_price": "next_open"}})
    run_backtest(targets, _bars(no_open=("AAA", DAYS[0])), cfg)


# -- orders still working when the data ends ----------------------------------------------------------------------
def test_orders_working_at_the_end_are_listed_and_counted() -> None:
    # 10 % of a 1,000-share bar per day: 100 a day, so 1,000 shares bought from the last day's close are mostly left
    cfg = Config.from_mapping({"initial_cash": 1_000_000.0, "venue": {"participation_cap": 0.1}})
    targets = _targets({DAYS[2]: {"AAA": 1000, "BBB": 0}})
    result = run_backtest(targets, _bars(volume=1000.0), cfg)
    working = result.working_at_end
    assert list(working["symbol"]) == ["AAA"]
    assert working["status"].iloc[0] == "partially_filled"
    assert working["filled_quantity"].iloc[0] == pytest.approx(200)
    assert working["remaining_quantity"].iloc[0] == pytest.approx(800)
    assert result.summary()["orders_working_at_end"] == 1.0
    done = run_backtest(_targets({DAYS[0]: {"AAA": 10, "BBB": 0}}), _bars(), cfg)
    assert done.working_at_end.empty and done.summary()["orders_working_at_end"] == 0.0


def test_cli_backtest_prints_the_working_orders_and_a_gap_is_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    config = tmp_path / "run.yaml"
    config.write_text("mode: backtest\ninitial_cash: 1000000\nvenue:\n  participation_cap: 0.1\n")
    targets = tmp_path / "targets.csv"
    _targets({DAYS[2]: {"AAA": 1000, "BBB": 0}}).rename_axis("timestamp").to_csv(targets)
    bars = tmp_path / "bars.csv"
    _bars(volume=1000.0).to_csv(bars, index=False)
    result = runner.invoke(app, ["backtest", "--config", str(config), "--targets", str(targets), "--bars",
                                 str(bars)])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "working at end" in x)
    assert re.search(r"working at end\W+1\b", line), line
    _bars(volume=1000.0, drop=("AAA", DAYS[2])).to_csv(bars, index=False)
    gap = runner.invoke(app, ["backtest", "--config", str(config), "--targets", str(targets), "--bars",
                              str(bars)])
    assert gap.exit_code == 2, gap.output
    lines = [x for x in gap.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "data gap: symbol 'AAA'" in lines[0], gap.output


# -- the paper path: the same policy ------------------------------------------------------------------------------
def _paper(gaps: str) -> Config:
    return Config.from_mapping({"mode": "paper", "initial_cash": 100_000.0, "data": {"gaps": gaps}})


def test_paper_applies_the_same_policy() -> None:
    targets = _targets({DAYS[0]: {"AAA": 100, "BBB": 0}, DAYS[2]: {"AAA": 150, "BBB": 50}})
    bars = _bars(drop=("BBB", DAYS[2]))
    with pytest.raises(DataGapError, match="symbol 'BBB' has a target or a position at rebalance time 2024-01-04"):
        run_paper(targets, ReplayFeed.from_bars(bars), _paper("error"))
    with pytest.warns(DataGapWarning, match=r"symbol 'BBB'.*2024-01-04"):
        paper = run_paper(targets, ReplayFeed.from_bars(bars), _paper("warn"))
    with pytest.warns(DataGapWarning):
        backtest = run_backtest(targets, bars, _config(gaps="warn"))
    assert paper.final_positions.to_dict() == backtest.final_positions.to_dict()
    assert paper.summary() == pytest.approx(backtest.summary(), nan_ok=True)  # no drawdown: Calmar is NaN in both


def test_paper_never_priced_symbol_is_still_a_target_error() -> None:
    targets = _targets({DAYS[0]: {"AAA": 100, "BBB": 10}})
    bars = _bars()
    bars = bars[~((bars["symbol"] == "BBB") & (bars["timestamp"] == DAYS[0]))]
    with pytest.raises(xl.TargetError, match=r"symbol 'BBB' has a target at 2024-01-02.*no price"):
        run_paper(targets, ReplayFeed.from_bars(bars), _paper("warn"))


def test_paper_applies_the_no_open_policy_as_the_backtest_does() -> None:
    targets = _targets({DAYS[0]: {"AAA": 100, "BBB": 10}})
    bars = _bars(no_open=("AAA", DAYS[1]))
    paper = Config.from_mapping({"mode": "paper", "venue": {"fill_price": "next_open"}})
    with pytest.raises(DataGapError, match=r"symbol 'AAA' at 2024-01-03 00:00:00 has a close but no open, and "
                                           r"venue\.fill_price is 'next_open'"):
        run_paper(targets, bars, paper)
    with pytest.raises(DataGapError, match=r"symbol 'AAA' at 2024-01-03"):  # a feed built from the bars too
        run_paper(targets, ReplayFeed.from_bars(xl.MarketData.from_bars(bars)), paper)
    warn = paper.model_copy(update={"data": xl.DataConfig(gaps="warn")})
    with pytest.warns(DataGapWarning, match="symbol 'AAA' at 2024-01-03"):
        result = run_paper(targets, ReplayFeed.from_bars(bars), warn)
    # as in the backtest: the open is taken from the close
    assert result.fills.set_index("symbol").loc["AAA", "price"] == pytest.approx(11.5)
    # before the first rebalance, or with fills at the close, a missing open is not a gap
    run_paper(_targets({DAYS[1]: {"AAA": 100, "BBB": 10}}), _bars(no_open=("AAA", DAYS[0])), paper)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataGapWarning)
        at_close = run_paper(targets, bars, Config.from_mapping({"mode": "paper", "data": {"gaps": "warn"}}))
    assert at_close.final_positions["AAA"] == 100
