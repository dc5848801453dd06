#!/usr/bin/env bash
# The speed benchmarks of the speed issue, one after another on a quiet machine (nothing else
# running): learner speed against Stable-Baselines3 and d3rlpy at 1 and 2 threads, `keel bench`
# for every algorithm (with 5 stacked SAC seeds), and 5 seeds in one process against 5 processes.
#   nohup bash benchmarks/speed_suite.sh > benchmarks/work/speed_suite.log 2>&1 &
# Results: benchmarks/results/{ALGO}_speed_{1,2}t.json, bench_cpu_{1,2}t.json, multi_seed_speed*.json.
set -eu
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
$PY benchmarks/sgemm_peak.py --threads 1
for t in 1 2; do
  for algo in sac td3 ddpg dqn ppo td3_bc iql bc awac; do
    $PY benchmarks/speed.py --algo "$algo" --rounds 5 --updates 300 --threads "$t"
  done
  $PY benchmarks/speed.py --algo cql --rounds 5 --updates 20 --threads "$t"
  OMP_NUM_THREADS=$t .venv/bin/keel bench --seeds 5 --threads "$t" --updates 100 --warmup 10 --device cpu \
    --out "benchmarks/results/bench_cpu_${t}t.json"
done
$PY benchmarks/multi_seed_speed.py --env Hopper-v5 --seeds 5 --steps 3000 --learning-starts 1000 --rounds 2 --ways stacked,separate-1t
$PY benchmarks/multi_seed_speed.py --env Hopper-v5 --seeds 5 --steps 1500 --learning-starts 1000 --rounds 1 --ways stacked,separate \
  --out benchmarks/results/multi_seed_speed_default_threads.json
$PY benchmarks/multi_seed_speed.py --env Hopper-v5 --seeds 5 --steps 6000 --learning-starts 1000 --rounds 1 \
  --hidden 64 64 --ways stacked,separate-1t --out benchmarks/results/multi_seed_speed_64x64.json
# --compile against eager, alternating (results/compile/): the numbers docs/speed.md quotes.
for r in 1 2; do
  OMP_NUM_THREADS=1 .venv/bin/keel bench sac td3 dqn iql --threads 1 --updates 150 --warmup 20 --device cpu \
    --out "benchmarks/results/compile/eager_r$r.json"
  OMP_NUM_THREADS=1 .venv/bin/keel bench sac td3 dqn iql --threads 1 --updates 150 --warmup 20 --device cpu --compile \
    --out "benchmarks/results/compile/compile_r$r.json"
done
echo "speed suite done $(date)"
