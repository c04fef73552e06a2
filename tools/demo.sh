#!/usr/bin/env bash
# Quick start 1: builds and runs examples/demo (a client and a server engine back to
# back on built-in certificates). Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh @build
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DTLSENGINE_BUILD_TESTS=OFF >/dev/null
cmake --build build-demo --target demo -j"$(nproc)" >/dev/null
./build-demo/examples/demo
