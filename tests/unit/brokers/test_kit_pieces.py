"""The broker kit's neutral pieces: errors, client ids per venue, symbol maps, balances, the async bridge."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest

from execlab._brokers.async_bridge import AsyncStream, LoopThread
from execlab._brokers.client_ids import ALPHANUMERIC_32, ClientIdStyle
from execlab._brokers.errors import (
    BrokerAuthError,
    BrokerError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    DuplicateClientOrderIdError,
    classify_http,
    translate_errors,
)
from execlab._brokers.symbols import IdentityMap, PairMap, TableMap
from execlab._core.ids import client_order_id
from execlab._core.instruments import Instrument, InstrumentTable
from execlab._core.models import AccountSnapshot, Balance
from execlab._data.targets import TargetError
from execlab._plan.inputs import spendable_cash

CANONICAL = client_order_id("run", "2024-01-02T15:30:00", "AAPL", 0)


# -- errors -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "kind"), [
    (429, BrokerRateLimitedError), (408, BrokerTimeoutError), (504, BrokerTimeoutError),
    (500, BrokerUnavailableError), (503, BrokerUnavailableError), (401, BrokerAuthError), (403, BrokerAuthError),
    (400, BrokerRejectedError), (404, BrokerRejectedError), (422, BrokerRejectedError)])
def test_classify_http(status: int, kind: type[BrokerError]) -> None:
    error = classify_http(status, "boom", retry_after=2.5)
    assert type(error) is kind and f"HTTP {status}: boom" in str(error)
    if kind is BrokerRateLimitedError:
        assert isinstance(error, BrokerRateLimitedError) and error.retry_after == 2.5


def test_a_duplicate_wins_over_the_status_and_timeouts_are_unavailable() -> None:
    assert type(classify_http(422, "client_order_id must be unique", duplicate=True)) is DuplicateClientOrderIdError
    assert issubclass(BrokerTimeoutError, BrokerUnavailableError)
    assert not issubclass(BrokerAuthError, BrokerUnavailableError)


class _SdkTimeoutError(Exception):
    pass


class _SdkHttpError(Exception):
    def __init__(self, status: int):
        super().__init__(f"status {status}")
        self.status = status


TABLE = ((_SdkTimeoutError, lambda exc: BrokerTimeoutError(str(exc))),
         (_SdkHttpError, lambda exc: classify_http(exc.status, str(exc))))
ERRORS = translate_errors(TABLE, prefix="sdk: ")


@ERRORS
def _raises(exc: BaseException) -> None:
    raise exc


def test_translate_errors_maps_through_the_table_as_decorator_and_context_manager() -> None:
    with pytest.raises(BrokerTimeoutError, match=r"^sdk: slow") as caught:
        _raises(_SdkTimeoutError("slow"))
    assert isinstance(caught.value.__cause__, _SdkTimeoutError)
    with pytest.raises(BrokerRateLimitedError), ERRORS:
        raise _SdkHttpError(429)
    with pytest.raises(BrokerRejectedError, match="HTTP 400"):
        _raises(_SdkHttpError(400))


def test_translate_errors_leaves_the_kits_errors_and_unknown_exceptions_alone() -> None:
    own = BrokerRejectedError("ours")
    with pytest.raises(BrokerRejectedError) as caught:
        _raises(own)
    assert caught.value is own
    with pytest.raises(KeyError):
        _raises(KeyError("not in the table"))


# -- client order ids ---------------------------------------------------------------------------------------------
BINANCE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")


@pytest.mark.parametrize(("venue", "style", "pattern", "limit"), [
    ("alpaca", ClientIdStyle(max_length=128), re.compile(r"^.{1,128}$"), 128),
    ("binance", ClientIdStyle(max_length=36), BINANCE, 36),
    ("oanda", ClientIdStyle(max_length=128), re.compile(r"^[^\s]{1,128}$"), 128),
    ("ib", ClientIdStyle(max_length=128), re.compile(r"^[ -~]{1,128}$"), 128),
    ("okx", ALPHANUMERIC_32, re.compile(r"^[A-Za-z0-9]{1,32}$"), 32),
])
def test_every_venue_gets_an_id_it_accepts_and_it_parses_back(venue: str, style: ClientIdStyle,
                                                             pattern: re.Pattern[str], limit: int) -> None:
    wire = style.render(CANONICAL)
    assert pattern.fullmatch(wire) and len(wire) <= limit, (venue, wire)
    assert style.parse(wire) == CANONICAL


def test_the_canonical_id_and_the_okx_form() -> None:
    assert re.fullmatch(r"xl-[0-9a-f]{32}", CANONICAL) and len(CANONICAL) == 35
    assert ClientIdStyle().render(CANONICAL) == CANONICAL
    assert ALPHANUMERIC_32.render(CANONICAL) == CANONICAL[3:]


def test_ids_that_are_not_ours_parse_to_none() -> None:
    assert ClientIdStyle().parse("manual-1") is None
    assert ClientIdStyle().parse("xl-notahexstring") is None
    assert ALPHANUMERIC_32.parse("abc") is None
    assert ALPHANUMERIC_32.parse(None) is None


def test_an_id_too_long_for_the_venue_is_refused() -> None:
    with pytest.raises(ValueError, match=r"1\.\.32"):
        ALPHANUMERIC_32.render("manual-order-id-that-is-much-too-long-for-okx")


# -- symbols --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("mapping", "execlab", "broker"), [
    (IdentityMap(), "AAPL", "AAPL"),
    (PairMap("/", "-"), "BTC/USDT", "BTC-USDT"),
    (PairMap("/", ""), "BTC/USDT", "BTCUSDT"),
    (PairMap("/", ""), "ETH/BTC", "ETHBTC"),
    (PairMap("_", "."), "EUR_USD", "EUR.USD"),
    (PairMap("_", ""), "EUR_USD", "EURUSD"),
    (TableMap({"BRK.B": "BRK/B"}), "BRK.B", "BRK/B"),
])
def test_symbol_maps_go_both_ways(mapping: IdentityMap | PairMap | TableMap, execlab: str, broker: str) -> None:
    assert mapping.to_broker(execlab) == broker
    assert mapping.to_execlab(broker) == execlab


def test_joined_pairs_split_by_the_longest_quote() -> None:
    assert PairMap("/", "").to_execlab("BTCFDUSD") == "BTC/FDUSD"
    assert PairMap("/", "").to_execlab("btcusdt") == "BTC/USDT"
    assert TableMap({"BRK.B": "BRK/B"}).to_broker("AAPL") == "AAPL"
    with pytest.raises(ValueError, match="two execlab symbols"):
        TableMap({"A": "X", "B": "X"})


# -- balances and the plan's cash ------------------------------------------------------------------------------------
def _crypto_account() -> AccountSnapshot:
    return AccountSnapshot(cash=0.0, equity=50_000.0, buying_power=0.0, currency="USD",
                           balances=(Balance("USDT", free=900.0, locked=100.0), Balance("BTC", free=0.5)))


def test_balances_and_free() -> None:
    account = _crypto_account()
    assert account.balance("usdt") == Balance("USDT", 900.0, 100.0)
    assert account.balance("USDT").total == 1000.0  # type: ignore[union-attr]
    assert account.free("USDT") == 900.0 and account.free("EUR") == 0.0
    plain = AccountSnapshot(cash=1234.0, equity=2000.0, buying_power=1234.0)
    assert plain.free() == 1234.0 and plain.free("USD") == 1234.0 and plain.free("EUR") == 0.0


def test_the_plan_spends_the_free_balance_of_the_quote_currency() -> None:
    crypto = InstrumentTable(default_asset_class="crypto")  # quoted in USDT
    assert spendable_cash(_crypto_account(), ["BTC/USDT", "ETH/USDT"], crypto) == 900.0
    plain = AccountSnapshot(cash=1234.0, equity=2000.0, buying_power=1234.0)
    assert spendable_cash(plain, ["AAPL"]) == 1234.0
    mixed = InstrumentTable([Instrument("ETH/BTC", "crypto", "BTC", 1e-8, 1e-6, fractional=True)],
                            default_asset_class="crypto")
    assert spendable_cash(_crypto_account(), ["ETH/BTC"], mixed) == 0.5
    with pytest.raises(TargetError, match=r"several currencies \['BTC', 'USDT'\]"):
        spendable_cash(_crypto_account(), ["ETH/BTC", "BTC/USDT"], mixed)


# -- the async bridge ------------------------------------------------------------------------------------------------
def test_loop_thread_runs_coroutines_and_times_out() -> None:
    loop = LoopThread("test-loop").start()
    try:
        async def add(a: int, b: int) -> int:
            await asyncio.sleep(0)
            return a + b

        assert loop.run(add(2, 3), timeout=5) == 5
        assert loop.submit(add(1, 1)).result(5) == 2
        never = threading.Event()

        async def hang() -> None:
            while not never.is_set():
                await asyncio.sleep(0.01)

        with pytest.raises(BrokerTimeoutError, match=r"within 0\.05 s"):
            loop.run(hang(), timeout=0.05)
    finally:
        loop.stop()
        assert loop.join(5)
    assert not loop.running


class _Stream(AsyncStream):
    """A stream whose server is a script: ``live`` / ``refuse`` / ``drop`` steps, then it waits to be closed."""

    name = "scripted"

    def __init__(self, script: list[str], gaps: list[int]):
        super().__init__(on_gap=lambda: gaps.append(1))
        self.script = script
        self.next_step = threading.Event()
        self.closed = asyncio.Event()

    async def _run(self) -> None:
        self.closed = asyncio.Event()
        for step in self.script:
            if step == "live":
                self._mark_live()
            elif step == "refuse":
                self._mark_refused()
                return
            elif step == "drop":
                while not self.next_step.is_set():
                    await asyncio.sleep(0.01)
                self._mark_down()
        await self.closed.wait()

    async def _close(self) -> None:
        self.closed.set()


def test_async_stream_start_until_live_gap_and_stop() -> None:
    gaps: list[int] = []
    stream = _Stream(["live", "drop", "live"], gaps)
    stream.start_until_live(timeout=5)
    assert stream.connected and stream.running and stream.reconnects == 0
    stream.next_step.set()
    deadline = threading.Event()
    for _ in range(500):
        if stream.reconnects == 1:
            break
        deadline.wait(0.01)
    assert stream.reconnects == 1 and gaps == [1] and stream.connected
    stream.stop()
    assert not stream.running and not stream.connected
    stream.stop()  # twice is harmless
    with pytest.raises(RuntimeError, match="already started"):
        stream.start_until_live()


def test_async_stream_refused_keys_and_not_live() -> None:
    refused = _Stream(["refuse"], [])
    with pytest.raises(BrokerAuthError, match="refused"):
        refused.start_until_live(timeout=30)  # returns at the refusal, not at the timeout
    assert refused.auth_refused and not refused.running
    silent = _Stream([], [])
    with pytest.raises(BrokerUnavailableError, match=r"not live within 0\.1 s"):
        silent.start_until_live(timeout=0.1)
    assert not silent.running
