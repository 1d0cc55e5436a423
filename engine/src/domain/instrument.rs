//! Tradable instruments of every asset class (equities, ETFs, indices, options, forex and crypto
//! pairs) and the symbols that name them.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Decimal, ValidationError, positive};

/// A canonical instrument symbol: trimmed, upper case, `/` between base and quote of a pair
/// (`EUR/USD`, `BTC/USDT`). Venues' spellings are mapped onto it by the data synchroniser.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

impl Symbol {
    /// Refuses empty symbols and characters that cannot appear in a catalog path.
    pub fn new(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim().to_ascii_uppercase();
        if s.is_empty() {
            return Err(ValidationError::new("symbol", "must not be empty"));
        }
        if s.len() > 64 {
            return Err(ValidationError::new("symbol", format!("`{raw}` is longer than 64 characters")));
        }
        if let Some(c) =
            s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_' | '^' | '=')))
        {
            return Err(ValidationError::new(
                "symbol",
                format!("`{raw}` contains `{c}`; use letters, digits and / . - _ ^ ="),
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A form safe as one path segment (`/` becomes `-`), used by the Parquet catalog.
    pub fn path_segment(&self) -> String {
        self.0.replace('/', "-")
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Symbol {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<Symbol> for String {
    fn from(s: Symbol) -> Self {
        s.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetClass {
    Equity,
    Etf,
    Index,
    Option,
    Forex,
    Crypto,
}

impl AssetClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equity => "equity",
            Self::Etf => "etf",
            Self::Index => "index",
            Self::Option => "option",
            Self::Forex => "forex",
            Self::Crypto => "crypto",
        }
    }
}

impl std::str::FromStr for AssetClass {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "equity" | "stock" => Self::Equity,
            "etf" => Self::Etf,
            "index" => Self::Index,
            "option" => Self::Option,
            "forex" | "fx" => Self::Forex,
            "crypto" => Self::Crypto,
            other => {
                return Err(ValidationError::new(
                    "asset_class",
                    format!("`{other}` is not one of equity, etf, index, option, forex, crypto"),
                ));
            }
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptionRight {
    Call,
    Put,
}

/// What kind of instrument it is, with the terms that only that kind has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InstrumentKind {
    Equity,
    Etf,
    Index,
    Option {
        underlying: Symbol,
        strike: Decimal,
        expiry: NaiveDate,
        right: OptionRight,
        /// Units of the underlying per contract (100 for US equity options).
        multiplier: Decimal,
    },
    Forex {
        base: String,
        quote: String,
        /// The price increment of one pip (0.0001 for EUR/USD, 0.01 for USD/JPY).
        pip_size: Decimal,
    },
    Crypto {
        base: String,
        quote: String,
        /// Smallest quantity increment.
        lot_size: Decimal,
        /// Smallest price increment.
        tick_size: Decimal,
    },
}

/// A tradable instrument: its symbol, its terms, the currency it is priced in and its tick size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawInstrument")]
pub struct Instrument {
    pub symbol: Symbol,
    #[serde(flatten)]
    pub kind: InstrumentKind,
    /// ISO currency (or coin) the price is quoted in.
    pub currency: String,
    /// The exchange or venue that lists it, when known.
    pub venue: Option<String>,
}

#[derive(Deserialize)]
struct RawInstrument {
    symbol: Symbol,
    #[serde(flatten)]
    kind: InstrumentKind,
    currency: String,
    venue: Option<String>,
}

impl TryFrom<RawInstrument> for Instrument {
    type Error = ValidationError;
    fn try_from(r: RawInstrument) -> Result<Self, Self::Error> {
        let mut i = Instrument::new(r.symbol, r.kind, &r.currency)?;
        i.venue = r.venue;
        Ok(i)
    }
}

fn currency_code(field: &str, code: &str) -> Result<String, ValidationError> {
    let c = code.trim().to_ascii_uppercase();
    if c.is_empty() || c.len() > 10 || !c.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        return Err(ValidationError::new(field, format!("`{code}` is not a currency or coin code")));
    }
    Ok(c)
}

impl Instrument {
    /// Validates the kind's terms: positive strike, multiplier, pip, lot and tick sizes, and
    /// different base and quote currencies for pairs.
    pub fn new(symbol: Symbol, kind: InstrumentKind, currency: &str) -> Result<Self, ValidationError> {
        let currency = currency_code("currency", currency)?;
        let kind = match kind {
            InstrumentKind::Option { underlying, strike, expiry, right, multiplier } => {
                positive("strike", strike)?;
                positive("multiplier", multiplier)?;
                InstrumentKind::Option { underlying, strike, expiry, right, multiplier }
            }
            InstrumentKind::Forex { base, quote, pip_size } => {
                positive("pip_size", pip_size)?;
                let (base, quote) = pair("forex", &base, &quote)?;
                InstrumentKind::Forex { base, quote, pip_size }
            }
            InstrumentKind::Crypto { base, quote, lot_size, tick_size } => {
                positive("lot_size", lot_size)?;
                positive("tick_size", tick_size)?;
                let (base, quote) = pair("crypto", &base, &quote)?;
                InstrumentKind::Crypto { base, quote, lot_size, tick_size }
            }
            other => other,
        };
        Ok(Self { symbol, kind, currency, venue: None })
    }

    pub fn equity(symbol: &str, currency: &str) -> Result<Self, ValidationError> {
        Self::new(Symbol::new(symbol)?, InstrumentKind::Equity, currency)
    }

    /// A forex pair `BASE/QUOTE` priced in the quote currency.
    pub fn forex(base: &str, quote: &str, pip_size: Decimal) -> Result<Self, ValidationError> {
        let symbol = Symbol::new(&format!("{base}/{quote}"))?;
        Self::new(symbol, InstrumentKind::Forex { base: base.into(), quote: quote.into(), pip_size }, quote)
    }

    /// A crypto pair `BASE/QUOTE` priced in the quote coin.
    pub fn crypto(base: &str, quote: &str, lot_size: Decimal, tick_size: Decimal) -> Result<Self, ValidationError> {
        let symbol = Symbol::new(&format!("{base}/{quote}"))?;
        Self::new(symbol, InstrumentKind::Crypto { base: base.into(), quote: quote.into(), lot_size, tick_size }, quote)
    }

    pub fn asset_class(&self) -> AssetClass {
        match self.kind {
            InstrumentKind::Equity => AssetClass::Equity,
            InstrumentKind::Etf => AssetClass::Etf,
            InstrumentKind::Index => AssetClass::Index,
            InstrumentKind::Option { .. } => AssetClass::Option,
            InstrumentKind::Forex { .. } => AssetClass::Forex,
            InstrumentKind::Crypto { .. } => AssetClass::Crypto,
        }
    }

    /// Units of the underlying one unit of quantity represents (the option multiplier, else 1).
    pub fn multiplier(&self) -> Decimal {
        match &self.kind {
            InstrumentKind::Option { multiplier, .. } => *multiplier,
            _ => Decimal::ONE,
        }
    }
}

fn pair(field: &str, base: &str, quote: &str) -> Result<(String, String), ValidationError> {
    let base = currency_code(&format!("{field}.base"), base)?;
    let quote = currency_code(&format!("{field}.quote"), quote)?;
    if base == quote {
        return Err(ValidationError::new(format!("{field}.quote"), format!("quote {quote} equals the base")));
    }
    Ok((base, quote))
}
