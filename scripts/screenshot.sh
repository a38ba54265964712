#!/usr/bin/env bash
# Takes docs/screenshots/main-window.png: starts a virtual X display, trains on Fashion-MNIST in
# infomax-studio for a while, grabs the screen, then stops both. Needs xvfb and imagemagick.
# Usage: scripts/screenshot.sh [seconds to train before the shot, default 40] [infomax-studio flags]
#   e.g. OUT=docs/screenshots/compare.png scripts/screenshot.sh 60 --compare runs/earlier-run
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
WAIT=${1:-40}
DISPLAY_NUM=${DISPLAY_NUM:-99}
shift $(( $# > 0 ? 1 : 0 ))
OUT=${OUT:-docs/screenshots/main-window.png}
RUN_DIR=$(mktemp -d)
mkdir -p "$(dirname "$OUT")"

Xvfb ":$DISPLAY_NUM" -screen 0 1600x1000x24 -nolisten tcp &
XVFB_PID=$!
STUDIO_PID=
cleanup() {
  [ -n "$STUDIO_PID" ] && kill "$STUDIO_PID" 2>/dev/null || true
  [ -n "$STUDIO_PID" ] && wait "$STUDIO_PID" 2>/dev/null || true
  kill "$XVFB_PID" 2>/dev/null || true
  wait "$XVFB_PID" 2>/dev/null || true
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
sleep 2

# Settings of earlier sessions must not change the picture.
export XDG_CONFIG_HOME="$RUN_DIR/config"
DISPLAY=":$DISPLAY_NUM" "$BUILD_DIR/app/infomax-studio" -qwindowgeometry 1600x1000+0+0 \
  --train --steps 300 --out "$RUN_DIR/run" "$@" &
STUDIO_PID=$!
sleep "$WAIT"
DISPLAY=":$DISPLAY_NUM" import -window root "$OUT"
echo "wrote $OUT"
