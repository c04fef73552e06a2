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

bash "$ROOT/tools/deps.sh" build-essential cmake libssl-dev wrk nginx curl python3
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTLSENGINE_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target epoll_server -j"$(nproc)" >/dev/null

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# The built-in demo credentials, out of examples/common/builtin_certs.hpp.
python3 - "$ROOT/examples/common/builtin_certs.hpp" "$WORK" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for name, out in (("builtin_server_cert_pem", "cert.pem"), ("builtin_server_key_pem", "key.pem"),
                  ("builtin_ca_pem", "ca.pem")):
    pem = re.search(name + r' = R"PEM\((.*?)\)PEM"', text, re.S).group(1)
    open(sys.argv[2] + "/" + out, "w").write(pem)
PY
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# epoll_server, its port read from its first line.
"$BUILD/examples/epoll_server" --port 0 --quiet --idle-timeout 600000 >"$WORK/epoll.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "listening on" "$WORK/epoll.log" && break; sleep 0.1; done
EPOLL_PORT=$(sed -n 's/^listening on [^ ]*:\([0-9]*\) .*/\1/p' "$WORK/epoll.log")
[ -n "$EPOLL_PORT" ] || { cat "$WORK/epoll.log"; echo "epoll_server did not start" >&2; exit 1; }

# nginx serving the very same bytes as epoll_server's page.
mkdir -p "$WORK/www"
curl -sS --fail --cacert "$WORK/ca.pem" --resolve "localhost:$EPOLL_PORT:127.0.0.1" \
  "https://localhost:$EPOLL_PORT/" -o "$WORK/www/index.html"
NGINX_PORT=$(free_port)
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;" # the workers must read $WORK
cat >"$WORK/nginx.conf" <<EOF
$USER_LINE
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $WORK/tmp-body;
  proxy_temp_path $WORK/tmp-proxy;
  fastcgi_temp_path $WORK/tmp-fastcgi;
  uwsgi_temp_path $WORK/tmp-uwsgi;
  scgi_temp_path $WORK/tmp-scgi;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $WORK/www;
    default_type "text/html; charset=utf-8";
    location = / { try_files /index.html =404; }
  }
}
EOF
nginx -c "$WORK/nginx.conf" -p "$WORK" &
PIDS+=($!)
for _ in $(seq 100); do
  curl -s --cacert "$WORK/ca.pem" --resolve "localhost:$NGINX_PORT:127.0.0.1" \
    "https://localhost:$NGINX_PORT/" -o /dev/null && break
  sleep 0.1
done
cmp -s <(curl -sS --cacert "$WORK/ca.pem" --resolve "localhost:$NGINX_PORT:127.0.0.1" \
  "https://localhost:$NGINX_PORT/") "$WORK/www/index.html" ||
  { cat "$WORK/nginx-error.log" >&2; echo "nginx does not serve the page" >&2; exit 1; }

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
