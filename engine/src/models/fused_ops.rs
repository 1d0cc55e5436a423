//! GELU, softmax over the last dimension and layer normalisation as single CPU ops with their
//! backward passes written out. Candle's differentiable forms are chains of small ops (its
//! GELU alone took 20 ns per element); other devices keep the composed forms.

use candle_core::{CpuStorage, CustomOp1, CustomOp3, D, DType, Layout, Shape, Tensor};
use candle_nn::{Linear, Module};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2};

use super::error::Result;

/// The f32 data of a contiguous CPU input.
pub(crate) fn contiguous<'a>(storage: &'a CpuStorage, layout: &Layout) -> candle_core::Result<&'a [f32]> {
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg("fused op: the input must be contiguous".into()))?;
    Ok(&storage.as_slice::<f32>()?[start..end])
}

/// e^x in f32 to about 2 ulp, branch-free so loops over slices vectorise (libm's expf is a
/// call per element, and the activations were bound by it): x = k·ln2 + r, e^r by a degree-6
/// polynomial on |r| <= ln2/2, 2^k put into the exponent bits. No `round` or `mul_add`: without
/// SSE4.1/FMA enabled at build time both are library calls.
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    // Adding 1.5·2^23 rounds to the nearest integer in f32 arithmetic itself.
    const SHIFT: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.0);
    let k = (x * std::f32::consts::LOG2_E + SHIFT) - SHIFT;
    let r = x - k * 0.693_145_75 - k * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0 + r * (0.5 + r * (0.166_666_67 + r * (0.041_666_668 + r * (0.008_333_334 + r * 0.001_388_889)))));
    p * f32::from_bits(((k as i32 + 127) as u32) << 23)
}

#[inline(always)]
pub fn fast_sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + fast_exp(-x))
}

#[inline(always)]
pub fn fast_tanh(x: f32) -> f32 {
    1.0 - 2.0 / (fast_exp(2.0 * x) + 1.0)
}

fn on_cpu_f32(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32
}

/// √(2/π), doubled: 0.5·(1 + tanh(z)) = σ(2z).
const GELU_2K: f32 = 2.0 * 0.797_884_6;
const GELU_C: f32 = 0.044_715;

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "gelu-tanh"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous(s, l)?;
        let out = x.iter().map(|&v| v * fast_sigmoid(GELU_2K * (v + GELU_C * v * v * v))).collect();
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let x: Vec<f32> = arg.flatten_all()?.to_vec1()?;
        let g: Vec<f32> = grad.flatten_all()?.to_vec1()?;
        let dx: Vec<f32> = x
            .iter()
            .zip(&g)
            .map(|(&v, &dy)| {
                let s = fast_sigmoid(GELU_2K * (v + GELU_C * v * v * v));
                let du = GELU_2K * (1.0 + 3.0 * GELU_C * v * v);
                dy * (s + v * s * (1.0 - s) * du)
            })
            .collect();
        Ok(Some(Tensor::from_vec(dx, arg.shape(), arg.device())?))
    }
}

/// GELU, tanh approximation (PyTorch's `approximate="tanh"`, Candle's `gelu`).
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    if on_cpu_f32(x) { Ok(x.contiguous()?.apply_op1(Gelu)?) } else { Ok(x.gelu()?) }
}

struct SoftmaxLastDim;

impl CustomOp1 for SoftmaxLastDim {
    fn name(&self) -> &'static str {
        "softmax-last-dim"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous(s, l)?;
        let width = l.shape().dims().last().copied().unwrap_or(1).max(1);
        let mut out = vec![0f32; x.len()];
        for (row, dst) in x.chunks(width).zip(out.chunks_mut(width)) {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0;
            for (d, &v) in dst.iter_mut().zip(row) {
                *d = fast_exp(v - max);
                sum += *d;
            }
            for d in dst.iter_mut() {
                *d /= sum;
            }
        }
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        // dx = y ⊙ (dy − Σ dy⊙y)
        let inner = (grad * res)?.sum_keepdim(D::Minus1)?;
        Ok(Some((res * grad.broadcast_sub(&inner)?)?))
    }
}

/// Softmax over the last dimension, differentiable.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    if on_cpu_f32(x) {
        Ok(x.contiguous()?.apply_op1(SoftmaxLastDim)?)
    } else {
        Ok(candle_nn::ops::softmax(x, D::Minus1)?)
    }
}

struct LayerNormOp {
    eps: f32,
}

impl LayerNormOp {
    /// Mean and 1/σ of one row.
    fn stats(&self, row: &[f32]) -> (f32, f32) {
        let n = row.len() as f32;
        let mean = row.iter().sum::<f32>() / n;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        (mean, 1.0 / (var + self.eps).sqrt())
    }
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1)?;
        let gamma = contiguous(s2, l2)?;
        let beta = contiguous(s3, l3)?;
        let width = gamma.len();
        let mut out = vec![0f32; x.len()];
        for (row, dst) in x.chunks(width).zip(out.chunks_mut(width)) {
            let (mean, inv) = self.stats(row);
            for j in 0..width {
                dst[j] = (row[j] - mean) * inv * gamma[j] + beta[j];
            }
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let xs: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let g: Vec<f32> = grad.flatten_all()?.to_vec1()?;
        let gam: Vec<f32> = gamma.to_vec1()?;
        let width = gam.len();
        let mut dx = vec![0f32; xs.len()];
        let mut d_gamma = vec![0f32; width];
        let mut d_beta = vec![0f32; width];
        let mut x_hat = vec![0f32; width];
        for ((row, dy), out) in xs.chunks(width).zip(g.chunks(width)).zip(dx.chunks_mut(width)) {
            let (mean, inv) = self.stats(row);
            let (mut sum_d, mut sum_dx) = (0.0f32, 0.0f32);
            for j in 0..width {
                x_hat[j] = (row[j] - mean) * inv;
                let d = dy[j] * gam[j];
                sum_d += d;
                sum_dx += d * x_hat[j];
                d_gamma[j] += dy[j] * x_hat[j];
                d_beta[j] += dy[j];
            }
            let n = width as f32;
            for j in 0..width {
                out[j] = inv * (dy[j] * gam[j] - sum_d / n - x_hat[j] * sum_dx / n);
            }
        }
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), x.device())?),
            Some(Tensor::from_vec(d_gamma, gamma.shape(), gamma.device())?),
            Some(Tensor::from_vec(d_beta, gamma.shape(), gamma.device())?),
        ))
    }
}

/// Layer normalisation over the last dimension, differentiable in all three inputs (Candle's
/// fused `layer_norm` has no backward pass and silently cuts the gradient).
pub fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f32) -> Result<Tensor> {
    if on_cpu_f32(x) {
        Ok(x.contiguous()?.apply_op3(gamma, beta, LayerNormOp { eps })?)
    } else {
        Ok(candle_nn::ops::layer_norm_slow(x, gamma, beta, eps)?)
    }
}

/// The elements of an array made in standard (row-major) layout, without copying.
fn standard_vec(a: Array2<f32>) -> Vec<f32> {
    let (v, offset) = a.into_raw_vec_and_offset();
    debug_assert!(offset.unwrap_or(0) == 0);
    v
}

struct Tanh;

impl CustomOp1 for Tanh {
    fn name(&self) -> &'static str {
        "tanh"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = contiguous(s, l)?.iter().map(|&v| fast_tanh(v)).collect();
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let y: Vec<f32> = res.flatten_all()?.to_vec1()?;
        let g: Vec<f32> = grad.flatten_all()?.to_vec1()?;
        let dx: Vec<f32> = y.iter().zip(&g).map(|(y, g)| g * (1.0 - y * y)).collect();
        Ok(Some(Tensor::from_vec(dx, res.shape(), res.device())?))
    }
}

/// tanh, differentiable.
pub fn tanh(x: &Tensor) -> Result<Tensor> {
    if on_cpu_f32(x) { Ok(x.contiguous()?.apply_op1(Tanh)?) } else { Ok(x.tanh()?) }
}

struct LinearOp;

fn shape_err(e: ndarray::ShapeError) -> candle_core::Error {
    candle_core::Error::Msg(format!("linear: {e}"))
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, inputs) = l1.shape().dims2()?;
        let (outputs, _) = l2.shape().dims2()?;
        let x = ArrayView2::from_shape((rows, inputs), contiguous(s1, l1)?).map_err(shape_err)?;
        let w = ArrayView2::from_shape((outputs, inputs), contiguous(s2, l2)?).map_err(shape_err)?;
        let b = contiguous(s3, l3)?;
        let mut y = Array2::from_shape_fn((rows, outputs), |(_, j)| b[j]);
        general_mat_mul(1.0, &x, &w.t(), 1.0, &mut y);
        Ok((CpuStorage::F32(standard_vec(y)), Shape::from((rows, outputs))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (rows, inputs) = x.dims2()?;
        let outputs = w.dim(0)?;
        let xs = Array2::from_shape_vec((rows, inputs), x.flatten_all()?.to_vec1::<f32>()?).map_err(shape_err)?;
        let ws = Array2::from_shape_vec((outputs, inputs), w.flatten_all()?.to_vec1::<f32>()?).map_err(shape_err)?;
        let dy = Array2::from_shape_vec((rows, outputs), grad.flatten_all()?.to_vec1::<f32>()?).map_err(shape_err)?;
        let mut dx = Array2::<f32>::zeros((rows, inputs));
        general_mat_mul(1.0, &dy, &ws, 0.0, &mut dx);
        let mut dw = Array2::<f32>::zeros((outputs, inputs));
        general_mat_mul(1.0, &dy.t(), &xs, 0.0, &mut dw);
        let mut db = vec![0f32; outputs];
        for row in dy.rows() {
            for (d, g) in db.iter_mut().zip(row) {
                *d += g;
            }
        }
        Ok((
            Some(Tensor::from_vec(standard_vec(dx), (rows, inputs), x.device())?),
            Some(Tensor::from_vec(standard_vec(dw), (outputs, inputs), w.device())?),
            Some(Tensor::from_vec(db, outputs, b.device())?),
        ))
    }
}

/// A linear layer on [rows, inputs] as one op with its backward pass (bias gradient as a
/// running column sum; Candle's broadcast-add backward reduces over rows with strided reads).
pub fn linear_2d(layer: &Linear, x: &Tensor) -> Result<Tensor> {
    match layer.bias() {
        Some(bias) if on_cpu_f32(x) => Ok(x.contiguous()?.apply_op3(layer.weight(), bias, LinearOp)?),
        _ => Ok(layer.forward(x)?),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use candle_core::{D, Device, Tensor, Var};

    #[test]
    fn fast_exp_is_accurate_to_a_few_ulp() {
        let mut worst = 0.0f64;
        let mut x = -80.0f32;
        while x < 80.0 {
            let want = f64::from(x).exp();
            let got = f64::from(super::fast_exp(x));
            worst = worst.max(((got - want) / want).abs());
            x += 0.001_37;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert!((super::fast_tanh(0.3) - 0.3f32.tanh()).abs() < 1e-6);
        assert!((super::fast_tanh(-9.0) + 1.0).abs() < 1e-6 && super::fast_sigmoid(-100.0) < 1e-30);
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
    }

    /// Each fused op equals Candle's composed form in value and in every input's gradient.
    #[test]
    fn fused_ops_equal_the_composed_forms() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&(Tensor::randn(0f32, 2.0, (3, 5, 8), &dev).unwrap())).unwrap();
        let gamma = Var::from_tensor(&Tensor::randn(1f32, 0.3, 8, &dev).unwrap()).unwrap();
        let beta = Var::from_tensor(&Tensor::randn(0f32, 0.3, 8, &dev).unwrap()).unwrap();
        let probe = Tensor::randn(0f32, 1.0, (3, 5, 8), &dev).unwrap();
        type Op<'a> = Box<dyn Fn(&Tensor) -> Tensor + 'a>;
        let cases: Vec<(&str, Op, Op)> = vec![
            ("gelu", Box::new(|t| super::gelu(t).unwrap()), Box::new(|t| t.gelu().unwrap())),
            ("tanh", Box::new(|t| super::tanh(t).unwrap()), Box::new(|t| t.tanh().unwrap())),
            (
                "softmax",
                Box::new(|t| super::softmax_last_dim(t).unwrap()),
                Box::new(|t| candle_nn::ops::softmax(t, D::Minus1).unwrap()),
            ),
            (
                "layer_norm",
                Box::new(|t| super::layer_norm(t, gamma.as_tensor(), beta.as_tensor(), 1e-5).unwrap()),
                Box::new(|t| candle_nn::ops::layer_norm_slow(t, gamma.as_tensor(), beta.as_tensor(), 1e-5).unwrap()),
            ),
        ];
        let w = Var::from_tensor(&Tensor::randn(0f32, 0.5, (6, 8), &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f32, 0.5, 6, &dev).unwrap()).unwrap();
        let layer = candle_nn::Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
        let probe6 = Tensor::randn(0f32, 1.0, (15, 6), &dev).unwrap();
        let flat = x.as_tensor().reshape((15, 8)).unwrap();
        let ours = super::linear_2d(&layer, &flat).unwrap();
        let theirs = candle_nn::Module::forward(&layer, &flat).unwrap();
        assert!(max_diff(&ours, &theirs) < 1e-5);
        let ga = (ours * &probe6).unwrap().sum_all().unwrap().backward().unwrap();
        let gb = (theirs * &probe6).unwrap().sum_all().unwrap().backward().unwrap();
        for v in [&x, &w, &b] {
            assert!(max_diff(ga.get(v.as_tensor()).unwrap(), gb.get(v.as_tensor()).unwrap()) < 1e-4, "linear gradient");
        }
        for (name, fused, composed) in cases {
            let a = fused(x.as_tensor());
            let b = composed(x.as_tensor());
            assert!(max_diff(&a, &b) < 1e-5, "{name}: values differ by {}", max_diff(&a, &b));
            let ga = (a * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            let gb = (b * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            for v in [&x, &gamma, &beta] {
                match (ga.get(v.as_tensor()), gb.get(v.as_tensor())) {
                    (Some(p), Some(q)) => {
                        assert!(max_diff(p, q) < 1e-4, "{name}: gradient differs by {}", max_diff(p, q))
                    }
                    (None, None) => {}
                    _ => panic!("{name}: a gradient is missing on one side"),
                }
            }
        }
    }
}
