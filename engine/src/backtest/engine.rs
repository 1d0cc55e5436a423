//! The event loop of a backtest: bars of one or several instruments merged in time order, the
//! simulated venue matching orders first, the equity marked at each close, then the strategy.

use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::account::{Account, AccountConfig, FxLink, InstrumentSpec};
use super::costs::Fees;
use super::metrics::EquitySample;
use super::order::{FillEvent, OrderEvent};
use super::results::BacktestResult;
use super::strategy::{BarEvent, Context, SimClock, Strategy};
use super::venue::{SimulatedVenue, Venue, VenueBar, VenueConfig};
use crate::data::FloatBars;
use crate::data::series::BarSeries;
use crate::domain::Timestamp;

/// Everything about a run except the data and the strategy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BacktestConfig {
    pub account: AccountConfig,
    pub venue: VenueConfig,
    /// One per data series, in the same order.
    pub instruments: Vec<InstrumentSpec>,
    /// The instrument whose buy-and-hold is the benchmark (return, alpha, beta); default the first.
    pub benchmark: Option<usize>,
    pub risk_free_rate: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error("{0} data series but {1} instrument specs: give one spec per series")]
    SpecCount(usize, usize),
    #[error("{symbol}: the series has no bars")]
    Empty { symbol: String },
    #[error("{symbol}: bars are not in time order at row {row}; sort and deduplicate the series first")]
    Unsorted { symbol: String, row: usize },
    #[error("{0}")]
    Account(#[from] super::account::AccountRejection),
    #[error("metrics: {0}")]
    Metrics(String),
    #[error("{symbol}: ticks are not in time order at row {row}; sort them first")]
    UnsortedTicks { symbol: String, row: usize },
    #[error("tick backtest: {0}")]
    TickRun(String),
    #[error("account: {0}")]
    Config(String),
}

/// A series prepared for the event loop: exact prices for fills (`bars`), and the float view
/// (`FloatBars`, reached through `Deref`) for signals and marks.
#[derive(Clone, Debug)]
pub struct PreparedBars {
    pub bars: BarSeries,
    floats: FloatBars,
}

impl std::ops::Deref for PreparedBars {
    type Target = FloatBars;
    fn deref(&self) -> &FloatBars {
        &self.floats
    }
}

impl PreparedBars {
    pub fn new(bars: BarSeries) -> Self {
        Self { floats: FloatBars::from_series(&bars), bars }
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    #[inline(always)]
    pub(crate) fn venue_bar(&self, i: usize) -> VenueBar {
        VenueBar {
            index: i,
            ts: self.bars.ts[i],
            open: self.bars.open[i],
            high: self.bars.high[i],
            low: self.bars.low[i],
            close: self.bars.close[i],
            volume: self.bars.volume[i],
            stats: [self.high[i], self.low[i], self.close[i], self.volume[i]],
        }
    }

    #[inline(always)]
    fn event(&self, instrument: usize, i: usize) -> BarEvent {
        BarEvent {
            instrument,
            index: i,
            ts: self.bars.ts[i],
            open: self.open[i],
            high: self.high[i],
            low: self.low[i],
            close: self.close[i],
            volume: self.volume[i],
        }
    }
}

/// Runs `strategy` over `data` (one prepared series per instrument of `config`).
pub fn run(
    config: &BacktestConfig,
    data: &[PreparedBars],
    strategy: &mut dyn Strategy,
) -> Result<BacktestResult, BacktestError> {
    run_observed(config, data, strategy, &mut |_| {})
}

/// How far a running backtest has got: bars simulated of all bars, over every instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub bars_done: usize,
    pub bars_total: usize,
}

impl Progress {
    /// Whole percent done, rounded down (100 only when every bar is done).
    pub fn percent(&self) -> u8 {
        (self.bars_done * 100).checked_div(self.bars_total).map_or(100, |p| p.min(100) as u8)
    }
}

/// Reports per run: often enough for a progress bar to move smoothly, rarely enough that the
/// report (a lock and a message to open pages, in the control plane) costs nothing measurable.
const PROGRESS_REPORTS: usize = 100;

/// [`run`], telling `on_progress` how far it has got about every 1% of the bars and once at the
/// end of the simulation (before the results are assembled).
pub fn run_observed(
    config: &BacktestConfig,
    data: &[PreparedBars],
    strategy: &mut dyn Strategy,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<BacktestResult, BacktestError> {
    if data.len() != config.instruments.len() {
        return Err(BacktestError::SpecCount(data.len(), config.instruments.len()));
    }
    check_account(&config.account)?;
    for (spec, series) in config.instruments.iter().zip(data) {
        if series.is_empty() {
            return Err(BacktestError::Empty { symbol: spec.symbol.clone() });
        }
        if let Some(row) = series.ts.windows(2).position(|w| w[1] <= w[0]) {
            return Err(BacktestError::Unsorted { symbol: spec.symbol.clone(), row: row + 1 });
        }
    }
    let span = tracing::info_span!("backtest", strategy = strategy.name(), instruments = data.len());
    let _guard = span.enter();
    let mut account = Account::new(config.account.clone(), config.instruments.clone());
    link_fx_pairs(&mut account, config);
    let single_currency = account.is_single_currency();
    let has_financing = charges_overnight(config);
    let has_maintenance = config.account.maintenance_margin.is_some();
    let mut venue = SimulatedVenue::new(config.venue.clone(), account);
    let symbols: Vec<String> = config.instruments.iter().map(|s| s.symbol.clone()).collect();
    let mut clock = SimClock::default();
    let mut timers: Vec<Timestamp> = Vec::new();
    let mut fills: Vec<FillEvent> = Vec::new();
    let mut updates: Vec<OrderEvent> = Vec::new();
    let mut all_fills: Vec<FillEvent> = Vec::new();
    let total: usize = data.iter().map(PreparedBars::len).sum();
    let mut equity: Vec<EquitySample> = Vec::with_capacity(data.iter().map(PreparedBars::len).max().unwrap_or(0));
    let mut last_close = vec![f64::NAN; data.len()];
    let mut cursor = vec![0usize; data.len()];
    let mut due: Vec<usize> = Vec::with_capacity(data.len());
    let mut last_day: Option<i64> = None;

    clock.now = Timestamp::from_nanos(data.iter().map(|d| d.ts[0]).min().unwrap_or(0));
    strategy.on_start(&mut Context::new(&mut venue, &clock, &mut timers, &symbols));

    let mut processed = 0usize;
    let report_every = total.div_ceil(PROGRESS_REPORTS).max(1);
    let mut next_report = report_every;
    on_progress(Progress { bars_done: 0, bars_total: total });
    while processed < total {
        // The next time step: every instrument with a bar at the earliest pending time.
        let mut now = i64::MAX;
        for (k, d) in data.iter().enumerate() {
            if cursor[k] < d.len() {
                now = now.min(d.ts[cursor[k]]);
            }
        }
        due.clear();
        for (k, d) in data.iter().enumerate() {
            if cursor[k] < d.len() && d.ts[cursor[k]] == now {
                due.push(k);
            }
        }
        clock.now = Timestamp::from_nanos(now);
        let day = now.div_euclid(86_400_000_000_000);
        if has_financing && last_day.is_some_and(|d| d != day) {
            venue.roll_day();
        }
        last_day = Some(day);

        // 1. The venue works resting orders against the new bars.
        for &k in &due {
            let i = cursor[k];
            venue.on_bar(k, data[k].venue_bar(i));
            last_close[k] = data[k].close[i];
        }
        dispatch(&mut venue, strategy, &clock, &mut timers, &symbols, &mut fills, &mut updates, &mut all_fills);
        if has_maintenance && venue.enforce_maintenance(clock.now)? {
            dispatch(&mut venue, strategy, &clock, &mut timers, &symbols, &mut fills, &mut updates, &mut all_fills);
        }

        // 2. The equity at this close.
        let mark = if single_currency {
            venue.account().mark_f64(&marks(&last_close))
        } else {
            venue.account().equity()?.to_f64().unwrap_or(f64::NAN)
        };
        equity.push(EquitySample { ts_nanos: now, equity: mark });

        // 3. The strategy sees the bars.
        for &k in &due {
            let bar = data[k].event(k, cursor[k]);
            strategy.on_bar(&mut Context::new(&mut venue, &clock, &mut timers, &symbols), &bar);
        }
        dispatch(&mut venue, strategy, &clock, &mut timers, &symbols, &mut fills, &mut updates, &mut all_fills);
        if !timers.is_empty() {
            fire_timers(&mut venue, strategy, &clock, &mut timers, &symbols, now);
        }
        for &k in &due {
            cursor[k] += 1;
            processed += 1;
        }
        if processed >= next_report && processed < total {
            on_progress(Progress { bars_done: processed, bars_total: total });
            next_report = processed + report_every;
        }
    }
    on_progress(Progress { bars_done: total, bars_total: total });
    strategy.on_stop(&mut Context::new(&mut venue, &clock, &mut timers, &symbols));
    dispatch(&mut venue, strategy, &clock, &mut timers, &symbols, &mut fills, &mut updates, &mut all_fills);
    BacktestResult::assemble(config, data, (strategy.name(), strategy.warmup()), venue.into_parts(), all_fills, equity)
}

/// Whether any instrument pays or earns something for holding a position overnight.
pub(super) fn charges_overnight(config: &BacktestConfig) -> bool {
    config.instruments.iter().any(|s| matches!(s.fees, Fees::ForexFinancing { .. }) || !s.borrow_rate.is_zero())
}

/// Refuses account rules that cannot hold: a maintenance margin must be positive and at most
/// the initial margin (above it, every new position would be called at once).
pub(super) fn check_account(account: &AccountConfig) -> Result<(), BacktestError> {
    if let Some(maintenance) = account.maintenance_margin
        && (maintenance <= rust_decimal::Decimal::ZERO || maintenance > account.margin)
    {
        return Err(BacktestError::Config(format!(
            "maintenance margin {maintenance} must be above 0 and at most the initial margin {}",
            account.margin
        )));
    }
    Ok(())
}

/// Closes with NaN (no bar yet) read as 0 for the mark: no position can exist before a bar.
pub(super) fn marks(last_close: &[f64]) -> std::borrow::Cow<'_, [f64]> {
    if last_close.iter().any(|c| c.is_nan()) {
        std::borrow::Cow::Owned(last_close.iter().map(|c| if c.is_nan() { 0.0 } else { *c }).collect())
    } else {
        std::borrow::Cow::Borrowed(last_close)
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn dispatch(
    venue: &mut SimulatedVenue,
    strategy: &mut dyn Strategy,
    clock: &SimClock,
    timers: &mut Vec<Timestamp>,
    symbols: &[String],
    fills: &mut Vec<FillEvent>,
    updates: &mut Vec<OrderEvent>,
    all_fills: &mut Vec<FillEvent>,
) {
    // Reacting to a fill may place orders that fill at once (close timing): loop until quiet.
    loop {
        venue.drain(fills, updates);
        if fills.is_empty() && updates.is_empty() {
            return;
        }
        for update in updates.drain(..) {
            strategy.on_order(&mut Context::new(venue, clock, timers, symbols), &update);
        }
        for fill in fills.drain(..) {
            strategy.on_fill(&mut Context::new(venue, clock, timers, symbols), &fill);
            all_fills.push(fill);
        }
    }
}

pub(super) fn fire_timers(
    venue: &mut SimulatedVenue,
    strategy: &mut dyn Strategy,
    clock: &SimClock,
    timers: &mut Vec<Timestamp>,
    symbols: &[String],
    now: i64,
) {
    let mut fired: Vec<Timestamp> = Vec::new();
    timers.retain(|t| {
        let fire = t.nanos() <= now;
        if fire {
            fired.push(*t);
        }
        !fire
    });
    for at in fired {
        strategy.on_timer(&mut Context::new(venue, clock, timers, symbols), at);
    }
}

/// Links every non-base currency to a pair among the instruments (EURUSD for EUR in a USD
/// account, USDJPY inverted for JPY).
pub(crate) fn link_fx_pairs(account: &mut Account, config: &BacktestConfig) {
    let base = config.account.base_currency.clone();
    let currencies: Vec<String> =
        config.instruments.iter().map(|s| s.currency.clone()).filter(|c| *c != base).collect();
    for currency in currencies {
        for (k, spec) in config.instruments.iter().enumerate() {
            let symbol = spec.symbol.replace(['/', '-', '_'], "").to_ascii_uppercase();
            if symbol == format!("{currency}{base}") {
                account.link_fx(&currency, FxLink { instrument: k, inverted: false });
            } else if symbol == format!("{base}{currency}") {
                account.link_fx(&currency, FxLink { instrument: k, inverted: true });
            }
        }
    }
}
