"""Reference values for engine::backtest::metrics (backtesting.py 0.6.6, empyrical-reloaded).

Run: pip install backtesting==0.6.6 empyrical-reloaded && python3 gen_backtesting_py.py
Writes, next to this script:
  backtesting_py_quickstart.json  the Quick Start User Guide run (SmaCross 10/20 on GOOG, cash 10,000, commission .002):
                                  every stat, the full equity curve and the full trades table, plus the same stats
                                  recomputed with risk_free_rate=0.02 through backtesting.lib.compute_stats.
  backtesting_py_cases.json       the same strategy on other sampling frequencies (weekly, monthly, hourly, 24/7
                                  daily), a run with no trades, an equity curve that dips only on its last bar
                                  (fed straight to backtesting._stats.compute_stats, risk-free 1%), and
                                  empyrical's Sharpe/Sortino/volatility on the Quick Start's daily returns.
Timestamps are UTC nanoseconds since the epoch (ISO strings for Start/End), Timedeltas are nanoseconds, NaN is null,
±inf the strings "Infinity" / "-Infinity".
"""

import json
import math
import pathlib
import warnings

import backtesting
import empyrical
import numpy as np
import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import compute_stats, crossover
from backtesting.test import BTCUSD, EURUSD, GOOG, SMA
from backtesting._stats import compute_stats as _compute_stats
from backtesting._util import _indicator_warmup_nbars

HERE = pathlib.Path(__file__).resolve().parent
SAMPLE_GOOG = HERE.parents[3] / "data" / "sample" / "GOOG.csv"

warnings.filterwarnings("ignore", message="Some trades remain open")


class SmaCross(Strategy):
    # Verbatim from the Quick Start User Guide.
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


class Idle(Strategy):
    def init(self):
        pass

    def next(self):
        pass


def num(x):
    if x is None:
        return None
    if isinstance(x, pd.Timestamp):
        return x.isoformat()
    if isinstance(x, pd.Timedelta):
        return None if pd.isna(x) else int(x.as_unit("ns").value)
    if x is pd.NaT:
        return None
    x = float(x)
    return None if math.isnan(x) else ("Infinity" if x == math.inf else "-Infinity" if x == -math.inf else x)


def ns_index(index):
    return [int(v) for v in pd.DatetimeIndex(index).as_unit("ns").asi8]


def stats_dict(s):
    return {k: num(v) for k, v in s.items() if not k.startswith("_")}


def trades_table(t):
    cols = {
        "Size": [int(v) for v in t["Size"]],
        "EntryBar": [int(v) for v in t["EntryBar"]],
        "ExitBar": [int(v) for v in t["ExitBar"]],
        "EntryPrice": [float(v) for v in t["EntryPrice"]],
        "ExitPrice": [float(v) for v in t["ExitPrice"]],
        "SL": [num(v) for v in t["SL"]],
        "TP": [num(v) for v in t["TP"]],
        "PnL": [float(v) for v in t["PnL"]],
        "ReturnPct": [float(v) for v in t["ReturnPct"]],
        "EntryTime": ns_index(t["EntryTime"]),
        "ExitTime": ns_index(t["ExitTime"]),
        "Duration": [num(v) for v in t["Duration"]],
    }
    if "Commission" in t:
        cols["Commission"] = [float(v) for v in t["Commission"]]
    return cols


def run_case(name, data, strategy=SmaCross, **kw):
    bt = Backtest(data, strategy, cash=kw.pop("cash", 10_000), commission=kw.pop("commission", 0.002), **kw)
    s = bt.run()
    return s, {
        "name": name,
        "first_trading_bar": int(_indicator_warmup_nbars(s["_strategy"])),
        "risk_free_rate": 0.0,
        "index_ns": ns_index(data.index),
        "close": [float(v) for v in data["Close"]],
        "equity": [float(v) for v in s["_equity_curve"]["Equity"]],
        "trades": trades_table(s["_trades"]),
        "stats": stats_dict(s),
    }


def last_bar_dip():
    # Equity that only dips on its final bar: compute_drawdown_duration_peaks finds no drawdown period and falls
    # back to the raw drawdowns, so backtesting.py reports a drawdown *fraction* as "Max. Drawdown Duration".
    index = pd.date_range("2021-03-01 09:30", periods=6, freq="min")
    equity = np.array([100.0, 101.0, 101.5, 102.0, 103.0, 102.2])
    data = pd.DataFrame({"Open": 10.0, "High": 10.0, "Low": 10.0, "Close": [10.0, 10.1, 10.0, 10.2, 10.3, 10.1]},
                        index=index)
    trades = pd.DataFrame({"Size": pd.Series(dtype=int), "EntryBar": pd.Series(dtype=int),
                           "ExitBar": pd.Series(dtype=int), "PnL": pd.Series(dtype=float),
                           "ReturnPct": pd.Series(dtype=float), "Duration": pd.Series(dtype="timedelta64[ns]")})
    s = _compute_stats(trades=trades, equity=equity, ohlc_data=data, strategy_instance=None, risk_free_rate=0.01)
    return {
        "name": "last_bar_dip",
        "first_trading_bar": 0,
        "risk_free_rate": 0.01,
        "index_ns": ns_index(index),
        "close": [float(v) for v in data["Close"]],
        "equity": [float(v) for v in equity],
        "trades": {k: [] for k in ("Size", "EntryBar", "ExitBar", "EntryPrice", "ExitPrice", "PnL", "ReturnPct",
                                   "EntryTime", "ExitTime", "Duration", "Commission")},
        "stats": stats_dict(s),
        "not_durations": ["Max. Drawdown Duration", "Avg. Drawdown Duration"],
    }


def ohlc_resample(df, rule):
    return df.resample(rule).agg(
        {"Open": "first", "High": "max", "Low": "min", "Close": "last", "Volume": "sum"}).dropna()


def main():
    assert backtesting.__version__ == "0.6.6", f"need backtesting 0.6.6, found {backtesting.__version__}"
    sample = pd.read_csv(SAMPLE_GOOG, index_col=0, parse_dates=True)
    assert sample.equals(GOOG), "data/sample/GOOG.csv differs from backtesting.test.GOOG"

    qs_stats, qs = run_case("goog_quickstart", GOOG)
    rf_stats = compute_stats(stats=qs_stats, data=GOOG, risk_free_rate=0.02)
    qs.update({
        "library": f"backtesting {backtesting.__version__}",
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "setup": "Backtest(GOOG, SmaCross(n1=10, n2=20, position.close() before buy()/sell()), cash=10_000, "
                 "commission=.002).run()",
        "stats_risk_free_2pct": stats_dict(rf_stats),
    })
    (HERE / "backtesting_py_quickstart.json").write_text(json.dumps(qs, separators=(",", ":")))

    cases = []
    # Weekly bars: annualised over 52 periods, returns resampled to weeks ending Sunday.
    cases.append(run_case("goog_weekly", ohlc_resample(GOOG, "W-FRI"))[1])
    # Month-end bars: 31-day median spacing, 12 periods a year, monthly resampling.
    cases.append(run_case("btcusd_monthly", BTCUSD, cash=1_000_000)[1])
    # Hourly forex: intraday bars collapse to daily returns; durations are rounded up to hours.
    cases.append(run_case("eurusd_hourly", EURUSD.iloc[:1200], cash=100_000, commission=0.0002)[1])
    # GOOG's first 700 closes relabelled onto consecutive calendar days: weekends present, so 365 days a year.
    g7 = GOOG.iloc[:700].copy()
    g7.index = pd.date_range("2020-01-01", periods=len(g7), freq="D")
    cases.append(run_case("goog_calendar_days", g7)[1])
    # A strategy that never trades: every trade statistic is undefined.
    cases.append(run_case("goog_idle", GOOG.iloc[:250], strategy=Idle)[1])
    cases.append(last_bar_dip())

    # empyrical on the Quick Start's daily returns, resampled the way backtesting.py does it.
    eq = qs_stats["_equity_curve"]["Equity"]
    day = eq.resample("D").last().dropna().pct_change().dropna().values
    small = np.array([0.01, -0.02, np.nan, 0.015, 0.003, -0.007, 0.012])
    emp = {
        "quickstart_day_returns": {
            "n": int(len(day)),
            "sharpe_rf0": float(empyrical.sharpe_ratio(day)),
            "sharpe_rf_1e-4": float(empyrical.sharpe_ratio(day, risk_free=1e-4)),
            "sortino_req0": float(empyrical.sortino_ratio(day)),
            "sortino_req_5e-4": float(empyrical.sortino_ratio(day, required_return=5e-4)),
            "annual_volatility": float(empyrical.annual_volatility(day)),
        },
        "small_with_nan": {
            "returns": [num(v) for v in small],
            "sharpe_rf0": num(empyrical.sharpe_ratio(small)),
            "sharpe_rf_2e-3": num(empyrical.sharpe_ratio(small, risk_free=2e-3)),
            "sortino_req0": num(empyrical.sortino_ratio(small)),
            "sortino_req_2e-3": num(empyrical.sortino_ratio(small, required_return=2e-3)),
        },
        # Ten equal returns whose mean is not exactly 0.1: the spread is 0, not the ~1e-17 residue.
        "constant": {
            "returns": [0.1] * 10,
            "sharpe_rf0": num(empyrical.sharpe_ratio(np.full(10, 0.1))),
            "sortino_req0": num(empyrical.sortino_ratio(np.full(10, 0.1))),
        },
        "single": {
            "returns": [0.01],
            "sharpe_rf0": num(empyrical.sharpe_ratio(np.array([0.01]))),
            "sortino_req0": num(empyrical.sortino_ratio(np.array([0.01]))),
        },
    }
    out = {
        "library": f"backtesting {backtesting.__version__}, empyrical-reloaded {empyrical.__version__}",
        "cases": cases,
        "empyrical": emp,
    }
    (HERE / "backtesting_py_cases.json").write_text(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
