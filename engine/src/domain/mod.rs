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

/// Powers of ten that f64 holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// The f64 nearest a decimal, for the float shadows of exact amounts that simulations keep on
/// every fill. A mantissa within ±2⁵³ and at most 22 places is one exact division, correctly
/// rounded (and much cheaper than the general conversion, used otherwise).
#[inline]
pub fn decimal_f64(d: Decimal) -> f64 {
    let m = d.mantissa();
    let scale = d.scale() as usize;
    if m.unsigned_abs() < (1u128 << 53) && scale < EXACT_POWERS_OF_TEN.len() {
        m as f64 / EXACT_POWERS_OF_TEN[scale]
    } else {
        rust_decimal::prelude::ToPrimitive::to_f64(&d).unwrap_or(f64::NAN)
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

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::prelude::ToPrimitive;

    #[test]
    fn decimal_f64_is_the_nearest_float() {
        for text in ["0", "1", "-1", "0.1", "100.03", "1.23456789", "-98765.4321", "0.0000001", "12345678.123456789"] {
            let d: Decimal = text.parse().unwrap();
            let parsed: f64 = text.parse().unwrap();
            assert_eq!(decimal_f64(d), parsed, "{text}: the float a correctly rounded parse gives");
            assert_eq!(decimal_f64(d), d.to_f64().unwrap(), "{text}");
        }
        // Beyond 2^53 in the mantissa: the general conversion.
        let big: Decimal = "79228162514264337593543950335".parse().unwrap();
        assert_eq!(decimal_f64(big), big.to_f64().unwrap());
    }
}
