#!/usr/bin/env bash
# [attack3] reproduction, not part of ctest: mixing TLSENGINE_SEPARATE_COMPILATION and the
# header-only mode in one program links silently and breaks error_code comparisons.
# Usage: bash tests/probes/attack3_mixed_modes/run.sh   (exit 0: not reproduced)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
inc="$here/../../../include"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
echo '#include <tlsengine/impl/src.hpp>' > impl.cpp
c++ -O2 -std=c++17 -DTLSENGINE_SEPARATE_COMPILATION -I "$inc" -c impl.cpp
c++ -O2 -std=c++17 -I "$inc" -c "$here/header_only_tu.cpp" -o header_only_tu.o
c++ -O2 -std=c++17 -DTLSENGINE_SEPARATE_COMPILATION -I "$inc" "$here/app.cpp" header_only_tu.o impl.o \
  -lssl -lcrypto -o app
./app
