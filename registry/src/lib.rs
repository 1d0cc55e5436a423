//! Experiment tracking and the model registry: an MLflow-compatible REST server (axum) over the
//! project's database. Today: experiments, runs, params, metrics, tags, batches and run search.

pub mod error;
pub mod search;
pub mod server;
pub mod store;

pub use error::{ApiError, ApiResult};
pub use server::{router, serve};
pub use store::TrackingStore;
