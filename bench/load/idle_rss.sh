#!/usr/bin/env bash
# Idle-connection memory — not a test, and not run by CI.
#
# For each N: starts the server fresh, reads its RSS, opens N TLS connections on loopback
# (bench/load/idle_client: TLS 1.3, default settings, one HTTP/1.1 keep-alive GET each with
# the response read whole), holds them idle, waits until the server's RSS is stable and
# reads it again. RSS per idle connection = (after - before) / N.
#
# Servers: examples/epoll_server with --release-buffers off and on (OpenSSL's record
# buffers kept / freed while a connection idles), and nginx with one worker on the same
# certificate and page. For nginx the worker process is counted (it holds the
# connections; the master does not change); master+worker is printed below it.
# RSS is /proc/PID/status VmRSS. Both servers have served one request (the page check)
# before "before" is read, so one-time initialisation is not counted per connection.
#
# Usage: bench/load/idle_rss.sh [N...]   (default: 1000 10000)
# Environment: BUILD_DIR (default build-load).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
COUNTS=("$@")
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(1000 10000)
BUILD=${BUILD_DIR:-$ROOT/build-load}
# shellcheck source=common.sh
source "$ROOT/bench/load/common.sh"

load_build epoll_server idle_client

# Each process holds one descriptor per connection: the soft limit goes up to the hard one.
ulimit -n "$(ulimit -Hn)"
for n in "${COUNTS[@]}"; do
  [ "$n" -gt 0 ] 2>/dev/null || { echo "idle_rss.sh: not a count: $n" >&2; exit 2; }
  [ $((n + 512)) -le "$(ulimit -n)" ] ||
    { echo "idle_rss.sh: $n connections need more than $(ulimit -n) descriptors" >&2; exit 2; }
done
MAX_N=$(printf "%s\n" "${COUNTS[@]}" | sort -n | tail -1)

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
descriptors() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
nginx_worker() { # MASTER_PID: its one child
  local child
  for _ in $(seq 100); do
    child=$(awk '{ print $1 }' "/proc/$1/task/$1/children" 2>/dev/null || true)
    [ -n "$child" ] && { echo "$child"; return; }
    sleep 0.1
  done
  echo "idle_rss.sh: nginx has no worker" >&2
  exit 1
}

# STABLE_KB: the RSS once it has not moved for 2 s (4 readings 0.5 s apart), at most 60 s.
STABLE_NOTE=""
stable_rss() { # PID
  local now same=0
  STABLE_KB=$(rss_kb "$1")
  for _ in $(seq 120); do
    sleep 0.5
    now=$(rss_kb "$1")
    if [ "$now" = "$STABLE_KB" ]; then
      same=$((same + 1))
      [ $same -ge 4 ] && return 0
    else
      same=0
    fi
    STABLE_KB=$now
  done
  STABLE_NOTE="; RSS still moving after 60 s in some run: its last reading is used"
}

# Holds N connections against 127.0.0.1:PORT and adds the RSS of SERVER_PID before and
# after to ROWS (and of SERVER_PID + OTHER_PID, nginx's master, when given).
ROWS=()
measure() { # LABEL PORT SERVER_PID N [OTHER_PID]
  local label=$1 port=$2 pid=$3 n=$4 other=${5:-} before after fds_before fds_after
  local other_before=0 other_after=0
  stable_rss "$pid"
  before=$STABLE_KB
  [ -n "$other" ] && other_before=$(rss_kb "$other")
  fds_before=$(descriptors "$pid")
  "$BUILD/bench/idle_client" --port "$port" --connections "$n" --timeout 300 --hold 900 \
    >"$WORK/client.log" 2>&1 &
  local client=$!
  PIDS+=("$client")
  while ! grep -qs '^ready' "$WORK/client.log"; do
    if ! kill -0 "$client" 2>/dev/null; then
      cat "$WORK/client.log" >&2
      echo "idle_rss.sh: $label: the client did not get $n connections idle" >&2
      exit 1
    fi
    sleep 0.2
  done
  stable_rss "$pid"
  after=$STABLE_KB
  [ -n "$other" ] && other_after=$(rss_kb "$other")
  fds_after=$(descriptors "$pid")
  stop_process "$client"
  local closed
  closed=$(awk '/^closed_by_server/ { print $2 }' "$WORK/client.log")
  # The measurement holds only if the server really held every connection.
  if [ "${closed:-0}" != 0 ] || [ $((fds_after - fds_before)) -lt "$n" ]; then
    echo "idle_rss.sh: $label N=$n: the server closed ${closed:-?} connections and holds" \
      "$((fds_after - fds_before)) more descriptors, not $n" >&2
    exit 1
  fi
  ROWS+=("$label|$n|$before|$after")
  [ -n "$other" ] && ROWS+=("nginx master+worker|$n|$((before + other_before))|$((after + other_after))")
  return 0
}

for n in "${COUNTS[@]}"; do
  for release in off on; do
    start_epoll_server --release-buffers "$release" --idle-timeout 3600000 \
      --max-connections $((MAX_N + 100))
    mkdir -p "$WORK/www"
    fetch_page "$EPOLL_PORT" >"$WORK/www/index.html" # also the warm-up request
    measure "epoll_server release=$release" "$EPOLL_PORT" "$EPOLL_PID" "$n"
    stop_process "$EPOLL_PID"
  done
  # keepalive_timeout is 600 s in start_nginx: longer than any measurement here. nginx
  # closes idle keep-alive connections once fewer than 1/16 of worker_connections are
  # free ("worker_connections are not enough, reusing connections"): twice N, within the
  # descriptor limit (the check after measure() catches a limit too low for that).
  connections=$((2 * MAX_N + 256))
  [ "$connections" -le "$(ulimit -n)" ] || connections=$(ulimit -n)
  start_nginx "$connections" # the page check is the warm-up request
  measure "nginx worker" "$NGINX_PORT" "$(nginx_worker "$NGINX_PID")" "$n" "$NGINX_PID"
  stop_process "$NGINX_PID"
done

# The table: bytes per idle connection, and epoll_server / nginx's worker for the same N.
printf "%s\n" "${ROWS[@]}" | awk -F'|' '
  { label[NR] = $1; n[NR] = $2; before[NR] = $3; after[NR] = $4
    per[NR] = ($4 - $3) * 1024 / $2
    if ($1 == "nginx worker") nginx[$2] = per[NR] }
  END {
    printf "%-30s %6s %12s %12s %14s %10s\n", "server", "N", "RSS before", "RSS after",
      "bytes/conn", "vs nginx"
    for (i = 1; i <= NR; i++) {
      ratio = "-"
      if (label[i] ~ /^epoll_server/ && nginx[n[i]] > 0) ratio = sprintf("%.2f", per[i] / nginx[n[i]])
      printf "%-30s %6d %9d kB %9d kB %14.0f %10s\n", label[i], n[i], before[i], after[i], per[i], ratio
    }
  }'
echo "(VmRSS of the process named: nginx worker = the worker process, which holds the" \
  "connections; bytes/conn = (after - before) / N; vs nginx = epoll_server / nginx worker" \
  "at the same N$STABLE_NOTE)"
