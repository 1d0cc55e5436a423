//! Orders as a strategy submits them (market, limit, stop, stop-limit, trailing stop, with a
//! time in force and a client order id) and the fills a venue reports back.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Decimal, Symbol, Timestamp, ValidationError, non_negative, positive};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    /// +1 for buys, -1 for sells: the sign a fill adds to a position.
    pub fn sign(self) -> Decimal {
        match self {
            Self::Buy => Decimal::ONE,
            Self::Sell => Decimal::NEGATIVE_ONE,
        }
    }

    pub fn opposite(self) -> Self {
        match self {
            Self::Buy => Self::Sell,
            Self::Sell => Self::Buy,
        }
    }
}

/// How far a trailing stop follows the best price: a fixed amount or a percentage of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "unit", content = "value", rename_all = "lowercase")]
pub enum TrailingOffset {
    Amount(Decimal),
    Percent(Decimal),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderType {
    Market,
    Limit { limit_price: Decimal },
    Stop { stop_price: Decimal },
    StopLimit { stop_price: Decimal, limit_price: Decimal },
    TrailingStop { offset: TrailingOffset },
}

impl OrderType {
    fn validate(&self) -> Result<(), ValidationError> {
        match *self {
            Self::Market => Ok(()),
            Self::Limit { limit_price } => positive("limit_price", limit_price).map(drop),
            Self::Stop { stop_price } => positive("stop_price", stop_price).map(drop),
            Self::StopLimit { stop_price, limit_price } => {
                positive("stop_price", stop_price)?;
                positive("limit_price", limit_price).map(drop)
            }
            Self::TrailingStop { offset: TrailingOffset::Amount(a) } => positive("offset", a).map(drop),
            Self::TrailingStop { offset: TrailingOffset::Percent(p) } => {
                positive("offset", p)?;
                if p >= Decimal::ONE_HUNDRED {
                    return Err(ValidationError::new("offset", format!("trailing percent {p} must be below 100")));
                }
                Ok(())
            }
        }
    }
}

/// Good till cancelled, the trading day, immediate or cancel, fill or kill.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TimeInForce {
    #[default]
    Gtc,
    Day,
    Ioc,
    Fok,
}

/// The client order id: chosen by the sender, unique per account, echoed on every fill.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderId(String);

impl OrderId {
    pub fn new(id: &str) -> Result<Self, ValidationError> {
        let id = id.trim();
        if id.is_empty() || id.len() > 64 {
            return Err(ValidationError::new("client_order_id", "must be 1 to 64 characters"));
        }
        if !id.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ValidationError::new(
                "client_order_id",
                format!("`{id}` must be printable ASCII without spaces"),
            ));
        }
        Ok(Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for OrderId {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<OrderId> for String {
    fn from(o: OrderId) -> Self {
        o.0
    }
}

/// An order as submitted. Quantity is always positive; direction is the side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawOrder")]
pub struct Order {
    pub client_order_id: OrderId,
    pub symbol: Symbol,
    pub side: Side,
    pub quantity: Decimal,
    #[serde(flatten)]
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    pub created_at: Timestamp,
}

#[derive(Deserialize)]
struct RawOrder {
    client_order_id: OrderId,
    symbol: Symbol,
    side: Side,
    quantity: Decimal,
    #[serde(flatten)]
    order_type: OrderType,
    time_in_force: TimeInForce,
    created_at: Timestamp,
}

impl TryFrom<RawOrder> for Order {
    type Error = ValidationError;
    fn try_from(r: RawOrder) -> Result<Self, Self::Error> {
        Order::new(r.client_order_id, r.symbol, r.side, r.quantity, r.order_type, r.time_in_force, r.created_at)
    }
}

impl Order {
    /// Refuses a zero or negative quantity and non-positive prices in the order type.
    pub fn new(
        client_order_id: OrderId,
        symbol: Symbol,
        side: Side,
        quantity: Decimal,
        order_type: OrderType,
        time_in_force: TimeInForce,
        created_at: Timestamp,
    ) -> Result<Self, ValidationError> {
        if quantity.is_zero() {
            return Err(ValidationError::new("quantity", "must not be zero"));
        }
        positive("quantity", quantity)?;
        order_type.validate()?;
        Ok(Self { client_order_id, symbol, side, quantity, order_type, time_in_force, created_at })
    }

    pub fn market(
        id: &str,
        symbol: &Symbol,
        side: Side,
        quantity: Decimal,
        at: Timestamp,
    ) -> Result<Self, ValidationError> {
        Self::new(OrderId::new(id)?, symbol.clone(), side, quantity, OrderType::Market, TimeInForce::Gtc, at)
    }

    pub fn limit(
        id: &str,
        symbol: &Symbol,
        side: Side,
        quantity: Decimal,
        limit_price: Decimal,
        at: Timestamp,
    ) -> Result<Self, ValidationError> {
        Self::new(
            OrderId::new(id)?,
            symbol.clone(),
            side,
            quantity,
            OrderType::Limit { limit_price },
            TimeInForce::Gtc,
            at,
        )
    }
}

/// A (possibly partial) execution of an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawFill")]
pub struct Fill {
    pub client_order_id: OrderId,
    pub symbol: Symbol,
    pub side: Side,
    pub price: Decimal,
    pub quantity: Decimal,
    /// Fees paid for this fill, in the instrument's currency.
    pub fee: Decimal,
    pub ts: Timestamp,
}

#[derive(Deserialize)]
struct RawFill {
    client_order_id: OrderId,
    symbol: Symbol,
    side: Side,
    price: Decimal,
    quantity: Decimal,
    fee: Decimal,
    ts: Timestamp,
}

impl TryFrom<RawFill> for Fill {
    type Error = ValidationError;
    fn try_from(r: RawFill) -> Result<Self, Self::Error> {
        Fill::new(r.client_order_id, r.symbol, r.side, r.price, r.quantity, r.fee, r.ts)
    }
}

impl Fill {
    pub fn new(
        client_order_id: OrderId,
        symbol: Symbol,
        side: Side,
        price: Decimal,
        quantity: Decimal,
        fee: Decimal,
        ts: Timestamp,
    ) -> Result<Self, ValidationError> {
        positive("price", price)?;
        if quantity.is_zero() {
            return Err(ValidationError::new("quantity", "must not be zero"));
        }
        positive("quantity", quantity)?;
        non_negative("fee", fee)?;
        Ok(Self { client_order_id, symbol, side, price, quantity, fee, ts })
    }

    /// Price times quantity, before fees.
    pub fn notional(&self) -> Decimal {
        self.price * self.quantity
    }
}
