"""The neutral Order model and its JSON schema, config loading and client order ids."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

import execlab
from execlab import (
    Config,
    ConfigError,
    Order,
    OrderType,
    Side,
    TimeInForce,
    client_order_id,
    load_config,
    order_json_schema,
)

GOOD: dict[str, Any] = {"symbol": "AAPL", "side": "buy", "quantity": 10, "client_order_id": "xl-abc_1.2:3/4"}


def order(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


def drop(key: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD.items() if k != key}


# ================================================================ Order model


def test_good_market_order() -> None:
    o = Order.model_validate(GOOD)
    assert o.order_type is OrderType.MARKET
    assert o.time_in_force is TimeInForce.DAY
    assert o.side is Side.BUY
    assert o.signed_quantity == 10
    assert Order.model_validate(order(side="sell")).signed_quantity == -10


@pytest.mark.parametrize(
    "data",
    [
        order(order_type="limit", limit_price=101.5),
        order(order_type="stop", stop_price=99.0),
        order(order_type="stop_limit", stop_price=99.0, limit_price=98.5),
        order(order_type="trailing_stop", trail_amount=1.5),
        order(order_type="trailing_stop", trail_percent=2.0),
        order(time_in_force="ioc", quantity=0.001),
        order(client_order_id="a" * 128),
    ],
    ids=["limit", "stop", "stop_limit", "trail_amount", "trail_percent", "ioc_fractional", "id_128"],
)
def test_valid_orders(data: dict[str, Any]) -> None:
    Order.model_validate(data)


BAD_ORDERS: list[tuple[str, dict[str, Any], str]] = [
    ("limit_without_price", order(order_type="limit"), "limit_price"),
    ("stop_limit_without_limit", order(order_type="stop_limit", stop_price=99.0), "limit_price"),
    ("stop_without_stop", order(order_type="stop"), "stop_price"),
    ("market_with_limit", order(limit_price=10.0), "limit_price"),
    ("trailing_without_trail", order(order_type="trailing_stop"), "trail"),
    ("trailing_with_both", order(order_type="trailing_stop", trail_amount=1.0, trail_percent=1.0), "trail"),
    ("market_with_trail", order(trail_percent=1.0), "trail"),
    ("quantity_zero", order(quantity=0), "quantity"),
    ("quantity_negative", order(quantity=-5), "quantity"),
    ("quantity_nan", order(quantity=float("nan")), "quantity"),
    ("quantity_inf", order(quantity=float("inf")), "quantity"),
    ("limit_price_zero", order(order_type="limit", limit_price=0.0), "limit_price"),
    ("trail_percent_100", order(order_type="trailing_stop", trail_percent=100.0), "trail_percent"),
    ("id_empty", order(client_order_id=""), "client_order_id"),
    ("id_space", order(client_order_id="xl abc"), "client_order_id"),
    ("id_pipe", order(client_order_id="run|AAPL"), "client_order_id"),
    ("id_unicode", order(client_order_id="xl-é"), "client_order_id"),
    ("id_too_long", order(client_order_id="a" * 129), "client_order_id"),
    ("side_unknown", order(side="hold"), "side"),
    ("type_unknown", order(order_type="iceberg"), "order_type"),
    ("tif_unknown", order(time_in_force="gtd"), "time_in_force"),
    ("symbol_empty", order(symbol=""), "symbol"),
    ("extra_field", order(price=10.0), "price"),
    ("missing_symbol", drop("symbol"), "symbol"),
    ("missing_side", drop("side"), "side"),
    ("missing_quantity", drop("quantity"), "quantity"),
    ("missing_client_order_id", drop("client_order_id"), "client_order_id"),
]


@pytest.mark.parametrize(("data", "field"), [c[1:] for c in BAD_ORDERS], ids=[c[0] for c in BAD_ORDERS])
def test_invalid_orders_are_refused_naming_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Order.model_validate(data)
    assert field in str(info.value)


def test_order_is_immutable() -> None:
    o = Order.model_validate(GOOD)
    with pytest.raises(ValidationError):
        o.quantity = 5  # type: ignore[misc]


# ================================================================ JSON schema


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = order_json_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    assert cls is jsonschema.Draft202012Validator
    return cls(schema)


def test_schema_declares_fields_and_enums() -> None:
    schema = order_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["required"]) == {"symbol", "side", "quantity", "client_order_id"}
    assert schema["additionalProperties"] is False
    defs = schema["$defs"]
    assert defs["Side"]["enum"] == [s.value for s in Side]
    assert defs["OrderType"]["enum"] == [t.value for t in OrderType]
    assert defs["TimeInForce"]["enum"] == [t.value for t in TimeInForce]
    assert schema["properties"]["client_order_id"]["maxLength"] == 128


def test_schema_accepts_a_good_order(validator: jsonschema.protocols.Validator) -> None:
    validator.validate(GOOD)
    validator.validate(order(order_type="limit", limit_price=10.0, time_in_force="gtc"))


CROSS_FIELD = {"limit_without_price", "stop_limit_without_limit", "stop_without_stop", "market_with_limit",
               "trailing_without_trail", "trailing_with_both", "market_with_trail"}
NOT_JSON = {"quantity_nan", "quantity_inf"}  # NaN/inf are not JSON values
FIELD_BAD = [c for c in BAD_ORDERS if c[0] not in CROSS_FIELD | NOT_JSON]


@pytest.mark.parametrize("data", [c[1] for c in FIELD_BAD], ids=[c[0] for c in FIELD_BAD])
def test_schema_rejects_bad_fields(validator: jsonschema.protocols.Validator, data: dict[str, Any]) -> None:
    assert list(validator.iter_errors(data)), f"schema accepted {data}"


def test_schema_rejects_what_the_model_rejects_across_fields(validator: jsonschema.protocols.Validator) -> None:
    """A webhook client validating against the schema must not accept an order the Order model refuses:
    limit/stop_limit need limit_price, stop/stop_limit need stop_price, a trailing stop exactly one trail value,
    and other types none of these."""
    cases = [c for c in BAD_ORDERS if c[0] in CROSS_FIELD]
    assert len(cases) == len(CROSS_FIELD)
    for _, data, _ in cases:
        with pytest.raises(ValidationError):
            Order.model_validate(data)
    accepted = [name for name, data, _ in cases if not list(validator.iter_errors(data))]
    assert accepted == [], f"schema accepts orders the model refuses: {accepted}"


def test_shipped_schema_file_matches_order_json_schema() -> None:
    path = Path(execlab.__file__).parent / "schemas" / "order.schema.json"
    assert path.is_file(), f"{path} is not shipped (pyproject packages schemas/*.json)"
    assert json.loads(path.read_text()) == order_json_schema()


# ================================================================ config loading


YAML = """\
mode: paper
run_id: ${RUN_ID}
initial_cash: ${CASH:-250000}
venue:
  fees:
    model: bps
    bps: ${FEE_BPS:-1.5}
broker:
  name: alpaca
  base_url: ${ALPACA_URL:-https://paper-api.alpaca.markets}
  api_key: ${ALPACA_KEY}
  api_secret: ${ALPACA_SECRET}
"""
SECRETS = {"ALPACA_KEY": "PKTESTKEY123456789", "ALPACA_SECRET": "s3cr3t-Value-0987654321"}


@pytest.fixture
def yaml_file(tmp_path: Path) -> Path:
    path = tmp_path / "paper.yaml"
    path.write_text(YAML)
    return path


def test_yaml_substitutes_variables_and_defaults(yaml_file: Path) -> None:
    cfg = load_config(yaml_file, env={"RUN_ID": "nightly-01", **SECRETS})
    assert cfg.mode == "paper"
    assert cfg.run_id == "nightly-01"
    assert cfg.initial_cash == 250_000.0
    assert cfg.venue.fees.bps == 1.5
    assert cfg.broker.base_url == "https://paper-api.alpaca.markets"


def test_yaml_environment_overrides_defaults(yaml_file: Path) -> None:
    env = {"RUN_ID": "r2", "CASH": "1000", "FEE_BPS": "0.25", "ALPACA_URL": "http://127.0.0.1:8123", **SECRETS}
    cfg = load_config(str(yaml_file), env=env)
    assert cfg.run_id == "r2"
    assert cfg.initial_cash == 1000.0
    assert cfg.venue.fees.bps == 0.25
    assert cfg.broker.base_url == "http://127.0.0.1:8123"


def test_yaml_reads_the_process_environment(yaml_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_ID", "from-env")
    monkeypatch.delenv("CASH", raising=False)
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    cfg = load_config(yaml_file)
    assert cfg.run_id == "from-env"
    assert cfg.initial_cash == 250_000.0


def test_yaml_substitution_inside_a_longer_string_and_empty_default(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("run_id: ${PREFIX}-${SUFFIX:-x}\nbroker:\n  name: alpaca\n  account_id: ${ACCOUNT:-}\n")
    cfg = load_config(path, env={"PREFIX": "daily"})
    assert cfg.run_id == "daily-x"
    assert cfg.broker.account_id == ""


def test_yaml_missing_variable_without_default(yaml_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"run_id.*RUN_ID"):
        load_config(yaml_file, env=SECRETS)


def test_yaml_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_yaml_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- mode\n- paper\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)


def test_env_secrets_are_secret_and_redacted(yaml_file: Path) -> None:
    cfg = load_config(yaml_file, env={"RUN_ID": "r", **SECRETS})
    assert isinstance(cfg.broker.api_key, SecretStr)
    assert isinstance(cfg.broker.api_secret, SecretStr)
    assert cfg.broker.api_key.get_secret_value() == SECRETS["ALPACA_KEY"]
    assert cfg.broker.api_secret.get_secret_value() == SECRETS["ALPACA_SECRET"]
    for text in (repr(cfg), str(cfg), repr(cfg.broker), cfg.model_dump_json(), str(cfg.model_dump(mode="json"))):
        for secret in SECRETS.values():
            assert secret not in text


def test_config_is_frozen() -> None:
    cfg = Config()
    with pytest.raises(ValidationError):
        cfg.mode = "live"  # type: ignore[misc]


# ================================================================ client order ids


ID_PATTERN = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
BASE = ("run-1", "2024-01-02T00:00:00", "AAPL", 0)


def test_client_order_id_is_deterministic_and_valid() -> None:
    a = client_order_id(*BASE)
    assert a == client_order_id(*BASE)
    assert len(a) <= 36
    assert ID_PATTERN.match(a)
    Order.model_validate(order(client_order_id=a))


@pytest.mark.parametrize(
    "other",
    [
        ("run-2", *BASE[1:]),
        (BASE[0], "2024-01-03T00:00:00", *BASE[2:]),
        (*BASE[:2], "MSFT", BASE[3]),
        (*BASE[:3], 1),
    ],
    ids=["run", "timestamp", "symbol", "leg"],
)
def test_client_order_id_differs_per_field(other: tuple[str, str, str, int]) -> None:
    assert client_order_id(*other) != client_order_id(*BASE)


text = st.text(min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(text, text, text, st.integers(0, 1000))
def test_client_order_id_format_for_any_input(run: str, ts: str, symbol: str, leg: int) -> None:
    a = client_order_id(run, ts, symbol, leg)
    assert ID_PATTERN.match(a), a
    assert a == client_order_id(run, ts, symbol, leg)


safe = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabc0123456789-._:", min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(st.tuples(safe, safe, safe, st.integers(0, 50)), st.tuples(safe, safe, safe, st.integers(0, 50)))
def test_client_order_ids_differ_for_different_keys(a: tuple[str, str, str, int],
                                                    b: tuple[str, str, str, int]) -> None:
    if a != b:
        assert client_order_id(*a) != client_order_id(*b)


def test_a_key_given_twice_in_yaml_is_an_error_not_the_last_one_silently() -> None:
    text = "mode: backtest\nrisk:\n  max_order_value: 500_000\n  max_order_value: 200_000\n"
    with pytest.raises(ConfigError, match=r"max_order_value: given twice .*line 4"):
        load_config(text)


def test_a_key_of_another_broker_is_an_unknown_key_of_this_one() -> None:
    with pytest.raises(ConfigError, match=r"broker\.api_key: unknown key"):
        load_config({"broker": {"name": "sim", "api_key": "${K}"}}, env={"K": "x"})
