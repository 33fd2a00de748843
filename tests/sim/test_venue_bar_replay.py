"""A local broker venue replaying bars fills as paper (and so the backtest) fills on the same bars.

The same orders, sent after the same bars of the real minute data (SPY, IBM, AIG, BAC), reach the venue account
(:meth:`VenueAccount.step_bars`) and the paper executor: every fill has the same bar, quantity and price, for each
fill price model and with a participation cap that carries partial fills to later bars.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from execlab._config import VenueConfig
from execlab._core.batches import OrderBatch
from execlab._core.codes import DAY, LIMIT, MARKET
from execlab._data.feeds import ReplayFeed
from execlab._execution.paper_executor import PaperExecutor
from execlab.venues._base.account import VenueAccount, VenueOrderRequest

from helpers.paths import SHARED_DATA

MINUTES = SHARED_DATA / "us_equity_minute_lean.parquet"
SYMBOLS = ("AIG", "BAC", "IBM", "SPY")

pytestmark = pytest.mark.skipif(not MINUTES.exists(), reason="../shared/data is absent")


def _bars() -> pd.DataFrame:
    d = pd.read_parquet(MINUTES)
    d = d[d["symbol"].isin(SYMBOLS)]
    return d[(d["ts"] >= "2013-10-07 14:30") & (d["ts"] < "2013-10-07 15:30")].reset_index(drop=True)


# (event number after which it is sent, symbol, signed quantity, limit or NaN)
ORDERS = [(0, "SPY", 3000.0, np.nan), (0, "BAC", -2000.0, np.nan), (5, "IBM", 500.0, np.nan),
          (7, "AIG", 800.0, np.nan), (9, "SPY", -1000.0, np.nan), (12, "IBM", -300.0, 180.0),
          (15, "BAC", 5000.0, 14.0), (20, "SPY", 700.0, np.nan)]


def _paper(config: VenueConfig, feed: ReplayFeed) -> list[tuple[int, str, float, float]]:
    ex = PaperExecutor(SYMBOLS, config, initial_cash=10_000_000.0, allow_short=True)
    out: list[tuple[int, str, float, float]] = []
    oid = 0
    sym_of: dict[int, str] = {}
    for i, event in enumerate(feed):
        ex.on_event(event)
        fills, _ = ex.poll()
        out += [(i, sym_of[int(o)], float(q), float(p)) for o, q, p in zip(fills.oid, fills.quantity, fills.price,
                                                                          strict=True)]
        for when, sym, qty, limit in ORDERS:
            if when == i:
                sym_of[oid] = sym
                ex.submit(OrderBatch(np.array([oid]), np.array([SYMBOLS.index(sym)]), np.array([qty]),
                                     np.array([LIMIT if limit == limit else MARKET], np.int8),
                                     np.array([DAY], np.int8), np.array([limit]), np.array([np.nan]),
                                     np.array([np.nan]), np.array([np.nan])))
                oid += 1
        fills, _ = ex.poll()  # fill_price close: at the close of the bar they came after
        out += [(i, sym_of[int(o)], float(q), float(p)) for o, q, p in zip(fills.oid, fills.quantity, fills.price,
                                                                          strict=True)]
    return sorted(out)


def _venue(config: VenueConfig, feed: ReplayFeed) -> list[tuple[int, str, float, float]]:
    account = VenueAccount(10_000_000.0, venue_config=config, allow_short=True)
    seen = 0
    out: list[tuple[int, str, float, float]] = []

    def collect(i: int) -> None:
        nonlocal seen
        for ex in account.executions()[seen:]:
            out.append((i, ex.symbol, ex.qty if ex.side == "buy" else -ex.qty, ex.price))
        seen = len(account.executions())

    for i, event in enumerate(feed):
        account.step_bars(event)
        collect(i)
        for when, sym, qty, limit in ORDERS:
            if when == i:
                account.place(VenueOrderRequest(sym, "buy" if qty > 0 else "sell", "limit" if limit == limit
                                                else "market", "day", qty=abs(qty),
                                                limit=None if limit != limit else limit))
        collect(i)
    return sorted(out)


@pytest.mark.parametrize("fill_price", ["close", "next_open", "vwap"])
def test_venue_bar_replay_fills_where_paper_fills(fill_price: str) -> None:
    feed = ReplayFeed.from_bars(_bars())
    config = VenueConfig.model_validate({"fill_price": fill_price, "participation_cap": 0.05,
                                         "slippage": {"model": "fixed_bps", "bps": 2.0},
                                         "fees": {"model": "bps", "bps": 1.0}})
    paper = _paper(config, feed)
    venue = _venue(config, feed)
    assert len(paper) > len(ORDERS)  # the cap split orders over later bars
    assert venue == paper


def test_bar_replay_refuses_latency() -> None:
    account = VenueAccount(1000.0, venue_config=VenueConfig(fill_price="next_open", latency_bars=1))
    event = next(iter(ReplayFeed.from_bars(_bars())))
    with pytest.raises(ValueError, match="latency"):
        account.step_bars(event)
