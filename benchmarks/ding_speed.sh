#!/usr/bin/env bash
# P-DQN learner speed, DI-engine 0.5.3 (benchmarks/.venv-ding, torch 2.12.1) vs keelrl (.venv, torch 2.13),
# one torch thread each, the processes run one at a time, alternating ding, keel (default), keel (as-ding)
# within each round, so both sides share the machine's state. Writes benchmarks/results/hybrid/ding_speed.json
# (raw rounds in benchmarks/results/hybrid/ding/speed_rounds/).
#
#   bash benchmarks/ding_speed.sh            # ROUNDS=3 DING_CALLS=2000 KEEL_UPDATES=1000 by default
#
# Units: keelrl's update = one Q step + one parameter-net step; a DI-engine learner.train call is one of the
# two, so DI-engine's full updates/s = calls/s / 2 (timed over multiples of 10 calls, half of each kind).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DING_CALLS=${DING_CALLS:-2000}
KEEL_UPDATES=${KEEL_UPDATES:-1000}
CONFIGS=${CONFIGS:-"matched:128 matched:320 default:128"}   # net:batch_size
DING=benchmarks/.venv-ding/bin/python
KEEL=.venv/bin/python
SCRIPT=benchmarks/ding_platform.py
DIR=benchmarks/results/hybrid/ding/speed_rounds
mkdir -p "$DIR"
rm -f "$DIR"/*.jsonl
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

for cfg in $CONFIGS; do
  net=${cfg%%:*}; bs=${cfg##*:}
  out="$DIR/${net}_b${bs}.jsonl"
  for r in $(seq 1 "$ROUNDS"); do
    echo "== $net batch $bs round $r" >&2
    $DING $SCRIPT speed-ding --net "$net" --batch-size "$bs" --updates "$DING_CALLS" --warmup 50 --threads 1 \
      --round "$r" --append "$out" 2>/dev/null | tail -1 | cut -c1-200
    $KEEL $SCRIPT speed-keel --net "$net" --batch-size "$bs" --updates "$KEEL_UPDATES" --warmup 50 --threads 1 \
      --keel-variant default --round "$r" --append "$out" | tail -1 | cut -c1-200
    $KEEL $SCRIPT speed-keel --net "$net" --batch-size "$bs" --updates "$KEEL_UPDATES" --warmup 50 --threads 1 \
      --keel-variant as-ding --round "$r" --append "$out" | tail -1 | cut -c1-200
  done
done

machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(getconf _NPROCESSORS_ONLN) cores)"
note="load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); other processes may share the cores"
$DING $SCRIPT combine --rounds-dir "$DIR" --out benchmarks/results/hybrid/ding_speed.json \
  --machine "$machine" --note "$note" 2>/dev/null
