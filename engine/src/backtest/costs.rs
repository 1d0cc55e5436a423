//! Trading costs of the simulated venue: slippage models that move the fill price against the
//! trader, and fee schedules (percentage, per share with a minimum, maker/taker, forex financing).

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::{Deserialize, Serialize};

use crate::domain::{Decimal, Side, decimal_f64};

/// A non-negative `x` rounded to 10 decimal places as a decimal. Below 9·10⁸ it goes through an
/// integer count of 10⁻¹⁰ units, rounded half up by a truncating cast (a decimal expansion of the
/// float costs far more, and slippage is priced on every fill); beyond that, through the
/// float's expansion.
fn to_decimal_10dp(x: f64) -> Decimal {
    let units = x * 1e10;
    if (0.0..9.0e18).contains(&units) {
        Decimal::new((units + 0.5) as i64, 10)
    } else {
        Decimal::from_f64(x).unwrap_or(Decimal::ZERO).round_dp(10)
    }
}

/// What the venue knows about recent trading in an instrument when it prices slippage.
#[derive(Clone, Copy, Debug, Default)]
pub struct MarketState {
    /// Mean (high − low)/close of recent bars: a per-bar volatility.
    pub range_volatility: f64,
    /// Mean volume of recent bars.
    pub average_volume: f64,
}

/// How far a fill lands from the reference price, against the trader.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum Slippage {
    #[default]
    None,
    /// A fixed number of basis points of the price.
    FixedBps { bps: f64 },
    /// Half of a quoted spread, in price units (forex pips × pip size, a stock's typical spread).
    HalfSpread { spread: Decimal },
    /// `k` times the recent per-bar range volatility of the price.
    VolatilityScaled { k: f64 },
    /// Square-root market impact η·σ·√(quantity / average volume) of the price (Almgren et al.).
    SquareRootImpact { eta: f64 },
}

impl Slippage {
    /// The price adjustment per unit (non-negative), to add for buys and subtract for sells.
    pub fn per_unit(&self, price: Decimal, quantity: Decimal, state: &MarketState) -> Decimal {
        let price_f = decimal_f64(price);
        let amount = match self {
            Self::None => return Decimal::ZERO,
            Self::HalfSpread { spread } => return (*spread / Decimal::TWO).max(Decimal::ZERO),
            Self::FixedBps { bps } => price_f * bps / 10_000.0,
            Self::VolatilityScaled { k } => price_f * k * state.range_volatility,
            Self::SquareRootImpact { eta } => {
                let q = decimal_f64(quantity);
                if state.average_volume > 0.0 {
                    price_f * eta * state.range_volatility * (q / state.average_volume).sqrt()
                } else {
                    0.0
                }
            }
        };
        to_decimal_10dp(amount.max(0.0))
    }

    pub fn apply(&self, side: Side, price: Decimal, quantity: Decimal, state: &MarketState) -> (Decimal, Decimal) {
        let slip = self.per_unit(price, quantity, state);
        let filled = match side {
            Side::Buy => price + slip,
            Side::Sell => (price - slip).max(Decimal::ZERO),
        };
        (filled, slip)
    }
}

/// A fee schedule, charged on every fill (so on entry and again on exit).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fees {
    #[default]
    None,
    /// A fraction of the notional (0.002 = 0.2 %).
    Percent { rate: Decimal },
    /// Per unit with a minimum per fill, and optionally a cap as a fraction of notional.
    PerShare { rate: Decimal, minimum: Decimal, max_fraction: Option<Decimal> },
    /// Fractions of notional for fills that added liquidity (maker) and took it (taker).
    MakerTaker { maker: Decimal, taker: Decimal },
    /// Forex: no commission (the spread is modelled as slippage), but overnight financing of the
    /// position's notional at annual rates for longs and shorts, charged at each UTC day roll.
    ForexFinancing { long_rate: Decimal, short_rate: Decimal },
}

impl Fees {
    pub fn fee(&self, quantity: Decimal, price: Decimal, maker: bool) -> Decimal {
        let notional = (quantity * price).abs();
        match self {
            Self::None | Self::ForexFinancing { .. } => Decimal::ZERO,
            Self::Percent { rate } => notional * *rate,
            Self::PerShare { rate, minimum, max_fraction } => {
                let mut fee = (quantity.abs() * *rate).max(*minimum);
                if let Some(cap) = max_fraction {
                    fee = fee.min(notional * *cap);
                }
                fee
            }
            Self::MakerTaker { maker: m, taker: t } => notional * if maker { *m } else { *t },
        }
    }

    /// Financing for holding `position` (signed units) at `price` over one night.
    pub fn overnight(&self, position: Decimal, price: Decimal) -> Decimal {
        match self {
            Self::ForexFinancing { long_rate, short_rate } if !position.is_zero() => {
                let rate = if position.is_sign_positive() { *long_rate } else { *short_rate };
                (position * price).abs() * rate / Decimal::from(365)
            }
            _ => Decimal::ZERO,
        }
    }

    /// The fee per unit of notional a sizing decision must leave room for (the taker rate).
    pub fn proportional_rate(&self) -> f64 {
        match self {
            Self::Percent { rate } => rate.to_f64().unwrap_or(0.0),
            Self::MakerTaker { taker, .. } => taker.to_f64().unwrap_or(0.0),
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn fees_follow_their_schedules() {
        let q = dec("100");
        let p = dec("50");
        assert_eq!(Fees::Percent { rate: dec("0.002") }.fee(q, p, false), dec("10"));
        let per_share = Fees::PerShare { rate: dec("0.005"), minimum: dec("1"), max_fraction: Some(dec("0.01")) };
        assert_eq!(per_share.fee(q, p, false), dec("1"), "the minimum applies to small orders");
        assert_eq!(per_share.fee(dec("10000"), p, false), dec("50"));
        assert_eq!(per_share.fee(dec("10000"), dec("0.1"), false), dec("10"), "capped at 1% of notional");
        let mt = Fees::MakerTaker { maker: dec("-0.0001"), taker: dec("0.0005") };
        assert_eq!(mt.fee(q, p, true), dec("-0.5"), "a maker rebate is a negative fee");
        assert_eq!(mt.fee(q, p, false), dec("2.5"));
        let fx = Fees::ForexFinancing { long_rate: dec("0.0365"), short_rate: dec("0.073") };
        assert_eq!(fx.overnight(dec("100000"), dec("1.1")), dec("11"));
        assert_eq!(fx.overnight(dec("-100000"), dec("1.1")), dec("22"));
    }

    #[test]
    fn slippage_moves_the_price_against_the_trader() {
        let state = MarketState { range_volatility: 0.02, average_volume: 10_000.0 };
        let p = dec("100");
        let (buy, _) = Slippage::FixedBps { bps: 10.0 }.apply(Side::Buy, p, dec("1"), &state);
        let (sell, _) = Slippage::FixedBps { bps: 10.0 }.apply(Side::Sell, p, dec("1"), &state);
        assert_eq!((buy, sell), (dec("100.1"), dec("99.9")));
        assert_eq!(Slippage::HalfSpread { spread: dec("0.02") }.per_unit(p, dec("1"), &state), dec("0.01"));
        assert_eq!(Slippage::VolatilityScaled { k: 0.5 }.per_unit(p, dec("1"), &state), dec("1"));
        // Quadrupling the quantity doubles the square-root impact.
        let small = Slippage::SquareRootImpact { eta: 1.0 }.per_unit(p, dec("100"), &state);
        let large = Slippage::SquareRootImpact { eta: 1.0 }.per_unit(p, dec("400"), &state);
        assert_eq!(small, dec("0.2"));
        assert_eq!(large, dec("0.4"));
    }

    #[test]
    fn slippage_amounts_are_the_float_to_ten_places() {
        // Seeded amounts of every magnitude slippage sees: within one unit of the tenth place of
        // the float's decimal expansion (the product x·10¹⁰ rounds once more than the expansion
        // does, which can tip a tie), and exact beyond 9e8 where the expansion is used.
        let unit = Decimal::new(1, 10);
        let mut x = 0.123_456_789_f64;
        let mut same = 0;
        for i in 0..5000 {
            x = (x * 7919.0 + 0.618_033_988_7).fract();
            let amount = x * 10f64.powi(i % 12 - 6);
            let expanded = Decimal::from_f64(amount).unwrap().round_dp(10);
            let fast = super::to_decimal_10dp(amount);
            assert!((fast - expanded).abs() <= unit, "{amount:e}: {fast} vs {expanded}");
            assert_eq!(fast.scale(), 10);
            same += usize::from(fast == expanded);
        }
        assert!(same > 4900, "only {same} of 5000 equal to the expansion");
        assert_eq!(super::to_decimal_10dp(2.5e9), dec("2500000000"));
    }
}
