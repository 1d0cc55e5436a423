//! Proportional prioritised replay (Schaul et al. 2016): transitions drawn with probability
//! proportional to priority^α from a sum tree, with importance-sampling weights (N·P)^−β.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A binary tree of sums over leaf priorities: sampling and updates in O(log n).
pub struct SumTree {
    leaves: usize,
    nodes: Vec<f64>,
}

impl SumTree {
    pub fn new(capacity: usize) -> Self {
        let leaves = capacity.max(1).next_power_of_two();
        Self { leaves, nodes: vec![0.0; 2 * leaves] }
    }

    pub fn total(&self) -> f64 {
        self.nodes[1]
    }

    pub fn get(&self, index: usize) -> f64 {
        self.nodes[self.leaves + index]
    }

    pub fn set(&mut self, index: usize, value: f64) {
        let mut node = self.leaves + index;
        self.nodes[node] = value;
        while node > 1 {
            node /= 2;
            self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1];
        }
    }

    /// The leaf where the running sum passes `mass` (0 ≤ mass < total).
    pub fn find(&self, mut mass: f64) -> usize {
        let mut node = 1;
        while node < self.leaves {
            let left = 2 * node;
            if mass < self.nodes[left] || self.nodes[left + 1] <= 0.0 {
                node = left;
            } else {
                mass -= self.nodes[left];
                node = left + 1;
            }
        }
        node - self.leaves
    }
}

/// Priorities of the slots of a replay buffer.
pub struct Priorities {
    tree: SumTree,
    min_tree: Vec<f64>,
    alpha: f64,
    max_priority: f64,
    epsilon: f64,
}

impl Priorities {
    pub fn new(capacity: usize, alpha: f64) -> Self {
        let tree = SumTree::new(capacity);
        let leaves = tree.leaves;
        Self { tree, min_tree: vec![f64::INFINITY; 2 * leaves], alpha, max_priority: 1.0, epsilon: 1e-6 }
    }

    fn set_min(&mut self, index: usize, value: f64) {
        let leaves = self.tree.leaves;
        let mut node = leaves + index;
        self.min_tree[node] = value;
        while node > 1 {
            node /= 2;
            self.min_tree[node] = self.min_tree[2 * node].min(self.min_tree[2 * node + 1]);
        }
    }

    fn store(&mut self, index: usize, priority: f64) {
        let p = (priority + self.epsilon).powf(self.alpha);
        self.tree.set(index, p);
        self.set_min(index, p);
    }

    /// A new transition gets the largest priority seen, so it is replayed at least once soon.
    pub fn insert(&mut self, index: usize) {
        self.store(index, self.max_priority);
    }

    pub fn update(&mut self, index: usize, priority: f64) {
        let priority = if priority.is_finite() { priority.abs() } else { self.max_priority };
        self.max_priority = self.max_priority.max(priority);
        self.store(index, priority);
    }

    /// `n` slots among the first `len`, one from each of `n` equal slices of the total mass,
    /// with their importance-sampling weights normalised by the largest possible weight.
    pub fn sample(&self, n: usize, len: usize, beta: f64, rng: &mut ChaCha8Rng) -> (Vec<usize>, Vec<f32>) {
        let total = self.tree.total();
        let segment = total / n as f64;
        let min_p = self.min_tree[1] / total;
        let max_weight = (len as f64 * min_p).powf(-beta);
        let mut picks = Vec::with_capacity(n);
        let mut weights = Vec::with_capacity(n);
        for k in 0..n {
            let mass = segment * (k as f64 + rng.random::<f64>());
            let index = self.tree.find(mass.min(total * (1.0 - 1e-12))).min(len - 1);
            let p = self.tree.get(index) / total;
            picks.push(index);
            weights.push(((len as f64 * p).powf(-beta) / max_weight) as f32);
        }
        (picks, weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn sampling_follows_the_priorities() {
        let mut p = Priorities::new(4, 1.0);
        for (i, priority) in [1.0, 2.0, 3.0, 4.0].iter().enumerate() {
            p.insert(i);
            p.update(i, *priority);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut counts = [0usize; 4];
        for _ in 0..10_000 {
            let (picks, _) = p.sample(1, 4, 0.4, &mut rng);
            counts[picks[0]] += 1;
        }
        for (i, c) in counts.iter().enumerate() {
            let expected = 10_000.0 * (i + 1) as f64 / 10.0;
            assert!((*c as f64 - expected).abs() < 0.08 * expected, "{counts:?}");
        }
        // The rarest slot gets the largest weight, normalised to 1.
        let (picks, weights) = p.sample(4, 4, 1.0, &mut rng);
        for (i, w) in picks.iter().zip(&weights) {
            let expected = (1.0 / (*i + 1) as f64) as f32;
            assert!((w - expected).abs() < 1e-5, "slot {i}: {w}");
        }
    }
}
