// tlsengine — certificate_info: Node's getPeerCertificate() object, field by field.
//
// Formats follow Node 20 (src/crypto/crypto_common.cc X509ToObject and lib/_tls_common.js
// translatePeerCertificate): subjectaltname uses Node's "safe" printing (names with commas,
// quotes or control characters are JSON-quoted), valid_from/valid_to come from
// ASN1_TIME_print, modulus/serial_number are uppercase hex, exponent is "0x" + lowercase hex,
// fingerprints are uppercase hex pairs joined by ':'.
#pragma once

#include "detail/config.hpp"

#include "bytes.hpp"
#include "errors.hpp"
#include "result.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace tlsengine {

/// A subject or issuer name: the entries in certificate order, keyed by OpenSSL's short
/// name ("C", "ST", "L", "O", "OU", "CN", "emailAddress", ...) or, for attribute types
/// OpenSSL does not know, the dotted OID. Values are UTF-8 and unescaped (as Node's
/// getPeerCertificate().subject).
struct distinguished_name {
  std::vector<std::pair<std::string, std::string>> entries;

  /// The first value for `key`, "" if absent.
  std::string_view get(std::string_view key) const noexcept;
  /// Every value for `key`, in certificate order.
  std::vector<std::string> get_all(std::string_view key) const;
  bool empty() const noexcept { return entries.empty(); }
  /// Node's X509Certificate subject/issuer string: one "KEY=value" line per entry, values
  /// escaped as X509_NAME_print_ex(XN_FLAG_SEP_MULTILINE | ASN1_STRFLGS_ESC_2253 |
  /// ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_UTF8_CONVERT) does. (Multi-valued RDNs, which
  /// Node prints as "A=x + B=y" on one line, are printed one entry per line.)
  std::string to_string() const;
};

/// The certificate object of Node's tlsSocket.getPeerCertificate() /
/// X509Certificate.toLegacyObject(). Fields Node leaves undefined are empty here.
struct certificate_info {
  distinguished_name subject, issuer;
  /// Exactly Node's string, e.g. "DNS:localhost, IP Address:127.0.0.1,
  /// IP Address:0:0:0:0:0:0:0:1"; "" when the certificate has no subjectAltName.
  std::string subjectaltname;
  /// Node's infoAccess flattened to (key, value) pairs in certificate order, e.g.
  /// {"OCSP - URI", "http://ocsp.example/"}, {"CA Issuers - URI", "http://ca.example/ca.pem"}.
  std::vector<std::pair<std::string, std::string>> info_access;
  bool ca = false;      ///< X509_check_ca(cert) == 1
  int bits = 0;         ///< RSA modulus or EC group order size; 0 for other key types
  std::string exponent; ///< RSA: "0x10001"
  std::string modulus;  ///< RSA: uppercase hex, no leading zeros
  /// RSA: DER SubjectPublicKeyInfo. EC: the encoded public point (0x04 || X || Y, or the
  /// compressed form if the certificate uses it), as Node. Empty for other key types.
  std::vector<std::uint8_t> pubkey;
  std::string asn1_curve, nist_curve;                      ///< EC: "prime256v1", "P-256"
  std::string valid_from, valid_to;                        ///< "Sep  3 21:30:00 2024 GMT"
  std::string fingerprint, fingerprint256, fingerprint512; ///< "AB:CD:..." uppercase
  std::vector<std::string> ext_key_usage;                  ///< OIDs, e.g. "1.3.6.1.5.5.7.3.1"
  std::string serial_number;                               ///< uppercase hex (BN_bn2hex)
  std::vector<std::uint8_t> raw;                           ///< DER
  /// Set only by the detailed peer_certificate(); nullptr at a self-issued certificate
  /// (where Node makes the object refer to itself) or where the peer's chain ends.
  std::shared_ptr<const certificate_info> issuer_certificate;

  bool empty() const noexcept { return raw.empty(); }

  /// Parses one DER certificate (trailing bytes are an error). Bad input yields an
  /// error_code in openssl_category() carrying OpenSSL's reason.
  static result<certificate_info> from_der(bytes_view der);
  /// The first certificate in a PEM text (other PEM blocks before it are skipped).
  static result<certificate_info> from_pem(std::string_view pem);
};

namespace detail {
namespace cert_impl {

struct bio_free_t {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct x509_free_t {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
struct bn_free_t {
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};
struct general_names_free_t {
  void operator()(GENERAL_NAMES* p) const noexcept { GENERAL_NAMES_free(p); }
};
struct aia_free_t {
  void operator()(AUTHORITY_INFO_ACCESS* p) const noexcept { AUTHORITY_INFO_ACCESS_free(p); }
};
struct eku_free_t {
  void operator()(EXTENDED_KEY_USAGE* p) const noexcept { EXTENDED_KEY_USAGE_free(p); }
};
struct openssl_free_t {
  void operator()(void* p) const noexcept { OPENSSL_free(p); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free_t>;
using x509_ptr = std::unique_ptr<X509, x509_free_t>;
using bn_ptr = std::unique_ptr<BIGNUM, bn_free_t>;

/// Keeps the thread's OpenSSL error queue as it was: whatever the code in scope pushes
/// (a malformed extension, an unsupported key) is dropped at the end of the scope.
class error_queue_guard {
public:
  error_queue_guard() noexcept { ERR_set_mark(); }
  ~error_queue_guard() { ERR_pop_to_mark(); }
  error_queue_guard(const error_queue_guard&) = delete;
  error_queue_guard& operator=(const error_queue_guard&) = delete;
};

TLSENGINE_DECL bio_ptr new_mem_bio() noexcept;

/// The contents of a memory BIO (which is then reset).
TLSENGINE_DECL std::string take_bio(BIO* bio);

TLSENGINE_DECL void append_hex_byte(std::string& out, unsigned value, bool upper);

/// Node's AddFingerprintDigest: "AB:CD:...".
TLSENGINE_DECL std::string colon_hex(const unsigned char* data, std::size_t len);

TLSENGINE_DECL void append_utf8(std::string& out, std::uint32_t cp);

TLSENGINE_DECL int hex_value(char c) noexcept;

/// Matches Node's jsonStringPattern (a JSON string literal) at the start of `s` and decodes
/// it to UTF-8 into *decoded. Returns the length of the literal, or 0 if there is none.
TLSENGINE_DECL std::size_t match_json_string(std::string_view s, std::string* decoded);

/// Node's IsSafeAltName.
TLSENGINE_DECL bool is_safe_alt_name(const unsigned char* name, std::size_t len,
                                     bool utf8) noexcept;

/// Node's PrintAltName: safe names verbatim, others as a JSON string literal.
TLSENGINE_DECL void print_alt_name(std::string& out, const unsigned char* name, std::size_t len,
                                   bool utf8, const char* safe_prefix);

TLSENGINE_DECL void print_latin1(std::string& out, const ASN1_STRING* s,
                                 const char* prefix = nullptr);

TLSENGINE_DECL void print_utf8(std::string& out, const ASN1_STRING* s,
                               const char* prefix = nullptr);

/// Node's PrintGeneralName (the format of subjectaltname entries and infoAccess values).
TLSENGINE_DECL bool print_general_name(std::string& out, const GENERAL_NAME* gen);

/// Node's subjectaltname string; "" when absent or undecodable.
TLSENGINE_DECL std::string subject_alt_name_string(const X509* cert);

/// Node's infoAccess: SafeX509InfoAccessPrint, then translatePeerCertificate's split of each
/// "METHOD - TYPE:value" line into key "METHOD - TYPE" and value (JSON-decoded if quoted).
TLSENGINE_DECL std::vector<std::pair<std::string, std::string>>
info_access_entries(const X509* cert);

/// Node's GetX509NameObject: short names (or dotted OIDs) and UTF-8 values. As in Node, a
/// value that cannot be converted to UTF-8 makes the whole name absent.
TLSENGINE_DECL distinguished_name name_entries(const X509_NAME* name);

TLSENGINE_DECL std::string print_time(BIO* bio, const ASN1_TIME* t);

TLSENGINE_DECL std::string digest_fingerprint(const X509* cert, const EVP_MD* md);

TLSENGINE_DECL void fill_public_key(certificate_info& info, X509* cert, BIO* bio);

/// The error OpenSSL recorded for a failed parse, or `fallback_reason` in `fallback_lib`.
/// `queue_was_empty` tells whether the first queued error is ours (the most specific one).
TLSENGINE_DECL std::error_code parse_error(bool queue_was_empty, int fallback_lib,
                                           int fallback_reason);

/// RFC 2253 escaping of one value byte string, as X509_NAME_print_ex with
/// ASN1_STRFLGS_ESC_2253 | ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_UTF8_CONVERT (do_esc_char).
TLSENGINE_DECL void append_escaped_name_value(std::string& out, std::string_view value);

} // namespace cert_impl

/// Builds the certificate object for one certificate (issuer_certificate stays null).
/// `cert` is not consumed. The thread's OpenSSL error queue is left as it was.
TLSENGINE_DECL certificate_info certificate_info_from_x509(X509* cert);

/// The leaf's object with issuer_certificate links through the chain the peer sent
/// (`chain` may start with the leaf, may be null). Each chain certificate is used at most
/// once; the walk stops at a self-issued certificate or when no issuer is found.
TLSENGINE_DECL certificate_info certificate_info_with_chain(X509* leaf, STACK_OF(X509) * chain);

} // namespace detail

} // namespace tlsengine

#if !defined(TLSENGINE_SEPARATE_COMPILATION)
#include "impl/certificate.hpp"
#endif
