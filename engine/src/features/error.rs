//! The one error type of `engine::features`: every refusal names the feature and the reason, so a
//! spec with thirty features tells the user which one is wrong and how to fix it.

use thiserror::Error;

/// Why a feature, transformer or label could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FeatureError {
    /// A parameter is out of its domain (a period of 0, a slow period not above the fast one).
    #[error("{feature}: parameter `{param}` {reason}")]
    InvalidParameter { feature: String, param: String, reason: String },
    /// The input is shorter than the feature needs to produce a single value.
    #[error("{feature}: the input has {len} points but at least {needed} are needed")]
    TooShort { feature: String, len: usize, needed: usize },
    /// A NaN after the first valid value: gaps must be filled or dropped before computing features,
    /// because an indicator cannot tell a missing bar from a real one and would silently mislead.
    #[error("{feature}: input `{column}` is NaN at row {row}, after valid values; fill or drop the gap first")]
    NanGap { feature: String, column: String, row: usize },
    /// Inputs that must line up (high/low/close, two instruments) have different lengths.
    #[error("{feature}: inputs differ in length ({detail})")]
    LengthMismatch { feature: String, detail: String },
    /// Anything else the feature cannot accept, with the reason.
    #[error("{feature}: {reason}")]
    Invalid { feature: String, reason: String },
}

impl FeatureError {
    pub fn param(feature: impl Into<String>, param: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidParameter { feature: feature.into(), param: param.into(), reason: reason.into() }
    }
}

/// Checks a period-like parameter is at least `min`.
pub fn require_at_least(feature: &str, param: &str, value: usize, min: usize) -> Result<(), FeatureError> {
    if value < min {
        return Err(FeatureError::param(feature, param, format!("must be at least {min}, got {value}")));
    }
    Ok(())
}

/// The index of the first non-NaN value, or an error if a NaN follows a valid value.
/// Leading NaNs are allowed: they shift the first defined output, as in TA-Lib.
pub fn first_valid(feature: &str, column: &str, xs: &[f64]) -> Result<usize, FeatureError> {
    let start = xs.iter().position(|x| !x.is_nan()).unwrap_or(xs.len());
    if let Some(gap) = xs[start..].iter().position(|x| x.is_nan()) {
        return Err(FeatureError::NanGap { feature: feature.into(), column: column.into(), row: start + gap });
    }
    Ok(start)
}
