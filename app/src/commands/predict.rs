//! `sextant predict --model DIR --data FILE`: a saved model's buy/hold/sell probabilities and
//! return forecast for every bar with a full window, optionally with MC-dropout uncertainty.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use engine::config::Settings;
use engine::data::import::{ImportOptions, RowPolicy, read_file};
use engine::data::series::FloatBars;
use engine::models::pipeline::predict_bars;
use engine::models::{checkpoint, default_device, load_model};

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// A model folder written by `sextant train` (holding model.json and model.safetensors),
    /// or a registered version: `models:/NAME/VERSION` or `models:/NAME@ALIAS`.
    #[arg(long, value_name = "DIR|URI")]
    pub model: String,
    /// Tracking server for `models:/` URIs (default: $MLFLOW_TRACKING_URI, else the registry
    /// over the configured database).
    #[arg(long, value_name = "URI")]
    pub tracking_uri: Option<String>,
    /// Bars to predict (CSV or Parquet).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Monte Carlo dropout passes (0 or 1: deterministic).
    #[arg(long, default_value_t = 0)]
    pub mc_passes: usize,
    /// Write the predictions as CSV here (default: stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only the last N predictions.
    #[arg(long)]
    pub last: Option<usize>,
}

/// Downloads a registered version's model folder into DATA_DIR/models/registry/NAME/VERSION
/// (kept as a cache: versions never change) and returns the folder.
async fn fetch_registered(uri: &str, tracking_uri: Option<&str>, settings: &Settings) -> anyhow::Result<PathBuf> {
    let client = super::train::tracking_client(tracking_uri, settings).await?;
    let version = client.resolve_model(uri).await.with_context(|| format!("resolving {uri}"))?;
    let name = version["name"].as_str().unwrap_or_default().to_string();
    let number = version["version"].as_str().unwrap_or_default().to_string();
    let source = version["source"].as_str().unwrap_or_default().to_string();
    let dir = settings.data_dir.join("models").join("registry").join(&name).join(&number);
    if dir.join(checkpoint::CARD).is_file() && dir.join(checkpoint::WEIGHTS).is_file() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for file in [checkpoint::WEIGHTS, checkpoint::CARD] {
        let bytes = client
            .download_artifact(&source, file)
            .await
            .with_context(|| format!("{uri} (version {number}): downloading {file} from {source}"))?;
        engine::models::checkpoint::write_atomic(&dir.join(file), &bytes)?;
    }
    Ok(dir)
}

pub async fn run(args: PredictArgs, settings: &Settings) -> anyhow::Result<()> {
    let device = default_device();
    let folder = if args.model.starts_with("models:/") {
        fetch_registered(&args.model, args.tracking_uri.as_deref(), settings).await?
    } else {
        PathBuf::from(&args.model)
    };
    let (network, card) = load_model(&folder, &device)?;
    let read = read_file(&args.data, &ImportOptions::default(), RowPolicy::Strict)?;
    let (series, _) = read.series.first().with_context(|| format!("{}: no bars", args.data.display()))?;
    let mut bars = series.bars.clone();
    bars.sort_dedup();
    let bars = FloatBars::from_series(&bars);
    let result = predict_bars(&network, &card, &series.symbol.to_string(), &bars, args.mc_passes)?;
    let mut text = String::from("timestamp,p_sell,p_hold,p_buy,class,expected_return");
    let mc = args.mc_passes > 1;
    if mc {
        text.push_str(",p_sell_std,p_hold_std,p_buy_std,expected_return_std");
    }
    text.push('\n');
    let skip = args.last.map(|n| result.times.len().saturating_sub(n)).unwrap_or(0);
    let p = &result.prediction;
    for i in skip..result.times.len() {
        let probs = p.probabilities[i];
        let (class, _) = engine::models::metrics::argmax(&probs);
        let ret: f64 = p.returns[i].iter().sum();
        let time = chrono::DateTime::from_timestamp_nanos(result.times[i])
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        text.push_str(&format!(
            "{time},{:.6},{:.6},{:.6},{},{:.8}",
            probs[0],
            probs[1],
            probs[2],
            ["sell", "hold", "buy"][class],
            ret
        ));
        if mc {
            let s = p.probability_std[i];
            // The spread of a sum of steps is reported as the root of the summed variances.
            let rs: f64 = p.return_std[i].iter().map(|v| v * v).sum::<f64>().sqrt();
            text.push_str(&format!(",{:.6},{:.6},{:.6},{rs:.8}", s[0], s[1], s[2]));
        }
        text.push('\n');
    }
    match &args.out {
        Some(path) => {
            engine::models::checkpoint::write_atomic(path, text.as_bytes())?;
            eprintln!(
                "{} predictions from {} ({} v. feature spec {}) written to {}",
                result.times.len() - skip,
                args.model,
                card.model.name(),
                &card.feature_spec_hash[..12.min(card.feature_spec_hash.len())],
                path.display()
            );
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}
