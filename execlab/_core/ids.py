"""Deterministic client order ids: the same run, time, symbol and leg always give the same id."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Final

import pandas as pd

__all__ = ["client_order_id", "client_order_ids", "rebalance_key"]

PREFIX = "xl-"


def client_order_id(run_id: str, timestamp: str, symbol: str, leg: int) -> str:
    """A 35-character id valid for Alpaca, Binance (``^[.A-Z:/a-z0-9_-]{1,36}$``), OANDA and IB."""
    key = f"{run_id}|{timestamp}|{symbol}|{leg}".encode()
    return PREFIX + hashlib.blake2b(key, digest_size=16).hexdigest()


def client_order_ids(run_id: str, rows: Iterable[tuple[str, str, int]]) -> list[str]:
    """Ids for many ``(timestamp, symbol, leg)`` rows of one run."""
    return [client_order_id(run_id, ts, sym, leg) for ts, sym, leg in rows]


_ISO: Final = "%Y-%m-%dT%H:%M:%S"


def rebalance_key(timestamp: pd.Timestamp) -> str:
    """The key of a rebalance at ``timestamp`` (as the backtest writes it; sub-second times keep microseconds)."""
    fmt = _ISO if timestamp.microsecond == 0 and timestamp.nanosecond == 0 else _ISO + ".%f"
    return timestamp.strftime(fmt)
