"""The served dashboard in a real headless Chromium (Debian's, driven by playwright), and the layout for Jupyter.

``execlab dashboard`` runs in a subprocess on a free loopback port, serving a journal written by real rebalances
(see tests/helpers/dashboard_run.py). The browser waits for the fills table, the plots and the risk state, presses
the kill switch, and the test checks what that did: the journal's halt (no broker) or the venue's cancelled
orders (with a broker config). Screenshots go to reports/screenshots/ and to the test's tmp_path.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from execlab._brokers.kill_switch import journaled_halt
from execlab._oms.journal import Journal
from execlab._runs.live import TradingHaltedError, run_live_rebalance
from execlab.adapters.alpaca import AlpacaAdapter
from execlab.dashboard import load_dashboard_data
from execlab.venues import AlpacaVenue

from helpers.alpaca import StartVenue
from helpers.dashboard_run import (
    DENIED,
    KEY,
    SECRET,
    STILL_WORKING,
    DashboardRun,
    build_run,
    config,
    copy_journal,
    executor,
)
from helpers.paths import REPORTS

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS: Final = REPORTS / "screenshots"
SERVER_START_SECONDS: Final = 240.0
"""Importing panel and hvplot takes tens of seconds on a busy machine."""
PAGE_TIMEOUT_MS: Final = 90_000
PLOT_TITLES: Final = ("Slippage per order", "Slippage against order size", "Slippage against participation",
                      "Positions", "Equity change", "Cumulative trading costs")

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason=f"Debian's chromium is not installed at {CHROMIUM} (`make browser`)")

_BOKEH_PLOTS: Final = """() => {
  const out = [];
  for (const doc of window.Bokeh.documents) {
    for (const m of doc.all_models) {
      if (m.constructor.__name__ === 'Figure') {
        out.push({title: m.title ? m.title.text : '',
                  rows: m.renderers.filter(r => r.data_source).map(r => r.data_source.get_length())});
      }
    }
  }
  return out;
}"""


@dataclass(frozen=True)
class Served:
    url: str
    port: int
    process: subprocess.Popen[str]
    user: str = ""
    token: str = ""


def login(page: Any, served: Served, token: str | None = None) -> None:
    """Open the dashboard: Panel's login page first, with the printed user and token."""
    page.goto(served.url)
    page.locator("input[name=username]").fill(served.user)
    page.locator("input[name=password]").fill(served.token if token is None else token)
    page.locator("button[type=submit]").click()


@pytest.fixture(scope="module")
def venue(local_venue_module: StartVenue) -> AlpacaVenue:
    return local_venue_module(KEY, SECRET, initial_cash=100_000.0, rate_limit=10_000)


@pytest.fixture(scope="module")
def run(venue: AlpacaVenue, tmp_path_factory: pytest.TempPathFactory) -> DashboardRun:
    return build_run(venue, tmp_path_factory.mktemp("dashboard-browser-journal"))


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port`` (Linux /proc/net/tcp and tcp6)."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:
                continue
            if width == 8:
                found.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
            else:
                found.add("ipv6:" + address)
    return found


@contextmanager
def serve(run: DashboardRun, workdir: Path, broker_config: Path | None = None,
          env: dict[str, str] | None = None, extra: tuple[str, ...] = ()) -> Iterator[Served]:
    """``execlab dashboard`` in a subprocess on a free port; yields once it prints its URL."""
    bars = workdir / "bars.parquet"
    run.bars.to_parquet(bars)
    command = [sys.executable, "-m", "execlab._cli.main", "dashboard", "--journal", str(run.journal), "--run-id",
               run.run_id, "--port", "0", "--bars", str(bars), "--refresh", "1", "--no-show"]
    if broker_config is not None:
        command += ["--config", str(broker_config)]
    command += list(extra)
    stderr = (workdir / "dashboard.stderr").open("w")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True,
                               env={**os.environ, **(env or {})})
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        url = token = user = ""
        while not token:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the dashboard did not start; stderr: {(workdir / 'dashboard.stderr').read_text()}")
            if "http://" in line:
                url = line[line.index("http://"):].split()[0]
            if "log in as user" in line:
                user = line.split("'")[1]
                token = line.rsplit(": ", 1)[1].strip()
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        yield Served(url, port, process, user, token)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        stderr.close()


@contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """A page in headless Debian Chromium with a fresh profile."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=PAGE_TIMEOUT_MS)  # bound every wait: the first render waits on a busy server
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1300})
        try:
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            yield page
        finally:
            context.close()


def _wait_for(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _check_page_shows_the_run(page: Any, run: DashboardRun) -> None:
    from playwright.sync_api import expect

    book = Journal(run.journal)
    data = load_dashboard_data(book, run.run_id, run.bars)
    fills = book.fills(run.run_id)
    book.close()
    rows = page.locator(".tabulator-row")
    expect(rows).to_have_count(len(fills))
    for symbol in ("AAA", "EEE", STILL_WORKING):
        expect(page.locator(".tabulator-row", has_text=symbol).first).to_be_visible()
    expect(page.locator(".xl-risk-state")).to_have_text("Trading: active")
    # Every plot is drawn from the journal's rows, and its canvas has a size.
    plots = _wait_for("the bokeh plots", lambda: (lambda p: p if len(p) >= len(PLOT_TITLES) else None)(
        page.evaluate(_BOKEH_PLOTS)))
    by_title = {next(t for t in PLOT_TITLES if p["title"].startswith(t)): sum(p["rows"]) for p in plots}
    assert set(by_title) == set(PLOT_TITLES), plots
    traded = int((data.orders["filled_quantity"] > 0).sum())
    assert by_title["Slippage against order size"] == traded
    assert by_title["Slippage against participation"] == traded
    assert by_title["Slippage per order"] >= 5  # histogram bins
    assert by_title["Positions"] == 2 * len(data.positions)  # a bar and a target mark per symbol
    assert DENIED in data.positions.index
    assert by_title["Equity change"] == 2 * len(data.equity)  # a line and its points
    assert by_title["Cumulative trading costs"] == 4 * len(data.costs)  # total, slippage, opportunity, fees
    _wait_for("plot canvases with a size", lambda: sum(
        1 for c in page.locator("canvas").all()
        if (box := c.bounding_box()) is not None and box["width"] > 200 and box["height"] > 200) >= len(PLOT_TITLES))


def _screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / name
    page.mouse.move(0, 0)  # no tooltip over the page
    page.screenshot(path=str(tmp_path / name), full_page=True)
    shutil.copyfile(tmp_path / name, target)
    assert target.stat().st_size > 10_000
    return target


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_served_dashboard_renders_the_journal_and_its_kill_switch_halts_the_run(
        run: DashboardRun, venue: AlpacaVenue, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    mine = copy_journal(run, tmp_path)
    with serve(mine, tmp_path, extra=("--allow-halt",)) as served:
        assert served.url.startswith("http://127.0.0.1:")
        assert _listening_addresses(served.port) == {"127.0.0.1"}
        with chromium(tmp_path / "profile") as page:
            login(page, served)
            _check_page_shows_the_run(page, mine)
            _screenshot(page, "dashboard.png", tmp_path)
            # The page re-reads the journal on its own: a reconciliation elsewhere turns trading reducing-only.
            book = Journal(mine.journal)
            book.record(mine.run_id, "reconcile", None, "reducing_only",
                        {"alerts": ["position mismatch in ['AAA']: trading is reducing_only"]})
            expect(page.locator(".xl-risk-state")).to_have_text("Trading: reducing-only")
            expect(page.locator(".xl-risk-reason")).to_contain_text("position mismatch")
            page.get_by_role("button", name="Kill switch").click()
            page.get_by_role("button", name="Confirm kill switch").click()
            halt = _wait_for("the journal's halt", lambda: journaled_halt(book, mine.run_id))
            assert "dashboard" in halt.reason
            expect(page.locator(".xl-risk-state")).to_have_text("Trading: halted")
            expect(page.locator(".xl-kill-message")).to_contain_text("Trading halted in the journal")
            _screenshot(page, "dashboard-halted.png", tmp_path)
    attempts = dict(venue.stats()["order_attempts"])
    with pytest.raises(TradingHaltedError, match="kill switch"):
        run_live_rebalance({"AAA": 1.0}, {"AAA": 10.0}, config(), executor(venue, book), book, "after-kill",
                           timeout=5)
    assert venue.stats()["order_attempts"] == attempts
    book.close()


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_kill_switch_with_a_broker_config_cancels_the_working_orders(run: DashboardRun, venue: AlpacaVenue,
                                                                    tmp_path: Path) -> None:
    from playwright.sync_api import expect

    outside = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url)
    working = outside._open_orders()
    assert [o.symbol for o in working] == [STILL_WORKING]
    mine = copy_journal(run, tmp_path)
    broker_yaml = tmp_path / "broker.yaml"
    broker_yaml.write_text(f"mode: paper\nrun_id: {mine.run_id}\nbroker:\n  name: alpaca\n"
                           f"  base_url: {venue.base_url}\n  api_key: ${{DASH_KEY}}\n  api_secret: ${{DASH_SECRET}}\n")
    with serve(mine, tmp_path, broker_yaml, env={"DASH_KEY": KEY, "DASH_SECRET": SECRET}) as served, \
            chromium(tmp_path / "profile") as page:
        login(page, served)
        expect(page.locator(".tabulator-row").first).to_be_visible()
        expect(page.locator(".xl-risk-state")).to_have_text("Trading: active")
        page.get_by_role("button", name="Kill switch").click()
        page.get_by_role("button", name="Confirm kill switch").click()
        expect(page.locator(".xl-kill-message")).to_contain_text("1 working orders cancelled")
        expect(page.locator(".xl-risk-state")).to_have_text("Trading: halted")
    assert outside._open_orders() == []
    cancelled = outside._order(working[0].client_order_id)
    assert cancelled is not None and cancelled.status.value in ("cancelled", "canceled")
    book = Journal(mine.journal)
    assert list(book.events(mine.run_id, "kill_switch")["status"]) == ["halted", "done"]
    requests = book.events(mine.run_id, "request")
    assert working[0].client_order_id in set(requests[requests["payload"].str.contains("kill_switch")]
                                              ["client_order_id"])
    book.close()


@pytest.mark.slow  # imports panel and hvplot
def test_dashboard_is_a_panel_layout_for_jupyter(run: DashboardRun, tmp_path: Path) -> None:
    import panel as pn

    from execlab.dashboard import dashboard

    mine = copy_journal(run, tmp_path)
    layout = dashboard(mine.journal, mine.run_id, bars=mine.bars, refresh_seconds=0)
    assert isinstance(layout, pn.Column)
    book = Journal(mine.journal)
    tables = layout.select(pn.widgets.Tabulator)  # the fills, and the algorithms' parents (hidden: none here)
    fills = next(t for t in tables if "fill_id" in t.hidden_columns)
    assert len(fills.value) == len(book.fills(mine.run_id))
    assert [t.visible for t in tables if t is not fills] == [False]
    assert len(layout.select(pn.pane.HoloViews)) == len(PLOT_TITLES)
    root = layout.get_root()  # what Jupyter renders: a bokeh model, no server
    assert root is not None
    with pytest.raises(FileNotFoundError):
        dashboard(tmp_path / "missing.sqlite", mine.run_id)
    book.close()


@pytest.mark.slow  # the module's journal, and the dashboard command's imports
def test_dashboard_command_refuses_bad_input_naming_it(run: DashboardRun, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from execlab._cli.main import app

    bars = tmp_path / "bars.txt"
    bars.write_text("not bars")
    backtest = tmp_path / "backtest.yaml"
    backtest.write_text("mode: backtest\n")
    runner = CliRunner()
    base = ["dashboard", "--journal", str(run.journal), "--run-id", run.run_id, "--port", "0"]
    result = runner.invoke(app, [*base, "--bars", str(bars)])
    assert result.exit_code == 2 and "bars:" in result.output
    result = runner.invoke(app, [*base, "--config", str(backtest)])
    assert result.exit_code == 2 and "mode" in result.output
    result = runner.invoke(app, ["dashboard", "--journal", str(tmp_path / "missing.sqlite"), "--run-id", "x"])
    assert result.exit_code == 2
