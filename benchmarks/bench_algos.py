"""Execution algorithms against the one-shot market order, on real minute bars (SPY, IBM, AIG, BAC, LEAN demo data
in ``../shared/data/us_equity_minute_lean.parquet``).

Each trading day from 2013-10-07 to 2013-10-11 a flat account buys $5M of each of the four symbols at 10:00 New York
(14:00 UTC), through the backtest's plan → risk → OMS → simulated venue, either at once (``algo: none``, one market
order per symbol, filled at the next minute's open) or worked over 30 minutes by TWAP (10 slices), VWAP (10 slices,
profile from the symbol's own previous days), POV (ρ = 5 %) and iceberg (display $250k). Two venue cost models:
half the quoted spread, and square-root impact (0.1 · σ · sqrt(q / ADV) on minute σ and volume).

Per algorithm, over the 20 parents (notional-weighted, bps, positive = cost): slippage of the fill VWAP against the
arrival price (the decision minute's close) and against the interval VWAP (the market's VWAP from the decision to the
last fill), and the participation achieved (filled / market volume over that interval) against the cap.

    .venv/bin/python benchmarks/bench_algos.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

import execlab as xl
from execlab._analysis.algo_tca import AlgoTca, algo_tca
from execlab._analysis.tca import tca_from_backtest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "us_equity_minute_lean.parquet"
SYMBOLS = ("SPY", "IBM", "AIG", "BAC")
DAYS = ("2013-10-07", "2013-10-08", "2013-10-09", "2013-10-10", "2013-10-11")
NOTIONAL = 5_000_000.0
ALGOS: dict[str, dict[str, Any]] = {
    "market": {"algo": "none"},
    "twap": {"algo": "twap", "slices": 10},
    "vwap": {"algo": "vwap", "slices": 10},
    "pov": {"algo": "pov", "participation": 0.05},
    "iceberg": {"algo": "iceberg"},
}
VENUES: dict[str, dict[str, Any]] = {
    "half_spread": {"model": "half_spread"},
    "sqrt_impact": {"model": "sqrt_impact", "impact_coefficient": 0.1},
}


def load_bars() -> pd.DataFrame:
    rows = pd.read_parquet(DATA)
    rows = rows[rows["symbol"].isin(SYMBOLS) & (rows["ts"] < pd.Timestamp("2013-10-12", tz="UTC"))]
    local = rows["ts"].dt.tz_convert("America/New_York").dt.time
    rows = rows[(local >= pd.Timestamp("09:30").time()) & (local < pd.Timestamp("16:00").time())]
    return rows[["ts", "symbol", "open", "high", "low", "close", "volume", "bid_close", "ask_close"]].reset_index(
        drop=True)


def one_day(bars: pd.DataFrame, day: str, algo: str, slippage: dict[str, Any]) -> AlgoTca:
    start = pd.Timestamp(f"{day} 14:00", tz="UTC")
    upto = bars[bars["ts"] < start + pd.Timedelta(hours=3)]
    price = upto[upto["ts"] <= start].groupby("symbol")["close"].last()
    shares = {s: float(int(NOTIONAL / price[s])) for s in SYMBOLS}
    execution = dict(ALGOS[algo])
    if algo == "iceberg":
        execution["per_symbol"] = {s: {"display_size": float(int(NOTIONAL / 20 / price[s]))} for s in SYMBOLS}
    cfg = xl.load_config({"initial_cash": 4 * NOTIONAL * 1.05, "venue": {"fill_price": "next_open",
                                                                         "slippage": slippage},
                          "execution": {"horizon": "30min", **execution}})
    result = xl.run_backtest(pd.DataFrame(shares, index=[start]), upto, cfg)
    tca = tca_from_backtest(result)
    parents = result.parents
    if algo == "market":  # each market order is its own parent, worked in one print
        tca.orders["parent_id"] = tca.orders["client_order_id"]
        o = result.orders
        parents = pd.DataFrame({"parent_id": o["client_order_id"], "symbol": o["symbol"], "side": o["side"],
                                "quantity": o["quantity"], "arrival_price": o["decision_price"], "algo": "market",
                                "start": o["timestamp"], "end": o["timestamp"], "participation_cap": None,
                                "slices": 1, "profile": None})
    return algo_tca(tca, parents, result.market)


def main() -> None:
    if not DATA.is_file():
        print(f"skipped: {DATA} is absent")
        sys.exit(0)
    bars = load_bars()
    for venue, slippage in VENUES.items():
        rows = []
        t0 = time.perf_counter()
        for algo in ALGOS:
            parents = pd.concat([one_day(bars, day, algo, slippage).parents for day in DAYS], ignore_index=True)
            parents["algo"] = algo
            row = AlgoTca(parents, parents.iloc[:0]).by_algo().iloc[0]
            rows.append(row)
        table = pd.DataFrame(rows).set_index("algo")
        table = table[["parents", "children", "fill_rate", "slippage_arrival_bps", "slippage_vwap_bps",
                       "participation", "max_participation", "participation_cap"]]
        market = table.loc["market"]
        table["vs_market_arrival_bps"] = table["slippage_arrival_bps"] - market["slippage_arrival_bps"]
        print(f"\nvenue slippage model: {venue}  ({len(DAYS)} days x {len(SYMBOLS)} symbols, $5M each, "
              f"{time.perf_counter() - t0:.1f} s)")
        with pd.option_context("display.width", 200, "display.float_format", "{:,.3f}".format):
            print(table.to_string())


if __name__ == "__main__":
    main()
