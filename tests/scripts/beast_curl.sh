#!/usr/bin/env bash
# The Boost.Beast example (tlsengine::asio::stream on Boost.Asio) against curl: pages over
# one kept-alive TLS 1.3 connection, a TLS 1.2 HEAD, the demo CA from --print-ca, and
# the client's close_notify answered (the server logs no error).
#   beast_curl.sh <beast_https_server>
set -euo pipefail
server_bin=$1
command -v curl >/dev/null || { echo "FAIL: curl is not installed" >&2; exit 1; }
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$server_bin" --port 0 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 200); do grep -q "listening on" "$work/server.log" && break; sleep 0.1; done
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")
[ -n "$port" ] || { echo "FAIL: the server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
"$server_bin" --print-ca >"$work/ca.pem"

# Two requests, one connection (keep-alive), TLS 1.3 and ALPN http/1.1.
curl -sS --cacert "$work/ca.pem" --http1.1 -o "$work/page" -o "$work/missing" \
  -w '%{http_code} %{num_connects}\n' "https://localhost:$port/" "https://localhost:$port/nope" \
  >"$work/codes"
[ "$(cat "$work/codes")" = $'200 1\n404 0' ] || { echo "FAIL: curl: $(cat "$work/codes")" >&2; exit 1; }
grep -q "<h1>Hello from Boost.Beast over tlsengine</h1>" "$work/page" || { echo "FAIL: page" >&2; exit 1; }
grep -q "404 Not Found" "$work/missing" || { echo "FAIL: 404 body" >&2; exit 1; }
# TLS 1.2, HEAD.
curl -sS --cacert "$work/ca.pem" --tls-max 1.2 -I "https://localhost:$port/" >"$work/head"
grep -q "^HTTP/1.1 200 OK" "$work/head" || { echo "FAIL: HEAD over TLS 1.2" >&2; cat "$work/head" >&2; exit 1; }
sleep 0.3
grep -q "(no client certificate requested): TLSv1.3 .* alpn=http/1.1" "$work/server.log" \
  || { echo "FAIL: no TLS 1.3 connection line" >&2; cat "$work/server.log" >&2; exit 1; }
grep -q "(no client certificate requested): TLSv1.2 " "$work/server.log" \
  || { echo "FAIL: no TLS 1.2 connection line" >&2; cat "$work/server.log" >&2; exit 1; }
[ "$(grep -c ': GET /\|: HEAD /' "$work/server.log")" = 3 ] || { echo "FAIL: requests" >&2; cat "$work/server.log" >&2; exit 1; }
if grep -q "failed\|read:\|write:" "$work/server.log"; then
  echo "FAIL: the server logged an error:" >&2; cat "$work/server.log" >&2; exit 1
fi
echo "PASS"
