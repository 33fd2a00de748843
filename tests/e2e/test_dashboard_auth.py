"""The served dashboard in real Chromium: without the printed token a page reaches neither the dashboard nor its
websocket, so it cannot press the kill switch; with it, the kill switch asks for a confirmation and the journal names
who confirmed. Foreign ``Host`` headers are refused, and without the broker config the page is read-only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from test_dashboard_browser import CHROMIUM, chromium, login, serve

from execlab._brokers.kill_switch import KILL_SWITCH, journaled_halt
from execlab._oms.journal import Journal
from execlab.venues import AlpacaVenue

from helpers.dashboard_run import DashboardRun, build_run, copy_journal

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> DashboardRun:
    from test_dashboard_data import KEY, SECRET

    with AlpacaVenue(KEY, SECRET, initial_cash=100_000.0, rate_limit=10_000) as venue:
        return build_run(venue, tmp_path_factory.mktemp("dashboard-auth-journal"))


@needs_chromium
@pytest.mark.browser
@pytest.mark.slow
def test_without_the_token_no_kill_switch_with_it_a_confirmed_one(run: DashboardRun, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    mine = copy_journal(run, tmp_path)
    book = Journal(mine.journal)
    with serve(mine, tmp_path, extra=("--allow-halt",)) as served:
        # Outside the browser: no cookie, a foreign Host, a wrong token.
        bare = requests.get(served.url, timeout=30, allow_redirects=False)
        assert bare.status_code == 302 and "login" in bare.headers["Location"]
        rebound = requests.get(served.url + "login", timeout=30, headers={"Host": f"evil.example:{served.port}"})
        assert rebound.status_code == 403
        with chromium(tmp_path / "intruder") as page:
            page.goto(served.url)
            expect(page.locator("input[name=password]")).to_be_visible()  # Panel's login page, not the dashboard
            login(page, served, token="not-the-token-" + served.token[:4])
            expect(page.locator(".errormessage")).to_contain_text("Invalid")
            assert page.get_by_role("button", name="Kill switch").count() == 0
            # The Bokeh websocket refuses a page without the login cookie, whatever it sends.
            closed = page.evaluate(f"""() => new Promise(done => {{
                const ws = new WebSocket("ws://127.0.0.1:{served.port}/ws", ["bokeh", "x"]);
                ws.onopen = () => done("open"); ws.onerror = () => done("refused");
                ws.onclose = () => done("refused"); }})""")
            assert closed == "refused"
        assert journaled_halt(book, mine.run_id) is None
        with chromium(tmp_path / "owner") as page:
            login(page, served)
            expect(page.locator(".xl-risk-state")).to_have_text("Trading: active")
            kill = page.get_by_role("button", name="Kill switch")
            kill.click()  # arms only: nothing happens until confirmed
            expect(page.locator(".xl-confirm")).to_contain_text("Halt trading")
            page.get_by_role("button", name="Cancel").click()
            expect(page.locator(".xl-kill-message")).to_contain_text("not engaged")
            assert journaled_halt(book, mine.run_id) is None
            kill.click()
            page.get_by_role("button", name="Confirm kill switch").click()
            expect(page.locator(".xl-risk-state")).to_have_text("Trading: halted")
    rows = book.events(mine.run_id, KILL_SWITCH)
    payload = json.loads(rows["payload"].iloc[-1])
    assert payload["by"] == f"dashboard:{served.user}"
    book.close()


@needs_chromium
@pytest.mark.browser
@pytest.mark.slow
def test_without_the_broker_config_the_page_is_read_only(run: DashboardRun, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    mine = copy_journal(run, tmp_path)
    with serve(mine, tmp_path) as served, chromium(tmp_path / "profile") as page:
        login(page, served)
        expect(page.locator(".xl-read-only")).to_contain_text("Read-only")
        expect(page.get_by_role("button", name="Kill switch")).to_be_disabled()
    book = Journal(mine.journal)
    assert journaled_halt(book, mine.run_id) is None
    book.close()
