"""Pairs and conversion into the home currency (``execlab._core.fx``)."""

from __future__ import annotations

import pytest

from execlab._core.fx import FxRates, split_pair


def test_split_pair_reads_every_spelling() -> None:
    assert {split_pair(s) for s in ("EUR/GBP", "eur_gbp", "EUR.GBP", "EURGBP")} == {("EUR", "GBP")}
    with pytest.raises(ValueError, match="not a currency pair"):
        split_pair("AAPL")


def test_rates_direct_inverted_and_through_usd() -> None:
    rates = FxRates({"EUR_USD": 1.10, "GBP/USD": 1.25, "USD_JPY": 150.0, "EUR/GBP": 0.88, "BAD/USD": float("nan")})
    assert rates.rate("USD") == 1.0
    assert rates.rate("GBP") == 1.25
    assert rates.rate("JPY") == pytest.approx(1 / 150)
    assert rates.base_value("EUR/GBP") == 1.10  # one EUR, in USD: what a USD notional of EUR/GBP buys
    in_gbp = FxRates({"EUR/USD": 1.10, "GBP/USD": 1.25}, home="GBP")
    assert in_gbp.rate("EUR") == pytest.approx(1.10 / 1.25)  # EUR → USD → GBP
    with pytest.raises(ValueError, match="no priced pair converts CHF"):
        rates.rate("CHF")


def test_cross_pl_is_quote_currency_pl_converted_at_the_current_rate() -> None:
    now = FxRates({"EUR/GBP": 0.86, "GBP/USD": 1.30})
    assert now.pl("EUR/GBP", 10_000, 0.85, 0.86) == pytest.approx(10_000 * 0.01 * 1.30)
    assert now.pl("EUR/GBP", -10_000, 0.85, 0.86) == pytest.approx(-130.0)
