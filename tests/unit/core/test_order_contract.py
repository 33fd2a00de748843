"""One contract for the neutral order: the ``Order`` model and its shipped JSON Schema accept exactly the same orders.

Hypothesis builds orders near the boundary (valid orders with one or more fields swapped for booleans, numeric
strings, NaN, infinities, huge integers, ids ending in a newline, nulls, missing or unknown keys) and both sides
judge each one, as Python objects and as JSON text: 0 disagreements. ``EXECLAB_FUZZ_EXAMPLES`` orders (300 by
default; ``make soak`` runs thousands).
"""

from __future__ import annotations

import json
import math
import os
from importlib import resources
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import execlab as xl
from execlab._core.models import MAX_ORDER_PRICE, MAX_ORDER_QUANTITY

SCHEMA = json.loads(resources.files("execlab").joinpath("schemas/order.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
EXAMPLES = int(os.environ.get("EXECLAB_FUZZ_EXAMPLES", "300"))

SPECIAL = [True, False, "10", "1e3", " 5", "NaN", math.nan, math.inf, -math.inf, 10**400, -(10**400), 1e308,
           MAX_ORDER_QUANTITY, MAX_ORDER_QUANTITY * 1.0000001, MAX_ORDER_PRICE, MAX_ORDER_PRICE + 1, 0, 0.0, -0.0,
           -1, 5e-324, 100, 99.999, None, [], {}, [1], "", "x\n", "abc\n", "a b", "a\u00e9", "A" * 129, "buy",
           "BUY", "sell", "market", "limit", "trailing_stop", "gtc", "Day", 1, 2.5, 7]
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4)
JUNK = st.sampled_from(SPECIAL) | _json_values

FIELDS = ["symbol", "side", "quantity", "order_type", "limit_price", "stop_price", "trail_amount", "trail_percent",
          "time_in_force", "client_order_id", "strategy_id", "run_id"]
_prices = st.floats(min_value=0.01, max_value=MAX_ORDER_PRICE) | st.integers(1, 10_000)


@st.composite
def valid_orders(draw: st.DrawFn) -> dict[str, Any]:
    """A valid order as a JSON-like mapping, every order type."""
    order_type = draw(st.sampled_from([t.value for t in xl.OrderType]))
    data: dict[str, Any] = {
        "symbol": draw(st.text(min_size=1, max_size=64)),
        "side": draw(st.sampled_from(["buy", "sell"])),
        "quantity": draw(st.floats(min_value=1e-9, max_value=MAX_ORDER_QUANTITY) | st.integers(1, 10**9)),
        "client_order_id": draw(st.from_regex(r"\A[.A-Za-z0-9:/_-]{1,128}\Z")),
    }
    if draw(st.booleans()) or order_type != "market":
        data["order_type"] = order_type
    if order_type in ("limit", "stop_limit"):
        data["limit_price"] = draw(_prices)
    if order_type in ("stop", "stop_limit"):
        data["stop_price"] = draw(_prices)
    if order_type == "trailing_stop":
        if draw(st.booleans()):
            data["trail_amount"] = draw(_prices)
        else:
            data["trail_percent"] = draw(st.floats(min_value=0.01, max_value=99.99))
    if draw(st.booleans()):
        data["time_in_force"] = draw(st.sampled_from([t.value for t in xl.TimeInForce]))
    return data


@st.composite
def near_orders(draw: st.DrawFn) -> dict[str, Any]:
    """A valid order, then some fields replaced by junk, dropped, or unknown keys added."""
    data = draw(valid_orders())
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        action = draw(st.sampled_from(["junk", "junk", "junk", "drop", "null"]))
        if action == "drop":
            data.pop(name, None)
        else:
            data[name] = None if action == "null" else draw(JUNK)
    if draw(st.integers(0, 9)) == 0:
        data[draw(st.sampled_from(["extra", "Quantity", "qty"]))] = 1
    return data


def _model_accepts(data: Any) -> bool:
    try:
        xl.Order.model_validate(data)
    except ValidationError:
        return False
    return True


def _model_accepts_json(text: str) -> bool:
    try:
        xl.Order.model_validate_json(text)
    except ValidationError:
        return False
    return True


def _strict_json(text: str) -> Any:
    """RFC 8259 JSON: NaN and Infinity are not JSON."""
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_orders())
def test_model_and_schema_agree_on_every_order(data: dict[str, Any]) -> None:
    model = _model_accepts(data)
    schema = VALIDATOR.is_valid(data)
    assert model == schema, (f"model {'accepts' if model else 'refuses'}, schema {'accepts' if schema else 'refuses'}"
                             f": {data!r}; schema errors: {[e.message for e in VALIDATOR.iter_errors(data)]}")
    try:  # the same order as JSON text, the way a webhook receives it
        text = json.dumps(data, allow_nan=False)
    except (ValueError, TypeError):
        return
    assert _model_accepts_json(text) == VALIDATOR.is_valid(_strict_json(text)) == model, text


def test_agreement_is_not_vacuous() -> None:
    """The generator reaches both sides of the contract."""
    seen: set[bool] = set()

    @settings(max_examples=200, deadline=None, database=None)
    @given(near_orders())
    def collect(data: dict[str, Any]) -> None:
        seen.add(_model_accepts(data))

    collect()
    assert seen == {True, False}


@pytest.mark.parametrize(("field", "value"), [
    ("quantity", True), ("quantity", "10"), ("quantity", math.nan), ("quantity", math.inf), ("quantity", 10**400),
    ("quantity", MAX_ORDER_QUANTITY * 2), ("client_order_id", "abc\n"), ("client_order_id", "abc\nx"),
])
def test_the_issue_disagreements_are_refused_by_both(field: str, value: Any) -> None:
    data = {"symbol": "AAPL", "side": "buy", "quantity": 10, "client_order_id": "run-1:AAPL:0", field: value}
    assert not _model_accepts(data)
    assert not VALIDATOR.is_valid(data)


def test_schema_is_generated_from_the_model() -> None:
    assert xl.order_json_schema() == SCHEMA
    assert SCHEMA["properties"]["quantity"]["maximum"] == MAX_ORDER_QUANTITY
