//! Reinforcement learning: the Gymnasium-style environment interface, the classic control
//! environments the agents are checked on, the trading environment, and the agents.

pub mod classic;
pub mod ensemble;
pub mod env;
pub mod nets;
pub mod offpolicy;
pub mod per;
pub mod ppo;
pub mod rainbow;
pub mod run;
pub mod sac;
pub mod spec;
pub mod td3;
pub mod trading;
pub mod vector;

pub use env::{Action, Environment, RlError, Space, Step};
