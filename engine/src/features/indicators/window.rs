//! Fixed-capacity windows the indicators keep their recent inputs in: a ring buffer, the batch
//! input read as a window, and van Herk/Gil-Werman rolling highs and lows.

/// The last inputs an indicator has seen, wherever they are kept: its own [`Ring`] when it is fed
/// one input at a time, or the batch input itself ([`InputWindow`]) when a batch driver feeds it a
/// slice, which spares a store and a wrapped load per bar. A windowed indicator writes its update
/// once, generic over this, so its streaming and batch forms are the same code.
pub(crate) trait Window {
    /// Values in the window (at most its capacity).
    fn len(&self) -> usize;
    fn is_full(&self) -> bool;
    /// Takes `x`, the indicator's newest input, into the window; returns the value that left it
    /// (the input `capacity` inputs before `x`) once it is full. Capacity 0 hands `x` back.
    fn push(&mut self, x: f64) -> Option<f64>;
    /// The value `age` pushes ago (0 = the newest).
    fn ago(&self, age: usize) -> f64;
    /// The window oldest to newest, as at most two runs of storage.
    fn as_slices(&self) -> (&[f64], &[f64]);
}

/// The last `capacity` values, oldest first. Pushing into a full ring evicts the oldest. The
/// storage is a power of two larger than the capacity, so indexing is a mask and the slot being
/// written is never the one being evicted.
#[derive(Clone, Debug)]
pub(crate) struct Ring {
    buf: Box<[f64]>,
    mask: usize,
    capacity: usize,
    /// Values pushed since the last clear.
    pushed: usize,
}

impl Ring {
    pub fn new(capacity: usize) -> Self {
        let size = (capacity + 1).next_power_of_two();
        Self { buf: vec![0.0; size].into_boxed_slice(), mask: size - 1, capacity, pushed: 0 }
    }

    /// Takes `inputs` (every input since the last clear, oldest first) as if pushed one by one: a
    /// batch that read its window from the inputs hands the ring over to streaming this way.
    pub fn refill(&mut self, inputs: &[f64]) {
        self.pushed = inputs.len();
        let from = inputs.len() - self.len();
        for (k, &x) in inputs.iter().enumerate().skip(from) {
            self.buf[k & self.mask] = x;
        }
    }

    /// Oldest to newest.
    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        (self.pushed - self.len()..self.pushed).map(move |k| self.buf[k & self.mask])
    }

    pub fn clear(&mut self) {
        self.pushed = 0;
    }
}

impl Window for Ring {
    fn len(&self) -> usize {
        self.pushed.min(self.capacity)
    }

    fn is_full(&self) -> bool {
        self.pushed >= self.capacity
    }

    /// Adds `x`; returns the value that left the window, if the ring was full. A ring of
    /// capacity 0 hands `x` straight back.
    #[inline(always)]
    fn push(&mut self, x: f64) -> Option<f64> {
        let p = self.pushed;
        self.buf[p & self.mask] = x;
        self.pushed = p + 1;
        if p >= self.capacity { Some(self.buf[(p - self.capacity) & self.mask]) } else { None }
    }

    /// The value `age` pushes ago (0 = the newest).
    #[inline(always)]
    fn ago(&self, age: usize) -> f64 {
        self.buf[(self.pushed - 1 - age) & self.mask]
    }

    /// The window oldest to newest as at most two runs of the storage (the second empty unless
    /// the window wraps), for a scan that must not take the ring's address in a hot loop.
    #[inline(always)]
    fn as_slices(&self) -> (&[f64], &[f64]) {
        let first = (self.pushed - self.len()) & self.mask;
        let end = first + self.len();
        match end.checked_sub(self.buf.len()) {
            Some(wrapped) if wrapped > 0 => (&self.buf[first..], &self.buf[..wrapped]),
            _ => (&self.buf[first..end], &[]),
        }
    }
}

/// The batch input as a window: `inputs` are every input since the indicator's last reset, of
/// which it has seen the first `seen`; the window holds the last `capacity` of those.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InputWindow<'a> {
    inputs: &'a [f64],
    seen: usize,
    capacity: usize,
}

impl<'a> InputWindow<'a> {
    #[inline(always)]
    pub fn new(inputs: &'a [f64], seen: usize, capacity: usize) -> Self {
        Self { inputs, seen, capacity }
    }
}

impl Window for InputWindow<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.seen.min(self.capacity)
    }

    #[inline(always)]
    fn is_full(&self) -> bool {
        self.seen >= self.capacity
    }

    #[inline(always)]
    fn push(&mut self, x: f64) -> Option<f64> {
        let p = self.seen;
        debug_assert_eq!(self.inputs[p].to_bits(), x.to_bits(), "a window pushed another input than the batch's");
        self.seen = p + 1;
        if p >= self.capacity { Some(self.inputs[p - self.capacity]) } else { None }
    }

    #[inline(always)]
    fn ago(&self, age: usize) -> f64 {
        self.inputs[self.seen - 1 - age]
    }

    #[inline(always)]
    fn as_slices(&self) -> (&[f64], &[f64]) {
        (&self.inputs[self.seen - self.len()..self.seen], &[])
    }
}

/// The highest (`MAX = true`) or lowest of the last `period` values by van Herk/Gil-Werman:
/// time is cut into blocks of `period`; a window is the tail of the previous block (its suffix
/// extremes, computed once per block) plus the head of the current one (a running extreme). That
/// is three comparisons per value whatever the data, with no data-dependent branches.
#[derive(Clone, Debug)]
pub(crate) struct RollingExtreme<const MAX: bool> {
    period: usize,
    block: Box<[f64]>,
    /// `suffix[j]` is the extreme of the previous block from offset j on; `suffix[period]` is the
    /// identity (no values).
    suffix: Box<[f64]>,
    head: f64,
    offset: usize,
}

pub(crate) type RollingMax = RollingExtreme<true>;
pub(crate) type RollingMin = RollingExtreme<false>;

impl<const MAX: bool> RollingExtreme<MAX> {
    const IDENTITY: f64 = if MAX { f64::NEG_INFINITY } else { f64::INFINITY };

    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        Self {
            period,
            block: vec![0.0; period].into_boxed_slice(),
            suffix: vec![Self::IDENTITY; period + 1].into_boxed_slice(),
            head: Self::IDENTITY,
            offset: 0,
        }
    }

    #[inline(always)]
    fn pick(a: f64, b: f64) -> f64 {
        if MAX {
            if a > b { a } else { b }
        } else if a < b {
            a
        } else {
            b
        }
    }

    /// Adds `x` and returns the extreme of the last `period` values (fewer while warming up).
    #[inline(always)]
    pub fn push(&mut self, x: f64) -> f64 {
        let j = self.offset;
        self.block[j] = x;
        self.head = Self::pick(self.head, x);
        let out = Self::pick(self.suffix[j + 1], self.head);
        if j + 1 == self.period {
            self.close_block();
        } else {
            self.offset = j + 1;
        }
        out
    }

    // Inlined although rare: out of line it would take the whole state by reference, and the
    // state could no longer live in registers in the batch loop.
    #[inline(always)]
    fn close_block(&mut self) {
        let mut acc = Self::IDENTITY;
        for j in (0..self.period).rev() {
            acc = Self::pick(acc, self.block[j]);
            self.suffix[j] = acc;
        }
        self.head = Self::IDENTITY;
        self.offset = 0;
    }

    pub fn clear(&mut self) {
        self.suffix.fill(Self::IDENTITY);
        self.head = Self::IDENTITY;
        self.offset = 0;
    }
}

/// Mean and variance of the last `period` values, updated in O(1) by West's add/remove formulas
/// and recomputed exactly (two passes over the window) once per `period` updates, so rounding
/// cannot drift over millions of bars while the cost stays amortised O(1).
#[derive(Clone, Debug)]
pub(crate) struct RollingMoments {
    window: Ring,
    mean: f64,
    m2: f64,
    since_exact: usize,
}

impl RollingMoments {
    pub fn new(period: usize) -> Self {
        Self { window: Ring::new(period), mean: 0.0, m2: 0.0, since_exact: 0 }
    }

    pub fn is_full(&self) -> bool {
        self.window.is_full()
    }

    #[inline(always)]
    pub fn push(&mut self, x: f64) {
        match self.window.push(x) {
            Some(old) => {
                let n = self.window.len() as f64;
                let mean_before = self.mean;
                self.mean += (x - old) / n;
                self.m2 += (x - old) * (x - self.mean + old - mean_before);
                self.since_exact += 1;
                if self.since_exact >= self.window.len() {
                    self.recompute();
                }
            }
            None => {
                let n = self.window.len() as f64;
                let d = x - self.mean;
                self.mean += d / n;
                self.m2 += d * (x - self.mean);
            }
        }
    }

    // Inlined although rare, for the same reason as `close_block`.
    #[inline(always)]
    fn recompute(&mut self) {
        let n = self.window.len() as f64;
        self.mean = self.window.iter().sum::<f64>() / n;
        let mean = self.mean;
        self.m2 = self.window.iter().map(|v| (v - mean) * (v - mean)).sum();
        self.since_exact = 0;
    }

    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Variance with `ddof` degrees of freedom removed (1 = sample, 0 = population); never negative.
    pub fn variance(&self, ddof: usize) -> f64 {
        (self.m2 / (self.window.len() - ddof) as f64).max(0.0)
    }

    pub fn clear(&mut self) {
        self.window.clear();
        self.mean = 0.0;
        self.m2 = 0.0;
        self.since_exact = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn rolling_moments_equal_two_pass_statistics(xs in prop::collection::vec(-1e4f64..1e4, 2..300), period in 2usize..30) {
            let mut m = RollingMoments::new(period);
            for i in 0..xs.len() {
                m.push(xs[i]);
                let w = &xs[(i + 1).saturating_sub(period)..=i];
                if w.len() < 2 { continue; }
                let mean = w.iter().sum::<f64>() / w.len() as f64;
                let var = w.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (w.len() - 1) as f64;
                prop_assert!((m.mean() - mean).abs() <= 1e-9 * (1.0 + mean.abs()));
                prop_assert!((m.variance(1) - var).abs() <= 1e-7 * (1.0 + var), "{} vs {}", m.variance(1), var);
            }
        }

        #[test]
        fn rolling_extremes_equal_a_window_scan(xs in prop::collection::vec(-1e3f64..1e3, 1..200), period in 1usize..20) {
            let mut hi = RollingMax::new(period);
            let mut lo = RollingMin::new(period);
            for i in 0..xs.len() {
                let from = i.saturating_sub(period - 1);
                let w = &xs[from..=i];
                prop_assert_eq!(hi.push(xs[i]), w.iter().cloned().fold(f64::MIN, f64::max));
                prop_assert_eq!(lo.push(xs[i]), w.iter().cloned().fold(f64::MAX, f64::min));
            }
        }

        // Few distinct values: ties, plateaus and extremes that leave while equal ones stay.
        #[test]
        fn rolling_extremes_equal_a_window_scan_with_ties_and_trends(
            steps in prop::collection::vec(-2i32..=2, 1..300),
            period in 1usize..25,
            trend in -1i32..=1,
        ) {
            let xs: Vec<f64> = steps.iter().enumerate().map(|(i, &s)| f64::from(s + trend * i as i32)).collect();
            let mut hi = RollingMax::new(period);
            let mut lo = RollingMin::new(period);
            for round in 0..2 {
                for i in 0..xs.len() {
                    let w = &xs[i.saturating_sub(period - 1)..=i];
                    prop_assert_eq!(hi.push(xs[i]), w.iter().cloned().fold(f64::MIN, f64::max), "round {} row {}", round, i);
                    prop_assert_eq!(lo.push(xs[i]), w.iter().cloned().fold(f64::MAX, f64::min), "round {} row {}", round, i);
                }
                hi.clear();
                lo.clear();
            }
        }

        #[test]
        fn a_ring_keeps_the_last_values_in_order(xs in prop::collection::vec(-1e3f64..1e3, 0..100), cap in 0usize..10) {
            let mut ring = Ring::new(cap);
            for (i, &x) in xs.iter().enumerate() {
                let evicted = ring.push(x);
                if cap == 0 {
                    prop_assert_eq!(evicted, Some(x));
                } else if i >= cap {
                    prop_assert_eq!(evicted, Some(xs[i - cap]));
                } else {
                    prop_assert_eq!(evicted, None);
                }
                let from = (i + 1).saturating_sub(cap);
                prop_assert_eq!(ring.iter().collect::<Vec<_>>(), xs[from..=i].to_vec());
                let (older, newer) = ring.as_slices();
                prop_assert_eq!([older, newer].concat(), xs[from..=i].to_vec());
                if ring.len() > 0 {
                    prop_assert_eq!(ring.ago(0), x);
                }
                prop_assert_eq!(ring.len(), (i + 1).min(cap));
            }
        }
    }
}
