//! Writing a feature matrix to Parquet or CSV, atomically (a temporary file in the same folder,
//! renamed into place), with a JSON sidecar that records the spec and its hash for lineage.

use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::pipeline::FeatureMatrix;
use crate::domain::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{file}: the output must end in .parquet or .csv")]
    UnknownFormat { file: PathBuf },
    #[error("{file}: {reason}")]
    Write { file: PathBuf, reason: String },
}

fn write_err(file: &Path, reason: impl ToString) -> OutputError {
    OutputError::Write { file: file.to_path_buf(), reason: reason.to_string() }
}

impl FeatureMatrix {
    /// Writes the matrix to `path` (format from the extension) and `<path>.meta.json` beside it.
    pub fn write(&mut self, path: &Path, spec: &serde_json::Value) -> Result<(), OutputError> {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| write_err(path, e))?;
        match ext.as_deref() {
            Some("parquet") => ParquetWriter::new(tmp.as_file_mut())
                .with_compression(ParquetCompression::Zstd(None))
                .finish(&mut self.frame)
                .map(|_| ())
                .map_err(|e| write_err(path, e))?,
            Some("csv") => self.write_csv(tmp.as_file_mut()).map_err(|e| write_err(path, e))?,
            _ => return Err(OutputError::UnknownFormat { file: path.to_path_buf() }),
        }
        let meta = serde_json::json!({
            "spec_hash": self.spec_hash,
            "spec": spec,
            "rows": self.frame.height(),
            "time_column": self.time_column,
            "feature_columns": self.feature_columns,
            "label_columns": self.label_columns,
            "label_horizons": self.label_horizons,
        });
        let meta_path = PathBuf::from(format!("{}.meta.json", path.display()));
        let mut meta_tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| write_err(&meta_path, e))?;
        serde_json::to_writer_pretty(meta_tmp.as_file_mut(), &meta).map_err(|e| write_err(&meta_path, e))?;
        tmp.persist(path).map_err(|e| write_err(path, e))?;
        meta_tmp.persist(&meta_path).map_err(|e| write_err(&meta_path, e))?;
        Ok(())
    }

    /// CSV with the time column as RFC 3339 UTC (nanoseconds) and empty cells where undefined.
    fn write_csv(&self, file: &mut std::fs::File) -> Result<(), Box<dyn std::error::Error>> {
        let mut out = std::io::BufWriter::new(file);
        let columns = self.frame.columns();
        let names: Vec<&str> = columns.iter().map(|c| c.name().as_str()).collect();
        writeln!(out, "{}", names.join(","))?;
        let ts: Vec<Option<i64>> = columns[0].as_materialized_series().to_physical_repr().i64()?.iter().collect();
        let mut text: Vec<Option<Vec<Option<String>>>> = Vec::with_capacity(columns.len());
        let mut floats: Vec<Option<Vec<Option<f64>>>> = Vec::with_capacity(columns.len());
        for c in &columns[1..] {
            match c.dtype() {
                DataType::Float64 => {
                    floats.push(Some(c.f64()?.iter().collect()));
                    text.push(None);
                }
                _ => {
                    let s = c.cast(&DataType::String)?;
                    text.push(Some(s.str()?.iter().map(|v| v.map(str::to_string)).collect()));
                    floats.push(None);
                }
            }
        }
        let mut line = String::new();
        for (i, t) in ts.iter().enumerate() {
            line.clear();
            if let Some(t) = t {
                line.push_str(&Timestamp::from_nanos(*t).to_string());
            }
            for (f, s) in floats.iter().zip(&text) {
                line.push(',');
                match (f, s) {
                    (Some(f), _) => {
                        if let Some(v) = f[i] {
                            line.push_str(&v.to_string());
                        }
                    }
                    (_, Some(s)) => {
                        if let Some(v) = &s[i] {
                            line.push_str(v);
                        }
                    }
                    _ => {}
                }
            }
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        Ok(())
    }
}
