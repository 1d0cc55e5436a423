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

/// The highest high and the lowest low of the last `period` bars (or the highest and lowest of
/// one series pushed as both) by van Herk/Gil-Werman: time is cut into blocks of `period`; a
/// window is the tail of the previous block (its suffix extremes, computed once per block) plus
/// the head of the current one (running extremes). That is three comparisons per value whatever
/// the data, with no data-dependent branches. Both extremes run on one block clock, so one
/// offset and one block close serve the two.
#[derive(Clone, Debug)]
pub(crate) struct RollingRange {
    /// The highs and lows pushed at each offset of the current block.
    highs: Box<[f64]>,
    lows: Box<[f64]>,
    /// At offset j: the highest high and the lowest low of the previous block from offset j + 1
    /// on (−∞ and +∞, no values, at the last offset). Kept in their own arrays: interleaved with
    /// the values as one array of cells, the batch loop ran at half the speed.
    highest_after: Box<[f64]>,
    lowest_after: Box<[f64]>,
    head_high: f64,
    head_low: f64,
    offset: usize,
    /// Whether a whole block (`period` bars) has been pushed since the last clear.
    full: bool,
}

impl RollingRange {
    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        Self {
            highs: vec![0.0; period].into_boxed_slice(),
            lows: vec![0.0; period].into_boxed_slice(),
            highest_after: vec![f64::NEG_INFINITY; period].into_boxed_slice(),
            lowest_after: vec![f64::INFINITY; period].into_boxed_slice(),
            head_high: f64::NEG_INFINITY,
            head_low: f64::INFINITY,
            offset: 0,
            full: false,
        }
    }

    #[inline(always)]
    fn higher(a: f64, b: f64) -> f64 {
        if a > b { a } else { b }
    }

    #[inline(always)]
    fn lower(a: f64, b: f64) -> f64 {
        if a < b { a } else { b }
    }

    /// Adds a bar's high and low; returns the highest high and the lowest low of the last
    /// `period` bars (of fewer while warming up).
    #[inline(always)]
    pub fn push(&mut self, high: f64, low: f64) -> (f64, f64) {
        let j = self.offset;
        self.highs[j] = high;
        self.lows[j] = low;
        self.head_high = Self::higher(self.head_high, high);
        self.head_low = Self::lower(self.head_low, low);
        let out =
            (Self::higher(self.highest_after[j], self.head_high), Self::lower(self.lowest_after[j], self.head_low));
        if j + 1 == self.highs.len() {
            self.close_block();
        } else {
            self.offset = j + 1;
        }
        out
    }

    /// Whether `period` bars have been pushed since the last clear.
    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.full
    }

    // Inlined although rare: out of line it would take the whole state by reference, and the
    // state could no longer live in registers in the batch loop.
    #[inline(always)]
    fn close_block(&mut self) {
        let mut high = f64::NEG_INFINITY;
        for (after, &value) in self.highest_after.iter_mut().zip(self.highs.iter()).rev() {
            *after = high;
            high = Self::higher(high, value);
        }
        let mut low = f64::INFINITY;
        for (after, &value) in self.lowest_after.iter_mut().zip(self.lows.iter()).rev() {
            *after = low;
            low = Self::lower(low, value);
        }
        self.head_high = f64::NEG_INFINITY;
        self.head_low = f64::INFINITY;
        self.offset = 0;
        self.full = true;
    }

    pub fn clear(&mut self) {
        self.highest_after.fill(f64::NEG_INFINITY);
        self.lowest_after.fill(f64::INFINITY);
        self.head_high = f64::NEG_INFINITY;
        self.head_low = f64::INFINITY;
        self.offset = 0;
        self.full = false;
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
        fn rolling_extremes_equal_a_window_scan(bars in prop::collection::vec((-1e3f64..1e3, 0.0f64..10.0), 1..200), period in 1usize..20) {
            let mut range = RollingRange::new(period);
            for i in 0..bars.len() {
                let w = &bars[i.saturating_sub(period - 1)..=i];
                let highest = w.iter().map(|&(high, _)| high).fold(f64::MIN, f64::max);
                let lowest = w.iter().map(|&(high, spread)| high - spread).fold(f64::MAX, f64::min);
                prop_assert_eq!(range.push(bars[i].0, bars[i].0 - bars[i].1), (highest, lowest));
                prop_assert_eq!(range.is_full(), i + 1 >= period);
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
            let mut range = RollingRange::new(period);
            for round in 0..2 {
                for i in 0..xs.len() {
                    let w = &xs[i.saturating_sub(period - 1)..=i];
                    let expected = (w.iter().cloned().fold(f64::MIN, f64::max), w.iter().cloned().fold(f64::MAX, f64::min));
                    prop_assert_eq!(range.push(xs[i], xs[i]), expected, "round {} row {}", round, i);
                    prop_assert_eq!(range.is_full(), i + 1 >= period, "round {} row {}", round, i);
                }
                range.clear();
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
