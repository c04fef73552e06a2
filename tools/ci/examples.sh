#!/usr/bin/env bash
# CI: installs the peer programs that the examples' and the interop matrix's tests talk to
# (tests/test_examples.cpp, tests/test_interop_matrix.cpp), and Asio for the Asio
# examples. Nothing else: those tests run in the normal ctest run, where a missing peer
# fails its test instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/../.."
packages=(openssl gnutls-bin curl chromium libnss3-tools python3 libasio-dev
  redis-server libhiredis-dev) # the fleet tests (tests/fleet) start redis-server themselves
# Node.js comes with the CI image; Debian's nodejs only when there is no node at all.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
bash tools/deps.sh "${packages[@]}"
