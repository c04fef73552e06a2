#!/usr/bin/env bash
# CI: every code block of README.md runs as written (tools/ci/readme_blocks.py extracts
# them; a marker before each block says how):
#   program NAME   a complete C++ program: built with -Wall -Wextra -Werror, run against
#                  epoll_server; it must print the page and exit 0 by itself, and with the
#                  wrong CA exit 1 after its alert reached the server
#   fragment NAME  C++ statements: built and run inside a main() that defines their inputs
#   examples       the example list, line by line from the repository root: servers in the
#                  background, clients in the foreground (they must succeed)
#   run            shell commands, run with bash -e in a copy of the checkout, where
#                  app.cpp is the README's program; each a.out built is run as above
#   cmake KIND     CMake lines: a project `app` (the README's program) built with them
#   skip REASON    not run here (the reason says where it is)
#
#   bash tools/ci/readme.sh [BUILD_DIR]     (default build/, as tools/test.sh makes it)
# Needs: build-essential cmake libssl-dev pkg-config python3 curl doxygen libasio-dev
# libboost-dev
# (Debian); root for the install block (it installs into /opt/tlsengine as written).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-$repo/build}")
[ "$build" = "$repo/build" ] || { echo "readme.sh: the README runs ./build/examples: use build/" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# The examples the README names, built if missing.
for target in epoll_server posix_echo_server posix_echo_client asio_echo_server asio_client \
  beast_https_server; do
  [ -x "$build/examples/$target" ] || nice -n 5 cmake --build "$build" --target "$target" -j2
done

# wait_for FILE PATTERN: up to 20 s for a line in a log file.
wait_for() {
  for _ in $(seq 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no '$2' in $1:" >&2
  cat "$1" >&2
  return 1
}

# One epoll_server for the programs, on a free port, logging every connection.
"$build/examples/epoll_server" --port 0 --verbose >"$work/server.log" 2>&1 &
pids+=($!)
wait_for "$work/server.log" "listening on"
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")
"$build/examples/epoll_server" --print-ca >"$work/ca.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other-ca \
  -keyout "$work/other-ca.key" -out "$work/other-ca.pem" -days 2 2>/dev/null

# check_client BINARY LABEL: the README's program against epoll_server, then with the
# wrong CA (it must fail, and the server must have received its alert).
check_client() {
  local out="$work/client.out" err="$work/client.err"
  if ! timeout 20 "$1" "$port" "$work/ca.pem" >"$out" 2>"$err"; then
    fail "$2: exit $? against epoll_server (124: it did not end)"; cat "$err" >&2; return
  fi
  grep -q "<h1>Hello from tlsengine</h1>" "$out" || { fail "$2: no page"; cat "$out" "$err" >&2; return; }
  local before
  before=$(grep -c "alert unknown ca" "$work/server.log" || true)
  if timeout 20 "$1" "$port" "$work/other-ca.pem" >"$out" 2>"$err"; then
    fail "$2: succeeded with the wrong CA"; return
  fi
  grep -q "certificate verify failed" "$err" || { fail "$2: wrong CA: $(cat "$err")"; return; }
  sleep 0.2
  [ "$(grep -c "alert unknown ca" "$work/server.log" || true)" -gt "$before" ] \
    || { fail "$2: the server never received the client's unknown_ca alert"; cat "$work/server.log" >&2; return; }
  echo "ok: $2: the page, exit 0; with the wrong CA exit 1 after sending its alert"
}

program=""
run_block() { # NN LINE MODE ARGS...
  local nn=$1 line=$2 mode=$3
  shift 3
  local block="$work/blocks/$nn.block" label="README.md:$line ($mode $*)"
  case "$mode" in
  skip) echo "skipped: $label" ;;
  program)
    program="$work/$1"
    cp "$block" "$program"
    if ! c++ -std=c++17 -Wall -Wextra -Werror -I "$repo/include" "$program" -o "$work/program" \
      -lssl -lcrypto; then
      fail "$label does not compile"
      return
    fi
    check_client "$work/program" "$label"
    ;;
  fragment)
    {
      echo '#include <tlsengine/tlsengine.hpp>'
      echo '#include <fstream>'
      echo '#include <sstream>'
      echo 'static std::string file(const char* p) { std::ifstream f(p); std::stringstream s; s << f.rdbuf(); return s.str(); }'
      echo 'int main() {'
      echo "  const std::string chain_pem = file(\"$repo/examples/certs/server-chain.pem\");"
      echo "  const std::string key_pem = file(\"$repo/examples/certs/server.key\");"
      cat "$block"
      echo '  return srv && !c.is_destroyed() ? 0 : 1;'
      echo '}'
    } >"$work/fragment.cpp"
    if c++ -std=c++17 -Wall -Wextra -Werror -I "$repo/include" "$work/fragment.cpp" \
      -o "$work/fragment" -lssl -lcrypto && "$work/fragment"; then
      echo "ok: $label"
    else
      fail "$label"
    fi
    ;;
  examples) run_examples "$block" "$label" ;;
  run)
    if (cd "$work/checkout" && bash -euo pipefail "$block") >"$work/run.log" 2>&1; then
      echo "ok: $label"
      if [ -f "$work/checkout/a.out" ]; then
        check_client "$work/checkout/a.out" "$label: a.out"
        rm -f "$work/checkout/a.out"
      fi
    else
      fail "$label"; tail -30 "$work/run.log" >&2
    fi
    ;;
  cmake)
    local dir="$work/cmake-$nn-$1" # one per block: two blocks may share a KIND
    mkdir -p "$dir"
    cp "$program" "$dir/app.cpp"
    printf 'cmake_minimum_required(VERSION 3.16)\nproject(app CXX)\nadd_executable(app app.cpp)\n' \
      >"$dir/CMakeLists.txt"
    cat "$block" >>"$dir/CMakeLists.txt"
    [ "$1" = find_package ] || { mkdir -p "$dir/third_party" && cp -r "$work/checkout" "$dir/third_party/tlsengine"; }
    if cmake -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH=/opt/tlsengine >"$work/cmake.log" 2>&1 &&
      cmake --build "$dir/build" >>"$work/cmake.log" 2>&1; then
      echo "ok: $label builds"
      check_client "$dir/build/app" "$label: app"
    else
      fail "$label"; tail -30 "$work/cmake.log" >&2
    fi
    ;;
  *) fail "$label: unknown readme-ci mode '$mode'" ;;
  esac
}

# The example list, from the repository root as a reader runs it.
run_examples() {
  local n=0 cmd
  while IFS= read -r cmd; do
    [ -n "$cmd" ] || continue
    n=$((n + 1))
    case "$cmd" in
    bash\ bench/*) echo "skipped: $2 line $n (wrk against nginx: tools/ci/bench.sh)"; continue ;;
    esac
    if [[ $cmd == ./build/examples/*_server* ]]; then
      (cd "$repo" && exec bash -c "exec $cmd") >"$work/example-$n.log" 2>&1 &
      pids+=($!)
      if wait_for "$work/example-$n.log" "listening on"; then
        echo "ok: $2 line $n: $(head -1 "$work/example-$n.log")"
      else
        fail "$2 line $n: $cmd"
      fi
    elif (cd "$repo" && timeout 20 bash -c "$cmd") >"$work/example-$n.out" 2>"$work/example-$n.err" &&
      [ -s "$work/example-$n.out" ]; then
      echo "ok: $2 line $n: $(head -c 60 "$work/example-$n.out" | tr '\n' ' ')"
    else
      fail "$2 line $n: $cmd"; cat "$work/example-$n.out" "$work/example-$n.err" >&2
    fi
  done < <(sed 's/[[:space:]]*# .*$//' "$1")
}

# A copy of the checkout (tracked and new files, no build trees) for the run blocks.
mkdir -p "$work/checkout"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/checkout")

python3 "$repo/tools/ci/readme_blocks.py" "$repo/README.md" "$work/blocks" >"$work/manifest" \
  || fail "README.md has blocks CI does not run"
while read -r nn line mode args; do
  # shellcheck disable=SC2086  # ARGS are words
  run_block "$nn" "$line" "$mode" $args
  [ "$mode" = program ] && cp "$program" "$work/checkout/app.cpp"
done <"$work/manifest"

if [ "$failures" -gt 0 ]; then
  echo "readme.sh: $failures README block(s) failed" >&2
  exit 1
fi
echo "readme.sh: every README code block ran as written"
