#!/usr/bin/env python3
"""Peer side of the backtest benchmark: times backtesting.py 0.6.6 and vectorbt on an SMA 10/20 crossover over the
bars the Rust bench wrote, and prints one JSON object.

Usage: backtest_peers.py RAW_FILE N N_BT
  RAW_FILE  little-endian f64 arrays open, high, low, close, volume, each N long: 1-minute bars from
            2020-01-01 00:00 UTC.
  N_BT      backtesting.py runs on the first N_BT bars only (it steps through bars in Python); vectorbt on all N.
Needs: pip install backtesting==0.6.6 vectorbt

backtesting.py runs the Quick Start SmaCross (close the position, then buy on a cross up / sell short on a cross
down; market orders fill at the next bar's open) with cash 1e12, so every order is affordable, and commission
0.002; the timing covers Backtest(...).run(), indicators and statistics included. vectorbt runs
Portfolio.from_signals long-only: entries where SMA10 crosses above SMA20, exits where it crosses below, both shifted
one bar and filled at that bar's open (next-bar-open, as backtesting.py), fees 0.002, cash 1e12. Its timing covers
the SMAs, the crossover signals and the simulation; numba compiles first on a 1,000-bar slice, outside the timing.
Data loading is never timed. With all-in sizing each reversal pays 2 x 0.002 of equity, so equity decays and both
libraries stop trading once it cannot buy a unit (backtesting.py: whole units) or the order becomes negligible
(vectorbt); "trades" vs "crossovers" in the output shows how far each got. Prints:
{"backtesting_py": {"bars", "seconds", ...}, "vectorbt": {"bars", "seconds", "version", ...}}
with "error" in place of "seconds" for a library that could not be imported or run.
"""

import json
import sys
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")


def load(path, n):
    raw = np.fromfile(path, dtype="<f8")
    if raw.size != 5 * n:
        sys.exit(f"{path}: expected 5 x {n} f64 values, found {raw.size}")
    cols = {name: raw[k * n:(k + 1) * n].copy() for k, name in enumerate(["Open", "High", "Low", "Close", "Volume"])}
    index = pd.date_range("2020-01-01 00:00", periods=n, freq="min")  # UTC wall time, naive as backtesting.py wants
    return pd.DataFrame(cols, index=index)


def time_backtesting_py(df):
    import backtesting
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCross(Strategy):
        n1 = 10
        n2 = 20

        def init(self):
            self.sma1 = self.I(SMA, self.data.Close, self.n1)
            self.sma2 = self.I(SMA, self.data.Close, self.n2)

        def next(self):
            if crossover(self.sma1, self.sma2):
                self.position.close()
                self.buy()
            elif crossover(self.sma2, self.sma1):
                self.position.close()
                self.sell()

    t = time.perf_counter()
    stats = Backtest(df, SmaCross, cash=1e12, commission=0.002).run()
    seconds = time.perf_counter() - t
    return {
        "bars": len(df),
        "seconds": seconds,
        "version": backtesting.__version__,
        "trades": int(stats["# Trades"]),
        "equity_final": float(stats["Equity Final [$]"]),
    }


def time_vectorbt(df):
    import vectorbt as vbt
    from vectorbt._engine import resolve_engine

    def run(frame):
        close, open_ = frame["Close"], frame["Open"]
        fast = vbt.MA.run(close, 10).ma
        slow = vbt.MA.run(close, 20).ma
        # Decided on bar i's close, filled at bar i+1's open.
        entries = fast.vbt.crossed_above(slow).shift(1, fill_value=False)
        exits = fast.vbt.crossed_below(slow).shift(1, fill_value=False)
        return vbt.Portfolio.from_signals(close, entries, exits, price=open_, fees=0.002, init_cash=1e12, freq="1min")

    run(df.iloc[:1000])  # numba compilation, untimed
    t = time.perf_counter()
    pf = run(df)
    seconds = time.perf_counter() - t
    return {
        "bars": len(df),
        "seconds": seconds,
        "version": vbt.__version__,
        "engine": resolve_engine(None),
        "trades": int(pf.trades.count()),
        "equity_final": float(pf.final_value()),
    }


def crossovers(df):
    """Number of SMA 10/20 crosses in either direction (the orders an ever-solvent account would place)."""
    close = df["Close"]
    above = (close.rolling(10).mean() > close.rolling(20).mean()).to_numpy()
    valid = close.rolling(20).mean().notna().to_numpy()
    return int(np.count_nonzero((above[1:] != above[:-1]) & valid[:-1]))


def guarded(fn, df):
    try:
        return fn(df)
    except Exception as e:  # a peer that cannot install or import is reported, not fatal
        return {"bars": len(df), "error": f"{type(e).__name__}: {e}"}


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, n, n_bt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    df = load(path, n)
    bt_df = df.iloc[: min(n_bt, n)]
    out = {
        "backtesting_py": {**guarded(time_backtesting_py, bt_df), "crossovers": crossovers(bt_df)},
        "vectorbt": {**guarded(time_vectorbt, df), "crossovers": crossovers(df)},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
