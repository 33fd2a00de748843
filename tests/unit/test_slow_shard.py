"""The slow-tier shards ``make test`` gives 3.12 and 3.13 (``EXECLAB_SLOW_SHARD``, tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from helpers.shards import slow_shard


@dataclass
class _Item:
    nodeid: str
    marks: dict[str, Any] = field(default_factory=dict)

    def get_closest_marker(self, name: str) -> Any:
        return self.marks.get(name)


def _items() -> list[Any]:
    fast = [_Item(f"tests/unit/test_a.py::test_{i}") for i in range(20)]
    slow = [_Item(f"tests/e2e/test_b.py::test_{i}", {"slow": pytest.mark.slow.mark}) for i in range(40)]
    browser = [_Item(f"tests/e2e/test_c.py::test_{i}", {"browser": pytest.mark.browser.mark}) for i in range(5)]
    group = pytest.mark.xdist_group("tests/brokers/test_d.py[venue=0]").mark
    grouped = [_Item(f"tests/brokers/test_d.py::test_{i}", {"slow": pytest.mark.slow.mark, "xdist_group": group})
               for i in range(6)]
    return [*fast, *slow, *browser, *grouped]


def test_the_shards_split_the_slow_tier_and_each_keeps_every_fast_test() -> None:
    items = _items()
    kept = [slow_shard(items, f"{k}/3")[0] for k in (1, 2, 3)]
    fast = {i.nodeid for i in items if not i.marks}
    slow = [i.nodeid for i in items if i.marks]
    for shard in kept:
        assert fast <= {i.nodeid for i in shard}
    slow_kept = [i.nodeid for shard in kept for i in shard if i.marks]
    assert sorted(slow_kept) == sorted(slow)  # each slow test in exactly one shard
    assert all(any(i.marks for i in shard) for shard in kept)  # none empty with 51 slow tests
    with_group = [{i.nodeid for i in shard if "xdist_group" in i.marks} for shard in kept]
    assert sorted(len(g) for g in with_group) == [0, 0, 6]  # a module fixture's tests stay together
    assert slow_shard(items, "1/1") == (items, [])


@pytest.mark.parametrize("bad", ["0/2", "3/2", "1", "a/b"])
def test_a_bad_shard_is_a_usage_error_naming_the_variable(bad: str) -> None:
    with pytest.raises(pytest.UsageError, match="EXECLAB_SLOW_SHARD"):
        slow_shard(_items(), bad)
