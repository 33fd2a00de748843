"""Transaction-cost analysis: what each order cost against its decision, arrival, interval VWAP and close prices.

Implementation shortfall follows Perold (1988): the paper portfolio trades the whole ordered quantity ``Q`` at the
decision price ``P_d``; the real one traded ``q`` at the fill VWAP ``P_f`` and paid fees. With ``s`` = +1 for a buy
and −1 for a sell, arrival price ``P_a`` and end price ``P_end``, in currency, positive meaning a cost:

* delay       = s · q · (P_a − P_d)          the price moved between the decision and the order's arrival
* execution   = s · q · (P_f − P_a)          impact and spread paid while working the order
* fees        = Σ fee, in the account currency (see below)
* opportunity = s · (Q − q) · (P_end − P_d)  what the part never filled would have made or lost

and ``shortfall`` is their sum, also given in bps of the decision notional ``Q · P_d``.

``P_end``, the last known price when the order ended, is the close of the day the order ended (the day of its last
fill, of its ``end_timestamp`` when the orders carry one, else of its decision) from ``bars``; without bars for the
symbol it is the last fill price, and for an order never filled, the arrival price. ``end_price_source`` says which.
Slippage in bps against a benchmark ``B`` (arrival, interval VWAP, decision-day close) is ``s · (P_f − B) / B``:
positive means the fills were worse than the benchmark for that side.

A fill's fee counts as charged when its ``fee_currency`` is missing, the account currency or the quote currency of
a pair ``BASE/QUOTE`` (the currency of its price); in the pair's base asset (a crypto fee taken from the asset
received) it is valued at the fill price. A fee in any other currency is not added to the costs: it is listed per
currency in ``TcaResult.other_fees`` and named in ``notes``. ``fee_value`` in ``TcaResult.fills`` is each fill's
fee in the account currency (NaN for those).

A currency pair quoted in another currency than the account's (``EUR/GBP`` in a USD account) has its prices, and so
its delay, execution and opportunity costs and notionals, in the quote currency. When the fills carry the venue's
``quote_rate`` (the account-currency value of one unit of the quote currency at the fill: OANDA's
``homeConversionFactors``, journaled with each fill; a backtest's bar rate) every money column of the order is
converted at the order's rate (its fills' rates weighted by quantity; an order without a rated fill takes the mean
rate of the fills in the same quote currency), and a fee charged in the quote currency at its fill's rate.
``quote_rate`` in ``TcaResult.orders`` is the rate used (1.0 for an order priced in the account currency); bps are
ratios and need none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from execlab._core.arrays import FloatArray, IntArray
from execlab._data.bars import MarketData
from execlab._data.frames import as_pandas

if TYPE_CHECKING:
    from execlab._oms.journal import Journal
    from execlab._runs.backtest import BacktestResult

__all__ = [
    "GROUP_KEYS",
    "TcaError",
    "TcaResult",
    "aggregate",
    "fills_from_backtest",
    "orders_from_backtest",
    "tca_from_backtest",
    "tca_from_journal",
    "transaction_costs",
]


#: The keys :meth:`TcaResult.by` is meant for (any column of ``TcaResult.orders`` works).
GROUP_KEYS: Final = ("symbol", "day", "side", "venue", "mode")
UNKNOWN: Final = "unknown"

_ORDER_COLUMNS: Final = ("client_order_id", "symbol", "side", "quantity", "decision_price", "timestamp", "status")
_FILL_COLUMNS: Final = ("client_order_id", "timestamp", "quantity", "price")
_LABELS: Final = ("mode", "venue", "strategy_id", "run_id")
_COST_COLUMNS: Final = ("fees", "delay_cost", "execution_cost", "fee_cost", "opportunity_cost", "shortfall")
_BENCHMARKS: Final = {"slippage_arrival_bps": "arrival_price", "slippage_vwap_bps": "interval_vwap",
                      "slippage_close_bps": "close_price"}
_FINAL: Final = ("filled", "cancelled", "expired", "rejected", "denied")
_QTY_TOL: Final = 1e-9


class TcaError(ValueError):
    """Orders or fills cannot be analysed; the message names the row or order at fault."""


# ------------------------------------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class TcaResult:
    """Per-order and per-fill costs; :meth:`by` aggregates them, :meth:`summary` gives the headline figures.

    ``orders`` has one row per order (see the module docstring for the cost definitions); ``fills`` one row per
    execution with its slippage against the order's arrival and decision prices. ``notes`` records what the
    analysis had to assume or leave out (fallback prices, fills of orders outside the analysis).
    """

    orders: pd.DataFrame
    fills: pd.DataFrame
    notes: tuple[str, ...] = field(default=())
    other_fees: pd.DataFrame = field(default_factory=lambda: _no_other_fees())
    """Fees charged in a currency that is neither the account's nor the instrument's (``currency, fee, fills``):
    not in ``fees``/``fee_cost``, which have no rate to convert them at."""
    charges: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Money the broker booked on positions outside fills (a journal's daily financing: ``kind, symbol, amount,
    currency``, amount negative when paid). Holding costs, not trading costs: not in the orders' shortfall;
    :meth:`summary` adds ``financing`` (the sum, positive meaning a cost) when there are any."""

    def by(self, *keys: str) -> pd.DataFrame:
        """Costs summed and bps weighted by notional, per group of ``keys`` (none: one row for everything).

        ``shortfall_bps`` is Σ shortfall / Σ decision notional; a slippage in bps against benchmark ``B`` is
        Σ s·q·(P_f − B) / Σ q·B over the orders with a fill and a known ``B``, i.e. weighted by filled notional at
        the benchmark. ``fill_rate`` is the filled share of the decision notional.
        """
        return aggregate(self.orders, *keys)

    def summary(self) -> dict[str, float]:
        """Headline figures over every order: counts, notionals, each cost, shortfall and slippage in bps."""
        row = self.by().iloc[0]
        out = {str(k): float(v) for k, v in row.items()}
        if len(self.charges):
            paid = self.charges[self.charges["kind"] == "financing"]["amount"]
            out["financing"] = -float(paid.astype(float).sum()) + 0.0
        return out

    def financing(self) -> pd.DataFrame:
        """Daily financing per symbol: ``financing`` (positive meaning a cost, in the account currency) and the
        number of charges."""
        rows = self.charges[self.charges["kind"] == "financing"] if len(self.charges) else self.charges
        if not len(rows):
            return pd.DataFrame({"financing": pd.Series(dtype=np.float64), "charges": pd.Series(dtype=np.int64)},
                                index=pd.Index([], name="symbol"))
        grouped = rows.groupby("symbol")["amount"]
        return pd.DataFrame({"financing": -grouped.sum().astype(float), "charges": grouped.size()})

    def worst(self, n: int = 10, by: str = "shortfall_bps") -> pd.DataFrame:
        """The ``n`` orders with the highest ``by`` (a cost column or a bps column)."""
        return self.orders.sort_values(by, ascending=False, na_position="last").head(n)

    def __repr__(self) -> str:
        s = self.summary()
        return (f"TcaResult(orders={int(s['orders'])}, fills={int(s['fills'])}, shortfall={s['shortfall']:,.2f}, "
                f"shortfall_bps={s['shortfall_bps']:.2f}, slippage_arrival_bps={s['slippage_arrival_bps']:.2f})")


def aggregate(orders: pd.DataFrame, *keys: str) -> pd.DataFrame:
    """:meth:`TcaResult.by` on any frame with the per-order columns (a filtered ``TcaResult.orders`` too)."""
    unknown = [k for k in keys if k not in orders.columns]
    if unknown:
        raise TcaError(f"by: unknown keys {unknown}; use columns of the orders table such as {list(GROUP_KEYS)}")
    frame = orders.copy()
    q = frame["filled_quantity"].to_numpy(dtype=np.float64)
    frame["_filled_decision_notional"] = q * frame["decision_price"].to_numpy(dtype=np.float64)
    sums = ["quantity", "filled_quantity", "unfilled_quantity", "fill_count", "decision_notional", "filled_notional",
            "_filled_decision_notional", *_COST_COLUMNS]
    weighted: list[str] = []
    for bps, bench in _BENCHMARKS.items():
        b = frame[bench].to_numpy(dtype=np.float64)
        r = frame[bps].to_numpy(dtype=np.float64)
        ok = np.isfinite(r) & np.isfinite(b) & (q > 0)
        den = np.where(ok, q * np.where(ok, b, 0.0), 0.0)
        frame[f"_{bps}_num"] = np.where(ok, np.where(ok, r, 0.0) * 1e-4 * den, 0.0)
        frame[f"_{bps}_den"] = den
        weighted += [f"_{bps}_num", f"_{bps}_den"]
    if keys:
        grouped = frame.groupby(list(keys), sort=True, dropna=False)
        out = grouped[sums + weighted].sum()
        out.insert(0, "orders", grouped.size().astype(np.float64))
        out = out.reset_index()
    else:
        out = frame[sums + weighted].sum().to_frame().T
        out.insert(0, "orders", float(len(frame)))
    out = out.rename(columns={"fill_count": "fills"})
    with np.errstate(invalid="ignore", divide="ignore"):
        dn = out["decision_notional"].to_numpy(dtype=np.float64)
        out["fill_rate"] = out.pop("_filled_decision_notional").to_numpy(dtype=np.float64) / dn
        out["shortfall_bps"] = out["shortfall"].to_numpy(dtype=np.float64) / dn * 1e4
        for bps in _BENCHMARKS:
            num = out.pop(f"_{bps}_num").to_numpy(dtype=np.float64)
            den = out.pop(f"_{bps}_den").to_numpy(dtype=np.float64)
            out[bps] = np.where(den > 0, num / np.where(den > 0, den, 1.0) * 1e4, np.nan)
    return out


# ------------------------------------------------------------------------------------------------------ inputs


def _to_pandas(data: Any, what: str) -> pd.DataFrame:
    return as_pandas(data, what, TcaError).reset_index(drop=True)


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TcaError(f"{what}: missing columns {missing}; got {list(frame.columns)}")


def _numbers(frame: pd.DataFrame, column: str, what: str) -> FloatArray:
    try:
        out: FloatArray = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise TcaError(f"{what}: column {column!r} is not numeric ({exc})") from None
    return out


def _fail_at(bad: npt.NDArray[np.bool_], what: str, ids: pd.Series, message: str) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise TcaError(f"{what} row {i} (client_order_id {ids.iloc[i]!r}): {message} "
                       f"({int(bad.sum())} such rows)")


def _times(values: pd.Series, what: str, ids: pd.Series) -> pd.DatetimeIndex:
    try:
        ts = pd.DatetimeIndex(pd.to_datetime(values, format="ISO8601") if values.dtype == object
                              or pd.api.types.is_string_dtype(values) else pd.to_datetime(values))
    except (TypeError, ValueError) as exc:
        raise TcaError(f"{what}: column 'timestamp' cannot be read as times ({exc})") from None
    _fail_at(np.asarray(ts.isna()), what, ids, "timestamp is missing")
    return ts


def _utc_ns(ts: pd.DatetimeIndex) -> npt.NDArray[np.datetime64]:
    """Times as naive UTC nanoseconds, so tz-aware and naive stamps compare (naive ones are taken as UTC)."""
    naive = ts.tz_convert("UTC").tz_localize(None) if ts.tz is not None else ts
    out: npt.NDArray[np.datetime64] = naive.to_numpy(dtype="datetime64[ns]")
    return out


def _labels(frame: pd.DataFrame, name: str, given: str | None) -> pd.Series:
    if given is not None:
        return pd.Series(given, index=frame.index, dtype=object)
    if name not in frame.columns:
        return pd.Series(UNKNOWN, index=frame.index, dtype=object)
    col = frame[name].astype(object)
    return col.where(col.notna() & (col.astype(str) != ""), UNKNOWN).astype(str).astype(object)


def _prepare_orders(raw: pd.DataFrame, mode: str | None, venue: str | None) -> pd.DataFrame:
    _require(raw, _ORDER_COLUMNS, "orders")
    ids = raw["client_order_id"].astype(str)
    dup = ids.duplicated(keep="first").to_numpy()
    _fail_at(dup, "orders", ids, "duplicate client_order_id")
    side = raw["side"].astype(str).str.strip().str.lower()
    _fail_at(~side.isin(("buy", "sell")).to_numpy(), "orders", ids, "side must be 'buy' or 'sell'")
    qty = _numbers(raw, "quantity", "orders")
    _fail_at(~(np.isfinite(qty) & (qty > 0)), "orders", ids, "quantity must be a positive finite number")
    decision = _numbers(raw, "decision_price", "orders")
    _fail_at(~(np.isfinite(decision) & (decision > 0)), "orders", ids,
             "decision_price must be a positive finite price")
    ts = _times(raw["timestamp"], "orders", ids)
    arrival = (_numbers(raw, "arrival_price", "orders") if "arrival_price" in raw.columns
               else np.full(len(raw), np.nan))
    _fail_at(np.isfinite(arrival) & (arrival <= 0) | np.isinf(arrival), "orders", ids,
             "arrival_price must be positive")
    given = np.isfinite(arrival)
    source = (raw["arrival_source"].astype(object).where(raw["arrival_source"].notna(), "given")
              if "arrival_source" in raw.columns else pd.Series("given", index=raw.index, dtype=object))
    out = pd.DataFrame({
        "client_order_id": ids.astype(object),
        "symbol": raw["symbol"].astype(str).astype(object),
        "side": side.astype(object),
        "day": (ts.tz_localize(None) if ts.tz is not None else ts).normalize(),
        "timestamp": ts,
        "status": raw["status"].astype(str).astype(object),
        "quantity": qty,
        "decision_price": decision,
        "arrival_price": np.where(given, arrival, decision),
        "arrival_source": np.where(given, source.astype(str).to_numpy(dtype=object), "decision_price"),
    })
    labels = {"mode": mode, "venue": venue, "strategy_id": None, "run_id": None}
    for name, value in labels.items():
        out[name] = _labels(raw, name, value).to_numpy()
    taken = {*out.columns, *_ORDER_OUTPUT, "end_timestamp", "avg_fill_price"}
    for name in raw.columns:  # anything else the caller keeps with an order (order type, reason ...) rides along
        if name not in taken:
            out[name] = raw[name].to_numpy()
    if "end_timestamp" in raw.columns:
        end = pd.DatetimeIndex(pd.to_datetime(raw["end_timestamp"], format="ISO8601")
                               if raw["end_timestamp"].dtype == object else pd.to_datetime(raw["end_timestamp"]))
        out["_end"] = _utc_ns(end)
    else:
        out["_end"] = np.full(len(out), np.datetime64("NaT"), dtype="datetime64[ns]")
    if "filled_quantity" in raw.columns:
        out["_reported_filled"] = _numbers(raw, "filled_quantity", "orders")
    return out


def _prepare_fills(raw: pd.DataFrame, orders: pd.DataFrame) -> tuple[pd.DataFrame, IntArray]:
    _require(raw, _FILL_COLUMNS, "fills")
    ids = raw["client_order_id"].astype(str)
    pos = pd.Index(orders["client_order_id"]).get_indexer(ids)
    _fail_at(pos < 0, "fills", ids, "fill of an order not in the orders table")
    qty = _numbers(raw, "quantity", "fills")
    _fail_at(~(np.isfinite(qty) & (qty > 0)), "fills", ids, "quantity must be a positive finite number")
    price = _numbers(raw, "price", "fills")
    _fail_at(~(np.isfinite(price) & (price > 0)), "fills", ids, "price must be a positive finite price")
    fee = _numbers(raw, "fee", "fills") if "fee" in raw.columns else np.zeros(len(raw))
    _fail_at(np.isinf(fee), "fills", ids, "fee must be finite")
    fee = np.nan_to_num(fee, nan=0.0)
    ts = _times(raw["timestamp"], "fills", ids)
    for name in ("side", "symbol"):
        if name in raw.columns:
            given = raw[name].astype(str).str.strip().to_numpy()
            given = np.char.lower(given.astype(str)) if name == "side" else given.astype(str)
            _fail_at(given != orders[name].to_numpy().astype(str)[pos], "fills", ids,
                     f"{name} differs from the order's {name}")
    extra = [c for c in raw.columns if c not in (*_FILL_COLUMNS, "fee", "side", "symbol")]
    out = pd.DataFrame({"client_order_id": ids.astype(object), "timestamp": ts, "quantity": qty, "price": price,
                        "fee": fee})
    for c in extra:
        out[c] = raw[c].to_numpy()
    order = np.argsort(_utc_ns(ts), kind="stable")
    return out.iloc[order].reset_index(drop=True), pos[order].astype(np.int64)


# ----------------------------------------------------------------------------------------------------- the maths


@dataclass(frozen=True)
class _Bars:
    """Cumulative sums over bars, for interval VWAP, volume and the last close of a day, per symbol."""

    times: npt.NDArray[np.datetime64]
    aware: bool
    """Whether the bars' timestamps have a time zone (``times`` are then UTC; else they are wall clock)."""
    symbols: dict[str, int]
    cum_pv: FloatArray
    cum_v: FloatArray
    last_close: FloatArray

    @classmethod
    def of(cls, bars: pd.DataFrame | MarketData) -> _Bars:
        md = bars if isinstance(bars, MarketData) else MarketData.from_bars(bars)
        typical = (md.high + md.low + md.close) / 3.0
        vol = md.volume
        ok = np.isfinite(typical) & np.isfinite(vol) & (vol > 0)
        pv = np.where(ok, typical * np.where(ok, vol, 0.0), 0.0)
        v = np.where(ok, vol, 0.0)
        zero = np.zeros((1, vol.shape[1]))
        return cls(_utc_ns(md.timestamps), md.timestamps.tz is not None, {s: i for i, s in enumerate(md.symbols)},
                   np.vstack([zero, np.cumsum(pv, axis=0)]), np.vstack([zero, np.cumsum(v, axis=0)]),
                   md.last_close())

    def bar_at(self, t: npt.NDArray[np.datetime64]) -> IntArray:
        """Index of the bar holding each time (the last bar starting at or before it); −1 before the first."""
        out: IntArray = np.searchsorted(self.times, t, side="right").astype(np.int64) - 1
        return out

    def interval(self, sym: IntArray, start: npt.NDArray[np.datetime64],
                 end: npt.NDArray[np.datetime64]) -> tuple[FloatArray, FloatArray]:
        """VWAP of the typical price and total volume over the bars overlapping ``[start, end]``."""
        known = sym >= 0
        s = np.where(known, sym, 0)
        a = np.maximum(self.bar_at(start), 0)
        b = self.bar_at(end)
        ok = known & (b >= a)
        a, b = np.where(ok, a, 0), np.where(ok, b, 0)
        vol = np.where(ok, self.cum_v[b + 1, s] - self.cum_v[a, s], np.nan)
        pv = np.where(ok, self.cum_pv[b + 1, s] - self.cum_pv[a, s], np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            vwap = np.where(vol > 0, pv / vol, np.nan)
        return vwap, np.where(vol > 0, vol, np.nan)

    def day_close(self, sym: IntArray, day_end: npt.NDArray[np.datetime64]) -> FloatArray:
        """The last known close before each ``day_end`` (on the bars' clock)."""
        k = np.searchsorted(self.times, day_end, side="left").astype(np.int64) - 1
        ok = (sym >= 0) & (k >= 0)
        out: FloatArray = np.where(ok, self.last_close[np.where(ok, k, 0), np.where(sym >= 0, sym, 0)], np.nan)
        return out


def transaction_costs(
    orders: Any,
    fills: Any,
    bars: pd.DataFrame | MarketData | None = None,
    *,
    mode: str | None = None,
    venue: str | None = None,
    account_currency: str = "USD",
) -> TcaResult:
    """Cost every order and fill: decision, arrival, interval VWAP and close benchmarks, and Perold's shortfall.

    ``orders`` (pandas or polars): ``client_order_id, symbol, side, quantity, decision_price, timestamp`` (the
    decision time) and ``status``; optional ``arrival_price`` (missing or NaN: the decision price is used and
    ``arrival_source`` says ``decision_price``), ``arrival_source``, ``mode``, ``venue``, ``strategy_id``,
    ``run_id``, ``filled_quantity`` (checked against the fills) and ``end_timestamp`` (when the order stopped
    working). ``fills``: ``client_order_id, timestamp, quantity, price`` and optional ``fee`` and ``fee_currency``
    (valued in ``account_currency`` as the module docstring says); other columns are
    carried into ``TcaResult.fills``. ``bars`` (long OHLCV or :class:`MarketData`) give the interval VWAP, the
    decision-day close, participation and the end price. ``mode``/``venue`` label every order when given.

    Times with a zone are compared in UTC, naive order and fill times are taken as UTC, and naive bar times as the
    orders' wall clock (daily bars are labelled by local date). ``first_fill_time``/``last_fill_time`` are naive
    UTC, ``day`` is the decision's calendar date in its own time zone, and "the close of a day" is the last close of
    the bars up to the end of that calendar date. A bar holds the times from its timestamp to the next bar's, so the
    interval VWAP covers the bars from the one holding the decision to the one holding the last fill (or the
    ``end_timestamp``).

    Every order counts, whatever its status: the unfilled part of a cancelled, expired, rejected or risk-denied
    order is an opportunity cost. Filter ``TcaResult.orders`` by ``status`` to leave some out.
    """
    o = _prepare_orders(_to_pandas(orders, "orders"), mode, venue)
    f, pos = _prepare_fills(_to_pandas(fills, "fills"), o)
    n = len(o)
    rate, rate_notes = _order_rates(f, pos, o["symbol"].to_numpy().astype(str), n, account_currency)
    f["fee_value"] = _fee_values(f, o["symbol"].to_numpy().astype(str)[pos], account_currency)
    unvalued = _other_fees(f)
    Q = o["quantity"].to_numpy(dtype=np.float64)
    Pd = o["decision_price"].to_numpy(dtype=np.float64)
    Pa = o["arrival_price"].to_numpy(dtype=np.float64)
    s = np.where(o["side"].to_numpy() == "buy", 1.0, -1.0)
    fq = f["quantity"].to_numpy(dtype=np.float64)
    fp = f["price"].to_numpy(dtype=np.float64)
    q = np.bincount(pos, weights=fq, minlength=n)
    value = np.bincount(pos, weights=fq * fp, minlength=n)
    fees = np.bincount(pos, weights=np.nan_to_num(f["fee_value"].to_numpy(dtype=np.float64), nan=0.0), minlength=n)
    count = np.bincount(pos, minlength=n).astype(np.float64)
    ids = o["client_order_id"]
    over = q > Q * (1.0 + _QTY_TOL) + _QTY_TOL
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise TcaError(f"fills: order {ids.iloc[i]!r} is overfilled: fills total {q[i]:g} but it ordered {Q[i]:g}")
    if "_reported_filled" in o.columns:
        rep = o.pop("_reported_filled").to_numpy(dtype=np.float64)
        off = np.isfinite(rep) & (np.abs(rep - q) > 1e-6 * np.maximum(1.0, Q))
        if off.any():
            i = int(np.flatnonzero(off)[0])
            raise TcaError(f"orders row {i} (client_order_id {ids.iloc[i]!r}): filled_quantity {rep[i]:g} but "
                           f"its fills total {q[i]:g}")
    q = np.minimum(q, Q)
    filled = q > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        Pf = np.where(filled, value / np.where(filled, q, 1.0), np.nan)
    # last fill time and price per order (fills are sorted by time)
    ft = _utc_ns(pd.DatetimeIndex(f["timestamp"]))
    last_t = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    last_p = np.full(n, np.nan)
    first_t = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if len(f):
        last_t[pos] = ft  # later fills overwrite earlier ones
        last_p[pos] = fp
        first_t[pos[::-1]] = ft[::-1]
    stamps = pd.DatetimeIndex(o["timestamp"])
    decided = _utc_ns(stamps)
    # the decision's own zone: its wall clock minus UTC (0 for naive times)
    wall = decided - decided if stamps.tz is None else (
        stamps.tz_localize(None).to_numpy(dtype="datetime64[ns]") - decided)
    end = decided.copy()
    for other in (last_t, o.pop("_end").to_numpy(dtype="datetime64[ns]")):
        later = ~np.isnat(other) & (other > end)
        end[later] = other[later]

    nan = np.full(n, np.nan)
    vwap, volume, close, end_close = nan, nan, nan, nan
    notes: list[str] = []
    if bars is not None:
        b = _Bars.of(bars)
        sym = np.array([b.symbols.get(x, -1) for x in o["symbol"]], dtype=np.int64)
        if (sym < 0).any():
            missing = sorted(set(o["symbol"][sym < 0]))
            notes.append(f"no bars for symbols {missing[:10]}: their VWAP and close benchmarks are missing")
        # Naive bars are on the orders' wall clock (daily bars are labelled by local date); aware ones on UTC.
        shift = decided - decided if b.aware else wall
        vwap, volume = b.interval(sym, decided + shift, end + shift)

        def day_end(t: npt.NDArray[np.datetime64]) -> npt.NDArray[np.datetime64]:
            local_end = (t + wall).astype("datetime64[D]").astype("datetime64[ns]") + np.timedelta64(1, "D")
            out: npt.NDArray[np.datetime64] = np.asarray(local_end - wall + shift, dtype="datetime64[ns]")
            return out

        close = b.day_close(sym, day_end(decided))
        end_close = b.day_close(sym, day_end(end))
    end_price = np.where(np.isfinite(end_close), end_close, np.where(filled, last_p, Pa))
    end_source = np.where(np.isfinite(end_close), "close", np.where(filled, "last_fill", "arrival_price"))

    qf = np.where(filled, q, 0.0)
    delay = s * qf * (Pa - Pd)
    execution = np.where(filled, s * qf * (np.where(filled, Pf, 0.0) - Pa), 0.0)
    unfilled = np.maximum(Q - q, 0.0)
    unfilled = np.where(unfilled <= _QTY_TOL * np.maximum(1.0, Q), 0.0, unfilled)
    opportunity = s * unfilled * (end_price - Pd)
    notional = Q * Pd
    filled_notional = np.where(filled, q * Pf, 0.0)
    if rate is not None:  # into the account currency
        delay, execution, opportunity = delay * rate, execution * rate, opportunity * rate
        notional, filled_notional = notional * rate, filled_notional * rate
    delay, execution, opportunity = delay + 0.0, execution + 0.0, opportunity + 0.0  # no negative zeros
    shortfall = delay + execution + fees + opportunity
    with np.errstate(invalid="ignore", divide="ignore"):
        def bps(bench: FloatArray) -> FloatArray:
            out: FloatArray = np.where(filled & np.isfinite(bench), s * (Pf - bench) / bench * 1e4, np.nan)
            return out

        participation = np.where(np.isfinite(volume), q / volume, np.nan)
        table = o.assign(
            filled_quantity=q, unfilled_quantity=unfilled, fill_count=count, fill_vwap=Pf,
            interval_vwap=vwap, close_price=close, end_price=end_price, end_price_source=end_source,
            participation=participation, decision_notional=notional, filled_notional=filled_notional,
            fees=fees, delay_cost=delay, execution_cost=execution, fee_cost=fees, opportunity_cost=opportunity,
            shortfall=shortfall, shortfall_bps=shortfall / notional * 1e4,
            slippage_arrival_bps=bps(Pa), slippage_vwap_bps=bps(vwap), slippage_close_bps=bps(close),
            first_fill_time=pd.DatetimeIndex(first_t), last_fill_time=pd.DatetimeIndex(last_t),
        )
        if rate is not None:
            table["quote_rate"] = rate
        fills_out = _fills_table(f, pos, table)
    notes.extend(rate_notes)
    if (o["arrival_source"] == "decision_price").any():
        k = int((o["arrival_source"] == "decision_price").sum())
        notes.append(f"{k} orders have no arrival price: their decision price stands in (no delay cost)")
    if len(unvalued):
        charged = ", ".join(f"{r.fee:g} {r.currency}" for r in unvalued.itertuples())
        notes.append(f"{int(unvalued['fills'].sum())} fills paid fees in other currencies than {account_currency} "
                     f"({charged}): not in the fee cost (other_fees)")
    return TcaResult(table[_ORDER_OUTPUT + [c for c in table.columns if c not in _ORDER_OUTPUT]],
                     fills_out, tuple(notes), unvalued)


def _quote_of(symbol: str) -> str:
    """The quote currency of ``BASE/QUOTE`` (also ``BASE_QUOTE``), else ``""``."""
    for sep in ("/", "_"):
        base, found, quote = symbol.partition(sep)
        if found and base and quote:
            return quote.upper()
    return ""


def _order_rates(f: pd.DataFrame, pos: IntArray, symbols: npt.NDArray[np.str_], n: int,
                 account_currency: str) -> tuple[FloatArray | None, list[str]]:
    """Per order, the account-currency value of one unit of its price currency (see the module docstring), or None
    when no fill carries a ``quote_rate``; with the notes of what had no rate."""
    if "quote_rate" not in f.columns:
        return None, []
    fill_rate = pd.to_numeric(f["quote_rate"], errors="coerce").to_numpy(dtype=np.float64)
    rated = np.isfinite(fill_rate) & (fill_rate > 0)
    if not rated.any():
        return None, []
    home = account_currency.strip().upper()
    quotes = np.array([_quote_of(s) for s in symbols], dtype=object)
    fq = f["quantity"].to_numpy(dtype=np.float64)
    weight = np.bincount(pos[rated], weights=fq[rated], minlength=n)
    total = np.bincount(pos[rated], weights=(fq * fill_rate)[rated], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(weight > 0, total / np.where(weight > 0, weight, 1.0), np.nan)
    rate[(quotes == home) | (quotes == "")] = 1.0
    fill_quotes = quotes[pos]
    missing: set[str] = set()
    for i in np.flatnonzero(np.isnan(rate)):
        same = rated & (fill_quotes == quotes[i])
        if same.any():
            rate[i] = float(np.mean(fill_rate[same]))
        else:
            rate[i] = 1.0
            missing.add(str(quotes[i]))
    notes = [f"no fill gives a rate for {sorted(missing)} into {home}: those orders' costs are left in their "
             "quote currency"] if missing else []
    if "fee_currency" in f.columns:  # a fee in the quote currency, at its fill's rate
        currency = np.array([str(c).strip().upper() if isinstance(c, str) else "" for c in f["fee_currency"]],
                            dtype=object)
        in_quote = (currency == fill_quotes) & (currency != home) & rated
        if in_quote.any():
            f["fee"] = np.where(in_quote, f["fee"].to_numpy(dtype=np.float64) * fill_rate, f["fee"].to_numpy())
            f["fee_currency"] = np.where(in_quote, home, f["fee_currency"].to_numpy(dtype=object))
    return rate, notes


def _fee_values(f: pd.DataFrame, symbols: npt.NDArray[np.str_], account_currency: str) -> FloatArray:
    """Each fill's fee in the account currency (see the module docstring); NaN where it has no rate."""
    fee = f["fee"].to_numpy(dtype=np.float64)
    if "fee_currency" not in f.columns:
        return fee
    currency = np.array([str(c).strip().upper() if isinstance(c, str) else "" for c in f["fee_currency"]],
                        dtype=object)
    base = np.array([s.partition("/")[0].upper() if "/" in s else "" for s in symbols], dtype=object)
    quote = np.array([s.partition("/")[2].upper() if "/" in s else "" for s in symbols], dtype=object)
    as_charged = (currency == "") | (currency == account_currency.strip().upper()) | (currency == quote)
    in_base = ~as_charged & (currency == base)
    price = f["price"].to_numpy(dtype=np.float64)
    out: FloatArray = np.where(as_charged, fee, np.where(in_base, fee * price, np.nan))
    return out


def _no_other_fees() -> pd.DataFrame:
    return pd.DataFrame({"currency": pd.Series(dtype=object), "fee": pd.Series(dtype=np.float64),
                         "fills": pd.Series(dtype=np.int64)})


def _other_fees(f: pd.DataFrame) -> pd.DataFrame:
    """The fees :func:`_fee_values` could not value, summed per currency."""
    left = f[np.isnan(f["fee_value"].to_numpy(dtype=np.float64))]
    if left.empty:
        return _no_other_fees()
    grouped = left.assign(currency=left["fee_currency"].astype(str).str.strip().str.upper()).groupby(
        "currency", sort=True)["fee"]
    return pd.DataFrame({"currency": grouped.sum().index.astype(object), "fee": grouped.sum().to_numpy(),
                         "fills": grouped.size().to_numpy(dtype=np.int64)})


_ORDER_OUTPUT: Final = [
    "client_order_id", "symbol", "side", "day", "timestamp", "status", "mode", "venue", "strategy_id", "run_id",
    "quantity", "filled_quantity", "unfilled_quantity", "fill_count", "fill_vwap", "decision_price", "arrival_price",
    "arrival_source", "interval_vwap", "close_price", "end_price", "end_price_source", "participation",
    "decision_notional", "filled_notional", "fees", "delay_cost", "execution_cost", "fee_cost", "opportunity_cost",
    "shortfall", "shortfall_bps", "slippage_arrival_bps", "slippage_vwap_bps", "slippage_close_bps",
    "first_fill_time", "last_fill_time",
]


def _fills_table(f: pd.DataFrame, pos: IntArray, orders: pd.DataFrame) -> pd.DataFrame:
    take = ["symbol", "side", "day", "mode", "venue", "decision_price", "arrival_price", "arrival_source"]
    head = orders[take].iloc[pos].reset_index(drop=True)
    out = pd.concat([f[["client_order_id", "timestamp"]], head, f.drop(columns=["client_order_id", "timestamp"])],
                    axis=1)
    s = np.where(out["side"].to_numpy() == "buy", 1.0, -1.0)
    px = out["price"].to_numpy(dtype=np.float64)
    pa = out["arrival_price"].to_numpy(dtype=np.float64)
    pd_ = out["decision_price"].to_numpy(dtype=np.float64)
    out["notional"] = out["quantity"].to_numpy(dtype=np.float64) * px
    out["slippage_arrival_bps"] = s * (px - pa) / pa * 1e4
    out["slippage_decision_bps"] = s * (px - pd_) / pd_ * 1e4
    return out


# ------------------------------------------------------------------------------------------------------ adapters


def orders_from_backtest(result: BacktestResult) -> pd.DataFrame:
    """The backtest's orders in the shape :func:`transaction_costs` reads, with an honest arrival price.

    A backtest order is decided at a bar's close (``decision_price``) and can first trade at the bar the venue makes
    it eligible: the same bar for ``fill_price: close``, else the next bar, plus ``latency_bars``; an opening
    auction (``opg``) order waits for the next open. Its arrival price is the venue's model price at that bar
    before slippage (close, open, bar typical price or quote mid) — for a market order, the ``reference_price``
    of its first fill. So ``next_open`` orders show the overnight gap as delay cost and the slippage model as
    execution cost. An order whose eligible bar is past the data keeps its decision price as arrival. A result that
    already has arrival prices (a paper run's, recorded by its executor at submission) keeps them.
    """
    orders = result.orders
    market = result.market
    cfg = result.config.venue
    bar = result.book.column("bar").astype(np.int64)
    sym = result.book.column("symbol").astype(np.int64)
    delay = (0 if cfg.fill_price == "close" else 1) + cfg.latency_bars
    tif = orders["time_in_force"].to_numpy()
    eligible = bar + np.where(tif == "opg", max(delay, 1), delay)
    n_t = len(market.timestamps)
    inside = eligible < n_t
    e = np.where(inside, eligible, 0)
    model = {"close": market.close, "next_open": market.open,
             "vwap": (market.high + market.low + market.close) / 3.0}.get(cfg.fill_price)
    if model is None:  # quote: the mid
        assert market.bid is not None and market.ask is not None
        model = 0.5 * (market.bid + market.ask)
    price = model[e, sym]
    price = np.where(tif == "opg", market.open[e, sym], np.where(tif == "cls", market.close[e, sym], price))
    model_arrival = np.where(inside, price, np.nan)
    out = orders.drop(columns=["avg_fill_price", "fees"]).reset_index(drop=True)
    sent = (out["arrival_price"].to_numpy(dtype=np.float64) if "arrival_price" in out.columns
            else np.full(len(out), np.nan))
    known = np.isfinite(sent)  # a paper run's executor records the mid (or last) when it sent the order
    out["arrival_price"] = np.where(known, sent, model_arrival)
    out["arrival_source"] = np.where(known, "executor", "model_price")
    out["mode"] = result.config.mode
    out["venue"] = result.config.broker.name
    return out


def fills_from_backtest(result: BacktestResult) -> pd.DataFrame:
    """The backtest's fills in the shape :func:`transaction_costs` reads (``reference_price`` kept; with
    ``quote_rate`` and ``fee_currency`` when a pair is quoted in another currency than the run's)."""
    fills = result.fills.reset_index(drop=True)
    rates = result.fill_rates()
    if rates is not None:  # the bar's rate of each fill; the simulated venue charges fees in the price currency
        fills = fills.assign(quote_rate=rates, fee_currency=[_quote_of(str(s)) or result.config.currency
                                                             for s in fills["symbol"]])
    return fills


def tca_from_backtest(result: BacktestResult, *, mode: str | None = None, venue: str | None = None) -> TcaResult:
    """:func:`transaction_costs` of a backtest, benchmarked against the bars it ran on."""
    return transaction_costs(orders_from_backtest(result), fills_from_backtest(result), result.market, mode=mode,
                             venue=venue, account_currency=result.config.currency)


def _payloads(events: pd.DataFrame, key: str) -> dict[str, Any]:
    """The first value of ``key`` found in each order's event payloads."""
    out: dict[str, Any] = {}
    if events.empty:
        return out
    hit = events[events["payload"].astype(str).str.contains(f'"{key}"', regex=False)
                 & events["client_order_id"].notna()]
    for coid, payload in zip(hit["client_order_id"], hit["payload"], strict=True):
        if coid in out:
            continue
        try:
            data = json.loads(payload)
        except (TypeError, ValueError):
            continue
        value = data.get(key) if isinstance(data, Mapping) else None
        if value is not None:
            out[str(coid)] = value
    return out


def _journal_times(values: list[Any]) -> pd.DatetimeIndex:
    """Times from journal text: all naive stays naive; otherwise naive ones are taken as UTC and all is UTC."""
    stamps: list[pd.Timestamp | None] = []
    for v in values:
        t = pd.Timestamp(v) if (isinstance(v, str) and v) or isinstance(v, datetime) else None
        stamps.append(t if isinstance(t, pd.Timestamp) else None)
    if any(t is not None and t.tzinfo is not None for t in stamps):
        utc = [None if t is None else t.tz_convert("UTC") if t.tzinfo is not None else t.tz_localize("UTC")
               for t in stamps]
        return pd.DatetimeIndex(utc, tz="UTC")
    return pd.DatetimeIndex(stamps)


def tca_from_journal(journal: Journal, run_id: str, bars: pd.DataFrame | MarketData | None = None, *,
                     mode: str | None = None, venue: str | None = None,
                     account_currency: str | None = None) -> TcaResult:
    """:func:`transaction_costs` of one paper or live run from its journal.

    The decision price is the plan's. The decision time is the market time the order was sent at when the executor
    records one (``at`` in its submit request's payload: the paper executor's feed clock, which for a replay is not
    the wall clock), else the time the intent was journaled (before anything was sent). The arrival price is the
    first ``arrival_price`` in an event payload of the order (the paper executor records the mid or last price at
    submission); without one the decision price stands in. An unfilled order's end is its last journaled final
    state when its decision time is on the journal's clock. Fills of orders the run did not decide (adopted
    external orders) are left out and counted in ``notes``. ``mode``, ``venue`` and ``strategy_id`` come from the
    run's journaled ``run`` event (``unknown`` without one); ``mode`` and ``venue`` given here override them. Fees
    are valued in ``account_currency`` (default: the currency the run journaled, else USD) from each fill's journaled
    ``fee_currency`` (None: the account's).
    """
    intents = journal.orders(run_id)
    fills = journal.fills(run_id)
    events = journal.events(run_id)
    orders = intents.drop(columns=["avg_fill_price", "created_at"])
    if "algo" in orders.columns:  # child orders of execution algorithms name theirs; every other order is "none"
        orders["algo"] = orders["algo"].astype(object).where(orders["algo"].notna(), "none")
    ids = orders["client_order_id"].tolist()
    arrivals = _payloads(events, "arrival_price")
    sent_at = _payloads(events[events["kind"] == "request"], "at")
    orders["arrival_price"] = [float(arrivals[c]) if c in arrivals else np.nan for c in ids]
    orders["arrival_source"] = "journal"
    orders["timestamp"] = _journal_times([sent_at.get(c, t) for c, t in zip(ids, intents["created_at"], strict=True)])
    final = events[(events["kind"] == "state") & events["status"].isin(_FINAL)]
    ended = final.groupby("client_order_id")["at"].max()
    orders["end_timestamp"] = _journal_times([None if c in sent_at else ended.get(c) for c in ids])
    known = fills["client_order_id"].isin(orders["client_order_id"])
    notes: list[str] = []
    if not known.all():
        notes.append(f"{int((~known).sum())} fills of orders this run did not decide (adopted or external) "
                     "are left out")
    fills = fills[known].rename(columns={"at": "timestamp"}).drop(columns=["run_id"])
    fills["timestamp"] = _journal_times(fills["timestamp"].tolist())
    labels = journal.run_labels(run_id)
    currency = account_currency or labels.pop("currency", None) or "USD"
    labels.pop("currency", None)
    for name, value in labels.items():  # what the run journaled it is; arguments override
        orders[name] = value
    result = transaction_costs(orders, fills, bars, mode=mode, venue=venue, account_currency=currency)
    charges = journal.charges(run_id)
    if len(charges):
        others = sorted(set(charges["currency"].astype(str)) - {currency})
        if others:
            notes.append(f"charges in {others} are summed with those in {currency} as journaled")
        notes.append(f"{len(charges)} charges booked outside fills (daily financing): in charges and the "
                     "summary's financing, not in the orders' shortfall")
    return TcaResult(result.orders, result.fills, (*notes, *result.notes), result.other_fees, charges)
