#!/usr/bin/env bash
# The evaluation issue's quality bar: train the CLI's defaults (the studio defaults, docs/ENGINE.md;
# `--defaults paper` as an extra flag for the paper's DIM(L)) on Fashion-MNIST for a fixed
# wall-time budget (15 minutes by default) on this machine, then probe the frozen encoder's
# conv / fc / y features (linear probe and weighted kNN, fitted on all 60,000 training images and
# scored on the 10,000 test images) next to the raw-pixel and random-encoder baselines.
#   bench/quality_15min.sh [MINUTES] [OUT_DIR] [extra train flags...]
# Run it on a quiet machine: the budget is wall time, so anything else running costs steps.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-15}
OUT=${2:-$(mktemp -d)}
shift $(( $# < 2 ? $# : 2 ))
BIN=${INFOMAX:-build/app/infomax}
mkdir -p "$OUT"
rm -rf "$OUT/run"
echo "== training the CLI defaults for $MINUTES minutes $*" >&2
"$BIN" train --minutes "$MINUTES" --steps 100000000 --quiet --json --out "$OUT/run" "$@" > "$OUT/train.json"
python3 - "$OUT/train.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
last = r["last"]
print(f"trained: {r['message']}; epoch {last['epoch']:.2f}, {last['img_per_s']:.1f} img/s at the end")
PY
echo "== probing (linear + kNN on conv, fc, y; baselines)" >&2
"$BIN" eval "$OUT/run" --layer conv,fc,y --probe linear,knn --baselines --quiet \
  --json --markdown "$OUT/table.md" --csv "$OUT/table.csv" > "$OUT/eval.json"
cat "$OUT/table.md"
