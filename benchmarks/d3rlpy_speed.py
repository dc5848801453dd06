"""d3rlpy offline learner speed on synthetic data (peer of keelrl's offline speed benchmark); prints one JSON line.

Run inside the d3rlpy benchmark venv (made as described in d3rlpy_offline.py):

    OMP_NUM_THREADS=1 benchmarks/.venv-d3rlpy/bin/python benchmarks/d3rlpy_speed.py \
        --algo td3_bc --updates 300 --threads 1

Algorithm settings are d3rlpy_offline.py's (`build_algo`, i.e. d3rlpy's D4RL MuJoCo reproduction
scripts, batch 256) on Hopper-sized spaces: observations 11, actions 3 in Box[-1, 1]. The dataset
is 10,000 random steps in episodes of 100 (every tenth ends in a terminal, the rest in a timeout),
in a d3rlpy MDPDataset. Scalers are fitted and networks built as fit() does, a few warm-up
updates are made, then --updates steps of fit()'s inner loop are timed: a batch drawn with
`dataset.sample_transition_batch(batch_size)` (d3rlpy's per-transition TransitionPicker) and
`algo.update(batch)`. Sampling is included, as in fit().
"""

import argparse
import json
import time

import numpy as np
import torch

from d3rlpy_offline import ALGOS, build_algo

OBS_DIM, ACT_DIM = 11, 3
FILL, EPISODE_LEN = 10_000, 100


def make_dataset(seed=0):
    import d3rlpy

    rng = np.random.default_rng(seed)
    n_ep = FILL // EPISODE_LEN
    terminals = np.zeros(FILL, np.float32)
    timeouts = np.zeros(FILL, np.float32)
    ends = np.arange(1, n_ep + 1) * EPISODE_LEN - 1
    terminals[ends[::10]] = 1.0                 # a few terminal episodes
    timeouts[ends] = 1.0 - terminals[ends]      # the rest time out
    return d3rlpy.dataset.MDPDataset(
        observations=rng.standard_normal((FILL, OBS_DIM)).astype(np.float32),
        actions=rng.uniform(-1.0, 1.0, (FILL, ACT_DIM)).astype(np.float32),
        rewards=rng.standard_normal(FILL).astype(np.float32),
        terminals=terminals,
        timeouts=timeouts,
        action_space=d3rlpy.ActionSpace.CONTINUOUS,
        action_size=ACT_DIM,
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algo", required=True, choices=ALGOS)
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    import d3rlpy
    from d3rlpy.algos.utility import build_scalers_with_transition_picker

    d3rlpy.seed(0)
    dataset = make_dataset(0)
    # "medium-v0" only decides CQL's conservative_weight (10 for D4RL medium-v0, else 5); the
    # speed does not depend on it.
    algo = build_algo(args.algo, "synthetic/hopper/medium-v0")
    build_scalers_with_transition_picker(algo, dataset)   # as fitter() does
    algo.build_with_dataset(dataset)
    bs = algo.config.batch_size

    for _ in range(args.warmup):
        algo.update(dataset.sample_transition_batch(bs))

    sample_s = 0.0
    t0 = time.perf_counter()
    for _ in range(args.updates):
        ts = time.perf_counter()
        batch = dataset.sample_transition_batch(bs)    # fit()'s inner loop: sample, then update
        sample_s += time.perf_counter() - ts
        algo.update(batch)
    total = time.perf_counter() - t0
    print(json.dumps({"lib": "d3rlpy", "algo": args.algo, "updates_per_s": round(args.updates / total, 2),
                      "sample_frac": round(sample_s / total, 3), "batch_size": bs, "threads": args.threads,
                      "transitions": dataset.transition_count, "torch": torch.__version__,
                      "d3rlpy": d3rlpy.__version__}))


if __name__ == "__main__":
    main()
