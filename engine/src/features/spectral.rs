//! Rolling spectral features of a series over a causal window: dominant period, spectral entropy and the share
//! of power in frequency bands, all from one periodogram per window (scipy `periodogram` conventions, rustfft).

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};

use super::error::{FeatureError, first_valid, require_at_least};

/// A periodogram needs a few bins besides DC and Nyquist to say anything.
const MIN_WINDOW: usize = 4;

/// Weights applied to the window before the transform.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Taper {
    /// Rectangular window (scipy `window='boxcar'`), the periodogram default.
    #[default]
    None,
    /// Periodic Hann, 0.5 - 0.5·cos(2πi/n) (scipy `get_window('hann', n)`), which cuts leakage between bins.
    Hann,
}

/// Window of the rolling periodogram.
///
/// The spectrum at t is scipy's `periodogram(x[t-window+1..=t], fs=1, window=taper, detrend=...)`: the window,
/// minus its mean when `detrend` (scipy `detrend='constant'`), times the taper, transformed, squared, one-sided
/// (bins k = 0..=window/2 at k/window cycles per bar; bins other than DC and an even window's Nyquist doubled).
/// The constant density scale is left out: every output is a ratio or an argmax, which it cannot change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectralParams {
    pub window: usize,
    pub detrend: bool,
    pub taper: Taper,
}

impl SpectralParams {
    /// `window` bars with scipy's defaults: mean removed, no taper (antropy `spectral_entropy`'s settings).
    pub fn new(window: usize) -> Self {
        Self { window, detrend: true, taper: Taper::None }
    }
}

/// All spectral outputs of one pass, each as long as the input (NaN before the first full window).
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralFeatures {
    /// window / k for the largest bin k >= 1 (DC excluded; the lowest such frequency on an exact tie).
    pub dominant_period: Vec<f64>,
    /// Shannon entropy (bits) of the normalised one-sided spectrum divided by log2 of its bin count, window/2 + 1.
    /// Like antropy, DC is not dropped: it stays in the sum and in the bin count (after detrending it holds only
    /// rounding residue). With `SpectralParams::new` this is antropy
    /// `spectral_entropy(w, sf=1, method='fft', normalize=True)`.
    pub entropy: Vec<f64>,
    /// One series per requested band: the fraction of total one-sided power (DC included) in bins with
    /// lo <= k/window < hi; a band ending at 0.5 also takes the Nyquist bin.
    pub band_power: Vec<Vec<f64>>,
}

/// Dominant period, spectral entropy and band powers in one pass (one FFT per window).
/// `bands` may be empty; the outputs are NaN for a window whose spectrum has no power.
pub fn rolling_spectral(
    x: &[f64],
    params: &SpectralParams,
    bands: &[(f64, f64)],
) -> Result<SpectralFeatures, FeatureError> {
    run("spectral", x, params, bands, true, true)
}

/// Dominant period in bars of the causal window's periodogram (see [`SpectralFeatures::dominant_period`]).
pub fn rolling_dominant_period(x: &[f64], params: &SpectralParams) -> Result<Vec<f64>, FeatureError> {
    Ok(run("dominant_period", x, params, &[], true, false)?.dominant_period)
}

/// Normalised spectral entropy of the causal window (see [`SpectralFeatures::entropy`]).
pub fn rolling_spectral_entropy(x: &[f64], params: &SpectralParams) -> Result<Vec<f64>, FeatureError> {
    Ok(run("spectral_entropy", x, params, &[], false, true)?.entropy)
}

/// Fraction of the causal window's power in each band `(lo, hi)`, in cycles per bar, 0 <= lo < hi <= 0.5.
pub fn rolling_band_power(
    x: &[f64],
    params: &SpectralParams,
    bands: &[(f64, f64)],
) -> Result<Vec<Vec<f64>>, FeatureError> {
    const F: &str = "band_power";
    if bands.is_empty() {
        return Err(FeatureError::param(F, "bands", "needs at least one band"));
    }
    Ok(run(F, x, params, bands, false, false)?.band_power)
}

fn run(
    feature: &str,
    x: &[f64],
    params: &SpectralParams,
    bands: &[(f64, f64)],
    want_period: bool,
    want_entropy: bool,
) -> Result<SpectralFeatures, FeatureError> {
    let w = params.window;
    require_at_least(feature, "window", w, MIN_WINDOW)?;
    let ranges = band_bins(feature, bands, w)?;
    let start = first_valid(feature, "x", x)?;
    if x.len() < start + w {
        return Err(FeatureError::TooShort { feature: feature.into(), len: x.len(), needed: start + w });
    }
    let series = |wanted: bool| if wanted { vec![f64::NAN; x.len()] } else { Vec::new() };
    let mut out = SpectralFeatures {
        dominant_period: series(want_period),
        entropy: series(want_entropy),
        band_power: ranges.iter().map(|_| vec![f64::NAN; x.len()]).collect(),
    };
    let mut pg = Periodogram::new(params);
    let log2_bins = (pg.psd.len() as f64).log2();
    for t in start + w - 1..x.len() {
        pg.compute(&x[t + 1 - w..=t]);
        let psd = &pg.psd;
        let total: f64 = psd.iter().sum();
        if !(total > 0.0 && total.is_finite()) {
            continue;
        }
        if want_period {
            let (mut best, mut k_best) = (psd[1], 1);
            for (k, &p) in psd.iter().enumerate().skip(2) {
                if p > best {
                    (best, k_best) = (p, k);
                }
            }
            out.dominant_period[t] = w as f64 / k_best as f64;
        }
        if want_entropy {
            let plogp: f64 = psd.iter().map(|&p| p / total).filter(|&p| p > 0.0).map(|p| p * p.ln()).sum();
            out.entropy[t] = -plogp / std::f64::consts::LN_2 / log2_bins;
        }
        for (series, range) in out.band_power.iter_mut().zip(&ranges) {
            series[t] = psd[range.clone()].iter().sum::<f64>() / total;
        }
    }
    Ok(out)
}

/// Validates the bands and turns each into its contiguous range of one-sided bins.
fn band_bins(feature: &str, bands: &[(f64, f64)], w: usize) -> Result<Vec<std::ops::Range<usize>>, FeatureError> {
    let nbins = w / 2 + 1;
    // k / w as a division: exact-rational edges such as 0.1 with w = 40 then fall where they should.
    let freq = |k: usize| k as f64 / w as f64;
    bands
        .iter()
        .map(|&(lo, hi)| {
            if !(0.0..=0.5).contains(&lo) || !(0.0..=0.5).contains(&hi) || lo >= hi {
                let reason = format!("({lo}, {hi}) must satisfy 0 <= lo < hi <= 0.5 cycles per bar");
                return Err(FeatureError::param(feature, "bands", reason));
            }
            let first = (0..nbins).find(|&k| freq(k) >= lo).unwrap_or(nbins);
            let end = (first..nbins).find(|&k| freq(k) >= hi && !(hi == 0.5 && freq(k) == 0.5)).unwrap_or(nbins);
            Ok(first..end)
        })
        .collect()
}

/// One-sided periodogram of a fixed-size window with the plan, taper and buffers reused across windows.
/// Even windows use a half-size complex FFT of the samples packed in pairs (the standard real-FFT split).
struct Periodogram {
    n: usize,
    detrend: bool,
    taper: Vec<f64>,
    fft: Arc<dyn Fft<f64>>,
    buf: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    /// exp(-2πik/n) for k = 0..=n/2, used to split the packed transform (even n only).
    twiddles: Vec<Complex<f64>>,
    psd: Vec<f64>,
}

impl Periodogram {
    fn new(params: &SpectralParams) -> Self {
        let n = params.window;
        let packed = n.is_multiple_of(2);
        let fft = FftPlanner::new().plan_fft_forward(if packed { n / 2 } else { n });
        let taper = match params.taper {
            Taper::None => Vec::new(),
            Taper::Hann => {
                (0..n).map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()).collect()
            }
        };
        let twiddles = if packed {
            (0..=n / 2).map(|k| Complex::from_polar(1.0, -2.0 * std::f64::consts::PI * k as f64 / n as f64)).collect()
        } else {
            Vec::new()
        };
        Self {
            n,
            detrend: params.detrend,
            taper,
            scratch: vec![Complex::default(); fft.get_inplace_scratch_len()],
            buf: vec![Complex::default(); fft.len()],
            fft,
            twiddles,
            psd: vec![0.0; n / 2 + 1],
        }
    }

    fn compute(&mut self, w: &[f64]) {
        let n = self.n;
        let mean = if self.detrend { w.iter().sum::<f64>() / n as f64 } else { 0.0 };
        let taper = &self.taper;
        let sample = |i: usize| if taper.is_empty() { w[i] - mean } else { (w[i] - mean) * taper[i] };
        let last = n / 2;
        if n.is_multiple_of(2) {
            for (j, z) in self.buf.iter_mut().enumerate() {
                *z = Complex::new(sample(2 * j), sample(2 * j + 1));
            }
            self.fft.process_with_scratch(&mut self.buf, &mut self.scratch);
            let m = last;
            for k in 0..=last {
                let zk = self.buf[k % m];
                let zc = self.buf[(m - k) % m].conj();
                let even = (zk + zc) * 0.5;
                let odd = Complex::new(0.0, -0.5) * (zk - zc);
                self.psd[k] = (even + self.twiddles[k] * odd).norm_sqr();
            }
        } else {
            for (i, z) in self.buf.iter_mut().enumerate() {
                *z = Complex::new(sample(i), 0.0);
            }
            self.fft.process_with_scratch(&mut self.buf, &mut self.scratch);
            for (p, z) in self.psd.iter_mut().zip(&self.buf) {
                *p = z.norm_sqr();
            }
        }
        // One-sided: fold the negative frequencies onto the positive ones; DC and Nyquist have no mirror.
        let doubled_end = if n.is_multiple_of(2) { last } else { last + 1 };
        for p in &mut self.psd[1..doubled_end] {
            *p *= 2.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const REF: &str = include_str!("../../tests/reference/features/spectral.json");

    fn floats(v: &Value) -> Vec<f64> {
        v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
    }

    fn same(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(p, q)| p == q || (p.is_nan() && q.is_nan()))
    }

    fn reference() -> Value {
        serde_json::from_str(REF).expect("spectral.json parses")
    }

    fn bands(r: &Value) -> Vec<(f64, f64)> {
        r["bands"].as_array().expect("bands").iter().map(floats).map(|b| (b[0], b[1])).collect()
    }

    fn params(case: &Value) -> SpectralParams {
        SpectralParams {
            window: case["window"].as_u64().expect("window") as usize,
            detrend: case["detrend"].as_bool().expect("detrend"),
            taper: if case["taper"] == "hann" { Taper::Hann } else { Taper::None },
        }
    }

    /// 1e-9 relative; `floor` absorbs values that are pure rounding residue (the DC bin of a demeaned window
    /// holds ~1e-33 of the power in scipy and a different ~1e-33 here).
    fn assert_close(got: f64, want: f64, floor: f64, what: &str) {
        let err = (got - want).abs();
        assert!(err <= 1e-9 * want.abs() + floor, "{what}: got {got}, reference {want}, error {err:e}");
    }

    #[test]
    fn rolling_spectra_match_scipy_and_antropy() {
        let r = reference();
        let bands = bands(&r);
        for case in r["cases"].as_array().expect("cases") {
            let name = case["name"].as_str().expect("name");
            let x = floats(&case["x"]);
            let p = params(case);
            let out = rolling_spectral(&x, &p, &bands).unwrap();
            let w = p.window;
            for series in [&out.dominant_period, &out.entropy].into_iter().chain(&out.band_power) {
                assert_eq!(series.len(), x.len());
                assert!(series[..w - 1].iter().all(|v| v.is_nan()), "{name}: values before a full window");
            }
            let periods = floats(&case["dominant_period"]);
            let entropy = floats(&case["entropy"]);
            assert_eq!(periods.len(), x.len() + 1 - w);
            for (i, t) in (w - 1..x.len()).enumerate() {
                assert_eq!(out.dominant_period[t], periods[i], "{name}: dominant period at t={t}");
                assert_close(out.entropy[t], entropy[i], 0.0, &format!("{name}: entropy t={t}"));
            }
            for (b, want) in case["band_power"].as_array().expect("bp").iter().enumerate() {
                for (i, &v) in floats(want).iter().enumerate() {
                    let t = w - 1 + i;
                    assert_close(out.band_power[b][t], v, 1e-15, &format!("{name}: band {b} t={t}"));
                }
            }
            assert!(same(&rolling_dominant_period(&x, &p).unwrap(), &out.dominant_period));
            assert!(same(&rolling_spectral_entropy(&x, &p).unwrap(), &out.entropy));
            let bp = rolling_band_power(&x, &p, &bands).unwrap();
            assert!(bp.iter().zip(&out.band_power).all(|(a, b)| same(a, b)));
        }
    }

    #[test]
    fn a_pure_cycle_is_found_and_has_low_entropy() {
        // 48 bars holding exactly 4 cycles of period 12 plus a weaker period-4 cycle.
        let x: Vec<f64> = (0..200)
            .map(|i| {
                let t = i as f64 * 2.0 * std::f64::consts::PI;
                100.0 + (t / 12.0).sin() + 0.3 * (t / 4.0).cos()
            })
            .collect();
        let out = rolling_spectral(&x, &SpectralParams::new(48), &[(0.0, 0.1), (0.2, 0.3), (0.3, 0.5)]).unwrap();
        for t in 47..x.len() {
            assert!((out.dominant_period[t] - 12.0).abs() < 1e-12);
            assert!(out.entropy[t] < 0.2, "entropy {} of two pure tones", out.entropy[t]);
            let share = 1.0 / (1.0 + 0.09);
            assert!((out.band_power[0][t] - share).abs() < 1e-9, "1/12 cycles per bar holds 1/1.09 of the power");
            assert!((out.band_power[1][t] - (1.0 - share)).abs() < 1e-9);
            assert!(out.band_power[2][t].abs() < 1e-9);
        }
    }

    #[test]
    fn values_never_depend_on_later_points_and_leading_nans_shift() {
        let r = reference();
        let x = floats(&r["cases"][1]["x"]);
        let bands = bands(&r);
        for p in [SpectralParams::new(50), SpectralParams { window: 33, detrend: false, taper: Taper::Hann }] {
            let full = rolling_spectral(&x, &p, &bands).unwrap();
            let t = 150;
            let mut changed = x.clone();
            changed[t + 1..].iter_mut().for_each(|v| *v = 2.0 * *v - 700.0);
            let other = rolling_spectral(&changed, &p, &bands).unwrap();
            let prefix = rolling_spectral(&x[..=t], &p, &bands).unwrap();
            assert!(same(&full.entropy[..=t], &other.entropy[..=t]) && same(&full.entropy[..=t], &prefix.entropy));
            assert!(!same(&full.entropy[t + 1..], &other.entropy[t + 1..]));
            assert!(same(&full.dominant_period[..=t], &prefix.dominant_period));
            assert!(full.band_power.iter().zip(&prefix.band_power).all(|(a, b)| same(&a[..=t], b)));

            let mut padded = vec![f64::NAN; 5];
            padded.extend_from_slice(&x);
            let shifted = rolling_spectral(&padded, &p, &bands).unwrap();
            assert!(same(&shifted.entropy[5..], &full.entropy) && shifted.entropy[..5].iter().all(|v| v.is_nan()));
        }
    }

    #[test]
    fn a_flat_window_has_no_spectrum() {
        let x = vec![1.25; 40];
        let out = rolling_spectral(&x, &SpectralParams::new(16), &[(0.0, 0.5)]).unwrap();
        assert!(out.entropy.iter().chain(&out.dominant_period).chain(&out.band_power[0]).all(|v| v.is_nan()));
    }

    #[test]
    fn bad_input_is_refused_with_the_right_error() {
        let x: Vec<f64> = (0..60).map(|i| (i as f64 * 0.7).sin()).collect();
        let p = SpectralParams::new(16);
        let param = |e: FeatureError, name: &str| matches!(e, FeatureError::InvalidParameter { ref param, .. } if param == name);
        assert!(param(rolling_spectral_entropy(&x, &SpectralParams::new(3)).unwrap_err(), "window"));
        for bad in [(-0.1, 0.2), (0.2, 0.6), (0.3, 0.3), (0.4, 0.1), (f64::NAN, 0.2)] {
            assert!(param(rolling_band_power(&x, &p, &[(0.0, 0.1), bad]).unwrap_err(), "bands"), "{bad:?}");
        }
        assert!(param(rolling_band_power(&x, &p, &[]).unwrap_err(), "bands"));
        let mut gap = x.clone();
        gap[30] = f64::NAN;
        assert!(matches!(rolling_dominant_period(&gap, &p).unwrap_err(), FeatureError::NanGap { row: 30, .. }));
        let short = rolling_spectral(&x[..15], &p, &[]).unwrap_err();
        assert!(matches!(short, FeatureError::TooShort { len: 15, needed: 16, .. }));
    }
}
