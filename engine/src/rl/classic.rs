//! CartPole-v1 and Pendulum-v1 with Gymnasium's exact dynamics, limits, rewards and episode
//! lengths (500 and 200 steps), so agents can be checked against published results.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::env::{Action, Environment, RlError, Space, Step, check_action};

const GRAVITY: f64 = 9.8;
const MASS_CART: f64 = 1.0;
const MASS_POLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASS_CART + MASS_POLE;
const HALF_LENGTH: f64 = 0.5;
const POLE_MASS_LENGTH: f64 = MASS_POLE * HALF_LENGTH;
const FORCE: f64 = 10.0;
const TAU: f64 = 0.02;
const X_LIMIT: f64 = 2.4;
const THETA_LIMIT: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;

/// CartPole-v1: push the cart left (0) or right (1); +1 per step; terminated when the pole
/// leans past 12° or the cart leaves ±2.4; truncated at 500 steps. Euler integration.
#[derive(Clone, Debug, Default)]
pub struct CartPole {
    state: Option<[f64; 4]>,
    steps: usize,
    done: bool,
}

impl CartPole {
    pub const MAX_STEPS: usize = 500;

    pub fn new() -> Self {
        Self::default()
    }

    /// Puts the system in a given state (x, ẋ, θ, θ̇), as at the start of an episode.
    pub fn set_state(&mut self, state: [f64; 4]) {
        self.state = Some(state);
        self.steps = 0;
        self.done = false;
    }

    fn observation(state: &[f64; 4]) -> Vec<f32> {
        state.iter().map(|v| *v as f32).collect()
    }
}

impl Environment for CartPole {
    fn name(&self) -> &str {
        "CartPole-v1"
    }

    fn observation_space(&self) -> Space {
        let high = vec![X_LIMIT * 2.0, f64::INFINITY, THETA_LIMIT * 2.0, f64::INFINITY];
        Space::Box { low: high.iter().map(|v| -v).collect(), high }
    }

    fn action_space(&self) -> Space {
        Space::Discrete(2)
    }

    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let state = [0; 4].map(|_| rng.random_range(-0.05..0.05));
        self.set_state(state);
        Self::observation(&state)
    }

    fn step(&mut self, action: &Action) -> Result<Step, RlError> {
        check_action(self.name(), &self.action_space(), action, false)?;
        let [x, x_dot, theta, theta_dot] = self.state.ok_or(RlError::NotReset { env: self.name().into() })?;
        let force = if *action == Action::Discrete(1) { FORCE } else { -FORCE };
        let (sin, cos) = (theta.sin(), theta.cos());
        let temp = (force + POLE_MASS_LENGTH * (theta_dot * theta_dot) * sin) / TOTAL_MASS;
        let theta_acc =
            (GRAVITY * sin - cos * temp) / (HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * (cos * cos) / TOTAL_MASS));
        let x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS;
        let state = [x + TAU * x_dot, x_dot + TAU * x_acc, theta + TAU * theta_dot, theta_dot + TAU * theta_acc];
        self.state = Some(state);
        self.steps += 1;
        let terminated = state[0] < -X_LIMIT || state[0] > X_LIMIT || state[2] < -THETA_LIMIT || state[2] > THETA_LIMIT;
        // Gymnasium pays 1 on the step that ends the episode too, and 0 after it.
        let reward = if self.done { 0.0 } else { 1.0 };
        self.done |= terminated;
        Ok(Step {
            observation: Self::observation(&state),
            reward,
            terminated,
            truncated: !terminated && self.steps >= Self::MAX_STEPS,
        })
    }
}

const MAX_SPEED: f64 = 8.0;
const MAX_TORQUE: f32 = 2.0;
const DT: f64 = 0.05;
const G: f64 = 10.0;

/// Pendulum-v1: torque in [-2, 2] (clipped), reward −(θ² + 0.1·θ̇² + 0.001·u²) with θ
/// normalised to [−π, π), speed clipped to ±8; never terminates, truncated at 200 steps.
#[derive(Clone, Debug, Default)]
pub struct Pendulum {
    state: Option<[f64; 2]>,
    steps: usize,
}

fn angle_normalize(x: f64) -> f64 {
    use std::f64::consts::PI;
    (x + PI).rem_euclid(2.0 * PI) - PI
}

impl Pendulum {
    pub const MAX_STEPS: usize = 200;

    pub fn new() -> Self {
        Self::default()
    }

    /// Puts the pendulum at angle θ with speed θ̇.
    pub fn set_state(&mut self, state: [f64; 2]) {
        self.state = Some(state);
        self.steps = 0;
    }

    fn observation(state: &[f64; 2]) -> Vec<f32> {
        vec![state[0].cos() as f32, state[0].sin() as f32, state[1] as f32]
    }
}

impl Environment for Pendulum {
    fn name(&self) -> &str {
        "Pendulum-v1"
    }

    fn observation_space(&self) -> Space {
        Space::Box { low: vec![-1.0, -1.0, -MAX_SPEED], high: vec![1.0, 1.0, MAX_SPEED] }
    }

    fn action_space(&self) -> Space {
        Space::Box { low: vec![-f64::from(MAX_TORQUE)], high: vec![f64::from(MAX_TORQUE)] }
    }

    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let state = [rng.random_range(-std::f64::consts::PI..std::f64::consts::PI), rng.random_range(-1.0..1.0)];
        self.set_state(state);
        Self::observation(&state)
    }

    fn step(&mut self, action: &Action) -> Result<Step, RlError> {
        check_action(self.name(), &self.action_space(), action, true)?;
        let [th, th_dot] = self.state.ok_or(RlError::NotReset { env: self.name().into() })?;
        let Action::Continuous(v) = action else { return Err(RlError::Invalid("unreachable".into())) };
        // The action arrives as float32 and the torque terms stay in float32, as NumPy 2
        // computes them from a float32 action.
        let u = (v[0] as f32).clamp(-MAX_TORQUE, MAX_TORQUE);
        let cost = angle_normalize(th).powi(2) + 0.1 * th_dot * th_dot + f64::from(0.001f32 * (u * u));
        let new_dot = th_dot + (3.0 * G / 2.0 * th.sin() + f64::from(3.0f32 * u)) * DT;
        let new_dot = new_dot.clamp(-MAX_SPEED, MAX_SPEED);
        let state = [th + new_dot * DT, new_dot];
        self.state = Some(state);
        self.steps += 1;
        Ok(Step {
            observation: Self::observation(&state),
            reward: -cost,
            terminated: false,
            truncated: self.steps >= Self::MAX_STEPS,
        })
    }
}
