"""Bad input gets a clear error naming the row, symbol or key at fault, and nothing is sent (DESIGN: Faults).

``run_backtest`` cases put the bad value late in the frame (the last rebalance row) and spy on the public
``OrderBook.add`` and ``BacktestExecutor.submit``: the error must come before any order is journaled or sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

import execlab
from execlab import (
    LIVE_OPT_IN_PHRASE,
    BacktestExecutor,
    BarsError,
    Config,
    ConfigError,
    OrderBook,
    TargetError,
    load_config,
    make_plan,
    run_backtest,
)

DAYS = pd.date_range("2024-01-01", periods=8, freq="D")
PRICES = {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0}
REBALANCES = DAYS[:5]
LATE = REBALANCES[-1]  # the bad value goes in the last rebalance row
LATE_TEXT = "2024-01-05"


def make_bars() -> pd.DataFrame:
    rows = [
        {"timestamp": t, "symbol": s, "open": p, "high": p, "low": p, "close": p, "volume": 1e6}
        for t in DAYS
        for s, p in PRICES.items()
    ]
    return pd.DataFrame(rows)


def share_targets() -> pd.DataFrame:
    """Valid whole-share targets for every rebalance row."""
    return pd.DataFrame(
        {"AAA": [10.0, 20, 30, 40, 50], "BBB": [5.0, 5, 5, 5, 5], "CCC": [1.0, 2, 3, 4, 5]},
        index=pd.DatetimeIndex(REBALANCES, name="timestamp"),
    )


def weight_config() -> Config:
    return Config(plan={"target_unit": "weight"})


class Spy:
    """Counts orders journaled and batches sent, through the public classes."""

    def __init__(self) -> None:
        self.added = 0
        self.submitted = 0


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    counts = Spy()
    real_add, real_submit = OrderBook.add, BacktestExecutor.submit

    def add(self: OrderBook, values: Any) -> Any:
        counts.added += 1
        return real_add(self, values)

    def submit(self: BacktestExecutor, batch: Any) -> Any:
        counts.submitted += 1
        return real_submit(self, batch)

    monkeypatch.setattr(OrderBook, "add", add)
    monkeypatch.setattr(BacktestExecutor, "submit", submit)
    yield counts


def assert_nothing_sent(spy: Spy) -> None:
    assert spy.added == 0, "orders were journaled before the error"
    assert spy.submitted == 0, "orders were sent before the error"


def backtest_error(spy: Spy, error: type[Exception], targets: Any, bars: Any,
                   config: Config | None = None) -> str:
    with pytest.raises(error) as info:
        run_backtest(targets, bars, config, engine="steps")  # the path the spy sees (the compiled loop has no hooks)
    assert_nothing_sent(spy)
    return str(info.value)


# ---------------------------------------------------------------- sanity: the spy sees a valid run's orders


def test_valid_backtest_sends_orders_through_the_spy(spy: Spy) -> None:
    result = run_backtest(share_targets(), make_bars(), engine="steps")
    assert spy.added > 0
    assert spy.submitted > 0
    assert result.final_positions.to_dict() == {"AAA": 50.0, "BBB": 5.0, "CCC": 5.0}


# ---------------------------------------------------------------- targets: non-finite values


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "+inf", "-inf"])
def test_non_finite_target_names_symbol_and_time(spy: Spy, bad: float) -> None:
    targets = share_targets()
    targets.loc[LATE, "BBB"] = bad
    msg = backtest_error(spy, TargetError, targets, make_bars())
    assert "'BBB'" in msg
    assert LATE_TEXT in msg
    assert "finite" in msg


def test_polars_null_target_names_symbol_and_time(spy: Spy) -> None:
    frame = pl.from_pandas(share_targets().reset_index())
    frame = frame.with_columns(
        pl.when(pl.col("timestamp") == LATE).then(None).otherwise(pl.col("CCC")).alias("CCC")
    )
    assert frame["CCC"].null_count() == 1
    msg = backtest_error(spy, TargetError, frame, pl.from_pandas(make_bars()))
    assert "'CCC'" in msg
    assert LATE_TEXT in msg


def test_polars_inf_target_long_form(spy: Spy) -> None:
    long = share_targets().stack().rename("target").rename_axis(["timestamp", "symbol"]).reset_index()
    long.loc[(long["timestamp"] == LATE) & (long["symbol"] == "AAA"), "target"] = np.inf
    msg = backtest_error(spy, TargetError, pl.from_pandas(long), make_bars())
    assert "'AAA'" in msg
    assert LATE_TEXT in msg


# ---------------------------------------------------------------- targets: duplicates


def test_duplicate_wide_column_names_symbol(spy: Spy) -> None:
    targets = share_targets()
    wide = pd.concat([targets, targets[["CCC"]]], axis=1)
    assert list(wide.columns) == ["AAA", "BBB", "CCC", "CCC"]
    msg = backtest_error(spy, TargetError, wide, make_bars())
    assert "duplicate" in msg
    assert "'CCC'" in msg


def long_targets() -> pd.DataFrame:
    return share_targets().stack().rename("target").rename_axis(["timestamp", "symbol"]).reset_index()


def test_duplicate_long_row_names_symbol_time_and_row(spy: Spy) -> None:
    long = long_targets()
    late_bbb = long.index[(long["timestamp"] == LATE) & (long["symbol"] == "BBB")][0]
    dup = pd.concat([long, long.loc[[late_bbb]]], ignore_index=True)
    msg = backtest_error(spy, TargetError, dup, make_bars())
    assert "duplicate" in msg
    assert "'BBB'" in msg
    assert LATE_TEXT in msg
    assert f"row {late_bbb}" in msg


def test_polars_duplicate_long_row(spy: Spy) -> None:
    long = long_targets()
    dup = pd.concat([long, long.iloc[[-1]]], ignore_index=True)
    msg = backtest_error(spy, TargetError, pl.from_pandas(dup), pl.from_pandas(make_bars()))
    assert "duplicate" in msg
    assert f"'{long['symbol'].iloc[-1]}'" in msg


def test_duplicate_rebalance_time(spy: Spy) -> None:
    targets = share_targets()
    dup = pd.concat([targets, targets.iloc[[-1]]])
    msg = backtest_error(spy, TargetError, dup, make_bars())
    assert "duplicate" in msg
    assert LATE_TEXT in msg


# ---------------------------------------------------------------- targets: symbols and times vs the bars


def test_unknown_symbol_is_named(spy: Spy) -> None:
    targets = share_targets()
    targets["ZZZ"] = [0.0, 0.0, 0.0, 0.0, 7.0]
    msg = backtest_error(spy, TargetError, targets, make_bars())
    assert "'ZZZ'" in msg
    assert "'AAA'" not in msg


def test_polars_unknown_symbol_long_form(spy: Spy) -> None:
    long = pd.concat([long_targets(), pd.DataFrame({"timestamp": [LATE], "symbol": ["QQQ"], "target": [3.0]})],
                     ignore_index=True)
    msg = backtest_error(spy, TargetError, pl.from_pandas(long), pl.from_pandas(make_bars()))
    assert "'QQQ'" in msg


@pytest.mark.parametrize("how", ["nan_close", "missing_row"])
def test_nonzero_target_for_a_symbol_never_priced_names_symbol_and_time(spy: Spy, how: str) -> None:
    # CCC has no bar up to and including the last rebalance: it cannot be sized or traded at all.
    bars = make_bars()
    at = (bars["symbol"] == "CCC") & (bars["timestamp"] <= LATE)
    if how == "nan_close":
        bars.loc[at, ["open", "high", "low", "close"]] = np.nan
    else:
        bars = bars[~at]
    targets = share_targets()
    targets.loc[targets.index[:-1], "CCC"] = 0.0
    msg = backtest_error(spy, TargetError, targets, bars)
    assert "'CCC'" in msg
    assert LATE_TEXT in msg
    assert "price" in msg


@pytest.mark.parametrize("how", ["nan_close", "missing_row"])
def test_symbol_with_a_gap_is_held_not_traded(how: str) -> None:
    # CCC was priced before LATE but has no bar at LATE (a halt): with data.gaps 'warn' the plan holds it, no order
    # at LATE (the default, 'error', stops the run: tests/test_data_gaps.py).
    bars = make_bars()
    at = (bars["symbol"] == "CCC") & (bars["timestamp"] == LATE)
    if how == "nan_close":
        bars.loc[at, ["open", "high", "low", "close"]] = np.nan
    else:
        bars = bars[~at]
    with pytest.warns(execlab.DataGapWarning, match="'CCC'"):
        result = run_backtest(share_targets(), bars, execlab.Config.from_mapping({"data": {"gaps": "warn"}}))
    orders = result.orders
    assert not ((orders["symbol"] == "CCC") & (orders["timestamp"] == LATE)).any()
    assert result.positions.loc[LATE, "CCC"] == 4.0  # the row before LATE asked for 4


def test_zero_target_without_price_is_allowed() -> None:
    bars = make_bars()
    bars.loc[(bars["symbol"] == "CCC") & (bars["timestamp"] == DAYS[0]), ["open", "high", "low", "close"]] = np.nan
    targets = share_targets()
    targets.loc[DAYS[0], "CCC"] = 0.0
    result = run_backtest(targets, bars)
    assert result.final_positions["CCC"] == 5.0


def test_misaligned_rebalance_time_is_named(spy: Spy) -> None:
    targets = share_targets()
    targets.index = targets.index[:-1].append(pd.DatetimeIndex([LATE + pd.Timedelta(hours=16)]))
    msg = backtest_error(spy, TargetError, targets, make_bars())
    assert "2024-01-05 16:00:00" in msg
    assert "bar" in msg


def test_rebalance_time_after_last_bar_is_named(spy: Spy) -> None:
    targets = share_targets()
    targets.index = targets.index[:-1].append(pd.DatetimeIndex([DAYS[-1] + pd.Timedelta(days=30)]))
    msg = backtest_error(spy, TargetError, targets, make_bars())
    assert "2024-02-07" in msg


# ---------------------------------------------------------------- targets: shorting and units


def test_negative_target_when_shorting_off(spy: Spy) -> None:
    targets = share_targets()
    targets.loc[LATE, "AAA"] = -5.0
    msg = backtest_error(spy, TargetError, targets, make_bars())
    assert "'AAA'" in msg
    assert LATE_TEXT in msg
    assert "allow_short" in msg


def test_negative_target_allowed_when_shorting_on() -> None:
    targets = share_targets()
    targets.loc[LATE, "AAA"] = -5.0
    result = run_backtest(targets, make_bars(), Config(plan={"allow_short": True}))
    assert result.final_positions["AAA"] == -5.0


def test_weights_given_while_unit_is_shares(spy: Spy) -> None:
    targets = share_targets()
    targets.loc[LATE] = [0.2, 0.3, 0.5]
    msg = backtest_error(spy, TargetError, targets, make_bars())
    assert "look like weights" in msg
    assert LATE_TEXT in msg
    assert "'shares'" in msg


def test_shares_given_while_unit_is_weight(spy: Spy) -> None:
    targets = pd.DataFrame({"AAA": [0.2, 0.2, 0.2, 0.2, 40.0], "BBB": [0.3, 0.3, 0.3, 0.3, 5.0],
                            "CCC": [0.5, 0.5, 0.5, 0.5, 5.0]}, index=REBALANCES)
    msg = backtest_error(spy, TargetError, targets, make_bars(), weight_config())
    assert "leverage" in msg
    assert LATE_TEXT in msg
    assert "'weight'" in msg


def test_weights_within_leverage_are_accepted() -> None:
    targets = pd.DataFrame({"AAA": [0.2] * 5, "BBB": [0.3] * 5, "CCC": [0.5] * 5}, index=REBALANCES)
    result = run_backtest(targets, make_bars(), weight_config())
    assert result.final_positions["AAA"] > 0


# ---------------------------------------------------------------- bars


@pytest.mark.parametrize("bad", [-1.0, 0.0], ids=["negative", "zero"])
def test_non_positive_price_in_bars_names_symbol_and_time(spy: Spy, bad: float) -> None:
    bars = make_bars()
    bars.loc[(bars["symbol"] == "BBB") & (bars["timestamp"] == DAYS[6]), "close"] = bad
    msg = backtest_error(spy, BarsError, share_targets(), bars)
    assert "'BBB'" in msg
    assert "2024-01-07" in msg
    assert "close" in msg


@pytest.mark.parametrize("bad", [-1.0, 0.0], ids=["negative", "zero"])
def test_non_positive_price_in_bars_polars(bad: float) -> None:
    bars = make_bars()
    bars.loc[(bars["symbol"] == "AAA") & (bars["timestamp"] == DAYS[3]), "low"] = bad
    with pytest.raises(BarsError) as info:
        execlab.MarketData.from_bars(pl.from_pandas(bars))
    msg = str(info.value)
    assert "'AAA'" in msg
    assert "2024-01-04" in msg
    assert "low" in msg


def test_bad_close_message_names_close_when_bars_have_only_close() -> None:
    """Bars with only a close column: open/high/low fall back to close, but the error must blame ``close``
    (the column the user gave) and print the value as a plain number."""
    bars = make_bars()[["timestamp", "symbol", "close", "volume"]].copy()
    bars.loc[(bars["symbol"] == "CCC") & (bars["timestamp"] == DAYS[5]), "close"] = -2.5
    with pytest.raises(BarsError) as info:
        execlab.MarketData.from_bars(bars)
    msg = str(info.value)
    assert "'CCC'" in msg
    assert "2024-01-06" in msg
    assert "close price" in msg, msg
    assert "np.float64" not in msg, msg


# ---------------------------------------------------------------- make_plan (one rebalance)


PX = {"AAA": 10.0, "BBB": 20.0}


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_make_plan_non_finite_target(bad: float) -> None:
    with pytest.raises(TargetError, match=r"'BBB'.*finite"):
        make_plan({"AAA": 1.0, "BBB": bad}, {}, PX, 10_000.0)


def test_make_plan_duplicate_symbol() -> None:
    with pytest.raises(TargetError, match=r"duplicate symbol 'AAA'"):
        make_plan(pd.Series([1.0, 2.0, 3.0], index=["AAA", "BBB", "AAA"]), {}, PX, 10_000.0)


def test_make_plan_target_without_price() -> None:
    with pytest.raises(TargetError, match=r"no price.*'ZZZ'"):
        make_plan({"AAA": 1.0, "ZZZ": 2.0}, {}, PX, 10_000.0)


def test_make_plan_position_without_price() -> None:
    with pytest.raises(TargetError, match=r"no price.*'ZZZ'"):
        make_plan({"AAA": 1.0}, {"ZZZ": 4.0}, PX, 10_000.0)


def test_make_plan_nan_price() -> None:
    with pytest.raises(TargetError, match=r"prices.*'BBB'"):
        make_plan({"AAA": 1.0, "BBB": 1.0}, {}, {"AAA": 10.0, "BBB": np.nan}, 10_000.0)


@pytest.mark.parametrize("bad", [-10.0, 0.0], ids=["negative", "zero"])
def test_make_plan_non_positive_price(bad: float) -> None:
    with pytest.raises(TargetError, match=r"'BBB'.*positive"):
        make_plan({"AAA": 1.0, "BBB": 1.0}, {}, {"AAA": 10.0, "BBB": bad}, 10_000.0)


def test_make_plan_negative_target_when_shorting_off() -> None:
    with pytest.raises(TargetError, match=r"'BBB'.*allow_short"):
        make_plan({"AAA": 1.0, "BBB": -1.0}, {}, PX, 10_000.0)


def test_make_plan_weights_given_while_unit_is_shares() -> None:
    """Same contract as run_backtest: fractional values below 1 on whole-share instruments look like weights.
    (make_plan currently rounds them to no orders, silently.)"""
    with pytest.raises(TargetError, match="look like weights"):
        make_plan({"AAA": 0.4, "BBB": 0.6}, {}, PX, 10_000.0)


def test_make_plan_shares_given_while_unit_is_weight() -> None:
    """Weights summing to 8× equity without margin are shares or notionals, as run_backtest says.
    (make_plan currently sizes them as weights and cash-limits the buys.)"""
    with pytest.raises(TargetError, match="leverage"):
        make_plan({"AAA": 5.0, "BBB": 3.0}, {}, PX, 10_000.0, weight_config())


def test_make_plan_polars_null_target() -> None:
    frame = pl.DataFrame({"symbol": ["AAA", "BBB"], "target": [1.0, None]})
    with pytest.raises(TargetError, match=r"'BBB'"):
        make_plan(frame, {}, PX, 10_000.0)


def test_make_plan_polars_negative_target() -> None:
    frame = pl.DataFrame({"symbol": ["AAA", "BBB"], "target": [-3.0, 1.0]})
    with pytest.raises(TargetError, match=r"'AAA'.*allow_short"):
        make_plan(frame, {}, PX, 10_000.0)


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("mapping", "key"),
    [
        ({"venue": {"feez": {"model": "bps"}}}, "venue.feez"),
        ({"mdoe": "paper"}, "mdoe"),
        ({"venue": {"fees": {"model": "bps", "bsp": 1.0}}}, "venue.fees.bsp"),
        ({"plan": {"allow_shorts": True}}, "plan.allow_shorts"),
    ],
)
def test_config_unknown_key_is_named(mapping: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(mapping)
    msg = str(info.value)
    assert f"{key}: unknown key" in msg


def test_config_unknown_key_from_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("mode: backtest\nvenue:\n  fill_price: close\n  feez:\n    model: bps\n")
    with pytest.raises(ConfigError, match=r"venue\.feez: unknown key"):
        load_config(path)


def test_config_missing_secret_names_key_and_variable(tmp_path: Path) -> None:
    path = tmp_path / "paper.yaml"
    path.write_text("mode: paper\nbroker:\n  name: alpaca\n  api_key: ${ALPACA_KEY}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"OTHER": "x"})
    msg = str(info.value)
    assert "broker.api_key" in msg
    assert "ALPACA_KEY" in msg


def test_config_missing_secret_from_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXECLAB_TEST_SECRET", raising=False)
    path = tmp_path / "paper.yaml"
    path.write_text("mode: paper\nbroker:\n  name: alpaca\n  api_secret: ${EXECLAB_TEST_SECRET}\n")
    with pytest.raises(ConfigError, match=r"broker\.api_secret.*EXECLAB_TEST_SECRET"):
        load_config(path)


@pytest.mark.parametrize(
    "opt_in",
    [None, "", "yes", LIVE_OPT_IN_PHRASE.lower(), LIVE_OPT_IN_PHRASE + " ", LIVE_OPT_IN_PHRASE[:-1],
     LIVE_OPT_IN_PHRASE.replace("real", "reel")],
    ids=["missing", "empty", "yes", "lowercase", "trailing-space", "truncated", "typo"],
)
def test_live_without_exact_opt_in(opt_in: str | None) -> None:
    mapping: dict[str, Any] = {"mode": "live", "broker": {"name": "alpaca"}}
    if opt_in is not None:
        mapping["live"] = {"opt_in": opt_in}
    with pytest.raises(ConfigError, match=r"live\.opt_in"):
        load_config(mapping)


def test_live_with_exact_opt_in_loads() -> None:
    cfg = load_config({"mode": "live", "broker": {"name": "alpaca"}, "live": {"opt_in": LIVE_OPT_IN_PHRASE}})
    assert cfg.mode == "live"


def test_live_opt_in_from_yaml_with_typo(tmp_path: Path) -> None:
    path = tmp_path / "live.yaml"
    path.write_text(f"mode: live\nbroker:\n  name: alpaca\nlive:\n  opt_in: \"{LIVE_OPT_IN_PHRASE}!\"\n")
    with pytest.raises(ConfigError, match=r"live\.opt_in"):
        load_config(path)


def test_backtest_refuses_a_live_config(spy: Spy) -> None:
    cfg = load_config({"mode": "live", "broker": {"name": "alpaca"}, "live": {"opt_in": LIVE_OPT_IN_PHRASE}})
    msg = backtest_error(spy, ValueError, share_targets(), make_bars(), cfg)
    assert "mode" in msg


def test_paper_config_with_live_endpoint_is_refused() -> None:
    """DESIGN: 'bad config (... live endpoint under a paper config) get a clear error that names the key'."""
    with pytest.raises(ConfigError, match=r"broker\.base_url"):
        load_config({"mode": "paper", "broker": {"name": "alpaca", "base_url": "https://api.alpaca.markets"}})
