#!/usr/bin/env bash
# Consumer check: only single_include/tlsengine/tlsengine.hpp (no include/, no CMake, no
# install), with a plain compiler command: -I single_include and -lssl -lcrypto.
# Builds and runs the consumer program with each compiler given (default: c++).
#   bash tests/consumers/single_header/build.sh <repo> <output dir> [compiler...]
set -euo pipefail
repo=$(cd "$1" && pwd); out=$2; shift 2
compilers=("$@")
[ ${#compilers[@]} -gt 0 ] || compilers=("${CXX:-c++}")
mkdir -p "$out"
for cxx in "${compilers[@]}"; do
  exe="$out/consumer-$(basename "$cxx")"
  # The preprocessor must see no header of include/: everything comes from the one file.
  deps=$("$cxx" -std=c++17 -M -I"$repo/single_include" -I"$repo/examples/common" \
    "$repo/tests/consumers/common/echo_main.cpp")
  if grep -q "$repo/include/" <<<"$deps"; then
    echo "single_header: $cxx reads headers from $repo/include/" >&2
    exit 1
  fi
  grep -q "$repo/single_include/tlsengine/tlsengine.hpp" <<<"$deps" \
    || { echo "single_header: $cxx does not read single_include/tlsengine/tlsengine.hpp" >&2; exit 1; }
  "$cxx" -std=c++17 -O1 -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow -Werror \
    -DTLSENGINE_CONSUMER_NAME="\"single_header ($(basename "$cxx"))\"" \
    -I"$repo/single_include" -I"$repo/examples/common" \
    "$repo/tests/consumers/common/echo_main.cpp" -o "$exe" -lssl -lcrypto
  "$exe"
done
