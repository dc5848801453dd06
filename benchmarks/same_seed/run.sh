#!/usr/bin/env bash
# Same-seed runs of SAC, TD3, DQN, PPO (Box and Discrete), IQL, CQL and SAC --seeds with the keelrl
# source tree at $SRC; the run folders land in $OUT. Run it with two trees (e.g. a `git worktree` of
# the commit before a refactor, and the working tree), then compare the CSVs:
#   SRC=/tmp/old/src OUT=/tmp/before bash benchmarks/same_seed/run.sh
#   SRC=src OUT=/tmp/after bash benchmarks/same_seed/run.sh
#   .venv/bin/python benchmarks/same_seed/compare.py /tmp/before /tmp/after
# The offline runs read a small dataset of uniform random actions on InvertedPendulum-v5, made
# once (under $DATASETS) by the first tree's code.
set -euo pipefail
export PYTHONPATH=$SRC MINARI_DATASETS_PATH=${DATASETS:-/tmp/keel-same-seed/datasets} MUJOCO_GL=egl
PY=${PY:-.venv/bin/python}
K="$PY -m keelrl.cli"
mkdir -p $OUT
$PY -c "import keelrl,sys; print(keelrl.__file__)"
$PY - <<'PYEOF'
import numpy as np
from keelrl.data.collection import collect_episodes
from keelrl.data.offline import dataset_dir, write_minari
from keelrl.envs.make import make_vector_env
if not (dataset_dir("eq/ip/random-v0") / "data").is_dir():
    envs = make_vector_env("InvertedPendulum-v5", 2)
    rng = np.random.default_rng(0)
    space = envs.single_action_space
    episodes = collect_episodes(envs, lambda o: rng.uniform(space.low, space.high, (o.shape[0], 1)).astype(np.float32),
                                2000, 0)
    write_minari("eq/ip/random-v0", episodes, "InvertedPendulum-v5", 0.0, 100.0, "uniform random", "same-seed check")
PYEOF
common="--seed 3 --device cpu --threads 1 --no-progress --overwrite"
$K train sac --env Pendulum-v1 --total-steps 1500 --learning-starts 300 --eval-every 500 --eval-episodes 2 --log-every 250 --hidden-sizes 32 32 --batch-size 64 --run-dir $OUT/sac $common
$K train td3 --env InvertedPendulum-v5 --num-envs 2 --total-steps 1500 --learning-starts 300 --eval-every 500 --eval-episodes 2 --log-every 250 --hidden-sizes 32 32 --batch-size 64 --run-dir $OUT/td3 $common
$K train dqn --env CartPole-v1 --total-steps 3000 --learning-starts 500 --eval-every 1000 --eval-episodes 2 --log-every 250 --hidden-sizes 32 32 --n-step 3 --double-q --dueling --update-every 64 --target-update-period 32 --run-dir $OUT/dqn $common
$K train ppo --env Pendulum-v1 --num-envs 2 --total-steps 2048 --rollout-steps 256 --num-minibatches 4 --epochs 2 --eval-every 512 --eval-episodes 2 --log-every 256 --run-dir $OUT/ppo $common
$K train ppo --env CartPole-v1 --num-envs 2 --total-steps 1024 --rollout-steps 128 --num-minibatches 4 --epochs 2 --eval-every 512 --eval-episodes 2 --log-every 256 --run-dir $OUT/ppo_discrete $common
$K train iql --dataset eq/ip/random-v0 --total-steps 600 --eval-every 200 --eval-episodes 2 --log-every 100 --hidden-sizes 32 32 --batch-size 64 --run-dir $OUT/iql $common
$K train cql --dataset eq/ip/random-v0 --total-steps 300 --eval-every 100 --eval-episodes 2 --log-every 50 --hidden-sizes 32 32 --batch-size 64 --run-dir $OUT/cql $common
$K train sac --env Pendulum-v1 --seeds 1-2 --total-steps 800 --learning-starts 200 --eval-every 400 --eval-episodes 1 --log-every 200 --hidden-sizes 16 16 --batch-size 32 --run-dir $OUT/sac_seeds --device cpu --threads 1 --no-progress --overwrite
