//! What the tracking store holds (experiments, runs, metric points) and how MLflow's REST API
//! writes each as JSON, straight to the output for the large answers.

use std::collections::BTreeMap;

use serde_json::{Value, json};

#[derive(Clone, Debug, PartialEq)]
pub struct MetricPoint {
    pub key: String,
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
}

impl MetricPoint {
    pub fn to_json(&self) -> Value {
        json!({ "key": self.key, "value": finite_or_text(self.value), "timestamp": self.timestamp, "step": self.step })
    }
}

/// JSON has no NaN or infinities: MLflow writes them as strings.
fn finite_or_text(v: f64) -> Value {
    match non_finite_text(v) {
        None => json!(v),
        Some(text) => json!(text),
    }
}

fn non_finite_text(v: f64) -> Option<&'static str> {
    if v.is_finite() {
        None
    } else if v.is_nan() {
        Some("NaN")
    } else if v > 0.0 {
        Some("Infinity")
    } else {
        Some("-Infinity")
    }
}

/// The same JSON as [`MetricPoint::to_json`], written straight to the output (a search answer
/// holds up to 50,000 runs' metrics: no tree of values is built for it).
impl serde::Serialize for MetricPoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("key", &self.key)?;
        match non_finite_text(self.value) {
            None => m.serialize_entry("value", &self.value)?,
            Some(text) => m.serialize_entry("value", text)?,
        }
        m.serialize_entry("timestamp", &self.timestamp)?;
        m.serialize_entry("step", &self.step)?;
        m.end()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    pub experiment_id: i64,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: String,
    pub creation_time: i64,
    pub last_update_time: i64,
    pub tags: BTreeMap<String, String>,
}

impl Experiment {
    pub fn to_json(&self) -> Value {
        json!({
            "experiment_id": self.experiment_id.to_string(),
            "name": self.name,
            "artifact_location": self.artifact_location,
            "lifecycle_stage": self.lifecycle_stage,
            "creation_time": self.creation_time,
            "last_update_time": self.last_update_time,
            "tags": tags_json(&self.tags),
        })
    }
}

fn tags_json(tags: &BTreeMap<String, String>) -> Vec<Value> {
    tags.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect()
}

#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub run_id: String,
    pub experiment_id: i64,
    pub run_name: String,
    pub user_id: String,
    pub status: String,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: String,
    pub metrics: BTreeMap<String, MetricPoint>,
    pub params: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

impl Run {
    /// An attribute by its search name.
    pub fn attribute(&self, name: &str) -> Option<String> {
        Some(match name {
            "status" => self.status.clone(),
            "run_name" => self.run_name.clone(),
            "run_id" => self.run_id.clone(),
            "user_id" => self.user_id.clone(),
            "artifact_uri" => self.artifact_uri.clone(),
            "lifecycle_stage" => self.lifecycle_stage.clone(),
            "experiment_id" => self.experiment_id.to_string(),
            _ => return None,
        })
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// MLflow's run object (`info`, `data`, `inputs`), written straight to the output.
impl serde::Serialize for Run {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("info", &RunInfo(self))?;
        m.serialize_entry("data", &RunData(self))?;
        m.serialize_entry("inputs", &serde_json::Map::new())?;
        m.end()
    }
}

/// A run's `info` object.
pub(crate) struct RunInfo<'a>(pub &'a Run);

impl serde::Serialize for RunInfo<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("run_id", &r.run_id)?;
        m.serialize_entry("run_uuid", &r.run_id)?;
        m.serialize_entry("run_name", &r.run_name)?;
        m.serialize_entry("experiment_id", &r.experiment_id.to_string())?;
        m.serialize_entry("user_id", &r.user_id)?;
        m.serialize_entry("status", &r.status)?;
        m.serialize_entry("start_time", &r.start_time)?;
        if let Some(end) = r.end_time {
            m.serialize_entry("end_time", &end)?;
        }
        m.serialize_entry("artifact_uri", &r.artifact_uri)?;
        m.serialize_entry("lifecycle_stage", &r.lifecycle_stage)?;
        m.end()
    }
}

struct RunData<'a>(&'a Run);

/// Key/value pairs as MLflow lists params and tags: `[{"key": …, "value": …}]`.
struct Pairs<'a>(&'a BTreeMap<String, String>);

impl serde::Serialize for Pairs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (k, v) in self.0 {
            struct Pair<'p>(&'p str, &'p str);
            impl serde::Serialize for Pair<'_> {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    let mut m = s.serialize_map(Some(2))?;
                    m.serialize_entry("key", self.0)?;
                    m.serialize_entry("value", self.1)?;
                    m.end()
                }
            }
            seq.serialize_element(&Pair(k, v))?;
        }
        seq.end()
    }
}

impl serde::Serialize for RunData<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let r = self.0;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("metrics", &r.metrics.values().collect::<Vec<_>>())?;
        m.serialize_entry("params", &Pairs(&r.params))?;
        m.serialize_entry("tags", &Pairs(&r.tags))?;
        m.end()
    }
}
