#!/usr/bin/env bash
# Consumer check: tlsengine from an install prefix through pkg-config, with a plain
# compiler command. Builds and runs the consumer program.
#   bash tests/consumers/pkg_config/build.sh <repo> <install prefix> <output dir>
# CXX picks the compiler (default c++).
set -euo pipefail
repo=$(cd "$1" && pwd); prefix=$2; out=$3
mkdir -p "$out"
# Both the arch-independent and the lib/ locations, wherever the .pc was installed.
export PKG_CONFIG_PATH="$prefix/share/pkgconfig:$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

want=$(sed -n 's/^project(tlsengine VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
have=$(pkg-config --modversion tlsengine)
[ "$have" = "$want" ] || { echo "pkg-config: tlsengine version $have, expected $want" >&2; exit 1; }
pkg-config --exists 'tlsengine >= 0.1' || { echo "pkg-config: 'tlsengine >= 0.1' not satisfied" >&2; exit 1; }
pkg-config --print-requires tlsengine | grep -q '^openssl' \
  || { echo "pkg-config: tlsengine does not require openssl" >&2; exit 1; }
# The .pc is relocatable (paths relative to ${pcfiledir}): -I must lead to <prefix>/include.
cflags=$(pkg-config --cflags tlsengine)
found=0
for flag in $cflags; do
  case "$flag" in
    -I*) [ "$(realpath -m "${flag#-I}")" = "$(realpath -m "$prefix/include")" ] && found=1 ;;
  esac
done
[ "$found" = 1 ] || { echo "pkg-config: --cflags '$cflags' does not lead to $prefix/include" >&2; exit 1; }
echo "pkg-config: tlsengine $have; cflags: $cflags; libs: $(pkg-config --libs tlsengine)"

# shellcheck disable=SC2046  # pkg-config's output is meant to be split into words
${CXX:-c++} -std=c++17 -O1 -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow -Werror \
  -DTLSENGINE_CONSUMER_NAME='"pkg_config"' -I"$repo/examples/common" \
  $(pkg-config --cflags tlsengine) \
  "$repo/tests/consumers/common/echo_main.cpp" -o "$out/consumer" \
  $(pkg-config --libs tlsengine)
"$out/consumer"
