#!/usr/bin/env bash
# tools/gen-builtin-certs.sh [OUTPUT [CERTS_DIR]]
# tools/gen-builtin-certs.sh --check
#
# Regenerates examples/common/builtin_certs.hpp (or OUTPUT): the PUBLIC demo credentials
# the examples use when run without certificate files, and the same credentials as PEM
# files in examples/certs/ (or CERTS_DIR) for curl --cacert, openssl -CAfile, --cert/--key.
# Run by hand and commit the result; every run makes new keys, so only run it when the
# credentials must change.
#
# --check (CI): the PEM files in examples/certs/ are exactly the header's constants.
#
# ECDSA P-256 everywhere, valid 100 years with fixed dates (2025-01-01 .. 2125-01-01, set
# with `openssl ca`), so a machine whose clock is behind the generating one still accepts
# them:
#   root CA "tlsengine Demo Root CA" -> intermediate "tlsengine Demo Intermediate CA"
#   -> server leaf (CN=localhost; DNS:localhost, IP:127.0.0.1, IP:::1; serverAuth)
#   -> client leaf (CN=tlsengine demo client; clientAuth)
# builtin_server_cert_pem and builtin_client_cert_pem are leaf + intermediate chains,
# so a peer that trusts only builtin_ca_pem can verify either of them.
# Needs only the openssl command line tool.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The header's constants and their PEM files: NAME FILE.
PEM_FILES=(
  "builtin_ca_pem ca.pem"
  "builtin_server_cert_pem server-chain.pem"
  "builtin_server_key_pem server.key"
  "builtin_client_cert_pem client-chain.pem"
  "builtin_client_key_pem client.key"
)

# pem_constant HEADER NAME: the text of one raw-string constant of the header.
pem_constant() {
  awk -v name="$2" '
    index($0, "inline constexpr const char* " name " = R\"PEM(") == 1 {
      on = 1; sub(/^.*R"PEM\(/, ""); }
    on && /\)PEM";$/ { sub(/\)PEM";$/, ""); if (length($0)) print; exit }
    on { print }' "$1"
}

if [[ ${1:-} == --check ]]; then
  header=$ROOT/examples/common/builtin_certs.hpp
  status=0
  for entry in "${PEM_FILES[@]}"; do
    read -r name file <<<"$entry"
    if ! diff -q <(pem_constant "$header" "$name") "$ROOT/examples/certs/$file" >/dev/null; then
      echo "gen-builtin-certs.sh: examples/certs/$file differs from $name in builtin_certs.hpp" >&2
      status=1
    fi
  done
  [ $status = 0 ] && echo "examples/certs/*.pem match examples/common/builtin_certs.hpp"
  exit $status
fi

OUT=${1:-$ROOT/examples/common/builtin_certs.hpp}
CERTS_DIR=${2:-$ROOT/examples/certs}
START=20250101000000Z
END=21250101000000Z

command -v openssl >/dev/null 2>&1 || { echo "gen-builtin-certs.sh: openssl not found" >&2; exit 1; }

WORK=$(mktemp -d)
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
export OPENSSL_CONF=/dev/null

run() {
  if ! (cd "$WORK" && "$@") >"$WORK/log" 2>&1; then
    cat "$WORK/log" >&2
    echo "gen-builtin-certs.sh: command failed: $*" >&2
    exit 1
  fi
}

cat >"$WORK/openssl.cnf" <<'EOF'
[ req ]
distinguished_name = req_dn
prompt             = no
string_mask        = utf8only

[ req_dn ]
CN = unused

[ ca ]
default_ca = tmp_ca

[ tmp_ca ]
dir             = cadb
database        = $dir/index.txt
new_certs_dir   = $dir/newcerts
serial          = $dir/serial
default_md      = sha256
policy          = policy_any
unique_subject  = no
copy_extensions = none
preserve        = yes
email_in_dn     = no

[ policy_any ]
organizationName       = optional
organizationalUnitName = optional
commonName             = supplied

[ root_ext ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash

[ intermediate_ext ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ server_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ client_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF

ec_key() {
  run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -pkeyopt ec_param_enc:named_curve -out "$1"
}
# sign NAME SUBJECT EXTENSIONS ISSUER  (ISSUER "self": self-signed)
sign() {
  local issuer=(-cert "$4.pem" -keyfile "$4.key")
  [[ $4 == self ]] && issuer=(-selfsign -keyfile "$1.key")
  run openssl req -config openssl.cnf -new -sha256 -key "$1.key" -subj "$2" -out "$1.csr"
  run openssl ca -config openssl.cnf -batch -notext -rand_serial -in "$1.csr" -out "$1.pem" \
    "${issuer[@]}" -extfile openssl.cnf -extensions "$3" -startdate "$START" -enddate "$END"
}

mkdir -p "$WORK/cadb/newcerts"
: >"$WORK/cadb/index.txt"
echo 01 >"$WORK/cadb/serial"

ec_key ca.key
sign ca "/O=tlsengine/CN=tlsengine Demo Root CA" root_ext self
ec_key intermediate.key
sign intermediate "/O=tlsengine/CN=tlsengine Demo Intermediate CA" intermediate_ext ca
ec_key server.key
sign server "/O=tlsengine/OU=demo/CN=localhost" server_ext intermediate
ec_key client.key
sign client "/O=tlsengine/OU=demo/CN=tlsengine demo client" client_ext intermediate

run openssl verify -CAfile ca.pem -untrusted intermediate.pem -purpose sslserver \
  -verify_hostname localhost server.pem
run openssl verify -CAfile ca.pem -untrusted intermediate.pem -purpose sslclient client.pem

cat "$WORK/server.pem" "$WORK/intermediate.pem" >"$WORK/server-chain.pem"
cat "$WORK/client.pem" "$WORK/intermediate.pem" >"$WORK/client-chain.pem"

not_before=$(openssl x509 -in "$WORK/server.pem" -noout -startdate | sed 's/^notBefore=//')
not_after=$(openssl x509 -in "$WORK/server.pem" -noout -enddate | sed 's/^notAfter=//')

# emit NAME FILE COMMENT: one raw-string constant.
emit() {
  printf '\n/// %s\n' "$3"
  printf 'inline constexpr const char* %s = R"PEM(' "$1"
  cat "$2"
  printf ')PEM";\n'
}

mkdir -p "$(dirname "$OUT")"
{
  cat <<EOF
// tlsengine examples — built-in demo credentials.
//
// WARNING: these are PUBLIC demo credentials. Their private keys are published in the
// tlsengine source tree, so anyone can impersonate these certificates. Use them only to
// run the examples on your own machine. NEVER use them in production or to protect
// anything.
//
// Generated by tools/gen-builtin-certs.sh; do not edit (run the script to regenerate).
// ECDSA P-256. Root "tlsengine Demo Root CA" -> "tlsengine Demo Intermediate CA" -> leaves.
// Valid from ${not_before} until ${not_after}.
#pragma once

namespace tlsengine_examples {
EOF
  emit builtin_ca_pem "$WORK/ca.pem" \
    "Root CA of the demo credentials: what demo clients (and mTLS servers) trust."
  emit builtin_server_cert_pem "$WORK/server-chain.pem" \
    "Server chain (leaf, intermediate): CN=localhost; DNS:localhost, IP:127.0.0.1, IP:::1."
  emit builtin_server_key_pem "$WORK/server.key" \
    "Private key of builtin_server_cert_pem (PKCS#8, unencrypted)."
  emit builtin_client_cert_pem "$WORK/client-chain.pem" \
    "Client chain (leaf, intermediate): CN=tlsengine demo client; clientAuth."
  emit builtin_client_key_pem "$WORK/client.key" \
    "Private key of builtin_client_cert_pem (PKCS#8, unencrypted)."
  printf '\n}  // namespace tlsengine_examples\n'
} >"$WORK/builtin_certs.hpp"

mv -f "$WORK/builtin_certs.hpp" "$OUT"
echo "wrote $OUT"
mkdir -p "$CERTS_DIR"
for entry in "${PEM_FILES[@]}"; do
  read -r name file <<<"$entry"
  pem_constant "$OUT" "$name" >"$CERTS_DIR/$file"
done
echo "wrote $CERTS_DIR/{ca.pem,server-chain.pem,server.key,client-chain.pem,client.key}"
