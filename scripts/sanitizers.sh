#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/, the same
# clang-14 build the fuzzers use) and the threaded trainer/controller tests under
# ThreadSanitizer (build-tsan/). Suppressions and why: tools/sanitizers/*.supp and
# docs/RELIABILITY.md. Usage: scripts/sanitizers.sh [asan] [tsan]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SUPP=$ROOT/tools/sanitizers
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(asan tsan)
JOBS=${JOBS:-$(nproc)}
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}
export TSAN_SYMBOLIZER_PATH=$ASAN_SYMBOLIZER_PATH

# configure DIR [cmake args...]: a clang-14 build folder, configured once.
configure() {
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    CXX=clang++-14 cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
  fi
}

for step in "${steps[@]}"; do
  case $step in
    asan)
      dir=${ASAN_BUILD_DIR:-build-asan}
      configure "$dir" -DINFOMAX_SANITIZE=address,undefined -DINFOMAX_BUILD_FUZZERS=ON
      cmake --build "$dir" --parallel "$JOBS"
      export ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1:strict_init_order=1
      export LSAN_OPTIONS=suppressions=$SUPP/lsan.supp
      export UBSAN_OPTIONS=print_stacktrace=1:suppressions=$SUPP/ubsan.supp
      (cd "$dir" && ctest --output-on-failure --timeout 1800 ${ASAN_CTEST_ARGS:-})
      ;;
    tsan)
      dir=${TSAN_BUILD_DIR:-build-tsan}
      configure "$dir" -DINFOMAX_SANITIZE=thread
      # Scope (docs/RELIABILITY.md): the engine's threads (loader, trainer, controls from another
      # thread) in test_trainer, the desktop app's TrainingController (its worker thread and the
      # GUI thread's commands) in test_controller, and a CLI train + resume. Debian's Qt is not
      # TSan-instrumented: test_controller tells TSan what Qt's event queue orders through the
      # hooks of ui/tsanhooks.h. test_ui and test_reliability are left out (every other queued
      # signal of the window would need the hooks too, and QProcess forks with clone(), on
      # which clang-14's TSan runtime fails an internal CHECK).
      cmake --build "$dir" --parallel "$JOBS" --target infomax test_trainer test_controller
      export TSAN_OPTIONS="suppressions=$SUPP/tsan.supp:halt_on_error=1:second_deadlock_stack=1"
      (cd "$dir" && ctest --output-on-failure --timeout 1800 -R '^(test_trainer|test_controller)$' \
        ${TSAN_CTEST_ARGS:-})
      run=$(mktemp -d)
      trap 'rm -rf "$run"' EXIT
      "$dir/app/infomax" train --data-limit 256 --steps 12 --batch 32 --threads 2 --head-units 64 \
        --log-every 2 --checkpoint-every 5 --quiet --out "$run/run"
      "$dir/app/infomax" resume "$run/run" --steps 4 --quiet
      echo "tsan: CLI train + resume with 2 threads: no report"
      ;;
    *)
      echo "usage: scripts/sanitizers.sh [asan] [tsan]" >&2
      exit 2
      ;;
  esac
done
