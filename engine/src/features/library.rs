//! The library of named features: every feature's parameters, defaults, outputs and inputs, and
//! the one place a (name, parameters) request becomes a computable feature.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::FeatureError;
use super::indicators::{self as ind, BarColumns, Field, Indicator, Ohlcv, TimedBar};

/// A parameter value as written in a spec or after a colon on the command line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Int(i64),
    Float(f64),
    Text(String),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(v) => write!(f, "{v}"),
            Self::Float(v) => write!(f, "{v}"),
            Self::Text(v) => f.write_str(v),
        }
    }
}

/// The kind and default of one parameter.
#[derive(Clone, Copy, Debug)]
pub enum ParamKind {
    Period(usize),
    Number(f64),
    Text(&'static str),
}

#[derive(Clone, Copy, Debug)]
pub struct ParamDef {
    pub name: &'static str,
    pub kind: ParamKind,
    pub help: &'static str,
}

/// What a feature is and how to call it.
#[derive(Clone, Copy, Debug)]
pub struct FeatureDef {
    pub name: &'static str,
    pub summary: &'static str,
    pub params: &'static [ParamDef],
    /// Column suffixes of the outputs; `[""]` for a single output.
    pub outputs: &'static [&'static str],
    /// Bar fields read; a one-series feature reads its `source` (close unless told otherwise).
    pub inputs: &'static [Field],
    /// The TA-Lib function it equals, if any.
    pub talib: Option<&'static str>,
}

const fn p(name: &'static str, default: usize, help: &'static str) -> ParamDef {
    ParamDef { name, kind: ParamKind::Period(default), help }
}

const fn x(name: &'static str, default: f64, help: &'static str) -> ParamDef {
    ParamDef { name, kind: ParamKind::Number(default), help }
}

const ONE: &[&str] = &[""];
const BANDS: &[&str] = &["upper", "middle", "lower"];
const SERIES: &[Field] = &[];
const HLC: &[Field] = &[Field::High, Field::Low, Field::Close];
const HLCV: &[Field] = &[Field::High, Field::Low, Field::Close, Field::Volume];
const OHLC: &[Field] = &[Field::Open, Field::High, Field::Low, Field::Close];

/// Every indicator, in the order `sextant features list` shows them. Defaults are TA-Lib's where
/// TA-Lib has the indicator.
pub static INDICATORS: &[FeatureDef] = &[
    FeatureDef {
        name: "sma",
        summary: "simple moving average",
        params: &[p("period", 30, "bars averaged")],
        outputs: ONE,
        inputs: SERIES,
        talib: Some("SMA"),
    },
    FeatureDef {
        name: "ema",
        summary: "exponential moving average, SMA-seeded",
        params: &[p("period", 30, "bars; k = 2/(period+1)")],
        outputs: ONE,
        inputs: SERIES,
        talib: Some("EMA"),
    },
    FeatureDef {
        name: "wma",
        summary: "linearly weighted moving average",
        params: &[p("period", 30, "bars; weights 1..period")],
        outputs: ONE,
        inputs: SERIES,
        talib: Some("WMA"),
    },
    FeatureDef {
        name: "dema",
        summary: "double exponential moving average",
        params: &[p("period", 30, "bars")],
        outputs: ONE,
        inputs: SERIES,
        talib: Some("DEMA"),
    },
    FeatureDef {
        name: "tema",
        summary: "triple exponential moving average",
        params: &[p("period", 30, "bars")],
        outputs: ONE,
        inputs: SERIES,
        talib: Some("TEMA"),
    },
    FeatureDef {
        name: "rsi",
        summary: "relative strength index (Wilder)",
        params: &[p("period", 14, "changes")],
        outputs: ONE,
        inputs: SERIES,
        talib: Some("RSI"),
    },
    FeatureDef {
        name: "macd",
        summary: "MACD line, signal and histogram",
        params: &[
            p("fast", 12, "fast EMA bars"),
            p("slow", 26, "slow EMA bars, above fast"),
            p("signal", 9, "signal EMA of the line"),
        ],
        outputs: &["", "signal", "hist"],
        inputs: SERIES,
        talib: Some("MACD"),
    },
    FeatureDef {
        name: "bbands",
        summary: "Bollinger Bands (population standard deviation)",
        params: &[p("period", 20, "bars"), x("dev", 2.0, "standard deviations from the middle")],
        outputs: BANDS,
        inputs: SERIES,
        talib: Some("BBANDS"),
    },
    FeatureDef {
        name: "atr",
        summary: "average true range (Wilder)",
        params: &[p("period", 14, "bars")],
        outputs: ONE,
        inputs: HLC,
        talib: Some("ATR"),
    },
    FeatureDef {
        name: "natr",
        summary: "ATR as a percentage of the close",
        params: &[p("period", 14, "bars")],
        outputs: ONE,
        inputs: HLC,
        talib: Some("NATR"),
    },
    FeatureDef {
        name: "obv",
        summary: "on-balance volume",
        params: &[],
        outputs: ONE,
        inputs: &[Field::Close, Field::Volume],
        talib: Some("OBV"),
    },
    FeatureDef {
        name: "vwap",
        summary: "session VWAP, reset at each local midnight of the zone",
        params: &[ParamDef { name: "tz", kind: ParamKind::Text("UTC"), help: "IANA time zone of the sessions" }],
        outputs: ONE,
        inputs: HLCV,
        talib: None,
    },
    FeatureDef {
        name: "rolling_vwap",
        summary: "VWAP over the last bars",
        params: &[p("period", 20, "bars")],
        outputs: ONE,
        inputs: HLCV,
        talib: None,
    },
    FeatureDef {
        name: "stoch",
        summary: "slow stochastic %K and %D (SMA smoothing)",
        params: &[
            p("fast_k", 5, "bars of the raw %K range"),
            p("slow_k", 3, "SMA of raw %K"),
            p("slow_d", 3, "SMA of %K"),
        ],
        outputs: &["k", "d"],
        inputs: HLC,
        talib: Some("STOCH"),
    },
    FeatureDef {
        name: "stochrsi",
        summary: "stochastic of RSI, %K and %D",
        params: &[p("period", 14, "RSI period"), p("fast_k", 5, "bars of the RSI range"), p("fast_d", 3, "SMA of %K")],
        outputs: &["k", "d"],
        inputs: SERIES,
        talib: Some("STOCHRSI"),
    },
    FeatureDef {
        name: "adx",
        summary: "average directional index with +DI and -DI",
        params: &[p("period", 14, "bars")],
        outputs: &["", "plus_di", "minus_di"],
        inputs: HLC,
        talib: Some("ADX"),
    },
    FeatureDef {
        name: "cci",
        summary: "commodity channel index",
        params: &[p("period", 14, "bars")],
        outputs: ONE,
        inputs: HLC,
        talib: Some("CCI"),
    },
    FeatureDef {
        name: "mfi",
        summary: "money flow index",
        params: &[p("period", 14, "bars")],
        outputs: ONE,
        inputs: HLCV,
        talib: Some("MFI"),
    },
    FeatureDef {
        name: "willr",
        summary: "Williams %R",
        params: &[p("period", 14, "bars")],
        outputs: ONE,
        inputs: HLC,
        talib: Some("WILLR"),
    },
    FeatureDef {
        name: "roc",
        summary: "rate of change, percent",
        params: &[p("period", 10, "bars back")],
        outputs: ONE,
        inputs: SERIES,
        talib: Some("ROC"),
    },
    FeatureDef {
        name: "mom",
        summary: "momentum x - x[-period]",
        params: &[p("period", 10, "bars back")],
        outputs: ONE,
        inputs: SERIES,
        talib: Some("MOM"),
    },
    FeatureDef {
        name: "keltner",
        summary: "Keltner channel: EMA of the close +- multiplier x ATR",
        params: &[p("period", 20, "EMA bars"), x("multiplier", 2.0, "ATR multiples"), p("atr_period", 10, "ATR bars")],
        outputs: BANDS,
        inputs: HLC,
        talib: None,
    },
    FeatureDef {
        name: "donchian",
        summary: "Donchian channel: highest high, lowest low",
        params: &[p("period", 20, "bars")],
        outputs: BANDS,
        inputs: &[Field::High, Field::Low],
        talib: None,
    },
    FeatureDef {
        name: "rvol",
        summary: "close-to-close realised volatility (per bar, ddof 1)",
        params: &[p("period", 20, "log returns")],
        outputs: ONE,
        inputs: SERIES,
        talib: None,
    },
    FeatureDef {
        name: "parkinson",
        summary: "Parkinson high-low volatility (per bar)",
        params: &[p("period", 20, "bars")],
        outputs: ONE,
        inputs: &[Field::High, Field::Low],
        talib: None,
    },
    FeatureDef {
        name: "garman_klass",
        summary: "Garman-Klass OHLC volatility (per bar)",
        params: &[p("period", 20, "bars")],
        outputs: ONE,
        inputs: OHLC,
        talib: None,
    },
    FeatureDef {
        name: "zscore",
        summary: "rolling z-score (ddof 1)",
        params: &[p("period", 20, "bars")],
        outputs: ONE,
        inputs: SERIES,
        talib: None,
    },
];

const fn t(name: &'static str, default: &'static str, help: &'static str) -> ParamDef {
    ParamDef { name, kind: ParamKind::Text(default), help }
}

const INPUT_RETURNS: ParamDef = t("input", "returns", "level, log or returns (log returns)");
const INPUT_LEVEL: ParamDef = t("input", "level", "level, log or returns (log returns)");
const INPUT_LOG: ParamDef = t("input", "log", "level, log or returns (log returns)");
const OTHER: ParamDef = t("other", "", "the peer instrument's symbol (required)");

/// Wavelet, spectral, fractal and cross-asset transformers: causal rolling windows over the
/// source column (close unless `source` says otherwise), or against a peer instrument.
pub static TRANSFORMERS: &[FeatureDef] = &[
    FeatureDef {
        name: "wavelet_energy",
        summary: "share of each DWT level in the energy of the window (pywt wavedec, symmetric)",
        params: &[
            t("wavelet", "db4", "haar or db1..db10"),
            p("level", 3, "decomposition levels"),
            p("window", 64, "bars"),
            INPUT_RETURNS,
        ],
        outputs: &[],
        inputs: SERIES,
        talib: None,
    },
    FeatureDef {
        name: "wavelet_denoised",
        summary: "last point of the wavelet-denoised window (VisuShrink), a causal smoother",
        params: &[
            t("wavelet", "db4", "haar or db1..db10"),
            p("level", 3, "levels thresholded"),
            p("window", 64, "bars"),
            t("threshold", "soft", "soft or hard"),
        ],
        outputs: ONE,
        inputs: SERIES,
        talib: None,
    },
    FeatureDef {
        name: "spectral",
        summary: "rolling periodogram (Hann, demeaned): dominant period, entropy, low/mid/high band power",
        params: &[
            p("window", 64, "bars"),
            x("low_cut", 0.05, "cycles per bar"),
            x("high_cut", 0.2, "cycles per bar"),
            INPUT_RETURNS,
        ],
        outputs: &["period", "entropy", "low", "mid", "high"],
        inputs: SERIES,
        talib: None,
    },
    FeatureDef {
        name: "hurst_rs",
        summary: "Hurst exponent by rescaled range (nolds hurst_rs, poly fit)",
        params: &[p("window", 128, "bars"), INPUT_RETURNS],
        outputs: ONE,
        inputs: SERIES,
        talib: None,
    },
    FeatureDef {
        name: "dfa",
        summary: "detrended fluctuation analysis exponent (nolds dfa, overlap, order 1)",
        params: &[p("window", 128, "bars"), INPUT_RETURNS],
        outputs: ONE,
        inputs: SERIES,
        talib: None,
    },
    FeatureDef {
        name: "higuchi",
        summary: "Higuchi fractal dimension, kmax 10 (antropy)",
        params: &[p("window", 128, "bars"), INPUT_LEVEL],
        outputs: ONE,
        inputs: SERIES,
        talib: None,
    },
    FeatureDef {
        name: "katz",
        summary: "Katz fractal dimension (antropy)",
        params: &[p("window", 128, "bars"), INPUT_LEVEL],
        outputs: ONE,
        inputs: SERIES,
        talib: None,
    },
    FeatureDef {
        name: "corr",
        summary: "rolling correlation with a peer instrument",
        params: &[OTHER, p("window", 60, "bars"), INPUT_RETURNS],
        outputs: ONE,
        inputs: SERIES,
        talib: None,
    },
    FeatureDef {
        name: "beta",
        summary: "rolling beta to a peer instrument",
        params: &[OTHER, p("window", 60, "bars"), INPUT_RETURNS],
        outputs: ONE,
        inputs: SERIES,
        talib: None,
    },
    FeatureDef {
        name: "coint",
        summary: "rolling Engle-Granger against a peer: hedge ratio, spread, spread z-score, ADF t",
        params: &[OTHER, p("window", 120, "bars"), INPUT_LOG],
        outputs: &["hedge", "spread", "z", "adf"],
        inputs: SERIES,
        talib: None,
    },
    FeatureDef {
        name: "lead_lag",
        summary: "lag (bars, + when the peer leads) of the strongest rolling cross-correlation, and its value",
        params: &[OTHER, p("window", 60, "bars"), p("max_lag", 5, "bars each way"), INPUT_RETURNS],
        outputs: &["lag", "corr"],
        inputs: SERIES,
        talib: None,
    },
];

/// Looks a feature up by name.
pub fn definition(name: &str) -> Option<&'static FeatureDef> {
    INDICATORS.iter().chain(TRANSFORMERS).find(|d| d.name == name)
}

/// Every feature: the indicators, then the transformers.
pub fn all_features() -> impl Iterator<Item = &'static FeatureDef> {
    INDICATORS.iter().chain(TRANSFORMERS)
}

/// A feature with its parameters resolved (defaults filled in), ready to build.
#[derive(Clone, Debug)]
pub struct FeatureRequest {
    pub def: &'static FeatureDef,
    /// One value per parameter of `def`, in order.
    pub values: Vec<ParamValue>,
    /// The series a one-series feature reads.
    pub source: Field,
}

impl PartialEq for FeatureRequest {
    fn eq(&self, other: &Self) -> bool {
        self.def.name == other.def.name && self.values == other.values && self.source == other.source
    }
}

impl FeatureRequest {
    /// Resolves `name` with positional values (missing ones take their defaults).
    pub fn positional(name: &str, given: &[&str]) -> Result<Self, FeatureError> {
        let def = definition(name).ok_or_else(|| FeatureError::Invalid {
            feature: name.into(),
            reason: "no such feature; `sextant features list` shows them all".into(),
        })?;
        if given.len() > def.params.len() {
            return Err(FeatureError::Invalid {
                feature: name.into(),
                reason: format!("takes {} parameter(s), got {}", def.params.len(), given.len()),
            });
        }
        let mut values = Vec::with_capacity(def.params.len());
        for (k, param) in def.params.iter().enumerate() {
            values.push(match given.get(k) {
                Some(text) => parse_value(def, param, text)?,
                None => default_value(param),
            });
        }
        Ok(Self { def, values, source: Field::Close })
    }

    /// The base column name: the feature name and every parameter value joined by `_`.
    pub fn column_base(&self) -> String {
        let mut name = self.def.name.to_string();
        for v in &self.values {
            if matches!(v, ParamValue::Text(t) if t.is_empty()) {
                continue;
            }
            name.push('_');
            let text = v.to_string();
            name.extend(
                text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c.to_ascii_lowercase() } else { '_' }),
            );
        }
        if self.source != Field::Close && self.def.inputs.is_empty() {
            name.push('_');
            name.push_str(self.source.as_str());
        }
        name
    }

    /// Output column names: the base, then the base and each extra output's suffix.
    pub fn column_names(&self) -> Vec<String> {
        let base = self.column_base();
        if self.def.name == "wavelet_energy" {
            let level = self.period(1);
            return super::transformers::wavelet_energy_outputs(level).iter().map(|s| format!("{base}_{s}")).collect();
        }
        self.def.outputs.iter().map(|s| if s.is_empty() { base.clone() } else { format!("{base}_{s}") }).collect()
    }

    pub(crate) fn period(&self, k: usize) -> usize {
        match self.values[k] {
            ParamValue::Int(v) => v.max(0) as usize,
            _ => 0,
        }
    }

    pub(crate) fn number(&self, k: usize) -> f64 {
        match self.values[k] {
            ParamValue::Int(v) => v as f64,
            ParamValue::Float(v) => v,
            ParamValue::Text(_) => f64::NAN,
        }
    }

    pub(crate) fn text(&self, k: usize) -> &str {
        match &self.values[k] {
            ParamValue::Text(t) => t,
            _ => "",
        }
    }

    /// Builds the computable feature, refusing invalid parameters with the reason.
    pub fn build(&self) -> Result<Box<dyn Feature>, FeatureError> {
        let s = self.source;
        Ok(match self.def.name {
            "sma" => series(ind::Sma::new(self.period(0))?, s),
            "ema" => series(ind::Ema::new(self.period(0))?, s),
            "wma" => series(ind::Wma::new(self.period(0))?, s),
            "dema" => series(ind::Dema::new(self.period(0))?, s),
            "tema" => series(ind::Tema::new(self.period(0))?, s),
            "rsi" => series(ind::Rsi::new(self.period(0))?, s),
            "macd" => series(ind::Macd::new(self.period(0), self.period(1), self.period(2))?, s),
            "bbands" => series(ind::BollingerBands::new(self.period(0), self.number(1), self.number(1))?, s),
            "atr" => bars(ind::Atr::new(self.period(0))?, self.def.inputs),
            "natr" => bars(ind::Natr::new(self.period(0))?, self.def.inputs),
            "obv" => bars(ind::Obv::new(), self.def.inputs),
            "vwap" => timed(ind::SessionVwap::in_zone(self.text(0))?, self.def.inputs),
            "rolling_vwap" => bars(ind::RollingVwap::new(self.period(0))?, self.def.inputs),
            "stoch" => bars(ind::Stochastic::new(self.period(0), self.period(1), self.period(2))?, self.def.inputs),
            "stochrsi" => series(ind::StochRsi::new(self.period(0), self.period(1), self.period(2))?, s),
            "adx" => bars(ind::Adx::new(self.period(0))?, self.def.inputs),
            "cci" => bars(ind::Cci::new(self.period(0))?, self.def.inputs),
            "mfi" => bars(ind::Mfi::new(self.period(0))?, self.def.inputs),
            "willr" => bars(ind::WilliamsR::new(self.period(0))?, self.def.inputs),
            "roc" => series(ind::Roc::new(self.period(0))?, s),
            "mom" => series(ind::Mom::new(self.period(0))?, s),
            "keltner" => bars(ind::Keltner::new(self.period(0), self.number(1), self.period(2))?, self.def.inputs),
            "donchian" => bars(ind::Donchian::new(self.period(0))?, self.def.inputs),
            "rvol" => series(ind::RealisedVol::new(self.period(0))?, s),
            "parkinson" => bars(ind::ParkinsonVol::new(self.period(0))?, self.def.inputs),
            "garman_klass" => bars(ind::GarmanKlassVol::new(self.period(0))?, self.def.inputs),
            "zscore" => series(ind::RollingZScore::new(self.period(0))?, s),
            name if TRANSFORMERS.iter().any(|d| d.name == name) => super::transformers::build(self)?,
            other => {
                return Err(FeatureError::Invalid {
                    feature: other.into(),
                    reason: "is listed but cannot be built".into(),
                });
            }
        })
    }
}

pub(crate) fn default_value(param: &ParamDef) -> ParamValue {
    match param.kind {
        ParamKind::Period(v) => ParamValue::Int(v as i64),
        ParamKind::Number(v) => ParamValue::Float(v),
        ParamKind::Text(v) => ParamValue::Text(v.into()),
    }
}

/// Parses one parameter as its kind requires.
pub(crate) fn parse_value(def: &FeatureDef, param: &ParamDef, text: &str) -> Result<ParamValue, FeatureError> {
    let bad = |what: &str| FeatureError::param(def.name, param.name, format!("must be {what}, got `{text}`"));
    match param.kind {
        ParamKind::Period(_) => {
            text.trim().parse::<u32>().map(|v| ParamValue::Int(v.into())).map_err(|_| bad("a whole number >= 0"))
        }
        ParamKind::Number(_) => match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => {
                Ok(if v.fract() == 0.0 && v.abs() < 1e15 { ParamValue::Int(v as i64) } else { ParamValue::Float(v) })
            }
            _ => Err(bad("a finite number")),
        },
        ParamKind::Text(_) => Ok(ParamValue::Text(text.trim().to_string())),
    }
}

/// A feature ready to compute over bars (batch) or to update bar by bar (streaming).
pub trait Feature: Send {
    fn name(&self) -> &'static str;
    fn output_count(&self) -> usize;
    fn lookback(&self) -> usize;
    /// The batch form: one column per output, as long as the bars.
    fn compute(&mut self, bars: &BarColumns<'_>) -> Result<Vec<Vec<f64>>, FeatureError>;
    /// The streaming form: writes this bar's outputs into `out` (length `output_count`).
    fn update(&mut self, bar: &TimedBar, out: &mut [f64]);
    fn reset(&mut self);
    /// The peer instrument a cross-asset feature is computed against.
    fn peer(&self) -> Option<&str> {
        None
    }
    /// The streaming form of a cross-asset feature, with the peer's latest value at this bar's time.
    fn update_with_peer(&mut self, bar: &TimedBar, peer: f64, out: &mut [f64]) {
        let _ = peer;
        self.update(bar, out)
    }
    /// The batch form of a cross-asset feature: `peer` holds the peer's values at the bars' times.
    fn compute_with_peer(&mut self, bars: &BarColumns<'_>, peer: &[f64]) -> Result<Vec<Vec<f64>>, FeatureError> {
        let _ = peer;
        self.compute(bars)
    }
}

struct OnSeries<I> {
    ind: I,
    source: Field,
}

struct OnBars<I> {
    ind: I,
    fields: &'static [Field],
}

struct OnTimed<I> {
    ind: I,
    fields: &'static [Field],
}

fn series<I: Indicator<Input = f64> + Send + 'static>(ind: I, source: Field) -> Box<dyn Feature> {
    Box::new(OnSeries { ind, source })
}

fn bars<I: Indicator<Input = Ohlcv> + Send + 'static>(ind: I, fields: &'static [Field]) -> Box<dyn Feature> {
    Box::new(OnBars { ind, fields })
}

fn timed<I: Indicator<Input = TimedBar> + Send + 'static>(ind: I, fields: &'static [Field]) -> Box<dyn Feature> {
    Box::new(OnTimed { ind, fields })
}

fn field_of(bar: &Ohlcv, field: Field) -> f64 {
    match field {
        Field::Open => bar.open,
        Field::High => bar.high,
        Field::Low => bar.low,
        Field::Close => bar.close,
        Field::Volume => bar.volume,
    }
}

fn put<O: ind::Outputs>(o: O, out: &mut [f64]) {
    for (k, slot) in out.iter_mut().enumerate() {
        *slot = o.get(k);
    }
}

/// The parts of [`Feature`] the three adapters share; each supplies its batch and streaming calls.
macro_rules! feature_adapter {
    ($adapter:ident, $input:ty, |$s:ident, $bars:ident| $compute:expr, |$u:ident, $bar:ident| $update:expr) => {
        impl<I: Indicator<Input = $input> + Send> Feature for $adapter<I> {
            fn name(&self) -> &'static str {
                self.ind.name()
            }
            fn output_count(&self) -> usize {
                <I::Output as ind::Outputs>::COUNT
            }
            fn lookback(&self) -> usize {
                self.ind.lookback()
            }
            fn compute(&mut self, $bars: &BarColumns<'_>) -> Result<Vec<Vec<f64>>, FeatureError> {
                let $s = self;
                $compute
            }
            fn update(&mut self, $bar: &TimedBar, out: &mut [f64]) {
                let $u = self;
                put($update, out)
            }
            fn reset(&mut self) {
                self.ind.reset()
            }
        }
    };
}

feature_adapter!(
    OnSeries,
    f64,
    |s, bars| ind::run_series_of(&mut s.ind, bars.field(s.source), s.source.as_str()),
    |u, bar| u.ind.next(field_of(&bar.bar, u.source))
);
feature_adapter!(OnBars, Ohlcv, |s, bars| ind::run_bars(&mut s.ind, bars, s.fields), |u, bar| u.ind.next(bar.bar));
feature_adapter!(OnTimed, TimedBar, |s, bars| ind::run_timed(&mut s.ind, bars, s.fields), |u, bar| u.ind.next(*bar));

/// Parses `sma:20,ema:20,macd:12:26:9` into requests, in order.
pub fn parse_indicator_list(list: &str) -> Result<Vec<FeatureRequest>, FeatureError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let mut parts = item.split(':');
            let name = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let given: Vec<&str> = parts.collect();
            FeatureRequest::positional(&name, &given)
        })
        .collect()
}
