#!/usr/bin/env bash
# Returns benchmark queue for one library: runs every (algo, env, seed) job of a jobs file one at
# a time, single-threaded, so that two queues (keelrl and the peer) can run side by side on two
# cores with one each. A job whose CSV already ends at its budget is skipped, so a queue can be
# restarted after an interruption.
#   SNAPSHOT=<worktree> nohup bash benchmarks/run_queue.sh keelrl benchmarks/online_jobs.txt &
#   nohup bash benchmarks/run_queue.sh sb3 benchmarks/online_jobs.txt &
#   SNAPSHOT=<worktree> nohup bash benchmarks/run_queue.sh keelrl benchmarks/offline_jobs.txt &
#   nohup bash benchmarks/run_queue.sh d3rlpy benchmarks/offline_jobs.txt &
# Offline jobs name a Minari dataset (namespace/name-vN) where online ones name an environment, and
# "-" for learning-starts; their budget is gradient updates. Datasets are read from
# MINARI_DATASETS_PATH (default: benchmarks/work/datasets).
# keelrl runs from SNAPSHOT (default: this checkout), a checkout of the commit under test, so that
# edits made while the queue runs cannot change it half-way. Only lines whose algo matches ONLY
# (a regex, default: all) run.
set -u
LIB=$1; JOBS_FILE=$2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SNAP="${SNAPSHOT:-$ROOT}"
ONLY="${ONLY:-.*}"
LOG="$ROOT/benchmarks/work/${LIB}_queue.log"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export MINARI_DATASETS_PATH="${MINARI_DATASETS_PATH:-$ROOT/benchmarks/work/datasets}"
mkdir -p "$(dirname "$LOG")"
log() { echo "$(date '+%Y-%m-%d %H:%M:%S') $*" >> "$LOG"; }

run_job() {  # algo env seed total starts every out
  local algo=$1 env=$2 seed=$3 total=$4 starts=$5 every=$6 out=$7
  if [[ $LIB == d3rlpy ]]; then
    "$ROOT/benchmarks/.venv-d3rlpy/bin/python" "$ROOT/benchmarks/d3rlpy_offline.py" --algo "$algo" --dataset "$env" \
      --seed "$seed" --steps "$total" --eval-every "$every" --eval-episodes 10 --out "$out" >> "$LOG" 2>&1
  elif [[ $env == */* ]]; then  # keelrl, offline: a dataset
    local run="$ROOT/benchmarks/work/runs/keelrl/$algo/${env//\//_}/seed$seed"
    PYTHONPATH="$SNAP/src" "$ROOT/.venv/bin/python" -m keelrl.cli train "$algo" --dataset "$env" --seed "$seed" \
      --total-steps "$total" --eval-every "$every" --eval-episodes 10 --threads 1 --device cpu \
      --no-progress --checkpoint-every 100000000 --run-dir "$run" --overwrite ${PRESET:+--preset "$PRESET"} >> "$LOG" 2>&1
    local rc=$?
    cp "$run/eval.csv" "$out" 2>/dev/null
    cp "$run/metrics.csv" "${out%.csv}_metrics.csv" 2>/dev/null
    return $rc
  elif [[ $LIB == sb3 ]]; then
    local ls=(); [[ $starts != - ]] && ls=(--learning-starts "$starts")
    "$ROOT/benchmarks/.venv-sb3/bin/python" "$ROOT/benchmarks/sb3_returns.py" --algo "$algo" --env "$env" \
      --seed "$seed" --total-steps "$total" "${ls[@]}" --eval-every "$every" --out "$out" >> "$LOG" 2>&1
  else
    local ls=(); [[ $starts != - ]] && ls=(--learning-starts "$starts")
    local run="$ROOT/benchmarks/work/runs/keelrl/$algo/$env/seed$seed"
    PYTHONPATH="$SNAP/src" "$ROOT/.venv/bin/python" -m keelrl.cli train "$algo" --env "$env" --seed "$seed" \
      --total-steps "$total" "${ls[@]}" --eval-every "$every" --eval-episodes 10 --threads 1 --device cpu \
      --no-progress --checkpoint-every 100000000 --run-dir "$run" --overwrite >> "$LOG" 2>&1
    local rc=$?
    cp "$run/train.csv" "${out%.csv}_train.csv" 2>/dev/null
    cp "$run/eval.csv" "$out" 2>/dev/null
    return $rc
  fi
}

log "queue start $LIB $JOBS_FILE (pid $$)"
grep -v '^\s*#' "$JOBS_FILE" | while read -ra f; do
  n=${#f[@]}; (( n == 0 )) && continue
  algo=${f[0]%@*}; env=${f[1]}; total=${f[n-3]}; starts=${f[n-2]}; every=${f[n-1]}
  PRESET=""; [[ ${f[0]} == *@* ]] && PRESET=${f[0]#*@}  # algo@preset: keelrl's --preset for that job
  [[ $algo =~ ^($ONLY)$ ]] || continue
  [[ $LIB == d3rlpy && ! $algo =~ ^(td3_bc|cql|iql)$ ]] && continue  # what d3rlpy has
  for seed in "${f[@]:2:n-5}"; do
    out="$ROOT/benchmarks/results/${algo}_returns/$LIB/${env//\//_}/seed$seed.csv"
    if [[ -f "$out" ]] && [[ "$(tail -n 1 "$out" | cut -d, -f1)" == "$total" ]]; then
      log "skip $algo $env seed$seed (complete)"; continue
    fi
    mkdir -p "$(dirname "$out")"
    log "start $algo $env seed$seed total=$total"
    t0=$(date +%s)
    run_job "$algo" "$env" "$seed" "$total" "$starts" "$every" "$out" < /dev/null
    log "end $algo $env seed$seed rc=$? after $(( $(date +%s) - t0 ))s"
  done
done
log "queue done $LIB"
