//! Orders as a strategy asks for them and as the venue works them: quantities in units or as a
//! fraction of equity, brackets and OCO links, and every state change an order goes through.

use serde::{Deserialize, Serialize};

use crate::domain::{Decimal, OrderType, Side, TimeInForce, Timestamp};

/// An instrument of the run, by position in the run's instrument list.
pub type InstrumentId = usize;

/// The venue's id for an order, unique within a run.
pub type OrderRef = u64;

/// How much to trade.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Quantity {
    /// A number of units (shares, contracts, coins); must be a multiple of the lot size.
    Units(Decimal),
    /// A fraction in (0, 1] of the margin available when the order fills, in whole lots, fees
    /// included: backtesting.py's default sizing (`buy()` uses all of it).
    EquityFraction(f64),
}

/// Stop-loss and take-profit orders attached to an entry: both are placed when the entry fills,
/// as one-cancels-other orders closing exactly the filled quantity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bracket {
    pub stop_loss: Option<Decimal>,
    pub take_profit: Option<Decimal>,
}

/// What a strategy submits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub instrument: InstrumentId,
    pub side: Side,
    pub quantity: Quantity,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    pub bracket: Option<Bracket>,
    /// Other working orders this one cancels when it fills (and that cancel it).
    pub oco_with: Option<OrderRef>,
    /// Only reduce an existing position: never open or flip one.
    pub reduce_only: bool,
    /// The signal or reason behind the order, carried to fills and trades for attribution.
    pub tag: Option<String>,
}

impl OrderRequest {
    pub fn market(instrument: InstrumentId, side: Side, quantity: Quantity) -> Self {
        Self {
            instrument,
            side,
            quantity,
            order_type: OrderType::Market,
            time_in_force: TimeInForce::Gtc,
            bracket: None,
            oco_with: None,
            reduce_only: false,
            tag: None,
        }
    }

    pub fn with_type(mut self, order_type: OrderType) -> Self {
        self.order_type = order_type;
        self
    }

    pub fn with_tif(mut self, tif: TimeInForce) -> Self {
        self.time_in_force = tif;
        self
    }

    pub fn with_bracket(mut self, stop_loss: Option<Decimal>, take_profit: Option<Decimal>) -> Self {
        self.bracket = Some(Bracket { stop_loss, take_profit });
        self
    }

    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    pub fn reduce_only(mut self) -> Self {
        self.reduce_only = true;
        self
    }
}

/// A change to a working order's terms.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderChange {
    pub quantity: Option<Decimal>,
    pub limit_price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
}

/// Why an order was refused or ended without filling; shown in the order log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Accepted,
    Rejected { reason: String },
    PartiallyFilled { filled: Decimal, remaining: Decimal },
    Filled,
    Cancelled { reason: String },
    Expired,
    Modified,
}

/// One line of the order log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderEvent {
    pub order: OrderRef,
    pub ts: Timestamp,
    pub bar: usize,
    pub symbol: String,
    pub side: Side,
    pub status: OrderStatus,
    pub tag: Option<String>,
}

/// An execution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FillEvent {
    pub order: OrderRef,
    pub instrument: InstrumentId,
    pub symbol: String,
    pub ts: Timestamp,
    pub bar: usize,
    pub side: Side,
    pub quantity: Decimal,
    pub price: Decimal,
    /// Fee in the instrument's currency.
    pub fee: Decimal,
    /// Adverse price movement from slippage, per unit (already in `price`).
    pub slippage: Decimal,
    /// Whether the order added liquidity (a resting limit order).
    pub maker: bool,
    pub tag: Option<String>,
}

/// An order being worked by the simulated venue.
#[derive(Clone, Debug)]
pub(crate) struct WorkingOrder {
    pub id: OrderRef,
    pub request: OrderRequest,
    pub submitted_bar: usize,
    /// The instrument's trading day when it was submitted (days since 1970-01-01), for DAY expiry.
    pub submitted_day: i64,
    /// Quantity resolved in units (None until an equity fraction is sized at the fill).
    pub units: Option<Decimal>,
    pub filled: Decimal,
    /// A stop-limit whose stop has triggered now works as a limit order (and, matched against
    /// ticks, a triggered stop as a market order).
    pub triggered: bool,
    /// The best price seen since submission, which a trailing stop trails.
    pub trail_extreme: Option<Decimal>,
    /// Whether the order has rested through at least one bar (then a limit fill is a maker fill).
    pub rested: bool,
    /// A bracket exit whose entry filled at the bar's open: it may act in the rest of that bar.
    pub same_bar: bool,
}
