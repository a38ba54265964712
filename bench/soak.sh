#!/usr/bin/env bash
# Soak benchmark: trains headless for a fixed wall time with the CLI's default model and checks
# that memory stays flat. Samples the process's RSS every INTERVAL seconds into rss.csv and
# prints a summary (RSS at 10% of the run vs at the end, and the slope of a least-squares line
# through the second half, in MB per hour).
# Usage: INFOMAX=build/app/infomax bench/soak.sh [MINUTES=60] [OUT=soak-run] [extra train flags]
set -euo pipefail
INFOMAX=${INFOMAX:-build/app/infomax}
MINUTES=${1:-60}
OUT=${2:-soak-run}
shift $(( $# > 2 ? 2 : $# ))
INTERVAL=${INTERVAL:-15}
rm -rf "$OUT"
mkdir -p "$OUT"
"$INFOMAX" train --defaults paper --out "$OUT/run" --steps 100000000 --checkpoint-every 2000 \
  --autosave-minutes 10 --quiet "$@" > "$OUT/train.log" 2>&1 &
PID=$!
echo "elapsed_s,rss_mb,step" > "$OUT/rss.csv"
START=$(date +%s)
END=$(( START + MINUTES * 60 ))
while kill -0 "$PID" 2>/dev/null && [ "$(date +%s)" -lt "$END" ]; do
  RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status" 2>/dev/null || echo 0)
  STEP=$(tail -n 1 "$OUT/run/metrics.csv" 2>/dev/null | cut -d, -f1 || true)
  echo "$(( $(date +%s) - START )),$(( RSS_KB / 1024 )),${STEP:-0}" >> "$OUT/rss.csv"
  sleep "$INTERVAL"
done
if kill -0 "$PID" 2>/dev/null; then
  kill -INT "$PID"  # Ctrl-C: the trainer checkpoints and exits cleanly
  wait "$PID" || true
else
  wait "$PID" || { echo "soak: training exited early, see $OUT/train.log" >&2; exit 1; }
fi
/usr/bin/env python3 - "$OUT/rss.csv" <<'PY'
import csv, sys
rows = [(float(r["elapsed_s"]), float(r["rss_mb"]), int(float(r["step"] or 0)))
        for r in csv.DictReader(open(sys.argv[1]))]
rows = [r for r in rows if r[1] > 0]
if len(rows) < 4:
    sys.exit("soak: too few RSS samples")
n = len(rows)
early = rows[max(1, n // 10)]
half = rows[n // 2:]
xs = [r[0] / 3600 for r in half]; ys = [r[1] for r in half]
mx = sum(xs) / len(xs); my = sum(ys) / len(ys)
den = sum((x - mx) ** 2 for x in xs) or 1.0
slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den
print(f"samples {n}, duration {rows[-1][0]/60:.1f} min, steps {rows[-1][2]}")
print(f"RSS at 10%: {early[1]:.0f} MB, peak: {max(r[1] for r in rows):.0f} MB, end: {rows[-1][1]:.0f} MB")
print(f"second-half slope: {slope:+.1f} MB/hour")
PY
