"""Stable-Baselines3 evaluation curves for SAC, TD3, DDPG, PPO and DQN: the peer side of the returns benchmarks.

Run inside the benchmark venv (see sb3_eval.py for how it is made):

    benchmarks/.venv-sb3/bin/python benchmarks/sb3_returns.py --algo td3 \
        --env Hopper-v5 --seed 1 --total-steps 50000 --learning-starts 5000 \
        --eval-every 5000 --out benchmarks/results/td3_returns/sb3/Hopper-v5/seed1.csv

The settings are keelrl's defaults for each algorithm (the ones run_queue.sh gives keelrl), written
out in SB3's terms in build() below. Evaluation and the CSV files are sb3_eval.py's:
deterministic policy, --eval-episodes episodes, first reset seeded with seed + 10000.
"""

import argparse

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import DDPG, DQN, PPO, SAC, TD3
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from sb3_eval import EvalCallback, Evaluator, write_csv


def off_policy(cls, env, seed, learning_starts, **extra):
    """TD3 (Fujimoto et al. 2018, author's settings) and DDPG ("OurDDPG" of the same repository):
    256x256, Adam 3e-4, batch 256, buffer 1e6, gamma 0.99, tau 0.005, Gaussian exploration
    noise 0.1 in the normalized action space."""
    n_actions = env.action_space.shape[0]
    return cls("MlpPolicy", env, learning_rate=3e-4, buffer_size=1_000_000, learning_starts=learning_starts,
               batch_size=256, tau=0.005, gamma=0.99, train_freq=1, gradient_steps=1,
               action_noise=NormalActionNoise(np.zeros(n_actions), 0.1 * np.ones(n_actions)),
               policy_kwargs=dict(net_arch=[256, 256]), seed=seed, device="cpu", verbose=0, **extra)


def build(algo, env_id, seed, learning_starts):
    """-> (model, predict(obs) -> action): predict sees raw env observations."""
    if algo == "sac":
        # 256x256, Adam 3e-4, batch 256, buffer 1e6, gamma 0.99, tau 0.005, alpha learned from 1.0 against -|A|
        model = SAC("MlpPolicy", gym.make(env_id), policy_kwargs=dict(net_arch=[256, 256]), learning_rate=3e-4,
                    buffer_size=1_000_000, learning_starts=learning_starts, batch_size=256, tau=0.005, gamma=0.99,
                    train_freq=1, gradient_steps=1, ent_coef="auto", target_entropy="auto", seed=seed, device="cpu",
                    verbose=0)
        return model, model.predict
    if algo == "td3":
        model = off_policy(TD3, gym.make(env_id), seed, learning_starts,
                           policy_delay=2, target_policy_noise=0.2, target_noise_clip=0.5)
        return model, model.predict
    if algo == "ddpg":
        model = off_policy(DDPG, gym.make(env_id), seed, learning_starts)
        return model, model.predict
    if algo == "ppo":
        # Schulman et al. 2017 with the "37 implementation details" settings (CleanRL's
        # ppo_continuous_action): 2048 steps x 1 env, 10 epochs of 32 minibatches (64), lr 3e-4
        # annealed linearly to 0, GAE(0.99, 0.95), clip 0.2, no value clipping, no entropy bonus,
        # vf_coef 0.5, grad norm 0.5, separate 64x64 tanh actor and critic with orthogonal init,
        # state-independent log std from 0, running obs and reward normalization clipped at 10.
        venv = VecNormalize(DummyVecEnv([lambda: Monitor(gym.make(env_id))]), gamma=0.99, clip_obs=10.0,
                            clip_reward=10.0)
        model = PPO("MlpPolicy", venv, learning_rate=lambda frac: 3e-4 * frac, n_steps=2048, batch_size=64,
                    n_epochs=10, gamma=0.99, gae_lambda=0.95, clip_range=0.2, clip_range_vf=None,
                    normalize_advantage=True, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5,
                    policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64]), activation_fn=torch.nn.Tanh,
                                       ortho_init=True, log_std_init=0.0),
                    seed=seed, device="cpu", verbose=0)

        def predict(obs, deterministic=True):
            return model.predict(venv.normalize_obs(obs), deterministic=deterministic)
        return model, predict
    if algo == "dqn":
        # keelrl's DQN defaults = the RL Baselines3 Zoo's CartPole-v1 tuning: 256x256 ReLU, Adam 2.3e-3,
        # batch 64, buffer 1e5, gamma 0.99, every 256 env steps 128 updates, target copied every 10 env
        # steps (during collection, so once per burst: keelrl's copy every 128 updates), epsilon
        # 1 -> 0.04 over 8000 steps, Huber loss, gradient norm clipped at 10.
        model = DQN("MlpPolicy", gym.make(env_id), learning_rate=2.3e-3, buffer_size=100_000,
                    learning_starts=learning_starts, batch_size=64, tau=1.0, gamma=0.99, train_freq=256,
                    gradient_steps=128, target_update_interval=10, exploration_initial_eps=1.0,
                    exploration_final_eps=0.04, exploration_fraction=8000 / TOTAL[0], max_grad_norm=10.0,
                    policy_kwargs=dict(net_arch=[256, 256]), seed=seed, device="cpu", verbose=0)
        return model, model.predict
    raise SystemExit(f"unknown algo {algo}")


TOTAL = [0]


class _PredictModel:
    """What Evaluator needs: .predict(obs, deterministic)."""

    def __init__(self, predict):
        self.predict = predict


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algo", required=True, choices=["sac", "td3", "ddpg", "ppo", "dqn"])
    p.add_argument("--env", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--total-steps", type=int, required=True)
    p.add_argument("--learning-starts", type=int, default=0)
    p.add_argument("--eval-every", type=int, required=True)
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    torch.set_num_threads(1)
    TOTAL[0] = args.total_steps
    model, predict = build(args.algo, args.env, args.seed, args.learning_starts)
    evaluator = Evaluator(args.env, args.seed, args.eval_episodes, args.out)
    wrapped = _PredictModel(predict)
    callback = EvalCallback(evaluator, args.eval_every, wrapped)
    model.learn(total_timesteps=args.total_steps, callback=callback)
    if evaluator.last_step != model.num_timesteps:
        evaluator(wrapped, model.num_timesteps)
    base = args.out[:-4] if args.out.endswith(".csv") else args.out
    write_csv(base + "_train.csv", ["step", "episode_return"], callback.train_rows)


if __name__ == "__main__":
    main()
