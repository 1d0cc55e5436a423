"""Reference values for engine::backtest::significance.

Sources, each independent of the Rust code:
- Normal law: scipy.special.ndtr / ndtri, and mpmath at 50 digits as the exact value (scipy's own ndtr loses
  a few digits in the far tail, so tight tolerances are checked against mpmath).
- Sharpe ratio: empyrical-reloaded `sharpe_ratio` (mean/std ddof=1 · sqrt(252)) and numpy.
- Moments: scipy.stats `skew` and `kurtosis(fisher=False)` (biased, non-excess), as in the PSR paper.
- PSR (Bailey & López de Prado 2012) and DSR (2014) written out below with scipy.stats.norm; the DSR paper's
  own worked example (N = 100 trials, V[SR] = 1/2 annualised, SR = 2.5 annualised, T = 1250, skew -3,
  kurtosis 10, 250 days a year: SR0 = 0.1132, DSR = 0.9004) is reproduced here and asserted before writing.
- Permutation tests: exact p-values by full enumeration (all 7! trade orders, all 2^14 sign patterns); the
  Rust Monte Carlo p-values must land within sampling error of them.
- Attribution: pandas groupby.
- Percentiles: numpy.percentile (linear), the interpolation of the bootstrap interval.

Inputs: daily simple returns of data/sample/GOOG.csv closes (close[t] / close[t-1] - 1) and the daily returns of
SMA-crossover strategies on them (long when SMA(fast) > SMA(slow) at the previous close, else flat).
Run: python3 gen_significance.py (writes significance.json next to it).
"""

import itertools
import json
import math
import os

import empyrical
import mpmath as mp
import numpy as np
import pandas as pd
import scipy
from scipy import special
from scipy.stats import kurtosis, norm, skew

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "significance.json")
CSV = os.path.join(HERE, "..", "..", "..", "..", "data", "sample", "GOOG.csv")
mp.mp.dps = 50
EULER_GAMMA = 0.5772156649015329

# ---------------------------------------------------------------- normal law
xs = sorted(
    set(
        [0.0, 1e-300, -1e-10, 1e-8, -0.1, 0.3, -0.5, 0.79, -0.8, 0.81, -1.0, 1.5, -1.96, 2.0, -2.5, 3.0, -3.5]
        + [-5.0, 5.5, -7.0, 8.0, -8.5, -10.0, -12.5, -15.0, -20.0, -26.0, -30.0, -35.0, -37.0]
        + [round(v, 6) for v in np.linspace(-9, 9, 181)]
        + [round(v, 4) for v in np.linspace(-37, 8.5, 607)]  # dense: the series/fraction switch is at 0.8
    )
)
cdf = [
    {"x": x, "scipy": float(special.ndtr(x)), "exact": float(mp.ncdf(x)), "pdf": float(mp.npdf(x))} for x in xs
]

ps = sorted(
    set(
        [1e-300, 1e-200, 1e-100, 1e-50, 1e-20, 1e-15, 1e-10, 1e-7, 1e-5, 1e-3, 0.01, 0.025, 0.05, 0.1, 0.2]
        + [0.2499, 0.25, 0.2501, 0.3, 0.4, 0.45, 0.49, 0.4999999, 0.5, 0.5000001, 0.51, 0.6, 0.7, 0.75, 0.7501]
        + [0.8, 0.9, 0.95, 0.975, 0.99, 0.999, 1 - 1e-7, 1 - 1e-10, 1 - 2.0**-40, 1 - 2.0**-53]
        + [float(v) for v in np.linspace(0.001, 0.999, 97)]
        + [10.0**-k for k in range(1, 301, 3)]
    )
)


def exact_quantile(p):
    p = mp.mpf(p)
    guess = mp.mpf(float(special.ndtri(float(p))))
    return mp.findroot(lambda x: mp.ncdf(x) - p, guess, tol=mp.mpf(10) ** -45)


quantile = [{"p": p, "scipy": float(special.ndtri(p)), "exact": float(exact_quantile(p))} for p in ps]

# ---------------------------------------------------------------- returns
df = pd.read_csv(CSV, index_col=0)
close = df["Close"].to_numpy(dtype=float)
goog = [close[t] / close[t - 1] - 1.0 for t in range(1, len(close))]


def sma_cross_returns(fast, slow):
    c = pd.Series(close)
    signal = (c.rolling(fast).mean() > c.rolling(slow).mean()).astype(float).to_numpy()
    # position over bar t is the signal at close t-1; the first `slow` returns are before any signal
    return [signal[t - 1] * goog[t - 1] for t in range(slow + 1, len(close))]


grid = [(f, s) for f in (5, 10, 15, 20, 30) for s in (40, 60, 100, 150, 200) if f < s]
trials = {f"{f}/{s}": sma_cross_returns(f, s) for f, s in grid}


def sharpe(r):
    r = np.asarray(r)
    return float(r.mean() / r.std(ddof=1))


trial_sharpes = [sharpe(r) for r in trials.values()]
best_key = max(trials, key=lambda k: sharpe(trials[k]))
strategy = trials[best_key]


def psr(sr, sr_star, n, g3, g4):
    return float(norm.cdf((sr - sr_star) * math.sqrt(n - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)))


def expected_max(n_trials, var):
    return math.sqrt(var) * (
        (1 - EULER_GAMMA) * norm.ppf(1 - 1 / n_trials) + EULER_GAMMA * norm.ppf(1 - 1 / (n_trials * math.e))
    )


def series_doc(name, r):
    r = np.asarray(r)
    sr = sharpe(r)
    g3, g4 = float(skew(r)), float(kurtosis(r, fisher=False))
    n = len(r)
    return {
        "name": name,
        "returns": r.tolist(),
        "mean": float(r.mean()),
        "std": float(r.std(ddof=1)),
        "sharpe": sr,
        "sharpe_annual_empyrical": float(empyrical.sharpe_ratio(r, annualization=252)),
        "skewness": g3,
        "kurtosis": g4,
        "se_mertens": math.sqrt((1 - g3 * sr + (g4 - 1) / 4 * sr**2) / (n - 1)),
        "psr": [{"benchmark": b, "psr": psr(sr, b, n, g3, g4)} for b in (0.0, 0.01, 0.03, 0.05, -0.02)],
    }


series = [series_doc("GOOG daily", goog), series_doc(f"SMA {best_key} on GOOG", strategy)]

v_trials = float(np.var(trial_sharpes, ddof=1))
sr0 = expected_max(len(trial_sharpes), v_trials)
s = series[1]
dsr = {
    "selected": best_key,
    "trial_sharpes": trial_sharpes,
    "trial_variance": v_trials,
    "expected_max_sharpe": sr0,
    "dsr": psr(s["sharpe"], sr0, len(strategy), s["skewness"], s["kurtosis"]),
}
expected_max_grid = [
    {"n_trials": n, "variance": v, "expected_max": expected_max(n, v)}
    for n in (2, 3, 10, 46, 100, 1000, 10**6)
    for v in (1.0, 0.5, 1e-3)
]

# The DSR paper's numerical example: annualised inputs, 250 observations a year.
paper_sr0 = expected_max(100, 0.5) / math.sqrt(250)
paper_dsr = psr(2.5 / math.sqrt(250), paper_sr0, 1250, -3.0, 10.0)
assert round(paper_sr0, 4) == 0.1132 and round(paper_dsr, 4) == 0.9004, (paper_sr0, paper_dsr)
paper = {"sr0": paper_sr0, "dsr": paper_dsr, "printed_sr0": 0.1132, "printed_dsr": 0.9004}

# ---------------------------------------------------------------- permutation tests (exact enumeration)
TIE = 1e-12


def mdd(trades, compounded):
    equity, peak, worst = (1.0, 1.0, 0.0) if compounded else (0.0, 0.0, 0.0)
    for t in trades:
        if compounded:
            equity *= 1.0 + t
            peak = max(peak, equity)
            worst = max(worst, 1.0 - equity / peak)
        else:
            equity += t
            peak = max(peak, equity)
            worst = max(worst, peak - equity)
    return worst


drawdown_cases = []
for trades in (
    [0.04, -0.02, 0.03, -0.05, 0.06, -0.01, 0.02],
    [0.08, 0.05, 0.03, -0.01, -0.02, -0.04, 0.01],  # losses in a row: the worst order, p = 1
    [-0.01, 0.05, -0.02, 0.04, -0.015, 0.03, -0.01],  # losses kept apart: a small p-value
):
    for compounded in (True, False):
        obs = mdd(trades, compounded)
        limit = obs + TIE * max(abs(obs), 1e-300)
        perms = list(itertools.permutations(trades))
        hits = sum(mdd(p, compounded) <= limit for p in perms)
        drawdown_cases.append(
            {"trades": trades, "compounded": compounded, "observed": obs, "p_exact": hits / len(perms)}
        )

sign_cases = []
for returns in (
    [0.012, -0.004, 0.007, 0.002, -0.009, 0.015, 0.001, -0.003, 0.006, 0.004, -0.002, 0.008, 0.003, -0.005],
    [0.01, -0.012, 0.004, -0.006, 0.002, 0.009, -0.011, 0.003, -0.001, 0.005, -0.004, 0.002, 0.0, -0.003],
):
    obs = float(np.mean(returns))
    limit = obs - TIE * max(abs(obs), 1e-300)
    hits = 0
    for signs in itertools.product((1.0, -1.0), repeat=len(returns)):
        hits += sum(s * r for s, r in zip(signs, returns)) / len(returns) >= limit
    sign_cases.append({"returns": returns, "observed": obs, "p_exact": hits / 2 ** len(returns)})

# ---------------------------------------------------------------- attribution
rng = np.random.default_rng(42)
keys = ["AAPL", "GOOG", "MSFT", "long", "short"]
pairs = [(str(rng.choice(keys[:3])), float(np.round(rng.normal(5, 40), 2))) for _ in range(60)]
pairs += [("AAPL", 0.0), ("ZERO", 0.0), ("WINNER", 12.5), ("WINNER", 7.25)]
tdf = pd.DataFrame(pairs, columns=["key", "pnl"])
attribution = {}
for key, g in tdf.groupby("key"):
    pnl = g["pnl"]
    gross_loss = float(-pnl[pnl < 0].sum())
    attribution[key] = {
        "count": int(len(pnl)),
        "pnl": float(pnl.sum()),
        "mean": float(pnl.mean()),
        "wins": int((pnl > 0).sum()),
        "losses": int((pnl < 0).sum()),
        "win_rate": float((pnl > 0).mean()),
        "gross_profit": float(pnl[pnl > 0].sum()),
        "gross_loss": gross_loss,
        "profit_factor": float(pnl[pnl > 0].sum() / gross_loss) if gross_loss > 0 else None,
        "best": float(pnl.max()),
        "worst": float(pnl.min()),
    }

# ---------------------------------------------------------------- percentiles
pct_values = rng.normal(size=37).tolist()
percentiles = {
    "values": pct_values,
    "q": [0.0, 0.025, 0.05, 0.5, 0.9, 0.975, 1.0],
    "expected": [float(np.percentile(pct_values, 100 * q)) for q in (0.0, 0.025, 0.05, 0.5, 0.9, 0.975, 1.0)],
}

doc = {
    "versions": {
        "scipy": scipy.__version__,
        "mpmath": mp.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "empyrical": empyrical.__version__,
    },
    "normal_cdf": cdf,
    "normal_quantile": quantile,
    "series": series,
    "dsr": dsr,
    "expected_max": expected_max_grid,
    "dsr_paper": paper,
    "drawdown_permutation": drawdown_cases,
    "sign_flip": sign_cases,
    "attribution": {"pairs": pairs, "summary": attribution},
    "percentiles": percentiles,
}
with open(OUT, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes); selected {best_key}, SR0 {sr0:.5f}, DSR {dsr['dsr']:.5f}")
for c in drawdown_cases + sign_cases:
    print("p_exact", c["p_exact"])
