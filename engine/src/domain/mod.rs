//! The platform's vocabulary: instruments of every asset class, market events, orders, fills,
//! positions, portfolios and signals. Money is exact (`Decimal`) and time is UTC nanoseconds.

mod instrument;
mod market;
mod order;
mod portfolio;
mod signal;
mod time;

pub use instrument::{AssetClass, Instrument, InstrumentKind, OptionRight, Symbol};
pub use market::{Bar, BookLevel, BookSide, OrderBook, Quote, TradeTick};
pub use order::{Fill, Order, OrderId, OrderType, Side, TimeInForce, TrailingOffset};
pub use portfolio::{Portfolio, Position};
pub use rust_decimal::Decimal;
pub use signal::{SignalAction, TradingSignal};
pub use time::{Timeframe, Timestamp};

/// A value refused at construction: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct ValidationError {
    pub field: String,
    pub reason: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }
}

/// Refuses negative values; `field` names what is checked in the error.
pub(crate) fn non_negative(field: &str, value: Decimal) -> Result<Decimal, ValidationError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(ValidationError::new(field, format!("must not be negative, got {value}")));
    }
    Ok(value)
}

/// Refuses zero and negative values.
pub(crate) fn positive(field: &str, value: Decimal) -> Result<Decimal, ValidationError> {
    if value <= Decimal::ZERO {
        return Err(ValidationError::new(field, format!("must be positive, got {value}")));
    }
    Ok(value)
}
