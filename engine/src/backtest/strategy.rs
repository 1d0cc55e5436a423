//! The one strategy interface for backtests, paper and live trading: market events, fills, order
//! updates and timers in; orders, cancels and modifications out through a context over the venue.

use super::account::Account;
use super::order::{FillEvent, InstrumentId, OrderChange, OrderEvent, OrderRef, OrderRequest, Quantity};
use super::venue::Venue;
use crate::domain::{Decimal, Side, Timestamp};

/// A bar as strategies see it: its instrument, position in the run and float prices for signals
/// (orders still fill at exact decimal prices).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BarEvent {
    pub instrument: InstrumentId,
    pub index: usize,
    pub ts: Timestamp,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// A top-of-book quote.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuoteEvent {
    pub instrument: InstrumentId,
    pub ts: Timestamp,
    pub bid: f64,
    pub ask: f64,
    pub bid_size: f64,
    pub ask_size: f64,
}

/// A trade print.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TradeEvent {
    pub instrument: InstrumentId,
    pub ts: Timestamp,
    pub price: f64,
    pub size: f64,
}

/// A trading strategy. Every callback gets a context to act through; nothing else reaches the venue.
pub trait Strategy: Send {
    fn name(&self) -> &str;
    fn on_start(&mut self, _ctx: &mut Context<'_>) {}
    fn on_bar(&mut self, ctx: &mut Context<'_>, bar: &BarEvent);
    fn on_quote(&mut self, _ctx: &mut Context<'_>, _quote: &QuoteEvent) {}
    fn on_trade(&mut self, _ctx: &mut Context<'_>, _trade: &TradeEvent) {}
    fn on_fill(&mut self, _ctx: &mut Context<'_>, _fill: &FillEvent) {}
    fn on_order(&mut self, _ctx: &mut Context<'_>, _update: &OrderEvent) {}
    fn on_timer(&mut self, _ctx: &mut Context<'_>, _at: Timestamp) {}
    fn on_stop(&mut self, _ctx: &mut Context<'_>) {}
    /// The bar index before which the strategy cannot act (its indicators' warm-up): statistics
    /// such as buy-and-hold are measured from there, as backtesting.py does.
    fn warmup(&self) -> usize {
        0
    }
}

/// Time as the strategy may know it: simulated in backtests, the wall clock live.
pub trait Clock {
    fn now(&self) -> Timestamp;
}

/// The backtest's clock: the time of the event being processed.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimClock {
    pub now: Timestamp,
}

impl Clock for SimClock {
    fn now(&self) -> Timestamp {
        self.now
    }
}

/// The real clock, for paper and live trading.
#[derive(Clone, Copy, Debug, Default)]
pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// What a strategy acts through.
pub struct Context<'a> {
    pub(crate) venue: &'a mut dyn Venue,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) timers: &'a mut Vec<Timestamp>,
    pub(crate) symbols: &'a [String],
}

impl<'a> Context<'a> {
    pub fn new(
        venue: &'a mut dyn Venue,
        clock: &'a dyn Clock,
        timers: &'a mut Vec<Timestamp>,
        symbols: &'a [String],
    ) -> Self {
        Self { venue, clock, timers, symbols }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The run's id for a symbol.
    pub fn instrument(&self, symbol: &str) -> Option<InstrumentId> {
        self.symbols.iter().position(|s| s.eq_ignore_ascii_case(symbol))
    }

    pub fn symbols(&self) -> &[String] {
        self.symbols
    }

    pub fn submit(&mut self, request: OrderRequest) -> OrderRef {
        let now = self.now();
        self.venue.submit(request, now)
    }

    /// A market buy (`Quantity::EquityFraction(1.0)` spends all available margin).
    pub fn buy(&mut self, instrument: InstrumentId, quantity: Quantity) -> OrderRef {
        self.submit(OrderRequest::market(instrument, Side::Buy, quantity))
    }

    pub fn sell(&mut self, instrument: InstrumentId, quantity: Quantity) -> OrderRef {
        self.submit(OrderRequest::market(instrument, Side::Sell, quantity))
    }

    /// Closes the whole position at market (nothing when flat).
    pub fn close(&mut self, instrument: InstrumentId) -> Option<OrderRef> {
        let position = self.position(instrument);
        if position.is_zero() {
            return None;
        }
        let side = if position.is_sign_positive() { Side::Sell } else { Side::Buy };
        Some(self.submit(OrderRequest::market(instrument, side, Quantity::Units(position.abs())).reduce_only()))
    }

    pub fn cancel(&mut self, order: OrderRef) {
        let now = self.now();
        self.venue.cancel(order, now)
    }

    pub fn modify(&mut self, order: OrderRef, change: OrderChange) {
        let now = self.now();
        self.venue.modify(order, change, now)
    }

    /// Signed units held.
    pub fn position(&self, instrument: InstrumentId) -> Decimal {
        self.venue.account().position(instrument)
    }

    pub fn account(&self) -> &Account {
        self.venue.account()
    }

    /// Calls `on_timer` at (or at the first event after) `at`.
    pub fn set_timer(&mut self, at: Timestamp) {
        self.timers.push(at);
    }
}
