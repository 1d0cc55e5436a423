//! Training throughput and inference latency of the default CNN+LSTM hybrid on one CPU core,
//! next to the same architecture in PyTorch (benches/reference/torch_hybrid.py) timed in the
//! same run when a Python with torch is available ($SEXTANT_TORCH_PYTHON, default
//! ~/.cache/sextant-torch/bin/python; `scripts/setup-torch-reference.sh` makes it).
//!
//! Run: cargo bench --workspace --bench models

use std::process::Command;
use std::time::Instant;

use candle_core::{Device, Tensor};
use engine::models::layers::ForwardMode;
use engine::models::loss::{LossWeights, multitask_loss};
use engine::models::optim::AdamW;
use engine::models::{ArchitectureConfig, ModelShape, Network, predict};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FEATURES: usize = 11;
const WINDOW: usize = 32;
const BATCH: usize = 64;
const TRAIN_STEPS: usize = 10;
const INFER_ITERS: usize = 300;

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn latencies(mut f: impl FnMut(), n: usize) -> (f64, f64) {
    for _ in 0..5 {
        f();
    }
    let mut times: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn main() -> anyhow::Result<()> {
    // Candle sizes its thread pool from RAYON_NUM_THREADS at first use; the figures are for
    // one core, so the bench runs itself again with it set when the caller did not.
    if std::env::var("RAYON_NUM_THREADS").is_err() {
        let status = Command::new(std::env::current_exe()?)
            .args(std::env::args().skip(1))
            .env("RAYON_NUM_THREADS", "1")
            .status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let device = Device::Cpu;
    let shape = ModelShape { features: FEATURES, window: WINDOW };
    let config = ArchitectureConfig::default();
    let net = Network::new(&config, shape, 0, &device)?;
    println!(
        "default hybrid: {} parameters, window {WINDOW} x {FEATURES} features, batch {BATCH}, candle threads {}",
        net.parameter_count(),
        candle_core::utils::get_num_threads()
    );

    let x = Tensor::randn(0f32, 1.0, (BATCH, WINDOW, FEATURES), &device)?;
    let mut one_hot = vec![0f32; BATCH * 3];
    for i in 0..BATCH {
        one_hot[i * 3 + i % 3] = 1.0;
    }
    let y = Tensor::from_vec(one_hot, (BATCH, 3), &device)?;
    let r = Tensor::randn(0f32, 1.0, (BATCH, 1), &device)?;
    let weights = LossWeights { class: 1.0, returns: 0.5, huber_delta: 1.0, class_weights: [1.0; 3] };
    let mut opt = AdamW::new(&net.varmap, 1e-3, 1e-2)?;
    let mut step_times = Vec::new();
    for i in 0..TRAIN_STEPS + 2 {
        let t = Instant::now();
        let out = net.forward(&x, ForwardMode::Train)?;
        let loss = multitask_loss(&out, &y, &r, &weights)?;
        let grads = loss.total.backward()?;
        opt.step(&grads, Some(1.0))?;
        if i >= 2 {
            step_times.push(t.elapsed().as_secs_f64());
        }
    }
    step_times.sort_by(f64::total_cmp);
    let ours_train = BATCH as f64 / percentile(&step_times, 0.5);

    let one = Tensor::randn(0f32, 1.0, (1, WINDOW, FEATURES), &device)?;
    let ours_det = latencies(
        || {
            let _ = predict(&net, &one, 1, 0, 1.0);
        },
        INFER_ITERS,
    );
    let ours_mc = latencies(
        || {
            let _ = predict(&net, &one, 20, 0, 1.0);
        },
        INFER_ITERS,
    );

    let python = std::env::var("SEXTANT_TORCH_PYTHON")
        .unwrap_or_else(|_| format!("{}/.cache/sextant-torch/bin/python", std::env::var("HOME").unwrap_or_default()));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/reference/torch_hybrid.py");
    let torch = Command::new(&python)
        .args(["-W", "ignore", script])
        .args([FEATURES, WINDOW, BATCH, TRAIN_STEPS, INFER_ITERS].map(|v| v.to_string()))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok());

    println!("\n{:<44} {:>12} {:>12} {:>10}", "figure (one core, median)", "Sextant", "PyTorch", "ratio");
    let row =
        |name: &str, ours: f64, key: &str, higher_is_better: bool| match torch.as_ref().and_then(|t| t[key].as_f64()) {
            Some(theirs) => {
                let ratio = if higher_is_better { ours / theirs } else { theirs / ours };
                println!("{name:<44} {ours:>12.2} {theirs:>12.2} {ratio:>9.2}x");
            }
            None => println!("{name:<44} {ours:>12.2} {:>12} {:>10}", "-", "-"),
        };
    row("training, samples/s (batch 64)", ours_train, "train_samples_per_s", true);
    row("inference p50, ms (1 sample)", ours_det.0, "infer_p50_ms", false);
    row("inference p99, ms (1 sample)", ours_det.1, "infer_p99_ms", false);
    row("MC dropout x20 p50, ms (1 sample)", ours_mc.0, "mc20_p50_ms", false);
    row("MC dropout x20 p99, ms (1 sample)", ours_mc.1, "mc20_p99_ms", false);
    match &torch {
        Some(t) => println!(
            "\nratio > 1: Sextant is faster. PyTorch {} on {} thread(s), {} parameters.",
            t["torch"].as_str().unwrap_or("?"),
            t["threads"],
            t["parameters"]
        ),
        None => println!("\nPyTorch not measured: {python} with torch not found (scripts/setup-torch-reference.sh)"),
    }
    println!("goals: inference p99 < 1 ms, MC x20 p99 < 10 ms, training within 1.5x of PyTorch");
    Ok(())
}
