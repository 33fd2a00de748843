"""Child order ids: derived from the parent's id and a sequence number, so a resumed schedule re-derives them."""

from __future__ import annotations

import hashlib

from execlab._core.ids import PREFIX

__all__ = ["child_client_id"]


def child_client_id(parent_id: str, seq: int) -> str:
    """The client id of child ``seq`` (0-based) of parent ``parent_id``.

    Canonical form (``"xl-"`` + 32 hex digits, 35 characters), so every venue's client-id style renders it: OKX's
    1–32 alphanumerics (the 32 digits), Binance's 36, OANDA's 48, Alpaca's 128, IB's ``orderRef``.
    """
    if seq < 0:
        raise ValueError(f"child sequence number must be >= 0, got {seq}")
    key = f"{parent_id}|child|{seq}".encode()
    return PREFIX + hashlib.blake2b(key, digest_size=16).hexdigest()
