"""Fixtures shared by the whole suite, and the markers that follow from them.

A test that requests ``local_venue`` (or ``local_venue_module``) starts a local Alpaca venue server on a loopback
port and is marked ``local_venue``; one that requests ``kernel`` (tests/e2e/conftest.py) runs a notebook and is
marked ``notebook`` and ``slow``. Otherwise ``slow`` and ``browser`` are set where the tests are (pyproject.toml
lists the markers).

``make test`` runs the suite on two processes (pytest-xdist, ``-n 2 --dist loadgroup``), so a test must not share
anything with a test running beside it: a server takes port 0 or the ``free_port`` fixture's port, never a fixed
one; files go under ``tmp_path``/``tmp_path_factory`` (never the repository tree or a fixed /tmp path); state
changed at module level is undone by the test (``monkeypatch``). Tests that use a module- or class-scoped fixture
(a venue or a journal built once for the module) are kept on one process with it (``xdist_group``, set below);
add ``@pytest.mark.xdist_group("name")`` yourself only when tests share something else.

``EXECLAB_SLOW_SHARD=K/N`` keeps, of the slow tier (tests marked ``slow``, ``browser`` or ``notebook``), only the
K-th of N shards (by a stable hash of the test's xdist group, or of its id), and deselects the rest: ``make test``
runs every slow test on 3.11 and each on one of 3.12 and 3.13 (shards 1/2 and 2/2), every fast test on all three.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import execlab as xl
from execlab._oms.journal import Journal
from execlab.venues import AlpacaVenue

from helpers import readme
from helpers.alpaca import StartVenue
from helpers.shards import SLOW_SHARD_ENV, slow_shard

FIXTURE_MARKERS = {"local_venue": ("local_venue",), "local_venue_module": ("local_venue",),
                   "start_venue": ("local_venue",), "kernel": ("notebook", "slow")}
"""A test that uses the fixture (directly or through another fixture) gets the markers (a notebook run takes
10-25 s: a kernel starts and runs every cell)."""


@pytest.fixture(scope="session", autouse=True)
def _pacer_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Request pacers keep their windows in this session's own folder (and the processes tests start inherit it),
    never in the user's cache."""
    import os

    from execlab._brokers.pacing import PACER_DIR_ENV

    before = os.environ.get(PACER_DIR_ENV)
    os.environ[PACER_DIR_ENV] = str(tmp_path_factory.mktemp("pacer-state"))
    yield
    if before is None:
        os.environ.pop(PACER_DIR_ENV, None)
    else:
        os.environ[PACER_DIR_ENV] = before


@pytest.fixture
def free_port() -> int:
    """A TCP port free on loopback now, for a server that must be told its port before it starts (prefer port 0)."""
    return readme.free_port()


def _shared_fixture_group(item: pytest.Item) -> str | None:
    """``module[fixture=index,...]`` when the test uses a module-, class- or package-scoped fixture (one instance
    per module and parameter), else None."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    shared = sorted(name for name in item.fixturenames  # type: ignore[attr-defined]
                    if (defs := info.name2fixturedefs.get(name)) and defs[-1].scope in ("module", "class", "package"))
    if not shared:
        return None
    callspec = getattr(item, "callspec", None)
    params = [f"{name}={callspec.indices[name]}" for name in shared
              if callspec is not None and name in callspec.indices]
    return f"{item.nodeid.split('::', 1)[0]}[{','.join(params)}]"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for fixture, markers in FIXTURE_MARKERS.items():
            for marker in markers:
                if fixture in used and item.get_closest_marker(marker) is None:
                    item.add_marker(marker)
        group = _shared_fixture_group(item)
        if group is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
    shard = os.environ.get(SLOW_SHARD_ENV)
    if shard:
        kept, dropped = slow_shard(items, shard)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept




@pytest.fixture(scope="session")
def bars() -> pd.DataFrame:
    """The sample daily bars (AAPL, FB, GOOG, IBM, MSFT, 2000–2013), read once: do not modify."""
    return xl.sample_bars()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    """An empty journal at ``tmp_path / "j.sqlite"``, closed after the test."""
    book = Journal(tmp_path / "j.sqlite")
    yield book
    book.close()


def _venues() -> Iterator[StartVenue]:
    with ExitStack() as running:

        def start(api_key: str, secret_key: str, *, prices: dict[str, float] | None = None,
                  **options: Any) -> AlpacaVenue:
            venue = running.enter_context(AlpacaVenue(api_key, secret_key, **options))
            for symbol, price in (prices or {}).items():
                venue.set_quote(symbol, price - 0.01, price + 0.01, price)
            return venue

        yield start


@pytest.fixture
def local_venue() -> Iterator[StartVenue]:
    """Starts local Alpaca venues: ``local_venue(key, secret, prices={...}, **AlpacaVenue options)`` serves on a
    free loopback port, quoting each price one cent either side (last = the price); all stop after the test."""
    yield from _venues()


@pytest.fixture(scope="module")
def local_venue_module() -> Iterator[StartVenue]:
    """``local_venue`` for module-scoped fixtures: the venues stop after the module."""
    yield from _venues()
