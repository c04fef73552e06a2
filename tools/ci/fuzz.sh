#!/usr/bin/env bash
# CI: builds the libFuzzer harnesses of fuzz/ (clang, -fsanitize=fuzzer,address,undefined),
# then for each harness replays its seed corpus (fuzz/corpus/<harness>) and fuzzes for
# FUZZ_SECONDS (default 60) with leak detection on. Prints one line per harness with the
# exec/s and the coverage (cov: edges, ft: features) of libFuzzer's final stats, the log and
# a hex dump of the input of any failure, and exits non-zero on any crash, leak, timeout or
# broken invariant.
#
# Run from the repository root:  bash tools/ci/fuzz.sh
# Environment:
#   FUZZ_SECONDS=60         fuzzing time per harness
#   FUZZ_HARNESSES="..."    a subset (default: server client pair context certificate flood)
#   FUZZ_BUILD_DIR=dir      reuse a build tree (default: a temporary one)
#   FUZZ_KEEP=1             keep the temporary directory (new corpus units, artifacts, logs)
#   TLSENGINE_FUZZ_DETERMINISTIC=0   fuzz without the deterministic RNG and clock
# Nothing is written into the repository: new corpus units and crash artifacts go to a
# temporary directory (-artifact_prefix).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
bash tools/deps.sh @build @clang || exit 1

seconds=${FUZZ_SECONDS:-60}
harnesses=${FUZZ_HARNESSES:-"server client pair context certificate flood"}
jobs=$(nproc 2>/dev/null || echo 2)
work=$(mktemp -d "${TMPDIR:-/tmp}/tlsengine-fuzz.XXXXXX") || exit 1
if [ "${FUZZ_KEEP:-0}" = 1 ]; then
  trap 'echo "fuzz: kept $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
build=${FUZZ_BUILD_DIR:-$work/build}

echo "=== fuzz: build ($build)"
start=$(date +%s)
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DTLSENGINE_BUILD_FUZZERS=ON -DTLSENGINE_BUILD_TESTS=OFF -DTLSENGINE_BUILD_EXAMPLES=OFF \
  >"$work/configure.log" 2>&1; then
  cat "$work/configure.log"
  exit 1
fi
targets=(record_corpus)
for h in $harnesses; do targets+=("fuzz_$h"); done
if ! cmake --build "$build" -j"$jobs" --target "${targets[@]}" >"$work/build.log" 2>&1; then
  cat "$work/build.log"
  exit 1
fi
echo "built in $(($(date +%s) - start)) s"

# The recorded handshakes only reach past the first flight while they match what the
# engine sends; a change of the ClientHello (say) makes them stale: warn, do not fail.
if ! env -u TLSENGINE_FUZZ_DETERMINISTIC "$build/fuzz/record_corpus" --check fuzz/corpus \
  >"$work/check.log" 2>&1; then
  cat "$work/check.log"
  echo "WARNING: stale seed corpus: re-record it with"
  echo "  $build/fuzz/record_corpus fuzz/corpus   (in deterministic mode, the default)"
else
  tail -n 1 "$work/check.log"
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The last "key: value" of libFuzzer's stats in a log.
fuzz_stat() { grep -o "$1 *[0-9]*" "$2" | tail -1 | grep -o '[0-9]*$'; }

failed=()
summary=()
for h in $harnesses; do
  exe="$build/fuzz/fuzz_$h"
  seeds="fuzz/corpus/$h"
  mkdir -p "$work/corpus/$h" "$work/artifacts/$h"
  log="$work/$h.log"
  echo "=== fuzz: $h (replay $(ls "$seeds" | wc -l) seeds, then ${seconds} s)"
  status=0
  # 1. The seed corpus alone: every seed must run clean.
  "$exe" -runs=0 -artifact_prefix="$work/artifacts/$h/" "$seeds" >"$log.replay" 2>&1 || status=$?
  # 2. Fuzzing; new units go to the temporary corpus (the first directory).
  if [ $status -eq 0 ]; then
    "$exe" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=3072 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/$h/" "$work/corpus/$h" "$seeds" >"$log" 2>&1 || status=$?
  else
    cp "$log.replay" "$log"
  fi
  execs=$(fuzz_stat 'stat::average_exec_per_sec:' "$log")
  cov=$(fuzz_stat 'cov:' "$log")
  ft=$(fuzz_stat 'ft:' "$log")
  units=$(fuzz_stat 'stat::number_of_executed_units:' "$log")
  line=$(printf '%-12s exec/s %6s  cov %6s  ft %6s  runs %8s' "$h" "${execs:-?}" "${cov:-?}" \
    "${ft:-?}" "${units:-?}")
  if [ $status -ne 0 ]; then
    line="$line  FAILED (exit $status)"
    failed+=("$h")
    echo "--- $h: log (last 80 lines)"
    tail -n 80 "$log"
    for a in "$work/artifacts/$h"/*; do
      [ -f "$a" ] || continue
      echo "--- $h: artifact $(basename "$a") ($(wc -c <"$a") bytes, hex):"
      head -c 8192 "$a" | od -An -tx1 -v | tr -d ' \n' | fold -w 128
      echo
    done
  fi
  summary+=("$line")
  echo "$line"
done

echo "=== fuzz: summary (${seconds} s per harness, total $(($(date +%s) - start)) s)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: OK"
