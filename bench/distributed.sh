#!/usr/bin/env bash
# Data-parallel throughput on this machine: 1 process x T threads (global batch B) against
# P processes x 1 thread each (per-rank batch B/P, same global batch), over 127.0.0.1 with
# c10d/Gloo; also P processes without overlapping the all-reduce with backward. Prints, per
# setting, images/s over the last logged interval (warm-up excluded) and the time each rank spent
# blocked on collectives per step. Last, P processes with --dist-gather-negatives (negatives from
# every rank's images) against the same run without it, run side by side, as a ratio of step
# times (so a loaded machine skews both alike).
#
#   bench/distributed.sh [BUILD_DIR] [STEPS] [GLOBAL_BATCH] [PROCS]
#   extra train flags through INFOMAX_BENCH_FLAGS (e.g. "--head-units 512")
#   INFOMAX_BENCH_ONLY=gather runs only the gather comparison
set -euo pipefail
BUILD=${1:-build}
STEPS=${2:-40}
BATCH=${3:-64}
PROCS=${4:-2}
CLI=$BUILD/app/infomax
[ -x "$CLI" ] || { echo "no $CLI (build first)" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# Log once after a warm-up of STEPS/4 steps, then at the end: the last row is the steady state.
WARM=$((STEPS / 4))
COMMON=(--defaults paper --data-limit 8192 --steps "$STEPS" --log-every "$WARM" --checkpoint-every 0
        --autosave-minutes 0 --quiet --json ${INFOMAX_BENCH_FLAGS:-})
if pgrep -x ninja >/dev/null || pgrep -x cc1plus >/dev/null; then
  echo "WARNING: a build is running; numbers will be low" >&2
fi
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d$2)" "$1"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

single() {  # threads
  "$CLI" train "${COMMON[@]}" --batch "$BATCH" --threads "$1" --out "$OUT/one-$1" >"$OUT/one-$1.json"
  printf '1 process  x %d threads, batch %3d         : %7.1f img/s, step %.0f ms\n' "$1" "$BATCH" \
    "$(field "$OUT/one-$1.json" "['last']['img_per_s']")" "$(field "$OUT/one-$1.json" "['last']['step_ms']")"
}

launch() {  # label, extra flags...: starts PROCS ranks in the background (pids in $pids)
  local label=$1; shift
  local port per=$((BATCH / PROCS))
  port=$(free_port)
  for ((r = 0; r < PROCS; r++)); do
    "$CLI" train "${COMMON[@]}" --batch "$per" --threads 1 --world-size "$PROCS" --rank "$r" \
      --master "127.0.0.1:$port" --out "$OUT/$label" "$@" >"$OUT/$label-$r.json" &
    pids+=($!)
  done
}

report() {  # label
  local label=$1
  printf '%d processes x 1 thread, batch %3d x %d (%s): %7.1f img/s, step %.0f ms; blocked on collectives %s ms/step (rank 0), %s ms/step (rank 1), of which feature gather %s ms; gradient %s MB in %s buckets\n' \
    "$PROCS" "$((BATCH / PROCS))" "$PROCS" "$label" \
    "$(field "$OUT/$label-0.json" "['last']['img_per_s']")" \
    "$(field "$OUT/$label-0.json" "['last']['step_ms']")" \
    "$(field "$OUT/$label-0.json" "['comm_wait_ms_per_step']")" \
    "$(field "$OUT/$label-1.json" "['comm_wait_ms_per_step']")" \
    "$(field "$OUT/$label-0.json" "['feature_gather_ms_per_step']")" \
    "$(python3 -c "import json; print(round(json.load(open('$OUT/$label-0.json'))['gradient_bytes_per_step']/1e6, 2))")" \
    "$(field "$OUT/$label-0.json" "['gradient_buckets']")"
}

multi() {  # label, extra flags...
  pids=()
  launch "$@"
  for p in "${pids[@]}"; do wait "$p"; done
  report "$1"
}

if [ "${INFOMAX_BENCH_ONLY:-}" != gather ]; then
  single 1
  single 2
  multi overlap --dist-overlap
  multi no-overlap --dist-no-overlap
fi
# The gather's cost: the same run with and without it, started together (2 x PROCS processes
# sharing the machine, so a change of load hits both alike), twice; the two ratios agreeing is
# the check that the load did not favour one of them.
ratios=()
for round in 1 2; do
  pids=()
  launch "plain-$round"
  launch "gather-$round" --dist-gather-negatives
  for p in "${pids[@]}"; do wait "$p"; done
  report "plain-$round"
  report "gather-$round"
  ratios+=("$(python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['last']['step_ms']; b=json.load(open(sys.argv[2]))['last']['step_ms']; print(f'{b/a:.3f}')" \
    "$OUT/plain-$round-0.json" "$OUT/gather-$round-0.json")")
done
echo "step time with / without --dist-gather-negatives (rank 0, run side by side): ${ratios[*]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
