"""Contingent orders of the simulated venue: legs held until their entry is done, and one-cancels-other groups.

The rules (the same as :mod:`execlab._core.order_classes` states for every venue):

- A held leg waits, outside the working orders, until its entry is done. An entry that filled (fully, or partly and
  then was cancelled or expired) activates its held legs for the quantity it filled; they may trade from the next
  market step on (the step the entry filled in is spent: the order of prices inside a bar is unknown). An entry that
  ended without a fill cancels them (reason ``parent_ended``).
- In a one-cancels-other group, the first fill of one leg cancels the others (reason ``one_cancels_other``); a client
  cancel of one leg cancels the others too.
- **Intrabar assumption: the stop first.** When one step (a bar) reaches both a group's stop-loss and its take-profit,
  the stop is assumed to have traded first: stop-type legs are matched before the limit legs of their group, and a
  limit leg is matched only when no stop of its group filled in that step. This is the conservative choice (the loss,
  not the profit); backtrader's ``buy_bracket`` submits the stop leg first and lands on the same side.

:class:`Contingent` keeps the links and decides; the fronts (:class:`execlab.venues.QuoteVenue`,
:class:`execlab.SimulatedVenue`) apply what it decides to their working orders.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Contingent", "HeldLeg", "Settlement"]


@dataclass(frozen=True, slots=True)
class HeldLeg:
    """A leg waiting for its entry: its key, symbol, side (+1 buy, −1 sell), order type and time in force codes, and
    prices (NaN where the type has none)."""

    oid: int
    symbol: str | int
    """The symbol (a quote venue's name, a bar venue's column)."""
    sign: float
    order_type: int
    tif: int
    limit: float
    stop: float


@dataclass(frozen=True, slots=True)
class Settlement:
    """What the venue must do after a step: activate ``(leg, quantity)`` pairs, cancel ``(oid, reason)`` pairs
    (reason: ``"one_cancels_other"`` or ``"parent_ended"``)."""

    activate: tuple[tuple[HeldLeg, float], ...] = ()
    cancel: tuple[tuple[int, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.activate or self.cancel)


@dataclass
class Contingent:
    """Links between one venue's orders: held legs per entry, and one-cancels-other groups."""

    held: dict[int, list[HeldLeg]] = field(default_factory=dict)
    """Legs waiting, by the key of their entry."""
    _group: dict[int, frozenset[int]] = field(default_factory=dict)
    """The one-cancels-other group of each member."""
    _stop_like: dict[int, bool] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.held or self._group)

    def hold(self, parent: int, leg: HeldLeg) -> None:
        """Keep ``leg`` until the entry ``parent`` is done."""
        self.held.setdefault(parent, []).append(leg)

    def link(self, members: Iterable[tuple[int, bool]]) -> None:
        """Make ``(oid, is a stop-type order)`` members one group: one filling (or cancelled) cancels the others."""
        items = list(members)
        group = frozenset(oid for oid, _ in items)
        for oid, stop_like in items:
            self._group[oid] = group
            self._stop_like[oid] = stop_like

    def is_held(self, oid: int) -> bool:
        """Whether ``oid`` is a leg still waiting for its entry."""
        return any(leg.oid == oid for legs in self.held.values() for leg in legs)

    def deferred(self, working: Iterable[int]) -> set[int]:
        """Of the ``working`` orders, the limit legs to match after the stops of their group (the stop-first rule)."""
        live = set(working)
        return {oid for oid in live if oid in self._group and not self._stop_like[oid]
                and any(self._stop_like[o] for o in self._group[oid] - {oid} if o in live)}

    def group_filled(self, oid: int, filled: set[int]) -> bool:
        """Whether another member of ``oid``'s group is among ``filled``."""
        return bool((self._group.get(oid, frozenset()) - {oid}) & filled)

    def settle(self, filled: Iterable[int], ended: Iterable[tuple[int, float]], working: Iterable[int]) -> Settlement:
        """After a step: ``filled`` are the orders that traded, ``ended`` the ``(oid, quantity it filled)`` of orders
        that left the book (filled, cancelled, expired, rejected), ``working`` the orders still working."""
        live = set(working)
        activate: list[tuple[HeldLeg, float]] = []
        cancel: list[tuple[int, str]] = []
        for oid in sorted(set(filled)):
            for other in sorted(self._group.pop(oid, frozenset()) - {oid}):
                self._group.pop(other, None)
                if other in live:
                    cancel.append((other, "one_cancels_other"))
                    live.discard(other)
        for oid, qty in ended:
            legs = self.held.pop(oid, [])
            for leg in legs:
                if qty > 0:
                    activate.append((leg, qty))
                else:
                    cancel.append((leg.oid, "parent_ended"))
                    for other in self._group.pop(leg.oid, frozenset()) - {leg.oid}:
                        self._group.pop(other, None)
        return Settlement(tuple(activate), tuple(cancel))

    def cancelled(self, oid: int, filled: float, working: Iterable[int]) -> Settlement:
        """A client cancelled ``oid`` (which had filled ``filled``): its held legs activate or end with it, and the
        other members of its group (working or held) are cancelled."""
        live = set(working)
        group = self._group.pop(oid, frozenset()) - {oid}
        for other in group:
            self._group.pop(other, None)
        cancel = [(o, "one_cancels_other") for o in sorted(group) if o in live]
        for parent, legs in list(self.held.items()):
            kept = [leg for leg in legs if leg.oid != oid and leg.oid not in group]
            cancel += [(leg.oid, "one_cancels_other") for leg in legs if leg.oid in group]
            if len(kept) != len(legs):
                if kept:
                    self.held[parent] = kept
                else:
                    del self.held[parent]
        after = self.settle((), [(oid, filled)], live)
        return Settlement(after.activate, tuple(cancel) + after.cancel)
