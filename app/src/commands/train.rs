//! `sextant train --spec FILE`: trains a spec's model with a progress bar, logs parameters and
//! per-epoch metrics to the tracking server, and registers the finished model as a version.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use engine::config::Settings;
use engine::data::import::{ImportOptions, RowPolicy, read_file};
use engine::data::series::FloatBars;
use engine::domain::{Symbol, Timeframe};
use engine::models::pipeline::{PreparedData, TrainedExperiment, prepare_many, run_experiment};
use engine::models::train::{EpochRecord, TrainOptions, TrainingObserver};
use engine::models::{ExperimentSpec, default_device, save_model};
use indicatif::ProgressBar;
use registry::MlflowClient;
use registry::client::MetricPoint;
use std::str::FromStr;

use super::{open_catalog, progress};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Experiment spec (TOML), e.g. experiments/specs/hybrid_goog_daily.toml.
    #[arg(long, value_name = "FILE", required_unless_present = "resume")]
    pub spec: Option<PathBuf>,
    /// Folder for the model and its checkpoints (default: DATA_DIR/models/NAME/TIMESTAMP).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Resume an interrupted run from its folder (the --out of that run; its copy of the spec
    /// is used).
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// Tracking server (default: $MLFLOW_TRACKING_URI, else the registry over the configured
    /// database, started in this process). Credentials come from MLFLOW_TRACKING_TOKEN or
    /// MLFLOW_TRACKING_USERNAME/PASSWORD.
    #[arg(long, value_name = "URI")]
    pub tracking_uri: Option<String>,
    /// Train without tracking or registering.
    #[arg(long)]
    pub no_tracking: bool,
    /// Override the spec's number of epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
}

/// One instrument's bars as a spec names them.
pub struct SpecBars {
    pub symbol: String,
    pub bars: FloatBars,
    pub source: String,
}

/// Reads the bars a spec names: files, or catalog symbols.
pub async fn spec_bars(spec: &ExperimentSpec, settings: &Settings) -> anyhow::Result<Vec<SpecBars>> {
    let mut out = Vec::new();
    for path in spec.data_paths() {
        let read = read_file(&path, &ImportOptions::default(), RowPolicy::Strict)
            .with_context(|| format!("{}: reading the data", spec.origin.display()))?;
        for (series, _) in &read.series {
            let mut bars = series.bars.clone();
            bars.sort_dedup();
            out.push(SpecBars {
                symbol: series.symbol.to_string(),
                bars: FloatBars::from_series(&bars),
                source: path.display().to_string(),
            });
        }
    }
    if let Some(symbols) = &spec.data.symbol {
        let catalog = open_catalog(settings).await?;
        for text in symbols.items() {
            let symbol = Symbol::new(&text)?;
            let timeframe = match &spec.data.timeframe {
                Some(tf) => Timeframe::from_str(tf)?,
                None => super::data::finest_timeframe(&catalog, &symbol).await?,
            };
            let bars = catalog.query(&symbol, timeframe, None, None).await?;
            out.push(SpecBars {
                symbol: symbol.to_string(),
                bars: FloatBars::from_series(&bars),
                source: format!("catalog:{symbol}/{timeframe}"),
            });
        }
    }
    if out.is_empty() {
        bail!("{}: the spec's [data] names no bars", spec.origin.display());
    }
    Ok(out)
}

/// A tracking run the observer logs into from the training thread.
struct Tracking {
    client: MlflowClient,
    run_id: String,
    handle: tokio::runtime::Handle,
    failures: usize,
}

struct CliObserver {
    bar: ProgressBar,
    tracking: Option<Tracking>,
    started: std::time::Instant,
    samples: usize,
}

impl TrainingObserver for CliObserver {
    fn batch_finished(&mut self, epoch: usize, batch: usize, batches: usize, samples: usize, loss: f64) {
        if batch == 1 {
            self.bar.set_length(batches as u64);
            self.bar.set_position(0);
            self.started = std::time::Instant::now();
            self.samples = 0;
        }
        self.samples += samples;
        let rate = self.samples as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar.set_message(format!("epoch {epoch} loss {loss:.4} {rate:.0} samples/s"));
        self.bar.inc(1);
    }

    fn epoch_finished(&mut self, record: &EpochRecord) {
        let line = format!(
            "epoch {:>3}: train loss {:.4}  val loss {:.4}  val acc {:.3}  bal acc {:.3}  F1 {:.3}  MCC {:.3}{}",
            record.epoch,
            record.train_loss,
            record.validation.loss,
            record.validation.report.accuracy,
            record.validation.report.balanced_accuracy,
            record.validation.report.macro_f1,
            record.validation.report.mcc,
            if record.improved { "  (best)" } else { "" }
        );
        // Printed to stdout (above the bar) so logs and pipes keep the epoch lines.
        self.bar.suspend(|| {
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        });
        if let Some(t) = &mut self.tracking {
            let now = chrono::Utc::now().timestamp_millis();
            let points: Vec<MetricPoint> = record
                .metrics()
                .into_iter()
                .map(|(key, value)| MetricPoint {
                    key: key.into(),
                    value,
                    timestamp_ms: now,
                    step: record.epoch as i64,
                })
                .collect();
            if let Err(e) = t.handle.block_on(t.client.log_batch(&t.run_id, &[], &points, &[])) {
                // Tracking must not kill a long training run; the model is still saved.
                t.failures += 1;
                tracing::warn!(error = %e, "logging the epoch's metrics failed");
            }
        }
    }
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

fn spec_params(spec: &ExperimentSpec, prepared: &PreparedData) -> Vec<(String, String)> {
    let mut out = Vec::new();
    flatten("model", &serde_json::to_value(&spec.model).unwrap_or_default(), &mut out);
    flatten("training", &serde_json::to_value(&spec.training).unwrap_or_default(), &mut out);
    flatten("dataset", &serde_json::to_value(&spec.dataset).unwrap_or_default(), &mut out);
    flatten("label", &serde_json::to_value(&spec.label).unwrap_or_default(), &mut out);
    out.push(("features".into(), prepared.data.features().to_string()));
    out.push(("samples.train".into(), prepared.splits.train.len().to_string()));
    out.push(("samples.validation".into(), prepared.splits.validation.len().to_string()));
    out.push(("samples.test".into(), prepared.splits.test.len().to_string()));
    out.push(("seed".into(), spec.seed.to_string()));
    out
}

/// The id of the experiment `name`, created when missing.
pub async fn experiment_id(client: &MlflowClient, name: &str) -> anyhow::Result<String> {
    Ok(match client.experiment_id_by_name(name).await? {
        Some(id) => id,
        None => client.create_experiment(name).await?,
    })
}

/// Logs `files` of `dir` as artifacts under `folder/`, registers that folder as a new version
/// of `model_name` and marks the run finished; returns the version.
pub async fn log_and_register(
    client: &MlflowClient,
    run_id: &str,
    dir: &Path,
    files: &[&str],
    folder: &str,
    model_name: &str,
) -> anyhow::Result<String> {
    for file in files {
        let bytes = std::fs::read(dir.join(file)).with_context(|| format!("reading {file}"))?;
        client.log_artifact(run_id, &format!("{folder}/{file}"), bytes).await?;
    }
    let run = client.get_run(run_id).await?;
    let root = run["info"]["artifact_uri"].as_str().unwrap_or_default().to_string();
    let version = client.register_model(model_name, &format!("{root}/{folder}"), run_id).await?;
    client.set_terminated(run_id, "FINISHED").await?;
    Ok(version)
}

/// The tracking server: the one named, or the registry over this configuration's database
/// served from this process on a free local port.
pub async fn tracking_client(tracking_uri: Option<&str>, settings: &Settings) -> anyhow::Result<MlflowClient> {
    let uri = tracking_uri
        .map(str::to_string)
        .or_else(|| std::env::var("MLFLOW_TRACKING_URI").ok().filter(|u| !u.is_empty()));
    if let Some(uri) = uri {
        return Ok(MlflowClient::new(&uri).with_env_credentials());
    }
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating the data folder {}", settings.data_dir.display()))?;
    let db = engine::storage::Database::connect(&settings.effective_database_url()).await?;
    let artifacts = engine::storage::ArtifactStore::open(&settings.effective_artifacts_url())?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.context("starting the local registry")?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = registry::serve(registry::TrackingStore::new(db), artifacts, listener).await {
            tracing::error!(error = %e, "the local registry stopped");
        }
    });
    Ok(MlflowClient::new(&format!("http://{addr}")))
}

pub async fn run(args: TrainArgs, settings: &Settings) -> anyhow::Result<()> {
    let (spec_path, out_dir, resume) = match &args.resume {
        Some(dir) => (dir.join("spec.toml"), dir.clone(), true),
        None => (args.spec.clone().context("--spec FILE is required")?, PathBuf::new(), false),
    };
    let mut spec = ExperimentSpec::read(&spec_path)?;
    if let Some(epochs) = args.epochs {
        spec.training.epochs = epochs;
    }
    let out_dir = if resume {
        out_dir
    } else {
        args.out.clone().unwrap_or_else(|| {
            settings
                .data_dir
                .join("models")
                .join(&spec.name)
                .join(chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string())
        })
    };
    let instruments = spec_bars(&spec, settings).await?;
    let views: Vec<(&str, &FloatBars)> = instruments.iter().map(|i| (i.symbol.as_str(), &i.bars)).collect();
    let sources: Vec<&str> = instruments.iter().map(|i| i.source.as_str()).collect();
    let prepared = prepare_many(&spec, &views, &sources.join(", "))?;
    let symbols: Vec<&str> = instruments.iter().map(|i| i.symbol.as_str()).collect();
    outln!(
        "{}: {} bars of {} -> {} features x {} steps; samples train {} / validation {} / test {} (purge {} bars, embargo {})",
        spec.name,
        instruments.iter().map(|i| i.bars.len()).sum::<usize>(),
        symbols.join(", "),
        prepared.data.features(),
        prepared.data.window,
        prepared.splits.train.len(),
        prepared.splits.validation.len(),
        prepared.splits.test.len(),
        prepared.data.horizon,
        spec.dataset.split.embargo
    );
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    if !resume {
        std::fs::copy(&spec_path, out_dir.join("spec.toml"))
            .with_context(|| format!("copying the spec into {}", out_dir.display()))?;
    }

    let tracking = if args.no_tracking {
        None
    } else {
        let client = tracking_client(args.tracking_uri.as_deref(), settings).await?;
        let experiment_id = experiment_id(&client, &spec.registry.experiment).await?;
        let seed = spec.seed.to_string();
        let code = engine::models::checkpoint::code_version();
        let origin = spec_path.display().to_string();
        let tags = [
            ("sextant.data_hash", prepared.lineage.sha256.as_str()),
            ("sextant.feature_spec_hash", prepared.feature_spec_hash.as_str()),
            ("sextant.code_version", code.as_str()),
            ("sextant.seed", seed.as_str()),
            ("sextant.architecture", spec.model.name()),
            ("mlflow.source.name", origin.as_str()),
        ];
        // A resumed run goes on logging into the run it started, when the server still has it.
        let run_file = out_dir.join("tracking_run");
        let previous = if resume { std::fs::read_to_string(&run_file).ok() } else { None };
        let run_id = match previous {
            Some(id) if client.get_run(id.trim()).await.is_ok() => id.trim().to_string(),
            _ => {
                let run_id = client.create_run(&experiment_id, &spec.name, &tags).await?;
                let params = spec_params(&spec, &prepared);
                let params: Vec<(&str, String)> = params.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                client.log_batch(&run_id, &params, &[], &[]).await?;
                std::fs::write(&run_file, &run_id).with_context(|| format!("writing {}", run_file.display()))?;
                run_id
            }
        };
        outln!("tracking run {run_id} in experiment \"{}\"", spec.registry.experiment);
        Some(Tracking { client, run_id, handle: tokio::runtime::Handle::current(), failures: 0 })
    };

    let bar = progress(1, "training");
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} batches {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut observer = CliObserver { bar: bar.clone(), tracking, started: std::time::Instant::now(), samples: 0 };
    let options = TrainOptions { checkpoint_dir: Some(out_dir.join("checkpoints")), resume };
    let device = default_device();
    let spec_for_thread = spec.clone();
    let (result, observer) = tokio::task::spawn_blocking(move || {
        let _span = tracing::info_span!("train", model = %spec_for_thread.name).entered();
        let result = run_experiment(&spec_for_thread, &prepared, &device, &options, &mut observer);
        (result, observer)
    })
    .await
    .context("the training thread stopped")?;
    bar.finish_and_clear();
    let tracking = observer.tracking;
    let trained = match result {
        Ok(t) => t,
        Err(e) => {
            if let Some(t) = &tracking {
                let _ = t.client.set_terminated(&t.run_id, "FAILED").await;
            }
            return Err(e.into());
        }
    };
    let model_dir = out_dir.join("model");
    save_model(&model_dir, &trained.network, &trained.card)?;
    report(&trained, &model_dir)?;
    if let Some(t) = tracking {
        finish_tracking(&t, &spec, &trained, &model_dir).await?;
    }
    Ok(())
}

fn report(trained: &TrainedExperiment, model_dir: &Path) -> anyhow::Result<()> {
    let t = &trained.test;
    let r = &t.evaluation.report;
    outln!(
        "best epoch {} of {}{}",
        trained.outcome.best_epoch,
        trained.outcome.history.len(),
        if trained.outcome.stopped_early { " (stopped early)" } else { "" }
    );
    outln!(
        "test ({} samples): accuracy {:.3} (majority class {:.3}, always buy {:.3}), balanced accuracy {:.3}, macro-F1 {:.3}, MCC {:.3}",
        r.samples,
        r.accuracy,
        t.majority.accuracy,
        t.always_buy.accuracy,
        r.balanced_accuracy,
        r.macro_f1,
        r.mcc
    );
    outln!(
        "          directional accuracy {:.3} (always up {:.3}), Brier {:.3}, ECE {:.3}, MC-dropout probability std {:.4}",
        r.directional_accuracy,
        t.always_buy.directional_accuracy,
        r.brier,
        r.ece,
        t.mc_probability_std
    );
    outln!("model saved in {} (feature spec {})", model_dir.display(), &trained.card.feature_spec_hash[..12]);
    Ok(())
}

async fn finish_tracking(
    t: &Tracking,
    spec: &ExperimentSpec,
    trained: &TrainedExperiment,
    model_dir: &Path,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
    let step = trained.outcome.history.len() as i64;
    let points: Vec<MetricPoint> = trained
        .card
        .metrics
        .iter()
        .map(|(k, v)| MetricPoint { key: k.clone(), value: *v, timestamp_ms: now, step })
        .collect();
    t.client.log_batch(&t.run_id, &[], &points, &[]).await?;
    let files = [engine::models::checkpoint::WEIGHTS, engine::models::checkpoint::CARD];
    let version = log_and_register(&t.client, &t.run_id, model_dir, &files, "model", &spec.registry.model_name).await?;
    if t.failures > 0 {
        outln!("warning: {} epoch(s) could not be logged to the tracking server", t.failures);
    }
    outln!("registered {} version {version} (run {})", spec.registry.model_name, t.run_id);
    if trained.test.evaluation.report.accuracy.is_nan() {
        bail!("the test split gave no predictions");
    }
    Ok(())
}
