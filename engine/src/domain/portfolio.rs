//! Positions and portfolios: signed quantities at an average cost, cash, and the realised and
//! unrealised P&L that fills and prices produce, all in exact decimals.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Decimal, Fill, Side, Symbol};

/// A holding in one instrument. Quantity is signed: positive long, negative short.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub symbol: Symbol,
    pub quantity: Decimal,
    /// Average entry price of the open quantity (zero when flat).
    pub average_price: Decimal,
    /// P&L locked in by reducing or closing the position, before fees.
    pub realised_pnl: Decimal,
}

impl Position {
    pub fn flat(symbol: Symbol) -> Self {
        Self { symbol, quantity: Decimal::ZERO, average_price: Decimal::ZERO, realised_pnl: Decimal::ZERO }
    }

    pub fn is_flat(&self) -> bool {
        self.quantity.is_zero()
    }

    pub fn side(&self) -> Option<Side> {
        if self.quantity.is_zero() {
            None
        } else if self.quantity.is_sign_positive() {
            Some(Side::Buy)
        } else {
            Some(Side::Sell)
        }
    }

    /// Applies a fill at average cost: adding to a position re-averages the price, reducing it
    /// realises P&L on the reduced part, and crossing zero opens the remainder at the fill price.
    pub fn apply(&mut self, side: Side, quantity: Decimal, price: Decimal) {
        let delta = side.sign() * quantity;
        let same_direction = self.quantity.is_zero() || (self.quantity.is_sign_positive() == delta.is_sign_positive());
        if same_direction {
            let new_qty = self.quantity + delta;
            self.average_price = (self.average_price * self.quantity.abs() + price * quantity) / new_qty.abs();
            self.quantity = new_qty;
            return;
        }
        let closed = quantity.min(self.quantity.abs());
        let direction = if self.quantity.is_sign_positive() { Decimal::ONE } else { Decimal::NEGATIVE_ONE };
        self.realised_pnl += (price - self.average_price) * closed * direction;
        self.quantity += delta;
        if self.quantity.is_zero() {
            self.average_price = Decimal::ZERO;
        } else if self.quantity.is_sign_positive() != direction.is_sign_positive() {
            self.average_price = price;
        }
    }

    /// Mark-to-market P&L of the open quantity at `price`.
    pub fn unrealised_pnl(&self, price: Decimal) -> Decimal {
        (price - self.average_price) * self.quantity
    }

    pub fn market_value(&self, price: Decimal) -> Decimal {
        price * self.quantity
    }
}

/// Cash plus positions in one account currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portfolio {
    pub currency: String,
    pub cash: Decimal,
    pub positions: BTreeMap<Symbol, Position>,
    pub fees_paid: Decimal,
}

impl Portfolio {
    pub fn new(currency: &str, cash: Decimal) -> Self {
        Self { currency: currency.to_owned(), cash, positions: BTreeMap::new(), fees_paid: Decimal::ZERO }
    }

    /// Books a fill: cash moves by the notional and the fee, the position by the quantity.
    pub fn apply_fill(&mut self, fill: &Fill) {
        self.cash -= fill.side.sign() * fill.notional() + fill.fee;
        self.fees_paid += fill.fee;
        self.positions.entry(fill.symbol.clone()).or_insert_with(|| Position::flat(fill.symbol.clone())).apply(
            fill.side,
            fill.quantity,
            fill.price,
        );
    }

    pub fn position(&self, symbol: &Symbol) -> Option<&Position> {
        self.positions.get(symbol).filter(|p| !p.is_flat())
    }

    /// Cash plus the market value of every open position at the given prices; `None` when a
    /// price is missing for an open position, since an equity figure without it would be wrong.
    pub fn equity(&self, prices: &BTreeMap<Symbol, Decimal>) -> Option<Decimal> {
        self.positions
            .values()
            .filter(|p| !p.is_flat())
            .try_fold(self.cash, |acc, p| prices.get(&p.symbol).map(|price| acc + p.market_value(*price)))
    }

    pub fn realised_pnl(&self) -> Decimal {
        self.positions.values().map(|p| p.realised_pnl).sum()
    }
}
