//! Discrete wavelet transforms equal to PyWavelets (`wavedec`/`waverec`, mode 'symmetric', Haar and db1..db10) and the
//! allocation-free workspace behind the denoising and rolling features of `wavelet_features`, re-exported here.

use std::f64::consts::FRAC_1_SQRT_2;
use std::fmt;
use std::mem;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::{FeatureError, first_valid};

pub use super::wavelet_features::{denoise, rolling_denoised_last, rolling_energy};

/// Taps of the longest supported filter (db10).
const MAX_TAPS: usize = 20;
/// Highest supported Daubechies order.
const MAX_DB: u8 = 10;

/// Daubechies reconstruction low-pass filters db1..db10, concatenated: dbK has 2K taps starting at K(K-1).
/// Copied from PyWavelets 1.8.0 (`pywt.Wavelet("dbK").rec_lo`, printed with `repr`); the other three filters
/// are derived from it exactly as pywt does (reversal and sign alternation), which the tests check bit for bit.
#[rustfmt::skip]
const DB_REC_LO: [f64; 110] = [
    // db1
    FRAC_1_SQRT_2, FRAC_1_SQRT_2,
    // db2
    0.48296291314453416, 0.8365163037378079, 0.2241438680420134,
    -0.12940952255126037,
    // db3
    0.33267055295008263, 0.8068915093110925, 0.45987750211849154,
    -0.13501102001025458, -0.08544127388202666, 0.03522629188570953,
    // db4
    0.2303778133088965, 0.7148465705529157, 0.6308807679298589,
    -0.027983769416859854, -0.18703481171909309, 0.030841381835560764,
    0.0328830116668852, -0.010597401785069032,
    // db5
    0.16010239797419293, 0.6038292697971896, 0.7243085284377729,
    0.13842814590132074, -0.24229488706638203, -0.032244869584638375,
    0.07757149384004572, -0.006241490212798274, -0.012580751999081999,
    0.0033357252854737712,
    // db6
    0.11154074335010947, 0.49462389039845306, 0.7511339080210954,
    0.31525035170919763, -0.22626469396543983, -0.12976686756726194,
    0.09750160558732304, 0.027522865530305727, -0.03158203931748603,
    0.0005538422011614961, 0.004777257510945511, -0.0010773010853084796,
    // db7
    0.07785205408500918, 0.3965393194819173, 0.7291320908462351,
    0.4697822874051931, -0.14390600392856498, -0.22403618499387498,
    0.07130921926683026, 0.08061260915108308, -0.03802993693501441,
    -0.01657454163066688, 0.01255099855609984, 0.0004295779729213665,
    -0.0018016407040474908, 0.00035371379997452024,
    // db8
    0.05441584224310401, 0.31287159091429995, 0.6756307362972898,
    0.5853546836542067, -0.015829105256349306, -0.2840155429615469,
    0.0004724845739132828, 0.12874742662047847, -0.017369301001807547,
    -0.044088253930794755, 0.013981027917398282, 0.008746094047405777,
    -0.004870352993451574, -0.00039174037337694705, 0.0006754494064505693,
    -0.00011747678412476953,
    // db9
    0.038077947363878345, 0.24383467461259034, 0.6048231236901112,
    0.6572880780513005, 0.13319738582500756, -0.2932737832791749,
    -0.09684078322297646, 0.14854074933810638, 0.03072568147933338,
    -0.06763282906132997, 0.00025094711483145197, 0.022361662123679096,
    -0.004723204757751397, -0.00428150368246343, 0.0018476468830562265,
    0.00023038576352319597, -0.0002519631889427101, 3.93473203162716e-05,
    // db10
    0.026670057900555554, 0.1881768000776915, 0.5272011889317256,
    0.6884590394536035, 0.2811723436605775, -0.24984642432731538,
    -0.19594627437737705, 0.12736934033579325, 0.09305736460357235,
    -0.07139414716639708, -0.029457536821875813, 0.033212674059341,
    0.0036065535669561697, -0.010733175483330575, 0.001395351747052901,
    0.001992405295185056, -0.0006858566949597116, -0.00011646685512928545,
    9.358867032006959e-05, -1.3264202894521244e-05,
];

/// An orthogonal wavelet family member. `Haar` and `Db(1)` have the same filters (as in pywt); `Db(k)` is
/// supported for k in 1..=10 and refused with `InvalidParameter` otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Wavelet {
    Haar,
    Db(u8),
}

impl Wavelet {
    /// Number of taps of each filter (pywt `dec_len`): 2 for Haar, 2k for dbk.
    pub fn filter_len(self) -> usize {
        match self {
            Wavelet::Haar => 2,
            Wavelet::Db(k) => 2 * usize::from(k),
        }
    }

    /// The four filters, identical to pywt's `dec_lo`, `dec_hi`, `rec_lo`, `rec_hi`.
    pub fn filter_bank(self) -> Result<FilterBank, FeatureError> {
        let k = match self {
            Wavelet::Haar => 1,
            Wavelet::Db(k) if (1..=MAX_DB).contains(&k) => usize::from(k),
            Wavelet::Db(k) => {
                return Err(FeatureError::param("wavelet", "wavelet", format!("db{k} is not supported (db1..db10)")));
            }
        };
        let taps = 2 * k;
        let rec_lo = &DB_REC_LO[k * (k - 1)..k * (k - 1) + taps];
        let mut bank = FilterBank { taps, ..FilterBank::EMPTY };
        for (i, &r) in rec_lo.iter().enumerate() {
            let mirrored = rec_lo[taps - 1 - i];
            bank.rec_lo[i] = r;
            bank.dec_lo[i] = mirrored;
            bank.rec_hi[i] = if i % 2 == 0 { mirrored } else { -mirrored };
            bank.dec_hi[i] = if i % 2 == 0 { -r } else { r };
        }
        Ok(bank)
    }
}

impl fmt::Display for Wavelet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wavelet::Haar => f.write_str("haar"),
            Wavelet::Db(k) => write!(f, "db{k}"),
        }
    }
}

impl FromStr for Wavelet {
    type Err = FeatureError;

    /// Accepts pywt's names "haar" and "db1".."db10" (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase();
        if name == "haar" {
            return Ok(Wavelet::Haar);
        }
        match name.strip_prefix("db").and_then(|k| k.parse::<u8>().ok()) {
            Some(k) if (1..=MAX_DB).contains(&k) => Ok(Wavelet::Db(k)),
            _ => {
                Err(FeatureError::param("wavelet", "wavelet", format!("unknown wavelet `{s}`; use haar or db1..db10")))
            }
        }
    }
}

impl TryFrom<String> for Wavelet {
    type Error = FeatureError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Wavelet> for String {
    fn from(w: Wavelet) -> Self {
        w.to_string()
    }
}

/// Analysis and synthesis filters of one wavelet, stored inline so a bank is `Copy` and allocation-free.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilterBank {
    taps: usize,
    dec_lo: [f64; MAX_TAPS],
    dec_hi: [f64; MAX_TAPS],
    rec_lo: [f64; MAX_TAPS],
    rec_hi: [f64; MAX_TAPS],
}

impl FilterBank {
    const EMPTY: FilterBank = FilterBank {
        taps: 0,
        dec_lo: [0.0; MAX_TAPS],
        dec_hi: [0.0; MAX_TAPS],
        rec_lo: [0.0; MAX_TAPS],
        rec_hi: [0.0; MAX_TAPS],
    };

    pub fn taps(&self) -> usize {
        self.taps
    }
    pub fn dec_lo(&self) -> &[f64] {
        &self.dec_lo[..self.taps]
    }
    pub fn dec_hi(&self) -> &[f64] {
        &self.dec_hi[..self.taps]
    }
    pub fn rec_lo(&self) -> &[f64] {
        &self.rec_lo[..self.taps]
    }
    pub fn rec_hi(&self) -> &[f64] {
        &self.rec_hi[..self.taps]
    }
}

/// How detail coefficients are shrunk towards zero (pywt.threshold modes 'soft' and 'hard').
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Threshold {
    Soft,
    Hard,
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Threshold::Soft => "soft",
            Threshold::Hard => "hard",
        })
    }
}

impl FromStr for Threshold {
    type Err = FeatureError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "soft" => Ok(Threshold::Soft),
            "hard" => Ok(Threshold::Hard),
            _ => Err(FeatureError::param(
                "wavelet_denoise",
                "threshold",
                format!("unknown mode `{s}`; use soft or hard"),
            )),
        }
    }
}

impl TryFrom<String> for Threshold {
    type Error = FeatureError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Threshold> for String {
    fn from(t: Threshold) -> Self {
        t.to_string()
    }
}

/// pywt.dwt_max_level: the deepest level at which the coarsest input still spans the filter,
/// ⌊log₂(⌊n/(F-1)⌋)⌋, and 0 when n < F-1.
pub fn dwt_max_level(n: usize, w: Wavelet) -> usize {
    let f = w.filter_len();
    if f <= 1 || n < f - 1 { 0 } else { (n / (f - 1)).ilog2() as usize }
}

/// Shortest input that allows `level` levels: (F-1)·2^level, saturating.
pub(super) fn min_len_for_level(w: Wavelet, level: usize) -> usize {
    let pow = u32::try_from(level).ok().and_then(|s| 1usize.checked_shl(s)).unwrap_or(usize::MAX);
    (w.filter_len().saturating_sub(1)).saturating_mul(pow)
}

/// Multilevel DWT equal to `pywt.wavedec(x, w, mode='symmetric', level=level)`: `[cA_n, cD_n, ..., cD_1]`.
/// `None` means `dwt_max_level`; unlike pywt (which only warns) a deeper level is refused, because every
/// coefficient would then be dominated by the boundary extension. The input must be free of NaN.
pub fn wavedec(x: &[f64], w: Wavelet, level: Option<usize>) -> Result<Vec<Vec<f64>>, FeatureError> {
    const FEATURE: &str = "wavedec";
    let bank = w.filter_bank()?;
    let start = first_valid(FEATURE, "x", x)?;
    if start > 0 {
        return Err(FeatureError::Invalid {
            feature: FEATURE.into(),
            reason: format!("the input starts with {start} NaN values; slice them off first"),
        });
    }
    if x.is_empty() {
        return Err(FeatureError::TooShort { feature: FEATURE.into(), len: 0, needed: 1 });
    }
    let level = resolve_level(FEATURE, x.len(), w, level)?;
    let mut ws = Workspace::new(bank, x.len(), level);
    ws.decompose(x);
    Ok((0..=level).map(|k| ws.array(k).to_vec()).collect())
}

/// Multilevel inverse DWT equal to `pywt.waverec(coeffs, w, mode='symmetric')`. As in pywt, an approximation one
/// longer than the next detail array is trimmed, and the output of an odd-length decomposition is one sample
/// longer than the original signal.
pub fn waverec(coeffs: &[Vec<f64>], w: Wavelet) -> Result<Vec<f64>, FeatureError> {
    const FEATURE: &str = "waverec";
    let bank = w.filter_bank()?;
    let half = bank.taps / 2;
    let Some((first, details)) = coeffs.split_first() else {
        return Err(FeatureError::Invalid { feature: FEATURE.into(), reason: "no coefficient arrays given".into() });
    };
    let mut a = first.clone();
    let mut next = Vec::new();
    for (k, d) in details.iter().enumerate() {
        if a.len() == d.len() + 1 {
            a.truncate(d.len());
        } else if a.len() != d.len() {
            return Err(FeatureError::LengthMismatch {
                feature: FEATURE.into(),
                detail: format!("approximation of {} values before detail array {} of {}", a.len(), k + 1, d.len()),
            });
        }
        if d.len() < half {
            return Err(FeatureError::Invalid {
                feature: FEATURE.into(),
                reason: format!("detail array {} has {} values but {w} needs at least {half}", k + 1, d.len()),
            });
        }
        next.resize(2 * d.len() + 2 - bank.taps, 0.0);
        idwt_step(&a, d, &bank, &mut next);
        mem::swap(&mut a, &mut next);
    }
    Ok(a)
}

/// The requested level, or pywt's default; deeper than `dwt_max_level` is refused.
pub(super) fn resolve_level(feature: &str, n: usize, w: Wavelet, level: Option<usize>) -> Result<usize, FeatureError> {
    let max = dwt_max_level(n, w);
    match level {
        None => Ok(max),
        Some(l) if l <= max => Ok(l),
        Some(l) => Err(FeatureError::param(
            feature,
            "level",
            format!("is {l} but a {n}-point input allows at most {max} levels with {w} (pywt dwt_max_level)"),
        )),
    }
}

/// Index into a signal of length n extended by half-sample symmetry (pywt 'symmetric'): period 2n, mirrored.
fn sym(e: isize, n: usize) -> usize {
    let period = 2 * n as isize;
    let m = e.rem_euclid(period) as usize;
    if m < n { m } else { 2 * n - 1 - m }
}

/// One analysis step: `ca[o]`, `cd[o]` = Σ filter[j]·x̃[2o+1-j]. Sums are accumulated in the same order as pywt's
/// C loops (taps past the right end first, then the rest by increasing j), so the results match bit for bit.
fn dwt_step(x: &[f64], bank: &FilterBank, ca: &mut [f64], cd: &mut [f64]) {
    let n = x.len();
    let f = bank.taps;
    let (lo, hi) = (bank.dec_lo(), bank.dec_hi());
    let out_len = ca.len();
    let boundary = |o: usize| {
        let i = 2 * o + 1;
        let (mut sa, mut sd) = (0.0, 0.0);
        let mut j0 = 0;
        if i >= n {
            for e in n..=i {
                let v = x[sym(e as isize, n)];
                sa += lo[i - e] * v;
                sd += hi[i - e] * v;
            }
            j0 = i - n + 1;
        }
        for j in j0..f {
            let v = x[sym(i as isize - j as isize, n)];
            sa += lo[j] * v;
            sd += hi[j] * v;
        }
        (sa, sd)
    };
    let left_end = (f / 2 - 1).min(out_len);
    let mid_end = (n / 2).clamp(left_end, out_len);
    for o in (0..left_end).chain(mid_end..out_len) {
        (ca[o], cd[o]) = boundary(o);
    }
    // Interior outputs two at a time: their sums are independent, so interleaving them hides the latency of the
    // additions, while each still adds its taps in pywt's order.
    let mut o = left_end;
    while o < mid_end {
        let i = 2 * o + 1;
        let w1 = x[i + 1 - f..=i].iter().rev();
        if o + 1 < mid_end {
            let w2 = x[i + 3 - f..=i + 2].iter().rev();
            let (mut sa, mut sd, mut sa2, mut sd2) = (0.0, 0.0, 0.0, 0.0);
            for (((v, v2), l), h) in w1.zip(w2).zip(lo).zip(hi) {
                sa += l * v;
                sd += h * v;
                sa2 += l * v2;
                sd2 += h * v2;
            }
            (ca[o], cd[o], ca[o + 1], cd[o + 1]) = (sa, sd, sa2, sd2);
            o += 2;
        } else {
            let (mut sa, mut sd) = (0.0, 0.0);
            for ((v, l), h) in w1.zip(lo).zip(hi) {
                sa += l * v;
                sd += h * v;
            }
            (ca[o], cd[o]) = (sa, sd);
            o += 1;
        }
    }
}

/// One synthesis step (pywt `idwt`, 'symmetric'): the valid part of the upsampled convolutions of `a` with rec_lo
/// and `d` with rec_hi; `out.len()` must be 2·len - F + 2.
fn idwt_step(a: &[f64], d: &[f64], bank: &FilterBank, out: &mut [f64]) {
    let half = bank.taps / 2;
    for (q, pair) in out.chunks_exact_mut(2).enumerate() {
        let i = q + half - 1;
        pair[0] = synth(a, d, bank, i, 0, 0);
        pair[1] = synth(a, d, bank, i, 1, 0);
    }
}

/// Output sample 2(i-F/2+1)+parity of a synthesis step, where `a` holds the approximation from index `a_off` on and
/// `d` is the whole detail array. Approximation and detail are summed separately and then added, like pywt.
#[inline]
fn synth(a: &[f64], d: &[f64], bank: &FilterBank, i: usize, parity: usize, a_off: usize) -> f64 {
    let (mut sa, mut sd) = (0.0, 0.0);
    for j in 0..bank.taps / 2 {
        sa += bank.rec_lo[2 * j + parity] * a[i - j - a_off];
        sd += bank.rec_hi[2 * j + parity] * d[i - j];
    }
    sa + sd
}

/// Scratch for one filter bank, input length and level: buffers are sized once so rolling windows allocate nothing.
pub(super) struct Workspace {
    bank: FilterBank,
    /// Signal length.
    n: usize,
    level: usize,
    /// Coefficients in pywt order: cA_n, cD_n, ..., cD_1.
    coeffs: Vec<f64>,
    /// Array k of `coeffs` is `bounds[k]..bounds[k + 1]`.
    bounds: Vec<usize>,
    buf_a: Vec<f64>,
    buf_b: Vec<f64>,
    /// |cD_1| for the median.
    mags: Vec<f64>,
    /// Index ranges of each level's approximation that reach one output sample.
    need: Vec<(usize, usize)>,
}

impl Workspace {
    pub(super) fn new(bank: FilterBank, n: usize, level: usize) -> Self {
        // lens[k] = length of the level-k arrays; lens[0] = n.
        let mut lens = vec![n];
        for k in 1..=level {
            lens.push((lens[k - 1] + bank.taps - 1) / 2);
        }
        let mut bounds = vec![0, lens[level]];
        for k in (1..=level).rev() {
            bounds.push(bounds[bounds.len() - 1] + lens[k]);
        }
        let scratch = lens.get(1).copied().unwrap_or(0).max(n + 1);
        Self {
            bank,
            n,
            level,
            coeffs: vec![0.0; bounds[bounds.len() - 1]],
            bounds,
            buf_a: vec![0.0; scratch],
            buf_b: vec![0.0; scratch],
            mags: Vec::with_capacity(lens.get(1).copied().unwrap_or(0)),
            need: vec![(0, 0); level + 1],
        }
    }

    pub(super) fn array(&self, k: usize) -> &[f64] {
        &self.coeffs[self.bounds[k]..self.bounds[k + 1]]
    }

    /// Fills `coeffs` with the decomposition of `x` (whose length is the one given to `new`).
    pub(super) fn decompose(&mut self, x: &[f64]) {
        let level = self.level;
        if level == 0 {
            self.coeffs.copy_from_slice(x);
            return;
        }
        let (mut a, mut b) = (mem::take(&mut self.buf_a), mem::take(&mut self.buf_b));
        let mut a_len = 0;
        for k in 1..=level {
            // cD_k is array level+1-k.
            let slot = self.bounds[level + 1 - k]..self.bounds[level + 2 - k];
            let out_len = slot.len();
            let cd = &mut self.coeffs[slot];
            if k == 1 {
                dwt_step(x, &self.bank, &mut a[..out_len], cd);
            } else {
                dwt_step(&a[..a_len], &self.bank, &mut b[..out_len], cd);
                mem::swap(&mut a, &mut b);
            }
            a_len = out_len;
        }
        self.coeffs[..a_len].copy_from_slice(&a[..a_len]);
        self.buf_a = a;
        self.buf_b = b;
    }

    /// VisuShrink on every detail array; the universal threshold uses the signal length, as in the reference.
    pub(super) fn threshold_details(&mut self, mode: Threshold) {
        let finest = self.bounds[self.level]..self.bounds[self.level + 1];
        self.mags.clear();
        self.mags.extend(self.coeffs[finest].iter().map(|c| c.abs()));
        let sigma = median(&mut self.mags) / 0.6745;
        let thr = sigma * (2.0 * (self.n as f64).ln()).sqrt();
        let details = &mut self.coeffs[self.bounds[1]..];
        match mode {
            // pywt computes x·max(1 - thr/|x|, 0); the same expression keeps the rounding identical.
            Threshold::Soft if thr > 0.0 => details.iter_mut().for_each(|c| *c *= (1.0 - thr / c.abs()).max(0.0)),
            Threshold::Soft => {}
            Threshold::Hard => details.iter_mut().filter(|c| c.abs() < thr).for_each(|c| *c = 0.0),
        }
    }

    /// Full waverec of `coeffs`, writing its first `out.len()` samples.
    pub(super) fn reconstruct_into(&mut self, out: &mut [f64]) {
        let (mut a, mut b) = (mem::take(&mut self.buf_a), mem::take(&mut self.buf_b));
        let mut a_len = self.bounds[1];
        a[..a_len].copy_from_slice(self.array(0));
        for k in 1..=self.level {
            let d = self.array(k);
            let out_len = 2 * d.len() + 2 - self.bank.taps;
            idwt_step(&a[..d.len()], d, &self.bank, &mut b[..out_len]);
            mem::swap(&mut a, &mut b);
            a_len = out_len;
        }
        let m = out.len().min(a_len);
        out[..m].copy_from_slice(&a[..m]);
        self.buf_a = a;
        self.buf_b = b;
    }

    /// Sample `t` of the full waverec, synthesising only the coefficients it depends on: at each coarser level
    /// the needed range is [lo/2, hi/2 + F/2 - 1] of the finer one.
    pub(super) fn reconstruct_at(&mut self, t: usize) -> f64 {
        let half = self.bank.taps / 2;
        let level = self.level;
        self.need[0] = (t, t);
        for k in 1..=level {
            let (lo, hi) = self.need[k - 1];
            self.need[k] = (lo / 2, hi / 2 + half - 1);
        }
        let (mut a, mut b) = (mem::take(&mut self.buf_a), mem::take(&mut self.buf_b));
        let (lo, hi) = self.need[level];
        a[..=hi - lo].copy_from_slice(&self.array(0)[lo..=hi]);
        for k in (1..=level).rev() {
            // Synthesise level k-1 from a_k (held from need[k].0 on) and cD_k (array level+1-k).
            let d = self.array(level + 1 - k);
            let a_off = self.need[k].0;
            let (out_lo, out_hi) = self.need[k - 1];
            for p in out_lo..=out_hi {
                b[p - out_lo] = synth(&a, d, &self.bank, p / 2 + half - 1, p % 2, a_off);
            }
            mem::swap(&mut a, &mut b);
        }
        let value = a[0];
        self.buf_a = a;
        self.buf_b = b;
        value
    }
}

/// numpy.median: the middle value, or the mean of the two middle values for an even count.
fn median(v: &mut [f64]) -> f64 {
    let m = v.len();
    if m == 0 {
        return f64::NAN;
    }
    let (left, upper, _) = v.select_nth_unstable_by(m / 2, f64::total_cmp);
    let upper = *upper;
    if m % 2 == 1 {
        return upper;
    }
    let lower = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lower + upper) / 2.0
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use serde_json::Value;
    use std::sync::OnceLock;

    /// Relative tolerance against pywt. Sums are compared relative to Σ|c| of the same array, since a sum of
    /// detail coefficients cancels to near zero.
    const TOL: f64 = 1e-9;

    pub(crate) fn reference() -> &'static Value {
        static REF: OnceLock<Value> = OnceLock::new();
        REF.get_or_init(|| serde_json::from_str(include_str!("../../tests/reference/features/wavelet.json")).unwrap())
    }
    pub(crate) fn floats(v: &Value) -> Vec<f64> {
        v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect()
    }
    pub(crate) fn num(v: &Value) -> f64 {
        v.as_f64().unwrap()
    }
    pub(crate) fn series(name: &str) -> Vec<f64> {
        match name {
            "GOOG_logret" => series("GOOG").windows(2).map(|p| p[1].ln() - p[0].ln()).collect(),
            _ => floats(&reference()["series"][name]),
        }
    }
    pub(crate) fn case_input(case: &Value) -> Vec<f64> {
        let mut x = series(case["series"].as_str().unwrap());
        x.truncate(case["n"].as_u64().unwrap() as usize);
        x
    }
    pub(crate) fn case_wavelet(case: &Value) -> Wavelet {
        case["wavelet"].as_str().unwrap().parse().unwrap()
    }
    pub(crate) fn case_level(case: &Value) -> Option<usize> {
        case["level"].as_u64().map(|l| l as usize)
    }
    pub(crate) fn case_mode(case: &Value) -> Threshold {
        case["mode"].as_str().unwrap().parse().unwrap()
    }
    pub(crate) fn cases(key: &str) -> &'static [Value] {
        reference()[key].as_array().unwrap()
    }

    pub(crate) fn assert_rel(got: f64, exp: f64, scale: f64, ctx: &str) {
        let tol = TOL * exp.abs().max(scale);
        assert!((got - exp).abs() <= tol, "{ctx}: got {got}, pywt {exp} (diff {:e})", (got - exp).abs());
    }
    pub(crate) fn assert_values(got: &[f64], exp: &[f64], ctx: &str) {
        assert_eq!(got.len(), exp.len(), "{ctx}: length");
        for (i, (&g, &e)) in got.iter().zip(exp).enumerate() {
            if e.is_nan() {
                assert!(g.is_nan(), "{ctx}[{i}]: got {g}, pywt NaN");
            } else {
                assert_rel(g, e, 0.0, &format!("{ctx}[{i}]"));
            }
        }
    }
    pub(crate) fn assert_summary(got: &[f64], s: &Value, ctx: &str) {
        assert_eq!(got.len(), s["len"].as_u64().unwrap() as usize, "{ctx}: length");
        assert_values(&got[..4.min(got.len())], &floats(&s["head"]), &format!("{ctx} head"));
        assert_values(&got[got.len().saturating_sub(4)..], &floats(&s["tail"]), &format!("{ctx} tail"));
        let sumabs = num(&s["sumabs"]);
        assert_rel(got.iter().map(|c| c.abs()).sum(), sumabs, 0.0, &format!("{ctx} sum|c|"));
        assert_rel(got.iter().sum(), num(&s["sum"]), sumabs, &format!("{ctx} sum"));
        assert_rel(got.iter().map(|c| c * c).sum(), num(&s["sumsq"]), 0.0, &format!("{ctx} sumsq"));
        let proj: f64 = got.iter().enumerate().map(|(i, c)| c * (0.7 * i as f64).cos()).sum();
        assert_rel(proj, num(&s["proj"]), sumabs, &format!("{ctx} projection"));
    }

    #[test]
    fn filters_equal_pywt_bit_for_bit() {
        for (name, f) in reference()["filters"].as_object().unwrap() {
            let bank = name.parse::<Wavelet>().unwrap().filter_bank().unwrap();
            assert_eq!(bank.dec_lo(), floats(&f["dec_lo"]), "{name} dec_lo");
            assert_eq!(bank.dec_hi(), floats(&f["dec_hi"]), "{name} dec_hi");
            assert_eq!(bank.rec_lo(), floats(&f["rec_lo"]), "{name} rec_lo");
            assert_eq!(bank.rec_hi(), floats(&f["rec_hi"]), "{name} rec_hi");
        }
    }

    #[test]
    fn max_level_equals_pywt() {
        for c in cases("max_level") {
            let n = c["n"].as_u64().unwrap() as usize;
            assert_eq!(dwt_max_level(n, case_wavelet(c)), c["level"].as_u64().unwrap() as usize, "{c}");
        }
    }

    #[test]
    fn db4_on_1000_points_has_7_levels_with_pywt_lengths() {
        let x = series("GOOG");
        assert_eq!(x.len(), 1000);
        assert_eq!(dwt_max_level(1000, Wavelet::Db(4)), 7);
        let coeffs = wavedec(&x, Wavelet::Db(4), None).unwrap();
        let lens: Vec<usize> = coeffs.iter().map(Vec::len).collect();
        assert_eq!(lens, [14, 14, 22, 38, 69, 131, 255, 503]);
    }

    #[test]
    fn wavedec_equals_pywt_on_goog_and_eurusd() {
        let mut full = 0;
        for c in cases("wavedec") {
            let (x, w) = (case_input(c), case_wavelet(c));
            let ctx = format!("{} n={} {w} level={:?}", c["series"], x.len(), case_level(c));
            let coeffs = wavedec(&x, w, case_level(c)).unwrap();
            let summary = c["summary"].as_array().unwrap();
            assert_eq!(coeffs.len(), summary.len(), "{ctx}: number of arrays");
            for (k, (got, s)) in coeffs.iter().zip(summary).enumerate() {
                assert_summary(got, s, &format!("{ctx} array {k}"));
            }
            if let Some(exp) = c.get("coeffs") {
                full += 1;
                for (k, (got, e)) in coeffs.iter().zip(exp.as_array().unwrap()).enumerate() {
                    assert_values(got, &floats(e), &format!("{ctx} array {k}"));
                }
            }
        }
        assert!(cases("wavedec").len() >= 32 && full >= 3);
    }

    #[test]
    fn waverec_equals_pywt_on_modified_coefficients() {
        for c in cases("waverec") {
            let (x, w) = (case_input(c), case_wavelet(c));
            let mut coeffs = wavedec(&x, w, None).unwrap();
            coeffs[0].iter_mut().for_each(|a| *a += 1.0);
            for (k, d) in coeffs[1..].iter_mut().enumerate() {
                d.iter_mut().for_each(|v| *v *= 0.5 + 0.1 * k as f64);
            }
            let rec = waverec(&coeffs, w).unwrap();
            assert_summary(&rec, &c["summary"], &format!("waverec {} n={} {w}", c["series"], x.len()));
        }
    }

    #[test]
    fn waverec_of_wavedec_is_the_identity() {
        let goog = series("GOOG");
        let eur = series("EURUSD");
        let mut wavelets = vec![Wavelet::Haar];
        wavelets.extend((1..=MAX_DB).map(Wavelet::Db));
        for w in wavelets {
            for (x, n) in [(&goog, 1000), (&goog, 777), (&eur, 1000), (&eur, 101), (&eur, 2 * w.filter_len() - 1)] {
                let x = &x[..n];
                let scale = x.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
                for level in [None, Some(1)] {
                    let rec = waverec(&wavedec(x, w, level).unwrap(), w).unwrap();
                    // Odd lengths come back one sample longer, as in pywt.
                    assert_eq!(rec.len(), n + n % 2, "{w} n={n}");
                    for (i, (r, v)) in rec.iter().zip(x).enumerate() {
                        assert!((r - v).abs() <= 1e-10 * scale, "{w} n={n} level={level:?} [{i}]: {r} vs {v}");
                    }
                }
            }
        }
    }

    #[test]
    fn names_parse_display_and_serialize() {
        assert_eq!("haar".parse::<Wavelet>().unwrap(), Wavelet::Haar);
        assert_eq!(" DB4 ".parse::<Wavelet>().unwrap(), Wavelet::Db(4));
        assert_eq!(Wavelet::Db(4).to_string(), "db4");
        assert_eq!(Wavelet::Haar.to_string(), "haar");
        assert_eq!(Wavelet::Haar.filter_bank().unwrap(), Wavelet::Db(1).filter_bank().unwrap());
        assert_eq!(serde_json::to_string(&Wavelet::Db(7)).unwrap(), "\"db7\"");
        assert_eq!(serde_json::from_str::<Wavelet>("\"haar\"").unwrap(), Wavelet::Haar);
        assert!(serde_json::from_str::<Wavelet>("\"sym4\"").is_err());
        assert_eq!("hard".parse::<Threshold>().unwrap(), Threshold::Hard);
        assert_eq!(serde_json::from_str::<Threshold>("\"soft\"").unwrap(), Threshold::Soft);
        for bad in ["db0", "db11", "sym4", "db", "coif1", ""] {
            assert!(
                matches!(bad.parse::<Wavelet>(), Err(FeatureError::InvalidParameter { ref param, .. }) if param == "wavelet"),
                "{bad}"
            );
        }
        assert!(matches!("garrote".parse::<Threshold>(), Err(FeatureError::InvalidParameter { .. })));
    }

    pub(crate) fn param_of(e: FeatureError) -> String {
        match e {
            FeatureError::InvalidParameter { param, .. } => param,
            other => panic!("expected InvalidParameter, got {other:?}"),
        }
    }

    #[test]
    fn bad_input_gives_the_right_error() {
        let x = series("GOOG")[..100].to_vec();
        // Unsupported wavelet built directly.
        assert_eq!(param_of(wavedec(&x, Wavelet::Db(11), None).unwrap_err()), "wavelet");
        assert_eq!(param_of(waverec(std::slice::from_ref(&x), Wavelet::Db(0)).unwrap_err()), "wavelet");
        // Level above pywt's maximum: 100/7 = 14 allows 3 levels of db4.
        assert_eq!(param_of(wavedec(&x, Wavelet::Db(4), Some(4)).unwrap_err()), "level");
        assert_eq!(wavedec(&x, Wavelet::Db(4), Some(3)).unwrap().len(), 4);
        assert!(matches!(wavedec(&[], Wavelet::Haar, None), Err(FeatureError::TooShort { .. })));
        let mut gap = x.clone();
        gap[60] = f64::NAN;
        assert!(matches!(wavedec(&gap, Wavelet::Haar, None), Err(FeatureError::NanGap { row: 60, .. })));
        // Leading NaNs have no place in a coefficient array.
        let mut lead = x.clone();
        lead[0] = f64::NAN;
        assert!(matches!(wavedec(&lead, Wavelet::Haar, None), Err(FeatureError::Invalid { .. })));
        // waverec: empty list, mismatched and too-short arrays.
        assert!(matches!(waverec(&[], Wavelet::Haar), Err(FeatureError::Invalid { .. })));
        let mut coeffs = wavedec(&x, Wavelet::Db(2), None).unwrap();
        coeffs[2].pop();
        assert!(matches!(waverec(&coeffs, Wavelet::Db(2)), Err(FeatureError::LengthMismatch { .. })));
        assert!(matches!(waverec(&[vec![1.0], vec![1.0]], Wavelet::Db(2)), Err(FeatureError::Invalid { .. })));
    }

    #[test]
    fn level_zero_behaves_like_pywt() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        // pywt docstring example.
        let c = wavedec(&x, Wavelet::Db(1), Some(2)).unwrap();
        assert_eq!(c.len(), 3);
        assert!((c[0][0] - 5.0).abs() < 1e-12 && (c[0][1] - 13.0).abs() < 1e-12);
        assert!(c[1].iter().all(|v| (v + 2.0).abs() < 1e-12));
        assert!(c[2].iter().all(|v| (v + std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12));
        assert_eq!(wavedec(&x, Wavelet::Db(4), None).unwrap(), vec![x.to_vec()]);
        assert_eq!(waverec(&[x.to_vec()], Wavelet::Db(4)).unwrap(), x.to_vec());
    }
}
