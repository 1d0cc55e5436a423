//! The advanced transformers as library features: wavelet, spectral and fractal features of one
//! series and cross-asset features against a peer instrument, each a causal rolling window.

use std::collections::VecDeque;

use super::cross_asset;
use super::error::FeatureError;
use super::fractal::{self, DfaParams, HurstRsParams};
use super::indicators::{BarColumns, Field, TimedBar};
use super::library::{Feature, FeatureRequest};
use super::spectral::{self, SpectralParams, Taper};
use super::wavelet::{self, Threshold, Wavelet};

/// What a transformer reads from its source column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputForm {
    /// The values as they are.
    Level,
    /// Natural logarithms (cointegration of log prices).
    Log,
    /// Log returns ln(x_t / x_{t−1}); the first point is undefined.
    Returns,
}

impl InputForm {
    pub fn parse(feature: &str, text: &str) -> Result<Self, FeatureError> {
        match text {
            "level" => Ok(Self::Level),
            "log" => Ok(Self::Log),
            "returns" => Ok(Self::Returns),
            other => {
                Err(FeatureError::param(feature, "input", format!("must be level, log or returns, got `{other}`")))
            }
        }
    }

    fn apply(self, xs: &[f64]) -> Vec<f64> {
        match self {
            Self::Level => xs.to_vec(),
            Self::Log => xs.iter().map(|x| x.ln()).collect(),
            Self::Returns => {
                let mut out = Vec::with_capacity(xs.len());
                if !xs.is_empty() {
                    out.push(f64::NAN);
                }
                out.extend(xs.windows(2).map(|w| (w[1] / w[0]).ln()));
                out
            }
        }
    }

    /// Points consumed before the first transformed value.
    fn lag(self) -> usize {
        usize::from(self == Self::Returns)
    }
}

/// The computation of one transformer over transformed input(s), returning its output columns.
type Compute = Box<dyn Fn(&[f64], Option<&[f64]>) -> Result<Vec<Vec<f64>>, FeatureError> + Send>;

/// A rolling transformer as a [`Feature`]. The streaming form keeps the last `lookback + 1`
/// points and reruns the window computation on them, so it costs O(window) per bar.
pub struct WindowFeature {
    name: &'static str,
    source: Field,
    input: InputForm,
    outputs: usize,
    lookback: usize,
    peer: Option<String>,
    compute: Compute,
    history: VecDeque<f64>,
    peer_history: VecDeque<f64>,
}

impl WindowFeature {
    fn run(&self, xs: &[f64], peer: Option<&[f64]>) -> Result<Vec<Vec<f64>>, FeatureError> {
        let x = self.input.apply(xs);
        let p = peer.map(|p| self.input.apply(p));
        (self.compute)(&x, p.as_deref())
    }

    fn value_of(bar: &TimedBar, field: Field) -> f64 {
        match field {
            Field::Open => bar.bar.open,
            Field::High => bar.bar.high,
            Field::Low => bar.bar.low,
            Field::Close => bar.bar.close,
            Field::Volume => bar.bar.volume,
        }
    }
}

impl Feature for WindowFeature {
    fn name(&self) -> &'static str {
        self.name
    }
    fn output_count(&self) -> usize {
        self.outputs
    }
    fn lookback(&self) -> usize {
        self.lookback
    }
    fn peer(&self) -> Option<&str> {
        self.peer.as_deref()
    }
    fn compute(&mut self, bars: &BarColumns<'_>) -> Result<Vec<Vec<f64>>, FeatureError> {
        if let Some(peer) = &self.peer {
            return Err(FeatureError::Invalid {
                feature: self.name.into(),
                reason: format!("needs the peer instrument {peer} among the inputs"),
            });
        }
        self.run(bars.field(self.source), None)
    }
    fn compute_with_peer(&mut self, bars: &BarColumns<'_>, peer: &[f64]) -> Result<Vec<Vec<f64>>, FeatureError> {
        if peer.len() != bars.len() {
            return Err(FeatureError::LengthMismatch {
                feature: self.name.into(),
                detail: format!("{} bars, {} peer values", bars.len(), peer.len()),
            });
        }
        self.run(bars.field(self.source), Some(peer))
    }
    fn update(&mut self, bar: &TimedBar, out: &mut [f64]) {
        self.history.push_back(Self::value_of(bar, self.source));
        let keep = self.lookback + 1;
        while self.history.len() > keep {
            self.history.pop_front();
        }
        while self.peer_history.len() > keep {
            self.peer_history.pop_front();
        }
        out.fill(f64::NAN);
        if self.history.len() < keep || (self.peer.is_some() && self.peer_history.len() < keep) {
            return;
        }
        let xs: Vec<f64> = self.history.iter().copied().collect();
        let peer: Option<Vec<f64>> = self.peer.as_ref().map(|_| self.peer_history.iter().copied().collect());
        if let Ok(cols) = self.run(&xs, peer.as_deref()) {
            for (o, col) in out.iter_mut().zip(&cols) {
                *o = col.last().copied().unwrap_or(f64::NAN);
            }
        }
    }
    fn update_with_peer(&mut self, bar: &TimedBar, peer: f64, out: &mut [f64]) {
        self.peer_history.push_back(peer);
        self.update(bar, out);
    }
    fn reset(&mut self) {
        self.history.clear();
        self.peer_history.clear();
    }
}

/// Column suffixes of a wavelet energy feature at `level`: the approximation, then the details
/// from coarse to fine.
pub fn wavelet_energy_outputs(level: usize) -> Vec<String> {
    let mut names = vec![format!("a{level}")];
    names.extend((1..=level).rev().map(|k| format!("d{k}")));
    names
}

/// Builds a transformer from its request; parameters are checked here, before any data is seen.
pub fn build(req: &FeatureRequest) -> Result<Box<dyn Feature>, FeatureError> {
    let name = req.def.name;
    let window_param = |k: usize, min: usize| -> Result<usize, FeatureError> {
        let w = req.period(k);
        super::error::require_at_least(name, "window", w, min)?;
        Ok(w)
    };
    let feature = |input: InputForm, outputs: usize, lookback: usize, peer: Option<String>, compute: Compute| {
        Box::new(WindowFeature {
            name,
            source: req.source,
            input,
            outputs,
            lookback,
            peer,
            compute,
            history: VecDeque::new(),
            peer_history: VecDeque::new(),
        }) as Box<dyn Feature>
    };
    Ok(match name {
        "wavelet_energy" => {
            let w: Wavelet = req.text(0).parse()?;
            let level = req.period(1);
            super::error::require_at_least(name, "level", level, 1)?;
            let window = window_param(2, 4)?;
            let input = InputForm::parse(name, req.text(3))?;
            if wavelet::dwt_max_level(window, w) < level {
                return Err(FeatureError::param(
                    name,
                    "window",
                    format!("{window} points are too few for {level} levels of {w}"),
                ));
            }
            let lookback = window - 1 + input.lag();
            let compute: Compute = Box::new(move |x, _| wavelet::rolling_energy(x, w, Some(level), window));
            feature(input, level + 1, lookback, None, compute)
        }
        "wavelet_denoised" => {
            let w: Wavelet = req.text(0).parse()?;
            let level = req.period(1);
            super::error::require_at_least(name, "level", level, 1)?;
            let window = window_param(2, 4)?;
            let threshold: Threshold = req.text(3).parse()?;
            let compute: Compute =
                Box::new(move |x, _| Ok(vec![wavelet::rolling_denoised_last(x, w, Some(level), window, threshold)?]));
            feature(InputForm::Level, 1, window - 1, None, compute)
        }
        "spectral" => {
            let window = window_param(0, 8)?;
            let (low, high) = (req.number(1), req.number(2));
            if !(0.0 < low && low < high && high < 0.5) {
                return Err(FeatureError::param(
                    name,
                    "high_cut",
                    format!("cuts must satisfy 0 < low_cut < high_cut < 0.5 cycles per bar, got {low} and {high}"),
                ));
            }
            let input = InputForm::parse(name, req.text(3))?;
            let params = SpectralParams { window, detrend: true, taper: Taper::Hann };
            let bands = [(0.0, low), (low, high), (high, 0.5)];
            let compute: Compute = Box::new(move |x, _| {
                let s = spectral::rolling_spectral(x, &params, &bands)?;
                let mut cols = vec![s.dominant_period, s.entropy];
                cols.extend(s.band_power);
                Ok(cols)
            });
            feature(input, 5, window - 1 + input.lag(), None, compute)
        }
        "hurst_rs" | "dfa" | "higuchi" | "katz" => {
            // Higuchi's curve lengths need 2·kmax points; the others need enough for a log-log fit.
            let window = window_param(0, if name == "higuchi" { 2 * fractal::HIGUCHI_DEFAULT_KMAX } else { 16 })?;
            let input = InputForm::parse(name, req.text(1))?;
            let compute: Compute = match name {
                "hurst_rs" => {
                    Box::new(move |x, _| Ok(vec![fractal::rolling_hurst_rs(x, window, &HurstRsParams::default())?]))
                }
                "dfa" => Box::new(move |x, _| Ok(vec![fractal::rolling_dfa(x, window, &DfaParams::default())?])),
                "higuchi" => Box::new(move |x, _| {
                    Ok(vec![fractal::rolling_higuchi_fd(x, window, fractal::HIGUCHI_DEFAULT_KMAX)?])
                }),
                _ => Box::new(move |x, _| Ok(vec![fractal::rolling_katz_fd(x, window)?])),
            };
            feature(input, 1, window - 1 + input.lag(), None, compute)
        }
        "corr" | "beta" | "coint" | "lead_lag" => {
            let peer = req.text(0).to_string();
            if peer.is_empty() {
                return Err(FeatureError::param(name, "other", "must name the peer instrument, e.g. other = \"SPY\""));
            }
            let window = window_param(1, 3)?;
            let (input, max_lag) = if name == "lead_lag" {
                (InputForm::parse(name, req.text(3))?, req.period(2))
            } else {
                (InputForm::parse(name, req.text(2))?, 0)
            };
            if name == "lead_lag" && max_lag >= window {
                return Err(FeatureError::param(
                    name,
                    "max_lag",
                    format!("must be below window ({window}), got {max_lag}"),
                ));
            }
            let missing = || FeatureError::Invalid { feature: name.into(), reason: "needs a peer series".into() };
            // The instrument is y, the peer x: beta and the hedge ratio are the instrument's exposure to the peer.
            let (outputs, compute): (usize, Compute) = match name {
                "corr" => {
                    (1, Box::new(move |y, x| Ok(vec![cross_asset::rolling_corr(x.ok_or_else(missing)?, y, window)?])))
                }
                "beta" => {
                    (1, Box::new(move |y, x| Ok(vec![cross_asset::rolling_beta(x.ok_or_else(missing)?, y, window)?])))
                }
                "coint" => (
                    4,
                    Box::new(move |y, x| {
                        let c = cross_asset::rolling_cointegration(x.ok_or_else(missing)?, y, window)?;
                        Ok(vec![c.hedge_ratio, c.spread, c.zscore, c.adf_t])
                    }),
                ),
                _ => (
                    2,
                    Box::new(move |y, x| {
                        let ll = cross_asset::lead_lag_corr(x.ok_or_else(missing)?, y, window, max_lag)?;
                        Ok(vec![ll.best_lag, ll.best_corr])
                    }),
                ),
            };
            feature(input, outputs, window - 1 + input.lag() + max_lag, Some(peer), compute)
        }
        other => {
            return Err(FeatureError::Invalid { feature: other.into(), reason: "is not a transformer".into() });
        }
    })
}
