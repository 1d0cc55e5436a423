"""Stable-Baselines3 PPO on CartPole-v1 with RL Zoo's settings (the same as Sextant's
PpoConfig::default()), one CPU thread: end-to-end training frames per second.

Usage: python sb3_ppo_cartpole.py STEPS  -> prints {"fps": ..., "sb3": version, "torch": version}
"""
import json
import sys
import time

import torch

torch.set_num_threads(1)

import stable_baselines3  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402

steps = int(sys.argv[1])
env = make_vec_env("CartPole-v1", n_envs=8, seed=0)
model = PPO(
    "MlpPolicy",
    env,
    n_steps=32,
    batch_size=256,
    n_epochs=20,
    gamma=0.98,
    gae_lambda=0.8,
    ent_coef=0.0,
    learning_rate=lambda f: 1e-3 * f,
    clip_range=lambda f: 0.2 * f,
    policy_kwargs=dict(net_arch=[64, 64]),
    device="cpu",
    seed=0,
    verbose=0,
)
start = time.perf_counter()
model.learn(total_timesteps=steps)
elapsed = time.perf_counter() - start
print(json.dumps({"fps": steps / elapsed, "sb3": stable_baselines3.__version__, "torch": torch.__version__}))
