//! Feature engineering: streaming technical indicators equal to TA-Lib, wavelet, spectral,
//! fractal and cross-asset transformers, feature specs, labels and leak-free normalisers.
//!
//! Every feature is causal: its value at bar t is computed from bars at or before t only, and
//! the property tests in `tests/features_causality.rs` hold each one to that.

pub mod cross_asset;
pub mod error;
pub mod fractal;
pub mod indicators;
pub mod labels;
pub mod library;
pub mod normalise;
pub mod output;
pub mod pipeline;
pub mod spec;
pub mod spectral;
pub mod transformers;
pub mod wavelet;
pub mod wavelet_features;

pub use error::FeatureError;
pub use library::{
    Feature, FeatureDef, FeatureRequest, INDICATORS, ParamValue, TRANSFORMERS, all_features, parse_indicator_list,
};
pub use pipeline::{FeatureMatrix, InstrumentBars};
pub use spec::FeatureSpec;
