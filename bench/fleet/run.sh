#!/usr/bin/env bash
# Fleet benchmark — not a test, and not run by CI. See docs/FLEET.md.
#
# Starts redis-server on loopback and NODES epoll_server processes, then fleet_client makes
# COUNT connections alternating across the nodes, each offering the previous connection's
# session (so every resumption is cross-node). For each way of resuming it reports the
# cross-node resumption rate and the fleet's handshakes/s, once with the shared store
# (--redis) and once without (each node on its own); then the lookup latency (p50/p99) the
# nodes measured, from their /stats pages.
#
# Usage: bench/fleet/run.sh [COUNT, default 1000] [NODES, default 3]
# Environment: BUILD_DIR (default build-fleet).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
COUNT=${1:-1000}
NODES=${2:-3}
BUILD=${BUILD_DIR:-$ROOT/build-fleet}

bash "$ROOT/tools/deps.sh" build-essential cmake libssl-dev pkg-config libhiredis-dev \
  redis-server curl
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTLSENGINE_BUILD_TESTS=OFF \
  -DTLSENGINE_BUILD_BENCH=ON >/dev/null
cmake --build "$BUILD" --target epoll_server fleet_client -j"$(nproc)" >/dev/null

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

NODE_PORTS=()
NODE_PIDS=()
# start_nodes ARGS...: NODES epoll_servers with ARGS (and FIRST_NODE_ARGS for the first);
# their ports in NODE_PORTS.
FIRST_NODE_ARGS=()
start_nodes() {
  NODE_PORTS=()
  NODE_PIDS=()
  for i in $(seq "$NODES"); do
    local log="$WORK/node$i-$RANDOM.log" extra=()
    [ "$i" = 1 ] && extra=("${FIRST_NODE_ARGS[@]}")
    : >"$log"
    "$BUILD/examples/epoll_server" --port 0 --quiet "$@" "${extra[@]}" >"$log" 2>&1 &
    PIDS+=($!)
    NODE_PIDS+=($!)
    for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.05; done
    NODE_PORTS+=("$(sed -n 's/.*listening on [^ ]*:\([0-9]*\).*/\1/p' "$log" | head -1)")
  done
  sleep 1.5 # the nodes connect to Redis and agree on the ticket-key ring
}
stop_nodes() {
  for pid in "${NODE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}
ports() { local IFS=,; echo "${NODE_PORTS[*]}"; }
stat_of() { curl -sk "https://127.0.0.1:$1/stats" | sed -n "s/^$2 //p"; }

run() { # LABEL VERSION NODE-ARGS...
  local label=$1 version=$2
  shift 2
  start_nodes "$@"
  printf '%-44s %s\n' "$label" "$("$BUILD/bench/fleet_client" --ports "$(ports)" \
    --count "$COUNT" --version "$version")"
  if [[ " $* " == *" --redis "* ]]; then
    local p50="" p99="" lookups="" timeouts=""
    for port in "${NODE_PORTS[@]}"; do
      p50+="$(stat_of "$port" lookup_p50_us) "
      p99+="$(stat_of "$port" lookup_p99_us) "
      lookups+="$(stat_of "$port" cache_lookups) "
      timeouts+="$(stat_of "$port" cache_timeouts) "
    done
    printf '%-44s per node: lookups %s timeouts %s p50 us %s p99 us %s\n' "" "$lookups" \
      "$timeouts" "$p50" "$p99"
  fi
  stop_nodes
}

REDIS=(--redis "127.0.0.1:$REDIS_PORT")
echo "fleet of $NODES nodes, $COUNT connections, round robin; redis-server on port $REDIS_PORT"
run "TLS 1.2 session ids, shared store" TLSv1.2 "${REDIS[@]}" --no-tickets
run "TLS 1.2 session ids, no store" TLSv1.2 --no-tickets
run "TLS 1.3 stateful, shared store" TLSv1.3 "${REDIS[@]}" --no-tickets
run "TLS 1.3 stateful, no store" TLSv1.3 --no-tickets
run "TLS 1.2 tickets, shared ring" TLSv1.2 "${REDIS[@]}"
run "TLS 1.2 tickets, own keys" TLSv1.2
run "TLS 1.3 tickets, shared ring" TLSv1.3 "${REDIS[@]}"
run "TLS 1.3 tickets, own keys" TLSv1.3
# One node rotates (the fleet's ring, every second); every node reads it every 100 ms.
FIRST_NODE_ARGS=(--ticket-key-rotate 1)
run "TLS 1.2 tickets, ring rotating every 1 s" TLSv1.2 "${REDIS[@]}" --ring-poll 100
run "TLS 1.3 tickets, ring rotating every 1 s" TLSv1.3 "${REDIS[@]}" --ring-poll 100
