#!/usr/bin/env bash
# Threads on a shared machine: `keel bench sac` (256x256 networks, batch 256) with 0, 1 and 2 other
# processes keeping cores busy (a Python busy loop each), at --threads 1, --threads 2 (torch's default
# on 2 cores) and --threads 0 (keelrl's default: one per idle core). Run on a machine with nothing
# else running:
#   nohup bash benchmarks/threads.sh > benchmarks/work/threads.log 2>&1 &
# Results: benchmarks/results/threads/load{0,1,2}_t{0,1,2}.json (`keel bench --out`, with the
# threads each run used), summarized in docs/speed.md.
set -eu
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=benchmarks/results/threads
mkdir -p "$OUT"
for load in 0 1 2; do
  pids=()
  for _ in $(seq 1 "$load"); do
    python3 -c "while True: pass" &
    pids+=($!)
  done
  sleep 3
  for t in 2 1 0; do
    .venv/bin/keel bench sac --updates 50 --warmup 5 --threads "$t" --device cpu --out "$OUT/load${load}_t${t}.json"
  done
  for p in "${pids[@]}"; do kill "$p"; done
  sleep 2
done
