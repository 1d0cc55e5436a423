//! Turning target weights into the venue's orders, shared by the environment and by the
//! strategy that replays a policy through the backtest engine, so both trade identically.

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use crate::backtest::account::Account;
use crate::backtest::costs::{Fees, Slippage};
use crate::backtest::strategy::{BarEvent, Context, Strategy};
use crate::backtest::{OrderRequest, Quantity};
use crate::domain::{Decimal, Side};

/// Fraction of a target's notional kept back for the fill's costs, so that a fully invested
/// cash account can pay its fees: the proportional fee plus the known slippage.
pub fn cost_reserve(fees: &Fees, slippage: &Slippage, price: f64) -> f64 {
    fees.proportional_rate() + slippage_reserve(slippage, price)
}

/// The slippage part of [`cost_reserve`], as a fraction of the price.
fn slippage_reserve(slippage: &Slippage, price: f64) -> f64 {
    match slippage {
        Slippage::None => 0.0,
        Slippage::FixedBps { bps } => bps / 10_000.0,
        Slippage::HalfSpread { spread } => spread.to_f64().unwrap_or(0.0) / 2.0 / price.max(f64::MIN_POSITIVE),
        // Volatility-dependent slippage is not known before the fill: keep a quarter percent.
        Slippage::VolatilityScaled { .. } | Slippage::SquareRootImpact { .. } => 0.0025,
    }
}

/// An instrument's trading terms as floats, read once rather than converted on every bar.
#[derive(Clone, Copy, Debug)]
pub struct SizingTerms {
    pub multiplier: f64,
    pub lot: f64,
    /// The reserve of [`cost_reserve`] at a unit price (proportional fees and slippage).
    fee_rate: f64,
}

/// The sizing terms of every instrument of `account`.
pub fn sizing_terms(account: &Account) -> Vec<SizingTerms> {
    account
        .specs()
        .iter()
        .map(|s| SizingTerms {
            multiplier: s.multiplier.to_f64().unwrap_or(1.0),
            lot: s.lot_size.to_f64().unwrap_or(1.0),
            fee_rate: s.fees.proportional_rate(),
        })
        .collect()
}

/// Market orders (sells first, to free cash) that move `account` to `weights` of `equity` at
/// `closes`, in whole lots. A change smaller than `band` × equity is not traded (a held
/// position drifts with its price instead of being topped up every bar), except a close to flat.
pub fn rebalance_orders(
    account: &Account,
    terms: &[SizingTerms],
    weights: &[f64],
    closes: &[f64],
    equity: f64,
    band: f64,
) -> Vec<OrderRequest> {
    let mut sells = Vec::new();
    let mut buys = Vec::new();
    for (k, (&w, &price)) in weights.iter().zip(closes).enumerate() {
        let (Some(spec), Some(t)) = (account.spec(k), terms.get(k)) else { continue };
        if !(price > 0.0 && equity > 0.0 && t.lot > 0.0) {
            continue;
        }
        // cost_reserve with the fee rate read once (the same sum, without a decimal conversion).
        let reserve = t.fee_rate + slippage_reserve(&spec.slippage, price);
        let units = w * equity * (1.0 - reserve) / (price * t.multiplier);
        let lots_f64 = (units / t.lot).trunc();
        // Whole lots within f64's exact integers convert without a decimal expansion.
        let lots = if lots_f64.abs() < 9.0e15 {
            Decimal::from(lots_f64 as i64)
        } else {
            Decimal::from_f64(lots_f64).unwrap_or(Decimal::ZERO)
        };
        let target_f64 = lots_f64 * t.lot;
        let change = (target_f64 - account.position_f64(k)).abs() * price * t.multiplier;
        if change == 0.0 || (!lots.is_zero() && change < band * equity) {
            continue;
        }
        let delta = lots * spec.lot_size - account.position(k);
        if delta.is_zero() {
            continue;
        }
        let (side, quantity) = if delta.is_sign_positive() { (Side::Buy, delta) } else { (Side::Sell, -delta) };
        let order = OrderRequest::market(k, side, Quantity::Units(quantity));
        if side == Side::Sell { sells.push(order) } else { buys.push(order) }
    }
    sells.extend(buys);
    sells
}

/// A strategy that holds given target weights from given bars on: a policy's decisions
/// replayed through the backtest engine (one entry per bar of the aligned data; None: no change).
pub struct TargetWeightsStrategy {
    name: String,
    band: f64,
    terms: Vec<SizingTerms>,
    weights: Vec<Option<Vec<f64>>>,
    closes: Vec<f64>,
    seen: Vec<Option<usize>>,
}

impl TargetWeightsStrategy {
    /// `band` as in [`rebalance_orders`] (the environment's `rebalance_band`).
    pub fn new(name: impl Into<String>, weights: Vec<Option<Vec<f64>>>, instruments: usize, band: f64) -> Self {
        Self {
            name: name.into(),
            band,
            terms: Vec::new(),
            weights,
            closes: vec![0.0; instruments],
            seen: vec![None; instruments],
        }
    }
}

impl Strategy for TargetWeightsStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_bar(&mut self, ctx: &mut Context<'_>, bar: &BarEvent) {
        self.closes[bar.instrument] = bar.close;
        self.seen[bar.instrument] = Some(bar.index);
        // Decide once every instrument has this bar (the data are aligned).
        if self.seen.iter().any(|s| *s != Some(bar.index)) {
            return;
        }
        let Some(Some(weights)) = self.weights.get(bar.index) else { return };
        if self.terms.is_empty() {
            self.terms = sizing_terms(ctx.account());
        }
        let equity = ctx.account().mark_f64(&self.closes);
        for order in rebalance_orders(ctx.account(), &self.terms, weights, &self.closes, equity, self.band) {
            ctx.submit(order);
        }
    }
}
