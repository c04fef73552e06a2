#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are not installed yet.
# Run by tools/demo.sh, tools/test.sh, tools/ci/*.sh and .ci/run.
#
# A name that starts with @ is a group, the one list of what each task needs:
#   @build  compile the library and the examples
#   @test   everything tools/test.sh builds and every peer program the suite runs
#           (the interop tests fail, not skip, when their peer is missing)
#   @ci     what .ci/run adds on the host: clang with its sanitizer runtimes, clang-format,
#           Doxygen, pkg-config, mmdebstrap for the fresh-root runs
# Tested on Debian 12 (bookworm) and 13 (trixie).
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

# The major version of Debian's default clang, whose sanitizer/libFuzzer runtimes ship
# separately (libclang-rt-<N>-dev): 14 on Debian 12, 19 on Debian 13.
clang_major() {
  local v
  v=$(apt-cache depends clang 2>/dev/null | sed -n 's/.*Depends: clang-\([0-9][0-9]*\)$/\1/p')
  if [ -z "$v" ]; then # a fresh machine has no package lists yet
    $SUDO apt-get update -qq >&2
    v=$(apt-cache depends clang | sed -n 's/.*Depends: clang-\([0-9][0-9]*\)$/\1/p')
  fi
  echo "${v%%$'\n'*}"
}

expand() {
  case "$1" in
  @build) echo build-essential cmake libssl-dev ;;
  @test)
    expand @build
    # catch2: the test framework (v2 on Debian 12, v3 on Debian 13).
    # openssl, gnutls-bin, nodejs, python3, curl, chromium: interop peers and clients.
    # libnss3-tools: certutil, which puts the demo CA into Chromium's NSS database.
    # libasio-dev: the Asio examples, which the example tests run.
    # libboost-dev: Boost.Asio/Beast (the Beast example, the adapter under Boost.Asio).
    # tshark: the keylog test decrypts a capture. redis-server, libhiredis-dev, pkg-config:
    # the fleet tests (tests/fleet) and epoll_server --redis.
    echo catch2 openssl python3 gnutls-bin nodejs curl chromium libnss3-tools libasio-dev \
      libboost-dev tshark redis-server libhiredis-dev pkg-config
    ;;
  @clang) echo clang "libclang-rt-$(clang_major)-dev" ;;
  @ci)
    expand @test
    expand @clang
    echo clang-format doxygen pkg-config mmdebstrap
    ;;
  @*)
    echo "deps.sh: unknown group $1" >&2
    exit 2
    ;;
  *) echo "$1" ;;
  esac
}

wanted=()
for arg in "$@"; do
  list=$(expand "$arg")
  # shellcheck disable=SC2206
  wanted+=($list)
done

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
missing=()
for pkg in "${wanted[@]}"; do
  # Node.js from elsewhere (a CI image's own build) counts as installed.
  [ "$pkg" = nodejs ] && command -v node >/dev/null 2>&1 && continue
  installed "$pkg" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
