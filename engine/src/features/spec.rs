//! Feature specifications: the TOML file that names the features, their parameters, the
//! normalisers and the labels, and the hash of its resolved form that runs record.

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::FeatureError;
use super::indicators::Field;
use super::labels::LabelSpec;
use super::library::{self, FeatureRequest};
use super::normalise::Normaliser;

/// Which feature columns a normaliser scales.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NormaliseStep {
    /// Feature column names; empty means every feature column.
    pub columns: Vec<String>,
    pub method: Normaliser,
    /// Keep the raw column beside the scaled one (default: replace it).
    pub keep_raw: bool,
}

/// A parsed, validated specification.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureSpec {
    pub name: Option<String>,
    pub features: Vec<FeatureRequest>,
    pub normalise: Vec<NormaliseStep>,
    pub labels: Vec<LabelSpec>,
}

/// Where in a spec file something is wrong, as part of the error.
fn spec_error(origin: &str, what: impl Into<String>) -> FeatureError {
    FeatureError::Invalid { feature: format!("spec {origin}"), reason: what.into() }
}

impl FeatureSpec {
    /// A spec of the given requests, without labels or normalisers (what `--indicators` makes).
    pub fn from_requests(features: Vec<FeatureRequest>) -> Self {
        Self { name: None, features, normalise: Vec::new(), labels: Vec::new() }
    }

    /// Every indicator of the library at its default parameters, plus the issue's usual fast
    /// and slow averages: the default specification (30+ features).
    pub fn default_spec() -> Self {
        let mut features: Vec<FeatureRequest> =
            library::INDICATORS.iter().filter_map(|def| FeatureRequest::positional(def.name, &[]).ok()).collect();
        for extra in ["sma:10", "sma:50", "ema:12", "ema:26", "rsi:7", "bbands:10:1.5", "roc:1", "zscore:50"] {
            features.extend(library::parse_indicator_list(extra).unwrap_or_default());
        }
        Self { name: Some("default".into()), features, normalise: Vec::new(), labels: Vec::new() }
    }

    pub fn read(path: &Path) -> Result<Self, FeatureError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| spec_error(&origin, format!("cannot be read: {e}")))?;
        Self::parse(&text, &origin)
    }

    /// Parses TOML text; `origin` (a file name) prefixes every error.
    pub fn parse(text: &str, origin: &str) -> Result<Self, FeatureError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| spec_error(origin, e.to_string()))?;
        let mut spec = Self { name: None, features: Vec::new(), normalise: Vec::new(), labels: Vec::new() };
        for (key, value) in &table {
            match key.as_str() {
                "name" => {
                    spec.name =
                        Some(value.as_str().ok_or_else(|| spec_error(origin, "`name` must be a string"))?.into())
                }
                "feature" => {
                    let items =
                        value.as_array().ok_or_else(|| spec_error(origin, "`feature` must be [[feature]] tables"))?;
                    for (k, item) in items.iter().enumerate() {
                        spec.features.push(parse_feature(item, &format!("{origin} [[feature]] #{}", k + 1))?);
                    }
                }
                "normalise" => {
                    let items = value
                        .as_array()
                        .ok_or_else(|| spec_error(origin, "`normalise` must be [[normalise]] tables"))?;
                    for (k, item) in items.iter().enumerate() {
                        spec.normalise.push(parse_normalise(item, &format!("{origin} [[normalise]] #{}", k + 1))?);
                    }
                }
                "labels" => {
                    let items: Vec<&toml::Value> = match value {
                        toml::Value::Array(a) => a.iter().collect(),
                        other => vec![other],
                    };
                    for (k, item) in items.into_iter().enumerate() {
                        let where_ = format!("{origin} [labels] #{}", k + 1);
                        let label: LabelSpec =
                            item.clone().try_into().map_err(|e: toml::de::Error| spec_error(&where_, e.message()))?;
                        label.validate().map_err(|e| spec_error(&where_, e.to_string()))?;
                        spec.labels.push(label);
                    }
                }
                other => {
                    return Err(spec_error(
                        origin,
                        format!("unknown key `{other}` (expected name, feature, normalise, labels)"),
                    ));
                }
            }
        }
        if spec.features.is_empty() {
            return Err(spec_error(origin, "names no features; add [[feature]] tables"));
        }
        let mut seen = std::collections::HashSet::new();
        for f in &spec.features {
            for c in f.column_names() {
                if !seen.insert(c.clone()) {
                    return Err(spec_error(origin, format!("column `{c}` is produced twice")));
                }
            }
        }
        for step in &spec.normalise {
            for c in &step.columns {
                if !seen.contains(c) {
                    return Err(spec_error(origin, format!("normalise names `{c}`, which no feature produces")));
                }
            }
        }
        Ok(spec)
    }

    /// The canonical form that the hash covers: every feature with all its parameters resolved,
    /// so a spec that relies on defaults hashes like one that spells them out.
    pub fn canonical(&self) -> serde_json::Value {
        let features: Vec<serde_json::Value> = self
            .features
            .iter()
            .map(|f| {
                let params: serde_json::Map<String, serde_json::Value> = f
                    .def
                    .params
                    .iter()
                    .zip(&f.values)
                    .map(|(p, v)| (p.name.to_string(), serde_json::to_value(v).unwrap_or_default()))
                    .collect();
                serde_json::json!({ "name": f.def.name, "params": params, "source": f.source.as_str() })
            })
            .collect();
        serde_json::json!({
            "features": features,
            "normalise": self.normalise,
            "labels": self.labels,
        })
    }

    /// SHA-256 (hex) of the canonical form: recorded with every model trained on the matrix.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical().to_string().as_bytes()))
    }
}

fn parse_feature(item: &toml::Value, origin: &str) -> Result<FeatureRequest, FeatureError> {
    let table = item.as_table().ok_or_else(|| spec_error(origin, "must be a table"))?;
    let name = table
        .get("name")
        .and_then(|v| v.as_str())
        .ok_or_else(|| spec_error(origin, "needs `name = \"...\"` (see `sextant features list`)"))?;
    let def = library::definition(name).ok_or_else(|| spec_error(origin, format!("no feature named `{name}`")))?;
    let mut given: Vec<Option<String>> = vec![None; def.params.len()];
    let mut source = Field::Close;
    for (key, value) in table {
        match key.as_str() {
            "name" => {}
            "source" => {
                let text = value.as_str().unwrap_or_default();
                source = serde_json::from_value(serde_json::Value::String(text.into())).map_err(|_| {
                    spec_error(
                        origin,
                        format!("{name}: `source` must be open, high, low, close or volume, got {value}"),
                    )
                })?;
                if !def.inputs.is_empty() {
                    return Err(spec_error(origin, format!("{name} reads bars, so `source` does not apply")));
                }
            }
            key => {
                let k = def.params.iter().position(|p| p.name == key).ok_or_else(|| {
                    let known: Vec<&str> = def.params.iter().map(|p| p.name).collect();
                    spec_error(origin, format!("{name} has no parameter `{key}` (it takes: {})", known.join(", ")))
                })?;
                given[k] = Some(match value {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
            }
        }
    }
    let mut values = Vec::with_capacity(def.params.len());
    for (param, g) in def.params.iter().zip(given) {
        values.push(match g {
            Some(text) => library::parse_value(def, param, &text)?,
            None => library::default_value(param),
        });
    }
    let request = FeatureRequest { def, values, source };
    // Build once so that invalid parameter combinations fail at parse time, with the file named.
    request.build().map_err(|e| spec_error(origin, e.to_string()))?;
    Ok(request)
}

fn parse_normalise(item: &toml::Value, origin: &str) -> Result<NormaliseStep, FeatureError> {
    let mut table = item.as_table().ok_or_else(|| spec_error(origin, "must be a table"))?.clone();
    let columns = match table.remove("columns") {
        None => Vec::new(),
        Some(toml::Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| spec_error(origin, "`columns` must be strings")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(spec_error(origin, "`columns` must be a list of column names")),
    };
    let keep_raw = match table.remove("keep_raw") {
        None => false,
        Some(v) => v.as_bool().ok_or_else(|| spec_error(origin, "`keep_raw` must be true or false"))?,
    };
    let method: Normaliser =
        toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| spec_error(origin, e.message()))?;
    Ok(NormaliseStep { columns, method, keep_raw })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
name = "momentum"

[[feature]]
name = "sma"
period = 20

[[feature]]
name = "macd"

[[feature]]
name = "rsi"
period = 14
source = "close"

[[normalise]]
method = "rolling_zscore"
window = 100
columns = ["sma_20"]

[labels]
kind = "fixed_horizon"
horizon = 5
buy_threshold = 0.01
sell_threshold = -0.01
"#;

    #[test]
    fn a_spec_resolves_defaults_and_hashes_like_its_explicit_form() {
        let spec = FeatureSpec::parse(SPEC, "spec.toml").unwrap();
        let names: Vec<String> = spec.features.iter().flat_map(|f| f.column_names()).collect();
        assert_eq!(names, ["sma_20", "macd_12_26_9", "macd_12_26_9_signal", "macd_12_26_9_hist", "rsi_14"]);
        let explicit = SPEC.replace("name = \"macd\"", "name = \"macd\"\nfast = 12\nslow = 26\nsignal = 9");
        assert_eq!(spec.hash(), FeatureSpec::parse(&explicit, "other.toml").unwrap().hash());
        let changed = SPEC.replace("period = 14", "period = 15");
        assert_ne!(spec.hash(), FeatureSpec::parse(&changed, "x").unwrap().hash());
        let default = FeatureSpec::default_spec();
        assert!(default.features.iter().map(|f| f.column_names().len()).sum::<usize>() >= 30);
        // Every column of the default spec is distinct, so the matrix can be built.
        let names: Vec<String> = default.features.iter().flat_map(|f| f.column_names()).collect();
        let unique: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
    }

    #[test]
    fn spec_errors_name_the_file_the_table_and_the_reason() {
        let err = |text: &str| FeatureSpec::parse(text, "s.toml").unwrap_err().to_string();
        assert_eq!(
            err("[[feature]]\nname = \"sma\"\nperiod = 0\n"),
            "spec s.toml [[feature]] #1: sma: parameter `period` must be at least 1, got 0"
        );
        assert_eq!(
            err("[[feature]]\nname = \"sma\"\nwindow = 3\n"),
            "spec s.toml [[feature]] #1: sma has no parameter `window` (it takes: period)"
        );
        assert!(err("[[feature]]\nname = \"nope\"\n").contains("no feature named `nope`"));
        assert!(err("[[feature]]\nname = \"atr\"\nsource = \"open\"\n").contains("does not apply"));
        assert!(
            err("[[feature]]\nname = \"sma\"\n[[feature]]\nname = \"sma\"\n").contains("`sma_30` is produced twice")
        );
        assert!(err("colour = 1\n").contains("unknown key `colour`"));
        assert!(
            err("[[feature]]\nname = \"sma\"\n[labels]\nkind = \"fixed_horizon\"\nhorizon = 0\nbuy_threshold = 0.1\nsell_threshold = -0.1\n")
                .contains("`horizon` must be at least 1")
        );
    }
}
