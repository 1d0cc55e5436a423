//! CartPole-v1 and Pendulum-v1 step for step equal to Gymnasium 1.4 from the same start state
//! (tests/reference/rl/gen_classic.py), actions outside the space are refused naming the space
//! and the value, and the vectorised form resets finished episodes by itself.
#![allow(clippy::unwrap_used)]

use engine::rl::classic::{CartPole, Pendulum};
use engine::rl::vector::VecEnv;
use engine::rl::{Action, Environment, RlError};
use serde_json::Value;

#[test]
fn classic_environments_follow_gymnasium_step_for_step() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/rl/classic.json");
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut checked = 0;
    for case in data["cases"].as_array().unwrap() {
        let state: Vec<f64> = case["state"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let mut env: Box<dyn Environment> = match case["env"].as_str().unwrap() {
            "CartPole-v1" => {
                let mut e = CartPole::new();
                e.set_state([state[0], state[1], state[2], state[3]]);
                Box::new(e)
            }
            _ => {
                let mut e = Pendulum::new();
                e.set_state([state[0], state[1]]);
                Box::new(e)
            }
        };
        let steps = case["steps"].as_array().unwrap();
        for (k, s) in steps.iter().enumerate() {
            let action = match &s["action"] {
                Value::Number(n) if case["env"] == "CartPole-v1" => Action::Discrete(n.as_u64().unwrap() as usize),
                n => Action::Continuous(vec![n.as_f64().unwrap()]),
            };
            let got = env.step(&action).unwrap();
            let want: Vec<f32> = s["obs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            assert_eq!(got.observation, want, "{} seed {} step {k}: observation", case["env"], case["seed"]);
            let reward = s["reward"].as_f64().unwrap();
            assert!(
                (got.reward - reward).abs() <= 1e-12 * reward.abs().max(1.0),
                "step {k}: reward {} vs {reward}",
                got.reward
            );
            assert_eq!(got.terminated, s["terminated"].as_bool().unwrap(), "step {k}: terminated");
            assert_eq!(got.truncated, s["truncated"].as_bool().unwrap(), "step {k}: truncated");
            checked += 1;
        }
    }
    assert!(checked > 900, "{checked} steps compared");
}

#[test]
fn actions_outside_the_space_are_refused_with_the_space_and_value() {
    let mut cart = CartPole::new();
    cart.reset(1);
    let err = cart.step(&Action::Discrete(2)).unwrap_err();
    assert!(matches!(err, RlError::ActionOutOfSpace { .. }));
    let text = err.to_string();
    assert!(text.contains("Discrete(2)") && text.contains("action 2"), "{text}");
    assert!(cart.step(&Action::Continuous(vec![0.5])).is_err());
    let mut pendulum = Pendulum::new();
    assert!(matches!(pendulum.step(&Action::Continuous(vec![0.0])), Err(RlError::NotReset { .. })));
    pendulum.reset(2);
    let err = pendulum.step(&Action::Continuous(vec![f64::NAN])).unwrap_err().to_string();
    assert!(err.contains("Box(") && err.contains("NaN"), "{err}");
    assert!(pendulum.step(&Action::Continuous(vec![0.1, 0.2])).is_err());
}

#[test]
fn vector_env_resets_finished_episodes_and_is_seeded() {
    let run = || {
        let mut envs = VecEnv::new((0..4).map(|_| CartPole::new()).collect(), 7);
        let start = envs.reset();
        assert!(start.iter().flatten().all(|v| v.abs() <= 0.05));
        let mut ends = 0;
        let mut trace = Vec::new();
        for _ in 0..200 {
            // Always push right: the pole falls within a few dozen steps.
            let step = envs.step(&vec![Action::Discrete(1); 4]).unwrap();
            for (i, s) in step.steps.iter().enumerate() {
                if s.terminated {
                    ends += 1;
                    // The next observation is a fresh start, near the origin.
                    assert!(step.next_observations[i].iter().all(|v| v.abs() <= 0.05));
                } else {
                    assert_eq!(step.next_observations[i], s.observation);
                }
            }
            trace.extend(step.next_observations.iter().flatten().copied());
        }
        (ends, trace)
    };
    let (ends, first) = run();
    assert!(ends >= 4 * 3, "episodes ended {ends} times");
    assert_eq!(first, run().1, "same seed, same trajectories");
}
