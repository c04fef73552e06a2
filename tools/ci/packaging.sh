#!/usr/bin/env bash
# CI: packaging checks. Run from anywhere (it works from the repository root).
#   1. install (with tlsengine::compiled, -DTLSENGINE_COMPILED=ON): configure + build +
#      `cmake --install` into a temporary prefix (the prefix is
#      given at install time, not at configure time: the installed files must not depend on
#      it), then check the installed tree;
#   2. the single header's first lines carry the project version and the licence;
#   3. each consumer project of tests/consumers/ builds against tlsengine and runs a real
#      handshake + echo: find_package, find_package_compiled (tlsengine::compiled),
#      add_subdirectory, fetchcontent, pkg_config, single_header;
#   4. the `docs` target (Doxygen) builds with no warning.
# Prints one line per check ("consumer <name>: OK"), the log of what failed, and exits
# non-zero when anything failed. Everything happens in a temporary directory, removed at
# the end (TLSENGINE_PACKAGING_KEEP=1 keeps it). CXX picks the compiler (default c++).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
bash tools/deps.sh cmake build-essential libssl-dev pkg-config doxygen || exit 1

repo=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tlsengine-packaging.XXXXXX") || exit 1
if [ "${TLSENGINE_PACKAGING_KEEP:-0}" = 1 ]; then
  trap 'echo "packaging: kept $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/logs"
jobs=$(nproc 2>/dev/null || echo 2)
build="$work/build"
prefix="$work/prefix"
version=$(sed -n 's/^project(tlsengine VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
failures=()

# check <label> <function> [args...]: runs the function with its output in a log; prints
# "<label>: OK", or "<label>: FAILED" and the end of the log.
check() {
  local label=$1 log
  shift
  log="$work/logs/$(printf '%s' "$label" | tr -c 'A-Za-z0-9_.-' '_').log"
  if "$@" >"$log" 2>&1; then
    echo "$label: OK"
  else
    echo "$label: FAILED (log follows)"
    tail -n 60 "$log" | sed 's/^/    /'
    failures+=("$label")
  fi
}

# ---- 1. install ---------------------------------------------------------------------------
install_tree() {
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DTLSENGINE_BUILD_TESTS=OFF -DTLSENGINE_BUILD_EXAMPLES=OFF -DTLSENGINE_COMPILED=ON \
    -DCMAKE_INSTALL_PREFIX="$work/configure-time-prefix" || return 1
  cmake --build "$build" -j"$jobs" || return 1
  cmake --install "$build" --prefix "$prefix" || return 1

  local f missing=0
  for f in include/tlsengine/tlsengine.hpp \
    share/cmake/tlsengine/tlsengineConfig.cmake \
    share/cmake/tlsengine/tlsengineConfigVersion.cmake \
    share/cmake/tlsengine/tlsengineTargets.cmake \
    share/pkgconfig/tlsengine.pc \
    share/doc/tlsengine/LICENSE \
    lib/libtlsengine.a; do
    [ -f "$prefix/$f" ] || { echo "not installed: $f"; missing=1; }
  done
  # Every public and detail header, nothing else.
  if ! diff <(cd include && find . -name '*.hpp' | sort) \
    <(cd "$prefix/include" && find . -type f | sort); then
    echo "the installed headers differ from include/"
    missing=1
  fi
  # Relocatable: no installed file names the source tree, the build tree or the
  # configure-time prefix.
  if grep -rlF -e "$repo" -e "$build" -e "$work/configure-time-prefix" "$prefix"; then
    echo "the files above name the source tree, the build tree or the configure-time prefix"
    missing=1
  fi
  grep -q 'find_dependency(OpenSSL 3.0)' "$prefix/share/cmake/tlsengine/tlsengineConfig.cmake" \
    || { echo "tlsengineConfig.cmake does not find_dependency(OpenSSL 3.0)"; missing=1; }
  echo "--- installed:"
  (cd "$prefix" && find . -type f | sort)
  echo "--- tlsengine.pc:"
  cat "$prefix/share/pkgconfig/tlsengine.pc"
  return "$missing"
}
check "install" install_tree

# ---- 2. the single header's first lines --------------------------------------------------
single_header_banner() {
  local h=single_include/tlsengine/tlsengine.hpp
  head -n 3 "$h"
  head -n 1 "$h" | grep -q "^// tlsengine v$version " \
    || { echo "line 1 of $h does not carry 'tlsengine v$version'"; return 1; }
  head -n 3 "$h" | grep -q 'SPDX-License-Identifier: MIT' \
    || { echo "the first lines of $h do not carry the licence (SPDX-License-Identifier: MIT)"; return 1; }
}
check "single header banner (v$version, MIT)" single_header_banner

# ---- 3. consumers -------------------------------------------------------------------------
# cmake_consumer <name> [cmake args...]: configure, build and run tests/consumers/<name>.
cmake_consumer() {
  local name=$1
  shift
  local dir="$work/consumer-$name"
  cmake -S "$repo/tests/consumers/$name" -B "$dir" -DCMAKE_BUILD_TYPE=Release \
    -DTLSENGINE_REPO_DIR="$repo" "$@" || return 1
  cmake --build "$dir" -j"$jobs" || return 1
  "$dir/consumer"
}
single_header_consumer() {
  local compilers=("${CXX:-c++}")
  # clang too when it is there (its default standard is older than C++17).
  if [ -z "${CXX:-}" ] && command -v clang++ >/dev/null; then compilers+=(clang++); fi
  bash "$repo/tests/consumers/single_header/build.sh" "$repo" "$work/consumer-single_header" \
    "${compilers[@]}"
}

check "consumer find_package" cmake_consumer find_package -DCMAKE_PREFIX_PATH="$prefix"
check "consumer find_package_compiled" cmake_consumer find_package_compiled \
  -DCMAKE_PREFIX_PATH="$prefix"
check "consumer add_subdirectory" cmake_consumer add_subdirectory
check "consumer fetchcontent" cmake_consumer fetchcontent
check "consumer pkg_config" bash "$repo/tests/consumers/pkg_config/build.sh" "$repo" "$prefix" \
  "$work/consumer-pkg_config"
check "consumer single_header" single_header_consumer

# ---- 4. API reference ----------------------------------------------------------------------
docs() {
  [ -f "$build/CMakeCache.txt" ] || { echo "no build tree (install failed)"; return 1; }
  grep -q '^DOXYGEN_EXECUTABLE:' "$build/CMakeCache.txt" || { echo "Doxygen not found"; return 1; }
  local log="$work/logs/doxygen.out"
  cmake --build "$build" --target docs 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  # WARN_AS_ERROR already fails the build; this also catches a warning printed anyway.
  if grep -E -i '(warning|error):' "$log"; then
    echo "Doxygen printed the diagnostics above"
    return 1
  fi
  [ -f "$build/docs/html/index.html" ] || { echo "no $build/docs/html/index.html"; return 1; }
  [ -f "$build/docs/html/classtlsengine_1_1connection.html" ] \
    || { echo "no page for tlsengine::connection"; return 1; }
  if ls "$build"/docs/html/namespacetlsengine_1_1detail*.html 2>/dev/null; then
    echo "namespace tlsengine::detail is documented"
    return 1
  fi
  echo "API reference: $(find "$build/docs/html" -name '*.html' | wc -l) pages"
}
check "docs" docs

if [ ${#failures[@]} -gt 0 ]; then
  echo "packaging: FAILED: ${failures[*]}"
  exit 1
fi
echo "packaging: all checks passed"
