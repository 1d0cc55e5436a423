//! Rainbow DQN reaches RL Zoo's DQN CartPole-v1 result: a greedy mean return of at least 475
//! within 100,000 steps, median over three seeds, with every component on.
#![allow(clippy::unwrap_used)]

use candle_core::Device;
use engine::rl::classic::CartPole;
use engine::rl::rainbow::{RainbowAgent, RainbowConfig};

#[test]
fn rainbow_solves_cartpole_within_100k_steps_median_of_three_seeds() {
    let mut scores = Vec::new();
    for seed in [1u64, 2, 3] {
        let started = std::time::Instant::now();
        let config = RainbowConfig {
            seed,
            total_steps: std::env::var("RL_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000),
            ..RainbowConfig::default()
        };
        let mut agent = RainbowAgent::new(4, 2, &config, &Device::Cpu).unwrap();
        let history = agent.train(&mut CartPole::new(), |_| {}).unwrap();
        let last: Vec<f64> = history.iter().rev().take(10).map(|p| p.episode_return).collect();
        let score = agent.evaluate_greedy(&mut CartPole::new(), 10, 1000 + seed).unwrap();
        eprintln!(
            "seed {seed}: greedy {score:.1}, last training episodes {last:?} ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
        scores.push(score);
    }
    scores.sort_by(f64::total_cmp);
    assert!(scores[1] >= 475.0, "median greedy return {} (all: {scores:?})", scores[1]);
}
