"""Cost model parameters of the simulated venue, and the pre-trade estimate the plan uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from execlab._config import FeeConfig, SlippageConfig, VenueConfig
from execlab._core.arrays import FloatArray
from execlab._core.compiled import no_refcount
from execlab._data.bars import MarketData
from execlab._plan.diff import CostEstimate
from execlab._sim import kernel
from execlab._sim.estimators import adv_before, sigma_before

__all__ = ["FEE_MODELS", "PRICE_MODELS", "SLIPPAGE_MODELS", "CostModel"]


PRICE_MODELS: Final = {"close": kernel.CLOSE, "next_open": kernel.NEXT_OPEN, "vwap": kernel.VWAP,
                       "quote": kernel.QUOTE}
"""Kernel code of each ``venue.fill_price``."""
SLIPPAGE_MODELS: Final = {"none": kernel.SLIP_NONE, "fixed_bps": kernel.SLIP_BPS,
                          "half_spread": kernel.SLIP_HALF_SPREAD, "sqrt_impact": kernel.SLIP_SQRT}
"""Kernel code of each ``venue.slippage.model``."""
FEE_MODELS: Final = {"none": kernel.FEE_NONE, "bps": kernel.FEE_BPS, "per_share": kernel.FEE_PER_SHARE,
                     "maker_taker": kernel.FEE_MAKER_TAKER}
"""Kernel code of each ``venue.fees.model``."""


@dataclass(frozen=True, eq=False)
class CostModel:
    """Venue cost settings as kernel codes and parameter vectors, plus impact inputs per bar."""

    price_model: int
    slip_model: int
    slip_params: FloatArray
    fee_model: int
    fee_params: FloatArray
    sigma: FloatArray
    """Daily return volatility known before each bar (time × symbol), for square-root impact."""
    adv: FloatArray
    """Average volume known before each bar (time × symbol), for square-root impact."""

    @classmethod
    def from_config(cls, venue: VenueConfig, market: MarketData) -> CostModel:
        """Resolve a venue config against the market data it will trade on."""
        slip: SlippageConfig = venue.slippage
        needs_quotes = venue.fill_price == "quote" or slip.model == "half_spread"
        if needs_quotes and not market.has_quotes:
            key = "venue.fill_price" if venue.fill_price == "quote" else "venue.slippage.model"
            raise ValueError(f"{key}: needs bid and ask columns in the bars, which have none")
        if slip.model == "sqrt_impact":
            sigma = sigma_before(market.close, slip.volatility_window)
            adv = adv_before(market.volume, slip.adv_window)
        else:
            sigma = adv = np.zeros((1, market.close.shape[1]))
        return cls.from_venue(venue, sigma, adv)

    @classmethod
    def from_venue(cls, venue: VenueConfig, sigma: FloatArray, adv: FloatArray) -> CostModel:
        """Resolve a venue config's models, with the impact inputs given (time × symbol, or one row for all bars)."""
        slip: SlippageConfig = venue.slippage
        fees: FeeConfig = venue.fees
        return cls(
            price_model=PRICE_MODELS[venue.fill_price],
            slip_model=SLIPPAGE_MODELS[slip.model],
            slip_params=np.array([slip.bps, slip.impact_coefficient], dtype=np.float64),
            fee_model=FEE_MODELS[fees.model],
            fee_params=np.array(
                [fees.bps, fees.per_share, fees.minimum, fees.maximum_pct, fees.maker_bps, fees.taker_bps],
                dtype=np.float64,
            ),
            sigma=np.ascontiguousarray(sigma, dtype=np.float64),
            adv=np.ascontiguousarray(adv, dtype=np.float64),
        )

    def rules(self, cap: float, allow_short: bool, *, price_model: int | None = None,
              slip_model: int | None = None) -> kernel.Rules:
        """The kernel's rules record for these costs, a participation cap (0: none) and the shorting rule; the price
        and slippage models may be overridden."""
        return (self.price_model if price_model is None else price_model,
                self.slip_model if slip_model is None else slip_model, self.slip_params, self.fee_model,
                self.fee_params, float(cap), bool(allow_short))

    def row(self, a: FloatArray, i: int) -> FloatArray:
        """Row ``i`` of a per-bar input, or its only row when it does not vary."""
        out: FloatArray = a[i] if a.shape[0] > 1 else a[0]
        return out

    def estimate(self, i: int, qty: FloatArray, price: FloatArray, spread: FloatArray | None) -> CostEstimate:
        """What the plan should expect one share of each order to cost at bar ``i`` (slippage and fees)."""
        if self.slip_model == kernel.SLIP_BPS:
            slippage: FloatArray | float = float(self.slip_params[0]) * 1e-4
        elif self.slip_model == kernel.SLIP_HALF_SPREAD and spread is not None:
            slippage = np.nan_to_num(0.5 * spread / price)
        elif self.slip_model == kernel.SLIP_SQRT:
            with np.errstate(invalid="ignore", divide="ignore"):
                slippage = np.nan_to_num(
                    self.slip_params[1] * self.row(self.sigma, i) * np.sqrt(np.abs(qty) / self.row(self.adv, i)),
                    nan=0.0, posinf=0.0,
                )
        else:
            slippage = 0.0
        p = self.fee_params
        if self.fee_model == kernel.FEE_BPS:
            return CostEstimate(slippage, float(p[0]) * 1e-4)
        if self.fee_model == kernel.FEE_PER_SHARE:
            return CostEstimate(slippage, 0.0, float(p[1]), float(p[2]), float(p[3]))
        if self.fee_model == kernel.FEE_MAKER_TAKER:
            return CostEstimate(slippage, max(float(p[4]), float(p[5])) * 1e-4)
        return CostEstimate(slippage)


@no_refcount(error_model="numpy")
def estimate_into(slip: FloatArray, slip_model: int, slip_params: FloatArray, fee_model: int, fee_params: FloatArray,
                  qty: FloatArray, price: FloatArray, sigma: FloatArray, adv: FloatArray, bid: FloatArray,
                  ask: FloatArray, has_quotes: bool) -> tuple[int, float, float, float, float]:
    """:meth:`CostModel.estimate` for the compiled loop, from the rows of one bar, the slippage into ``slip`` (one
    per symbol, or its first for all): (how many slippage values it wrote, fee rate, per-share fee, minimum fee,
    largest fee as a fraction of notional). Allocates nothing."""
    n = 1
    if slip_model == kernel.SLIP_BPS:
        slip[0] = slip_params[0] * 1e-4
    elif slip_model == kernel.SLIP_HALF_SPREAD and has_quotes:
        n = price.shape[0]
        for j in range(n):
            v = 0.5 * (ask[j] - bid[j]) / price[j]
            slip[j] = 0.0 if np.isnan(v) else (1.7976931348623157e308 if v == np.inf else
                                               (-1.7976931348623157e308 if v == -np.inf else v))
    elif slip_model == kernel.SLIP_SQRT:
        n = price.shape[0]
        for j in range(n):
            v = slip_params[1] * sigma[j] * np.sqrt(np.abs(qty[j]) / adv[j])
            slip[j] = 0.0 if np.isnan(v) or v == np.inf else (-1.7976931348623157e308 if v == -np.inf else v)
    else:
        slip[0] = 0.0
    p = fee_params
    if fee_model == kernel.FEE_BPS:
        return n, p[0] * 1e-4, 0.0, 0.0, np.inf
    if fee_model == kernel.FEE_PER_SHARE:
        return n, 0.0, p[1], p[2], p[3]
    if fee_model == kernel.FEE_MAKER_TAKER:
        return n, max(p[4], p[5]) * 1e-4, 0.0, 0.0, np.inf
    return n, 0.0, 0.0, 0.0, np.inf
