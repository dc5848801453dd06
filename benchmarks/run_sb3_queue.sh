#!/usr/bin/env bash
# Stable-Baselines3 SAC baseline queue: runs every (env, seed) job one at a time,
# single-threaded, with benchmarks/sb3_sac_returns.py in benchmarks/.venv-sb3.
# A job whose CSV already ends with a row at its total-steps is skipped, so the
# queue can be re-run after an interruption.  Start it from the repo root with:
#   nohup bash benchmarks/run_sb3_queue.sh > benchmarks/work/sb3_queue.out 2>&1 &
set -u

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/benchmarks/.venv-sb3/bin/python"
SCRIPT="$ROOT/benchmarks/sb3_sac_returns.py"
RESULTS="$ROOT/benchmarks/results/sac_returns/sb3"
LOG="$ROOT/benchmarks/work/sb3_queue.log"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$(dirname "$LOG")"

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') $*" >> "$LOG"; }

# env  seeds  total-steps  learning-starts  eval-every
JOBS=(
  "Pendulum-v1          1 2 3 4 5  15000 1000 1000"
  "InvertedPendulum-v5  1 2 3 4 5  10000 1000 1000"
  "Hopper-v5            1 2 3      50000 5000 5000"
  "HalfCheetah-v5       1 2 3      50000 5000 5000"
)

log "queue start (pid $$)"
for job in "${JOBS[@]}"; do
  read -ra f <<< "$job"
  n=${#f[@]}
  env=${f[0]}; total=${f[n-3]}; starts=${f[n-2]}; every=${f[n-1]}
  for seed in "${f[@]:1:n-4}"; do
    out="$RESULTS/$env/seed$seed.csv"
    if [[ -f "$out" ]] && [[ "$(tail -n 1 "$out" | cut -d, -f1)" == "$total" ]]; then
      log "skip $env seed$seed (complete)"
      continue
    fi
    mkdir -p "$(dirname "$out")"
    log "start $env seed$seed total=$total"
    t0=$(date +%s)
    "$PY" "$SCRIPT" --env "$env" --seed "$seed" --total-steps "$total" \
      --learning-starts "$starts" --eval-every "$every" --out "$out" >> "$LOG" 2>&1
    rc=$?
    log "end $env seed$seed rc=$rc after $(( $(date +%s) - t0 ))s"
  done
done
log "queue done"
