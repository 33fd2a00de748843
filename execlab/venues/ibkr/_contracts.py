"""The venue's contract catalogue: what ``reqContractDetails`` answers and which contract an order names.

A contract is matched the way TWS matches a request: by ``conId`` when given, else by symbol (or local symbol),
security type, currency and exchange, where an empty field of the request matches anything and ``SMART`` matches
every stock. The default catalogue holds US stocks routed through SMART with their primary exchange, the major FX
pairs on IDEALPRO and an E-mini future with expiry and multiplier.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "DEFAULT_CONTRACTS",
    "ContractCatalogue",
    "ContractQuery",
    "ContractSpec",
    "WireContract",
    "cash_pair",
    "future",
    "stock",
]


@dataclass(frozen=True, slots=True)
class WireContract:
    """The contract fields the TWS protocol carries (``strike`` 0 and empty text when not applicable)."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    currency: str
    primary_exchange: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    local_symbol: str = ""
    trading_class: str = ""


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """A listed contract with the details ``contractData`` reports (tick, sizes, hours, names)."""

    contract: WireContract
    long_name: str = ""
    min_tick: float = 0.01
    min_size: float = 1.0
    size_increment: float = 1.0
    suggested_size_increment: float = 1.0
    order_types: str = "LMT,MKT,STP,STPLMT,TRAIL"
    valid_exchanges: str = "SMART"
    time_zone_id: str = "US/Eastern"
    trading_hours: str = ""
    liquid_hours: str = ""
    market_name: str = ""
    stock_type: str = ""
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    market_rule_ids: str = ""
    contract_month: str = ""
    real_expiration_date: str = ""
    under_con_id: int = 0
    under_symbol: str = ""
    under_sec_type: str = ""
    aliases: tuple[str, ...] = field(default=())
    """Other exchanges a request may name for this contract (besides its own, and SMART for stocks)."""

    @property
    def key(self) -> str:
        """The venue's symbol for it: ``AAPL``, ``EUR.USD``, ``ESZ6`` (the local symbol of a future)."""
        c = self.contract
        if c.sec_type == "CASH":
            return f"{c.symbol}.{c.currency}"
        if c.sec_type == "FUT":
            return c.local_symbol or f"{c.symbol}{c.last_trade_date}"
        return c.symbol


@dataclass(frozen=True, slots=True)
class ContractQuery:
    """The contract fields a client sent (a request for details, or an order's contract)."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""


def stock(symbol: str, con_id: int, primary_exchange: str, long_name: str = "", currency: str = "USD") -> ContractSpec:
    """A stock routed through SMART with its primary listing exchange."""
    return ContractSpec(
        WireContract(con_id, symbol, "STK", "SMART", currency, primary_exchange=primary_exchange,
                     local_symbol=symbol, trading_class="NMS" if primary_exchange == "NASDAQ" else symbol),
        long_name=long_name, min_tick=0.01, market_name="NMS" if primary_exchange == "NASDAQ" else symbol,
        valid_exchanges=f"SMART,{primary_exchange}", stock_type="COMMON", aliases=(primary_exchange,),
        liquid_hours="", trading_hours="", market_rule_ids="26")


def cash_pair(base: str, quote: str, con_id: int, min_tick: float = 0.00005) -> ContractSpec:
    """An FX pair on IDEALPRO (quantity in base-currency units, price in the quote currency)."""
    return ContractSpec(
        WireContract(con_id, base, "CASH", "IDEALPRO", quote, local_symbol=f"{base}.{quote}",
                     trading_class=f"{base}.{quote}"),
        long_name=f"{base}.{quote}",
        min_tick=min_tick, min_size=1.0, size_increment=1.0, suggested_size_increment=25_000.0,
        order_types="LMT,MKT,STP,STPLMT,TRAIL", valid_exchanges="IDEALPRO", time_zone_id="US/Eastern",
        market_name=f"{base}.{quote}", market_rule_ids="239")


def future(symbol: str, con_id: int, expiry: str, local_symbol: str, multiplier: str, exchange: str,
           min_tick: float, long_name: str = "", currency: str = "USD") -> ContractSpec:
    """A futures contract with its expiry (``YYYYMMDD``) and multiplier."""
    return ContractSpec(
        WireContract(con_id, symbol, "FUT", exchange, currency, last_trade_date=expiry, multiplier=multiplier,
                     local_symbol=local_symbol, trading_class=symbol),
        long_name=long_name, min_tick=min_tick, valid_exchanges=exchange, time_zone_id="US/Central",
        market_name=symbol, contract_month=expiry[:6], real_expiration_date=expiry, under_symbol=symbol,
        under_sec_type="IND", market_rule_ids="67")


#: The contracts a venue lists out of the box (conIds as IB assigns them to these instruments).
DEFAULT_CONTRACTS: Final = (
    stock("AAPL", 265598, "NASDAQ", "APPLE INC"),
    stock("MSFT", 272093, "NASDAQ", "MICROSOFT CORP"),
    stock("SPY", 756733, "ARCA", "SPDR S&P 500 ETF TRUST"),
    cash_pair("EUR", "USD", 12087792),
    cash_pair("GBP", "USD", 12087797),
    cash_pair("EUR", "GBP", 12087807),
    cash_pair("USD", "JPY", 15016059, min_tick=0.005),
    future("ES", 637533641, "20261218", "ESZ6", "50", "CME", 0.25, "E-mini S&P 500"),
)

#: Quotes ``{key: (bid, ask)}`` the command-line venue starts with when given none, so a script can trade at once.
DEFAULT_QUOTES: Final = {"AAPL": (189.99, 190.01), "MSFT": (399.98, 400.02), "SPY": (549.99, 550.01),
                         "EUR.USD": (1.08300, 1.08320), "GBP.USD": (1.27000, 1.27020), "EUR.GBP": (0.85270, 0.85290),
                         "USD.JPY": (149.995, 150.005), "ESZ6": (5500.00, 5500.25)}


_STOCK_SYMBOL: Final = re.compile(r"[A-Z][A-Z0-9]{0,11}(?: [A-Z])?")


def _matches(spec: ContractSpec, q: ContractQuery) -> bool:
    c = spec.contract
    if q.con_id:
        return q.con_id == c.con_id
    if q.local_symbol and q.local_symbol not in (c.local_symbol, spec.key):
        return False
    if q.symbol and q.symbol != c.symbol:
        return False
    if not (q.symbol or q.local_symbol):
        return False
    if q.sec_type and q.sec_type != c.sec_type:
        return False
    if q.currency and q.currency != c.currency:
        return False
    if q.last_trade_date and not c.last_trade_date.startswith(q.last_trade_date):
        return False
    if q.multiplier and q.multiplier != c.multiplier:
        return False
    if q.exchange:
        exchanges = {c.exchange, *spec.aliases}
        if c.sec_type == "STK":
            exchanges.add("SMART")
        if q.exchange not in exchanges:
            return False
    return not (q.primary_exchange and q.primary_exchange != c.primary_exchange)


class ContractCatalogue:
    """The contracts a venue lists, looked up by request or by the venue's symbol.

    With ``any_stock`` a request for a stock nobody listed (security type ``STK`` or none, a plain symbol) lists it
    on the spot, as a US stock on SMART with a conId derived from its symbol: TWS knows every stock, and a user's
    script should not need a catalogue to trade one.
    """

    def __init__(self, specs: Iterable[ContractSpec] = DEFAULT_CONTRACTS, *, any_stock: bool = False) -> None:
        self._specs: list[ContractSpec] = []
        self._by_key: dict[str, ContractSpec] = {}
        self._by_con_id: dict[int, ContractSpec] = {}
        self.any_stock = any_stock
        for spec in specs:
            self.add(spec)

    def stock_on_demand(self, symbol: str) -> ContractSpec | None:
        """The stock ``symbol`` (listing it now when ``any_stock`` allows), or None."""
        found = self._by_key.get(symbol)
        if found is not None or not self.any_stock or not _STOCK_SYMBOL.fullmatch(symbol):
            return found
        con_id = 100_000_000 + zlib.crc32(symbol.encode()) % 800_000_000
        while con_id in self._by_con_id:
            con_id += 1
        spec = stock(symbol, con_id, "NASDAQ", symbol)
        self.add(spec)
        return spec

    def add(self, spec: ContractSpec) -> None:
        """List ``spec`` (refused when its conId or symbol is listed already)."""
        if spec.contract.con_id in self._by_con_id or spec.key in self._by_key:
            raise ValueError(f"contract {spec.key} (conId {spec.contract.con_id}) is listed twice")
        self._specs.append(spec)
        self._by_key[spec.key] = spec
        self._by_con_id[spec.contract.con_id] = spec

    def __iter__(self) -> Iterator[ContractSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def find(self, query: ContractQuery) -> list[ContractSpec]:
        """Every listed contract the request could mean (TWS answers them all; one means it is qualified)."""
        found = [s for s in self._specs if _matches(s, query)]
        if not found and not query.con_id and query.sec_type in ("", "STK") and query.currency in ("", "USD"):
            spec = self.stock_on_demand(query.symbol or query.local_symbol)
            if spec is not None and _matches(spec, query):
                found = [spec]
        return found

    def by_key(self, key: str) -> ContractSpec | None:
        """The contract with the venue's symbol ``key``."""
        return self._by_key.get(key)

    def by_con_id(self, con_id: int) -> ContractSpec | None:
        """The contract with this conId."""
        return self._by_con_id.get(con_id)
