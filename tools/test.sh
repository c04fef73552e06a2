#!/usr/bin/env bash
# Quick start 2: builds everything and runs the whole test suite with ctest.
# Installs what is missing first: everything the tests build and run (tools/deps.sh @test).
# Extra arguments go to cmake's configure step (e.g. -DTLSENGINE_SANITIZE=ON -DCMAKE_CXX_COMPILER=clang++); BUILD_DIR picks the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh @test
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
cd "$BUILD_DIR" && ctest --output-on-failure -j"$(nproc)" --timeout 600
