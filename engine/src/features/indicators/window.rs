//! Fixed-capacity windows the indicators keep their recent inputs in: a ring buffer and a
//! monotonic deque for rolling highs and lows, both allocated once at construction.

/// The last `capacity` values, oldest first. Pushing into a full ring evicts the oldest.
#[derive(Clone, Debug)]
pub(crate) struct Ring {
    buf: Box<[f64]>,
    head: usize,
    len: usize,
}

impl Ring {
    pub fn new(capacity: usize) -> Self {
        Self { buf: vec![0.0; capacity].into_boxed_slice(), head: 0, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// Adds `x`; returns the value that left the window, if the ring was full. A ring of
    /// capacity 0 hands `x` straight back.
    #[inline(always)]
    pub fn push(&mut self, x: f64) -> Option<f64> {
        let cap = self.buf.len();
        if cap == 0 {
            return Some(x);
        }
        if self.len == cap {
            let old = std::mem::replace(&mut self.buf[self.head], x);
            self.head += 1;
            if self.head == cap {
                self.head = 0;
            }
            Some(old)
        } else {
            let mut slot = self.head + self.len;
            if slot >= cap {
                slot -= cap;
            }
            self.buf[slot] = x;
            self.len += 1;
            None
        }
    }

    /// The value `age` pushes ago (0 = the newest).
    #[inline(always)]
    pub fn ago(&self, age: usize) -> f64 {
        let cap = self.buf.len();
        let mut idx = self.head + self.len - 1 - age;
        if idx >= cap {
            idx -= cap;
        }
        self.buf[idx]
    }

    /// The stored values in storage-slot order (slot k holds the value pushed at k mod capacity).
    pub fn slots(&self) -> &[f64] {
        &self.buf[..self.len]
    }

    /// Oldest to newest.
    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        (0..self.len).map(move |k| self.buf[(self.head + k) % self.buf.len()])
    }

    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

/// The highest (or lowest) of the last `period` values in amortised O(1): a deque of candidate
/// indices whose values decrease (increase) from front to back.
#[derive(Clone, Debug)]
pub(crate) struct RollingExtreme {
    period: usize,
    highest: bool,
    idx: Box<[u64]>,
    val: Box<[f64]>,
    front: usize,
    len: usize,
    count: u64,
}

impl RollingExtreme {
    pub fn max(period: usize) -> Self {
        Self::new(period, true)
    }

    pub fn min(period: usize) -> Self {
        Self::new(period, false)
    }

    fn new(period: usize, highest: bool) -> Self {
        let cap = period.max(1);
        Self {
            period: cap,
            highest,
            idx: vec![0; cap].into_boxed_slice(),
            val: vec![0.0; cap].into_boxed_slice(),
            front: 0,
            len: 0,
            count: 0,
        }
    }

    /// Adds `x` and returns the extreme of the last `period` values (fewer while warming up).
    #[inline(always)]
    pub fn push(&mut self, x: f64) -> f64 {
        let cap = self.period;
        let now = self.count;
        self.count += 1;
        // Candidates dominated by the newcomer can never be the extreme again.
        while self.len > 0 {
            let mut back = self.front + self.len - 1;
            if back >= cap {
                back -= cap;
            }
            let v = self.val[back];
            let dominated = if self.highest { v <= x } else { v >= x };
            if !dominated {
                break;
            }
            self.len -= 1;
        }
        if self.len > 0 && now - self.idx[self.front] >= cap as u64 {
            self.front += 1;
            if self.front == cap {
                self.front = 0;
            }
            self.len -= 1;
        }
        let mut slot = self.front + self.len;
        if slot >= cap {
            slot -= cap;
        }
        self.idx[slot] = now;
        self.val[slot] = x;
        self.len += 1;
        self.val[self.front]
    }

    pub fn clear(&mut self) {
        self.front = 0;
        self.len = 0;
        self.count = 0;
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

    #[cold]
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
            let mut hi = RollingExtreme::max(period);
            let mut lo = RollingExtreme::min(period);
            for i in 0..xs.len() {
                let from = i.saturating_sub(period - 1);
                let w = &xs[from..=i];
                prop_assert_eq!(hi.push(xs[i]), w.iter().cloned().fold(f64::MIN, f64::max));
                prop_assert_eq!(lo.push(xs[i]), w.iter().cloned().fold(f64::MAX, f64::min));
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
                if ring.len() > 0 {
                    prop_assert_eq!(ring.ago(0), x);
                }
            }
        }
    }
}
