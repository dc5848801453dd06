#!/usr/bin/env bash
# The hybrid-action benchmark queue: runs the jobs of benchmarks/hybrid_jobs.txt one at a time,
# single-threaded, so that two queues (PART=0 and PART=1 of PARTS=2) share two cores. A job whose
# eval.csv already ends at its budget is skipped (seeds: comma-separated), so a queue can be restarted. keelrl runs from
# SNAPSHOT (default: this checkout), a checkout of the commit under test.
#   SNAPSHOT=/tmp/snap PART=0 nohup bash benchmarks/hybrid_queue.sh &
#   SNAPSHOT=/tmp/snap PART=1 nohup bash benchmarks/hybrid_queue.sh &
# Results: benchmarks/results/hybrid/<algo>/<env>/seed<S>.csv (the run's eval.csv) and
# ..._metrics.csv; then `python benchmarks/hybrid_table.py` writes the tables.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SNAP="${SNAPSHOT:-$ROOT}"; PART="${PART:-0}"; PARTS="${PARTS:-2}"
LOG="$ROOT/benchmarks/work/hybrid_queue_$PART.log"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$ROOT/benchmarks/work"
i=0
grep -v '^#' "$ROOT/benchmarks/hybrid_jobs.txt" | while read -r algo env seeds total every episodes preset; do
  [[ -z ${algo:-} ]] && continue
  for seed in ${seeds//,/ }; do
    i=$((i + 1))
    (( i % PARTS == PART )) || continue
    out="$ROOT/benchmarks/results/hybrid/$algo/${env//\//_}"
    mkdir -p "$out"
    if [[ -f $out/seed$seed.csv ]] && tail -n 1 "$out/seed$seed.csv" | grep -q "^$total,"; then continue; fi
    run="$ROOT/benchmarks/work/runs/hybrid/$algo/${env//\//_}/seed$seed"
    echo "$(date '+%F %T') start $algo $env seed $seed" >> "$LOG"
    PYTHONPATH="$SNAP/src" "$ROOT/.venv/bin/python" -m keelrl.cli train "$algo" --env "$env" --seed "$seed" \
      --total-steps "$total" --eval-every "$every" --eval-episodes "$episodes" --threads 1 --device cpu --no-progress \
      --checkpoint-every 100000000 --run-dir "$run" --overwrite $([[ $preset != - ]] && echo --preset "$preset") >> "$LOG" 2>&1
    rc=$?
    echo "$(date '+%F %T') end $algo $env seed $seed rc $rc" >> "$LOG"
    cp "$run/eval.csv" "$out/seed$seed.csv" 2>/dev/null
    cp "$run/metrics.csv" "$out/seed${seed}_metrics.csv" 2>/dev/null
  done
done
