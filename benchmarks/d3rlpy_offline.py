"""d3rlpy offline-RL returns on a local Minari dataset, the peer side of keelrl's offline benchmarks.

Run inside the d3rlpy benchmark venv (git-ignored), made with (pinned, in this order):

    python3.11 -m venv benchmarks/.venv-d3rlpy
    benchmarks/.venv-d3rlpy/bin/pip install torch==2.13.0
    benchmarks/.venv-d3rlpy/bin/pip install torch==2.13.0 d3rlpy==2.8.1 "minari[hdf5]==0.5.4" \
        "gymnasium[mujoco]==1.0.0" "mujoco<4"

    MINARI_DATASETS_PATH=... OMP_NUM_THREADS=1 benchmarks/.venv-d3rlpy/bin/python benchmarks/d3rlpy_offline.py \
        --algo td3_bc --dataset keel/hopper/medium-v0 --seed 0 --steps 30000 --eval-every 5000 \
        --eval-episodes 10 --out path.csv

Hyperparameters are those of d3rlpy's own D4RL MuJoCo reproduction scripts
(reproductions/offline/{td3_plus_bc,cql,iql}.py in takuseno/d3rlpy, the 2.x versions that pass
`compile_graph=args.compile`); see `build_algo`. Anything not set there is d3rlpy's default.

The dataset is read with `minari.load_dataset` (never downloaded) and turned into a d3rlpy
`MDPDataset`: observations = ep.observations[:-1], terminals = ep.terminations, timeouts =
ep.truncations. As everywhere in d3rlpy, the last step of a truncated episode has no next
observation there and is not trained on (Episode.transition_count = size - 1).

Training is d3rlpy's own loop (`algo.fitter`, which is what `fit` iterates) with
n_steps_per_epoch = --eval-every, no file logging (NoopAdapterFactory) and no d3rlpy evaluators.
After each epoch the deterministic policy (`algo.predict`) runs --eval-episodes episodes on the
dataset's eval env (`recover_environment(eval_env=True)`), episode i reset with seed
seed*1000 + i. The CSV (step,return_mean,return_std,normalized_mean,wall_s,updates_per_s) is
rewritten atomically after each evaluation. wall_s: seconds since training started, evaluation
included; updates_per_s: updates of the epoch / its training time, evaluation excluded.
normalized_mean = 100 * (R - ref_min_score) / (ref_max_score - ref_min_score) from the dataset's
metadata (empty when it has none).
"""

import argparse
import csv
import os
import sys
import time

import numpy as np

ALGOS = ("td3_bc", "cql", "iql", "bc", "awac")
HEADER = ["step", "return_mean", "return_std", "normalized_mean", "wall_s", "updates_per_s"]
# IQL's actor cosine schedule length in reproductions/offline/iql.py (= that script's n_steps).
IQL_REPRO_T_MAX = 500_000


def build_algo(algo, dataset_id="", device="cpu:0", iql_lr_t_max=IQL_REPRO_T_MAX):
    """The d3rlpy algorithm with the settings of d3rlpy's D4RL MuJoCo reproduction scripts."""
    import d3rlpy

    if algo == "td3_bc":
        # reproductions/offline/td3_plus_bc.py
        config = d3rlpy.algos.TD3PlusBCConfig(
            actor_learning_rate=3e-4,      # td3_plus_bc.py
            critic_learning_rate=3e-4,     # td3_plus_bc.py
            batch_size=256,                # td3_plus_bc.py
            target_smoothing_sigma=0.2,    # td3_plus_bc.py
            target_smoothing_clip=0.5,     # td3_plus_bc.py
            alpha=2.5,                     # td3_plus_bc.py
            update_actor_interval=2,       # td3_plus_bc.py
            # td3_plus_bc.py: observations standardized with the dataset's mean/std
            observation_scaler=d3rlpy.preprocessing.StandardObservationScaler(),
        )
    elif algo == "cql":
        # reproductions/offline/cql.py
        encoder = d3rlpy.models.encoders.VectorEncoderFactory([256, 256, 256])  # cql.py
        # cql.py: `if "medium-v0" in args.dataset: 10.0 else 5.0`, applied to our dataset id
        conservative_weight = 10.0 if "medium-v0" in dataset_id else 5.0
        config = d3rlpy.algos.CQLConfig(
            actor_learning_rate=1e-4,      # cql.py
            critic_learning_rate=3e-4,     # cql.py
            temp_learning_rate=1e-4,       # cql.py (SAC entropy temperature, learned)
            actor_encoder_factory=encoder,   # cql.py
            critic_encoder_factory=encoder,  # cql.py
            batch_size=256,                # cql.py
            n_action_samples=10,           # cql.py
            alpha_learning_rate=0.0,       # cql.py: alpha fixed (at the default initial_alpha=1.0)
            conservative_weight=conservative_weight,  # cql.py
        )
    elif algo == "iql":
        # reproductions/offline/iql.py
        config = d3rlpy.algos.IQLConfig(
            actor_learning_rate=3e-4,      # iql.py
            critic_learning_rate=3e-4,     # iql.py
            # iql.py: actor lr cosine-annealed over T_max=500000 (that script's n_steps)
            actor_optim_factory=d3rlpy.optimizers.AdamFactory(
                lr_scheduler_factory=d3rlpy.optimizers.CosineAnnealingLRFactory(T_max=iql_lr_t_max),
            ),
            batch_size=256,                # iql.py
            weight_temp=3.0,               # iql.py
            max_weight=100.0,              # iql.py
            expectile=0.7,                 # iql.py
            # iql.py: rewards scaled by 1000 / (max - min episode return in the dataset)
            reward_scaler=d3rlpy.preprocessing.ReturnBasedRewardScaler(multiplier=1000.0),
        )
    elif algo == "bc":
        # d3rlpy has no MuJoCo reproduction script for BC: keelrl's BC defaults (2x256, lr 3e-4,
        # batch 256, deterministic policy, standardized observations), for the speed comparison.
        config = d3rlpy.algos.BCConfig(
            learning_rate=3e-4, batch_size=256, policy_type="deterministic",
            encoder_factory=d3rlpy.models.encoders.VectorEncoderFactory([256, 256]),
            observation_scaler=d3rlpy.preprocessing.StandardObservationScaler(),
        )
    elif algo == "awac":
        # Nor for AWAC on MuJoCo: keelrl's AWAC defaults (3x256 actor and critics, two critics,
        # lr 3e-4, batch 256, lambda 1, tau 0.005, standardized observations).
        encoder = d3rlpy.models.encoders.VectorEncoderFactory([256, 256, 256])
        config = d3rlpy.algos.AWACConfig(
            actor_learning_rate=3e-4, critic_learning_rate=3e-4, batch_size=256, lam=1.0, tau=0.005, n_critics=2,
            actor_encoder_factory=encoder, critic_encoder_factory=encoder,
            observation_scaler=d3rlpy.preprocessing.StandardObservationScaler(),
        )
    else:
        raise ValueError(f"unknown algo {algo!r}; one of {ALGOS}")
    return config.create(device=device)


def minari_to_mdp(ds):
    """Concatenate a MinariDataset's episodes into a d3rlpy MDPDataset (terminations and truncations kept apart)."""
    import d3rlpy

    obs, acts, rews, terms, touts = [], [], [], [], []
    for ep in ds.iterate_episodes():
        term = np.asarray(ep.terminations, dtype=bool).copy()
        trunc = np.asarray(ep.truncations, dtype=bool).copy()
        trunc &= ~term                      # d3rlpy asserts a step is never both; termination wins
        if not (term[-1] or trunc[-1]):     # an episode cut without a flag: end it as a timeout
            trunc[-1] = True
        obs.append(np.asarray(ep.observations, dtype=np.float32)[:-1])
        acts.append(np.asarray(ep.actions, dtype=np.float32))
        rews.append(np.asarray(ep.rewards, dtype=np.float32))
        terms.append(term.astype(np.float32))
        touts.append(trunc.astype(np.float32))
    return d3rlpy.dataset.MDPDataset(
        observations=np.concatenate(obs),
        actions=np.concatenate(acts),
        rewards=np.concatenate(rews),
        terminals=np.concatenate(terms),
        timeouts=np.concatenate(touts),
    )


def write_csv(path, rows):
    """Write rows to path atomically (tmp file + os.replace)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    os.replace(tmp, path)


def evaluate(algo, env, seed, episodes):
    """Deterministic returns of `episodes` episodes, episode i reset with seed*1000 + i."""
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed * 1000 + i)
        done, total = False, 0.0
        while not done:
            action = algo.predict(np.asarray(obs, dtype=np.float32)[None])[0]
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return np.asarray(returns)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algo", required=True, choices=ALGOS)
    p.add_argument("--dataset", required=True, help="Minari id under $MINARI_DATASETS_PATH, e.g. keel/hopper/medium-v0")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=30_000)
    p.add_argument("--eval-every", type=int, default=5_000)
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iql-lr-t-max", type=int, default=IQL_REPRO_T_MAX,
                   help="IQL actor cosine-schedule length (reproduction script: 500000)")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    if args.steps % args.eval_every:
        p.error("--steps must be a multiple of --eval-every (one d3rlpy epoch per evaluation)")

    import torch
    torch.set_num_threads(args.threads)
    import d3rlpy
    import minari
    from d3rlpy.algos.utility import build_scalers_with_transition_picker

    ds = minari.load_dataset(args.dataset, download=False)
    env = ds.recover_environment(eval_env=True)
    meta = ds.storage.metadata
    has_ref = meta.get("ref_min_score") is not None and meta.get("ref_max_score") is not None
    dataset = minari_to_mdp(ds)
    print(f"dataset {args.dataset}: {dataset.transition_count} transitions, {len(dataset.episodes)} episodes, "
          f"eval env {env.spec.id if env.spec else env}", flush=True)

    d3rlpy.seed(args.seed)
    algo = build_algo(args.algo, args.dataset, iql_lr_t_max=args.iql_lr_t_max)
    # What fitter() does first (scalers fitted on the dataset, then networks built), done here so
    # that it stays out of the first epoch's timing; fitter() then skips both.
    build_scalers_with_transition_picker(algo, dataset)
    algo.build_with_dataset(dataset)

    fitter = algo.fitter(
        dataset,
        n_steps=args.steps,
        n_steps_per_epoch=args.eval_every,
        experiment_name=f"d3rlpy_{args.algo}_{args.seed}",
        with_timestamp=False,
        logger_adapter=d3rlpy.logging.NoopAdapterFactory(),
        show_progress=False,
        save_interval=10**9,
    )
    rows, t0 = [], time.perf_counter()
    while True:
        t_train = time.perf_counter()
        try:
            epoch, _metrics = next(fitter)
        except StopIteration:
            break
        train_s = time.perf_counter() - t_train
        step = epoch * args.eval_every
        returns = evaluate(algo, env, args.seed, args.eval_episodes)
        norm = (f"{100.0 * float(np.mean(minari.get_normalized_score(ds, returns))):.4f}" if has_ref else "")
        wall = time.perf_counter() - t0
        ups = args.eval_every / train_s
        rows.append([step, f"{returns.mean():.4f}", f"{returns.std():.4f}", norm, f"{wall:.2f}", f"{ups:.2f}"])
        write_csv(args.out, rows)
        print(f"step={step} return_mean={returns.mean():.2f} std={returns.std():.2f} normalized={norm or '-'} "
              f"wall_s={wall:.1f} updates_per_s={ups:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
