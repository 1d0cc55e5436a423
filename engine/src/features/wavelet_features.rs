//! Features built on the wavelet transform of `wavelet`: VisuShrink denoising of a whole series, and causal rolling
//! features (relative energy per level, last point of a denoised window) computed with reused scratch buffers.

use super::error::{FeatureError, first_valid, require_at_least};
use super::wavelet::{FilterBank, Threshold, Wavelet, Workspace, dwt_max_level, min_len_for_level, resolve_level};

/// VisuShrink denoising of the whole series: every detail level is thresholded (soft or hard) at the universal
/// threshold σ·√(2 ln n) with σ = median(|cD_1|)/0.6745, then the signal is rebuilt with `waverec` and trimmed to
/// the input length. This smoother looks ahead (each output uses the whole sample): use
/// [`rolling_denoised_last`] for a causal feature. Leading NaNs are kept and the rest is denoised.
/// When σ is 0 (e.g. a constant series) the details are kept as they are, where pywt's soft mode would give NaN.
pub fn denoise(x: &[f64], w: Wavelet, level: Option<usize>, threshold: Threshold) -> Result<Vec<f64>, FeatureError> {
    const FEATURE: &str = "wavelet_denoise";
    let bank = w.filter_bank()?;
    if level == Some(0) {
        return Err(FeatureError::param(FEATURE, "level", "must be at least 1 (there is nothing to threshold at 0)"));
    }
    let start = first_valid(FEATURE, "x", x)?;
    let valid = &x[start..];
    let needed = min_len_for_level(w, 1);
    if valid.len() < needed {
        return Err(FeatureError::TooShort { feature: FEATURE.into(), len: x.len(), needed: start + needed });
    }
    let level = resolve_level(FEATURE, valid.len(), w, level)?;
    let mut ws = Workspace::new(bank, valid.len(), level);
    ws.decompose(valid);
    ws.threshold_details(threshold);
    let mut out = vec![f64::NAN; x.len()];
    ws.reconstruct_into(&mut out[start..]);
    Ok(out)
}

/// Causal rolling relative wavelet energy: for each t, the DWT of the `window` points ending at t and, per array
/// (cA_n first, then cD_n..cD_1), its sum of squares over the total. Returns `level + 1` series of `x.len()` values,
/// NaN before the first full window. A window with zero energy gives 0 for every level. On price levels the
/// approximation carries almost all energy; pass returns to see how variance spreads over scales.
/// `level` defaults to `dwt_max_level(window)`; the window must hold at least (F-1)·2^level points.
pub fn rolling_energy(
    x: &[f64],
    w: Wavelet,
    level: Option<usize>,
    window: usize,
) -> Result<Vec<Vec<f64>>, FeatureError> {
    const FEATURE: &str = "wavelet_rolling_energy";
    let (bank, level, start) = rolling_setup(FEATURE, x, w, level, window)?;
    let mut out = vec![vec![f64::NAN; x.len()]; level + 1];
    let mut ws = Workspace::new(bank, window, level);
    let mut energy = vec![0.0; level + 1];
    for t in start + window - 1..x.len() {
        ws.decompose(&x[t + 1 - window..=t]);
        let mut total = 0.0;
        for (k, e) in energy.iter_mut().enumerate() {
            *e = ws.array(k).iter().map(|c| c * c).sum();
            total += *e;
        }
        for (series, e) in out.iter_mut().zip(&energy) {
            series[t] = if total > 0.0 { e / total } else { 0.0 };
        }
    }
    Ok(out)
}

/// Causal wavelet smoother: for each t, [`denoise`] applied to the `window` points ending at t, keeping only the
/// last point (so no value looks ahead). NaN before the first full window. Only the coefficients that reach the
/// last sample are synthesised, so each window costs one forward transform plus O(level·F²).
pub fn rolling_denoised_last(
    x: &[f64],
    w: Wavelet,
    level: Option<usize>,
    window: usize,
    threshold: Threshold,
) -> Result<Vec<f64>, FeatureError> {
    const FEATURE: &str = "wavelet_rolling_denoised";
    let (bank, level, start) = rolling_setup(FEATURE, x, w, level, window)?;
    let mut out = vec![f64::NAN; x.len()];
    let mut ws = Workspace::new(bank, window, level);
    for t in start + window - 1..x.len() {
        ws.decompose(&x[t + 1 - window..=t]);
        ws.threshold_details(threshold);
        out[t] = ws.reconstruct_at(window - 1);
    }
    Ok(out)
}

/// Checks the parameters and the input of a rolling feature; returns the bank, the level and the first valid row.
fn rolling_setup(
    feature: &str,
    x: &[f64],
    w: Wavelet,
    level: Option<usize>,
    window: usize,
) -> Result<(FilterBank, usize, usize), FeatureError> {
    let bank = w.filter_bank()?;
    let level = match level {
        Some(0) => return Err(FeatureError::param(feature, "level", "must be at least 1")),
        Some(l) => l,
        None => dwt_max_level(window, w).max(1),
    };
    require_at_least(feature, "window", window, min_len_for_level(w, level))?;
    let start = first_valid(feature, "x", x)?;
    if x.len() - start < window {
        return Err(FeatureError::TooShort {
            feature: feature.into(),
            len: x.len(),
            needed: start.saturating_add(window),
        });
    }
    Ok((bank, level, start))
}

#[cfg(test)]
mod tests {
    use super::super::wavelet::tests::{
        assert_summary, assert_values, case_input, case_level, case_mode, case_wavelet, cases, floats, param_of, series,
    };
    use super::*;

    #[test]
    fn denoise_equals_pywt_visushrink() {
        for c in cases("denoise") {
            let (x, w, mode) = (case_input(c), case_wavelet(c), case_mode(c));
            let ctx = format!("denoise {} n={} {w} {mode} level={:?}", c["series"], x.len(), case_level(c));
            let y = denoise(&x, w, case_level(c), mode).unwrap();
            assert_summary(&y, &c["summary"], &ctx);
            if let Some(v) = c.get("values") {
                assert_values(&y, &floats(v), &ctx);
            }
        }
    }

    #[test]
    fn denoise_keeps_leading_nans_and_smooths_the_rest() {
        let x = &series("GOOG")[..300];
        let mut padded = vec![f64::NAN; 5];
        padded.extend_from_slice(x);
        let y = denoise(&padded, Wavelet::Db(4), None, Threshold::Soft).unwrap();
        assert!(y[..5].iter().all(|v| v.is_nan()));
        assert_eq!(&y[5..], &denoise(x, Wavelet::Db(4), None, Threshold::Soft).unwrap()[..]);
        // A smoother: the denoised path is shorter (less total variation) than the raw one.
        let tv = |s: &[f64]| s.windows(2).map(|p| (p[1] - p[0]).abs()).sum::<f64>();
        assert!(tv(&y[5..]) < 0.8 * tv(x));
    }

    #[test]
    fn rolling_energy_equals_pywt() {
        for c in cases("rolling_energy") {
            let (x, w) = (case_input(c), case_wavelet(c));
            let window = c["window"].as_u64().unwrap() as usize;
            let got = rolling_energy(&x, w, case_level(c), window).unwrap();
            let exp = c["energy"].as_array().unwrap();
            assert_eq!(got.len(), exp.len());
            for (k, (g, e)) in got.iter().zip(exp).enumerate() {
                assert_values(g, &floats(e), &format!("rolling_energy {} {w} window={window} array {k}", c["series"]));
            }
            for t in window - 1..x.len() {
                let total: f64 = got.iter().map(|s| s[t]).sum();
                assert!((total - 1.0).abs() < 1e-12, "shares sum to {total} at {t}");
            }
        }
    }

    #[test]
    fn rolling_denoised_last_equals_pywt() {
        for c in cases("rolling_denoised_last") {
            let (x, w, mode) = (case_input(c), case_wavelet(c), case_mode(c));
            let window = c["window"].as_u64().unwrap() as usize;
            let got = rolling_denoised_last(&x, w, case_level(c), window, mode).unwrap();
            let ctx = format!("rolling_denoised_last {} {w} {mode} window={window}", c["series"]);
            assert_values(&got, &floats(&c["values"]), &ctx);
        }
    }

    #[test]
    fn partial_synthesis_equals_the_full_waverec_exactly() {
        let x = &series("EURUSD")[..260];
        for w in [Wavelet::Haar, Wavelet::Db(3), Wavelet::Db(8)] {
            for window in [2 * w.filter_len() - 2, 97, 128] {
                for mode in [Threshold::Soft, Threshold::Hard] {
                    let got = rolling_denoised_last(x, w, None, window, mode).unwrap();
                    for t in window - 1..x.len() {
                        let full = denoise(&x[t + 1 - window..=t], w, None, mode).unwrap();
                        assert_eq!(got[t], full[window - 1], "{w} window={window} {mode} t={t}");
                    }
                }
            }
        }
    }

    #[test]
    fn rolling_features_are_causal_and_respect_leading_nans() {
        let x = series("GOOG")[..260].to_vec();
        let w = Wavelet::Db(2);
        let window = 48;
        let energy = rolling_energy(&x, w, Some(2), window).unwrap();
        let smooth = rolling_denoised_last(&x, w, Some(2), window, Threshold::Soft).unwrap();
        assert!(energy.iter().all(|s| s[..window - 1].iter().all(|v| v.is_nan()) && !s[window - 1].is_nan()));
        assert!(smooth[..window - 1].iter().all(|v| v.is_nan()) && !smooth[window - 1].is_nan());
        for cut in [window - 1, 100, 200] {
            let mut changed = x.clone();
            changed[cut + 1..].iter_mut().for_each(|v| *v *= 3.0);
            changed.push(1e6);
            let e2 = rolling_energy(&changed, w, Some(2), window).unwrap();
            let s2 = rolling_denoised_last(&changed, w, Some(2), window, Threshold::Soft).unwrap();
            for t in 0..=cut {
                assert!(energy.iter().zip(&e2).all(|(a, b)| a[t].to_bits() == b[t].to_bits()), "energy at {t}");
                assert_eq!(smooth[t].to_bits(), s2[t].to_bits(), "denoised at {t}");
            }
            assert_ne!(smooth[cut + 1], s2[cut + 1]);
        }
        let mut padded = vec![f64::NAN; 7];
        padded.extend_from_slice(&x);
        let shifted = rolling_denoised_last(&padded, w, Some(2), window, Threshold::Soft).unwrap();
        assert!(shifted[..7 + window - 1].iter().all(|v| v.is_nan()));
        let bits = |s: &[f64]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&shifted[7..]), bits(&smooth));
        let e_shifted = rolling_energy(&padded, w, Some(2), window).unwrap();
        for (a, b) in e_shifted.iter().zip(&energy) {
            assert_eq!(bits(&a[7..]), bits(b));
        }
    }
    #[test]
    fn bad_input_gives_the_right_error() {
        let x = series("GOOG")[..100].to_vec();
        assert_eq!(param_of(rolling_energy(&x, Wavelet::Db(0), None, 32).unwrap_err()), "wavelet");
        assert_eq!(param_of(denoise(&x, Wavelet::Db(11), None, Threshold::Soft).unwrap_err()), "wavelet");
        // Level above pywt's maximum: 100/7 = 14 allows 3 levels of db4.
        assert_eq!(param_of(denoise(&x, Wavelet::Db(4), Some(4), Threshold::Soft).unwrap_err()), "level");
        assert_eq!(param_of(denoise(&x, Wavelet::Db(4), Some(0), Threshold::Soft).unwrap_err()), "level");
        // Window too small for the level: level 3 of db4 needs 7·8 = 56 points.
        assert_eq!(param_of(rolling_energy(&x, Wavelet::Db(4), Some(3), 55).unwrap_err()), "window");
        assert!(rolling_energy(&x, Wavelet::Db(4), Some(3), 56).is_ok());
        let err = rolling_denoised_last(&x, Wavelet::Db(4), None, 13, Threshold::Hard).unwrap_err();
        assert_eq!(param_of(err), "window");
        assert_eq!(param_of(rolling_energy(&x, Wavelet::Haar, Some(0), 8).unwrap_err()), "level");
        // Too short.
        assert_eq!(
            rolling_energy(&x[..40], Wavelet::Haar, Some(2), 50).unwrap_err(),
            FeatureError::TooShort { feature: "wavelet_rolling_energy".into(), len: 40, needed: 50 }
        );
        let mut lead = vec![f64::NAN; 3];
        lead.extend_from_slice(&x[..50]);
        assert!(matches!(
            rolling_denoised_last(&lead, Wavelet::Haar, Some(2), 51, Threshold::Soft),
            Err(FeatureError::TooShort { len: 53, needed: 54, .. })
        ));
        assert!(matches!(
            denoise(&x[..13], Wavelet::Db(4), None, Threshold::Soft),
            Err(FeatureError::TooShort { len: 13, needed: 14, .. })
        ));
        // NaN after valid values.
        let mut gap = x.clone();
        gap[60] = f64::NAN;
        for err in [
            denoise(&gap, Wavelet::Haar, None, Threshold::Hard).unwrap_err(),
            rolling_energy(&gap, Wavelet::Haar, None, 16).unwrap_err(),
            rolling_denoised_last(&gap, Wavelet::Haar, None, 16, Threshold::Soft).unwrap_err(),
        ] {
            assert!(matches!(err, FeatureError::NanGap { row: 60, .. }), "{err:?}");
        }
    }

    #[test]
    fn constant_and_zero_series_stay_finite() {
        // σ = 0: details are kept (pywt's soft mode would divide 0 by 0).
        let y = denoise(&[2.5; 64], Wavelet::Db(3), None, Threshold::Soft).unwrap();
        assert!(y.iter().all(|v| (v - 2.5).abs() < 1e-12));
        let e = rolling_energy(&[0.0; 40], Wavelet::Haar, Some(2), 16).unwrap();
        assert!(e.iter().all(|s| s[15..].iter().all(|&v| v == 0.0)));
    }
}
