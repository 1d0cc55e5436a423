//! Event-driven backtesting: one strategy interface shared with live trading, a simulated venue
//! with realistic fills and costs, exact accounts, statistics, validation and significance.
//!
//! A [`Strategy`] only ever acts through a [`Context`] over a [`Venue`]; the simulator here and
//! the exchange connectors of live trading implement the same trait, so strategies run unchanged.

pub mod account;
pub mod costs;
pub mod engine;
pub mod metrics;
pub mod order;
pub mod results;
pub mod significance;
pub mod strategies;
pub mod strategy;
pub mod tick_run;
pub mod validation;
pub mod venue;
pub mod walkforward;

pub use account::{AccountConfig, InstrumentSpec};
pub use engine::{BacktestConfig, BacktestError, PreparedBars, Progress, run, run_observed};
pub use order::{InstrumentId, OrderRequest, Quantity};
pub use results::BacktestResult;
pub use strategy::{BarEvent, Clock, Context, QuoteEvent, SimClock, Strategy, TradeEvent, WallClock};
pub use tick_run::run_ticks;
pub use venue::{FillTiming, MarketTick, OhlcPath, SimulatedVenue, Venue, VenueConfig};
