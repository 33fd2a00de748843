"""The simulated venue and the executors that trade on it: what a backtest or paper fill means (its settings
are `execlab.config.VenueConfig`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from execlab._core.lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers and editors see; at run time each name is imported on first use
    from execlab._data.bars import (
        MarketData as MarketData,
    )
    from execlab._data.feeds import (
        FeedError as FeedError,
    )
    from execlab._data.feeds import (
        FeedEvent as FeedEvent,
    )
    from execlab._data.feeds import (
        PriceFeed as PriceFeed,
    )
    from execlab._data.feeds import (
        QueueFeed as QueueFeed,
    )
    from execlab._data.feeds import (
        ReplayFeed as ReplayFeed,
    )
    from execlab._execution.backtest_executor import (
        BacktestExecutor as BacktestExecutor,
    )
    from execlab._execution.paper_executor import (
        PaperExecutor as PaperExecutor,
    )
    from execlab._sim import (
        SimulatedVenue as SimulatedVenue,
    )
    from execlab._sim.quote_venue import (
        QuoteVenue as QuoteVenue,
    )

#: Each public name and the module it is defined in. Adding a name is one line here.
_EXPORTS: dict[str, str] = {
    "MarketData": "execlab._data.bars",
    "FeedError": "execlab._data.feeds",
    "FeedEvent": "execlab._data.feeds",
    "PriceFeed": "execlab._data.feeds",
    "QueueFeed": "execlab._data.feeds",
    "ReplayFeed": "execlab._data.feeds",
    "BacktestExecutor": "execlab._execution.backtest_executor",
    "PaperExecutor": "execlab._execution.paper_executor",
    "SimulatedVenue": "execlab._sim",
    "QuoteVenue": "execlab._sim.quote_venue",
}

__all__, __getattr__, __dir__ = lazy_exports('execlab.sim', _EXPORTS)

del annotations, TYPE_CHECKING, lazy_exports  # only the public names stay on the module
