//! No look-ahead and one code path: for every feature in the library, values at or before bar t
//! never change when bars after t are appended or altered, and the streaming form bar by bar
//! gives exactly the batch form's values.

#![allow(clippy::unwrap_used, clippy::needless_range_loop)]

use engine::data::FloatBars;
use engine::features::indicators::{BarColumns, Ohlcv, TimedBar};
use engine::features::library::ParamKind;
use engine::features::{Feature, FeatureRequest, INDICATORS, all_features};
use proptest::prelude::*;

type Bars = FloatBars;

/// Hourly bars from a random walk, with flat stretches so that zero guards are exercised.
fn bars_strategy() -> impl Strategy<Value = Bars> {
    prop::collection::vec((-0.03f64..0.03, 0.0f64..0.02, 0.0f64..0.02, -0.01f64..0.01, 0u32..5000, 0u8..8), 80..160)
        .prop_map(|steps| {
            let mut bars = Bars::default();
            let mut price = 100.0f64;
            for (k, (ret, up, down, gap, vol, flat)) in steps.into_iter().enumerate() {
                let open = price * (1.0 + gap);
                let close = if flat == 0 { open } else { open * (1.0 + ret) };
                let (up, down) = if flat == 0 { (0.0, 0.0) } else { (up, down) };
                bars.ts.push(1_600_000_000_000_000_000 + k as i64 * 3_600_000_000_000);
                bars.open.push(open);
                bars.high.push(open.max(close) * (1.0 + up));
                bars.low.push(open.min(close) * (1.0 - down));
                bars.close.push(close);
                bars.volume.push(f64::from(vol));
                price = close;
            }
            bars
        })
}

/// Every feature with small parameters, so that all of them are defined on short series.
fn requests() -> Vec<FeatureRequest> {
    all_features()
        .map(|def| {
            let given: Vec<String> = def
                .params
                .iter()
                .map(|p| match (def.name, p.name, p.kind) {
                    ("macd", "fast", _) => "5".into(),
                    ("macd", "slow", _) => "11".into(),
                    (_, "tz", _) => "America/New_York".into(),
                    (_, "dev" | "multiplier", _) => "1.5".into(),
                    ("higuchi", "window", _) => "20".into(),
                    (_, "window", _) => "16".into(),
                    (_, "level", _) => "1".into(),
                    (_, "max_lag", _) => "3".into(),
                    (_, "other", _) => "PEER".into(),
                    (_, "low_cut", _) => "0.1".into(),
                    (_, "high_cut", _) => "0.3".into(),
                    (_, _, ParamKind::Text(default)) => default.into(),
                    _ => "4".into(),
                })
                .collect();
            let given: Vec<&str> = given.iter().map(String::as_str).collect();
            FeatureRequest::positional(def.name, &given).unwrap()
        })
        .collect()
}

/// Runs a feature in batch, against `peer` where it is a cross-asset feature.
fn batch(request: &FeatureRequest, bars: &Bars, peer: &Bars) -> Vec<Vec<f64>> {
    let mut feature = request.build().unwrap();
    match feature.peer() {
        Some(_) => feature.compute_with_peer(&bars.columns(), &peer.close).unwrap(),
        None => feature.compute(&bars.columns()).unwrap(),
    }
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn is_indicator(request: &FeatureRequest) -> bool {
    INDICATORS.iter().any(|d| d.name == request.def.name)
}

/// Indicators must match to the bit; the windowed transformers recompute each window from scratch
/// when streaming, while the batch form carries rolling sums, so they agree to rounding.
fn agrees(request: &FeatureRequest, a: f64, b: f64) -> bool {
    same(a, b) || (!is_indicator(request) && (a - b).abs() <= 1e-9 * b.abs().max(1.0))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_feature_sees_bars_after_t(bars in bars_strategy(), peer in bars_strategy(), cut in 40usize..80, shock in 0.5f64..2.0) {
        let n = bars.close.len().min(peer.close.len());
        let (bars, peer) = (bars.prefix(n), peer.prefix(n));
        let mut altered = bars.clone();
        let mut altered_peer = peer.clone();
        for i in cut..n {
            altered_peer.close[i] *= shock;
            altered.open[i] *= shock;
            altered.high[i] *= shock * 1.01;
            altered.low[i] *= shock * 0.99;
            altered.close[i] *= shock;
            altered.volume[i] += 1000.0;
        }
        let prefix = bars.prefix(cut);
        let peer_prefix = peer.prefix(cut);
        for request in requests() {
            let full = batch(&request, &bars, &peer);
            let changed = batch(&request, &altered, &altered_peer);
            let short = batch(&request, &prefix, &peer_prefix);
            for (k, name) in request.column_names().iter().enumerate() {
                for t in 0..cut {
                    prop_assert!(same(full[k][t], changed[k][t]), "{name} at {t} changed when bars after {cut} changed");
                    prop_assert!(same(full[k][t], short[k][t]), "{name} at {t} differs once bars are appended after {cut}");
                }
            }
        }
    }

    #[test]
    fn streaming_updates_equal_the_batch_form(bars in bars_strategy(), peer in bars_strategy()) {
        let n = bars.close.len().min(peer.close.len());
        let (bars, peer) = (bars.prefix(n), peer.prefix(n));
        for request in requests() {
            let batch = batch(&request, &bars, &peer);
            let mut live: Box<dyn Feature> = request.build().unwrap();
            let mut out = vec![0.0; live.output_count()];
            for i in 0..bars.close.len() {
                let bar = TimedBar {
                    ts_nanos: bars.ts[i],
                    bar: Ohlcv { open: bars.open[i], high: bars.high[i], low: bars.low[i], close: bars.close[i], volume: bars.volume[i] },
                };
                live.update_with_peer(&bar, peer.close[i], &mut out);
                for (k, v) in out.iter().enumerate() {
                    prop_assert!(agrees(&request, *v, batch[k][i]), "{} output {k} at {i}: streaming {v}, batch {}", request.column_base(), batch[k][i]);
                }
            }
            if is_indicator(&request) {
                let lookback = live.lookback();
                let first_defined = batch.iter().map(|c| c.iter().position(|v| !v.is_nan()).unwrap_or(usize::MAX)).max().unwrap();
                prop_assert_eq!(first_defined, lookback, "{}: the last output to be defined starts at the lookback", request.column_base());
            }
        }
    }
    // A live deployment computes its history in batch, then goes on bar by bar: the batch must
    // hand over the state streaming would have reached (windows included), to the bit.
    #[test]
    fn streaming_goes_on_from_where_a_batch_stopped(bars in bars_strategy(), cut in 40usize..80) {
        let n = bars.close.len();
        let prefix = bars.prefix(cut);
        for request in requests().into_iter().filter(is_indicator) {
            let full = batch(&request, &bars, &bars);
            let mut live: Box<dyn Feature> = request.build().unwrap();
            let head = live.compute(&prefix.columns()).unwrap();
            let mut out = vec![0.0; live.output_count()];
            for i in cut..n {
                let bar = TimedBar {
                    ts_nanos: bars.ts[i],
                    bar: Ohlcv { open: bars.open[i], high: bars.high[i], low: bars.low[i], close: bars.close[i], volume: bars.volume[i] },
                };
                live.update(&bar, &mut out);
                for (k, v) in out.iter().enumerate() {
                    prop_assert!(same(*v, full[k][i]), "{} output {k} at {i} after a batch of {cut}: {v}, batch of all {}", request.column_base(), full[k][i]);
                }
            }
            for (k, column) in head.iter().enumerate() {
                prop_assert!(column.iter().zip(&full[k]).all(|(a, b)| same(*a, *b)), "{} output {k}: the batch of the first {cut} bars differs", request.column_base());
            }
        }
    }
}

#[test]
fn bad_parameters_name_the_feature_and_the_reason() {
    let zero = engine::features::parse_indicator_list("sma:0").unwrap().remove(0).build().err().unwrap().to_string();
    assert_eq!(zero, "sma: parameter `period` must be at least 1, got 0");
    let slow =
        engine::features::parse_indicator_list("macd:26:12:9").unwrap().remove(0).build().err().unwrap().to_string();
    assert_eq!(slow, "macd: parameter `slow` must be above fast (26), got 12");
    let text = engine::features::parse_indicator_list("rsi:abc").err().unwrap().to_string();
    assert_eq!(text, "rsi: parameter `period` must be a whole number >= 0, got `abc`");
    let unknown = engine::features::parse_indicator_list("sma:20,foo").err().unwrap().to_string();
    assert!(unknown.starts_with("foo: no such feature"), "{unknown}");
    let extra = engine::features::parse_indicator_list("obv:3").err().unwrap().to_string();
    assert_eq!(extra, "obv: takes 0 parameter(s), got 1");
    let tz = engine::features::parse_indicator_list("vwap:Mars/Olympus")
        .unwrap()
        .remove(0)
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(tz.contains("`Mars/Olympus` is not an IANA time zone"), "{tz}");
}

#[test]
fn nan_gaps_and_short_series_are_refused_but_leading_nans_shift_the_start() {
    let mut close: Vec<f64> = (0..40).map(|i| 100.0 + f64::from(i)).collect();
    let ts: Vec<i64> = (0..40).collect();
    let ones = vec![1.0; 40];
    let sma = engine::features::parse_indicator_list("sma:5").unwrap().remove(0);
    close[0] = f64::NAN;
    close[1] = f64::NAN;
    let cols = BarColumns { ts_nanos: &ts, open: &close, high: &close, low: &close, close: &close, volume: &ones };
    let out = sma.build().unwrap().compute(&cols).unwrap();
    assert_eq!(out[0].iter().position(|v| !v.is_nan()), Some(2 + 4), "leading NaNs of the input plus the lookback");
    close[20] = f64::NAN;
    let cols = BarColumns { ts_nanos: &ts, open: &close, high: &close, low: &close, close: &close, volume: &ones };
    let err = sma.build().unwrap().compute(&cols).unwrap_err().to_string();
    assert_eq!(err, "sma: input `close` is NaN at row 20, after valid values; fill or drop the gap first");
    let atr = engine::features::parse_indicator_list("atr:14").unwrap().remove(0);
    let err = atr.build().unwrap().compute(&cols).unwrap_err().to_string();
    assert!(
        err.starts_with("atr: input `low` is NaN at row 20") || err.starts_with("atr: input `high` is NaN at row 20"),
        "{err}"
    );
    let short = &close[2..10];
    let cols =
        BarColumns { ts_nanos: &ts[..8], open: short, high: short, low: short, close: short, volume: &ones[..8] };
    let err = engine::features::parse_indicator_list("rsi:14")
        .unwrap()
        .remove(0)
        .build()
        .unwrap()
        .compute(&cols)
        .unwrap_err();
    assert_eq!(err.to_string(), "rsi: the input has 8 points but at least 15 are needed");
}

#[test]
fn log_volatility_is_undefined_over_windows_holding_a_non_positive_price() {
    let n = 60;
    let ts: Vec<i64> = (0..n as i64).collect();
    let mut close: Vec<f64> = (0..n).map(|i| 100.0 + (i as f64 * 0.7).sin()).collect();
    let open: Vec<f64> = close.iter().map(|c| c * 0.999).collect();
    let high: Vec<f64> = close.iter().map(|c| c * 1.01).collect();
    let mut low: Vec<f64> = close.iter().map(|c| c * 0.99).collect();
    let ones = vec![1.0; n];
    // A bad print: the close and low at bar 30 are 0 (no logarithm).
    close[30] = 0.0;
    low[30] = 0.0;
    let cols = BarColumns { ts_nanos: &ts, open: &open, high: &high, low: &low, close: &close, volume: &ones };
    let period = 5;
    for (spec, first_bad, last_bad) in [
        // rvol's returns 30 (into the zero) and 31 (out of it) are undefined.
        ("rvol:5", 30, 31 + period - 1),
        ("parkinson:5", 30, 30 + period - 1),
        ("garman_klass:5", 30, 30 + period - 1),
    ] {
        let out =
            engine::features::parse_indicator_list(spec).unwrap().remove(0).build().unwrap().compute(&cols).unwrap();
        let v = &out[0];
        for (t, x) in v.iter().enumerate().skip(period) {
            if (first_bad..=last_bad).contains(&t) {
                assert!(x.is_nan(), "{spec} at {t}: a window holding the zero price must be NaN, got {x}");
            } else {
                assert!(x.is_finite() && *x > 0.0, "{spec} at {t}: a clean window must have a volatility, got {x}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Labels may look forward by their horizon and no further; normalised features not at all.
    #[test]
    fn labels_look_ahead_only_by_their_horizon_and_normalisers_not_at_all(bars in bars_strategy(), cut in 60usize..80, shock in 0.5f64..2.0) {
        let spec = engine::features::FeatureSpec::parse(
            r#"
[[feature]]
name = "rsi"
period = 5
[[feature]]
name = "atr"
period = 5
[[normalise]]
method = "rolling_zscore"
window = 10
columns = ["rsi_5"]
[[normalise]]
method = "expanding_minmax"
min_periods = 3
columns = ["atr_5"]
keep_raw = true
[[labels]]
kind = "fixed_horizon"
horizon = 4
buy_threshold = 0.002
sell_threshold = -0.002
[[labels]]
kind = "triple_barrier"
horizon = 6
profit_take = 1.0
stop_loss = 1.0
vol_period = 10
min_return = 0.0
"#,
            "test",
        )
        .unwrap();
        let mut altered = bars.clone();
        for i in cut..altered.close.len() {
            altered.close[i] *= shock;
            altered.high[i] = altered.high[i].max(altered.close[i]) * shock.max(1.0);
            altered.low[i] = altered.low[i].min(altered.close[i]) * shock.min(1.0);
        }
        let a = spec.build_matrix(&[engine::features::InstrumentBars { symbol: "X", bars: bars.columns() }], "ts").unwrap();
        let b = spec.build_matrix(&[engine::features::InstrumentBars { symbol: "X", bars: altered.columns() }], "ts").unwrap();
        for name in &a.feature_columns {
            let (x, y) = (a.frame.column(name).unwrap().f64().unwrap(), b.frame.column(name).unwrap().f64().unwrap());
            for t in 0..cut {
                prop_assert_eq!(x.get(t), y.get(t), "{} at {} saw bars after {}", name, t, cut);
            }
        }
        for (name, horizon) in a.label_columns.iter().zip(&a.label_horizons) {
            let (x, y) = (a.frame.column(name).unwrap().f64().unwrap(), b.frame.column(name).unwrap().f64().unwrap());
            for t in 0..cut - horizon {
                prop_assert_eq!(x.get(t), y.get(t), "{} at {} looked beyond its horizon {}", name, t, horizon);
            }
        }
    }
}
