//! What can go wrong in the models module: bad specs and data refused before training, candle
//! failures, and checkpoints that do not fit the model asked for.

/// An error from building, training, saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The experiment spec is wrong: which file, which field, and why.
    #[error("{file}: `{field}`: {reason}")]
    Spec { file: String, field: String, reason: String },
    /// The data cannot make a dataset (too short, NaN in features, one class only, …).
    #[error("data: {0}")]
    Data(String),
    /// A checkpoint that is missing, unreadable or made for another model.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: String, reason: String },
    #[error(transparent)]
    Features(#[from] crate::features::FeatureError),
    #[error("tensor computation: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl ModelError {
    pub fn spec(file: impl Into<String>, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Spec { file: file.into(), field: field.into(), reason: reason.into() }
    }

    pub fn checkpoint(path: &std::path::Path, reason: impl Into<String>) -> Self {
        Self::Checkpoint { path: path.display().to_string(), reason: reason.into() }
    }

    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }
}

pub type Result<T> = std::result::Result<T, ModelError>;
