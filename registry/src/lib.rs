//! Experiment tracking and the model registry: an MLflow-compatible REST server (axum) over the
//! project's database: experiments, runs, params, metrics, tags, batches, run search, and the model
//! registry (registered models, versions, stages, aliases) and the artifact proxy. `client` speaks the same API from Rust, to this server or to MLflow's.

pub mod artifacts_api;
pub mod client;
pub mod error;
pub mod logged_models;
pub mod logged_models_api;
pub mod models;
pub mod models_api;
pub mod records;
pub mod run_pages;
pub mod search;
mod search_sql;
pub mod server;
mod sqlite_fold;
pub mod store;

pub use client::{ClientError, MlflowClient};
pub use error::{ApiError, ApiResult};
pub use server::{router, serve};
pub use store::TrackingStore;
