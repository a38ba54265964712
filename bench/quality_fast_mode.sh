#!/usr/bin/env bash
# Does fast mode (--local-fraction) keep the representation? Trains dcgan32 local DIM (JSD,
# paper head width 2048) for the same number of steps with every local position and with a
# random half of them per step, plus the default 512-wide head, then probes each encoder's
# frozen conv / fc / y features (linear probe and kNN) next to the raw-pixel and
# random-encoder baselines. Equal steps isolate the approximation from speed.
#   bench/quality_fast_mode.sh [STEPS] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-400}
OUT=${2:-$(mktemp -d)}
BIN=${INFOMAX:-build/app/infomax}
EVAL=(--train-limit ${TRAIN_LIMIT:-20000} --test-limit ${TEST_LIMIT:-5000} --probe linear,knn --json --quiet)
run() {  # name, extra train flags...
  local name=$1; shift
  "$BIN" train --defaults paper --arch dcgan32 --steps "$STEPS" --checkpoint-every 0 --log-every 50 --quiet \
    --out "$OUT/$name" "$@" > /dev/null
  echo "== $name ($*)"
  "$BIN" eval "$OUT/$name" "${EVAL[@]}" ${BASELINES:+--baselines}
  unset BASELINES
}
BASELINES=1 run full-2048 --head-units 2048
run fast-2048 --head-units 2048 --local-fraction 0.5
run full-512 --head-units 512
