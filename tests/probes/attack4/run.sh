#!/usr/bin/env bash
# [attack4] builds and runs one probe (or all): bash tests/probes/attack4/run.sh [name.cpp...]
# Not part of ctest. Exit status: number of probes that reproduced a finding.
set -u
here=$(cd "$(dirname "$0")" && pwd)
inc="$here/../../../include"
work=${WORK:-/tmp/attack4-work}
export CERTS=${CERTS:-$work/certs}
mkdir -p "$work"
[ -f "$CERTS/ca.pem" ] || bash "$here/../../../tools/gen-test-certs.sh" "$CERTS" >/dev/null 2>&1
flags="-std=c++17 -O0 -g -fsanitize=address,undefined -DTLSENGINE_SEPARATE_COMPILATION -I $inc"
if [ ! -f "$work/impl.o" ]; then
  echo '#include <tlsengine/impl/src.hpp>' > "$work/impl.cpp"
  g++ $flags -c "$work/impl.cpp" -o "$work/impl.o" || exit 100
fi
cd "$here"
probes=("$@")
[ ${#probes[@]} -eq 0 ] && probes=(p*.cpp)
bad=0
for p in "${probes[@]}"; do
  g++ $flags "$p" "$work/impl.o" -lssl -lcrypto -o "$work/${p%.cpp}" || { bad=$((bad+1)); continue; }
  "$work/${p%.cpp}" || bad=$((bad+1))
done
exit $bad
