//! Ensembles of trained agents: a weighted vote (discrete) or weighted average (continuous) of
//! their actions, with weights from rolling risk-adjusted performance, Thompson sampling over
//! the agents, or a FinRL-style selector that re-picks the best validation Sharpe on a schedule.

use std::collections::VecDeque;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution};
use serde::{Deserialize, Serialize};

use super::env::Action;
use super::offpolicy::{AgentError, ContinuousLearner, to_env_action};
use super::ppo::PpoAgent;
use super::rainbow::RainbowAgent;

/// Anything that maps an observation to an action deterministically.
pub trait Policy: Send {
    fn decide(&self, obs: &[f32]) -> Result<Action, AgentError>;
}

impl Policy for PpoAgent {
    fn decide(&self, obs: &[f32]) -> Result<Action, AgentError> {
        Ok(self.act_greedy(obs)?)
    }
}

impl Policy for RainbowAgent {
    fn decide(&self, obs: &[f32]) -> Result<Action, AgentError> {
        Ok(Action::Discrete(self.act_greedy(obs)?))
    }
}

/// A continuous agent with its [-1, 1] actions rescaled to the environment's bounds.
pub struct ScaledPolicy<L> {
    pub learner: L,
    pub low: Vec<f64>,
    pub high: Vec<f64>,
}

impl<L: ContinuousLearner + Send> Policy for ScaledPolicy<L> {
    fn decide(&self, obs: &[f32]) -> Result<Action, AgentError> {
        Ok(to_env_action(&self.learner.act(obs)?, &self.low, &self.high))
    }
}

/// How the members' weights are set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Weighting {
    /// Weights as given.
    Fixed,
    /// Softmax of each member's Sharpe ratio over its last `window` rewards, divided by
    /// `temperature`.
    RollingSharpe { window: usize, temperature: f64 },
    /// Each member's rate of positive rewards has a Beta posterior (old evidence decays by
    /// `discount` per step); every `decision_window` steps one draw per member picks the member
    /// that acts alone until the next draw.
    Thompson { decision_window: usize, discount: f64 },
    /// Every `reselect_every` steps, the member with the best Sharpe over the last
    /// `validation_window` rewards acts alone (FinRL's ensemble strategy).
    MetaSelect { validation_window: usize, reselect_every: usize },
}

/// Several agents acting as one.
pub struct Ensemble {
    members: Vec<(String, Box<dyn Policy>)>,
    weights: Vec<f64>,
    weighting: Weighting,
    history: Vec<VecDeque<f64>>,
    /// Beta posterior counts (successes, failures) per member, for Thompson sampling.
    posterior: Vec<(f64, f64)>,
    steps: usize,
    rng: ChaCha8Rng,
}

impl Ensemble {
    pub fn new(members: Vec<(String, Box<dyn Policy>)>, weighting: Weighting, seed: u64) -> Result<Self, AgentError> {
        if members.is_empty() {
            return Err(AgentError::Config("an ensemble needs at least one agent".into()));
        }
        let n = members.len();
        let mut ensemble = Self {
            members,
            weights: vec![1.0 / n as f64; n],
            weighting,
            history: vec![VecDeque::new(); n],
            posterior: vec![(0.0, 0.0); n],
            steps: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        };
        if matches!(ensemble.weighting, Weighting::Thompson { .. }) {
            ensemble.thompson_draw();
        }
        Ok(ensemble)
    }

    pub fn names(&self) -> Vec<&str> {
        self.members.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Member `k` alone.
    pub fn member(&self, k: usize) -> Option<&dyn Policy> {
        self.members.get(k).map(|(_, p)| p.as_ref())
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    pub fn set_weights(&mut self, weights: Vec<f64>) -> Result<(), AgentError> {
        let total: f64 = weights.iter().sum();
        if weights.len() != self.members.len() || weights.iter().any(|w| w.is_nan() || *w < 0.0) || total <= 0.0 {
            return Err(AgentError::Config(format!("weights {weights:?} for {} agents", self.members.len())));
        }
        self.weights = weights.iter().map(|w| w / total).collect();
        Ok(())
    }

    /// Each member's action, then the ensemble's: the discrete action with the largest total
    /// weight (ties to the lower index), or the weighted mean of continuous actions.
    pub fn decide(&self, obs: &[f32]) -> Result<(Action, Vec<Action>), AgentError> {
        let actions: Vec<Action> = self.members.iter().map(|(_, p)| p.decide(obs)).collect::<Result<_, _>>()?;
        Ok((combine(&actions, &self.weights)?, actions))
    }

    /// Records the reward each member would have earned this step (its own action's outcome)
    /// and updates the weights.
    pub fn observe(&mut self, member_rewards: &[f64]) -> Result<(), AgentError> {
        if member_rewards.len() != self.members.len() {
            return Err(AgentError::Config(format!(
                "{} rewards for {} agents",
                member_rewards.len(),
                self.members.len()
            )));
        }
        self.steps += 1;
        let keep = match self.weighting {
            Weighting::RollingSharpe { window, .. } => window,
            Weighting::MetaSelect { validation_window, .. } => validation_window,
            _ => 1,
        }
        .max(2);
        for (h, r) in self.history.iter_mut().zip(member_rewards) {
            h.push_back(*r);
            if h.len() > keep {
                h.pop_front();
            }
        }
        match self.weighting.clone() {
            Weighting::Fixed => {}
            Weighting::RollingSharpe { temperature, .. } => {
                let sharpe: Vec<f64> = self.history.iter().map(sharpe).collect();
                let t = temperature.max(1e-9);
                let top = sharpe.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = sharpe.iter().map(|s| ((s - top) / t).exp()).collect();
                let total: f64 = e.iter().sum();
                self.weights = e.iter().map(|x| x / total).collect();
            }
            Weighting::Thompson { decision_window, discount } => {
                for (p, r) in self.posterior.iter_mut().zip(member_rewards) {
                    p.0 *= discount;
                    p.1 *= discount;
                    if *r > 0.0 {
                        p.0 += 1.0;
                    } else {
                        p.1 += 1.0;
                    }
                }
                if self.steps.is_multiple_of(decision_window.max(1)) {
                    self.thompson_draw();
                }
            }
            Weighting::MetaSelect { reselect_every, .. } => {
                if self.steps.is_multiple_of(reselect_every.max(1)) {
                    let best = argmax(&self.history.iter().map(sharpe).collect::<Vec<_>>());
                    self.weights = one_hot(best, self.members.len());
                }
            }
        }
        Ok(())
    }

    fn thompson_draw(&mut self) {
        let draws: Vec<f64> = self
            .posterior
            .iter()
            .map(|(s, f)| Beta::new(1.0 + s, 1.0 + f).map(|b| b.sample(&mut self.rng)).unwrap_or(0.5))
            .collect();
        self.weights = one_hot(argmax(&draws), self.members.len());
    }
}

fn sharpe(h: &VecDeque<f64>) -> f64 {
    let n = h.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mean = h.iter().sum::<f64>() / n;
    let std = (h.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    if std > 1e-12 { mean / std } else { mean.signum() * 1e6 }
}

fn argmax(v: &[f64]) -> usize {
    v.iter().enumerate().fold(0, |best, (k, x)| if *x > v[best] { k } else { best })
}

fn one_hot(k: usize, n: usize) -> Vec<f64> {
    (0..n).map(|i| if i == k { 1.0 } else { 0.0 }).collect()
}

/// Weighted vote of discrete actions or weighted average of continuous ones.
pub fn combine(actions: &[Action], weights: &[f64]) -> Result<Action, AgentError> {
    match actions.first() {
        Some(Action::Discrete(_)) => {
            let mut votes: Vec<(usize, f64)> = Vec::new();
            for (a, w) in actions.iter().zip(weights) {
                let Action::Discrete(a) = a else {
                    return Err(AgentError::Config("an ensemble cannot mix discrete and continuous agents".into()));
                };
                match votes.iter_mut().find(|(x, _)| x == a) {
                    Some(v) => v.1 += w,
                    None => votes.push((*a, *w)),
                }
            }
            votes.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
            Ok(Action::Discrete(votes[0].0))
        }
        Some(Action::Continuous(first)) => {
            let mut mean = vec![0.0; first.len()];
            let total: f64 = weights.iter().sum();
            for (a, w) in actions.iter().zip(weights) {
                let Action::Continuous(v) = a else {
                    return Err(AgentError::Config("an ensemble cannot mix discrete and continuous agents".into()));
                };
                if v.len() != mean.len() {
                    return Err(AgentError::Config("the agents' actions have different sizes".into()));
                }
                for (m, x) in mean.iter_mut().zip(v) {
                    *m += w * x / total;
                }
            }
            Ok(Action::Continuous(mean))
        }
        None => Err(AgentError::Config("no actions to combine".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use rand_distr::Normal;

    struct Constant(Action);
    impl Policy for Constant {
        fn decide(&self, _obs: &[f32]) -> Result<Action, AgentError> {
            Ok(self.0.clone())
        }
    }

    fn two(weighting: Weighting) -> Ensemble {
        let members: Vec<(String, Box<dyn Policy>)> = vec![
            ("good".into(), Box::new(Constant(Action::Discrete(2)))),
            ("bad".into(), Box::new(Constant(Action::Discrete(0)))),
        ];
        Ensemble::new(members, weighting, 7).unwrap()
    }

    /// The good agent earns N(+0.5%, 1%) per step, the bad one N(−0.5%, 1%).
    fn run(ensemble: &mut Ensemble, steps: usize) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let good = Normal::new(0.005, 0.01).unwrap();
        let bad = Normal::new(-0.005, 0.01).unwrap();
        let mut weight_on_good = Vec::new();
        for _ in 0..steps {
            ensemble.observe(&[good.sample(&mut rng), bad.sample(&mut rng)]).unwrap();
            weight_on_good.push(ensemble.weights()[0]);
            let _: f64 = rng.random();
        }
        weight_on_good
    }

    #[test]
    fn rolling_sharpe_weights_move_to_the_better_agent() {
        let mut e = two(Weighting::RollingSharpe { window: 50, temperature: 0.1 });
        assert_eq!(e.weights(), &[0.5, 0.5]);
        let w = run(&mut e, 300);
        assert!(w[299] > 0.95, "{}", w[299]);
        assert_eq!(e.decide(&[]).unwrap().0, Action::Discrete(2), "the vote follows the weight");
    }

    #[test]
    fn thompson_sampling_picks_the_better_agent_more_and_more_often() {
        let mut e = two(Weighting::Thompson { decision_window: 5, discount: 0.99 });
        let w = run(&mut e, 1000);
        let early: f64 = w[..100].iter().sum::<f64>() / 100.0;
        let late: f64 = w[900..].iter().sum::<f64>() / 100.0;
        assert!(late > 0.9 && late > early, "share of decisions to the good agent: early {early}, late {late}");
        // It still explores: the bad agent is not dropped from the start.
        assert!(early < 1.0);
    }

    #[test]
    fn the_meta_selector_reselects_the_best_validation_sharpe_on_its_schedule() {
        let mut e = two(Weighting::MetaSelect { validation_window: 63, reselect_every: 63 });
        let w = run(&mut e, 200);
        assert_eq!(w[61], 0.5, "no selection before the first validation window ends");
        assert_eq!(w[62], 1.0);
        assert_eq!(w[199], 1.0);
    }

    #[test]
    fn votes_and_averages_follow_the_weights() {
        let a = [Action::Discrete(1), Action::Discrete(2), Action::Discrete(2)];
        assert_eq!(combine(&a, &[0.5, 0.3, 0.2]).unwrap(), Action::Discrete(1));
        assert_eq!(combine(&a, &[0.4, 0.3, 0.3]).unwrap(), Action::Discrete(2));
        let c = [Action::Continuous(vec![1.0, 0.0]), Action::Continuous(vec![0.0, -1.0])];
        assert_eq!(combine(&c, &[0.75, 0.25]).unwrap(), Action::Continuous(vec![0.75, -0.25]));
        assert!(combine(&[Action::Discrete(1), Action::Continuous(vec![1.0])], &[0.5, 0.5]).is_err());
    }
}
