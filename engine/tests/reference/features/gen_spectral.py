"""Reference values for engine::features::spectral (scipy.signal.periodogram, antropy 0.2.3).

Writes spectral.json next to this script. Run: python3 gen_spectral.py

Every window is the causal window x[t-window+1..=t]. The one-sided spectrum is scipy's periodogram(fs=1) with
detrend='constant' (remove the window mean) or False, and window='boxcar' or 'hann' (scipy's periodic Hann).
From it:
  * dominant period = window / k for k = 1 + argmax(psd[1:]) (first maximum, DC excluded);
  * spectral entropy = antropy's formula -sum(p log2 p) / log2(len(psd)) with p = psd / psd.sum(); with
    detrend + boxcar this is antropy.spectral_entropy(x, sf=1, method='fft', normalize=True) itself, and the
    script checks that it is;
  * band power = psd over bins with lo <= k/window < hi (hi == 0.5 also takes the Nyquist bin) / psd.sum().
"""

import json
import pathlib

import antropy
import numpy as np
from scipy.signal import periodogram

DATA = pathlib.Path("/work/shared/data")
OUT = pathlib.Path(__file__).resolve().parent / "spectral.json"
COUNT = 250


def closes(name):
    rows = (DATA / name).read_text().strip().splitlines()
    col = rows[0].split(",").index("Close")
    return np.array([float(r.split(",")[col]) for r in rows[1:]])


def features(w, detrend, taper, bands):
    _, psd = periodogram(w, fs=1.0, window="hann" if taper == "hann" else "boxcar",
                         detrend="constant" if detrend else False)
    n = len(w)
    p = psd / psd.sum()
    entropy = float(-antropy.utils._xlogx(p).sum() / np.log2(len(p)))
    k = 1 + int(np.argmax(psd[1:]))
    others = np.delete(psd[1:], k - 1)
    # A near-tie would make the dominant bin depend on rounding; the test data must not contain one.
    assert others.max() < psd[k] * (1 - 1e-9), "near-tie for the dominant bin"
    freqs = np.arange(len(psd)) / n
    fractions = []
    for lo, hi in bands:
        mask = (freqs >= lo) & ((freqs < hi) | ((hi == 0.5) & (freqs == 0.5)))
        fractions.append(float(psd[mask].sum() / psd.sum()))
    return n / k, entropy, fractions


def main():
    bands = [[0.0, 0.1], [0.1, 0.25], [0.25, 0.5], [0.02, 0.03]]
    goog = np.diff(np.log(closes("GOOG.csv")))
    sp500 = closes("SP500.csv")
    eurusd = np.diff(np.log(closes("EURUSD.csv")))
    cases = [
        ("goog_ret", goog, 64, True, "none"),
        ("sp500_close", sp500, 50, True, "hann"),
        ("eurusd_ret", eurusd, 45, False, "none"),
        ("goog_ret_short", goog[500:], 7, True, "none"),
    ]
    out_cases = []
    for name, x, window, detrend, taper in cases:
        x = x[: window - 1 + COUNT]
        rows = [features(x[t - window + 1 : t + 1], detrend, taper, bands) for t in range(window - 1, len(x))]
        if detrend and taper == "none":
            ant = [antropy.spectral_entropy(x[t - window + 1 : t + 1], sf=1, method="fft", normalize=True)
                   for t in range(window - 1, len(x))]
            assert np.allclose([r[1] for r in rows], ant, rtol=1e-13, atol=0), "formula differs from antropy"
            entropy = [float(v) for v in ant]
        else:
            entropy = [r[1] for r in rows]
        out_cases.append(
            {
                "name": name,
                "x": [float(v) for v in x],
                "window": window,
                "detrend": detrend,
                "taper": taper,
                "dominant_period": [r[0] for r in rows],
                "entropy": entropy,
                "band_power": [[r[2][b] for r in rows] for b in range(len(bands))],
            }
        )
    doc = {"source": "scipy.signal.periodogram (fs=1), antropy 0.2.3 spectral_entropy", "bands": bands,
           "cases": out_cases}
    OUT.write_text(json.dumps(doc, separators=(",", ":")))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
