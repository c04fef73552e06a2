#!/usr/bin/env bash
# The examples' key logs decrypt a real capture. On loopback, tshark records a connection
# to epoll_server; with the key log file, `tshark -o tls.keylog_file:` recovers the HTTP
# request line from the TLS records, and without it the same capture shows no request.
# Two sources of keys: the server's --keylog FILE, and a client's SSLKEYLOGFILE.
#   keylog_capture.sh <epoll_server> <asio_client>
# Needs tshark (Debian: tshark) and curl, and the right to capture on lo (root in CI).
set -euo pipefail
server_bin=$1 client_bin=$2
for tool in tshark curl; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 1; }
done
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# wait_for FILE PATTERN: up to 20 s for a line in a log file.
wait_for() {
  for _ in $(seq 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "FAIL: no '$2' in $1:" >&2
  cat "$1" >&2
  exit 1
}

# capture NAME PORT: starts tshark on lo for that port, waits until it captures.
capture() {
  tshark -i lo -f "tcp port $2" -w "$work/$1.pcapng" >"$work/$1.tshark.log" 2>&1 &
  capture_pid=$!
  pids+=("$capture_pid")
  wait_for "$work/$1.tshark.log" "Capturing on"
  sleep 0.5 # the filter is attached just after tshark says so
}
stop_capture() {
  sleep 0.5 # the last segments reach the capture
  kill -INT "$capture_pid"
  wait "$capture_pid" || true
}

# request_lines NAME [KEYLOG]: the decrypted HTTP request lines in the capture.
request_lines() {
  local opts=()
  [ $# -ge 2 ] && opts=(-o "tls.keylog_file:$2")
  tshark -r "$work/$1.pcapng" "${opts[@]}" -Y 'tls && http.request' -T fields \
    -e http.request.method -e http.request.uri -e http.request.version 2>/dev/null
}

"$server_bin" --port 0 --keylog "$work/server.keys" >"$work/server.log" 2>&1 &
pids+=($!)
wait_for "$work/server.log" "listening on"
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")
"$server_bin" --print-ca >"$work/ca.pem"

# 1. The server's --keylog, with curl as the client.
capture server "$port"
curl -sS --cacert "$work/ca.pem" --http1.1 "https://localhost:$port/keylog-check" -o /dev/null
stop_capture
[ -s "$work/server.keys" ] || { echo "FAIL: --keylog wrote nothing" >&2; exit 1; }
grep -q '^CLIENT_TRAFFIC_SECRET_0 ' "$work/server.keys" \
  || { echo "FAIL: no TLS 1.3 traffic secret in the key log:" >&2; cat "$work/server.keys" >&2; exit 1; }
without=$(request_lines server)
with=$(request_lines server "$work/server.keys")
echo "server --keylog: decrypted request line: $with"
[ -z "$without" ] || { echo "FAIL: the capture is readable without keys: $without" >&2; exit 1; }
[ "$with" = $'GET\t/keylog-check\tHTTP/1.1' ] || { echo "FAIL: decrypted '$with'" >&2; exit 1; }

# 2. A client's SSLKEYLOGFILE (TLS 1.2 this time: other secrets, same result).
capture client "$port"
SSLKEYLOGFILE="$work/client.keys" "$client_bin" --port "$port" --http /from-sslkeylogfile \
  --max-version TLSv1.2 >/dev/null 2>"$work/client.log" \
  || { echo "FAIL: asio_client:" >&2; cat "$work/client.log" >&2; exit 1; }
stop_capture
grep -q '^CLIENT_RANDOM ' "$work/client.keys" \
  || { echo "FAIL: SSLKEYLOGFILE has no TLS 1.2 secret" >&2; exit 1; }
with=$(request_lines client "$work/client.keys")
echo "client SSLKEYLOGFILE: decrypted request line: $with"
[ "$with" = $'GET\t/from-sslkeylogfile\tHTTP/1.1' ] || { echo "FAIL: decrypted '$with'" >&2; exit 1; }
[ -z "$(request_lines client)" ] || { echo "FAIL: readable without keys" >&2; exit 1; }
echo "PASS"
