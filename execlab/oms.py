"""The order path under the drivers: the columnar plan and risk engine, the order book's state machine, the journal,
the order and fill values, instruments and client order ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from execlab._core.lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers and editors see; at run time each name is imported on first use
    from execlab._core.batches import (
        FillBatch as FillBatch,
    )
    from execlab._core.batches import (
        OrderBatch as OrderBatch,
    )
    from execlab._core.batches import (
        OrderEvents as OrderEvents,
    )
    from execlab._core.ids import (
        client_order_id as client_order_id,
    )
    from execlab._core.instruments import (
        DEFAULT_INSTRUMENTS as DEFAULT_INSTRUMENTS,
    )
    from execlab._core.instruments import (
        Instrument as Instrument,
    )
    from execlab._core.instruments import (
        InstrumentTable as InstrumentTable,
    )
    from execlab._core.models import (
        AccountSnapshot as AccountSnapshot,
    )
    from execlab._core.models import (
        Fill as Fill,
    )
    from execlab._core.models import (
        Order as Order,
    )
    from execlab._core.models import (
        OrderStatus as OrderStatus,
    )
    from execlab._core.models import (
        OrderType as OrderType,
    )
    from execlab._core.models import (
        Position as Position,
    )
    from execlab._core.models import (
        Side as Side,
    )
    from execlab._core.models import (
        TimeInForce as TimeInForce,
    )
    from execlab._core.models import (
        order_json_schema as order_json_schema,
    )
    from execlab._core.order_classes import (
        LegRole as LegRole,
    )
    from execlab._core.order_classes import (
        OrderClass as OrderClass,
    )
    from execlab._core.order_classes import (
        OrderGroup as OrderGroup,
    )
    from execlab._core.order_classes import (
        leg_client_id as leg_client_id,
    )
    from execlab._data.symbols import (
        normalise_symbol as normalise_symbol,
    )
    from execlab._data.symbols import (
        read_symbol_values as read_symbol_values,
    )
    from execlab._data.symbols import (
        symbol_values as symbol_values,
    )
    from execlab._oms.book import (
        TRANSITIONS as TRANSITIONS,
    )
    from execlab._oms.book import (
        OrderBook as OrderBook,
    )
    from execlab._oms.book import (
        allowed_transition as allowed_transition,
    )
    from execlab._oms.journal import (
        Journal as Journal,
    )
    from execlab._plan.diff import (
        CostEstimate as CostEstimate,
    )
    from execlab._plan.diff import (
        Plan as Plan,
    )
    from execlab._plan.diff import (
        PlanReason as PlanReason,
    )
    from execlab._plan.diff import (
        PlanSettings as PlanSettings,
    )
    from execlab._plan.diff import (
        plan_orders as plan_orders,
    )
    from execlab._risk.engine import (
        RiskEngine as RiskEngine,
    )
    from execlab._risk.engine import (
        RiskReason as RiskReason,
    )

#: Each public name and the module it is defined in. Adding a name is one line here.
_EXPORTS: dict[str, str] = {
    "FillBatch": "execlab._core.batches",
    "OrderBatch": "execlab._core.batches",
    "OrderEvents": "execlab._core.batches",
    "client_order_id": "execlab._core.ids",
    "DEFAULT_INSTRUMENTS": "execlab._core.instruments",
    "Instrument": "execlab._core.instruments",
    "InstrumentTable": "execlab._core.instruments",
    "AccountSnapshot": "execlab._core.models",
    "Fill": "execlab._core.models",
    "Order": "execlab._core.models",
    "OrderStatus": "execlab._core.models",
    "OrderType": "execlab._core.models",
    "Position": "execlab._core.models",
    "Side": "execlab._core.models",
    "TimeInForce": "execlab._core.models",
    "order_json_schema": "execlab._core.models",
    "LegRole": "execlab._core.order_classes",
    "OrderClass": "execlab._core.order_classes",
    "OrderGroup": "execlab._core.order_classes",
    "leg_client_id": "execlab._core.order_classes",
    "normalise_symbol": "execlab._data.symbols",
    "read_symbol_values": "execlab._data.symbols",
    "symbol_values": "execlab._data.symbols",
    "OrderBook": "execlab._oms.book",
    "TRANSITIONS": "execlab._oms.book",
    "allowed_transition": "execlab._oms.book",
    "Journal": "execlab._oms.journal",
    "CostEstimate": "execlab._plan.diff",
    "Plan": "execlab._plan.diff",
    "PlanReason": "execlab._plan.diff",
    "PlanSettings": "execlab._plan.diff",
    "plan_orders": "execlab._plan.diff",
    "RiskEngine": "execlab._risk.engine",
    "RiskReason": "execlab._risk.engine",
}

__all__, __getattr__, __dir__ = lazy_exports('execlab.oms', _EXPORTS)

del annotations, TYPE_CHECKING, lazy_exports  # only the public names stay on the module
