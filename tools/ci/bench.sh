#!/usr/bin/env bash
# Builds the benchmark (Release) and runs it once on tiny sizes (--quick), so that it
# cannot rot. It asserts no timing: it fails only if the program fails (a handshake that
# does not complete, bytes lost, a crash) or prints no RATIO/VALUE lines. Takes well under
# 2 minutes. The real measurement: `tlsengine_bench` without --quick (docs/PERFORMANCE.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/deps.sh @build
BUILD_DIR=${BUILD_DIR:-build-bench}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DTLSENGINE_BUILD_BENCH=ON \
  -DTLSENGINE_BUILD_TESTS=OFF -DTLSENGINE_BUILD_EXAMPLES=OFF >/dev/null
# The load scripts' clients too, so that they cannot rot either (not run here).
cmake --build "$BUILD_DIR" -j"$(nproc)" --target tlsengine_bench idle_client fleet_client
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 110 "$BUILD_DIR/bench/tlsengine_bench" --quick | tee "$out"
for w in hs13 hs12 resume13 resume12 resume13_bytes resume12_bytes bulk16k bulk1k bulk64 msg1k msg64 \
  idle_pair_bytes; do
  grep -q "^RATIO $w " "$out" || { echo "bench.sh: no RATIO line for $w" >&2; exit 1; }
  grep -q "^VALUE $w " "$out" || { echo "bench.sh: no VALUE line for $w" >&2; exit 1; }
done
echo "bench.sh: the benchmark builds and runs (no timing asserted)"
