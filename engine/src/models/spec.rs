//! The TOML experiment spec of `sextant train`: data, feature spec and label, windowing and
//! split, architecture, training settings and where the run is tracked and registered.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dataset::SplitConfig;
use super::error::{ModelError, Result};
use super::network::ArchitectureConfig;
use crate::features::FeatureSpec;
use crate::features::labels::LabelSpec;

/// One name or a list of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn items(&self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// Where the bars come from: files (CSV or Parquet) or catalog symbols; several instruments
/// are pooled into one dataset (windows never cross from one to another).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    pub path: Option<OneOrMany>,
    pub symbol: Option<OneOrMany>,
    pub timeframe: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatasetSection {
    /// Bars per input window.
    pub window: usize,
    pub split: SplitConfig,
}

impl Default for DatasetSection {
    fn default() -> Self {
        Self { window: 32, split: SplitConfig::default() }
    }
}

/// Whether the cross-entropy weighs classes by their inverse frequency in training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeighting {
    #[default]
    Balanced,
    None,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Where the cosine decay ends.
    pub min_learning_rate: f64,
    pub weight_decay: f64,
    pub warmup_steps: u64,
    /// Global gradient norm cap (0 turns clipping off).
    pub clip_norm: f64,
    /// Epochs without a better validation loss before stopping (0: never stop early).
    pub patience: usize,
    pub class_loss_weight: f64,
    pub return_loss_weight: f64,
    pub huber_delta: f64,
    pub class_weights: ClassWeighting,
    /// MC dropout passes for the uncertainty reported on the test split (0: none).
    pub mc_passes: usize,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 30,
            batch_size: 64,
            learning_rate: 1e-3,
            min_learning_rate: 1e-5,
            weight_decay: 1e-2,
            warmup_steps: 50,
            clip_norm: 1.0,
            patience: 5,
            class_loss_weight: 1.0,
            return_loss_weight: 0.5,
            huber_delta: 1.0,
            class_weights: ClassWeighting::Balanced,
            mc_passes: 20,
        }
    }
}

impl TrainingConfig {
    fn validate(&self) -> std::result::Result<(), (String, String)> {
        let bad = |field: &str, reason: String| Err((field.to_string(), reason));
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        for (field, v) in [
            ("learning_rate", self.learning_rate),
            ("min_learning_rate", self.min_learning_rate),
            ("weight_decay", self.weight_decay),
            ("clip_norm", self.clip_norm),
            ("class_loss_weight", self.class_loss_weight),
            ("return_loss_weight", self.return_loss_weight),
        ] {
            if !v.is_finite() || v < 0.0 {
                return bad(field, format!("must be a finite number >= 0, got {v}"));
            }
        }
        if self.learning_rate <= 0.0 {
            return bad("learning_rate", "must be positive".into());
        }
        if self.huber_delta.is_nan() || self.huber_delta <= 0.0 {
            return bad("huber_delta", format!("must be positive, got {}", self.huber_delta));
        }
        Ok(())
    }
}

/// Where the run is tracked and what it registers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrySection {
    pub experiment: String,
    /// Registered model the finished model becomes a version of.
    pub model_name: String,
}

impl Default for RegistrySection {
    fn default() -> Self {
        Self { experiment: "Models".into(), model_name: String::new() }
    }
}

/// A parsed, validated experiment spec.
#[derive(Clone, Debug)]
pub struct ExperimentSpec {
    pub origin: PathBuf,
    pub name: String,
    pub seed: u64,
    pub data: DataSection,
    pub feature_spec: FeatureSpec,
    /// The `[features]` table as TOML: stored with the model so prediction recomputes the
    /// same features.
    pub feature_spec_toml: String,
    pub label: LabelSpec,
    pub dataset: DatasetSection,
    pub model: ArchitectureConfig,
    pub training: TrainingConfig,
    pub registry: RegistrySection,
}

impl ExperimentSpec {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let file = origin.display().to_string();
        let table: toml::Table =
            text.parse().map_err(|e: toml::de::Error| ModelError::spec(&file, "(syntax)", e.message()))?;
        const KNOWN: [&str; 8] = ["name", "seed", "data", "features", "dataset", "model", "training", "registry"];
        if let Some(key) = table.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(ModelError::spec(&file, key, format!("unknown key (expected one of {})", KNOWN.join(", "))));
        }
        fn section<T: serde::de::DeserializeOwned + Default>(table: &toml::Table, key: &str, file: &str) -> Result<T> {
            match table.get(key) {
                None => Ok(T::default()),
                Some(v) => v.clone().try_into().map_err(|e: toml::de::Error| ModelError::spec(file, key, e.message())),
            }
        }
        let name = match table.get("name") {
            Some(v) => v.as_str().ok_or_else(|| ModelError::spec(&file, "name", "must be a string"))?.to_string(),
            None => origin.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into()),
        };
        let seed = match table.get("seed") {
            Some(v) => {
                let s = v.as_integer().ok_or_else(|| ModelError::spec(&file, "seed", "must be an integer"))?;
                u64::try_from(s).map_err(|_| ModelError::spec(&file, "seed", format!("must be >= 0, got {s}")))?
            }
            None => 42,
        };
        let data: DataSection = match table.get("data") {
            Some(v) => {
                v.clone().try_into().map_err(|e: toml::de::Error| ModelError::spec(&file, "data", e.message()))?
            }
            None => return Err(ModelError::spec(&file, "data", "missing: give [data] path = FILE or symbol = SYMBOL")),
        };
        if data.path.is_none() == data.symbol.is_none() {
            return Err(ModelError::spec(&file, "data", "give exactly one of path and symbol"));
        }
        let features = table.get("features").and_then(|v| v.as_table()).ok_or_else(|| {
            ModelError::spec(
                &file,
                "features",
                "missing: a [features] table with [[features.feature]] and [features.labels]",
            )
        })?;
        let feature_spec_toml =
            toml::to_string(features).map_err(|e| ModelError::spec(&file, "features", e.to_string()))?;
        let feature_spec = FeatureSpec::parse(&feature_spec_toml, &format!("{file} [features]"))
            .map_err(|e| ModelError::spec(&file, "features", e.to_string()))?;
        let label = match feature_spec.labels.as_slice() {
            [one] => one.clone(),
            [] => return Err(ModelError::spec(&file, "features.labels", "missing: name the label to learn")),
            _ => return Err(ModelError::spec(&file, "features.labels", "name exactly one label to learn")),
        };
        let dataset: DatasetSection = section(&table, "dataset", &file)?;
        if dataset.window == 0 {
            return Err(ModelError::spec(&file, "dataset.window", "must be at least 1"));
        }
        let model: ArchitectureConfig = match table.get("model") {
            Some(v) => {
                v.clone().try_into().map_err(|e: toml::de::Error| ModelError::spec(&file, "model", e.message()))?
            }
            None => ArchitectureConfig::default(),
        };
        model.validate().map_err(|reason| ModelError::spec(&file, "model", reason))?;
        let training: TrainingConfig = section(&table, "training", &file)?;
        training.validate().map_err(|(field, reason)| ModelError::spec(&file, format!("training.{field}"), reason))?;
        let mut registry: RegistrySection = section(&table, "registry", &file)?;
        if registry.model_name.is_empty() {
            registry.model_name = name.clone();
        }
        Ok(Self {
            origin: origin.to_path_buf(),
            name,
            seed,
            data,
            feature_spec,
            feature_spec_toml,
            label,
            dataset,
            model,
            training,
            registry,
        })
    }

    /// The data files, relative paths taken from the working directory first, then from the
    /// spec's folder and its parents (so specs run from the repository root or beside it).
    pub fn data_paths(&self) -> Vec<PathBuf> {
        resolve_data_paths(self.data.path.as_ref(), &self.origin)
    }
}

/// Data files named in a spec at `origin`: relative paths from the working directory first,
/// then from the spec's folder and its parents.
pub fn resolve_data_paths(paths: Option<&OneOrMany>, origin: &Path) -> Vec<PathBuf> {
    let Some(paths) = paths else { return Vec::new() };
    paths
        .items()
        .into_iter()
        .map(|p| {
            let path = PathBuf::from(&p);
            if path.is_absolute() || path.exists() {
                return path;
            }
            let mut dir = origin.parent();
            while let Some(d) = dir {
                let candidate = d.join(&path);
                if candidate.exists() {
                    return candidate;
                }
                dir = d.parent();
            }
            path
        })
        .collect()
}
