#!/usr/bin/env python3
"""TA-Lib side of the features benchmark: times each TA-Lib function on the series the Rust
bench wrote (raw little-endian f64: open, high, low, close, volume, each N long) and prints
{"name": median seconds} as JSON. Usage: talib_features.py FILE N REPEATS"""
import json
import sys
import time

import numpy as np
import talib

path, n, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
raw = np.fromfile(path, dtype="<f8")
o, h, l, c, v = (raw[k * n:(k + 1) * n].copy() for k in range(5))

def donchian(period):
    """The same three outputs as ours, the way a TA-Lib user gets them: MAX, MIN and their midpoint."""
    upper, lower = talib.MAX(h, period), talib.MIN(l, period)
    return upper, (upper + lower) / 2, lower


CASES = {
    "sma:20": lambda: talib.SMA(c, 20),
    "ema:20": lambda: talib.EMA(c, 20),
    "wma:20": lambda: talib.WMA(c, 20),
    "dema:20": lambda: talib.DEMA(c, 20),
    "tema:20": lambda: talib.TEMA(c, 20),
    "rsi:14": lambda: talib.RSI(c, 14),
    "macd:12:26:9": lambda: talib.MACD(c, 12, 26, 9),
    "bbands:20:2": lambda: talib.BBANDS(c, 20, 2, 2, 0),
    "atr:14": lambda: talib.ATR(h, l, c, 14),
    "natr:14": lambda: talib.NATR(h, l, c, 14),
    "obv": lambda: talib.OBV(c, v),
    "stoch:14:3:3": lambda: talib.STOCH(h, l, c, 14, 3, 0, 3, 0),
    "stochrsi:14:5:3": lambda: talib.STOCHRSI(c, 14, 5, 3, 0),
    "adx:14": lambda: (talib.ADX(h, l, c, 14), talib.PLUS_DI(h, l, c, 14), talib.MINUS_DI(h, l, c, 14)),
    "cci:20": lambda: talib.CCI(h, l, c, 20),
    "mfi:14": lambda: talib.MFI(h, l, c, v, 14),
    "willr:14": lambda: talib.WILLR(h, l, c, 14),
    "roc:10": lambda: talib.ROC(c, 10),
    "mom:10": lambda: talib.MOM(c, 10),
    "donchian:20": lambda: donchian(20),
}

out = {}
for name, fn in CASES.items():
    fn()  # warm caches and the wrapper
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    out[name] = times[len(times) // 2]
print(json.dumps({"talib": talib.__version__, "seconds": out}))
