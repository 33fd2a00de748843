"""The shipped JSON Schema file is the one the Order model produces."""

from __future__ import annotations

import json
from importlib import resources

import execlab as xl


def test_shipped_order_schema_matches_model() -> None:
    shipped = json.loads(resources.files("execlab").joinpath("schemas/order.schema.json").read_text())
    assert shipped == xl.order_json_schema()


def test_schema_lists_every_order_type_and_time_in_force() -> None:
    schema = xl.order_json_schema()
    defs = schema["$defs"]
    assert set(defs["OrderType"]["enum"]) == {t.value for t in xl.OrderType}
    assert set(defs["TimeInForce"]["enum"]) == {t.value for t in xl.TimeInForce}
    assert {"symbol", "side", "quantity", "client_order_id"} <= set(schema["required"])
