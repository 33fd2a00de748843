"""The one input gate of a single rebalance: every path that plans or trades checks its inputs here first.

``make_plan``, ``execlab plan``, ``execlab rebalance``, :func:`execlab.run_live_rebalance` and the notebooks call
:func:`gate_rebalance_inputs` before anything is planned, so they refuse the same inputs with the same messages and
plan the same universe (the targets, plus the held symbols they leave out when ``plan.untargeted`` is ``close``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from execlab._config import Config
from execlab._core.arrays import FloatArray
from execlab._core.fx import quote_rates
from execlab._core.instruments import InstrumentTable
from execlab._core.models import AccountSnapshot
from execlab._data.symbols import symbol_values
from execlab._data.targets import TargetError, check_unit

__all__ = ["RebalanceInputs", "gate_rebalance_inputs", "spendable_cash"]

TradableLookup = Callable[[Sequence[str]], Collection[str]]


def spendable_cash(account: AccountSnapshot, symbols: Collection[str],
                   instruments: InstrumentTable | None = None) -> float:
    """The cash a plan over ``symbols`` may spend: the free balance of the quote currency its orders spend.

    An account without per-currency balances has one cash figure, which is the answer. With balances, the quote
    currency is the instruments' ``currency`` (one for the whole plan: a plan has one cash budget); a plan whose
    symbols are quoted in several currencies is refused with the currencies named.
    """
    if not account.balances:
        return account.cash
    table = instruments if instruments is not None else InstrumentTable()
    quotes = sorted({table.get(s).currency.upper() for s in symbols})
    if len(quotes) > 1:
        raise TargetError(f"targets: the symbols are quoted in several currencies {quotes}; a plan spends one (plan "
                          "each quote currency's symbols in a rebalance of its own)")
    return account.free(quotes[0] if quotes else account.currency)


@dataclass(frozen=True, eq=False)
class RebalanceInputs:
    """Checked inputs of one rebalance, aligned to ``symbols`` (the universe the plan trades)."""

    symbols: tuple[str, ...]
    target: FloatArray
    """Targets in ``plan.target_unit``; 0 for a held symbol being closed."""
    current: FloatArray
    """Positions held now (shares)."""
    price: FloatArray
    cash: float
    targets: pd.Series
    """The targets as given, symbols normalised (what the journal keeps)."""
    held_untargeted: pd.Series
    """Held symbols the targets leave out and ``plan.untargeted: hold`` keeps (shares), not in ``symbols``."""
    prices: pd.Series
    """Every price given, symbols normalised."""
    account_equity: float | None = None
    """The broker's equity, used when a kept symbol has no price given."""
    rate: FloatArray | None = None
    """Per symbol, the home-currency value of one unit of its price currency (a cross ``EUR/GBP``: GBP/USD) at the
    prices given; ``None``: every symbol is priced in the home currency (``config.currency``)."""
    home: str = "USD"
    """The home currency (``config.currency``): cash and equity are in it."""

    @property
    def value(self) -> FloatArray:
        """What one unit of each symbol is worth in the home currency: ``price × rate`` (the plan sizes notionals
        and checks cash with it)."""
        return self.price if self.rate is None else self.price * self.rate

    @property
    def equity(self) -> float:
        """Cash plus every position at its given price; the broker's equity when a kept symbol has no price."""
        held = self.held_untargeted
        unpriced = [s for s in held.index if s not in self.prices.index]
        if unpriced and self.account_equity is not None:
            return self.account_equity
        kept_px = self.prices.reindex(held.index)
        kept_rate = quote_rates(list(held.index), _mids(self.prices), self.home) if len(held) else None
        if kept_rate is not None:
            kept_px = kept_px * kept_rate
        kept = float((held * kept_px).sum()) if len(held) else 0.0
        return self.cash + float(np.sum(self.current * self.value)) + kept


def gate_rebalance_inputs(targets: Any, positions: Any, prices: Any, cash: float, config: Config,
                          instruments: InstrumentTable | None = None,
                          tradable: TradableLookup | None = None, equity: float | None = None) -> RebalanceInputs:
    """Check and align one rebalance's inputs, or raise :class:`TargetError` naming the symbol, row or key.

    Targets, positions and prices: one finite number per symbol (symbols trimmed and upper-cased); at least one
    target; no negative target unless ``plan.allow_short``; values that fit ``plan.target_unit``; a positive price
    for every symbol given one and for every symbol that is traded or held; cash a finite amount. ``tradable`` (the
    broker's list) is asked about the symbols that would trade; one it does not list is an error. A held symbol
    kept out of the plan (``plan.untargeted: hold``) needs a price only to value it: without one, ``equity`` (the
    broker's) must be given.
    """
    plan = config.plan
    tgt = symbol_values(targets, "targets")
    if tgt.empty:
        raise TargetError("targets: no symbols")
    pos = symbol_values(positions, "positions") if positions is not None else pd.Series(dtype=np.float64)
    px = symbol_values(prices, "prices")
    if not math.isfinite(cash):
        raise TargetError(f"cash: must be a finite amount, got {cash}")
    if not plan.allow_short:
        negative = tgt[tgt < 0]
        if len(negative):
            raise TargetError(f"targets: negative target {negative.iloc[0]:g} for symbol {negative.index[0]!r} but "
                              f"plan.allow_short is false ({len(negative)} such symbols)")
    bad_price = px[px <= 0]
    if len(bad_price):
        raise TargetError(f"prices: price for symbol {bad_price.index[0]!r} must be positive, got "
                          f"{bad_price.iloc[0]:g}")
    held = pos[pos != 0]
    left_out = held[~held.index.isin(tgt.index)]
    closing = left_out if plan.untargeted == "close" else left_out.iloc[:0]
    kept = left_out.iloc[:0] if plan.untargeted == "close" else left_out
    symbols = tuple(sorted(set(tgt.index) | set(closing.index)))
    needs_price = [s for s in symbols if tgt.get(s, 0.0) != 0 or pos.get(s, 0.0) != 0]
    if equity is None:
        needs_price += list(kept.index)
    elif not math.isfinite(equity):
        raise TargetError(f"equity: must be a finite amount, got {equity}")
    missing = [s for s in needs_price if s not in px.index]
    if missing:
        raise TargetError(f"prices: no price for symbols {missing[:10]}{' …' if len(missing) > 10 else ''}")
    leverage = config.venue.margin.max_leverage if config.venue.margin.enabled else 1.0
    table = instruments if instruments is not None else InstrumentTable()
    check_unit(tgt.to_frame().T, tgt.to_numpy()[None, :], plan.target_unit, leverage, table)
    target = tgt.reindex(list(symbols), fill_value=0.0).to_numpy(dtype=np.float64)
    current = pos.reindex(list(symbols), fill_value=0.0).to_numpy(dtype=np.float64)
    price = px.reindex(list(symbols)).to_numpy(dtype=np.float64)
    if tradable is not None:
        moving = [s for s, t, c in zip(symbols, target, current, strict=True)
                  if t != 0 or c != 0]
        listed = set(tradable(moving))
        unlisted = [s for s in moving if s not in listed]
        if unlisted:
            raise TargetError(f"targets: the broker does not list symbols {unlisted[:10]} as tradable")
    rate = quote_rates(symbols, _mids(px), config.currency)
    return RebalanceInputs(symbols, target, current, price, float(cash), tgt, kept, px,
                           None if equity is None else float(equity), rate, config.currency.upper())


def _mids(prices: pd.Series) -> dict[str, float]:
    """``prices`` as the symbol → price mapping :func:`execlab._core.fx.quote_rates` reads."""
    return {str(s): float(p) for s, p in prices.items()}
