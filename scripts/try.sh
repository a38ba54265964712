#!/usr/bin/env bash
# README command 1: install dependencies, build, and train on Fashion-MNIST.
# With a display it launches the desktop app training right away; without one (a server, a
# container) it runs a short headless CLI training and prints where its run folder went.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "${INFOMAX_HEADLESS:-0}" != 1 ]; then
  exec build/app/infomax-studio --train "$@"
fi
echo "no display: training headless with the CLI (the desktop app is build/app/infomax-studio)"
exec build/app/infomax train --steps 300 "$@"
