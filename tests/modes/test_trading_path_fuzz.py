"""Bad input never becomes an order: random faults injected into otherwise good inputs, through the whole trading
path (files → gate → plan → risk → OMS → alpaca-py → the local venue), must raise one of the documented errors,
naming the culprit, with zero orders received by the venue."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import execlab as xl
from execlab._brokers.executor import BrokerExecutor
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance
from execlab.adapters.alpaca import AlpacaAdapter
from execlab.venues import AlpacaVenue

pytestmark = [pytest.mark.local_venue, pytest.mark.slow]

KEY, SECRET = "PKTESTKEY0000003", "test-secret-fuzz-0003"
PRICES = {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0, "NA": 5.0}
GOOD = {"AAA": 100.0, "BBB": 50.0, "CCC": 10.0}
#: What bad input may raise: each names the file, row, symbol or key at fault.
DOCUMENTED = (xl.TargetError, xl.ConfigError)
EXAMPLES = int(os.environ.get("EXECLAB_FUZZ_EXAMPLES", "60"))


@pytest.fixture(scope="module")
def venue() -> Iterator[AlpacaVenue]:
    with AlpacaVenue(KEY, SECRET, initial_cash=100_000.0, rate_limit=100_000) as v:
        for sym, px in PRICES.items():
            v.set_quote(sym, px, px, px)
        yield v


def _cell(value: object) -> str:
    return str(value)


# One fault per example, in the targets file, the prices file or the config.
malformed_symbol = st.one_of(st.just(""), st.just("   "), st.text(alphabet="ABC", min_size=33, max_size=500),
                             st.sampled_from(["A B", "ÄBC", "A\tB", "A;B", "$AAA", "A*", "-AB", ".X"]))
bad_symbol = st.one_of(malformed_symbol, st.sampled_from(["ZZZ", "UNLISTED"]))  # well formed, not at the broker
bad_value = st.one_of(st.sampled_from(["", "abc", "true", "True", "nan", "NaN", "inf", "-inf", "1e400", "0x10",
                                       "1,5", "--1", "None", "null", "b'1'"]),
                      st.floats(max_value=-1e-3, min_value=-1e6))  # negative without shorting
bad_price = st.one_of(st.sampled_from(["0", "-1", "", "nan", "inf", "abc", "true"]),
                      st.floats(max_value=0.0, min_value=-1e6))


@st.composite
def faulty_inputs(draw: st.DrawFn) -> tuple[str, dict[str, object], dict[str, object], str]:
    targets: dict[str, object] = dict(GOOD)
    prices: dict[str, object] = dict(PRICES)
    unit = "shares"
    fault = draw(st.sampled_from(["symbol", "value", "duplicate", "price", "missing_price", "weights_as_shares",
                                  "price_symbol"]))
    if fault == "symbol":
        targets[draw(bad_symbol)] = 5
    elif fault == "value":
        targets[draw(st.sampled_from(sorted(GOOD)))] = draw(bad_value)
    elif fault == "duplicate":
        targets[draw(st.sampled_from(["aaa", " AAA", "Aaa ", "aAa"]))] = 7
    elif fault == "price":
        prices[draw(st.sampled_from(sorted(GOOD)))] = draw(bad_price)
    elif fault == "missing_price":
        del prices[draw(st.sampled_from(sorted(GOOD)))]
    elif fault == "weights_as_shares":
        targets = {s: round(draw(st.floats(0.01, 0.3)), 3) for s in GOOD}
    else:
        prices[draw(malformed_symbol)] = 3
    return fault, targets, prices, unit


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=faulty_inputs())
def test_bad_input_sends_nothing(venue: AlpacaVenue, tmp_path_factory: pytest.TempPathFactory,
                                 case: tuple[str, dict[str, object], dict[str, object], str]) -> None:
    fault, targets, prices, unit = case
    folder = tmp_path_factory.mktemp("fuzz")
    targets_csv, prices_csv = folder / "targets.csv", folder / "prices.csv"
    targets_csv.write_text("symbol,target\n" + "".join(f"{_cell(s)},{_cell(v)}\n" for s, v in targets.items()))
    prices_csv.write_text("symbol,price\n" + "".join(f"{_cell(s)},{_cell(v)}\n" for s, v in prices.items()))
    before = dict(venue.stats()["order_attempts"])
    journal = Journal(folder / "j.sqlite")
    config = xl.Config.from_mapping({"mode": "paper", "run_id": "fuzz", "plan": {"target_unit": unit},
                                     "broker": {"name": "alpaca", "api_key": KEY, "api_secret": SECRET}})
    executor = BrokerExecutor(AlpacaAdapter(KEY, SECRET, base_url=venue.base_url, timeout=5.0), journal, "fuzz", ())
    with pytest.raises(DOCUMENTED) as raised:
        tgt = xl.read_symbol_values(targets_csv, "targets")
        px = xl.read_symbol_values(prices_csv, "prices")
        run_live_rebalance(tgt, px, config, executor, journal, "fuzz-as-of", timeout=2)
    message = str(raised.value)
    assert any(word in message for word in ("targets", "prices", "symbol", "line")), (fault, message)
    assert venue.stats()["order_attempts"] == before, (fault, targets, prices)
    assert journal.orders("fuzz").empty
    journal.close()


def test_the_fuzzer_can_tell_good_input_from_bad(venue: AlpacaVenue, tmp_path: Path) -> None:
    """The same path with the good inputs does send orders: the test above would notice orders."""
    journal = Journal(tmp_path / "j.sqlite")
    config = xl.Config.from_mapping({"mode": "paper", "run_id": "fuzz-good",
                                     "broker": {"name": "alpaca", "api_key": KEY, "api_secret": SECRET}})
    executor = BrokerExecutor(AlpacaAdapter(KEY, SECRET, base_url=venue.base_url, timeout=5.0), journal,
                              "fuzz-good", ())
    before = sum(venue.stats()["order_attempts"].values())
    done = run_live_rebalance(GOOD, {s: p for s, p in PRICES.items() if s in GOOD}, config, executor, journal, "g",
                              timeout=5)
    assert done.complete
    assert sum(venue.stats()["order_attempts"].values()) == before + len(GOOD)
