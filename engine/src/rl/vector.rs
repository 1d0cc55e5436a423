//! N environments stepped in lockstep with automatic reset: when one ends, its next
//! observation is the reset one, and the final observation is kept for bootstrapping.

use super::env::{Action, Environment, RlError, Step};

/// Steps several environments together; each is reset with its own seed stream.
pub struct VecEnv<E: Environment> {
    envs: Vec<E>,
    seed: u64,
    episodes: Vec<u64>,
}

/// One lockstep step: per environment, the step as taken (its observation is the one after
/// the action, before any reset) and the observation to act on next.
pub struct VecStep {
    pub steps: Vec<Step>,
    pub next_observations: Vec<Vec<f32>>,
}

impl<E: Environment> VecEnv<E> {
    pub fn new(envs: Vec<E>, seed: u64) -> Self {
        let n = envs.len();
        Self { envs, seed, episodes: vec![0; n] }
    }

    pub fn len(&self) -> usize {
        self.envs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.envs.is_empty()
    }

    fn episode_seed(&self, i: usize) -> u64 {
        self.seed.wrapping_add((i as u64) << 32).wrapping_add(self.episodes[i])
    }

    pub fn reset(&mut self) -> Vec<Vec<f32>> {
        (0..self.envs.len())
            .map(|i| {
                let seed = self.episode_seed(i);
                self.envs[i].reset(seed)
            })
            .collect()
    }

    pub fn step(&mut self, actions: &[Action]) -> Result<VecStep, RlError> {
        if actions.len() != self.envs.len() {
            return Err(RlError::Invalid(format!("{} actions for {} environments", actions.len(), self.envs.len())));
        }
        let mut steps = Vec::with_capacity(actions.len());
        let mut next = Vec::with_capacity(actions.len());
        for (i, action) in actions.iter().enumerate() {
            let step = self.envs[i].step(action)?;
            if step.terminated || step.truncated {
                self.episodes[i] += 1;
                let seed = self.episode_seed(i);
                next.push(self.envs[i].reset(seed));
            } else {
                next.push(step.observation.clone());
            }
            steps.push(step);
        }
        Ok(VecStep { steps, next_observations: next })
    }
}
