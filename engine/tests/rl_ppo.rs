//! PPO reaches RL Zoo's CartPole-v1 result: a greedy mean return of at least 475 (Gymnasium's
//! reward threshold) within 100,000 steps, median over three seeds, with the Zoo's settings; and
//! its Gaussian policy learns Pendulum-v1's continuous control.
#![allow(clippy::unwrap_used)]

use candle_core::Device;
use engine::rl::classic::{CartPole, Pendulum};
use engine::rl::ppo::{PpoAgent, PpoConfig};
use engine::rl::{Environment, Space};

#[test]
fn ppo_solves_cartpole_within_100k_steps_median_of_three_seeds() {
    let mut scores = Vec::new();
    for seed in [1u64, 2, 3] {
        let config = PpoConfig { seed, ..PpoConfig::default() };
        let agent = PpoAgent::new(4, &Space::Discrete(2), &config.hidden, seed, &Device::Cpu).unwrap();
        let envs = (0..config.n_envs).map(|_| CartPole::new()).collect();
        let history = agent.train(envs, &config, |_| {}).unwrap();
        assert_eq!(history.last().unwrap().steps, 100_096, "391 updates of 8 x 32 steps");
        let score = agent.evaluate_greedy(&mut CartPole::new(), 10, 1000 + seed).unwrap();
        eprintln!(
            "seed {seed}: greedy mean return {score:.1}, last training episodes {:.1}",
            history.last().unwrap().mean_episode_return
        );
        scores.push(score);
    }
    scores.sort_by(f64::total_cmp);
    assert!(scores[1] >= 475.0, "median greedy return {} (all: {scores:?})", scores[1]);
}

/// RL Zoo's PPO settings for Pendulum-v1 (4 envs x 1024 steps, gamma 0.9, GAE 0.95, 10 epochs of
/// minibatches of 64, learning rate 1e-3) with the plain Gaussian policy (the Zoo adds gSDE,
/// which this agent does not have).
fn pendulum_config(seed: u64) -> PpoConfig {
    PpoConfig {
        n_envs: 4,
        n_steps: 1024,
        batch_size: 64,
        n_epochs: 10,
        gamma: 0.9,
        gae_lambda: 0.95,
        clip_range: 0.2,
        ent_coef: 0.0,
        learning_rate: 1e-3,
        linear_schedule: false,
        total_steps: 100_000,
        seed,
        ..PpoConfig::default()
    }
}

#[test]
fn ppo_s_gaussian_policy_learns_pendulum_median_of_three_seeds() {
    let mut scores = Vec::new();
    for seed in [1u64, 2, 3] {
        let config = pendulum_config(seed);
        let space = Pendulum::new().action_space();
        let agent = PpoAgent::for_config(3, &space, &config, &Device::Cpu).unwrap();
        let before = agent.evaluate_greedy(&mut Pendulum::new(), 10, 500 + seed).unwrap();
        let envs = (0..config.n_envs).map(|_| Pendulum::new()).collect();
        agent.train(envs, &config, |_| {}).unwrap();
        let score = agent.evaluate_greedy(&mut Pendulum::new(), 10, 1000 + seed).unwrap();
        eprintln!("seed {seed}: greedy mean return {before:.1} before training, {score:.1} after");
        scores.push(score);
    }
    scores.sort_by(f64::total_cmp);
    // The bar the SAC and TD3 checks use (they get 20,000 steps; on-policy PPO gets the Zoo's 100,000).
    assert!(scores[1] >= -200.0, "median greedy return {} (all: {scores:?})", scores[1]);
}
