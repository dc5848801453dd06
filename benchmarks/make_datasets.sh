#!/usr/bin/env bash
# The offline benchmark's datasets (issue 4), made by keelrl itself:
#   1. SAC on ENV (default Hopper-v5) for TOTAL steps (default 150k), seed 0, keeping a checkpoint
#      every 10k steps (--keep-checkpoints): benchmarks/work/runs/source/ENV;
#   2. keel collect: expert (the final policy), medium (the kept checkpoint whose evaluation is
#      closest to a third of the way from a random policy's return to the final one),
#      medium-replay (that checkpoint's replay buffer),
#      medium-expert (the two concatenated). medium and expert sample the stochastic policy, as D4RL.
# Datasets go to MINARI_DATASETS_PATH (default benchmarks/work/datasets), named keel/<env>/<kind>-v0.
#   SNAPSHOT=<worktree> nohup bash benchmarks/make_datasets.sh &
set -eu
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SNAP="${SNAPSHOT:-$ROOT}"
ENV=${ENV:-Hopper-v5}; TOTAL=${TOTAL:-150000}; STEPS=${STEPS:-1000000}
NAME=$(echo "${ENV%-v*}" | tr '[:upper:]' '[:lower:]')
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH="$SNAP/src"
export MINARI_DATASETS_PATH="${MINARI_DATASETS_PATH:-$ROOT/benchmarks/work/datasets}"
RUN="$ROOT/benchmarks/work/runs/source/$ENV"
keel() { "$ROOT/.venv/bin/python" -m keelrl.cli "$@"; }
have() { [[ -f $MINARI_DATASETS_PATH/keel/$NAME/$1/data/metadata.json ]]; }  # made already: kept (delete to remake)

if [[ ! -f $RUN/checkpoint.pt ]]; then
  keel train sac --env "$ENV" --seed 0 --total-steps "$TOTAL" --learning-starts 5000 --eval-every 10000 \
    --eval-episodes 10 --checkpoint-every 10000 --keep-checkpoints --threads 1 --device cpu --no-progress \
    --run-dir "$RUN" --overwrite
fi
# medium and medium-replay: given the run folder, keel collect picks the kept checkpoint whose
# evaluation is closest to a third of the way from the random policy's return to the final one (and
# the final policy as the expert).
have medium-v0 || keel collect --name "keel/$NAME/medium-v0" --kind medium --policy "$RUN" --steps "$STEPS"
# the other kinds reuse the reference scores measured for medium (the same seeds would give the same)
REFS=$("$ROOT/.venv/bin/python" -c "import json, sys; m = json.load(open(sys.argv[1])); print(m['ref_min_score'], m['ref_max_score'])" \
  "$MINARI_DATASETS_PATH/keel/$NAME/medium-v0/data/metadata.json")
read -r REF_MIN REF_MAX <<< "$REFS"
have medium-replay-v0 || keel collect --name "keel/$NAME/medium-replay-v0" --kind medium-replay --policy "$RUN" \
  --ref-min-score "$REF_MIN" --ref-max-score "$REF_MAX"
[[ -n ${ONLY_MEDIUM:-} ]] && exit 0  # (the benchmark driver starts training here and makes the rest beside it)
have expert-v0 || keel collect --name "keel/$NAME/expert-v0" --kind expert --policy "$RUN" --steps "$STEPS" \
  --ref-min-score "$REF_MIN" --ref-max-score "$REF_MAX"
have medium-expert-v0 || keel collect --name "keel/$NAME/medium-expert-v0" --kind medium-expert \
  --from "keel/$NAME/medium-v0" "keel/$NAME/expert-v0"
