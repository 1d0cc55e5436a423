"""Reference trajectories for engine::rl's CartPole-v1 and Pendulum-v1, from Gymnasium.

Each case records the state right after reset(seed), a fixed action sequence, and every step's
observation (float32, as Gymnasium returns it), reward, terminated and truncated, so the Rust
environments can be checked step by step from the same start state.

Run: python3 engine/tests/reference/rl/gen_classic.py > engine/tests/reference/rl/classic.json
"""
import json

import gymnasium as gym
import numpy as np


def cartpole(seed):
    env = gym.make("CartPole-v1")
    env.reset(seed=seed)
    start = [float(v) for v in env.unwrapped.state]
    rng = np.random.default_rng(seed)
    steps = []
    for _ in range(600):
        a = int(rng.integers(0, 2))
        obs, r, term, trunc, _ = env.step(a)
        steps.append({"action": a, "obs": [float(v) for v in obs], "reward": float(r), "terminated": bool(term), "truncated": bool(trunc)})
        if term or trunc:
            break
    return {"env": "CartPole-v1", "seed": seed, "state": start, "steps": steps}


def balanced_cartpole(seed):
    """A simple controller keeps the pole up until the 500-step limit truncates the episode."""
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=seed)
    start = [float(v) for v in env.unwrapped.state]
    steps = []
    while True:
        a = int(obs[2] + 0.5 * obs[3] > 0)
        obs, r, term, trunc, _ = env.step(a)
        steps.append({"action": a, "obs": [float(v) for v in obs], "reward": float(r), "terminated": bool(term), "truncated": bool(trunc)})
        if term or trunc:
            break
    return {"env": "CartPole-v1", "seed": seed, "state": start, "steps": steps}


def pendulum(seed):
    env = gym.make("Pendulum-v1")
    env.reset(seed=seed)
    start = [float(v) for v in env.unwrapped.state]
    rng = np.random.default_rng(seed)
    steps = []
    while True:
        a = float(rng.uniform(-3.0, 3.0))  # beyond the limits on purpose: Gymnasium clips to ±2
        obs, r, term, trunc, _ = env.step(np.array([a], dtype=np.float32))
        steps.append({"action": float(np.float32(a)), "obs": [float(v) for v in obs], "reward": float(r), "terminated": bool(term), "truncated": bool(trunc)})
        if term or trunc:
            break
    return {"env": "Pendulum-v1", "seed": seed, "state": start, "steps": steps}


cases = [cartpole(1), cartpole(2), balanced_cartpole(3), pendulum(4), pendulum(5)]
print(json.dumps({"generator": f"gymnasium {gym.__version__}, numpy {np.__version__}", "cases": cases}))
