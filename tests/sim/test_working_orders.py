"""The working-order store both venue fronts keep their orders in: appends grow it, compaction keeps the live rows in
order, cancel and lookups see only working orders, and the kernel record follows the columns."""

from __future__ import annotations

import numpy as np

from execlab._sim.working_orders import COLUMNS, WorkingOrders


def _add(w: WorkingOrders, oids: list[int], active: bool = True) -> int:
    m = len(oids)
    return w.add(np.array(oids), np.arange(m), np.full(m, 10.0), np.zeros(m, np.int8), np.zeros(m, np.int8),
                 limit=np.nan, stop=np.nan, trail_amount=0.0, trail_percent=0.0, extreme=np.full(m, 5.0),
                 eligible=np.full(m, 3), day=0, submit=2, active=active, count=m)


def test_add_grows_and_keeps_rows() -> None:
    w = WorkingOrders(capacity=2)
    assert _add(w, [1]) == 0
    assert w.add(2, 0, -3.0, 1, 2, limit=9.5, stop=np.nan, trail_amount=0.0, trail_percent=0.0, extreme=np.nan,
                 eligible=7, day=1, submit=6) == 1
    assert _add(w, [3, 4, 5]) == 2
    assert w.n == 5 and w.capacity >= 5
    np.testing.assert_array_equal(w.oid[:5], [1, 2, 3, 4, 5])
    assert (w.qty[1], w.type[1], w.tif[1], w.limit[1], w.eligible[1], w.day[1], w.submit[1]) == (-3.0, 1, 2, 9.5, 7,
                                                                                                   1, 6)
    assert not w.triggered[:5].any() and (w.filled[:5] == 0.0).all() and w.active[:5].all()
    # The kernel record is every column, in order, and follows growth.
    assert len(w.record) == len(COLUMNS)
    for name, arr in zip(COLUMNS, w.record, strict=True):
        assert getattr(w, name) is arr and arr.dtype == COLUMNS[name]


def test_cancel_and_lookups_see_working_orders_only() -> None:
    w = WorkingOrders()
    _add(w, [10, 11, 12])
    _add(w, [13], active=False)  # e.g. an auction order parked until its quote
    assert w.active_count() == 3
    np.testing.assert_array_equal(w.cancel(np.array([11, 13, 99])), [11])
    np.testing.assert_array_equal(w.cancel(np.array([11])), [])
    np.testing.assert_array_equal(w.working_oids(), [10, 12])
    w.clear()
    assert w.n == 0 and w.working_oids().size == 0


def test_compact_keeps_live_rows_in_order() -> None:
    w = WorkingOrders(capacity=8)
    n = 5000
    _add(w, list(range(n)))
    w.filled[:n] = np.arange(n)
    w.active[:n] = np.arange(n) % 3 == 0
    assert w.worth_compacting()
    assert not w.worth_compacting(live=n)
    keep = w.active[:n].copy()
    rows = w.compact(keep)
    np.testing.assert_array_equal(rows, np.flatnonzero(keep))
    assert w.n == rows.size
    np.testing.assert_array_equal(w.oid[: w.n], rows)
    np.testing.assert_array_equal(w.filled[: w.n], rows)
    assert w.active[: w.n].all()
    assert not w.worth_compacting()  # small again
    assert _add(w, [n]) == rows.size
