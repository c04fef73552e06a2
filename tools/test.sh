#!/usr/bin/env bash
# Quick start 2: builds everything and runs the whole test suite with ctest.
# Installs what is missing first. Extra arguments go to cmake's configure step
# (e.g. -DTLSENGINE_SANITIZE=ON -DCMAKE_CXX_COMPILER=clang++); BUILD_DIR picks the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh build-essential cmake libssl-dev catch2 openssl python3
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
cd "$BUILD_DIR" && ctest --output-on-failure -j"$(nproc)" --timeout 600
