//! Seeded parameters and the trainable layers built on them (linear, 1-D convolution, layer
//! norm, LSTM, dropout), using only ops that have a backward pass in Candle.

use std::sync::{Arc, Mutex};

use candle_core::{D, DType, Device, Module, Tensor, Var};
use candle_nn::{Linear, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::{ModelError, Result};

/// How a parameter starts.
#[derive(Clone, Copy, Debug)]
pub enum Init {
    /// Uniform on [-bound, bound] (PyTorch's default for linear, convolution and LSTM weights).
    Uniform(f64),
    Const(f32),
    /// A (semi-)orthogonal matrix times a gain (Saxe et al.; Stable-Baselines3's default for
    /// policy and value networks). Two-dimensional parameters only.
    Orthogonal(f64),
}

/// Rows (or columns, whichever are fewer) made orthonormal by Gram-Schmidt from Gaussian draws.
fn orthogonal(rows: usize, cols: usize, gain: f64, rng: &mut ChaCha8Rng) -> Vec<f32> {
    use rand_distr::{Distribution, StandardNormal};
    let (n, m) = if rows <= cols { (rows, cols) } else { (cols, rows) };
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(n);
    while basis.len() < n {
        let mut v: Vec<f64> = (0..m).map(|_| StandardNormal.sample(rng)).collect();
        for b in &basis {
            let dot: f64 = v.iter().zip(b).map(|(x, y)| x * y).sum();
            v.iter_mut().zip(b).for_each(|(x, y)| *x -= dot * y);
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-6 {
            basis.push(v.into_iter().map(|x| x / norm).collect());
        }
    }
    let mut out = vec![0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            let v = if rows <= cols { basis[r][c] } else { basis[c][r] };
            out[r * cols + c] = (v * gain) as f32;
        }
    }
    out
}

/// Creates the model's parameters in a [`VarMap`], each drawn from a generator seeded by the
/// run's seed and the parameter's full name: Candle's CPU generator cannot be seeded, and
/// naming the stream keeps one parameter's start independent of the others.
#[derive(Clone)]
pub struct ParamFactory {
    varmap: VarMap,
    seed: u64,
    device: Device,
    prefix: String,
}

impl ParamFactory {
    pub fn new(varmap: VarMap, seed: u64, device: Device) -> Self {
        Self { varmap, seed, device, prefix: String::new() }
    }

    /// The same store under `prefix.`.
    pub fn sub(&self, name: &str) -> Self {
        Self { prefix: format!("{}{name}.", self.prefix), ..self.clone() }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// The parameter `name` (created on first use; an existing one is reused as is).
    pub fn get(&self, name: &str, shape: &[usize], init: Init) -> Result<Tensor> {
        let full = format!("{}{name}", self.prefix);
        let mut data = self.varmap.data().lock().map_err(|_| ModelError::Data("parameter store poisoned".into()))?;
        if let Some(var) = data.get(&full) {
            if var.dims() != shape {
                return Err(ModelError::Data(format!(
                    "parameter {full} has shape {:?}, the model needs {shape:?}",
                    var.dims()
                )));
            }
            return Ok(var.as_tensor().clone());
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ fnv1a(&full));
        let count: usize = shape.iter().product();
        let values: Vec<f32> = match init {
            Init::Uniform(bound) => (0..count).map(|_| rng.random_range(-bound..=bound) as f32).collect(),
            Init::Const(v) => vec![v; count],
            Init::Orthogonal(gain) => match shape {
                [rows, cols] => orthogonal(*rows, *cols, gain, &mut rng),
                _ => return Err(ModelError::Data(format!("orthogonal init of {full} needs a matrix, got {shape:?}"))),
            },
        };
        let var = Var::from_tensor(&Tensor::from_vec(values, shape, &self.device)?)?;
        let tensor = var.as_tensor().clone();
        data.insert(full, var);
        Ok(tensor)
    }
}

/// FNV-1a of a parameter name: a stable stream id for its generator (std's hasher may change
/// between Rust releases, which would change every model's start).
fn fnv1a(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// A fully connected layer with PyTorch's initialisation.
pub fn linear(inputs: usize, outputs: usize, params: &ParamFactory) -> Result<Linear> {
    let bound = 1.0 / (inputs as f64).sqrt();
    let weight = params.get("weight", &[outputs, inputs], Init::Uniform(bound))?;
    let bias = params.get("bias", &[outputs], Init::Uniform(bound))?;
    Ok(Linear::new(weight, Some(bias)))
}

/// Layer normalisation over the last dimension through our own differentiable op: Candle's
/// fused kernel has no backward pass and would silently stop every gradient upstream.
#[derive(Clone, Debug)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

impl LayerNorm {
    pub fn new(size: usize, params: &ParamFactory) -> Result<Self> {
        Ok(Self {
            weight: params.get("weight", &[size], Init::Const(1.0))?,
            bias: params.get("bias", &[size], Init::Const(0.0))?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        super::fused_ops::layer_norm(x, &self.weight, &self.bias, 1e-5)
    }
}

/// Whether dropout is on: training, deterministic evaluation, or Monte Carlo dropout
/// (dropout on at inference to sample the model's uncertainty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardMode {
    Train,
    Eval,
    McDropout,
}

impl ForwardMode {
    pub fn dropout_on(self) -> bool {
        !matches!(self, Self::Eval)
    }
}

/// The generator behind every dropout mask of one model, seeded so training and MC dropout
/// are reproducible.
#[derive(Clone, Debug)]
pub struct DropoutRng(Arc<Mutex<ChaCha8Rng>>);

impl DropoutRng {
    pub fn new(seed: u64) -> Self {
        Self(Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0xD0D0_5EED))))
    }

    pub fn reseed(&self, seed: u64) {
        if let Ok(mut rng) = self.0.lock() {
            *rng = ChaCha8Rng::seed_from_u64(seed ^ 0xD0D0_5EED);
        }
    }
}

/// Inverted dropout with masks from the model's seeded generator.
#[derive(Clone, Debug)]
pub struct Dropout {
    p: f32,
    rng: DropoutRng,
}

impl Dropout {
    pub fn new(p: f32, rng: &DropoutRng) -> Self {
        Self { p, rng: rng.clone() }
    }

    pub fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        if !mode.dropout_on() || self.p <= 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 - self.p;
        let scale = 1.0 / keep;
        let count = x.elem_count();
        let mut bits = vec![0u32; count];
        {
            let mut rng = self.rng.0.lock().map_err(|_| ModelError::Data("dropout generator poisoned".into()))?;
            rng.fill(&mut bits[..]);
        }
        // Keep when the top 24 bits, as a fraction of 2^24, fall below the keep probability.
        let threshold = (f64::from(keep) * f64::from(1u32 << 24)) as u32;
        let mask: Vec<f32> = bits.iter().map(|b| if (b >> 8) < threshold { scale } else { 0.0 }).collect();
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        Ok((x * mask)?)
    }
}

/// One LSTM layer in PyTorch's gate order (input, forget, cell, output). The input projection
/// of every step is one matrix product before the time loop; only the recurrent product is
/// per step.
#[derive(Clone, Debug)]
pub struct Lstm {
    w_ih: Tensor,
    w_hh: Tensor,
    bias: Tensor,
    hidden: usize,
}

/// The last hidden and cell state of a run.
#[derive(Clone, Debug)]
pub struct LstmState {
    pub h: Tensor,
    pub c: Tensor,
}

impl Lstm {
    pub fn new(inputs: usize, hidden: usize, params: &ParamFactory) -> Result<Self> {
        let bound = 1.0 / (hidden as f64).sqrt();
        let w_ih = params.get("weight_ih", &[4 * hidden, inputs], Init::Uniform(bound))?;
        let w_hh = params.get("weight_hh", &[4 * hidden, hidden], Init::Uniform(bound))?;
        let b_ih = params.get("bias_ih", &[4 * hidden], Init::Uniform(bound))?;
        let b_hh = params.get("bias_hh", &[4 * hidden], Init::Uniform(bound))?;
        Ok(Self { w_ih, w_hh, bias: (b_ih + b_hh)?, hidden })
    }

    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// Runs over `x` [batch, time, inputs] forwards (or backwards in time when `reverse`);
    /// returns the hidden states in time order [batch, time, hidden] and the final state.
    /// On the CPU the recurrence is one fused op; elsewhere it is the op-by-op graph.
    pub fn run(&self, x: &Tensor, reverse: bool) -> Result<(Tensor, LstmState)> {
        if x.device().is_cpu() && x.dtype() == DType::F32 {
            self.run_fused(x, reverse)
        } else {
            self.run_composed(x, reverse)
        }
    }

    fn run_fused(&self, x: &Tensor, reverse: bool) -> Result<(Tensor, LstmState)> {
        let steps = x.dim(1)?;
        let h = self.hidden;
        let projected = matmul_last(x, &self.w_ih.t()?)?.broadcast_add(&self.bias)?.contiguous()?;
        let all = projected.apply_op2(&self.w_hh, super::fused_lstm::LstmSequence { reverse })?;
        let last = if reverse { 0 } else { steps - 1 };
        let at_last = all.narrow(1, last, 1)?.squeeze(1)?;
        let state = LstmState { h: at_last.narrow(1, 0, h)?, c: at_last.narrow(1, 5 * h, h)? };
        Ok((all.narrow(2, 0, h)?, state))
    }

    /// The recurrence as Candle's own ops, step by step (any device).
    pub fn run_composed(&self, x: &Tensor, reverse: bool) -> Result<(Tensor, LstmState)> {
        let (batch, steps, _) = x.dims3()?;
        let projected = x.broadcast_matmul(&self.w_ih.t()?)?.broadcast_add(&self.bias)?;
        let w_hh_t = self.w_hh.t()?;
        let mut state = LstmState {
            h: Tensor::zeros((batch, self.hidden), x.dtype(), x.device())?,
            c: Tensor::zeros((batch, self.hidden), x.dtype(), x.device())?,
        };
        let mut outputs: Vec<Option<Tensor>> = vec![None; steps];
        for k in 0..steps {
            let t = if reverse { steps - 1 - k } else { k };
            let gates = (projected.narrow(1, t, 1)?.squeeze(1)? + state.h.matmul(&w_hh_t)?)?;
            state = self.cell(&gates, &state.c)?;
            outputs[t] = Some(state.h.clone());
        }
        let outputs: Vec<Tensor> = outputs.into_iter().flatten().collect();
        Ok((Tensor::stack(&outputs, 1)?, state))
    }

    /// One step from a state, for decoders: `x` [batch, inputs].
    pub fn step(&self, x: &Tensor, state: &LstmState) -> Result<LstmState> {
        let gates = (x.matmul(&self.w_ih.t()?)?.broadcast_add(&self.bias)? + state.h.matmul(&self.w_hh.t()?)?)?;
        self.cell(&gates, &state.c)
    }

    fn cell(&self, gates: &Tensor, c: &Tensor) -> Result<LstmState> {
        let chunks = gates.chunk(4, D::Minus1)?;
        let input = candle_nn::ops::sigmoid(&chunks[0])?;
        let forget = candle_nn::ops::sigmoid(&chunks[1])?;
        let cell = chunks[2].tanh()?;
        let output = candle_nn::ops::sigmoid(&chunks[3])?;
        let c = ((forget * c)? + (input * cell)?)?;
        let h = (output * c.tanh()?)?;
        Ok(LstmState { h, c })
    }
}

/// Applies a linear layer to [batch, time, features] or [batch, features]. Leading dimensions
/// are folded into one matrix product: Candle's `Linear` on a 3-D input runs one small,
/// broadcast product per batch row, several times slower.
pub fn apply(layer: &Linear, x: &Tensor) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    if dims.len() == 2 {
        return super::fused_ops::linear_2d(layer, x);
    }
    if dims.len() < 2 {
        return Ok(layer.forward(x)?);
    }
    let inner = dims[dims.len() - 1];
    let y = super::fused_ops::linear_2d(layer, &x.reshape((x.elem_count() / inner, inner))?)?;
    let mut out = dims;
    if let Some(last) = out.last_mut() {
        *last = y.dim(1)?;
    }
    Ok(y.reshape(out)?)
}

/// `x` [.., inner] times `w` [inner, outer] as one matrix product over all leading dimensions.
pub fn matmul_last(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let inner = dims[dims.len() - 1];
    let y = x.reshape((x.elem_count() / inner, inner))?.matmul(w)?;
    let mut out = dims;
    if let Some(last) = out.last_mut() {
        *last = y.dim(1)?;
    }
    Ok(y.reshape(out)?)
}

/// The device models run on: the first CUDA GPU when built with `cuda` and one is present,
/// the CPU otherwise.
pub fn default_device() -> Device {
    #[cfg(feature = "cuda")]
    {
        if let Ok(device) = Device::new_cuda(0) {
            return device;
        }
    }
    Device::Cpu
}

/// The element type of every model (f32 on CPU and GPU).
pub const DTYPE: DType = DType::F32;
