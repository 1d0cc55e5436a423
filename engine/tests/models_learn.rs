//! The networks learn: shapes of every architecture, a gradient on every parameter, a small
//! batch fitted to near zero loss, a planted pattern found out of sample, bit-exact save and
//! load, MC-dropout spread, seeded and resumable training, and bad input refused up front.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use engine::data::series::FloatBars;
use engine::models::attention::AttentionKind;
use engine::models::cnn::CnnConfig;
use engine::models::hybrid::{EnsembleConfig, HybridConfig};
use engine::models::layers::ForwardMode;
use engine::models::loss::{LossWeights, multitask_loss};
use engine::models::lstm::{LstmConfig, Seq2SeqConfig};
use engine::models::optim::AdamW;
use engine::models::pipeline::{prepare, run_experiment};
use engine::models::train::{Quiet, TrainOptions};
use engine::models::{ArchitectureConfig, ExperimentSpec, ModelShape, Network, checkpoint, fused_features, predict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

const ARCHITECTURES: [&str; 5] = ["cnn", "bi_lstm", "seq2seq", "hybrid", "ensemble"];

fn small(arch: &str, dropout: f32) -> ArchitectureConfig {
    let cnn = CnnConfig { kernel_sizes: vec![3, 5, 7, 11], channels: 4, model_dim: 8, heads: 2, dropout };
    let lstm = LstmConfig { hidden: 8, layers: 2, attention: AttentionKind::Additive, model_dim: 8, dropout };
    let hybrid = HybridConfig { cnn: cnn.clone(), lstm: lstm.clone(), fusion_heads: 2, fused_dim: 16, dropout };
    match arch {
        "cnn" => ArchitectureConfig::Cnn(cnn),
        "bi_lstm" => ArchitectureConfig::BiLstm(LstmConfig { attention: AttentionKind::Dot, ..lstm }),
        "seq2seq" => ArchitectureConfig::Seq2seq(Seq2SeqConfig { encoder: lstm, horizon: 3 }),
        "hybrid" => ArchitectureConfig::Hybrid(hybrid),
        _ => ArchitectureConfig::Ensemble(EnsembleConfig { members: 2, member: hybrid }),
    }
}

fn random_batch(batch: usize, shape: ModelShape, steps: usize, seed: u64) -> (Tensor, Tensor, Tensor) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let x: Vec<f32> = (0..batch * shape.window * shape.features).map(|_| normal.sample(&mut rng)).collect();
    let mut one_hot = vec![0f32; batch * 3];
    for i in 0..batch {
        one_hot[i * 3 + rng.random_range(0..3)] = 1.0;
    }
    let targets: Vec<f32> = (0..batch * steps).map(|_| normal.sample(&mut rng)).collect();
    let dev = Device::Cpu;
    (
        Tensor::from_vec(x, (batch, shape.window, shape.features), &dev).unwrap(),
        Tensor::from_vec(one_hot, (batch, 3), &dev).unwrap(),
        Tensor::from_vec(targets, (batch, steps), &dev).unwrap(),
    )
}

fn weights() -> LossWeights {
    LossWeights { class: 1.0, returns: 1.0, huber_delta: 1.0, class_weights: [1.0, 1.0, 1.0] }
}

const SHAPE: ModelShape = ModelShape { features: 5, window: 12 };

#[test]
fn every_architecture_gives_the_declared_shapes() {
    for arch in ARCHITECTURES {
        let config = small(arch, 0.1);
        let net = Network::new(&config, SHAPE, 7, &Device::Cpu).unwrap();
        let (x, _, _) = random_batch(4, SHAPE, 1, 1);
        for mode in [ForwardMode::Train, ForwardMode::Eval, ForwardMode::McDropout] {
            let out = net.forward(&x, mode).unwrap();
            assert_eq!(out.class_logits.dims(), &[4, 3], "{arch} logits");
            assert_eq!(out.returns.dims(), &[4, config.return_steps()], "{arch} returns");
            match arch {
                "hybrid" | "ensemble" => assert_eq!(out.fused.unwrap().dims(), &[4, 16], "{arch} fused"),
                _ => assert!(out.fused.is_none()),
            }
        }
    }
    // The default hybrid is the design's: 256 fused features.
    let net =
        Network::new(&ArchitectureConfig::default(), ModelShape { features: 11, window: 32 }, 1, &Device::Cpu).unwrap();
    let x = Tensor::zeros((2, 32, 11), DType::F32, &Device::Cpu).unwrap();
    let fused = fused_features(&net, &x, 1, 0).unwrap();
    assert_eq!(fused.mean.dims(), &[2, 256]);
    assert_eq!(fused.std.dims(), &[2, 256]);
}

#[test]
fn a_gradient_reaches_every_parameter() {
    for arch in ARCHITECTURES {
        let config = small(arch, 0.1);
        let net = Network::new(&config, SHAPE, 11, &Device::Cpu).unwrap();
        let (x, y, r) = random_batch(8, SHAPE, config.return_steps(), 2);
        let out = net.forward(&x, ForwardMode::Train).unwrap();
        let loss = multitask_loss(&out, &y, &r, &weights()).unwrap();
        let grads = loss.total.backward().unwrap();
        let data = net.varmap.data().lock().unwrap();
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        assert!(names.len() > 10, "{arch}: only {} parameters", names.len());
        for name in names {
            let var = &data[name];
            let g = grads.get(var.as_tensor()).unwrap_or_else(|| panic!("{arch}: no gradient for {name}"));
            let norm = g.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(norm > 0.0 && norm.is_finite(), "{arch}: gradient of {name} has norm {norm}");
        }
    }
}

#[test]
fn each_architecture_fits_one_small_batch_to_near_zero_loss() {
    for arch in ARCHITECTURES {
        let config = small(arch, 0.0);
        let net = Network::new(&config, SHAPE, 3, &Device::Cpu).unwrap();
        let (x, y, r) = random_batch(16, SHAPE, config.return_steps(), 4);
        let mut opt = AdamW::new(&net.varmap, 1e-2, 0.0).unwrap();
        let loss_now = |net: &Network| -> f32 {
            let out = net.forward(&x, ForwardMode::Eval).unwrap();
            multitask_loss(&out, &y, &r, &weights()).unwrap().total.to_scalar::<f32>().unwrap()
        };
        let start = loss_now(&net);
        for _ in 0..300 {
            let out = net.forward(&x, ForwardMode::Train).unwrap();
            let loss = multitask_loss(&out, &y, &r, &weights()).unwrap();
            let grads = loss.total.backward().unwrap();
            opt.step(&grads, Some(5.0)).unwrap();
        }
        let end = loss_now(&net);
        assert!(end < 0.02 * start && end < 0.03, "{arch}: loss {start} -> {end}");
    }
}

/// Bars whose 1-bar returns follow an AR(1) with coefficient 0.7: the sign of the next return
/// agrees with the last one about 75% of the time, while up and down bars are equally common.
fn planted_bars(n: usize, seed: u64) -> FloatBars {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise = Normal::new(0.0, 0.01).unwrap();
    let mut bars = FloatBars::default();
    let (mut close, mut ret) = (100.0f64, 0.0f64);
    for i in 0..n {
        ret = 0.7 * ret + noise.sample(&mut rng);
        let open = close;
        close = open * ret.exp();
        bars.ts.push(1_600_000_000_000_000_000 + i as i64 * 86_400_000_000_000);
        bars.open.push(open);
        bars.high.push(open.max(close) * 1.001);
        bars.low.push(open.min(close) * 0.999);
        bars.close.push(close);
        bars.volume.push(1000.0 + i as f64);
    }
    bars
}

fn tiny_spec(extra_model: &str, epochs: usize, window: usize) -> ExperimentSpec {
    let text = format!(
        r#"
name = "planted"
seed = 5
[data]
path = "unused.csv"
[features]
[[features.feature]]
name = "roc"
period = 1
[[features.feature]]
name = "rsi"
period = 5
[features.labels]
kind = "fixed_horizon"
horizon = 1
buy_threshold = 0.0
sell_threshold = 0.0
[dataset]
window = {window}
[dataset.split]
train = 0.7
validation = 0.15
embargo = 1
{extra_model}
[training]
epochs = {epochs}
batch_size = 64
learning_rate = 3e-3
warmup_steps = 10
patience = 4
mc_passes = 8
"#
    );
    ExperimentSpec::parse(&text, Path::new("planted.toml")).unwrap()
}

const SMALL_HYBRID: &str = r#"
[model]
architecture = "hybrid"
fusion_heads = 2
fused_dim = 32
dropout = 0.1
[model.cnn]
channels = 8
model_dim = 16
heads = 2
[model.lstm]
hidden = 16
model_dim = 16
"#;

#[test]
fn the_hybrid_finds_a_planted_pattern_out_of_sample() {
    let spec = tiny_spec(SMALL_HYBRID, 8, 8);
    let bars = planted_bars(3000, 9);
    let prepared = prepare(&spec, "SYN", &bars, "synthetic").unwrap();
    let trained = run_experiment(
        &spec,
        &prepared,
        &Device::Cpu,
        &TrainOptions { checkpoint_dir: None, resume: false },
        &mut Quiet,
    )
    .unwrap();
    let test = &trained.test;
    let acc = test.evaluation.report.accuracy;
    eprintln!(
        "planted pattern, test split: accuracy {acc:.3}, majority {:.3}, MCC {:.3}, directional {:.3}",
        test.majority.accuracy, test.evaluation.report.mcc, test.evaluation.report.directional_accuracy
    );
    assert!(test.majority.accuracy < 0.56, "the planted data should be balanced: {}", test.majority.accuracy);
    assert!(
        acc > test.majority.accuracy + 0.12 && acc > 0.66,
        "hybrid accuracy {acc} vs majority {} out of sample",
        test.majority.accuracy
    );
    assert!(test.evaluation.report.mcc > 0.3, "MCC {}", test.evaluation.report.mcc);
    assert!(test.evaluation.report.directional_accuracy > 0.6);
    assert!(test.mc_probability_std > 0.0, "MC dropout gave no spread");
    // The card records what the model was made from.
    assert_eq!(trained.card.feature_spec_hash, spec.feature_spec.hash());
    assert_eq!(trained.card.data.sha256, engine::models::pipeline::bars_sha256(&bars));
    assert_eq!(trained.card.seed, 5);
}

#[test]
fn a_saved_model_loads_to_bit_identical_outputs_and_mc_dropout_has_spread() {
    let spec = tiny_spec(SMALL_HYBRID, 1, 8);
    let bars = planted_bars(600, 1);
    let prepared = prepare(&spec, "SYN", &bars, "synthetic").unwrap();
    let trained = run_experiment(
        &spec,
        &prepared,
        &Device::Cpu,
        &TrainOptions { checkpoint_dir: None, resume: false },
        &mut Quiet,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    checkpoint::save_model(dir.path(), &trained.network, &trained.card).unwrap();
    let (loaded, card) = checkpoint::load_model(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(card, trained.card);
    let x = prepared.data.windows(&prepared.splits.test, &Device::Cpu).unwrap();
    let bits = |net: &Network| -> Vec<u32> {
        let out = net.forward(&x, ForwardMode::Eval).unwrap();
        let mut v: Vec<f32> = out.class_logits.flatten_all().unwrap().to_vec1().unwrap();
        v.extend(out.returns.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        v.extend(out.fused.unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap());
        v.into_iter().map(f32::to_bits).collect()
    };
    assert_eq!(bits(&trained.network), bits(&loaded));

    let deterministic = predict(&loaded, &x, 1, 0, 1.0).unwrap();
    assert!(deterministic.probability_std.iter().flatten().all(|s| *s == 0.0));
    let again = predict(&loaded, &x, 1, 0, 1.0).unwrap();
    assert_eq!(deterministic, again, "deterministic mode must not vary");
    let mc = predict(&loaded, &x, 20, 3, 1.0).unwrap();
    let spread: f64 = mc.probability_std.iter().flatten().sum::<f64>() / (3 * mc.probability_std.len()) as f64;
    assert!(spread > 1e-4, "MC dropout spread {spread}");
    assert_eq!(mc, predict(&loaded, &x, 20, 3, 1.0).unwrap(), "the same MC seed gives the same numbers");
}

fn all_weights(net: &Network) -> Vec<(String, Vec<u32>)> {
    let mut w: Vec<(String, Vec<u32>)> = checkpoint::snapshot(net)
        .unwrap()
        .into_iter()
        .map(|(k, t)| (k, t.flatten_all().unwrap().to_vec1::<f32>().unwrap().into_iter().map(f32::to_bits).collect()))
        .collect();
    w.sort();
    w
}

#[test]
fn training_is_seeded_and_resumes_exactly() {
    let bars = planted_bars(500, 2);
    let two = tiny_spec(SMALL_HYBRID, 2, 6);
    let prepared = prepare(&two, "SYN", &bars, "synthetic").unwrap();
    let straight_dir = tempfile::tempdir().unwrap();
    let options = TrainOptions { checkpoint_dir: Some(straight_dir.path().to_path_buf()), resume: false };
    let straight = run_experiment(&two, &prepared, &Device::Cpu, &options, &mut Quiet).unwrap();
    let repeat = run_experiment(
        &two,
        &prepared,
        &Device::Cpu,
        &TrainOptions { checkpoint_dir: None, resume: false },
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(all_weights(&straight.network), all_weights(&repeat.network), "same seed, same model");

    let one = tiny_spec(SMALL_HYBRID, 1, 6);
    let dir = tempfile::tempdir().unwrap();
    let first = TrainOptions { checkpoint_dir: Some(dir.path().to_path_buf()), resume: false };
    run_experiment(&one, &prepared, &Device::Cpu, &first, &mut Quiet).unwrap();
    let resumed = TrainOptions { checkpoint_dir: Some(dir.path().to_path_buf()), resume: true };
    let continued = run_experiment(&two, &prepared, &Device::Cpu, &resumed, &mut Quiet).unwrap();
    assert_eq!(continued.outcome.history.len(), 2);
    let without_speed = |h: &[engine::models::train::EpochRecord]| -> Vec<_> {
        h.iter().map(|r| (r.epoch, r.train_loss.to_bits(), r.validation.clone(), r.learning_rate.to_bits())).collect()
    };
    assert_eq!(
        without_speed(&continued.outcome.history),
        without_speed(&straight.outcome.history),
        "resumed history equals the straight run's"
    );
    assert_eq!(all_weights(&continued.network), all_weights(&straight.network), "resumed == straight, to the bit");

    // A checkpoint of another architecture is refused before training.
    let other = tiny_spec("[model]\narchitecture = \"cnn\"\nchannels = 4\nmodel_dim = 8\nheads = 2\n", 2, 6);
    let err = run_experiment(&other, &prepared, &Device::Cpu, &resumed, &mut Quiet).err().expect("must refuse");
    let text = err.to_string();
    assert!(text.contains("another model") && text.contains("hybrid") && text.contains("cnn"), "{text}");
}

#[test]
fn bad_specs_and_data_are_refused_before_training() {
    let base = tiny_spec(SMALL_HYBRID, 1, 8);
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments/specs/hybrid_goog_daily.toml"),
    )
    .unwrap();
    // The shipped spec parses.
    let shipped = ExperimentSpec::parse(&text, Path::new("hybrid_goog_daily.toml")).unwrap();
    assert_eq!(shipped.model.name(), "hybrid");

    let unknown = text.replace("name = \"rsi\"", "name = \"rsx\"");
    let err = ExperimentSpec::parse(&unknown, Path::new("s.toml")).unwrap_err().to_string();
    assert!(err.contains("s.toml") && err.contains("features") && err.contains("rsx"), "{err}");

    let typo = text.replace("batch_size = 64", "batch_sise = 64");
    let err = ExperimentSpec::parse(&typo, Path::new("s.toml")).unwrap_err().to_string();
    assert!(err.contains("training") && err.contains("batch_sise"), "{err}");

    let even = text.replace("kernel_sizes = [3, 5, 7, 11]", "kernel_sizes = [3, 4]");
    let err = ExperimentSpec::parse(&even, Path::new("s.toml")).unwrap_err().to_string();
    assert!(err.contains("model") && err.contains("even"), "{err}");

    // A window longer than the data.
    let long = tiny_spec(SMALL_HYBRID, 1, 400);
    let err = prepare(&long, "SYN", &planted_bars(300, 3), "synthetic").err().expect("too short").to_string();
    assert!(err.contains("window") && err.contains("400"), "{err}");

    // NaN in the features after the warm-up, named with its time.
    let mut bars = planted_bars(300, 4);
    bars.close[150] = f64::NAN;
    let err = prepare(&base, "SYN", &bars, "synthetic").err().expect("NaN").to_string();
    assert!(err.contains("NaN"), "{err}");
}

#[test]
fn several_instruments_pool_into_one_dataset_without_crossing_windows() {
    let spec = tiny_spec(SMALL_HYBRID, 1, 8);
    let a = planted_bars(400, 11);
    let mut b = planted_bars(300, 12);
    // The second instrument starts 50 days later and trades on its own calendar.
    for t in &mut b.ts {
        *t += 50 * 86_400_000_000_000 + 3_600_000_000_000;
    }
    let prepared = engine::models::pipeline::prepare_many(&spec, &[("AAA", &a), ("BBB", &b)], "synthetic").unwrap();
    let data = &prepared.data;
    assert_eq!(data.segments.len(), 2);
    assert_eq!(data.segments[0].symbol, "AAA");
    let seg_of = |row: usize| data.segments.iter().position(|s| s.start <= row && row < s.start + s.len).unwrap();
    for &t in &data.window_ends() {
        assert_eq!(seg_of(t + 1 - data.window), seg_of(t), "window ending at row {t} crosses instruments");
    }
    let splits = &prepared.splits;
    let h = data.horizon;
    let last_train_end = splits.train.iter().map(|&t| data.times[t + h]).max().unwrap();
    let first_validation = splits.validation.iter().map(|&t| data.times[t]).min().unwrap();
    let last_validation_end = splits.validation.iter().map(|&t| data.times[t + h]).max().unwrap();
    let first_test = splits.test.iter().map(|&t| data.times[t]).min().unwrap();
    assert!(last_train_end < first_validation && last_validation_end < first_test, "splits overlap in time");
    for part in [&splits.train, &splits.validation, &splits.test] {
        let instruments: std::collections::BTreeSet<usize> = part.iter().map(|&t| seg_of(t)).collect();
        assert_eq!(instruments.len(), 2, "each split holds both instruments");
    }
    assert_ne!(prepared.lineage.sha256, engine::models::pipeline::bars_sha256(&a));
    assert_eq!(prepared.lineage.bars, 700);
    let trained = run_experiment(
        &spec,
        &prepared,
        &Device::Cpu,
        &TrainOptions { checkpoint_dir: None, resume: false },
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(trained.card.samples["test"], splits.test.len());
}
