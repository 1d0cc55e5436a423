//! Backtests over quotes and trade prints: every instrument's ticks in time order, orders matched
//! at the touch as each tick arrives, and bars built from the mid (or the prints) for signals,
//! marks and statistics, each delivered only once its interval has ended.

use rust_decimal::prelude::ToPrimitive;

use super::engine::{
    BacktestConfig, BacktestError, PreparedBars, charges_overnight, check_account, dispatch, fire_timers,
    link_fx_pairs, marks,
};
use super::metrics::EquitySample;
use super::order::{FillEvent, OrderEvent};
use super::results::BacktestResult;
use super::strategy::{BarEvent, Context, QuoteEvent, SimClock, Strategy, TradeEvent};
use super::venue::{FillTiming, MarketTick, SimulatedVenue, Venue};
use crate::backtest::account::Account;
use crate::data::series::BarSeries;
use crate::domain::{Decimal, Timestamp};

/// The bar one instrument is building, and the bars it has finished.
struct BarBuilder {
    /// Whether the bars are of the mid (the stream has quotes) or of the prints.
    quoted: bool,
    /// The prevailing price: the last mid (or print).
    last: Option<Decimal>,
    open: Option<OpenBar>,
    done: BarSeries,
}

#[derive(Clone, Copy)]
struct OpenBar {
    start: i64,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    volume: Decimal,
}

impl BarBuilder {
    /// Adds a tick to the bar of the interval starting at `start`; returns the price positions
    /// are marked at, once the stream has one (a print before the first quote has none).
    fn add(&mut self, start: i64, tick: &MarketTick) -> Option<Decimal> {
        let (price, volume) = match *tick {
            MarketTick::Quote { bid, ask, .. } => (Some((bid + ask) / Decimal::TWO), Decimal::ZERO),
            MarketTick::Trade { price, size, .. } => ((!self.quoted).then_some(price), size),
        };
        if price.is_some() {
            self.last = price;
        }
        let mark = self.last?;
        match &mut self.open {
            Some(bar) => {
                if price.is_some() {
                    bar.high = bar.high.max(mark);
                    bar.low = bar.low.min(mark);
                    bar.close = mark;
                }
                bar.volume += volume;
            }
            // A bar that opens on a print of a quoted stream opens at the prevailing mid.
            None => self.open = Some(OpenBar { start, open: mark, high: mark, low: mark, close: mark, volume }),
        }
        Some(mark)
    }

    /// The index the open bar will have once finished.
    fn index(&self) -> usize {
        self.done.len()
    }

    fn finish(&mut self) -> Option<OpenBar> {
        let bar = self.open.take()?;
        self.done.push(Timestamp::from_nanos(bar.start), bar.open, bar.high, bar.low, bar.close, bar.volume, 0);
        Some(bar)
    }
}

/// Runs `strategy` over `ticks` (one time-ordered stream per instrument of `config`), building
/// bars of `bar_nanos` nanoseconds (aligned to the Unix epoch, labelled by their start). Orders
/// fill on the ticks after they are placed: buys at the ask, sells at the bid, up to the size
/// shown (times `max_participation`, if set), the rest on later ticks; a resting limit fills at
/// its limit when the touch crosses it or a print trades through it. The strategy sees each tick
/// after the venue has, and each bar once its interval is over; the equity is marked at the end of
/// every bar. Fill timing is a bar notion and must be left at its default.
pub fn run_ticks(
    config: &BacktestConfig,
    ticks: &[Vec<MarketTick>],
    bar_nanos: i64,
    strategy: &mut dyn Strategy,
) -> Result<BacktestResult, BacktestError> {
    if ticks.len() != config.instruments.len() {
        return Err(BacktestError::SpecCount(ticks.len(), config.instruments.len()));
    }
    check_account(&config.account)?;
    if bar_nanos <= 0 {
        return Err(BacktestError::TickRun(format!("the bar length must be positive, got {bar_nanos} ns")));
    }
    if config.venue.fill_timing != FillTiming::NextOpen {
        return Err(BacktestError::TickRun(
            "fill timing applies to bars; a tick run fills on the ticks after each order".into(),
        ));
    }
    for (spec, stream) in config.instruments.iter().zip(ticks) {
        if stream.is_empty() {
            return Err(BacktestError::Empty { symbol: spec.symbol.clone() });
        }
        if let Some(row) = stream.windows(2).position(|w| w[1].ts() < w[0].ts()) {
            return Err(BacktestError::UnsortedTicks { symbol: spec.symbol.clone(), row: row + 1 });
        }
    }
    let span = tracing::info_span!("tick_backtest", strategy = strategy.name(), instruments = ticks.len());
    let _guard = span.enter();
    let mut account = Account::new(config.account.clone(), config.instruments.clone());
    link_fx_pairs(&mut account, config);
    let single_currency = account.is_single_currency();
    let has_financing = charges_overnight(config);
    let has_maintenance = config.account.maintenance_margin.is_some();
    let mut venue = SimulatedVenue::new(config.venue.clone(), account);
    let mut builders: Vec<BarBuilder> = ticks
        .iter()
        .enumerate()
        .map(|(k, stream)| {
            let quoted = stream.iter().any(|t| matches!(t, MarketTick::Quote { .. }));
            venue.set_quoted(k, quoted);
            BarBuilder { quoted, last: None, open: None, done: BarSeries::with_capacity(0) }
        })
        .collect();
    let symbols: Vec<String> = config.instruments.iter().map(|s| s.symbol.clone()).collect();
    let mut clock = SimClock { now: ticks.iter().map(|t| t[0].ts()).min().unwrap_or_default() };
    let mut timers: Vec<Timestamp> = Vec::new();
    let (mut fills, mut updates, mut all_fills): (Vec<FillEvent>, Vec<OrderEvent>, Vec<FillEvent>) = Default::default();
    let mut equity: Vec<EquitySample> = Vec::new();
    let mut last_mark = vec![f64::NAN; ticks.len()];
    let mut cursor = vec![0usize; ticks.len()];
    // The end of the interval the open bars belong to.
    let mut interval_end: Option<i64> = None;
    let mut last_day: Option<i64> = None;
    let total: usize = ticks.iter().map(Vec::len).sum();

    strategy.on_start(&mut Context::new(&mut venue, &clock, &mut timers, &symbols));
    for _ in 0..total {
        // The earliest pending tick of all instruments (the lower instrument first on a tie).
        let (k, ts) = (0..ticks.len())
            .filter(|&k| cursor[k] < ticks[k].len())
            .map(|k| (k, ticks[k][cursor[k]].ts().nanos()))
            .min_by_key(|&(k, ts)| (ts, k))
            .ok_or_else(|| BacktestError::TickRun("tick cursor past the end".into()))?;
        if let Some(end) = interval_end.filter(|&end| ts >= end) {
            clock.now = Timestamp::from_nanos(end);
            let mut close = BarClose { venue: &mut venue, strategy: &mut *strategy, clock: &clock, symbols: &symbols };
            close.run(&mut builders, &mut last_mark, single_currency, &mut equity, &mut timers, &mut all_fills)?;
        }
        interval_end = Some(ts.div_euclid(bar_nanos) * bar_nanos + bar_nanos);
        clock.now = Timestamp::from_nanos(ts);
        let day = ts.div_euclid(86_400_000_000_000);
        if has_financing && last_day.is_some_and(|d| d != day) {
            venue.roll_day();
        }
        last_day = Some(day);

        let tick = ticks[k][cursor[k]];
        cursor[k] += 1;
        let start = ts.div_euclid(bar_nanos) * bar_nanos;
        let index = builders[k].index();
        if let Some(mark) = builders[k].add(start, &tick) {
            last_mark[k] = mark.to_f64().unwrap_or(f64::NAN);
            venue.on_tick(k, index, mark, &tick);
        }
        dispatch(&mut venue, strategy, &clock, &mut timers, &symbols, &mut fills, &mut updates, &mut all_fills);
        // The margin is watched tick by tick, at the prevailing marks.
        if has_maintenance && venue.enforce_maintenance(clock.now)? {
            dispatch(&mut venue, strategy, &clock, &mut timers, &symbols, &mut fills, &mut updates, &mut all_fills);
        }
        let mut ctx = Context::new(&mut venue, &clock, &mut timers, &symbols);
        let f = |d: Decimal| d.to_f64().unwrap_or(f64::NAN);
        match tick {
            MarketTick::Quote { ts, bid, ask, bid_size, ask_size } => strategy.on_quote(
                &mut ctx,
                &QuoteEvent {
                    instrument: k,
                    ts,
                    bid: f(bid),
                    ask: f(ask),
                    bid_size: f(bid_size),
                    ask_size: f(ask_size),
                },
            ),
            MarketTick::Trade { ts, price, size } => {
                strategy.on_trade(&mut ctx, &TradeEvent { instrument: k, ts, price: f(price), size: f(size) })
            }
        }
        dispatch(&mut venue, strategy, &clock, &mut timers, &symbols, &mut fills, &mut updates, &mut all_fills);
        if !timers.is_empty() {
            fire_timers(&mut venue, strategy, &clock, &mut timers, &symbols, ts);
        }
    }
    // The last bars end with the data.
    let mut close = BarClose { venue: &mut venue, strategy: &mut *strategy, clock: &clock, symbols: &symbols };
    close.run(&mut builders, &mut last_mark, single_currency, &mut equity, &mut timers, &mut all_fills)?;
    strategy.on_stop(&mut Context::new(&mut venue, &clock, &mut timers, &symbols));
    dispatch(&mut venue, strategy, &clock, &mut timers, &symbols, &mut fills, &mut updates, &mut all_fills);
    let prepared: Vec<PreparedBars> = builders.into_iter().map(|b| PreparedBars::new(b.done)).collect();
    BacktestResult::assemble(
        config,
        &prepared,
        (strategy.name(), strategy.warmup()),
        venue.into_parts(),
        all_fills,
        equity,
    )
}

/// The end of an interval: every open bar is finished, the equity marked, then the strategy sees
/// the bars.
struct BarClose<'a> {
    venue: &'a mut SimulatedVenue,
    strategy: &'a mut dyn Strategy,
    clock: &'a SimClock,
    symbols: &'a [String],
}

impl BarClose<'_> {
    fn run(
        &mut self,
        builders: &mut [BarBuilder],
        last_mark: &mut [f64],
        single_currency: bool,
        equity: &mut Vec<EquitySample>,
        timers: &mut Vec<Timestamp>,
        all_fills: &mut Vec<FillEvent>,
    ) -> Result<(), BacktestError> {
        let mut finished = Vec::new();
        for (k, b) in builders.iter_mut().enumerate() {
            let index = b.index();
            if let Some(bar) = b.finish() {
                let f = |d: Decimal| d.to_f64().unwrap_or(f64::NAN);
                let (open, high, low, close, volume) =
                    (f(bar.open), f(bar.high), f(bar.low), f(bar.close), f(bar.volume));
                self.venue.note_bar(k, [high, low, close, volume]);
                last_mark[k] = close;
                let ts = Timestamp::from_nanos(bar.start);
                finished.push(BarEvent { instrument: k, index, ts, open, high, low, close, volume });
            }
        }
        let Some(first) = finished.first() else { return Ok(()) };
        let mark = if single_currency {
            self.venue.account().mark_f64(&marks(last_mark))
        } else {
            self.venue.account().equity()?.to_f64().unwrap_or(f64::NAN)
        };
        equity.push(EquitySample { ts_nanos: first.ts.nanos(), equity: mark });
        let (mut fills, mut updates) = (Vec::new(), Vec::new());
        for bar in &finished {
            self.strategy.on_bar(&mut Context::new(self.venue, self.clock, timers, self.symbols), bar);
        }
        dispatch(self.venue, self.strategy, self.clock, timers, self.symbols, &mut fills, &mut updates, all_fills);
        Ok(())
    }
}
