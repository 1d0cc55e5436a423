//! Sextant's engine: the trading and research core that the CLI, the control plane, notebooks
//! and workers all link. It holds no web code; each module owns one concern.

pub mod backtest;
pub mod config;
pub mod data;
pub mod domain;
pub mod features;
pub mod models;
pub mod rl;
pub mod storage;
