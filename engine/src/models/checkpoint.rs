//! The Sextant model folder: weights in safetensors and a JSON card (architecture, feature
//! spec and its hash, normaliser, data range and hash, seed, metrics, code version), written
//! atomically and loaded back to give bit-identical outputs.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::dataset::{Normaliser, SplitConfig};
use super::error::{ModelError, Result};
use super::network::{ArchitectureConfig, ModelShape, Network};
use super::spec::TrainingConfig;
use crate::features::labels::LabelSpec;

pub const WEIGHTS: &str = "model.safetensors";
pub const CARD: &str = "model.json";
pub const FORMAT: &str = "sextant-model/1";

/// The bars a model was trained on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataLineage {
    pub source: String,
    pub first: String,
    pub last: String,
    pub bars: usize,
    /// SHA-256 of the bars (time and OHLCV) the features were computed from.
    pub sha256: String,
}

/// Everything needed to use, trust and reproduce a trained model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub format: String,
    pub name: String,
    pub model: ArchitectureConfig,
    pub shape: ModelShape,
    pub feature_columns: Vec<String>,
    pub normaliser: Normaliser,
    /// The `[features]` table the model was trained with (prediction recomputes from it).
    pub feature_spec_toml: String,
    pub feature_spec_hash: String,
    pub label: LabelSpec,
    pub data: DataLineage,
    pub split: SplitConfig,
    pub samples: BTreeMap<String, usize>,
    pub seed: u64,
    pub training: TrainingConfig,
    pub metrics: BTreeMap<String, f64>,
    pub best_epoch: usize,
    pub epochs_trained: usize,
    pub parameters: usize,
    pub code_version: String,
    pub device: String,
    pub created_at: String,
}

/// The crate version, plus the commit when the build was given `SEXTANT_GIT_COMMIT`.
pub fn code_version() -> String {
    match option_env!("SEXTANT_GIT_COMMIT") {
        Some(commit) => format!("{} ({commit})", env!("CARGO_PKG_VERSION")),
        None => env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// A copy of every parameter, by name.
pub fn snapshot(network: &Network) -> Result<HashMap<String, Tensor>> {
    let data = network.varmap.data().lock().map_err(|_| ModelError::Data("parameter store poisoned".into()))?;
    data.iter().map(|(k, v)| Ok((k.clone(), v.as_tensor().detach().copy()?))).collect()
}

/// Sets every parameter from `weights`; the names and shapes must be exactly the network's.
pub fn restore(network: &Network, weights: &HashMap<String, Tensor>) -> Result<()> {
    let data = network.varmap.data().lock().map_err(|_| ModelError::Data("parameter store poisoned".into()))?;
    check_same_parameters(&data.iter().map(|(k, v)| (k.clone(), v.dims().to_vec())).collect(), weights)
        .map_err(ModelError::Data)?;
    for (name, var) in data.iter() {
        if let Some(t) = weights.get(name) {
            var.set(t)?;
        }
    }
    Ok(())
}

fn check_same_parameters(
    expected: &BTreeMap<String, Vec<usize>>,
    found: &HashMap<String, Tensor>,
) -> std::result::Result<(), String> {
    let missing: Vec<&String> = expected.keys().filter(|k| !found.contains_key(*k)).collect();
    let extra: Vec<&String> = found.keys().filter(|k| !expected.contains_key(*k)).collect();
    if !missing.is_empty() || !extra.is_empty() {
        let show = |v: &[&String]| v.iter().take(3).map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        return Err(format!(
            "the weights are for another architecture: {} parameter(s) missing (e.g. {}), {} unexpected (e.g. {})",
            missing.len(),
            show(&missing),
            extra.len(),
            show(&extra)
        ));
    }
    for (name, dims) in expected {
        if let Some(t) = found.get(name)
            && t.dims() != dims.as_slice()
        {
            return Err(format!("parameter {name} has shape {:?} in the weights, the model needs {dims:?}", t.dims()));
        }
    }
    Ok(())
}

pub fn read_weights(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    if !path.is_file() {
        return Err(ModelError::checkpoint(path, "no such file"));
    }
    candle_core::safetensors::load(path, device).map_err(|e| ModelError::checkpoint(path, e.to_string()))
}

/// Writes the weights to a temporary file and renames it, so a crash leaves the old file.
pub fn write_weights(path: &Path, weights: &HashMap<String, Tensor>) -> Result<()> {
    let tmp = path.with_extension("safetensors.tmp");
    candle_core::safetensors::save(weights, &tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| ModelError::io(path, e))
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| ModelError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ModelError::io(path, e))
}

/// Writes the model folder: `model.safetensors` and `model.json`.
pub fn save_model(dir: &Path, network: &Network, card: &ModelCard) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    write_weights(&dir.join(WEIGHTS), &snapshot(network)?)?;
    let json = serde_json::to_vec_pretty(card).map_err(|e| ModelError::checkpoint(dir, e.to_string()))?;
    write_atomic(&dir.join(CARD), &json)
}

pub fn read_card(dir: &Path) -> Result<ModelCard> {
    let path = dir.join(CARD);
    let text = std::fs::read(&path).map_err(|e| ModelError::checkpoint(&path, format!("cannot be read: {e}")))?;
    let card: ModelCard = serde_json::from_slice(&text)
        .map_err(|e| ModelError::checkpoint(&path, format!("is not a Sextant model card: {e}")))?;
    if card.format != FORMAT {
        return Err(ModelError::checkpoint(&path, format!("format `{}`, this build reads `{FORMAT}`", card.format)));
    }
    Ok(card)
}

/// Loads a model folder on `device`.
pub fn load_model(dir: &Path, device: &Device) -> Result<(Network, ModelCard)> {
    let card = read_card(dir)?;
    let network = Network::new(&card.model, card.shape, card.seed, device)?;
    let weights = read_weights(&dir.join(WEIGHTS), device)?;
    restore(&network, &weights).map_err(|e| ModelError::checkpoint(&dir.join(WEIGHTS), e.to_string()))?;
    Ok((network, card))
}

/// Loads weights saved for `network`'s architecture, refusing any other (by the card when
/// there is one, and always by the parameter names and shapes).
pub fn load_weights_into(dir: &Path, network: &Network) -> Result<()> {
    if let Ok(card) = read_card(dir)
        && (card.model != network.config || card.shape != network.shape)
    {
        return Err(ModelError::checkpoint(
            dir,
            format!(
                "was trained as `{}` on {} features x {} steps; the spec asks for `{}` on {} x {}",
                card.model.name(),
                card.shape.features,
                card.shape.window,
                network.config.name(),
                network.shape.features,
                network.shape.window
            ),
        ));
    }
    let path = dir.join(WEIGHTS);
    let weights = read_weights(&path, &network.device)?;
    restore(network, &weights).map_err(|e| ModelError::checkpoint(&path, e.to_string()))
}
