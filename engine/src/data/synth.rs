//! Seeded synthetic OHLCV bars for benchmarks, scale tests and examples: a GARCH, jump and
//! regime-switching price model streamed bar by bar in constant memory, and a fast CSV writer.

use std::io::Write;

use chrono::Months;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::data::BarSeries;
use crate::domain::{Bar, Decimal, Timeframe, Timestamp};

/// Bars run around the clock (like crypto), so a year is calendar seconds.
const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;
/// Far below `i64::MAX`, so that rounding and clamping never overflow a tick count.
const MAX_TICKS: i64 = 100_000_000_000_000_000;
const MAX_DECIMALS: u32 = 9;
const MAX_SUBSTEPS: u32 = 64;
const PROGRESS_EVERY: usize = 100_000;
const NANOS_PER_DAY: i64 = 86_400 * Timestamp::NANOS_PER_SECOND;
const CSV_CHUNK: usize = 1 << 16;
/// Without an explicit switching probability, a regime lasts this long on average.
const DEFAULT_REGIME_DAYS: f64 = 60.0;

/// GARCH(1,1) recursion of the per-bar variance: `h' = omega + alpha * e^2 + beta * h`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Garch {
    /// Per-bar omega. `None` derives it from `annual_vol` and the timeframe, which keeps 1m and 1d
    /// bars equally realistic; `Some` overrides the diffusion part of `annual_vol`.
    pub omega: Option<f64>,
    pub alpha: f64,
    pub beta: f64,
}

impl Default for Garch {
    fn default() -> Self {
        Self { omega: None, alpha: 0.08, beta: 0.90 }
    }
}

/// Compound Poisson jumps with normally distributed log sizes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Jumps {
    pub intensity_per_year: f64,
    pub mean: f64,
    pub std: f64,
}

impl Default for Jumps {
    fn default() -> Self {
        Self { intensity_per_year: 4.0, mean: -0.01, std: 0.04 }
    }
}

/// One market regime: multipliers of the annual drift and of the diffusion volatility.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Regime {
    pub drift_mult: f64,
    pub vol_mult: f64,
}

/// Lognormal volume whose log correlates with the size of the bar's return.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Volume {
    /// Mean volume per day, spread over bars by their length.
    pub mean_per_day: f64,
    /// Standard deviation of log volume.
    pub sigma: f64,
    /// Correlation of log volume with the standardised absolute return, in [-1, 1].
    pub vol_correlation: f64,
    pub decimals: u32,
}

impl Default for Volume {
    fn default() -> Self {
        Self { mean_per_day: 1_000_000.0, sigma: 0.5, vol_correlation: 0.6, decimals: 0 }
    }
}

/// What to generate. Every field has a default, so a config file may name only a few.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthConfig {
    pub seed: u64,
    pub bars: usize,
    /// Stamp of the first bar; later bars follow every `timeframe`, with no closed sessions.
    pub start: Timestamp,
    pub timeframe: Timeframe,
    pub start_price: f64,
    /// Arithmetic drift per year (GBM's mu), scaled by the regime's `drift_mult`.
    pub annual_drift: f64,
    /// Target annualised volatility of log returns, diffusion, regimes and jumps together.
    pub annual_vol: f64,
    pub garch: Garch,
    pub jumps: Jumps,
    /// Markov regimes; the first is where the series starts.
    pub regimes: Vec<Regime>,
    /// Per-bar probability of leaving the regime for one of the others, chosen uniformly.
    /// `None` makes regimes last 60 days on average whatever the timeframe.
    pub regime_switch_prob: Option<f64>,
    /// Intrabar path steps; each is bridged exactly, so a few give realistic highs and lows.
    pub substeps: u32,
    /// Prices are rounded to this many decimals (the tick).
    pub price_decimals: u32,
    pub volume: Volume,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            bars: 10_000,
            start: Timestamp::from_nanos(1_577_836_800 * Timestamp::NANOS_PER_SECOND),
            timeframe: Timeframe::D1,
            start_price: 100.0,
            annual_drift: 0.07,
            annual_vol: 0.30,
            garch: Garch::default(),
            jumps: Jumps::default(),
            regimes: vec![Regime { drift_mult: 2.5, vol_mult: 0.8 }, Regime { drift_mult: -0.5, vol_mult: 1.5 }],
            regime_switch_prob: None,
            substeps: 4,
            price_decimals: 2,
            volume: Volume::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("invalid synthetic data config: {field} {reason}")]
    InvalidConfig { field: String, reason: String },
    #[error("writing synthetic bars: {0}")]
    Io(#[from] std::io::Error),
}

fn ensure(ok: bool, field: impl Into<String>, reason: impl Into<String>) -> Result<(), SynthError> {
    if ok { Ok(()) } else { Err(SynthError::InvalidConfig { field: field.into(), reason: reason.into() }) }
}

/// A bar in whole ticks, before it becomes decimals or CSV text.
#[derive(Clone, Copy, Debug)]
struct TickBar {
    ts: Timestamp,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    volume: i64,
}

/// Streams synthetic bars; holds only the model state, so any number of bars fits in memory.
#[derive(Clone, Debug)]
pub struct SyntheticBars {
    rng: ChaCha8Rng,
    start: Timestamp,
    timeframe: Timeframe,
    total: usize,
    emitted: usize,
    regimes: Vec<Regime>,
    switch_prob: f64,
    substeps: u32,
    price_decimals: u32,
    price_scale: f64,
    volume: Volume,
    volume_scale: f64,
    drift_per_bar: f64,
    omega: f64,
    alpha: f64,
    beta: f64,
    jump_count: Option<Poisson<f64>>,
    jumps: Jumps,
    jump_compensator: f64,
    /// Long-run standard deviation of one bar's log return, to standardise returns for volume.
    bar_sd: f64,
    volume_log_mean: f64,
    log_floor: f64,
    log_ceiling: f64,
    log_price: f64,
    h: f64,
    regime: usize,
    prev_close: i64,
}

impl SyntheticBars {
    pub fn new(config: SynthConfig) -> Result<Self, SynthError> {
        let c = config;
        ensure(c.bars > 0, "bars", "must be at least 1")?;
        let bar_seconds = match c.timeframe {
            Timeframe::Seconds(s) => f64::from(s),
            Timeframe::Months(m) => f64::from(m) * SECONDS_PER_YEAR / 12.0,
        };
        ensure(bar_seconds > 0.0, "timeframe", "must have a non-zero length")?;
        let last = stamp_at(c.start, c.timeframe, c.bars - 1);
        ensure(last.is_some(), "bars", format!("{} bars from {} run past the year 2262", c.bars, c.start))?;
        let dt = bar_seconds / SECONDS_PER_YEAR;

        ensure(c.price_decimals <= MAX_DECIMALS, "price_decimals", format!("must be at most {MAX_DECIMALS}"))?;
        let price_scale = 10f64.powi(c.price_decimals as i32);
        let first = (c.start_price * price_scale).round();
        ensure(c.start_price.is_finite() && c.start_price > 0.0, "start_price", "must be positive")?;
        ensure(first >= 1.0, "start_price", "rounds to zero at price_decimals")?;
        ensure(first < MAX_TICKS as f64 / 1e3, "start_price", "is too large for price_decimals")?;
        ensure(c.annual_drift.is_finite(), "annual_drift", "must be finite")?;
        ensure(c.annual_vol.is_finite() && c.annual_vol > 0.0, "annual_vol", "must be positive")?;

        let g = c.garch;
        ensure(g.alpha.is_finite() && g.alpha >= 0.0, "garch.alpha", "must be non-negative")?;
        ensure(g.beta.is_finite() && g.beta >= 0.0, "garch.beta", "must be non-negative")?;
        ensure(g.alpha + g.beta < 1.0, "garch.alpha + garch.beta", "must be below 1 for a finite long-run variance")?;
        ensure(g.omega.is_none_or(|w| w.is_finite() && w > 0.0), "garch.omega", "must be positive")?;

        let j = c.jumps;
        ensure(
            j.intensity_per_year.is_finite() && j.intensity_per_year >= 0.0,
            "jumps.intensity_per_year",
            "must be non-negative",
        )?;
        ensure(j.mean.is_finite() && j.mean.abs() < 1.0, "jumps.mean", "must be a log size within (-1, 1)")?;
        ensure(j.std.is_finite() && (0.0..1.0).contains(&j.std), "jumps.std", "must be within [0, 1)")?;
        let jump_var_year = j.intensity_per_year * (j.mean * j.mean + j.std * j.std);
        let diffusion_var_year = c.annual_vol * c.annual_vol - jump_var_year;
        ensure(
            g.omega.is_some() || diffusion_var_year > 0.0,
            "jumps",
            format!("alone have variance {jump_var_year:.4} per year, at least annual_vol squared"),
        )?;
        let lambda = j.intensity_per_year * dt;
        ensure(lambda < 1e6, "jumps.intensity_per_year", "is too high for this timeframe")?;

        ensure(!c.regimes.is_empty(), "regimes", "must name at least one regime")?;
        for (i, r) in c.regimes.iter().enumerate() {
            ensure(r.drift_mult.is_finite(), format!("regimes[{i}].drift_mult"), "must be finite")?;
            ensure(r.vol_mult.is_finite() && r.vol_mult > 0.0, format!("regimes[{i}].vol_mult"), "must be positive")?;
        }
        let switch_prob = c.regime_switch_prob.unwrap_or(1.0 - (-bar_seconds / 86_400.0 / DEFAULT_REGIME_DAYS).exp());
        ensure((0.0..=1.0).contains(&switch_prob), "regime_switch_prob", "must be within [0, 1]")?;
        ensure((1..=MAX_SUBSTEPS).contains(&c.substeps), "substeps", format!("must be within 1..={MAX_SUBSTEPS}"))?;

        let v = c.volume;
        ensure(v.mean_per_day.is_finite() && v.mean_per_day > 0.0, "volume.mean_per_day", "must be positive")?;
        ensure(v.sigma.is_finite() && (0.0..=5.0).contains(&v.sigma), "volume.sigma", "must be within [0, 5]")?;
        ensure((-1.0..=1.0).contains(&v.vol_correlation), "volume.vol_correlation", "must be within [-1, 1]")?;
        ensure(v.decimals <= MAX_DECIMALS, "volume.decimals", format!("must be at most {MAX_DECIMALS}"))?;

        // Switching to a uniformly chosen other regime makes the stationary distribution uniform,
        // so dividing by the mean squared multiplier keeps the overall variance on target.
        let mean_sq_mult = c.regimes.iter().map(|r| r.vol_mult * r.vol_mult).sum::<f64>() / c.regimes.len() as f64;
        let persistence = 1.0 - g.alpha - g.beta;
        let omega = g.omega.unwrap_or(persistence * diffusion_var_year * dt / mean_sq_mult);
        let h = omega / persistence;
        let volume_mean = v.mean_per_day * bar_seconds / 86_400.0;
        Ok(Self {
            rng: ChaCha8Rng::seed_from_u64(c.seed),
            start: c.start,
            timeframe: c.timeframe,
            total: c.bars,
            emitted: 0,
            switch_prob,
            substeps: c.substeps,
            price_decimals: c.price_decimals,
            price_scale,
            volume: v,
            volume_scale: 10f64.powi(v.decimals as i32),
            drift_per_bar: c.annual_drift * dt,
            omega,
            alpha: g.alpha,
            beta: g.beta,
            jump_count: if lambda > 0.0 { Poisson::new(lambda).ok() } else { None },
            jumps: j,
            jump_compensator: lambda * ((j.mean + 0.5 * j.std * j.std).exp() - 1.0),
            bar_sd: (h * mean_sq_mult + jump_var_year * dt).sqrt(),
            volume_log_mean: volume_mean.ln() - 0.5 * v.sigma * v.sigma,
            log_floor: (0.5 / price_scale).ln(),
            log_ceiling: (MAX_TICKS as f64 / price_scale).ln() - 10.0,
            log_price: c.start_price.ln(),
            h,
            regime: 0,
            prev_close: first as i64,
            regimes: c.regimes,
        })
    }

    fn next_ticks(&mut self) -> Option<TickBar> {
        if self.emitted >= self.total {
            return None;
        }
        // Validated in `new` for the last bar, and stamps only grow, so this never falls back.
        let ts = stamp_at(self.start, self.timeframe, self.emitted).unwrap_or(self.start);
        if self.emitted > 0 && self.regimes.len() > 1 && self.rng.random::<f64>() < self.switch_prob {
            let k = self.regimes.len();
            self.regime = (self.regime + self.rng.random_range(1..k)) % k;
        }
        self.emitted += 1;
        let Regime { drift_mult, vol_mult } = self.regimes[self.regime];

        let n = f64::from(self.substeps);
        let var = vol_mult * vol_mult * self.h;
        let sub_var = var / n;
        let sub_sd = sub_var.sqrt();
        // Compensating for variance and jumps makes E[price] grow at exactly the regime's drift.
        let sub_drift = (drift_mult * self.drift_per_bar - 0.5 * var - self.jump_compensator) / n;
        let count = self.jump_count.as_ref().map_or(0.0, |p| p.sample(&mut self.rng));
        let (jump_at, jump) = if count > 0.0 {
            let z: f64 = self.rng.sample(StandardNormal);
            let at = self.rng.random_range(0..self.substeps);
            (at, count * self.jumps.mean + count.sqrt() * self.jumps.std * z)
        } else {
            (u32::MAX, 0.0)
        };

        let open_log = self.log_price;
        let (mut x, mut hi, mut lo, mut z_sum) = (open_log, open_log, open_log, 0.0);
        for k in 0..self.substeps {
            if k == jump_at {
                x += jump;
                hi = hi.max(x);
                lo = lo.min(x);
            }
            let z: f64 = self.rng.sample(StandardNormal);
            z_sum += z;
            let next = x + sub_drift + sub_sd * z;
            // The extremes of a Brownian bridge between x and next have a closed form, so the
            // range is right without simulating every tick.
            let d2 = (next - x) * (next - x);
            let u_hi = 1.0 - self.rng.random::<f64>();
            let u_lo = 1.0 - self.rng.random::<f64>();
            hi = hi.max(0.5 * (x + next + (d2 - 2.0 * sub_var * u_hi.ln()).sqrt()));
            lo = lo.min(0.5 * (x + next - (d2 - 2.0 * sub_var * u_lo.ln()).sqrt()));
            x = next;
        }
        // The recursion sees the shock before regime scaling, so regimes do not shift its level.
        let e = self.h.sqrt() * z_sum / n.sqrt();
        self.h = self.omega + self.alpha * e * e + self.beta * self.h;
        self.log_price = x.clamp(self.log_floor, self.log_ceiling);

        let open = self.prev_close;
        let close = to_ticks((self.log_price.exp() * self.price_scale).round());
        let high = to_ticks((hi.exp() * self.price_scale).ceil()).max(open).max(close);
        let low = to_ticks((lo.exp() * self.price_scale).floor()).min(open).min(close);
        self.prev_close = close;

        let abs_return = ((x - open_log).abs() / self.bar_sd).min(8.0);
        let size = (abs_return - MEAN_ABS_NORMAL) / SD_ABS_NORMAL;
        let noise: f64 = self.rng.sample(StandardNormal);
        let rho = self.volume.vol_correlation;
        let mixed = rho * size + (1.0 - rho * rho).sqrt() * noise;
        let volume = (self.volume_log_mean + self.volume.sigma * mixed).exp() * self.volume_scale;
        let volume = (volume.round() as i64).clamp(0, MAX_TICKS);
        Some(TickBar { ts, open, high, low, close, volume })
    }

    fn to_bar(&self, t: TickBar) -> Bar {
        let price = |ticks| Decimal::new(ticks, self.price_decimals);
        let bar = Bar {
            ts: t.ts,
            open: price(t.open),
            high: price(t.high),
            low: price(t.low),
            close: price(t.close),
            volume: Decimal::new(t.volume, self.volume.decimals),
        };
        debug_assert!(Bar::new(bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume).is_ok());
        bar
    }
}

/// E|Z| and SD|Z| for a standard normal Z, to standardise absolute returns.
const MEAN_ABS_NORMAL: f64 = 0.797_884_560_802_865_4;
const SD_ABS_NORMAL: f64 = 0.602_810_275_638_067_3;

/// Rounded prices stay at least one tick, so a crashed path still yields valid bars.
fn to_ticks(rounded: f64) -> i64 {
    (rounded as i64).clamp(1, MAX_TICKS)
}

/// Months are calendar months counted from the start, so that month ends do not drift.
fn stamp_at(start: Timestamp, timeframe: Timeframe, i: usize) -> Option<Timestamp> {
    match timeframe {
        Timeframe::Seconds(s) => {
            let step = i64::from(s) * Timestamp::NANOS_PER_SECOND;
            step.checked_mul(i64::try_from(i).ok()?)?.checked_add(start.nanos()).map(Timestamp::from_nanos)
        }
        Timeframe::Months(m) => {
            let months = Months::new(u32::try_from(i).ok()?.checked_mul(m)?);
            start.to_datetime().checked_add_months(months).and_then(Timestamp::from_datetime)
        }
    }
}

impl Iterator for SyntheticBars {
    type Item = Bar;

    fn next(&mut self) -> Option<Bar> {
        self.next_ticks().map(|t| self.to_bar(t))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.total - self.emitted;
        (left, Some(left))
    }
}

impl ExactSizeIterator for SyntheticBars {}
impl std::iter::FusedIterator for SyntheticBars {}

/// Generates the whole series in memory.
pub fn generate(config: &SynthConfig) -> Result<BarSeries, SynthError> {
    let bars = SyntheticBars::new(config.clone())?;
    let mut series = BarSeries::with_capacity(config.bars);
    for bar in bars {
        series.push_bar(&bar, 0);
    }
    Ok(series)
}

/// Streams the bars as CSV (`timestamp,open,high,low,close,volume`, ISO-8601 UTC stamps) and
/// returns how many rows were written. `progress` hears the row count every 100,000 rows and at
/// the end. Prices keep all `price_decimals` digits, exactly as `Decimal` displays them.
pub fn write_csv<W: Write>(
    config: &SynthConfig,
    mut out: W,
    mut progress: impl FnMut(usize),
) -> Result<usize, SynthError> {
    let mut bars = SyntheticBars::new(config.clone())?;
    let (pd, vd) = (bars.price_decimals, bars.volume.decimals);
    let mut buf: Vec<u8> = Vec::with_capacity(CSV_CHUNK + 256);
    buf.extend_from_slice(b"timestamp,open,high,low,close,volume\n");
    let mut stamps = StampText { day: i64::MIN, date: [0; 11] };
    let mut rows = 0;
    while let Some(t) = bars.next_ticks() {
        stamps.push(&mut buf, t.ts)?;
        for (ticks, decimals) in [(t.open, pd), (t.high, pd), (t.low, pd), (t.close, pd), (t.volume, vd)] {
            buf.push(b',');
            push_fixed(&mut buf, ticks, decimals);
        }
        buf.push(b'\n');
        rows += 1;
        let report = rows % PROGRESS_EVERY == 0;
        // Flushing before reporting means a reported row is really in `out`.
        if report || buf.len() >= CSV_CHUNK {
            out.write_all(&buf)?;
            buf.clear();
        }
        if report {
            progress(rows);
        }
    }
    out.write_all(&buf)?;
    out.flush()?;
    if rows % PROGRESS_EVERY != 0 {
        progress(rows);
    }
    Ok(rows)
}

/// `Timestamp`'s Display text, with the date reused within a UTC day: formatting every stamp
/// through chrono took two thirds of the time of a CSV row.
struct StampText {
    day: i64,
    date: [u8; 11],
}

impl StampText {
    fn push(&mut self, buf: &mut Vec<u8>, ts: Timestamp) -> std::io::Result<()> {
        let nanos = ts.nanos();
        let (day, second) = (nanos.div_euclid(NANOS_PER_DAY), nanos.rem_euclid(NANOS_PER_DAY) / 1_000_000_000);
        if day != self.day || nanos % Timestamp::NANOS_PER_SECOND != 0 {
            let from = buf.len();
            write!(buf, "{ts}")?;
            // `YYYY-MM-DDT`: years within Timestamp's range always have four digits.
            if let Some(date) = buf.get(from..from + 11) {
                self.date.copy_from_slice(date);
                self.day = day;
            }
            return Ok(());
        }
        buf.extend_from_slice(&self.date);
        for (value, end) in [(second / 3600, b':'), (second / 60 % 60, b':'), (second % 60, b'Z')] {
            buf.extend_from_slice(&[b'0' + (value / 10) as u8, b'0' + (value % 10) as u8, end]);
        }
        Ok(())
    }
}

/// Writes `ticks / 10^decimals` with exactly `decimals` fraction digits, as `Decimal` would.
fn push_fixed(buf: &mut Vec<u8>, ticks: i64, decimals: u32) {
    let mut digits = [b'0'; 24];
    let mut pos = digits.len();
    let mut rest = ticks.unsigned_abs();
    let mut written = 0;
    while rest > 0 || written <= decimals {
        if written == decimals && decimals > 0 {
            pos -= 1;
            digits[pos] = b'.';
        }
        pos -= 1;
        digits[pos] = b'0' + (rest % 10) as u8;
        rest /= 10;
        written += 1;
    }
    buf.extend_from_slice(&digits[pos..]);
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::*;

    fn config(seed: u64, bars: usize, timeframe: Timeframe) -> SynthConfig {
        SynthConfig { seed, bars, timeframe, ..SynthConfig::default() }
    }

    /// Annualised vol, lag-1 autocorrelations of returns and squared returns, and kurtosis of
    /// the close-to-close log returns.
    fn return_stats(cfg: &SynthConfig, bars_per_year: f64) -> (f64, f64, f64, f64) {
        let close = BarSeries::as_f64(&generate(cfg).unwrap().close);
        let r: Vec<f64> = close.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
        let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
        let ac1 = |x: &[f64]| {
            let m = mean(x);
            let cov: f64 = x.windows(2).map(|w| (w[0] - m) * (w[1] - m)).sum();
            cov / x.iter().map(|v| (v - m) * (v - m)).sum::<f64>()
        };
        let m = mean(&r);
        let var = mean(&r.iter().map(|v| (v - m).powi(2)).collect::<Vec<_>>());
        let kurtosis = mean(&r.iter().map(|v| (v - m).powi(4)).collect::<Vec<_>>()) / (var * var);
        let squared: Vec<f64> = r.iter().map(|v| v * v).collect();
        ((var * bars_per_year).sqrt(), ac1(&r), ac1(&squared), kurtosis)
    }

    #[test]
    fn the_same_seed_gives_the_same_bars_and_another_seed_differs() {
        let a = generate(&config(7, 2_000, Timeframe::H1)).unwrap();
        assert_eq!(a, generate(&config(7, 2_000, Timeframe::H1)).unwrap());
        assert_ne!(a.close, generate(&config(8, 2_000, Timeframe::H1)).unwrap().close);
        let mut stream = SyntheticBars::new(config(7, 2_000, Timeframe::H1)).unwrap();
        let first: Vec<Bar> = stream.by_ref().take(10).collect();
        assert_eq!((a.len(), stream.len(), &first[3]), (2_000, 1_990, &a.bar(3).unwrap()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn every_bar_is_valid_and_stamps_follow_the_timeframe(
            seed in any::<u64>(),
            bars in 1usize..300,
            tf in prop::sample::select(vec![
                Timeframe::Seconds(1), Timeframe::M1, Timeframe::M15, Timeframe::H4,
                Timeframe::D1, Timeframe::W1, Timeframe::MO1, Timeframe::Months(3),
            ]),
            price_decimals in 0u32..6,
            start_price in 1.0f64..5_000.0,
            volatile in any::<bool>(),
        ) {
            let mut cfg = SynthConfig { seed, bars, timeframe: tf, price_decimals, start_price, ..SynthConfig::default() };
            if volatile {
                cfg.annual_vol = 1.5;
                cfg.jumps = Jumps { intensity_per_year: 50.0, mean: -0.05, std: 0.15 };
            }
            let series = generate(&cfg).unwrap();
            prop_assert_eq!(series.len(), bars);
            for i in 0..series.len() {
                let bar = series.bar(i);
                prop_assert!(bar.is_ok(), "bar {} invalid: {:?}", i, bar);
                if i > 0 {
                    prop_assert_eq!(series.open[i], series.close[i - 1]);
                    let expected = match tf {
                        Timeframe::Seconds(_) => series.ts[i - 1].saturating_add(tf.nominal_nanos()),
                        Timeframe::Months(m) => Timestamp::from_datetime(
                            cfg.start.to_datetime().checked_add_months(Months::new(m * i as u32)).unwrap(),
                        ).unwrap(),
                    };
                    prop_assert_eq!(series.ts[i], expected);
                    prop_assert!(series.ts[i] > series.ts[i - 1]);
                }
            }
        }
    }

    #[test]
    fn daily_bars_have_the_target_vol_clustering_and_fat_tails() {
        let cfg = SynthConfig { bars: 50_000, price_decimals: 6, ..SynthConfig::default() };
        let (vol, ac, ac_sq, kurtosis) = return_stats(&cfg, 365.25);
        // Over 30 seeds the sample vol stayed within 4% of the target, ac_sq within 0.12..0.27.
        assert!((vol / cfg.annual_vol - 1.0).abs() < 0.10, "annualised vol {vol:.4}, target {}", cfg.annual_vol);
        assert!(ac_sq > 0.05, "squared-return autocorrelation {ac_sq:.4} shows no clustering");
        assert!(ac.abs() < 0.05, "return autocorrelation {ac:.4} is too large");
        assert!(kurtosis > 3.0, "kurtosis {kurtosis:.2} is not fat-tailed");
    }

    #[test]
    fn minute_bars_scale_the_variance_to_the_same_annual_vol() {
        let jumps = Jumps { intensity_per_year: 0.0, ..Jumps::default() };
        let regimes = vec![Regime { drift_mult: 1.0, vol_mult: 1.0 }];
        let cfg = SynthConfig { price_decimals: 6, jumps, regimes, ..config(5, 50_000, Timeframe::M1) };
        let (vol, ..) = return_stats(&cfg, SECONDS_PER_YEAR / 60.0);
        assert!((vol / cfg.annual_vol - 1.0).abs() < 0.10, "annualised vol {vol:.4}, target {}", cfg.annual_vol);
    }

    #[test]
    fn volume_rises_with_the_size_of_the_move() {
        let s = generate(&config(9, 20_000, Timeframe::H1)).unwrap();
        let (open, close, volume) =
            (BarSeries::as_f64(&s.open), BarSeries::as_f64(&s.close), BarSeries::as_f64(&s.volume));
        let x: Vec<f64> = open.iter().zip(&close).map(|(o, c)| (c / o).ln().abs()).collect();
        let y: Vec<f64> = volume.iter().map(|v| v.max(1.0).ln()).collect();
        let (mx, my) = (x.iter().sum::<f64>() / x.len() as f64, y.iter().sum::<f64>() / y.len() as f64);
        let cov: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let sd = |v: &[f64], m: f64| v.iter().map(|a| (a - m) * (a - m)).sum::<f64>().sqrt();
        let corr = cov / (sd(&x, mx) * sd(&y, my));
        assert!(corr > 0.2, "volume barely follows the move: correlation {corr:.3}");
    }

    #[test]
    fn csv_output_parses_back_to_the_generated_bars() {
        let cfg = SynthConfig {
            price_decimals: 3,
            volume: Volume { decimals: 2, ..Volume::default() },
            start: Timestamp::from_str("1969-12-25T23:58:37Z").unwrap(),
            ..config(11, 2_500, Timeframe::Seconds(3_607))
        };
        let mut out = Vec::new();
        let mut reports = Vec::new();
        assert_eq!(write_csv(&cfg, &mut out, |n| reports.push(n)).unwrap(), 2_500);
        assert_eq!(reports, vec![2_500]);
        let series = generate(&cfg).unwrap();
        let mut reader = csv::Reader::from_reader(out.as_slice());
        assert_eq!(reader.headers().unwrap(), vec!["timestamp", "open", "high", "low", "close", "volume"]);
        let mut n = 0;
        for (i, record) in reader.records().enumerate() {
            let r = record.unwrap();
            assert_eq!(Timestamp::from_str(&r[0]).unwrap(), series.ts[i]);
            assert_eq!(r[0], series.ts[i].to_string());
            let columns = [&series.open, &series.high, &series.low, &series.close, &series.volume];
            for (field, column) in columns.iter().enumerate() {
                assert_eq!(r[field + 1], column[i].to_string(), "row {i} field {field}");
                assert_eq!(Decimal::from_str(&r[field + 1]).unwrap(), column[i]);
            }
            n += 1;
        }
        assert_eq!(n, series.len());
        assert!(String::from_utf8(out).unwrap().lines().nth(1).unwrap().starts_with("1969-12-25T23:58:37Z,"));
    }

    #[test]
    fn progress_is_reported_every_hundred_thousand_rows_and_at_the_end() {
        let mut reports = Vec::new();
        let rows = write_csv(&config(1, 200_001, Timeframe::M1), std::io::sink(), |n| reports.push(n)).unwrap();
        assert_eq!(rows, 200_001);
        assert_eq!(reports, vec![100_000, 200_000, 200_001]);
    }

    #[test]
    fn fixed_point_text_matches_decimal_display() {
        for (ticks, d) in [(0, 0), (7, 0), (5, 2), (10_050, 2), (1, 9), (123_456_789_012, 4), (MAX_TICKS, 9)] {
            let mut buf = Vec::new();
            push_fixed(&mut buf, ticks, d);
            assert_eq!(String::from_utf8(buf).unwrap(), Decimal::new(ticks, d).to_string());
        }
    }

    #[test]
    fn invalid_configs_name_the_field() {
        let field_of = |cfg: SynthConfig| match SyntheticBars::new(cfg) {
            Err(SynthError::InvalidConfig { field, .. }) => field,
            other => panic!("expected an invalid config, got {other:?}"),
        };
        let d = SynthConfig::default;
        let cases = [
            (SynthConfig { bars: 0, ..d() }, "bars"),
            (SynthConfig { bars: 1_000_000, timeframe: Timeframe::W1, ..d() }, "bars"),
            (SynthConfig { start_price: -1.0, ..d() }, "start_price"),
            (SynthConfig { start_price: 0.001, ..d() }, "start_price"),
            (SynthConfig { timeframe: Timeframe::Seconds(0), ..d() }, "timeframe"),
            (SynthConfig { garch: Garch { alpha: 0.3, beta: 0.7, omega: None }, ..d() }, "garch.alpha + garch.beta"),
            (SynthConfig { jumps: Jumps { intensity_per_year: 100.0, mean: 0.0, std: 0.1 }, ..d() }, "jumps"),
            (SynthConfig { regimes: vec![], ..d() }, "regimes"),
            (SynthConfig { regimes: vec![Regime { drift_mult: 1.0, vol_mult: 0.0 }], ..d() }, "regimes[0].vol_mult"),
            (SynthConfig { regime_switch_prob: Some(1.5), ..d() }, "regime_switch_prob"),
        ];
        for (cfg, field) in cases {
            assert_eq!(field_of(cfg), field);
        }
        let message = SyntheticBars::new(SynthConfig { bars: 0, ..d() }).unwrap_err().to_string();
        assert!(message.contains("bars must be at least 1"), "{message}");
    }

    #[test]
    fn a_config_file_may_name_only_a_few_fields() {
        let cfg: SynthConfig =
            toml::from_str("bars = 5\ntimeframe = \"1m\"\n[jumps]\nintensity_per_year = 0.0\n").unwrap();
        assert_eq!((cfg.bars, cfg.timeframe, cfg.jumps.std), (5, Timeframe::M1, Jumps::default().std));
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<SynthConfig>(&json).unwrap(), cfg);
    }

    /// `cargo test -p sextant-engine --lib synth -- --ignored --nocapture`
    #[test]
    #[ignore = "throughput measurement"]
    fn write_csv_throughput() {
        let cfg = config(1, 1_000_000, Timeframe::M1);
        let started = std::time::Instant::now();
        let mut out = Vec::with_capacity(80_000_000);
        let rows = write_csv(&cfg, &mut out, |_| {}).unwrap();
        let secs = started.elapsed().as_secs_f64();
        println!("write_csv: {rows} rows, {} bytes in {secs:.2}s = {:.0} rows/s", out.len(), rows as f64 / secs);
        let started = std::time::Instant::now();
        let n = SyntheticBars::new(cfg).unwrap().count();
        println!("iterate Bars: {n} in {:.2}s", started.elapsed().as_secs_f64());
    }
}
