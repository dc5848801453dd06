#!/usr/bin/env bash
# keelrl SAC side of the returns benchmark: the same (env, seed, budget) jobs as run_sb3_queue.sh,
# one at a time, single-threaded, with the same settings (256x256, lr 3e-4, batch 256, buffer 1e6,
# gamma 0.99, tau 0.005, UTD 1, learned alpha from 1.0, target entropy -|A|). Run beside the SB3
# queue so that each library has one core. A job whose CSV already ends at its budget is skipped.
#   nohup bash benchmarks/run_keel_queue.sh > benchmarks/work/keel_queue.out 2>&1 &
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The code under test is a snapshot of the commit (git worktree), so that edits made while the
# queue runs cannot change it half-way: SNAPSHOT=path/to/checkout (default: this checkout).
SNAP="${SNAPSHOT:-$ROOT}"
KEEL() { PYTHONPATH="$SNAP/src" "$ROOT/.venv/bin/python" -m keelrl.cli "$@"; }
RESULTS="$ROOT/benchmarks/results/sac_returns/keelrl"
RUNS="$ROOT/benchmarks/work/runs/keelrl"
LOG="$ROOT/benchmarks/work/keel_queue.log"
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
      log "skip $env seed$seed (complete)"; continue
    fi
    mkdir -p "$(dirname "$out")"
    log "start $env seed$seed total=$total"
    t0=$(date +%s)
    KEEL train sac --env "$env" --seed "$seed" --total-steps "$total" --learning-starts "$starts" \
      --eval-every "$every" --eval-episodes 10 --threads 1 --device cpu --no-progress \
      --checkpoint-every 1000000 --run-dir "$RUNS/$env/seed$seed" --overwrite >> "$LOG" 2>&1
    rc=$?
    cp "$RUNS/$env/seed$seed/train.csv" "${out%.csv}_train.csv" 2>/dev/null
    cp "$RUNS/$env/seed$seed/eval.csv" "$out" 2>/dev/null
    log "end $env seed$seed rc=$rc after $(( $(date +%s) - t0 ))s"
  done
done
log "queue done"
