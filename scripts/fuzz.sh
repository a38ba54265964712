#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan, build-asan/ shared with
# scripts/sanitizers.sh) and fuzzes each one for a short while starting from its seed corpus
# (fuzz/corpus/<target>/). Fails on any crash, leak, timeout or sanitizer report; the input is
# left in $FUZZ_OUT/<target>/ (keep it in fuzz/regressions/<target>/ once fixed).
# Usage: scripts/fuzz.sh [seconds per target, default 30] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_TARGET=${1:-30}
shift || true
TARGETS=("$@")
# Every target is in the default list. checkpoint_archive reaches LibTorch's archive reader; the
# archive's zip directory, code records and pickles are checked before LibTorch reads them
# (core/src/archivecheck.cpp), since LibTorch allocates whatever their sizes say.
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(idx cifar stl10 image_folder config architecture checkpoint
                                     checkpoint_archive metrics_csv)
dir=${ASAN_BUILD_DIR:-build-asan}
OUT=${FUZZ_OUT:-$dir/fuzz-runs}
if [ ! -f "$dir/build.ninja" ]; then
  CXX=clang++-14 cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DINFOMAX_SANITIZE=address,undefined -DINFOMAX_BUILD_FUZZERS=ON
fi
cmake --build "$dir" --parallel "${JOBS:-$(nproc)}" --target "${TARGETS[@]/#/fuzz_}"

export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}
export ASAN_OPTIONS=detect_leaks=1
export LSAN_OPTIONS=suppressions=$ROOT/tools/sanitizers/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:suppressions=$ROOT/tools/sanitizers/ubsan.supp
failed=()
for t in "${TARGETS[@]}"; do
  work=$OUT/$t
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  echo "== fuzz_$t: ${SECONDS_PER_TARGET}s from fuzz/corpus/$t"
  # New inputs go to the scratch corpus; the committed seeds are only read. Regressions first,
  # as plain runs, so a fixed crash that came back fails at once.
  if [ -d "fuzz/regressions/$t" ] &&
     ! "$dir/fuzz/fuzz_$t" -runs=0 -artifact_prefix="$work/artifacts/" "fuzz/regressions/$t" \
       >"$work/regressions.log" 2>&1; then
    tail -40 "$work/regressions.log"
    failed+=("$t (regression)")
    continue
  fi
  if ! "$dir/fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=20 -rss_limit_mb=3072 \
       -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" "fuzz/corpus/$t" \
       >"$work/fuzz.log" 2>&1; then
    grep -v '^#' "$work/fuzz.log" | tail -60
    failed+=("$t")
    continue
  fi
  grep -E '^stat::number_of_executed_units|^Done' "$work/fuzz.log" | tr '\n' ' '
  echo
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]} (inputs in $OUT/<target>/artifacts/)" >&2
  exit 1
fi
echo "fuzzing: no crash in ${#TARGETS[@]} targets x ${SECONDS_PER_TARGET}s"
