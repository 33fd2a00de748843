"""Futures in the kit's venue account: margined, so a fill moves no notional; cash moves by the realized P&L times the
contract multiplier, equity counts the open P&L times it, and the funds check and gross exposure use the notional
(price × quantity × multiplier). The IB venue reports them so (ES, multiplier 50)."""

from __future__ import annotations

import pytest

import execlab as xl
from execlab.venues._base.account import VenueAccount, VenueInstrument, VenueOrderRequest, VenueReject
from execlab.venues.ibkr import IBVenue

ES = VenueInstrument("ESZ6", "ESZ6", "USD", tick=0.25, multiplier=50.0, asset_class="future")
NO_FEES = xl.VenueConfig(fill_price="quote", fees={"model": "none"})


def _account(**options: object) -> VenueAccount:
    account = VenueAccount({"USD": 1_000_000.0}, instruments=[ES], symbols_closed=True, venue_config=NO_FEES,
                           **options)  # type: ignore[arg-type]
    account.set_quote("ESZ6", 5000.0, 5000.5)
    return account


def _trade(account: VenueAccount, side: str, qty: float) -> float:
    order = account.place(VenueOrderRequest("ESZ6", side, qty=qty))  # type: ignore[arg-type]
    assert order.status == "filled"
    return account.executions()[-1].price


def _cash(account: VenueAccount) -> float:
    return account.balance("USD")


def test_a_future_moves_cash_by_its_pnl_times_the_multiplier() -> None:
    account = _account(allow_short=True)
    entry = _trade(account, "buy", 2)
    assert entry == 5000.5
    assert _cash(account) == 1_000_000.0  # no notional paid
    account.set_quote("ESZ6", 5010.0, 5010.5)  # mark 5010.25
    assert account.equity() == pytest.approx(1_000_000.0 + 2 * (5010.25 - 5000.5) * 50)
    assert account.gross() == pytest.approx(2 * 5010.25 * 50)
    exit_ = _trade(account, "sell", 1)
    assert exit_ == 5010.0
    assert _cash(account) == pytest.approx(1_000_000.0 + 1 * (5010.0 - 5000.5) * 50)  # realized on one contract
    assert account.equity() == pytest.approx(_cash(account) + 1 * (5010.25 - 5000.5) * 50)
    flip = _trade(account, "sell", 3)  # closes the last long, opens two short at the bid
    assert _cash(account) == pytest.approx(1_000_000.0 + 2 * (flip - 5000.5) * 50)
    account.set_quote("ESZ6", 4990.0, 4990.5)  # mark 4990.25: the short gains
    assert account.equity() == pytest.approx(_cash(account) - 2 * (4990.25 - flip) * 50)
    _trade(account, "buy", 2)
    assert account.positions() == []
    assert _cash(account) == pytest.approx(1_000_000.0 + 2 * (5010.0 - 5000.5) * 50 - 2 * (4990.5 - 5010.0) * 50)
    assert account.equity() == pytest.approx(_cash(account))


def test_the_funds_check_uses_the_notional_with_the_multiplier() -> None:
    account = _account()
    with pytest.raises(VenueReject) as refused:  # 4 × 5000.5 × 50 = 1,000,100 > 1,000,000
        account.place(VenueOrderRequest("ESZ6", "buy", qty=4))
    assert refused.value.reason == "insufficient_funds"
    _trade(account, "buy", 3)  # 750,075
    equity = 1_000_000.0 + 3 * (5000.25 - 5000.5) * 50  # marked at the mid: the half spread paid is open P&L
    assert account.equity() == pytest.approx(equity)
    assert account.buying_power() == pytest.approx(equity - 3 * 5000.25 * 50)


def test_the_ib_venue_reports_futures_with_the_multiplier() -> None:
    venue = IBVenue(cash=1_000_000.0, venue_config=NO_FEES)
    venue.set_quote("ESZ6", 5000.0, 5000.5)
    venue.account.place(VenueOrderRequest("ESZ6", "buy", qty=2))
    venue.set_quote("ESZ6", 5010.0, 5010.5)
    values = {(tag, cur): value for tag, value, cur in venue.account_values()}
    assert float(values[("TotalCashValue", "USD")]) == 1_000_000.0
    assert float(values[("NetLiquidation", "USD")]) == pytest.approx(1_000_000.0 + 2 * 9.75 * 50)
    assert float(values[("GrossPositionValue", "USD")]) == pytest.approx(2 * 5010.25 * 50)
    (position,) = venue.position_messages()
    assert position[-2:] == [2.0, 5000.5 * 50]  # IB's average cost of a future includes the multiplier
