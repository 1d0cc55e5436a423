//! Matching against quotes and trade prints: buys execute at the ask and sells at the bid, up to
//! the size displayed there; a resting limit order fills at its limit when the market crosses it.

use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::{SimulatedVenue, VenueBar, trailing_level};
use crate::backtest::order::{InstrumentId, WorkingOrder};
use crate::domain::{Decimal, OrderType, Quote, Side, Timestamp, TradeTick};

/// One market event finer than a bar: a top-of-book quote or a trade print, in exact prices.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MarketTick {
    Quote { ts: Timestamp, bid: Decimal, ask: Decimal, bid_size: Decimal, ask_size: Decimal },
    Trade { ts: Timestamp, price: Decimal, size: Decimal },
}

impl MarketTick {
    pub fn ts(&self) -> Timestamp {
        match self {
            Self::Quote { ts, .. } | Self::Trade { ts, .. } => *ts,
        }
    }
}

impl From<&Quote> for MarketTick {
    fn from(q: &Quote) -> Self {
        Self::Quote { ts: q.ts, bid: q.bid, ask: q.ask, bid_size: q.bid_size, ask_size: q.ask_size }
    }
}

impl From<&TradeTick> for MarketTick {
    fn from(t: &TradeTick) -> Self {
        Self::Trade { ts: t.ts, price: t.price, size: t.quantity }
    }
}

impl SimulatedVenue {
    /// Says whether an instrument's stream carries quotes. On a quoted stream orders that take
    /// liquidity wait for a quote (a print says nothing about the touch); on a stream of prints
    /// only, each print stands for both sides of the book.
    pub fn set_quoted(&mut self, instrument: InstrumentId, quoted: bool) {
        self.quoted[instrument] = quoted;
    }

    /// Matches the instrument's working orders against a quote or print. `bar` is the index of
    /// the bar the tick falls in (for the order log) and `mark` the price positions are marked at.
    pub fn on_tick(&mut self, instrument: InstrumentId, bar: usize, mark: Decimal, tick: &MarketTick) {
        self.account.set_price(instrument, mark);
        let at = VenueBar {
            index: bar,
            ts: tick.ts(),
            open: mark,
            high: mark,
            low: mark,
            close: mark,
            volume: Decimal::ZERO,
            stats: [f64::NAN; 4],
        };
        if !self.working[instrument].is_empty() {
            let orders = std::mem::take(&mut self.working[instrument]);
            let quoted = self.quoted[instrument];
            let participation = self.config.max_participation.unwrap_or(1.0);
            let placed = self.work(instrument, orders, &at, |order| {
                tick_price(order, tick, quoted).map(|(price, shown)| (price, Some(shown * participation)))
            });
            // Bracket exits act from the next tick.
            self.working[instrument].extend(placed);
        }
        self.current[instrument] = Some(at);
    }
}

/// The price at which this tick fills the order and the size shown there, if it fills.
fn tick_price(order: &mut WorkingOrder, tick: &MarketTick, quoted: bool) -> Option<(Decimal, f64)> {
    let buy = order.request.side == Side::Buy;
    match *tick {
        MarketTick::Quote { bid, ask, bid_size, ask_size, .. } => {
            let (touch, shown) = if buy { (ask, ask_size) } else { (bid, bid_size) };
            at_touch(order, touch, shown.to_f64().unwrap_or(0.0))
        }
        MarketTick::Trade { price, size, .. } => {
            let size = size.to_f64().unwrap_or(0.0);
            if let OrderType::Limit { limit_price } = order.request.order_type
                && order.rested
            {
                // The print may have been ahead of a resting order in the queue at its limit:
                // only a print through the limit proves the order would have filled.
                let through = if buy { price < limit_price } else { price > limit_price };
                return through.then_some((limit_price, size));
            }
            if quoted {
                // Stops trigger on the last trade; what they then fill at is the next quote.
                if let OrderType::Stop { stop_price } | OrderType::StopLimit { stop_price, .. } =
                    order.request.order_type
                    && reaches_stop(buy, price, stop_price)
                {
                    order.triggered = true;
                }
                return None;
            }
            at_touch(order, price, size)
        }
    }
}

fn reaches_stop(buy: bool, price: Decimal, stop: Decimal) -> bool {
    if buy { price >= stop } else { price <= stop }
}

/// Fills against the touch (the ask for buys, the bid for sells) showing `shown` units.
fn at_touch(order: &mut WorkingOrder, touch: Decimal, shown: f64) -> Option<(Decimal, f64)> {
    let buy = order.request.side == Side::Buy;
    let crosses = |limit: Decimal| if buy { touch <= limit } else { touch >= limit };
    // A resting limit that the touch crosses was hit at its own price; one that crosses as it
    // arrives takes the touch.
    let limit_fill = |limit: Decimal, rested: bool| crosses(limit).then_some(if rested { limit } else { touch });
    let price = match order.request.order_type {
        OrderType::Market => Some(touch),
        OrderType::Limit { limit_price } => limit_fill(limit_price, order.rested),
        OrderType::Stop { stop_price } => {
            order.triggered |= reaches_stop(buy, touch, stop_price);
            order.triggered.then_some(touch)
        }
        OrderType::StopLimit { stop_price, limit_price } => {
            if order.triggered {
                // Triggered at an earlier tick: it has rested as a limit order since.
                limit_fill(limit_price, true)
            } else if reaches_stop(buy, touch, stop_price) {
                order.triggered = true;
                limit_fill(limit_price, false)
            } else {
                None
            }
        }
        OrderType::TrailingStop { offset } => {
            // The level trails the best touch since submission (the mid at submission to start).
            let extreme = order.trail_extreme.unwrap_or(touch);
            let hit = reaches_stop(buy, touch, trailing_level(offset, buy, extreme));
            order.trail_extreme = Some(if buy { extreme.min(touch) } else { extreme.max(touch) });
            hit.then_some(touch)
        }
    };
    price.map(|p| (p, shown))
}
