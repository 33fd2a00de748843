"""The slow-tier shards ``make test`` gives the newer interpreters (``EXECLAB_SLOW_SHARD=K/N``, applied in
tests/conftest.py)."""

from __future__ import annotations

import zlib

import pytest

__all__ = ["SLOW_SHARD_ENV", "SLOW_TIER", "slow_shard"]

SLOW_SHARD_ENV = "EXECLAB_SLOW_SHARD"
SLOW_TIER = ("slow", "browser", "notebook")


def slow_shard(items: list[pytest.Item], shard: str) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """``items`` split into those kept and those dropped by the slow-tier shard ``K/N``: a fast test is always
    kept; a slow one is kept when the CRC-32 of its xdist group (tests sharing a module fixture stay together), or
    of its id, is K-1 modulo N."""
    try:
        k, n = (int(part) for part in shard.split("/"))
        if not 1 <= k <= n:
            raise ValueError
    except ValueError:
        raise pytest.UsageError(f"{SLOW_SHARD_ENV}={shard!r}: expected K/N with 1 <= K <= N, e.g. 1/2") from None
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        if not any(item.get_closest_marker(m) for m in SLOW_TIER):
            kept.append(item)
            continue
        group = item.get_closest_marker("xdist_group")
        key = str(group.args[0] if group and group.args else group.kwargs.get("name") if group else item.nodeid)
        (kept if zlib.crc32(key.encode()) % n == k - 1 else dropped).append(item)
    return kept, dropped
