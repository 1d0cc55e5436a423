//! Experiment tracking and the model registry: an MLflow-compatible REST server (axum) and a
//! client for it or any MLflow server. Built by the registry issue; empty until then.
