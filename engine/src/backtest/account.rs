//! The simulated account: cash per currency, signed positions with FIFO lots, margin and short
//! selling rules, conversion to the base currency through quoted FX rates, and the closed-trade log.

use std::collections::{BTreeMap, VecDeque};

use chrono::Datelike;

use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::costs::{Fees, Slippage};
use super::metrics::{TradeSide, TradeSummary};
use super::order::{FillEvent, InstrumentId};
use crate::data::calendar::MarketCalendar;
use crate::domain::{Decimal, Side, Timestamp, decimal_f64};

/// 1970-01-01 in days from the common era's day 1, as chrono counts.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The trading terms of one instrument in a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstrumentSpec {
    pub symbol: String,
    /// The currency prices are quoted in.
    pub currency: String,
    /// Quantities must be whole multiples of this (1 share; 0.001 BTC).
    pub lot_size: Decimal,
    /// Currency units per point of price per unit (1 for cash instruments; 100 for an option).
    pub multiplier: Decimal,
    pub fees: Fees,
    pub slippage: Slippage,
    /// The market's calendar, whose trading days end DAY orders; None: UTC days.
    #[serde(default)]
    pub calendar: Option<MarketCalendar>,
    /// Annual stock-loan fee on the market value of a short position (0.003 = 0.3 % a year,
    /// general collateral; hard-to-borrow names cost far more), accrued per night, actual/360.
    #[serde(default)]
    pub borrow_rate: Decimal,
}

impl InstrumentSpec {
    pub fn cash(symbol: &str, currency: &str) -> Self {
        Self {
            symbol: symbol.into(),
            currency: currency.into(),
            lot_size: Decimal::ONE,
            multiplier: Decimal::ONE,
            fees: Fees::None,
            slippage: Slippage::None,
            calendar: None,
            borrow_rate: Decimal::ZERO,
        }
    }

    /// The stock-loan fee for holding `position` (signed units) over one night at `price`.
    pub fn borrow_fee(&self, position: Decimal, price: Decimal) -> Decimal {
        if position.is_sign_negative() && !position.is_zero() && !self.borrow_rate.is_zero() {
            (position * price * self.multiplier).abs() * self.borrow_rate / Decimal::from(360)
        } else {
            Decimal::ZERO
        }
    }

    /// The trading day of `ts` in this instrument's market, as days since 1970-01-01.
    pub fn trading_day(&self, ts: Timestamp) -> i64 {
        match self.calendar {
            Some(calendar) => i64::from(calendar.trading_day(ts).num_days_from_ce() - EPOCH_DAYS_FROM_CE),
            None => ts.nanos().div_euclid(86_400_000_000_000),
        }
    }
}

/// Account rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountConfig {
    pub base_currency: String,
    pub initial_cash: Decimal,
    /// Initial margin as a fraction of notional: 1 is a cash account, 0.5 allows 2x leverage.
    pub margin: Decimal,
    /// Maintenance margin as a fraction of gross notional: when equity falls below it, the venue
    /// cancels the working orders and closes every position at market (a margin call). None: no
    /// liquidation; the initial margin still limits new exposure.
    #[serde(default)]
    pub maintenance_margin: Option<Decimal>,
    pub allow_short: bool,
}

impl Default for AccountConfig {
    fn default() -> Self {
        Self {
            base_currency: "USD".into(),
            initial_cash: Decimal::from(10_000),
            margin: Decimal::ONE,
            maintenance_margin: None,
            allow_short: true,
        }
    }
}

/// An open lot: part of a position entered by one fill.
#[derive(Clone, Debug)]
struct Lot {
    /// Signed units still open.
    quantity: Decimal,
    price: Decimal,
    bar: usize,
    ts: Timestamp,
    /// Entry fee per unit, so a partial close carries its share.
    fee_per_unit: Decimal,
    /// Overnight financing and stock-loan fees charged per unit while the lot was open, so
    /// the trade that closes it carries them in its P&L.
    carry_per_unit: Decimal,
    tag: Option<String>,
}

/// How a currency converts to the base currency: through an instrument's price.
#[derive(Clone, Copy, Debug)]
pub struct FxLink {
    pub instrument: InstrumentId,
    /// True when the pair is quoted as base/currency (USDJPY for JPY with base USD): divide.
    pub inverted: bool,
}

/// The ledger. Exact decimals throughout; f64 shadows of cash and positions make the per-bar
/// equity mark cheap (the equity curve is a statistic; the ledger stays exact).
#[derive(Clone, Debug)]
pub struct Account {
    config: AccountConfig,
    specs: Vec<InstrumentSpec>,
    cash: BTreeMap<String, Decimal>,
    positions: Vec<Decimal>,
    lots: Vec<VecDeque<Lot>>,
    last_price: Vec<Decimal>,
    fx: BTreeMap<String, FxLink>,
    closed: Vec<TradeSummary>,
    commissions: Decimal,
    borrow_fees: Decimal,
    traded_notional: Decimal,
    // Shadows for the equity mark.
    cash_f64: f64,
    position_f64: Vec<f64>,
    multiplier_f64: Vec<f64>,
}

/// Why the account cannot take a fill.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AccountRejection {
    #[error("insufficient margin: the order needs {needed:.2} {currency}, {available:.2} is available")]
    InsufficientMargin { needed: Decimal, available: Decimal, currency: String },
    #[error("short selling is not allowed in this account")]
    ShortNotAllowed,
    #[error("quantity {quantity} is not a multiple of the lot size {lot}")]
    OffLot { quantity: Decimal, lot: Decimal },
    #[error("no FX rate to convert {currency} to {base}: add a {currency}{base} or {base}{currency} series")]
    NoFxRate { currency: String, base: String },
}

impl Account {
    pub fn new(config: AccountConfig, specs: Vec<InstrumentSpec>) -> Self {
        let n = specs.len();
        let mut cash = BTreeMap::new();
        cash.insert(config.base_currency.clone(), config.initial_cash);
        let multiplier_f64 = specs.iter().map(|s| s.multiplier.to_f64().unwrap_or(1.0)).collect();
        Self {
            cash_f64: config.initial_cash.to_f64().unwrap_or(0.0),
            config,
            specs,
            cash,
            positions: vec![Decimal::ZERO; n],
            lots: vec![VecDeque::new(); n],
            last_price: vec![Decimal::ZERO; n],
            fx: BTreeMap::new(),
            closed: Vec::new(),
            commissions: Decimal::ZERO,
            borrow_fees: Decimal::ZERO,
            traded_notional: Decimal::ZERO,
            position_f64: vec![0.0; n],
            multiplier_f64,
        }
    }

    pub fn link_fx(&mut self, currency: &str, link: FxLink) {
        self.fx.insert(currency.to_string(), link);
    }

    pub fn config(&self) -> &AccountConfig {
        &self.config
    }

    pub fn spec(&self, id: InstrumentId) -> Option<&InstrumentSpec> {
        self.specs.get(id)
    }

    pub fn specs(&self) -> &[InstrumentSpec] {
        &self.specs
    }

    pub fn position(&self, id: InstrumentId) -> Decimal {
        self.positions.get(id).copied().unwrap_or_default()
    }

    /// The position as a float (kept beside the exact one for marks and observations).
    pub fn position_f64(&self, id: InstrumentId) -> f64 {
        self.position_f64[id]
    }

    pub fn cash(&self, currency: &str) -> Decimal {
        self.cash.get(currency).copied().unwrap_or_default()
    }

    pub fn cash_balances(&self) -> &BTreeMap<String, Decimal> {
        &self.cash
    }

    pub fn set_price(&mut self, id: InstrumentId, price: Decimal) {
        self.last_price[id] = price;
    }

    pub fn last_price(&self, id: InstrumentId) -> Decimal {
        self.last_price[id]
    }

    /// Units of base currency per unit of `currency`, from the latest FX price.
    pub fn rate_to_base(&self, currency: &str) -> Result<Decimal, AccountRejection> {
        if currency == self.config.base_currency {
            return Ok(Decimal::ONE);
        }
        let missing =
            || AccountRejection::NoFxRate { currency: currency.into(), base: self.config.base_currency.clone() };
        let link = self.fx.get(currency).ok_or_else(missing)?;
        let price = self.last_price[link.instrument];
        if price.is_zero() {
            return Err(missing());
        }
        Ok(if link.inverted { Decimal::ONE / price } else { price })
    }

    /// Exact equity in the base currency at the last prices.
    pub fn equity(&self) -> Result<Decimal, AccountRejection> {
        let mut total = Decimal::ZERO;
        for (currency, amount) in &self.cash {
            total += *amount * self.rate_to_base(currency)?;
        }
        for (id, q) in self.positions.iter().enumerate() {
            if !q.is_zero() {
                let spec = &self.specs[id];
                total += *q * self.last_price[id] * spec.multiplier * self.rate_to_base(&spec.currency)?;
            }
        }
        Ok(total)
    }

    /// The gross notional of the open positions in the base currency at the last prices.
    pub fn gross_exposure(&self) -> Result<Decimal, AccountRejection> {
        let mut gross = Decimal::ZERO;
        for (id, q) in self.positions.iter().enumerate() {
            if !q.is_zero() {
                let spec = &self.specs[id];
                gross += (*q * self.last_price[id] * spec.multiplier).abs() * self.rate_to_base(&spec.currency)?;
            }
        }
        Ok(gross)
    }

    /// Equity minus the margin held by open positions (never negative).
    pub fn margin_available(&self) -> Result<Decimal, AccountRejection> {
        Ok((self.equity()? - self.gross_exposure()? * self.config.margin).max(Decimal::ZERO))
    }

    /// Whether the account is below its maintenance margin at the last prices: the equity and
    /// the margin it had to keep, or None when it is above it (or has none set, or is flat).
    pub fn maintenance_breach(&self) -> Result<Option<(Decimal, Decimal)>, AccountRejection> {
        let Some(maintenance) = self.config.maintenance_margin else { return Ok(None) };
        if self.positions.iter().all(Decimal::is_zero) {
            return Ok(None);
        }
        let required = self.gross_exposure()? * maintenance;
        let equity = self.equity()?;
        Ok((equity < required).then_some((equity, required)))
    }

    /// The fast equity mark for single-currency runs: f64 shadows times f64 closes.
    #[inline(always)]
    pub fn mark_f64(&self, closes: &[f64]) -> f64 {
        let mut equity = self.cash_f64;
        for (k, q) in self.position_f64.iter().enumerate() {
            if *q != 0.0 {
                equity += q * closes[k] * self.multiplier_f64[k];
            }
        }
        equity
    }

    pub fn is_single_currency(&self) -> bool {
        self.specs.iter().all(|s| s.currency == self.config.base_currency)
    }

    /// Checks that `quantity` (units) may be traded: lot size, shorting, and margin for the part
    /// that opens or adds to a position (the part that reduces one frees margin instead).
    pub fn check(
        &self,
        id: InstrumentId,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        fee: Decimal,
    ) -> Result<(), AccountRejection> {
        let spec = &self.specs[id];
        if !spec.lot_size.is_zero() && !(quantity % spec.lot_size).is_zero() {
            return Err(AccountRejection::OffLot { quantity, lot: spec.lot_size });
        }
        let current = self.positions[id];
        let after = current + side.sign() * quantity;
        if after.is_sign_negative() && !after.is_zero() && !self.config.allow_short {
            return Err(AccountRejection::ShortNotAllowed);
        }
        let reducing = if current.is_zero() || current.is_sign_positive() == (side == Side::Buy) {
            Decimal::ZERO
        } else {
            quantity.min(current.abs())
        };
        let opening = quantity - reducing;
        if opening.is_zero() {
            return Ok(());
        }
        let rate = self.rate_to_base(&spec.currency)?;
        let needed = (opening * price * spec.multiplier * rate * self.config.margin) + fee * rate;
        // Closing first frees the margin of the reduced part and realises its P&L.
        let freed = reducing * price * spec.multiplier * rate * self.config.margin;
        let available = self.margin_available()? + freed;
        if needed > available {
            return Err(AccountRejection::InsufficientMargin {
                needed,
                available,
                currency: self.config.base_currency.clone(),
            });
        }
        Ok(())
    }

    /// Books a fill: cash, position, FIFO lots and the closed trades it produces.
    pub fn apply(&mut self, fill: &FillEvent) {
        let id = fill.instrument;
        let spec = &self.specs[id];
        let multiplier = spec.multiplier;
        let signed = fill.side.sign() * fill.quantity;
        let notional = fill.quantity * fill.price * multiplier;
        let cost = signed * fill.price * multiplier + fill.fee;
        // The currency's entry exists after the first fill: no key allocation per fill.
        match self.cash.get_mut(&spec.currency) {
            Some(cash) => *cash -= cost,
            None => {
                self.cash.insert(spec.currency.clone(), -cost);
            }
        }
        self.commissions += fill.fee;
        self.traded_notional += notional;
        let fee_per_unit = if fill.quantity.is_zero() { Decimal::ZERO } else { fill.fee / fill.quantity };

        let mut remaining = signed;
        let lots = &mut self.lots[id];
        while !remaining.is_zero() {
            let Some(front) = lots.front_mut() else { break };
            if front.quantity.is_sign_positive() == remaining.is_sign_positive() {
                break;
            }
            let closing = remaining.abs().min(front.quantity.abs());
            let lot_sign = if front.quantity.is_sign_positive() { Decimal::ONE } else { Decimal::NEGATIVE_ONE };
            let gross = closing * lot_sign * (fill.price - front.price) * multiplier;
            let fees = closing * (front.fee_per_unit + fee_per_unit);
            let carry = closing * front.carry_per_unit;
            self.closed.push(TradeSummary {
                symbol: self.specs[id].symbol.clone(),
                side: if lot_sign.is_sign_positive() { TradeSide::Long } else { TradeSide::Short },
                size: closing.to_f64().unwrap_or(0.0),
                entry_bar: front.bar,
                exit_bar: fill.bar,
                entry_ts_nanos: front.ts.nanos(),
                exit_ts_nanos: fill.ts.nanos(),
                entry_price: front.price.to_f64().unwrap_or(0.0),
                exit_price: fill.price.to_f64().unwrap_or(0.0),
                commissions: fees.to_f64().unwrap_or(0.0),
                financing: carry.to_f64().unwrap_or(0.0),
                pnl: (gross - fees - carry).to_f64().unwrap_or(0.0),
                tag: front.tag.clone(),
            });
            front.quantity -= lot_sign * closing;
            remaining += lot_sign * closing;
            if front.quantity.is_zero() {
                lots.pop_front();
            }
        }
        if !remaining.is_zero() {
            lots.push_back(Lot {
                quantity: remaining,
                price: fill.price,
                bar: fill.bar,
                ts: fill.ts,
                fee_per_unit,
                carry_per_unit: Decimal::ZERO,
                tag: fill.tag.clone(),
            });
        }
        self.positions[id] += signed;
        self.last_price[id] = fill.price;
        self.position_f64[id] = decimal_f64(self.positions[id]);
        self.refresh_cash_shadow();
    }

    /// Charges (or credits) an amount in a currency: financing, dividends, interest.
    pub fn charge(&mut self, currency: &str, amount: Decimal) {
        self.debit(currency, amount);
        self.commissions += amount;
    }

    fn debit(&mut self, currency: &str, amount: Decimal) {
        match self.cash.get_mut(currency) {
            Some(cash) => *cash -= amount,
            None => {
                self.cash.insert(currency.to_string(), -amount);
            }
        }
        self.refresh_cash_shadow();
    }

    /// Charges a short position's stock-loan fee (counted apart from commissions) and books it
    /// on the open lots of that instrument.
    pub fn charge_borrow(&mut self, instrument: InstrumentId, amount: Decimal) {
        let currency = self.specs[instrument].currency.clone();
        self.debit(&currency, amount);
        self.borrow_fees += amount;
        self.book_carry(instrument, amount);
    }

    /// Charges an instrument's overnight financing (counted with commissions, as `charge` does)
    /// and books it on its open lots.
    pub fn charge_financing(&mut self, instrument: InstrumentId, amount: Decimal) {
        let currency = self.specs[instrument].currency.clone();
        self.charge(&currency, amount);
        self.book_carry(instrument, amount);
    }

    /// Spreads a holding cost over the instrument's open lots per unit, so each trade's P&L
    /// includes the carry it incurred while open.
    fn book_carry(&mut self, instrument: InstrumentId, amount: Decimal) {
        let open: Decimal = self.lots[instrument].iter().map(|l| l.quantity.abs()).sum();
        if open.is_zero() {
            return;
        }
        let per_unit = amount / open;
        for lot in &mut self.lots[instrument] {
            lot.carry_per_unit += per_unit;
        }
    }

    /// Stock-loan fees paid so far, in instrument currency units summed (single-currency runs:
    /// the base currency).
    pub fn borrow_fees(&self) -> Decimal {
        self.borrow_fees
    }

    fn refresh_cash_shadow(&mut self) {
        if self.is_single_currency() && self.cash.len() == 1 {
            self.cash_f64 = decimal_f64(self.cash(&self.config.base_currency));
        } else {
            // Multi-currency runs mark exactly each bar instead of through the shadows.
            self.cash_f64 = f64::NAN;
        }
    }

    pub fn closed_trades(&self) -> &[TradeSummary] {
        &self.closed
    }

    pub fn commissions(&self) -> Decimal {
        self.commissions
    }

    pub fn traded_notional(&self) -> Decimal {
        self.traded_notional
    }

    /// Open lots as (instrument, signed units, entry price, entry bar), for the report.
    pub fn open_lots(&self) -> Vec<(InstrumentId, Decimal, Decimal, usize)> {
        self.lots
            .iter()
            .enumerate()
            .flat_map(|(id, lots)| lots.iter().map(move |l| (id, l.quantity, l.price, l.bar)))
            .collect()
    }
}
