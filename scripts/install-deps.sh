#!/usr/bin/env bash
# Installs the Debian 12 packages InfoMax Studio needs to build, test and run.
# libopenblas0-pthread matters: without it LibTorch's matrix products use reference BLAS (~19x slower).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PKGS=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-pthread
  libgloo-dev   # Gloo headers: LibTorch's c10d ProcessGroupGloo.hpp includes them (distributed training)
  qt6-base-dev qt6-base-dev-tools qt6-svg-dev libqcustomplot-dev libqcustomplot2.1-qt6
  libopencv-dev nlohmann-json3-dev zlib1g-dev
  dataset-fashion-mnist
  python3-torch python3-numpy
  xvfb xauth imagemagick
  dpkg-dev file desktop-file-utils appstream   # packaging: cpack (dpkg-shlibdeps, file), tests/test_package.sh
)
# --sanitizers (CI): clang-14 with its sanitizer and libFuzzer runtimes, and llvm-14 for
# llvm-symbolizer (readable sanitizer stacks), for scripts/sanitizers.sh and scripts/fuzz.sh.
if [ "${1:-}" = "--sanitizers" ]; then
  PKGS+=(clang-14 libclang-rt-14-dev llvm-14)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
