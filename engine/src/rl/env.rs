//! The environment interface, as Gymnasium defines it: reset with a seed, step with an action,
//! declared observation and action spaces, and errors for actions outside the space.

use serde::{Deserialize, Serialize};

/// An observation or action space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Space {
    /// Integers 0..n.
    Discrete(usize),
    /// A box of reals with per-dimension bounds (infinite where unbounded).
    Box { low: Vec<f64>, high: Vec<f64> },
}

impl Space {
    /// Dimensions of a vector in the space (1 for discrete).
    pub fn dim(&self) -> usize {
        match self {
            Self::Discrete(_) => 1,
            Self::Box { low, .. } => low.len(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Discrete(n) => format!("Discrete({n})"),
            Self::Box { low, high } => format!("Box(low={low:?}, high={high:?})"),
        }
    }
}

/// An action: an index for discrete spaces, a vector for boxes.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Discrete(usize),
    Continuous(Vec<f64>),
}

/// What one step returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub observation: Vec<f32>,
    pub reward: f64,
    /// The episode ended inside the task (the pole fell, the account stopped out).
    pub terminated: bool,
    /// The episode was cut off from outside (a time limit).
    pub truncated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RlError {
    /// An action outside the declared space; the message names the space and the value.
    #[error("{env}: action {action} is outside the action space {space}")]
    ActionOutOfSpace { env: String, action: String, space: String },
    #[error("{env}: step() called before reset()")]
    NotReset { env: String },
    #[error("{0}")]
    Invalid(String),
}

/// A Gymnasium-style environment.
pub trait Environment: Send {
    fn name(&self) -> &str;
    fn observation_space(&self) -> Space;
    fn action_space(&self) -> Space;
    /// Starts an episode from a state drawn with `seed`.
    fn reset(&mut self, seed: u64) -> Vec<f32>;
    fn step(&mut self, action: &Action) -> Result<Step, RlError>;
}

/// Refuses actions outside `space`; boxes accept only finite values within their bounds
/// unless `clip` (Gymnasium's Pendulum clips torque itself and so accepts any finite value).
pub fn check_action(env: &str, space: &Space, action: &Action, clip: bool) -> Result<(), RlError> {
    let bad = || RlError::ActionOutOfSpace {
        env: env.to_string(),
        action: match action {
            Action::Discrete(a) => a.to_string(),
            Action::Continuous(v) => format!("{v:?}"),
        },
        space: space.describe(),
    };
    match (space, action) {
        (Space::Discrete(n), Action::Discrete(a)) if a < n => Ok(()),
        (Space::Box { low, high }, Action::Continuous(v)) if v.len() == low.len() => {
            let inside = v
                .iter()
                .zip(low.iter().zip(high))
                .all(|(x, (lo, hi))| x.is_finite() && (clip || (*x >= *lo && *x <= *hi)));
            if inside { Ok(()) } else { Err(bad()) }
        }
        _ => Err(bad()),
    }
}
