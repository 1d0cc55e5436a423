//! Reinforcement learning: the Gymnasium-style environment interface, the classic control
//! environments the agents are checked on, and vectorised stepping with automatic reset.
//!
//! Started with issue 8's foundation; the trading environment and the agents come next.

pub mod classic;
pub mod env;
pub mod ppo;
pub mod vector;

pub use env::{Action, Environment, RlError, Space, Step};
