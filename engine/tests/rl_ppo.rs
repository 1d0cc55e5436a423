//! PPO reaches RL Zoo's CartPole-v1 result: a greedy mean return of at least 475 (Gymnasium's
//! reward threshold) within 100,000 steps, median over three seeds, with the Zoo's settings.
#![allow(clippy::unwrap_used)]

use candle_core::Device;
use engine::rl::classic::CartPole;
use engine::rl::ppo::{PpoAgent, PpoConfig};

#[test]
fn ppo_solves_cartpole_within_100k_steps_median_of_three_seeds() {
    let mut scores = Vec::new();
    for seed in [1u64, 2, 3] {
        let config = PpoConfig { seed, ..PpoConfig::default() };
        let agent = PpoAgent::new(4, 2, &config.hidden, seed, &Device::Cpu).unwrap();
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
