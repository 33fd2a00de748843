"""The broker registry and config models, Alpaca's activities → fills, and the executor's two ways to fills."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import pytest

import execlab as xl
from execlab._brokers.contract import BrokerAdapter, BrokerFill, BrokerOrder, Capability
from execlab._brokers.executor import BrokerExecutor
from execlab._brokers.registry import BrokerSpec, broker_spec, register_broker, registered_brokers
from execlab._config import BrokerConfig, SimBrokerConfig
from execlab._core.models import AccountSnapshot, Order, OrderStatus, Side
from execlab._oms.journal import Journal


# -- registry and config ------------------------------------------------------------------------------------------
def test_built_in_brokers_and_an_unknown_name_at_load() -> None:
    assert {"sim", "alpaca", "ibkr"} <= set(registered_brokers())
    with pytest.raises(xl.ConfigError, match=r"'schwab' is not a registered broker \(registered: .*alpaca.*ibkr.*sim"):
        xl.load_config({"mode": "paper", "broker": {"name": "schwab"}})
    with pytest.raises(xl.ConfigError, match=r"not a registered broker"):
        broker_spec("nope")


def test_each_broker_has_its_own_keys() -> None:
    cfg = xl.load_config({"mode": "paper", "broker": {"name": "alpaca", "api_key": "${K}", "api_secret": "${S}"}},
                         env={"K": "key-1", "S": "secret-1"})
    assert type(cfg.broker).__name__ == "AlpacaConfig" and cfg.broker.secrets() == ("key-1", "secret-1")
    assert cfg.model_dump()["broker"]["api_key"] is not None  # the subclass's fields are kept when dumped
    with pytest.raises(xl.ConfigError, match=r"broker\.gateway_port: unknown key"):
        xl.load_config({"broker": {"name": "alpaca", "gateway_port": 4002}})
    assert isinstance(xl.Config().broker, SimBrokerConfig)


def test_validating_an_alpaca_config_imports_no_sdk() -> None:
    code = ("import sys, execlab\n"
            "execlab.load_config({'mode': 'paper', 'broker': {'name': 'alpaca', 'base_url': 'http://127.0.0.1:9'}})\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alpaca', 'requests_oauthlib', 'aiohttp')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


class _DemoConfig(BrokerConfig):
    name: Literal["demo"] = "demo"
    host: str = "127.0.0.1"


@pytest.fixture
def forget_demo() -> Any:
    yield
    from execlab import _config
    from execlab._brokers import registry

    registry._SPECS.pop("demo", None)
    _config._BROKER_MODELS.pop("demo", None)


def test_registering_a_broker_is_one_line(forget_demo: None) -> None:
    made: list[tuple[BrokerConfig, xl.Config]] = []

    def factory(broker: BrokerConfig, config: xl.Config) -> BrokerAdapter:
        made.append((broker, config))
        return _Adapter(set())

    register_broker(BrokerSpec("demo", _DemoConfig, factory))
    cfg = xl.load_config({"mode": "paper", "broker": {"name": "demo", "host": "10.0.0.1"}})
    assert isinstance(cfg.broker, _DemoConfig) and cfg.broker.host == "10.0.0.1"
    executor = xl.make_executor(cfg, ["AAA"], journal=Journal(":memory:"))
    assert isinstance(executor, BrokerExecutor) and made and made[0][0] is cfg.broker


# -- Alpaca's account activities → fills ---------------------------------------------------------------------------
def _order(oid: str, symbol: str = "AAPL", side: Side = Side.BUY) -> BrokerOrder:
    return BrokerOrder(f"xl-{oid:0>32}", oid, symbol, side, 10.0, 10.0, 100.0, OrderStatus.FILLED)


def test_fills_from_activities_with_fee_and_crypto_fee() -> None:
    from execlab.adapters.alpaca._mapping import fills_from_activities

    orders = {"o1": _order("o1"), "o2": _order("o2", "BTC/USD", Side.BUY), "o3": _order("o3", "ETH/USD", Side.SELL)}
    rows: list[dict[str, Any]] = [
        {"id": "20240102093000001::e1", "activity_type": "FILL", "order_id": "o1", "qty": "4", "price": "100",
         "transaction_time": "2024-01-02T14:30:00.001Z"},
        {"id": "20240102093000002::e2", "activity_type": "FILL", "order_id": "o1", "qty": "6", "price": "101",
         "transaction_time": "2024-01-02T14:30:00.002Z"},
        {"id": "20240102093000001::e1", "activity_type": "FEE", "order_id": "o1", "execution_id": "e1",
         "net_amount": "-0.40"},
        {"id": "x::f2", "activity_type": "FEE", "order_id": "o1", "net_amount": "-0.60"},  # order only: spread
        {"id": "x::e3", "activity_type": "FILL", "order_id": "o2", "qty": "0.5", "price": "40000"},
        {"id": "x::e3", "activity_type": "CFEE", "order_id": "o2", "execution_id": "e3", "net_amount": "0",
         "qty": "-0.00125"},
        {"id": "x::e4", "activity_type": "FILL", "order_id": "o3", "qty": "1", "price": "2000"},
        {"id": "x::e4", "activity_type": "CFEE", "order_id": "o3", "execution_id": "e4", "net_amount": "0",
         "qty": "-5"},
        {"id": "x::e5", "activity_type": "FILL", "order_id": "unknown", "qty": "1", "price": "1"},
    ]
    fills = {f.execution_id: f for f in fills_from_activities(rows, orders.get)}
    assert set(fills) == {"e1", "e2", "e3", "e4"}  # an order that is not known is left out
    assert fills["e1"].client_order_id == orders["o1"].client_order_id and fills["e1"].quantity == 4
    assert fills["e1"].timestamp == datetime(2024, 1, 2, 14, 30, 0, 1000, tzinfo=UTC)
    assert fills["e1"].fee == pytest.approx(0.40 + 0.60 * 4 / 10) and fills["e1"].fee_currency == "USD"
    assert fills["e2"].fee == pytest.approx(0.60 * 6 / 10)
    assert fills["e3"].fee == pytest.approx(0.00125) and fills["e3"].fee_currency == "BTC"  # a buy pays in the asset
    assert fills["e4"].fee == pytest.approx(5) and fills["e4"].fee_currency == "USD"  # a sell pays in the quote


# -- the executor: reported executions, or derived fills as the fallback --------------------------------------------
class _Adapter(BrokerAdapter):
    """An in-memory broker that fills every order at once in two executions with a fee each."""

    name = "memory"

    def __init__(self, capabilities: set[Capability]):
        self.capabilities = frozenset(capabilities)  # type: ignore[misc]
        self.orders: dict[str, BrokerOrder] = {}
        self.executions: list[BrokerFill] = []
        self.fills_calls = 0

    def _submit(self, order: Order) -> BrokerOrder:
        oid = f"b{len(self.orders)}"
        half = order.quantity / 2
        for k, price in enumerate((10.0, 12.0)):
            self.executions.append(BrokerFill(f"{oid}-x{k}", order.client_order_id, oid, order.symbol, order.side,
                                              half, price, fee=0.25, fee_currency="USD", liquidity="taker",
                                              timestamp=datetime(2024, 1, 2, 15, k, tzinfo=UTC)))
        placed = BrokerOrder(order.client_order_id, oid, order.symbol, order.side, order.quantity, order.quantity,
                             11.0, OrderStatus.FILLED)
        self.orders[order.client_order_id] = placed
        return placed

    def _cancel(self, broker_order_id: str) -> None:
        pass

    def _order(self, client_order_id: str) -> BrokerOrder | None:
        return self.orders.get(client_order_id)

    def _open_orders(self) -> list[BrokerOrder]:
        return []

    def _positions(self) -> dict[str, float]:
        return {}

    def _account(self) -> AccountSnapshot:
        return AccountSnapshot(cash=0.0, equity=0.0, buying_power=0.0)

    def _fills(self, since: datetime | None) -> list[BrokerFill]:
        self.fills_calls += 1
        return [f for f in self.executions if since is None or f.timestamp is None or f.timestamp > since]

    def _tradable(self, symbols: Sequence[str]) -> set[str] | None:
        return set(symbols)


def _place(adapter: _Adapter) -> Journal:
    journal = Journal(":memory:")
    executor = BrokerExecutor(adapter, journal, "r", ["AAA"], stream=False)
    executor.place(Order(symbol="AAA", side=Side.BUY, quantity=10, client_order_id="xl-" + "a" * 32))
    executor.refresh()
    executor.refresh()
    return journal


def test_with_fills_the_journal_holds_the_brokers_executions() -> None:
    adapter = _Adapter({Capability.FILLS})
    fills = _place(adapter).fills("r")
    assert list(fills["fill_id"]) == ["b0-x0", "b0-x1"]
    assert list(fills["price"]) == [10.0, 12.0] and list(fills["fee"]) == [0.25, 0.25]
    assert list(fills["fee_currency"]) == ["USD", "USD"] and list(fills["liquidity"]) == ["taker", "taker"]
    assert fills["executed_at"].iloc[0].startswith("2024-01-02T15:00:00")  # the broker's time of the execution
    assert adapter.fills_calls == 1  # listed once, when the order had filled more than the journal held


def test_without_fills_the_executor_derives_one_from_the_cumulative_quantity() -> None:
    adapter = _Adapter(set())
    fills = _place(adapter).fills("r")
    assert list(fills["fill_id"]) == ["b0:10"] and list(fills["price"]) == [11.0] and list(fills["fee"]) == [0.0]
    assert adapter.fills_calls == 0  # the hook is not called when the capability is not declared


def test_an_old_journal_gains_the_new_fill_columns(tmp_path: Any) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE fills (fill_id TEXT PRIMARY KEY, client_order_id TEXT NOT NULL, run_id TEXT NOT NULL, "
               "symbol TEXT NOT NULL, side TEXT NOT NULL, quantity REAL NOT NULL, price REAL NOT NULL, "
               "fee REAL NOT NULL, at TEXT NOT NULL)")
    db.execute("INSERT INTO fills VALUES ('f1', 'c1', 'r', 'AAA', 'buy', 1, 10, 0.5, '2024-01-01')")
    db.commit()
    db.close()
    journal = Journal(path)
    fills = journal.fills("r")
    assert list(fills["fee"]) == [0.5] and fills["fee_currency"].isna().all()
    journal.close()
