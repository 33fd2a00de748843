"""One symbol normalisation for every path: targets, prices, positions, bars (backtest and trading alike)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import execlab as xl


@pytest.mark.parametrize(("raw", "symbol"), [(" aapl ", "AAPL"), ("brk.b", "BRK.B"), ("btc/usdt", "BTC/USDT"),
                                             ("eur_usd", "EUR_USD"), ("NA", "NA"), ("nan", "NAN"), ("1", "1")])
def test_symbols_are_trimmed_and_upper_cased(raw: str, symbol: str) -> None:
    assert xl.normalise_symbol(raw, "here") == symbol


@pytest.mark.parametrize(("raw", "message"), [("", "empty symbol"), ("  ", "empty symbol"), (None, "empty"),
                                              (float("nan"), "empty"), (5, "int"), (b"AAPL", "bytes"),
                                              ("A" * 33, "33 characters"), ("A B", "characters"), ("-X", "characters")])
def test_bad_symbols_name_where_they_came_from(raw: object, message: str) -> None:
    with pytest.raises(xl.SymbolError, match=f"^here: .*{message}"):
        xl.normalise_symbol(raw, "here")


@pytest.mark.parametrize("value", [True, "1", b"1", None, float("inf"), float("nan"), "1e400"])
def test_values_are_strict_numbers(value: object) -> None:
    with pytest.raises(xl.SymbolError, match="AAA"):
        xl.symbol_values(pd.Series([value], index=["AAA"], dtype=object), "targets")


def test_the_backtest_uses_the_same_symbols() -> None:
    days = pd.bdate_range("2024-01-02", periods=5)
    bars = pd.DataFrame([{"timestamp": d, "symbol": s, "open": 10.0, "high": 10.0, "low": 10.0, "close": 10.0,
                          "volume": 1e6} for d in days for s in ("aaa", " BBB")])
    targets = pd.DataFrame({"AAA": [10.0], "bbb ": [5.0]}, index=days[:1])
    result = xl.run_backtest(targets, bars)
    assert result.market.symbols == ("AAA", "BBB")
    assert sorted(result.orders["symbol"]) == ["AAA", "BBB"]
    both = pd.DataFrame({"AAA": [10.0], "aaa": [5.0]}, index=days[:1])
    with pytest.raises(xl.TargetError, match="duplicate symbol 'AAA'"):
        xl.run_backtest(both, bars)
    clash = pd.concat([bars, bars.assign(symbol="AAA")[bars["symbol"] == "aaa"]])
    with pytest.raises(xl.BarsError, match="duplicate bar for symbol 'AAA'"):
        xl.MarketData.from_bars(clash)
    assert np.isfinite(result.equity.iloc[-1])
