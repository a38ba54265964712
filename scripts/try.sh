#!/usr/bin/env bash
# README command 1: install dependencies, build, and train on Fashion-MNIST (headless for now:
# a short CLI training that prints where its run folder went).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/app/infomax train --steps 300 "$@"
