"""Fit the backtest's slippage model to observed (paper or live) fills, and write it into a config.

The simulated venue moves a market-like fill away from its model price ``P_ref`` by a fraction ``f``:
``P_fill = P_ref · (1 + f)`` for a buy and ``P_ref · (1 − f)`` for a sell. So each observed fill gives
``f = s · (P_fill − P_ref) / P_ref``, and the models are fitted to those fractions by least squares:

* ``fixed_bps``: ``f = bps · 1e-4`` — the mean observed fraction.
* ``sqrt_impact``: ``f = k · σ · sqrt(q / ADV)`` with the fill quantity ``q`` and, exactly as the venue computes
  them, the daily return volatility ``σ`` over ``volatility_window`` bars and the average volume ``ADV`` over
  ``adv_window`` bars, both known before the fill's bar — a regression through the origin, ``k = Σxf / Σx²``.

Fitted parameters are clipped at zero (the config does not allow a negative slippage). Fills that rested (maker
liquidity) are left out: the venue gives them no slippage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from execlab._analysis.tca import TcaError, TcaResult, _utc_ns
from execlab._config import Config, SlippageConfig, VenueConfig, load_config
from execlab._core.arrays import FloatArray
from execlab._data.bars import MarketData
from execlab._data.frames import as_pandas
from execlab._sim.costs import CostModel

__all__ = ["Calibration", "calibrate_slippage"]

Model = Literal["fixed_bps", "sqrt_impact"]
Reference = Literal["auto", "reference_price", "arrival", "bar", "decision"]
FillPrice = Literal["close", "next_open", "vwap", "quote"]


@dataclass(frozen=True, eq=False)
class Calibration:
    """A fitted slippage model, how well it fits, and the per-fill data it was fitted on (``data``)."""

    model: Model
    bps: float
    """``fixed_bps``: the fitted basis points (0 for ``sqrt_impact``)."""
    impact_coefficient: float
    """``sqrt_impact``: the fitted ``k`` (the config's default for ``fixed_bps``)."""
    volatility_window: int
    adv_window: int
    r_squared: float
    """1 − Σ residual² / Σ (f − mean f)²: the share of the variance of observed slippage the model explains."""
    n: int
    """Fills the fit used."""
    n_excluded: int
    """Fills left out: maker fills, no reference price, or (sqrt_impact) no volatility or ADV yet."""
    rmse_bps: float
    """Root mean square residual, in bps."""
    rmse_zero_bps: float
    """Root mean square of the observed slippage itself: the error of assuming no slippage."""
    data: pd.DataFrame

    def slippage_config(self) -> SlippageConfig:
        """The fitted ``venue.slippage`` section."""
        if self.model == "fixed_bps":
            return SlippageConfig(model="fixed_bps", bps=self.bps, volatility_window=self.volatility_window,
                                  adv_window=self.adv_window)
        return SlippageConfig(model="sqrt_impact", impact_coefficient=self.impact_coefficient,
                              volatility_window=self.volatility_window, adv_window=self.adv_window)

    def apply(self, config: Config | None = None) -> Config:
        """``config`` (default: the defaults) with the fitted slippage; everything else unchanged."""
        cfg = config or Config()
        venue = cfg.venue.model_copy(update={"slippage": self.slippage_config()})
        return cfg.model_copy(update={"venue": VenueConfig.model_validate(venue.model_dump())})

    def write_config(self, path_in: str | Path | None, path_out: str | Path,
                     env: dict[str, str] | None = None) -> Config:
        """Write ``path_in`` (a YAML config; None: the defaults) with the fitted ``venue.slippage`` to ``path_out``.

        The rest of the file is kept as written, ``${VARIABLES}`` included (no secret is ever written out); the
        result is validated with :func:`execlab.load_config` (``env`` as there) before and after writing, and
        returned.
        """
        raw: dict[str, Any] = {}
        if path_in is not None:
            source = Path(path_in)
            if not source.is_file():
                raise TcaError(f"config file not found: {source}")
            loaded = yaml.safe_load(source.read_text()) or {}
            if not isinstance(loaded, dict):
                raise TcaError(f"{source}: the top level must be a mapping of keys")
            raw = loaded
        venue = raw.get("venue") or {}
        if not isinstance(venue, dict):
            raise TcaError("venue: must be a mapping of keys")
        raw["venue"] = {**venue, "slippage": self.slippage_config().model_dump(mode="json")}
        load_config(raw, env=env)  # validate before writing anything
        target = Path(path_out)
        target.parent.mkdir(parents=True, exist_ok=True)
        header = (f"# venue.slippage fitted by execlab.calibrate_slippage on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
                  f"model {self.model}, {self._parameter()}, n={self.n}, R²={self.r_squared:.3f}, "
                  f"rmse {self.rmse_bps:.2f} bps (no-slippage rmse {self.rmse_zero_bps:.2f} bps)\n")
        target.write_text(header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return load_config(target, env=env)

    def _parameter(self) -> str:
        return f"bps={self.bps:.4g}" if self.model == "fixed_bps" else f"k={self.impact_coefficient:.4g}"

    def __repr__(self) -> str:
        return (f"Calibration({self.model}: {self._parameter()}, R²={self.r_squared:.3f}, n={self.n}, "
                f"rmse={self.rmse_bps:.2f} bps)")


def _fills_of(source: TcaResult | pd.DataFrame | Any) -> pd.DataFrame:
    if isinstance(source, TcaResult):
        return source.fills.copy()
    what = "calibrate_slippage (a TcaResult or a fills table)"
    return as_pandas(source, what, TcaError).reset_index(drop=True).copy()


def _model_price(md: MarketData, fill_price: FillPrice) -> FloatArray:
    if fill_price == "close":
        return md.close
    if fill_price == "next_open":
        return md.open
    if fill_price == "vwap":
        out: FloatArray = (md.high + md.low + md.close) / 3.0
        return out
    if md.bid is None or md.ask is None:
        raise TcaError("fill_price 'quote': the bars have no bid and ask columns")
    mid: FloatArray = 0.5 * (md.bid + md.ask)
    return mid


def calibrate_slippage(
    source: TcaResult | pd.DataFrame | Any,
    bars: pd.DataFrame | MarketData | None,
    model: Model = "sqrt_impact",
    *,
    reference: Reference = "auto",
    fill_price: FillPrice = "close",
    volatility_window: int = 20,
    adv_window: int = 20,
) -> Calibration:
    """Fit ``venue.slippage`` (``fixed_bps`` or ``sqrt_impact``) to observed fills.

    ``source``: a :class:`TcaResult` (its ``fills``) or a fills table with ``symbol, side, timestamp, quantity,
    price`` and, optionally, ``reference_price``, ``arrival_price``/``arrival_source``, ``decision_price`` and
    ``liquidity``.

    ``reference`` picks the price slippage is measured from, per fill: ``reference_price`` (the venue's model price,
    which a backtest's fills carry), ``arrival`` (the order's arrival price), ``bar`` (the ``fill_price`` model
    price of the bar holding the fill: close, open, typical price or quote mid — what the backtest that will use the
    fit charges slippage on), ``decision`` (the order's decision price: right when orders go out at the price they
    were decided on, as a paper rebalance at the current quote does), or ``auto``: the first of those a fill has
    (an arrival that merely fell back to the decision price does not count). ``data["reference_source"]`` says
    which was used. ``bars`` may be None for ``fixed_bps`` with a reference other than ``bar``. A fill after the
    last bar is given that bar's price: pass ``reference`` explicitly when the fills' times are not bar times.
    """
    if model not in ("fixed_bps", "sqrt_impact"):
        raise TcaError(f"calibrate_slippage: model must be 'fixed_bps' or 'sqrt_impact', got {model!r} "
                       "('none' and 'half_spread' have no parameter to fit)")
    choices = ("reference_price", "arrival", "bar", "decision")
    if reference != "auto" and reference not in choices:
        raise TcaError(f"calibrate_slippage: reference must be one of auto, {', '.join(choices)}; got {reference!r}")
    if bars is None and (model == "sqrt_impact" or reference == "bar"):
        raise TcaError(f"calibrate_slippage: bars are needed for model {model!r} with reference {reference!r}")
    fills = _fills_of(source)
    missing = [c for c in ("symbol", "side", "timestamp", "quantity", "price") if c not in fills.columns]
    if missing:
        raise TcaError(f"fills: missing columns {missing}; got {list(fills.columns)}")
    n = len(fills)
    stamps = fills["timestamp"]
    times = pd.DatetimeIndex(pd.to_datetime(stamps, format="ISO8601") if stamps.dtype == object
                             or pd.api.types.is_string_dtype(stamps) else pd.to_datetime(stamps))

    def column(name: str) -> FloatArray:
        if name not in fills.columns:
            return np.full(n, np.nan)
        out: FloatArray = pd.to_numeric(fills[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return out

    md = None if bars is None else bars if isinstance(bars, MarketData) else MarketData.from_bars(bars)
    on_bars = np.zeros(n, dtype=np.bool_)
    b = s_ = np.zeros(n, dtype=np.int64)
    bar_price = np.full(n, np.nan)
    if md is not None:
        index = {s: i for i, s in enumerate(md.symbols)}
        sym = np.array([index.get(str(s), -1) for s in fills["symbol"]], dtype=np.int64)
        bar = np.searchsorted(_utc_ns(md.timestamps), _utc_ns(times), side="right").astype(np.int64) - 1
        on_bars = (sym >= 0) & (bar >= 0)
        b, s_ = np.where(on_bars, bar, 0), np.where(on_bars, sym, 0)
        bar_price = np.where(on_bars, _model_price(md, fill_price)[b, s_], np.nan)
    arrival = column("arrival_price")
    if "arrival_source" in fills.columns:  # an arrival that is only the decision price again is no arrival
        arrival = np.where(fills["arrival_source"].astype(str).to_numpy() != "decision_price", arrival, np.nan)
    candidates = {"reference_price": column("reference_price"), "arrival": arrival, "bar": bar_price,
                  "decision": column("decision_price")}
    ref = np.full(n, np.nan)
    ref_source = np.full(n, "", dtype=object)
    for name in choices if reference == "auto" else (reference,):
        take = ~np.isfinite(ref) & np.isfinite(candidates[name]) & (candidates[name] > 0)
        ref[take] = candidates[name][take]
        ref_source[take] = name

    side = fills["side"].astype(str).str.lower().to_numpy()
    sign = np.where(side == "buy", 1.0, np.where(side == "sell", -1.0, np.nan))
    qty = column("quantity")
    price = column("price")
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = sign * (price - ref) / ref
    use = np.isfinite(observed) & (qty > 0)
    if "liquidity" in fills.columns:
        use &= fills["liquidity"].astype(str).to_numpy() != "maker"

    sigma = np.full(n, np.nan)
    adv = np.full(n, np.nan)
    x = np.full(n, np.nan)
    if model == "sqrt_impact" and md is not None:
        slip = SlippageConfig(model="sqrt_impact", volatility_window=volatility_window, adv_window=adv_window)
        costs = CostModel.from_config(VenueConfig(slippage=slip), md)
        sigma = np.where(on_bars, costs.sigma[b, s_], np.nan)
        adv = np.where(on_bars, costs.adv[b, s_], np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            x = sigma * np.sqrt(qty / adv)
        use &= np.isfinite(x) & (adv > 0)
    n_use = int(use.sum())
    if n_use == 0:
        raise TcaError("calibrate_slippage: no fill has both a reference price and (for sqrt_impact) the "
                       "volatility and volume history the model needs")
    y = observed[use]
    if model == "fixed_bps":
        frac = max(float(y.mean()), 0.0)
        fitted = np.where(use, frac, np.nan)
        bps, k = frac * 1e4, SlippageConfig().impact_coefficient
    else:
        xu = x[use]
        sxx = float(xu @ xu)
        k = max(float(xu @ y) / sxx, 0.0) if sxx > 0 else 0.0
        fitted = np.where(use, k * x, np.nan)
        bps = 0.0
    resid = y - fitted[use]
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else (1.0 if not resid.any() else 0.0)
    data = pd.DataFrame({
        "client_order_id": fills["client_order_id"].to_numpy() if "client_order_id" in fills else None,
        "symbol": fills["symbol"].astype(str).to_numpy(),
        "side": side,
        "timestamp": times,
        "quantity": qty,
        "price": price,
        "reference_price": ref,
        "reference_source": ref_source,
        "observed_bps": observed * 1e4,
        "sigma": sigma,
        "adv": adv,
        "x": x,
        "fitted_bps": fitted * 1e4,
        "residual_bps": (observed - fitted) * 1e4,
        "used": use,
    })
    return Calibration(
        model=model, bps=bps, impact_coefficient=k, volatility_window=volatility_window, adv_window=adv_window,
        r_squared=r2, n=n_use, n_excluded=n - n_use,
        rmse_bps=float(np.sqrt((resid**2).mean())) * 1e4, rmse_zero_bps=float(np.sqrt((y**2).mean())) * 1e4,
        data=data,
    )
