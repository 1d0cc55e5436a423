//! Deep learning models in Candle: the CNN extractor, the bidirectional LSTM (and its
//! sequence-to-sequence form), the CNN+LSTM hybrid with uncertainty, and their training.
//!
//! Every layer uses only ops with a backward pass (see `layers`); parameters and dropout are
//! seeded, so the same seed on the same device gives the same model.

pub mod attention;
pub mod checkpoint;
pub mod cnn;
pub mod dataset;
pub mod error;
pub mod fused_lstm;
pub mod fused_ops;
pub mod hybrid;
pub mod layers;
pub mod loss;
pub mod lstm;
pub mod metrics;
pub mod network;
pub mod optim;
pub mod pipeline;
pub mod spec;
pub mod train;
pub mod uncertainty;

pub use checkpoint::{ModelCard, load_model, save_model};
pub use error::ModelError;
pub use hybrid::ModelOutput;
pub use layers::{ForwardMode, default_device};
pub use network::{ArchitectureConfig, ModelShape, Network};
pub use spec::ExperimentSpec;
pub use uncertainty::{FusedFeatures, Prediction, fused_features, predict};
