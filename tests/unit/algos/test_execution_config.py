"""The ``execution:`` config section: defaults, validation naming the key, per-symbol overrides."""

from __future__ import annotations

import pandas as pd
import pytest

from execlab import ConfigError, load_config
from execlab._algos import algo_params


def test_default_is_no_algorithm() -> None:
    cfg = load_config({})
    assert cfg.execution.algo == "none" and cfg.execution.algos() == ("none",)


def test_a_full_section_resolves_per_symbol() -> None:
    cfg = load_config("""
execution:
  algo: twap
  horizon: 30min
  slices: 10
  participation: 0.1
  min_child: 1
  limit_bps: 25
  at_end: leave
  per_symbol: {SPY: {participation: 0.05, algo: pov}, IBM: {slices: 5, horizon: 1h}}
""")
    spy, ibm, bac = (algo_params(cfg.execution, s) for s in ("SPY", "IBM", "BAC"))
    assert (spy.algo, spy.participation, spy.slices) == ("pov", 0.05, 10)
    assert (ibm.algo, ibm.slices, ibm.horizon) == ("twap", 5, pd.Timedelta("1h"))
    assert (bac.participation, bac.limit_bps, bac.at_end) == (0.1, 25, "leave")
    assert cfg.execution.algos() == ("pov", "twap")


@pytest.mark.parametrize(("text", "names"), [
    ("execution: {algo: twapp}", ["execution.algo"]),
    ("execution: {horizon: soon}", ["execution.horizon", "not a duration"]),
    ("execution: {horizon: -5min}", ["execution.horizon", "positive"]),
    ("execution: {slices: 0}", ["execution.slices"]),
    ("execution: {participation: 1.5}", ["execution.participation"]),
    ("execution: {algo: pov}", ["execution.participation", "pov"]),
    ("execution: {algo: vwap, slices: 3, profile: [1, 2]}", ["execution.profile", "3 slices"]),
    ("execution: {per_symbol: {SPY: {participaton: 0.1}}}", ["execution.per_symbol.SPY.participaton", "unknown key"]),
    ("execution: {per_symbol: {SPY: {algo: pov}}}", ["execution.per_symbol.SPY.participation"]),
    ("execution: {at_end: keep}", ["execution.at_end"]),
    ("execution: {limit_bps: -1}", ["execution.limit_bps"]),
])
def test_bad_values_name_the_key(text: str, names: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(text)
    for name in names:
        assert name in str(err.value)
