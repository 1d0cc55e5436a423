//! A whole LSTM sequence as one Candle op on the CPU, with its backward pass (backpropagation
//! through time) written out: the per-step graph of a dozen small ops was most of the cost.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2};

/// Runs an LSTM over pre-projected input gates `xp` [batch, time, 4·hidden] (input weights and
/// both biases already applied) with the recurrent weights `w_hh` [4·hidden, hidden], from a
/// zero state, in PyTorch's gate order (input, forget, cell, output).
///
/// The output is [batch, time, 6·hidden]: per step the hidden state, the four gate
/// activations and the cell state. Callers use the first `hidden` columns; the rest is what
/// the backward pass needs, kept so it does not recompute the sequence.
pub struct LstmSequence {
    pub reverse: bool,
}

use super::fused_ops::{contiguous, fast_sigmoid, fast_tanh};

impl LstmSequence {
    /// Time indices in the order the recurrence visits them.
    fn order(&self, steps: usize) -> impl DoubleEndedIterator<Item = usize> + use<> {
        let reverse = self.reverse;
        (0..steps).map(move |k| if reverse { steps - 1 - k } else { k })
    }
}

impl CustomOp2 for LstmSequence {
    fn name(&self) -> &'static str {
        "lstm-sequence"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (batch, steps, gates4) = l1.shape().dims3()?;
        let (rows, hidden) = l2.shape().dims2()?;
        if rows != 4 * hidden || gates4 != 4 * hidden {
            candle_core::bail!("lstm-sequence: gates {gates4} and weights {rows}x{hidden} do not match");
        }
        let xp = contiguous(s1, l1)?;
        let w = ArrayView2::from_shape((rows, hidden), contiguous(s2, l2)?)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let w_t = w.t();
        let h6 = 6 * hidden;
        let mut out = vec![0f32; batch * steps * h6];
        let mut h_prev = Array2::<f32>::zeros((batch, hidden));
        let mut c_prev = Array2::<f32>::zeros((batch, hidden));
        let mut gates = Array2::<f32>::zeros((batch, rows));
        for t in self.order(steps) {
            for b in 0..batch {
                let from = (b * steps + t) * rows;
                for (g, x) in gates.row_mut(b).iter_mut().zip(&xp[from..from + rows]) {
                    *g = *x;
                }
            }
            general_mat_mul(1.0, &h_prev, &w_t, 1.0, &mut gates);
            // Activations in place, gate by gate, as straight loops that vectorise.
            for mut row in gates.rows_mut() {
                if let Some(row) = row.as_slice_mut() {
                    let (ifg, o) = row.split_at_mut(3 * hidden);
                    let (if_, g) = ifg.split_at_mut(2 * hidden);
                    if_.iter_mut().chain(o.iter_mut()).for_each(|v| *v = fast_sigmoid(*v));
                    g.iter_mut().for_each(|v| *v = fast_tanh(*v));
                }
            }
            for b in 0..batch {
                let row = gates.row(b);
                let base = (b * steps + t) * h6;
                let cell = &mut out[base..base + h6];
                for j in 0..hidden {
                    let (i, f, g, o) = (row[j], row[hidden + j], row[2 * hidden + j], row[3 * hidden + j]);
                    let c = f * c_prev[[b, j]] + i * g;
                    cell[hidden + j] = i;
                    cell[2 * hidden + j] = f;
                    cell[3 * hidden + j] = g;
                    cell[4 * hidden + j] = o;
                    cell[5 * hidden + j] = c;
                    c_prev[[b, j]] = c;
                }
                for j in 0..hidden {
                    let h = cell[4 * hidden + j] * fast_tanh(cell[5 * hidden + j]);
                    cell[j] = h;
                    h_prev[[b, j]] = h;
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((batch, steps, h6))))
    }

    fn bwd(
        &self,
        xp: &Tensor,
        w_hh: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (batch, steps, rows) = xp.dims3()?;
        let hidden = w_hh.dim(1)?;
        let h6 = 6 * hidden;
        let res: Vec<f32> = res.flatten_all()?.to_vec1()?;
        let grad: Vec<f32> = grad.flatten_all()?.to_vec1()?;
        let w = Array2::from_shape_vec((rows, hidden), w_hh.flatten_all()?.to_vec1::<f32>()?)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let mut d_xp = vec![0f32; batch * steps * rows];
        let mut d_w = Array2::<f32>::zeros((rows, hidden));
        let mut dh_next = Array2::<f32>::zeros((batch, hidden));
        let mut dc_next = Array2::<f32>::zeros((batch, hidden));
        let mut dz = Array2::<f32>::zeros((batch, rows));
        let mut h_prev = Array2::<f32>::zeros((batch, hidden));
        let visit: Vec<usize> = self.order(steps).collect();
        for k in (0..steps).rev() {
            let t = visit[k];
            let previous = k.checked_sub(1).map(|p| visit[p]);
            for b in 0..batch {
                let base = (b * steps + t) * h6;
                let prev_base = previous.map(|p| (b * steps + p) * h6);
                for j in 0..hidden {
                    let i = res[base + hidden + j];
                    let f = res[base + 2 * hidden + j];
                    let g = res[base + 3 * hidden + j];
                    let o = res[base + 4 * hidden + j];
                    let c = res[base + 5 * hidden + j];
                    let (hp, cp) = match prev_base {
                        Some(pb) => (res[pb + j], res[pb + 5 * hidden + j]),
                        None => (0.0, 0.0),
                    };
                    let dh = grad[base + j] + dh_next[[b, j]];
                    let tc = fast_tanh(c);
                    let dc = dh * o * (1.0 - tc * tc) + grad[base + 5 * hidden + j] + dc_next[[b, j]];
                    dz[[b, j]] = dc * g * i * (1.0 - i);
                    dz[[b, hidden + j]] = dc * cp * f * (1.0 - f);
                    dz[[b, 2 * hidden + j]] = dc * i * (1.0 - g * g);
                    dz[[b, 3 * hidden + j]] = dh * tc * o * (1.0 - o);
                    dc_next[[b, j]] = dc * f;
                    h_prev[[b, j]] = hp;
                }
                let to = (b * steps + t) * rows;
                for (d, z) in d_xp[to..to + rows].iter_mut().zip(dz.row(b)) {
                    *d = *z;
                }
            }
            general_mat_mul(1.0, &dz.t(), &h_prev, 1.0, &mut d_w);
            general_mat_mul(1.0, &dz, &w, 0.0, &mut dh_next);
        }
        let d_w: Vec<f32> = d_w.iter().copied().collect();
        Ok((
            Some(Tensor::from_vec(d_xp, (batch, steps, rows), xp.device())?),
            Some(Tensor::from_vec(d_w, (rows, hidden), w_hh.device())?),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use candle_core::{Device, Tensor};
    use candle_nn::VarMap;

    use crate::models::layers::{Lstm, ParamFactory};

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
    }

    /// The fused op and Candle's op-by-op recurrence agree on outputs, final state and every
    /// gradient (input, input weights, recurrent weights, biases), both directions.
    #[test]
    fn fused_sequence_equals_the_composed_graph() {
        let params = ParamFactory::new(VarMap::new(), 3, Device::Cpu);
        let lstm = Lstm::new(5, 7, &params).unwrap();
        let x = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 9, 5), &Device::Cpu).unwrap()).unwrap();
        let probe = Tensor::randn(0f32, 1.0, (3, 9, 7), &Device::Cpu).unwrap();
        for reverse in [false, true] {
            let (fused, fs) = lstm.run(x.as_tensor(), reverse).unwrap();
            let (plain, ps) = lstm.run_composed(x.as_tensor(), reverse).unwrap();
            assert!(max_diff(&fused, &plain) < 1e-5);
            assert!(max_diff(&fs.h, &ps.h) < 1e-5 && max_diff(&fs.c, &ps.c) < 1e-5);
            let loss = |seq: &Tensor, s: &crate::models::layers::LstmState| {
                ((seq * &probe).unwrap().sum_all().unwrap() + s.c.sqr().unwrap().sum_all().unwrap()).unwrap()
            };
            let g_fused = loss(&fused, &fs).backward().unwrap();
            let g_plain = loss(&plain, &ps).backward().unwrap();
            let mut vars: Vec<Tensor> = params.varmap().all_vars().iter().map(|v| v.as_tensor().clone()).collect();
            vars.push(x.as_tensor().clone());
            for v in &vars {
                let a = g_fused.get(v).unwrap();
                let b = g_plain.get(v).unwrap();
                let scale =
                    b.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap().max(1.0);
                assert!(max_diff(a, b) < 1e-4 * scale, "gradient differs by {} (reverse {reverse})", max_diff(a, b));
            }
        }
    }
}
