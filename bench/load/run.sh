#!/usr/bin/env bash
# Load benchmark — not a test, and not run by CI.
#
# wrk against examples/epoll_server and, beside it, against nginx with one worker serving
# the same page with the same (built-in demo) certificate; once with keep-alive and once
# with "Connection: close" (a TLS handshake per request). Prints requests/s and the ratio
# epoll_server / nginx for each. Both servers are single-threaded; wrk gets the rest.
#
# Usage: bench/load/run.sh [SECONDS per run, default 10] [CONNECTIONS, default 64]
# Environment: THREADS (wrk threads, default 1), BUILD_DIR (default build-load).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${1:-10}
CONNECTIONS=${2:-64}
THREADS=${THREADS:-1}
BUILD=${BUILD_DIR:-$ROOT/build-load}
# shellcheck source=common.sh
source "$ROOT/bench/load/common.sh"

load_build epoll_server
start_epoll_server --idle-timeout 600000
mkdir -p "$WORK/www"
fetch_page "$EPOLL_PORT" >"$WORK/www/index.html"
start_nginx 8192

# Requests/s of one wrk run.
rate() { # PORT [wrk args...]
  local port=$1
  shift
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "$@" "https://127.0.0.1:$port/" |
    awk '/^Requests\/sec:/ { print $2 }'
}

printf "%-12s %15s %15s %8s\n" "mode" "epoll_server" "nginx" "ratio"
for mode in keep-alive close; do
  args=()
  [ "$mode" = close ] && args=(-H "Connection: close")
  ours=$(rate "$EPOLL_PORT" "${args[@]}")
  theirs=$(rate "$NGINX_PORT" "${args[@]}")
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  printf "%-12s %15s %15s %8s\n" "$mode" "$ours" "$theirs" "$ratio"
done
echo "(requests/s; wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s; ratio = epoll_server / nginx)"
