"""The parent-order scheduler: a pure function from (parents, progress, market, time, cash) to child orders.

Nothing here is held between calls: the caller rebuilds each parent's progress from its OMS book or journal, so
a backtest, a paper run and a broker on the clock (and a process resumed after a crash) send the same children.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from execlab._algos.ids import child_client_id
from execlab._algos.values import ChildOrder, MarketSlice, ParentOrder, ParentProgress, SkipReason
from execlab._core.instruments import Instrument, InstrumentTable

__all__ = ["is_finished", "next_children", "scheduled_fraction", "scheduled_quantity"]

_EPS = 1e-9
_NO_PROGRESS = ParentProgress()


def _floor_lot(quantity: float, lot: float) -> float:
    if quantity <= 0:
        return 0.0
    if lot <= 0:
        return quantity
    return math.floor(quantity / lot + _EPS) * lot


def _slice_index(parent: ParentOrder, now: pd.Timestamp) -> int:
    """The 1-based slice ``now`` falls in (0 before the start, ``slices`` from the last slice on)."""
    if now < parent.start:
        return 0
    p = parent.params
    k = int((now - parent.start) / (p.horizon / p.slices)) + 1
    return min(k, p.slices)


def _fraction_at_slice(parent: ParentOrder, k: int) -> float:
    p = parent.params
    if k <= 0:
        return 0.0
    if k >= p.slices:
        return 1.0
    if p.algo == "vwap" and p.profile is not None:
        return sum(p.profile[:k]) / sum(p.profile)
    return k / p.slices


def scheduled_fraction(parent: ParentOrder, now: pd.Timestamp) -> float:
    """Fraction of the parent the schedule wants done (filled or working) by ``now``: TWAP k/N, VWAP the cumulative
    volume profile, POV and iceberg all of it (their pace comes from volume and display size)."""
    if now < parent.start:
        return 0.0
    if now >= parent.end or parent.params.algo in ("pov", "iceberg"):
        return 1.0
    return _fraction_at_slice(parent, _slice_index(parent, now))


def scheduled_quantity(parent: ParentOrder, now: pd.Timestamp, lot: float = 0.0) -> float:
    """The cumulative quantity due by ``now`` (rounded down to ``lot``; the whole quantity at the end)."""
    fraction = scheduled_fraction(parent, now)
    return parent.quantity if fraction >= 1.0 else _floor_lot(fraction * parent.quantity, lot)


def is_finished(parent: ParentOrder, progress: ParentProgress, now: pd.Timestamp) -> bool:
    """Whether the parent needs nothing more: all filled, or its horizon is over under ``at_end: leave`` with no
    child working."""
    if parent.quantity - progress.filled <= _EPS * max(1.0, parent.quantity):
        return True
    return now >= parent.end and parent.params.at_end == "leave" and progress.open <= 0


def _limit_price(parent: ParentOrder, instrument: Instrument) -> float | None:
    k = parent.params.limit_bps
    if k is None:
        return None
    tick = instrument.tick_size
    if parent.side == "buy":
        raw = parent.arrival_price * (1 + k / 1e4)
        return math.floor(raw / tick + _EPS) * tick if tick > 0 else raw
    raw = parent.arrival_price * (1 - k / 1e4)
    return math.ceil(raw / tick - _EPS) * tick if tick > 0 else raw


def _guard(parent: ParentOrder, market: MarketSlice, limit: float | None) -> str | None:
    """Why the market is outside the parent's guards now, or None."""
    p = parent.params
    if p.max_spread_bps is not None and market.bid is not None and market.ask is not None:
        mid = (market.bid + market.ask) / 2
        if mid > 0 and (market.ask - market.bid) / mid * 1e4 > p.max_spread_bps + _EPS:
            return f"spread {(market.ask - market.bid) / mid * 1e4:.1f} bps > max_spread_bps {p.max_spread_bps:g}"
    if limit is not None:
        ref = (market.ask if parent.side == "buy" else market.bid) or market.last
        if (parent.side == "buy" and ref > limit + _EPS) or (parent.side == "sell" and ref < limit - _EPS):
            return f"price {ref:g} beyond the limit guard {limit:g}"
    return None


def _base_size(parent: ParentOrder, progress: ParentProgress, now: pd.Timestamp, lot: float) -> tuple[float, str]:
    """The child's size before caps, guards and cash, and why."""
    p = parent.params
    remaining = parent.quantity - progress.filled - progress.open
    if now >= parent.end:
        return remaining, "sweep"
    if p.algo == "pov":
        return remaining, "participation"
    if p.algo == "iceberg":
        if progress.open > _EPS:
            return 0.0, "iceberg"
        return min(_floor_lot(p.display_size, lot) or p.display_size, remaining), (
            "iceberg" if progress.children_sent == 0 else "iceberg-repost")
    due = scheduled_quantity(parent, now, lot)
    previous = _floor_lot(_fraction_at_slice(parent, _slice_index(parent, now) - 1) * parent.quantity, lot)
    behind = progress.filled + progress.open < previous - _EPS
    return due - progress.filled - progress.open, "catch-up" if behind else "schedule"


def next_children(
    parents: Iterable[ParentOrder],
    progress: Mapping[str, ParentProgress],
    market: Mapping[str, MarketSlice],
    now: pd.Timestamp,
    *,
    cash_available: float,
    instruments: InstrumentTable | None = None,
) -> tuple[list[ChildOrder], list[SkipReason]]:
    """The children to send at ``now`` (at most one per parent) and the reasons some parents sent less.

    Sells are sized first; buys are sized only from ``cash_available`` (free cash plus realised proceeds, already
    net of open buy children), never from the proceeds of sells still working. Each child is
    ``schedule(now) − filled − open`` rounded down to the symbol's lot, capped at ``participation`` × the volume
    since the previous child, merged with the rest when the rest would be under the minimum, and skipped when under
    the minimum itself (it is carried to the next child). After the horizon, ``at_end: sweep`` sends what is left
    (within the limit guard), ``leave`` reports it.
    """
    table = instruments if instruments is not None else InstrumentTable()
    ordered: Sequence[ParentOrder] = sorted(parents, key=lambda par: par.side != "sell")
    children: list[ChildOrder] = []
    skips: list[SkipReason] = []
    cash = max(0.0, cash_available)
    for parent in ordered:
        prog = progress.get(parent.client_id, _NO_PROGRESS)
        if is_finished(parent, prog, now) or now < parent.start:
            if now >= parent.end and parent.params.at_end == "leave":
                left = parent.quantity - prog.filled
                if left > _EPS:
                    skips.append(SkipReason(parent.client_id, parent.symbol, "left at the end of the horizon", left))
            continue
        mkt = market.get(parent.symbol)
        if mkt is None:
            skips.append(SkipReason(parent.client_id, parent.symbol, "no market data"))
            continue
        p = parent.params
        inst = table.get(parent.symbol)
        lot = inst.lot_size if inst.lot_size > 0 else 0.0
        minimum = max(p.min_child, inst.min_quantity)
        remaining = parent.quantity - prog.filled - prog.open
        size, reason = _base_size(parent, prog, now, lot)
        if now >= parent.end and p.at_end == "leave":
            if remaining > _EPS:
                skips.append(SkipReason(parent.client_id, parent.symbol, "left at the end of the horizon", remaining))
            continue
        size = min(_floor_lot(size, lot) if reason != "sweep" else size, remaining)
        if size <= _EPS:
            continue
        if p.participation is not None and reason != "sweep":
            cap = _floor_lot(p.participation * mkt.volume_since_last_child, lot)
            if size > cap + _EPS:
                skips.append(SkipReason(parent.client_id, parent.symbol,
                                        f"participation cap {p.participation:g} × volume "
                                        f"{mkt.volume_since_last_child:g}", size - cap))
                size = cap
        rest = remaining - size
        if 0 < rest < minimum - _EPS and (reason == "sweep" or p.participation is None):
            size = remaining  # the dust would be under the minimum: merge it into this child
        if size < minimum - _EPS and size < remaining - _EPS:
            if size > _EPS:
                skips.append(SkipReason(parent.client_id, parent.symbol,
                                        f"child {size:g} under the minimum {minimum:g}: carried", size))
            continue
        limit = _limit_price(parent, inst)
        why = _guard(parent, mkt, limit)
        if why is not None:
            skips.append(SkipReason(parent.client_id, parent.symbol, why, size))
            continue
        if parent.side == "buy":
            price = limit if limit is not None else (mkt.ask or mkt.last)
            affordable = _floor_lot(cash / price, lot) if price > 0 else 0.0
            if size > affordable + _EPS:
                skips.append(SkipReason(parent.client_id, parent.symbol,
                                        f"cash: {cash:.2f} funds {affordable:g} of {size:g}", size - affordable))
                size = affordable
                if size < minimum - _EPS or size <= _EPS:
                    continue
            cash -= size * price
        seq = prog.children_sent
        children.append(ChildOrder(child_client_id(parent.client_id, seq), parent.client_id, seq, parent.symbol,
                                   parent.side, size, limit, reason, p.algo))
    return children, skips
