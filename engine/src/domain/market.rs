//! Market events: OHLCV bars, top-of-book quotes, trade ticks and order book levels, each
//! validated when built so that an impossible price never enters the engine.

use serde::{Deserialize, Serialize};

use super::{Decimal, Symbol, Timestamp, ValidationError, non_negative, positive};

/// One OHLCV bar, stamped with the time its interval opens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawBar")]
pub struct Bar {
    pub ts: Timestamp,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
}

#[derive(Deserialize)]
struct RawBar {
    ts: Timestamp,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    volume: Decimal,
}

impl TryFrom<RawBar> for Bar {
    type Error = ValidationError;
    fn try_from(r: RawBar) -> Result<Self, Self::Error> {
        Bar::new(r.ts, r.open, r.high, r.low, r.close, r.volume)
    }
}

impl Bar {
    /// Builds a bar, refusing non-positive prices, negative volume and an inconsistent range
    /// (the high must be the highest of the four prices and the low the lowest).
    pub fn new(
        ts: Timestamp,
        open: Decimal,
        high: Decimal,
        low: Decimal,
        close: Decimal,
        volume: Decimal,
    ) -> Result<Self, ValidationError> {
        positive("open", open)?;
        positive("high", high)?;
        positive("low", low)?;
        positive("close", close)?;
        non_negative("volume", volume)?;
        if high < low {
            return Err(ValidationError::new("high", format!("high {high} is below low {low}")));
        }
        if high < open || high < close {
            let (name, v) = if high < open { ("open", open) } else { ("close", close) };
            return Err(ValidationError::new("high", format!("high {high} is below {name} {v}")));
        }
        if low > open || low > close {
            let (name, v) = if low > open { ("open", open) } else { ("close", close) };
            return Err(ValidationError::new("low", format!("low {low} is above {name} {v}")));
        }
        Ok(Self { ts, open, high, low, close, volume })
    }

    /// A bar for a series that records only a closing price (a close panel): all four prices
    /// equal the close and the volume is unknown, recorded as zero.
    pub fn close_only(ts: Timestamp, close: Decimal) -> Result<Self, ValidationError> {
        Self::new(ts, close, close, close, close, Decimal::ZERO)
    }

    /// The typical price (H+L+C)/3 used by VWAP and CCI.
    pub fn typical_price(&self) -> Decimal {
        (self.high + self.low + self.close) / Decimal::from(3)
    }
}

/// Best bid and offer at an instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawQuote")]
pub struct Quote {
    pub ts: Timestamp,
    pub symbol: Symbol,
    pub bid: Decimal,
    pub bid_size: Decimal,
    pub ask: Decimal,
    pub ask_size: Decimal,
}

#[derive(Deserialize)]
struct RawQuote {
    ts: Timestamp,
    symbol: Symbol,
    bid: Decimal,
    bid_size: Decimal,
    ask: Decimal,
    ask_size: Decimal,
}

impl TryFrom<RawQuote> for Quote {
    type Error = ValidationError;
    fn try_from(r: RawQuote) -> Result<Self, Self::Error> {
        Quote::new(r.ts, r.symbol, r.bid, r.bid_size, r.ask, r.ask_size)
    }
}

impl Quote {
    /// Refuses non-positive prices, negative sizes and a crossed book (bid above ask).
    pub fn new(
        ts: Timestamp,
        symbol: Symbol,
        bid: Decimal,
        bid_size: Decimal,
        ask: Decimal,
        ask_size: Decimal,
    ) -> Result<Self, ValidationError> {
        positive("bid", bid)?;
        positive("ask", ask)?;
        non_negative("bid_size", bid_size)?;
        non_negative("ask_size", ask_size)?;
        if bid > ask {
            return Err(ValidationError::new("bid", format!("bid {bid} is above ask {ask} (crossed quote)")));
        }
        Ok(Self { ts, symbol, bid, bid_size, ask, ask_size })
    }

    pub fn mid(&self) -> Decimal {
        (self.bid + self.ask) / Decimal::TWO
    }

    pub fn spread(&self) -> Decimal {
        self.ask - self.bid
    }
}

/// One print on the tape. `aggressor` is the side that crossed the spread, when the venue says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawTradeTick")]
pub struct TradeTick {
    pub ts: Timestamp,
    pub symbol: Symbol,
    pub price: Decimal,
    pub quantity: Decimal,
    pub aggressor: Option<super::Side>,
    pub trade_id: Option<String>,
}

#[derive(Deserialize)]
struct RawTradeTick {
    ts: Timestamp,
    symbol: Symbol,
    price: Decimal,
    quantity: Decimal,
    aggressor: Option<super::Side>,
    trade_id: Option<String>,
}

impl TryFrom<RawTradeTick> for TradeTick {
    type Error = ValidationError;
    fn try_from(r: RawTradeTick) -> Result<Self, Self::Error> {
        let mut t = TradeTick::new(r.ts, r.symbol, r.price, r.quantity)?;
        t.aggressor = r.aggressor;
        t.trade_id = r.trade_id;
        Ok(t)
    }
}

impl TradeTick {
    pub fn new(ts: Timestamp, symbol: Symbol, price: Decimal, quantity: Decimal) -> Result<Self, ValidationError> {
        positive("price", price)?;
        positive("quantity", quantity)?;
        Ok(Self { ts, symbol, price, quantity, aggressor: None, trade_id: None })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BookSide {
    Bid,
    Ask,
}

/// One price level of an order book: the total resting quantity at a price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "(Decimal, Decimal)", into = "(Decimal, Decimal)")]
pub struct BookLevel {
    pub price: Decimal,
    pub quantity: Decimal,
}

impl BookLevel {
    pub fn new(price: Decimal, quantity: Decimal) -> Result<Self, ValidationError> {
        positive("price", price)?;
        non_negative("quantity", quantity)?;
        Ok(Self { price, quantity })
    }
}

impl TryFrom<(Decimal, Decimal)> for BookLevel {
    type Error = ValidationError;
    fn try_from((price, quantity): (Decimal, Decimal)) -> Result<Self, Self::Error> {
        Self::new(price, quantity)
    }
}

impl From<BookLevel> for (Decimal, Decimal) {
    fn from(l: BookLevel) -> Self {
        (l.price, l.quantity)
    }
}

/// A depth snapshot: bids best (highest) first, asks best (lowest) first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBook {
    pub ts: Timestamp,
    pub symbol: Symbol,
    pub bids: Vec<BookLevel>,
    pub asks: Vec<BookLevel>,
}

impl OrderBook {
    /// Refuses levels out of order on either side and a crossed book.
    pub fn new(
        ts: Timestamp,
        symbol: Symbol,
        bids: Vec<BookLevel>,
        asks: Vec<BookLevel>,
    ) -> Result<Self, ValidationError> {
        if bids.windows(2).any(|w| w[0].price <= w[1].price) {
            return Err(ValidationError::new("bids", "levels must be strictly descending by price"));
        }
        if asks.windows(2).any(|w| w[0].price >= w[1].price) {
            return Err(ValidationError::new("asks", "levels must be strictly ascending by price"));
        }
        if let (Some(b), Some(a)) = (bids.first(), asks.first())
            && b.price >= a.price
        {
            return Err(ValidationError::new(
                "bids",
                format!("best bid {} is not below best ask {}", b.price, a.price),
            ));
        }
        Ok(Self { ts, symbol, bids, asks })
    }

    pub fn best_bid(&self) -> Option<&BookLevel> {
        self.bids.first()
    }

    pub fn best_ask(&self) -> Option<&BookLevel> {
        self.asks.first()
    }
}
