# shellcheck shell=bash
# Shared by the load scripts (bench/load/run.sh, bench/load/idle_rss.sh); sourced, not run.
#
# Builds the examples in Release, extracts the built-in demo certificate, and starts
# examples/epoll_server and nginx (one worker, the same certificate, the same page).
# The caller sets ROOT (the repository) and BUILD (the build directory) first.

# Installs the packages and builds TARGETS in Release (the examples' and bench/'s; only
# the targets named are compiled).
load_build() { # TARGET...
  bash "$ROOT/tools/deps.sh" build-essential cmake libssl-dev wrk nginx curl python3
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTLSENGINE_BUILD_TESTS=OFF \
    -DTLSENGINE_BUILD_BENCH=ON >/dev/null
  cmake --build "$BUILD" --target "$@" -j"$(nproc)" >/dev/null
}

# A scratch directory with the demo credentials (cert.pem, key.pem, ca.pem); every process
# started by the functions below is stopped when the script exits.
WORK=$(mktemp -d)
PIDS=()
load_cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap load_cleanup EXIT

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

# Stops one process started here (SIGTERM) and waits for it.
stop_process() { # PID
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local left=()
  for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || left+=("$pid"); done
  PIDS=("${left[@]}")
}

# GET / over TLS with the demo CA, to stdout.
fetch_page() { # PORT
  curl -sS --fail --cacert "$WORK/ca.pem" --resolve "localhost:$1:127.0.0.1" "https://localhost:$1/"
}

# Starts epoll_server on a free port; sets EPOLL_PORT and EPOLL_PID (its port and pid are
# read from its first line).
start_epoll_server() { # [epoll_server flags...]
  "$BUILD/examples/epoll_server" --port 0 --quiet "$@" >"$WORK/epoll.log" 2>&1 &
  EPOLL_PID=$!
  PIDS+=("$EPOLL_PID")
  for _ in $(seq 100); do grep -q "listening on" "$WORK/epoll.log" && break; sleep 0.1; done
  EPOLL_PORT=$(sed -n 's/^listening on [^ ]*:\([0-9]*\) .*/\1/p' "$WORK/epoll.log")
  [ -n "$EPOLL_PORT" ] || { cat "$WORK/epoll.log"; echo "epoll_server did not start" >&2; exit 1; }
}

# nginx serving the very same bytes as epoll_server's page ($WORK/www/index.html, which
# the caller writes first) with one worker; sets NGINX_PORT and NGINX_PID (the master: it
# runs in the foreground, the worker is its child).
start_nginx() { # WORKER_CONNECTIONS
  NGINX_PORT=$(free_port)
  local user_line=""
  [ "$(id -u)" -eq 0 ] && user_line="user root;" # the workers must read $WORK
  cat >"$WORK/nginx.conf" <<EOF
$user_line
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections $1; }
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
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  for _ in $(seq 100); do
    fetch_page "$NGINX_PORT" >/dev/null 2>&1 && break
    sleep 0.1
  done
  cmp -s <(fetch_page "$NGINX_PORT") "$WORK/www/index.html" ||
    { cat "$WORK/nginx-error.log" >&2; echo "nginx does not serve the page" >&2; exit 1; }
}
