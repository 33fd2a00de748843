"""Client order ids on the wire: each venue's form of execlab's canonical id, and back.

The canonical id (:func:`execlab._core.ids.client_order_id`) is ``"xl-"`` + 32 hex digits: the journal's key. A
venue that accepts it as it is (Alpaca, Binance, OANDA, IB's ``orderRef``) uses the default style; OKX accepts only
1–32 alphanumerics, so its style sends the 32 hex digits alone and parses them back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from execlab._core.ids import PREFIX

__all__ = ["ALPHANUMERIC_32", "ClientIdStyle"]

_CANONICAL: Final = re.compile(rf"{re.escape(PREFIX)}[0-9a-f]{{32}}")
_HEX32: Final = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class ClientIdStyle:
    """How one venue writes execlab's client order ids.

    ``prefix`` is what precedes the 32 hex digits on the wire (``"xl-"`` by default, ``""`` for OKX); ``max_length``
    is the venue's limit, checked when an id is rendered.
    """

    prefix: str = PREFIX
    max_length: int = 36

    def render(self, canonical: str) -> str:
        """The wire form of a canonical id (an id that is not canonical is sent as it is, if it fits)."""
        wire = self.prefix + canonical[len(PREFIX):] if _CANONICAL.fullmatch(canonical) else canonical
        if not 0 < len(wire) <= self.max_length:
            raise ValueError(f"client order id {canonical!r} renders as {wire!r}: {len(wire)} characters, the venue "
                             f"accepts 1..{self.max_length}")
        return wire

    def parse(self, wire: str | None) -> str | None:
        """The canonical id of a wire form, or None when it is not one of execlab's."""
        if not wire or not wire.startswith(self.prefix):
            return None
        digits = wire[len(self.prefix):]
        return PREFIX + digits if _HEX32.fullmatch(digits) else None


ALPHANUMERIC_32: Final = ClientIdStyle(prefix="", max_length=32)
"""OKX's ``clOrdId``: 1–32 letters and digits; execlab sends the 32 hex digits of its id."""
