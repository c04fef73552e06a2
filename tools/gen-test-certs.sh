#!/usr/bin/env bash
# tools/gen-test-certs.sh OUTDIR
#
# Generates the PKI used by tlsengine's tests into OUTDIR, with nothing but the
# `openssl` command line tool of OpenSSL 3.0 (no faketime, no python).
#
# Idempotent: when every file already exists it exits at once. Otherwise it builds the
# whole set in a temporary directory inside OUTDIR and moves it into place, ca.pem last
# (ca.pem is the file the build system watches), so an interrupted run never leaves a
# half-made set that looks complete.
#
# Files (PEM; keys are unencrypted PKCS#8 unless noted):
#   ca.pem ca.key                  root CA "tlsengine Test Root CA" (RSA 2048, 20 years)
#   intermediate.pem .key          "tlsengine Test Intermediate CA", CA:TRUE pathlen:0 (RSA 2048)
#   ca-bundle.pem                  the root only (what clients trust)
#   ca-with-intermediate.pem       root then intermediate
#   server-rsa.pem .key -chain.pem RSA 2048 leaf for localhost, *.example.test, 127.0.0.1, ::1;
#                                  serverAuth; AIA OCSP + caIssuers; 10 years
#   server-rsa-encrypted.key       the same RSA key, PKCS#8 AES-256-CBC, passphrase "secret"
#   server-ecdsa.pem .key -chain.pem  the same as server-rsa but EC P-256
#   expired.pem .key -chain.pem    EC leaf for localhost, valid 2020-01-01 .. 2021-01-01
#   notyetvalid.pem .key -chain.pem  EC leaf for localhost, valid 2090-01-01 .. 2100-01-01
#   wronghost.pem .key -chain.pem  EC leaf, CN and only SAN DNS:wrong.example
#   selfsigned.pem .key            self-signed EC leaf, CN=localhost, SAN localhost,127.0.0.1
#   client.pem .key -chain.pem     EC leaf CN="tlsengine client", clientAuth
#   other-ca.pem .key              unrelated self-signed root "tlsengine Other CA" (RSA 2048)
#   untrusted.pem .key -chain.pem  EC leaf for localhost signed by other-ca (chain: + other-ca)
#   nosan.pem .key -chain.pem      EC leaf CN=localhost without subjectAltName
# Every *-chain.pem is the leaf followed by its issuing intermediate (other-ca for untrusted).
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi

FILES=(
  ca.pem ca.key intermediate.pem intermediate.key ca-bundle.pem ca-with-intermediate.pem
  server-rsa.pem server-rsa.key server-rsa-chain.pem server-rsa-encrypted.key
  server-ecdsa.pem server-ecdsa.key server-ecdsa-chain.pem
  expired.pem expired.key expired-chain.pem
  notyetvalid.pem notyetvalid.key notyetvalid-chain.pem
  wronghost.pem wronghost.key wronghost-chain.pem
  selfsigned.pem selfsigned.key
  client.pem client.key client-chain.pem
  other-ca.pem other-ca.key
  untrusted.pem untrusted.key untrusted-chain.pem
  nosan.pem nosan.key nosan-chain.pem
  revoked.pem revoked.key revoked-chain.pem crl-intermediate.pem crl-root.pem
  ocsp-server-rsa.der server-rsa.p12 dh512.pem dh1024.pem
)

all_present() {
  local f
  for f in "${FILES[@]}"; do
    [[ -s "$OUTDIR/$f" ]] || return 1
  done
  return 0
}

OUTDIR=$1
if [[ -e "$OUTDIR/ca.pem" ]] && all_present; then
  exit 0
fi

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

# Serialise concurrent runs (e.g. two build trees sharing a directory) when flock exists.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$OUTDIR/.gen-test-certs.lock"
  flock 9
  if all_present; then
    exit 0
  fi
fi

command -v openssl >/dev/null 2>&1 || { echo "gen-test-certs.sh: openssl not found" >&2; exit 1; }

WORK=$(mktemp -d "$OUTDIR/.gen-test-certs.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"

# Never let a user or system openssl.cnf change what we generate.
export OPENSSL_CONF=/dev/null

# run CMD...: quiet on success, shows openssl's output and fails on error.
run() {
  if ! "$@" >"$WORK/log" 2>&1; then
    cat "$WORK/log" >&2
    echo "gen-test-certs.sh: command failed: $*" >&2
    exit 1
  fi
}

cat >openssl.cnf <<'EOF'
[ req ]
distinguished_name = req_dn
prompt             = no
string_mask        = utf8only
utf8               = yes

[ req_dn ]
CN = unused

[ alt_localhost ]
DNS.1 = localhost
DNS.2 = *.example.test
IP.1  = 127.0.0.1
IP.2  = ::1

[ alt_selfsigned ]
DNS.1 = localhost
IP.1  = 127.0.0.1

[ root_ext ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash

[ intermediate_ext ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ server_rsa_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectAltName         = @alt_localhost
authorityInfoAccess    = OCSP;URI:http://ocsp.example.test/, caIssuers;URI:http://ca.example.test/ca.pem
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ server_ec_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = @alt_localhost
authorityInfoAccess    = OCSP;URI:http://ocsp.example.test/, caIssuers;URI:http://ca.example.test/ca.pem
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ leaf_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = @alt_localhost
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ wronghost_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:wrong.example
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ nosan_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ client_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ selfsigned_ext ]
basicConstraints       = critical, CA:FALSE
extendedKeyUsage       = serverAuth
subjectAltName         = @alt_selfsigned
subjectKeyIdentifier   = hash

# Minimal CA database, used only where explicit validity dates are needed
# (OpenSSL 3.0's `x509 -req` cannot set notBefore).
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
countryName            = optional
stateOrProvinceName    = optional
localityName           = optional
organizationName       = optional
organizationalUnitName = optional
commonName             = supplied
EOF

CNF=openssl.cnf
LOCALHOST_SUBJ="/C=US/ST=CA/L=SF/O=tlsengine/OU=test/CN=localhost"

rsa_key() { run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }
ec_key() {
  run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -pkeyopt ec_param_enc:named_curve -out "$1"
}

# self_signed NAME SUBJECT EXTENSIONS DAYS  (NAME.key must exist)
self_signed() {
  run openssl req -config "$CNF" -new -x509 -sha256 -key "$1.key" -subj "$2" \
    -extensions "$3" -days "$4" -out "$1.pem"
}

# sign NAME SUBJECT EXTENSIONS DAYS ISSUER  (NAME.key and ISSUER.{pem,key} must exist)
# A random serial is used (no ISSUER.srl file exists in the work directory).
sign() {
  run openssl req -config "$CNF" -new -sha256 -key "$1.key" -subj "$2" -out "$1.csr"
  run openssl x509 -req -sha256 -in "$1.csr" -CA "$5.pem" -CAkey "$5.key" \
    -extfile "$CNF" -extensions "$3" -days "$4" -out "$1.pem"
}

# sign_dated NAME SUBJECT EXTENSIONS STARTDATE ENDDATE ISSUER  (via `openssl ca`)
sign_dated() {
  run openssl req -config "$CNF" -new -sha256 -key "$1.key" -subj "$2" -out "$1.csr"
  run openssl ca -config "$CNF" -batch -notext -rand_serial -in "$1.csr" -out "$1.pem" \
    -cert "$6.pem" -keyfile "$6.key" -extfile "$CNF" -extensions "$3" \
    -startdate "$4" -enddate "$5"
}

chain() { cat "$1.pem" "$2.pem" >"$1-chain.pem"; }

mkdir -p cadb/newcerts
: >cadb/index.txt
echo 01 >cadb/serial

# Roots and intermediate.
rsa_key ca.key
self_signed ca "/O=tlsengine/CN=tlsengine Test Root CA" root_ext 7300
rsa_key intermediate.key
sign intermediate "/O=tlsengine/CN=tlsengine Test Intermediate CA" intermediate_ext 7300 ca
rsa_key other-ca.key
self_signed other-ca "/O=tlsengine/CN=tlsengine Other CA" root_ext 7300
cp ca.pem ca-bundle.pem
cat ca.pem intermediate.pem >ca-with-intermediate.pem

# Servers.
rsa_key server-rsa.key
sign server-rsa "$LOCALHOST_SUBJ" server_rsa_ext 3650 intermediate
chain server-rsa intermediate
run openssl pkcs8 -topk8 -in server-rsa.key -v2 aes-256-cbc -passout pass:secret \
  -out server-rsa-encrypted.key

ec_key server-ecdsa.key
sign server-ecdsa "$LOCALHOST_SUBJ" server_ec_ext 3650 intermediate
chain server-ecdsa intermediate

# Broken on purpose.
ec_key expired.key
sign_dated expired "$LOCALHOST_SUBJ" leaf_ext 20200101000000Z 20210101000000Z intermediate
chain expired intermediate

ec_key notyetvalid.key
sign_dated notyetvalid "$LOCALHOST_SUBJ" leaf_ext 20900101000000Z 21000101000000Z intermediate
chain notyetvalid intermediate

ec_key wronghost.key
sign wronghost "/O=tlsengine/OU=test/CN=wrong.example" wronghost_ext 3650 intermediate
chain wronghost intermediate

ec_key selfsigned.key
self_signed selfsigned "/O=tlsengine/OU=test/CN=localhost" selfsigned_ext 3650

ec_key untrusted.key
sign untrusted "$LOCALHOST_SUBJ" leaf_ext 3650 other-ca
chain untrusted other-ca

ec_key nosan.key
sign nosan "/O=tlsengine/OU=test/CN=localhost" nosan_ext 3650 intermediate
chain nosan intermediate

# Client.
ec_key client.key
sign client "/O=tlsengine/OU=test/CN=tlsengine client" client_ext 3650 intermediate
chain client intermediate

# Revocation: a leaf revoked by the intermediate, a CRL from each CA (Node checks CRLs
# for the whole chain, so the root's empty CRL is needed too).
ec_key revoked.key
sign_dated revoked "$LOCALHOST_SUBJ" leaf_ext 20250101000000Z 20350101000000Z intermediate
chain revoked intermediate
run openssl ca -config "$CNF" -batch -revoke revoked.pem -cert intermediate.pem \
  -keyfile intermediate.key -crl_reason keyCompromise
run openssl ca -config "$CNF" -batch -gencrl -cert intermediate.pem -keyfile intermediate.key \
  -crldays 3650 -out crl-intermediate.pem
mkdir -p cadb-root/newcerts
: >cadb-root/index.txt
sed 's/^dir             = cadb$/dir             = cadb-root/' "$CNF" >openssl-root.cnf
run openssl ca -config openssl-root.cnf -batch -gencrl -cert ca.pem -keyfile ca.key \
  -crldays 3650 -out crl-root.pem

# An OCSP response for server-rsa ("good"), signed by its issuer, to staple. server-rsa
# was made with `x509 -req`, so it is entered in the CA database by hand first.
serial=$(openssl x509 -in server-rsa.pem -noout -serial | cut -d= -f2)
printf 'V\t351231235959Z\t\t%s\tunknown\t/CN=localhost\n' "$serial" >>cadb/index.txt
run openssl ocsp -issuer intermediate.pem -cert server-rsa.pem -no_nonce -reqout ocsp-req.der
run openssl ocsp -index cadb/index.txt -rsigner intermediate.pem -rkey intermediate.key \
  -CA intermediate.pem -reqin ocsp-req.der -respout ocsp-server-rsa.der -ndays 3650

# PKCS#12 bundle of server-rsa with its chain, passphrase "secret".
run openssl pkcs12 -export -in server-rsa.pem -inkey server-rsa.key -certfile intermediate.pem \
  -passout pass:secret -out server-rsa.p12

# DH parameters: too small (512) and small-but-allowed (1024) for dhparam/min_dh_size.
run openssl genpkey -genparam -algorithm DH -pkeyopt dh_paramgen_prime_len:512 -out dh512.pem
run openssl genpkey -genparam -algorithm DH -pkeyopt dh_paramgen_prime_len:1024 -out dh1024.pem

# Sanity checks: a broken openssl invocation must not produce a "valid" set.
run openssl verify -CAfile ca.pem -untrusted intermediate.pem \
  server-rsa.pem server-ecdsa.pem wronghost.pem nosan.pem client.pem
run openssl verify -CAfile other-ca.pem untrusted.pem
if openssl verify -CAfile ca.pem -untrusted intermediate.pem expired.pem >/dev/null 2>&1; then
  echo "gen-test-certs.sh: expired.pem unexpectedly verifies" >&2
  exit 1
fi

# Install: everything but ca.pem first, ca.pem last.
for f in "${FILES[@]}"; do
  [[ -s "$f" ]] || { echo "gen-test-certs.sh: $f was not produced" >&2; exit 1; }
done
for f in "${FILES[@]}"; do
  [[ $f == ca.pem ]] || mv -f "$f" "$OUTDIR/$f"
done
mv -f ca.pem "$OUTDIR/ca.pem"
