"""Reference values for engine::features::wavelet, computed with PyWavelets.

Run from anywhere: python3 gen_wavelet.py
Writes wavelet.json next to this script. Everything is computed by pywt (wavedec, waverec, threshold,
dwt_max_level, Wavelet filters) or by numpy following the steps documented in the Rust module, with
mode='symmetric' throughout.

To keep the JSON small, full coefficient arrays are stored for a few cases and, for every case, a per-array
summary: length, first/last 4 values, sum, sum of squares, sum of |c|, and a projection sum(c_i * cos(0.7 i)) that
moves if any value is wrong or shifted.
"""

import json
import math
import os

import numpy as np
import pandas as pd
import pywt

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("SEXTANT_DATA", "/work/shared/data")

N_POINTS = 1000
WAVELETS = ["haar", "db2", "db3", "db4", "db5", "db6", "db7", "db8"]
LENGTHS = [1000, 777]


def load_close(name):
    df = pd.read_csv(os.path.join(DATA, f"{name}.csv"), index_col=0)
    return np.array(df["Close"].to_numpy(dtype=np.float64)[:N_POINTS])


def fl(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64)]


def summary(c):
    c = np.asarray(c, dtype=np.float64)
    i = np.arange(len(c), dtype=np.float64)
    return {
        "len": len(c),
        "head": fl(c[:4]),
        "tail": fl(c[-4:]),
        "sum": float(np.sum(c)),
        "sumsq": float(np.sum(c * c)),
        "sumabs": float(np.sum(np.abs(c))),
        "proj": float(np.sum(c * np.cos(0.7 * i))),
    }


def denoise(x, wavelet, level, mode):
    """VisuShrink: universal threshold from the finest details, applied to every detail level."""
    coeffs = pywt.wavedec(x, wavelet, mode="symmetric", level=level)
    sigma = np.median(np.abs(coeffs[-1])) / 0.6745
    thr = sigma * np.sqrt(2.0 * np.log(len(x)))
    coeffs = [coeffs[0]] + [pywt.threshold(d, thr, mode=mode) for d in coeffs[1:]]
    return pywt.waverec(coeffs, wavelet, mode="symmetric")[: len(x)]


def rolling_energy(x, wavelet, level, window):
    out = np.full((level + 1, len(x)), np.nan)
    for t in range(window - 1, len(x)):
        coeffs = pywt.wavedec(x[t - window + 1 : t + 1], wavelet, mode="symmetric", level=level)
        e = np.array([np.sum(c * c) for c in coeffs])
        out[:, t] = e / e.sum()
    return out


def rolling_denoised_last(x, wavelet, level, window, mode):
    out = np.full(len(x), np.nan)
    for t in range(window - 1, len(x)):
        out[t] = denoise(x[t - window + 1 : t + 1], wavelet, level, mode)[-1]
    return out


def nan_to_none(a):
    return [None if math.isnan(v) else float(v) for v in a]


def main():
    series = {"GOOG": load_close("GOOG"), "EURUSD": load_close("EURUSD")}

    filters = {}
    for name in ["haar"] + [f"db{k}" for k in range(1, 11)]:
        w = pywt.Wavelet(name)
        filters[name] = {"dec_lo": fl(w.dec_lo), "dec_hi": fl(w.dec_hi), "rec_lo": fl(w.rec_lo), "rec_hi": fl(w.rec_hi)}

    max_level = []
    for name in ["haar"] + [f"db{k}" for k in range(1, 11)]:
        for n in [0, 1, 2, 3, 6, 7, 13, 14, 15, 27, 28, 100, 777, 1000, 4096]:
            max_level.append({"n": n, "wavelet": name, "level": int(pywt.dwt_max_level(n, pywt.Wavelet(name).dec_len))})

    # Full arrays for a few cases; summaries for every (series, wavelet, length).
    full_cases = {("EURUSD", "haar", 777), ("GOOG", "db4", 1000), ("EURUSD", "db8", 777)}
    wavedec_cases = []
    for sname, x in series.items():
        for wname in WAVELETS:
            for n in LENGTHS:
                coeffs = pywt.wavedec(x[:n], wname, mode="symmetric", level=None)
                case = {"series": sname, "n": n, "wavelet": wname, "level": None, "summary": [summary(c) for c in coeffs]}
                if (sname, wname, n) in full_cases:
                    case["coeffs"] = [fl(c) for c in coeffs]
                wavedec_cases.append(case)
    # Explicit levels below the maximum.
    for sname, wname, n, level in [("GOOG", "db4", 1000, 3), ("EURUSD", "db6", 777, 1), ("GOOG", "haar", 777, 5)]:
        coeffs = pywt.wavedec(series[sname][:n], wname, mode="symmetric", level=level)
        wavedec_cases.append(
            {"series": sname, "n": n, "wavelet": wname, "level": level, "summary": [summary(c) for c in coeffs]}
        )

    # waverec of coefficients that are not a plain decomposition: every detail level scaled by a different
    # factor and the approximation shifted, so perfect reconstruction cannot hide a wrong synthesis filter.
    waverec_cases = []
    for sname, wname, n in [("GOOG", "db4", 1000), ("EURUSD", "db7", 777), ("GOOG", "haar", 777), ("EURUSD", "db2", 1000)]:
        coeffs = pywt.wavedec(series[sname][:n], wname, mode="symmetric")
        mod = [coeffs[0] + 1.0] + [d * (0.5 + 0.1 * k) for k, d in enumerate(coeffs[1:])]
        rec = pywt.waverec(mod, wname, mode="symmetric")
        waverec_cases.append({"series": sname, "n": n, "wavelet": wname, "summary": summary(rec)})

    denoise_full = {("GOOG", "db4", 1000, "soft"), ("EURUSD", "db8", 777, "hard")}
    denoise_cases = []
    for sname, x in series.items():
        for wname in WAVELETS:
            for n in LENGTHS:
                for mode in ["soft", "hard"]:
                    y = denoise(x[:n], wname, None, mode)
                    case = {"series": sname, "n": n, "wavelet": wname, "level": None, "mode": mode,
                            "summary": summary(y)}
                    if (sname, wname, n, mode) in denoise_full:
                        case["values"] = fl(y)
                    denoise_cases.append(case)
    for sname, wname, n, level, mode in [("GOOG", "db4", 1000, 3, "soft"), ("EURUSD", "haar", 777, 4, "hard")]:
        y = denoise(series[sname][:n], wname, level, mode)
        denoise_cases.append(
            {"series": sname, "n": n, "wavelet": wname, "level": level, "mode": mode, "summary": summary(y)}
        )

    goog_ret = np.diff(np.log(series["GOOG"]))
    rolling_energy_cases = []
    for sname, x, wname, level, window in [
        ("GOOG_logret", goog_ret[:350], "db4", 3, 100),
        ("EURUSD", series["EURUSD"][:300], "haar", 3, 64),
        ("GOOG", series["GOOG"][:200], "db8", 1, 40),
    ]:
        out = rolling_energy(x, wname, level, window)
        rolling_energy_cases.append(
            {"series": sname, "n": len(x), "wavelet": wname, "level": level, "window": window,
             "energy": [nan_to_none(row) for row in out]}
        )

    rolling_denoised_cases = []
    for sname, x, wname, level, window, mode in [
        ("GOOG", series["GOOG"][:400], "db4", 3, 64, "soft"),
        ("EURUSD", series["EURUSD"][:350], "db2", 2, 101, "hard"),
    ]:
        out = rolling_denoised_last(x, wname, level, window, mode)
        rolling_denoised_cases.append(
            {"series": sname, "n": len(x), "wavelet": wname, "level": level, "window": window, "mode": mode,
             "values": nan_to_none(out)}
        )

    doc = {
        "source": f"pywt {pywt.__version__}, numpy {np.__version__}, mode='symmetric'; generated by gen_wavelet.py",
        "series": {k: fl(v) for k, v in series.items()},
        "filters": filters,
        "max_level": max_level,
        "wavedec": wavedec_cases,
        "waverec": waverec_cases,
        "denoise": denoise_cases,
        "rolling_energy": rolling_energy_cases,
        "rolling_denoised_last": rolling_denoised_cases,
    }
    path = os.path.join(HERE, "wavelet.json")
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(f"wrote {path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
