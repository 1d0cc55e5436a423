"""Reference values for engine::features::fractal (nolds 0.6.3, antropy 0.2.3).

Writes fractal.json next to this script. Run: python3 gen_fractal.py

nolds 0.6.3 cannot be imported as installed: nolds/datasets.py loads brown72.npy at import time through
importlib.resources.files("nolds.datasets"), which fails because nolds.datasets is a module, not a package.
We point that one lookup at the nolds package folder (where the datasets/ folder really is) before importing;
nothing else in nolds is touched, so hurst_rs / dfa / brown72 / fgn are the library's own code and data.
"""

import importlib.util
import json
import pathlib
from importlib import resources

import numpy as np

_NOLDS_DIR = pathlib.Path(importlib.util.find_spec("nolds").origin).parent
_files = resources.files
resources.files = lambda pkg: _NOLDS_DIR if pkg == "nolds.datasets" else _files(pkg)
import nolds  # noqa: E402
import antropy  # noqa: E402

resources.files = _files

DATA = pathlib.Path("/work/shared/data")
OUT = pathlib.Path(__file__).resolve().parent / "fractal.json"

N_RET = 1000


def closes(name):
    rows = (DATA / name).read_text().strip().splitlines()
    header = rows[0].split(",")
    col = header.index("Close")
    return np.array([float(r.split(",")[col]) for r in rows[1:]])


def log_returns(name):
    c = closes(name)[: N_RET + 1]
    return np.diff(np.log(c))


def f(v):
    v = float(v)
    return None if np.isnan(v) else v


def hurst(x, nvals=None, corrected=True, unbiased=True):
    return f(nolds.hurst_rs(x, nvals=nvals, fit="poly", corrected=corrected, unbiased=unbiased))


def dfa(x, nvals=None, overlap=True):
    return f(nolds.dfa(x, nvals=nvals, overlap=overlap, order=1, fit_trend="poly", fit_exp="poly"))


def main():
    series = {
        "goog_ret": log_returns("GOOG.csv"),
        "sp500_ret": log_returns("SP500.csv"),
        "eurusd_ret": log_returns("EURUSD.csv"),
        # nolds' series built to have H = 0.72 (a level series, like a price path).
        "brown72": np.asarray(nolds.brown72, dtype=np.float64),
    }
    np.random.seed(72)
    series["fgn072"] = np.asarray(nolds.fgn(1024, H=0.72), dtype=np.float64)

    whole = []
    for name, x in series.items():
        for n in (32, 100, 257, len(x)):
            w = x[:n]
            whole.append(
                {
                    "series": name,
                    "len": n,
                    "hurst_rs": hurst(w),
                    "hurst_rs_raw": hurst(w, corrected=False, unbiased=False),
                    "dfa": dfa(w),
                    "dfa_no_overlap": dfa(w, overlap=False),
                    "higuchi_fd": f(antropy.higuchi_fd(w, kmax=10)),
                    "higuchi_fd_k5": f(antropy.higuchi_fd(w, kmax=5)),
                    "katz_fd": f(antropy.katz_fd(w)),
                }
            )

    # Custom nvals: nolds' own brown72 check (pracma/bearcave settings) and a DFA scale list.
    custom = {
        "hurst_nvals": [8, 16, 32, 64, 128, 256, 512, 1024],
        "brown72_hurst_pracma": hurst(series["brown72"], nvals=2 ** np.arange(3, 11), corrected=False, unbiased=False),
        "dfa_nvals": [4, 6, 9, 14, 20, 30, 50],
        "goog_dfa_custom": dfa(series["goog_ret"], nvals=[4, 6, 9, 14, 20, 30, 50]),
        "goog_hurst_custom": hurst(series["goog_ret"], nvals=[8, 16, 32, 64, 128, 256, 512]),
    }

    # Rolling: every window of a stretch, each computed by the reference on the window alone.
    rolling = []
    for name, window, start, count in (("goog_ret", 100, 0, 300), ("eurusd_ret", 64, 200, 200)):
        x = series[name]
        ends = list(range(start + window - 1, start + window - 1 + count))
        rolling.append(
            {
                "series": name,
                "window": window,
                "first_end": ends[0],
                "hurst_rs": [hurst(x[t - window + 1 : t + 1]) for t in ends],
                "dfa": [dfa(x[t - window + 1 : t + 1]) for t in ends],
                "higuchi_fd": [f(antropy.higuchi_fd(x[t - window + 1 : t + 1], kmax=10)) for t in ends],
                "katz_fd": [f(antropy.katz_fd(x[t - window + 1 : t + 1])) for t in ends],
            }
        )

    doc = {
        "source": "nolds 0.6.3 hurst_rs(fit='poly') / dfa(order=1, fit_exp='poly'); antropy 0.2.3 higuchi_fd, katz_fd",
        "series": {k: [float(v) for v in x] for k, x in series.items()},
        "whole": whole,
        "custom": custom,
        "rolling": rolling,
    }
    OUT.write_text(json.dumps(doc, separators=(",", ":")))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
