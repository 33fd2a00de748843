"""The process the order-group crash trial kills: place a bracket through the emulating OMS on the simulated broker
(its account in a file beside the journal) and walk a price path, stepping the router after each price.

Run as ``python group_crash_child.py <folder>``; every run does the whole path again from the start (a restart), so
what it does twice must change nothing. Prints ``ready`` once imported and ``done`` when the path is walked.
"""

from __future__ import annotations

import sys
import time
from contextlib import closing
from pathlib import Path

from execlab import VenueConfig
from execlab._brokers.executor import BrokerExecutor
from execlab._brokers.order_groups import GroupRouter
from execlab._brokers.sim_adapter import SimAdapter
from execlab._core.models import Order, OrderType, Side, TimeInForce
from execlab._core.order_classes import OrderClass, OrderGroup
from execlab._oms.journal import Journal

PARENT = "xl-" + "c4" * 16
PATH = (100.0, 101.0, 99.0, 94.5, 110.5, 100.0)


def group() -> OrderGroup:
    """The bracket every run asks for: buy 100 SPY at market, take-profit 110, stop-loss 95."""
    entry = Order(symbol="SPY", side=Side.BUY, quantity=100.0, client_order_id=PARENT, time_in_force=TimeInForce.GTC,
                  order_type=OrderType.MARKET)
    return OrderGroup(OrderClass.BRACKET, entry, take_profit=110.0, stop_loss=95.0)


def main(folder: Path) -> None:
    print("ready", flush=True)  # imported: the trial's kill clock starts here
    adapter = SimAdapter(VenueConfig(), 1_000_000.0, state_path=folder / "account.json")
    with closing(Journal(folder / "j.sqlite")) as journal, \
            BrokerExecutor(adapter, journal, "crash", ("SPY",), stream=False, backoff_seconds=0.01) as ex:
        router = GroupRouter(ex)
        adapter.set_market({"SPY": PATH[0]})
        router.place(group())
        for price in PATH:
            adapter.set_market({"SPY": price})
            router.step()
            time.sleep(0.05)
    print("done", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
