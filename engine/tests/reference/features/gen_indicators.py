#!/usr/bin/env python3
"""Reference values for engine::features::indicators, from TA-Lib (C library via the `ta-lib`
wheel, >= 0.6.5) and, for indicators TA-Lib lacks, from pandas formulas written out below.

Run from the repository root:  python3 engine/tests/reference/features/gen_indicators.py
Writes engine/tests/reference/features/indicators.json. Each file's values are sampled (every
point of the first 150, then every STRIDE-th) to keep the file small; the leading-NaN count of
every column is recorded in full.
"""
import json
import math
import pathlib

import numpy as np
import pandas as pd
import talib

ROOT = pathlib.Path(__file__).resolve().parents[4]
DATA = ROOT / "data" / "sample"
OUT = pathlib.Path(__file__).with_name("indicators.json")

FILES = {"GOOG": "GOOG.csv", "BTCUSD": "BTCUSD.csv", "EURUSD": "EURUSD.csv", "SP500": "SP500.csv"}
STRIDE = {"GOOG": 15, "BTCUSD": 1, "EURUSD": 30, "SP500": 30}

# Requests in our `--indicators` syntax: TA-Lib's defaults (empty parameter lists) and the
# parameters of the example list.
REQUESTS = [
    "sma", "ema", "wma", "dema", "tema", "rsi", "macd", "bbands", "atr", "natr", "obv", "stoch",
    "stochrsi", "adx", "cci", "mfi", "willr", "roc", "mom",
    "sma:20", "ema:20", "wma:20", "dema:20", "tema:20", "rsi:14", "macd:12:26:9", "bbands:20:2", "atr:14",
    "adx:14", "stoch:14:3:3", "cci:20", "willr:14", "mfi:14", "roc:10", "stochrsi:14:5:3",
    "macd:5:35:5", "rsi:2", "bbands:10:1.5", "bbands:5", "willr:5", "stoch:5:1:1", "cci:5", "mfi:5", "adx:5",
    "keltner", "keltner:20:2:10", "donchian", "donchian:55", "rvol", "rvol:10", "parkinson", "garman_klass",
    "zscore", "zscore:50", "rolling_vwap", "vwap",
]

DEFAULTS = {
    "sma": [30], "ema": [30], "wma": [30], "dema": [30], "tema": [30], "rsi": [14], "macd": [12, 26, 9],
    "bbands": [20, 2], "atr": [14], "natr": [14], "obv": [], "stoch": [5, 3, 3], "stochrsi": [14, 5, 3],
    "adx": [14], "cci": [14], "mfi": [14], "willr": [14], "roc": [10], "mom": [10], "keltner": [20, 2, 10],
    "donchian": [20], "rvol": [20], "parkinson": [20], "garman_klass": [20], "zscore": [20],
    "rolling_vwap": [20], "vwap": ["UTC"],
}


def load(name):
    df = pd.read_csv(DATA / FILES[name])
    ts = pd.to_datetime(df.iloc[:, 0], format="mixed", utc=True)
    cols = {c.lower(): df[c].astype(float).to_numpy() for c in ["Open", "High", "Low", "Close", "Volume"]}
    return ts, cols


def params_of(request):
    name, *given = request.split(":")
    values = list(DEFAULTS[name])
    for k, g in enumerate(given):
        values[k] = float(g) if "." in g else int(g)
    return name, values


def column_base(name, values):
    parts = [name] + [str(v).lower() for v in values]
    return "_".join(parts)


def rolling_sum(x, n):
    return pd.Series(x).rolling(n).sum().to_numpy()


def compute(name, v, ts, c):
    o, h, l, cl, vol = c["open"], c["high"], c["low"], c["close"], c["volume"]
    if name == "sma":
        return {"": talib.SMA(cl, v[0])}
    if name == "ema":
        return {"": talib.EMA(cl, v[0])}
    if name == "wma":
        return {"": talib.WMA(cl, v[0])}
    if name == "dema":
        return {"": talib.DEMA(cl, v[0])}
    if name == "tema":
        return {"": talib.TEMA(cl, v[0])}
    if name == "rsi":
        return {"": talib.RSI(cl, v[0])}
    if name == "macd":
        m, s, hst = talib.MACD(cl, v[0], v[1], v[2])
        return {"": m, "signal": s, "hist": hst}
    if name == "bbands":
        u, mid, lo = talib.BBANDS(cl, v[0], v[1], v[1], 0)
        return {"upper": u, "middle": mid, "lower": lo}
    if name == "atr":
        return {"": talib.ATR(h, l, cl, v[0])}
    if name == "natr":
        return {"": talib.NATR(h, l, cl, v[0])}
    if name == "obv":
        return {"": talib.OBV(cl, vol)}
    if name == "stoch":
        k, d = talib.STOCH(h, l, cl, v[0], v[1], 0, v[2], 0)
        return {"k": k, "d": d}
    if name == "stochrsi":
        k, d = talib.STOCHRSI(cl, v[0], v[1], v[2], 0)
        return {"k": k, "d": d}
    if name == "adx":
        return {"": talib.ADX(h, l, cl, v[0]), "plus_di": talib.PLUS_DI(h, l, cl, v[0]),
                "minus_di": talib.MINUS_DI(h, l, cl, v[0])}
    if name == "cci":
        return {"": talib.CCI(h, l, cl, v[0])}
    if name == "mfi":
        return {"": talib.MFI(h, l, cl, vol, v[0])}
    if name == "willr":
        return {"": talib.WILLR(h, l, cl, v[0])}
    if name == "roc":
        return {"": talib.ROC(cl, v[0])}
    if name == "mom":
        return {"": talib.MOM(cl, v[0])}
    if name == "keltner":
        # Defined from TA-Lib's EMA and ATR; NaN until both are defined.
        mid = talib.EMA(cl, v[0])
        atr = talib.ATR(h, l, cl, v[2])
        width = v[1] * atr
        both = ~np.isnan(mid) & ~np.isnan(atr)
        up, lo, mid = [np.where(both, a, np.nan) for a in (mid + width, mid - width, mid)]
        return {"upper": up, "middle": mid, "lower": lo}
    if name == "donchian":
        up, lo = talib.MAX(h, v[0]), talib.MIN(l, v[0])
        return {"upper": up, "middle": (up + lo) / 2.0, "lower": lo}
    if name == "rvol":
        r = np.log(pd.Series(cl)).diff()
        return {"": r.rolling(v[0]).std(ddof=1).to_numpy()}
    if name == "parkinson":
        hl = np.log(h / l) ** 2
        return {"": np.sqrt(rolling_sum(hl, v[0]) / (4.0 * v[0] * math.log(2.0)))}
    if name == "garman_klass":
        term = 0.5 * np.log(h / l) ** 2 - (2.0 * math.log(2.0) - 1.0) * np.log(cl / o) ** 2
        return {"": np.sqrt(np.maximum(rolling_sum(term, v[0]) / v[0], 0.0))}
    if name == "zscore":
        s = pd.Series(cl)
        z = (s - s.rolling(v[0]).mean()) / s.rolling(v[0]).std(ddof=1)
        # A constant window scores 0 (pandas gives 0/0).
        z[(s.rolling(v[0]).std(ddof=1) == 0)] = 0.0
        return {"": z.to_numpy()}
    if name == "rolling_vwap":
        tp = (h + l + cl) / 3.0
        return {"": rolling_sum(tp * vol, v[0]) / rolling_sum(vol, v[0])}
    if name == "vwap":
        tp = (h + l + cl) / 3.0
        day = ts.dt.tz_convert(v[0]).dt.date
        frame = pd.DataFrame({"pv": tp * vol, "v": vol, "day": day})
        cpv = frame.groupby("day")["pv"].cumsum().to_numpy()
        cv = frame.groupby("day")["v"].cumsum().to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            return {"": np.where(cv > 0, cpv / np.where(cv > 0, cv, 1.0), tp)}
    raise ValueError(name)


def main():
    out = {"generator": "gen_indicators.py", "talib": talib.__version__, "pandas": pd.__version__, "files": {}}
    for key in FILES:
        ts, cols = load(key)
        n = len(ts)
        sample = [i for i in range(n) if i < 80 or i % STRIDE[key] == 0 or i == n - 1]
        features = []
        for request in REQUESTS:
            name, values = params_of(request)
            base = column_base(name, values)
            columns = {}
            for suffix, arr in compute(name, values, ts, cols).items():
                arr = np.asarray(arr, dtype=float)
                defined = np.flatnonzero(~np.isnan(arr))
                leading = int(defined[0]) if len(defined) else n
                columns[base + ("_" + suffix if suffix else "")] = {
                    "leading_nan": leading,
                    "values": [None if math.isnan(arr[i]) else float(arr[i]) for i in sample],
                }
            features.append({"request": request, "columns": columns})
        out["files"][key] = {"file": FILES[key], "rows": n, "sample": sample, "features": features}
    OUT.write_text(json.dumps(out, separators=(",", ":")))
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
