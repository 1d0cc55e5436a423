"""Reference values for engine::features::cross_asset (rolling corr/beta, Engle-Granger, lead-lag).

Inputs are columns of data/sample/SP500_STOCKS.csv (8313 daily closes), read by the Rust tests too:
prices as parsed, log returns as math.log(p[t]) - math.log(p[t-1]) (libm log, the same one Rust's f64::ln
calls) with a leading NaN. Outputs are stored at every `stride`-th index plus the last ones, over the full
series, so the tests check the O(1) rolling sums after thousands of steps.

References: pandas rolling corr / cov / var (pandas shifts for lead-lag), statsmodels OLS + adfuller, and
statsmodels coint (its t-statistic and critical values). Each pandas output is also checked here against an
exact per-window two-pass computation, so a failure in Rust cannot be blamed on the reference.

Run: python3 gen_cross_asset.py   (needs numpy, pandas, statsmodels; writes cross_asset.json next to it)
"""

import json
import math
import os
import warnings

import numpy as np
import pandas as pd
import statsmodels
import statsmodels.api as sm
from statsmodels.tsa.stattools import adfuller, coint

HERE = os.path.dirname(os.path.abspath(__file__))
CSV = os.path.join(HERE, "..", "..", "..", "..", "data", "sample", "SP500_STOCKS.csv")

df = pd.read_csv(CSV)
N = len(df)


def prices(col):
    return df[col].to_numpy(dtype=float)


def log_returns(col):
    p = prices(col)
    r = np.full(N, np.nan)
    for t in range(1, N):
        r[t] = math.log(p[t]) - math.log(p[t - 1])
    return r


def sample_idx(stride, tail=5):
    idx = set(range(0, N, stride)) | set(range(N - tail, N))
    return sorted(idx)


def f(v):
    v = float(v)
    return None if math.isnan(v) else v


def exact_window_corr_beta(x, y, w, t):
    a, b = x[t - w + 1 : t + 1], y[t - w + 1 : t + 1]
    if np.isnan(a).any() or np.isnan(b).any():
        return math.nan, math.nan, math.nan
    a = np.asarray(a, dtype=np.longdouble)
    b = np.asarray(b, dtype=np.longdouble)
    da, db = a - a.mean(), b - b.mean()
    saa, sbb, sab = (da * da).sum(), (db * db).sum(), (da * db).sum()
    return float(sab / np.sqrt(saa * sbb)), float(sab / saa), float(np.sqrt(sbb / saa))


def exact_window_coint(xw, yw):
    """Hedge ratio, last spread, z-score and Dickey-Fuller t of one window in long double, from centred sums."""
    a = np.asarray(xw, dtype=np.longdouble)
    b = np.asarray(yw, dtype=np.longdouble)
    da, db = a - a.mean(), b - b.mean()
    beta = (da * db).sum() / (da * da).sum()
    e = db - beta * da
    z = e[-1] / np.sqrt((e * e).sum() / (len(e) - 1))
    lag, de = e[:-1], np.diff(e)
    gamma = (lag * de).sum() / (lag * lag).sum()
    s2 = ((de - gamma * lag) ** 2).sum() / (len(de) - 1)
    t = gamma / np.sqrt(s2 / (lag * lag).sum())
    return float(beta), float(e[-1]), float(z), float(t)


def check_against_exact(x, y, w, corr, beta, idx):
    """Worst error of pandas against an exact long-double two-pass, relative to max(|corr|, 1) for the correlation
    and to max(|beta|, std(y)/std(x)) for beta (beta's natural scale; a near-zero beta has no relative digits)."""
    worst = 0.0
    for t in idx:
        if t < w - 1:
            continue
        c, b, scale = exact_window_corr_beta(x, y, w, t)
        if math.isnan(c):
            assert math.isnan(corr[t]), t
            continue
        worst = max(worst, abs(corr[t] - c) / max(abs(c), 1.0), abs(beta[t] - b) / max(abs(b), scale))
    return worst


out = {
    "generator": f"gen_cross_asset.py: pandas {pd.__version__}, statsmodels {statsmodels.__version__}, numpy {np.__version__}",
    "rows": N,
    "corr_beta": [],
    "coint": [],
}

# --- rolling correlation and beta -------------------------------------------------------------------------------
CASES = [
    ("AAPL", "MSFT", "logret", 60),
    ("AAPL", "MSFT", "logret", 250),
    ("XOM", "CVX", "price", 60),
    ("KO", "PEP", "price", 20),
]
for xc, yc, kind, w in CASES:
    load = log_returns if kind == "logret" else prices
    x, y = load(xc), load(yc)
    sx, sy = pd.Series(x), pd.Series(y)
    corr = sx.rolling(w).corr(sy).to_numpy()
    beta = (sx.rolling(w).cov(sy) / sx.rolling(w).var()).to_numpy()
    idx = sample_idx(13)
    worst = check_against_exact(x, y, w, corr, beta, idx)
    print(f"corr/beta {xc}/{yc} {kind} w={w}: pandas vs exact two-pass, worst rel err {worst:.2e}")
    assert worst < 1e-10
    out["corr_beta"].append(
        {
            "x": xc,
            "y": yc,
            "kind": kind,
            "window": w,
            "idx": idx,
            "corr": [f(corr[t]) for t in idx],
            "beta": [f(beta[t]) for t in idx],
        }
    )

# --- rolling Engle-Granger ---------------------------------------------------------------------------------------
COINT = [("XOM", "CVX", "price", 120, 23), ("KO", "PEP", "logprice", 60, 29)]
for xc, yc, kind, w, stride in COINT:
    x, y = prices(xc), prices(yc)
    if kind == "logprice":
        x = np.array([math.log(v) for v in x])
        y = np.array([math.log(v) for v in y])
    idx = [t for t in sample_idx(stride) if t >= w - 1]
    rec = {"x": xc, "y": yc, "kind": kind, "window": w, "idx": idx}
    cols = {k: [] for k in ("hedge_ratio", "intercept", "spread", "zscore", "adf_t")}
    worst_coint = worst_exact = 0.0
    for t in idx:
        xw, yw = x[t - w + 1 : t + 1], y[t - w + 1 : t + 1]
        fit = sm.OLS(yw, sm.add_constant(xw)).fit()
        alpha, beta = fit.params
        resid = fit.resid
        z = (resid[-1] - resid.mean()) / resid.std(ddof=1)
        adf_t = adfuller(resid, maxlag=0, regression="n", autolag=None, result_object=False)[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c_t = coint(yw, xw, trend="c", maxlag=0, autolag=None)[0]
        worst_coint = max(worst_coint, abs(c_t - adf_t) / max(abs(adf_t), 1.0))
        eb, es, ez, et = exact_window_coint(xw, yw)
        errs = (
            abs(beta - eb) / abs(eb),
            abs(resid[-1] - es) / max(abs(es), np.std(yw)),
            abs(z - ez) / max(abs(ez), 1.0),
            abs(adf_t - et) / max(abs(et), 1.0),
        )
        worst_exact = max(worst_exact, *errs)
        for k, v in zip(cols, (beta, alpha, resid[-1], z, adf_t)):
            cols[k].append(f(v))
    print(
        f"coint {xc}/{yc} {kind} w={w}: {len(idx)} windows; worst rel err: coint t vs adfuller t {worst_coint:.2e}, "
        f"statsmodels vs exact long-double {worst_exact:.2e}"
    )
    assert worst_coint < 1e-10 and worst_exact < 1e-10
    rec.update(cols)
    out["coint"].append(rec)

# Engle-Granger critical values as statsmodels coint reports them (it uses nobs - 1 observations).
crit = {}
rng = np.random.default_rng(7)
for w in (3, 10, 60, 120, 250, 1000):
    xw = rng.standard_normal(w).cumsum()
    yw = xw + rng.standard_normal(w)
    crit[str(w)] = [float(v) for v in coint(yw, xw, trend="c", maxlag=0, autolag=None)[2]]
out["engle_granger_crit"] = crit

# --- lead-lag cross-correlation ----------------------------------------------------------------------------------
def lead_lag_case(xc, yc, w, L, idx, y_nan_head=0):
    """pandas reference for every lag; y_nan_head blanks the first points of y so the two series start at
    different rows (each lag then starts where both of its shifted points exist, as pandas does)."""
    x, y = log_returns(xc), log_returns(yc)
    y[:y_nan_head] = np.nan
    sx, sy = pd.Series(x), pd.Series(y)
    lag_corr = {}
    for k in range(-L, L + 1):
        c = sx.shift(k).rolling(w).corr(sy) if k >= 0 else sx.rolling(w).corr(sy.shift(-k))
        lag_corr[k] = c.to_numpy()
    first_all = max(1, y_nan_head) + L + w - 1
    order = [0]
    for k in range(1, L + 1):
        order += [k, -k]
    best_lag, best_corr = [], []
    for t in idx:
        bk, bc = None, None
        for k in order if t >= first_all else []:
            c = lag_corr[k][t]
            if not math.isnan(c) and (bc is None or abs(c) > abs(bc)):
                bk, bc = k, c
        best_lag.append(bk)
        best_corr.append(f(bc) if bc is not None else None)
    return {
        "x": xc,
        "y": yc,
        "kind": "logret",
        "y_nan_head": y_nan_head,
        "window": w,
        "max_lag": L,
        "idx": idx,
        "corr": {str(k): [f(lag_corr[k][t]) for t in idx] for k in range(-L, L + 1)},
        "best_lag": best_lag,
        "best_corr": best_corr,
    }


out["lead_lag"] = [
    lead_lag_case("AAPL", "MSFT", 40, 5, sample_idx(37)),
    lead_lag_case("JPM", "BAC", 20, 3, list(range(0, 120)), y_nan_head=10),
]

path = os.path.join(HERE, "cross_asset.json")
with open(path, "w") as fh:
    json.dump(out, fh, separators=(",", ":"), allow_nan=False)
print(f"wrote {path} ({os.path.getsize(path)} bytes)")
