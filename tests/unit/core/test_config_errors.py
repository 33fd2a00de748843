"""Config faults are ours: every bad YAML file and every absurd value is a ConfigError naming the file, line and key,
and every command that loads a config turns it into one red line and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from execlab import Config, ConfigError, load_config
from execlab._cli.main import app

runner = CliRunner()

# (name, YAML text, what the message must contain)
BAD_YAML = [
    ("syntax", "mode: backtest\nvenue:\n  fill_price: [close\n", ["line 3", "not valid YAML"]),
    ("tab", "venue:\n\tfill_price: close\n", ["line 2", "not valid YAML"]),
    ("unclosed_quote", "run_id: 'demo\n", ["not valid YAML"]),
    ("merge_key", "venue:\n  fees:\n    <<: {model: bps, bps: 1}\n", ["line 3", "venue.fees.<<", "merge keys"]),
    ("merge_alias", "base: &b\n  bps: 1\nvenue:\n  fees:\n    <<: *b\n", ["line 5", "alias *b"]),
    ("alias", "risk: &r\n  max_order_value: 10\nplan: *r\n", ["line 3", "alias *r"]),
    ("billion_laughs", "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", ["line 2", "alias *a"]),
    ("complex_key", "? [mode, run_id]\n: backtest\n", ["line 1", "plain name", "list"]),
    ("mapping_key", "venue:\n  ? {a: 1}\n  : 2\n", ["line 2", "venue", "mapping"]),
    ("bool_key", "venue:\n  yes: close\n", ["line 2", "venue.yes", "true/false"]),
    ("int_key", "risk:\n  1: 2\n", ["line 2", "risk.1", "a number"]),
    ("null_key", "~: 1\n", ["line 1", "null"]),
    ("python_tag", "mode: !!python/object/apply:os.system [echo]\n", ["line 1", "not valid YAML"]),
    ("two_documents", "mode: backtest\n---\nmode: paper\n", ["line 2", "single document"]),
    ("top_level_list", "- mode\n- backtest\n", ["top level must be a mapping", "list"]),
    ("top_level_text", "backtest\n", ["top level must be a mapping"]),
    ("duplicate_key", "risk:\n  max_order_value: 5\n  max_order_value: 6\n", ["risk.max_order_value", "line 3",
                                                                             "given twice"]),
    ("deep_nesting", "venue: " + "[" * 3000 + "]" * 3000 + "\n", ["nested too deeply"]),
    ("unknown_key", "mode: backtest\nvenue:\n  fill_prise: close\n", ["venue.fill_prise: unknown key (line 3)"]),
]

# (dotted key, YAML value): each is out of the key's bounds
ABSURD = [
    ("venue.latency_bars", "100000000000000000000"),
    ("venue.latency_bars", "1.0e+20"),
    ("venue.latency_bars", "1e20"),
    ("venue.fees.bps", "1.0e+300"),
    ("venue.fees.bps", "1e300"),
    ("venue.fees.per_share", "1.0e+300"),
    ("venue.fees.minimum", "1.0e+300"),
    ("venue.fees.maximum_pct", "50"),
    ("venue.fees.maker_bps", "-1.0e+300"),
    ("venue.fees.taker_bps", "1.0e+300"),
    ("venue.slippage.bps", "1.0e+300"),
    ("venue.slippage.impact_coefficient", "1.0e+300"),
    ("venue.slippage.volatility_window", "100000000000"),
    ("venue.slippage.adv_window", "100000000000"),
    ("venue.participation_cap", "2"),
    ("venue.margin.max_leverage", "1.0e+300"),
    ("initial_cash", "1.0e+300"),
    ("plan.no_trade_band", "5"),
    ("plan.limit_offset_bps", "1.0e+300"),
    ("risk.max_order_value", "1.0e+300"),
    ("risk.max_order_quantity", "1.0e+300"),
    ("risk.max_position_pct", "1.0e+300"),
    ("risk.max_gross_exposure", "1.0e+300"),
    ("risk.max_net_exposure", "1.0e+300"),
    ("risk.max_daily_orders", "100000000000000000000"),
    ("risk.daily_loss_limit", "1.0e+300"),
    ("risk.price_band_pct", "1.0e+300"),
    ("risk.max_adv_pct", "1.0e+300"),
    ("broker.rate_limit_per_minute", "100000000000000000000"),
    ("broker.rate_window_seconds", "1.0e+300"),
    ("broker.breaker_fail_max", "100000000000000000000"),
    ("broker.breaker_reset_seconds", "1.0e+300"),
    ("data.gaps", "maybe"),
]


def _nested(key: str, value: str) -> str:
    """``a.b.c: v`` as indented YAML, after a first line, so that the key's line is known."""
    parts = key.split(".")
    lines = ["mode: backtest"] + [f"{'  ' * i}{p}:" for i, p in enumerate(parts[:-1])]
    lines.append(f"{'  ' * (len(parts) - 1)}{parts[-1]}: {value}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("name", "text", "expected"), BAD_YAML, ids=[c[0] for c in BAD_YAML])
def test_bad_yaml_is_a_config_error_naming_file_and_line(name: str, text: str, expected: list[str],
                                                         tmp_path: Path) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    for part in expected:
        assert part in message, message


@pytest.mark.parametrize(("key", "value"), ABSURD, ids=[f"{k}={v}" for k, v in ABSURD])
def test_absurd_values_are_refused_by_their_bounds(key: str, value: str) -> None:
    text = _nested(key, value)
    with pytest.raises(ConfigError) as info:
        load_config(text)
    message, line = str(info.value), len(text.splitlines())
    assert f"{key}: " in message and f"(line {line})" in message, message


@pytest.mark.parametrize(("key", "value"), [
    ("venue.latency_bars", "10000"), ("venue.fees.bps", "1000"), ("venue.fees.maker_bps", "-1000"),
    ("venue.margin.max_leverage", "100"), ("initial_cash", "1.0e+15"), ("risk.max_daily_orders", "100000000"),
    ("venue.slippage.impact_coefficient", "100"), ("broker.rate_limit_per_minute", "1000000"),
])
def test_the_bounds_themselves_are_accepted(key: str, value: str) -> None:
    load_config(_nested(key, value))


def test_bad_mapping_is_still_a_config_error_without_a_file() -> None:
    with pytest.raises(ConfigError, match=r"venue\.latency_bars: Input should be less than or equal to 10000"):
        Config.from_mapping({"venue": {"latency_bars": 10**20}})
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config("[1, 2]")


def test_a_config_that_is_not_text_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"mode: \xff\xfe\n")
    with pytest.raises(ConfigError, match=rf"{path}: not a text file"):
        load_config(path)


def test_data_gaps_defaults_to_error_and_takes_warn() -> None:
    assert Config().data.gaps == "error"
    assert load_config("data:\n  gaps: warn\n").data.gaps == "warn"


# -- the command line: one red line, exit 2, for every command that loads a config ------------------------------------
def _files(tmp_path: Path) -> dict[str, Path]:
    targets = tmp_path / "targets.csv"
    targets.write_text("symbol,target\nAAA,10\n")
    prices = tmp_path / "prices.csv"
    prices.write_text("symbol,price\nAAA,10.0\n")
    positions = tmp_path / "positions.csv"
    positions.write_text("symbol,quantity\nAAA,0\n")
    bars = tmp_path / "bars.csv"
    bars.write_text("timestamp,symbol,close\n2024-01-02,AAA,10.0\n")
    journal = tmp_path / "journal.sqlite"
    from execlab._oms.journal import Journal

    Journal(journal).close()
    return {"targets": targets, "prices": prices, "positions": positions, "bars": bars, "journal": journal}


def _commands(config: Path, f: dict[str, Path]) -> dict[str, list[str]]:
    c = str(config)
    return {
        "demo": ["demo", "--config", c, "--report", str(config.parent / "r.html")],
        "backtest": ["backtest", "--config", c, "--targets", str(f["targets"]), "--bars", str(f["bars"])],
        "plan": ["plan", "--config", c, "--targets", str(f["targets"]), "--prices", str(f["prices"]),
                 "--positions", str(f["positions"])],
        "rebalance": ["rebalance", "--config", c, "--targets", str(f["targets"]), "--prices", str(f["prices"]),
                      "--journal", str(f["journal"]), "--as-of", "d1"],
        "reconcile": ["reconcile", "--config", c, "--journal", str(f["journal"])],
    }


CLI_CASES = [
    ("syntax", "mode: backtest\nvenue:\n  fill_price: [close\n", "line 3"),
    ("merge_key", "venue:\n  fees:\n    <<: {bps: 1}\n", "merge keys"),
    ("complex_key", "? [a, b]\n: 1\n", "plain name"),
    ("latency", "venue:\n  latency_bars: 1.0e+20\n", "venue.latency_bars: Unable to parse"),
    ("fees", "venue:\n  fees:\n    bps: 1.0e+300\n", "venue.fees.bps: Input should be less than or equal to 1000"),
    ("two_errors", "venue:\n  latency_bars: -1\n  fill_prise: x\n", "venue.fill_prise: unknown key (line 3)"),
]


@pytest.mark.parametrize("command", ["demo", "backtest", "plan", "rebalance", "reconcile"])
@pytest.mark.parametrize(("name", "text", "expected"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_config_errors_are_one_red_line_and_exit_2(command: str, name: str, text: str, expected: str,
                                                       tmp_path: Path) -> None:
    config = tmp_path / f"{name}.yaml"
    config.write_text(text)
    result = runner.invoke(app, _commands(config, _files(tmp_path))[command])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and str(config.name) in lines[0] and expected in lines[0], lines[0]
    assert "Traceback" not in result.output
