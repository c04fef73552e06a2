// tlsengine — context_options and secure_context: Node's tls.createSecureContext.
#pragma once

#include "detail/config.hpp"

#include "bytes.hpp"
#include "detail/callbacks.hpp"
#include "detail/handles.hpp"
#include "detail/openssl_error.hpp"
#include "detail/session_policy.hpp"
#include "detail/session_cache.hpp"
#include "errors.hpp"
#include "result.hpp"

#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tlsengine {

/// Node's tls.DEFAULT_CIPHERS (v20): TLS 1.3 suites and TLS 1.2 cipher strings in one list.
inline constexpr const char* default_ciphers =
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256:"
    "DHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384:DHE-RSA-AES256-SHA384:ECDHE-RSA-AES256-SHA256:"
    "DHE-RSA-AES256-SHA256:HIGH:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!MD5:!PSK:!SRP:!CAMELLIA";
inline constexpr const char* default_min_version = "TLSv1.2";
inline constexpr const char* default_max_version = "TLSv1.3";
inline constexpr const char* default_ecdh_curve = "auto";

/// One private key: PEM text and, for an encrypted key, its passphrase (Node's {pem, passphrase}).
struct key_entry {
  std::string pem;
  std::optional<std::string> passphrase;

  key_entry(std::string pem_text) : pem(std::move(pem_text)) {}
  key_entry(const char* pem_text) : pem(pem_text) {}
  key_entry(std::string pem_text, std::string pass);
};

/// One PKCS#12 bundle (Node's pfx entry {buf, passphrase}).
struct pfx_entry {
  std::vector<std::uint8_t> buf;
  std::optional<std::string> passphrase;

  pfx_entry(std::vector<std::uint8_t> der) : buf(std::move(der)) {}
  pfx_entry(std::vector<std::uint8_t> der, std::string pass);
};

/// tls.createSecureContext options, in snake_case.
struct context_options {
  std::vector<key_entry> key;    ///< private keys (PEM), one per certificate
  std::string passphrase;        ///< for keys that carry none of their own
  std::vector<std::string> cert; ///< certificate chains (PEM: leaf first, then intermediates)
  std::vector<std::string> ca;   ///< trusted CAs (PEM); empty = the system trust store
  std::string ciphers;           ///< empty = default_ciphers
  bool honor_cipher_order = false;
  std::string ecdh_curve = default_ecdh_curve; ///< "auto" or a ':'-list of groups
  std::string sigalgs;                         ///< empty = OpenSSL's default
  /// OpenSSL's client_sigalgs: the schemes for client authentication (a server's
  /// CertificateRequest list; a client's choices for its CertificateVerify); empty: `sigalgs`.
  std::string client_sigalgs;
  std::string min_version = default_min_version;
  std::string max_version = default_max_version;
  /// Node's secureProtocol (its older docs): an OpenSSL method name mapped to the versions
  /// it allowed: "TLS_method" TLSv1..TLSv1.3, "SSLv23_method" TLSv1..TLSv1.2,
  /// "TLSv1_method" / "TLSv1_1_method" / "TLSv1_2_method" that version only (each also with
  /// _client_ / _server_). SSLv2/SSLv3 methods and unknown names:
  /// errc::invalid_protocol_method; with min_version / max_version changed too:
  /// errc::protocol_version_conflict. Empty: min_version / max_version.
  std::string secure_protocol;
  long secure_options = 0; ///< SSL_OP_* flags added to the context
  /// Server sessions are bound to this (default: a digest of the certificates) and to
  /// the verification policy (the README explains the binding).
  std::string session_id_context;
  long session_timeout = 300;   ///< seconds
  std::vector<pfx_entry> pfx;   ///< PKCS#12 bundles: key, certificate and chain
  std::vector<std::string> crl; ///< PEM CRLs; checked for every certificate of the chain
  std::string dhparam;          ///< "auto" or PEM DH parameters (>= 1024 bits); empty: no DHE
  /// Trust an intermediate CA in `ca` without its root (X509_V_FLAG_PARTIAL_CHAIN).
  bool allow_partial_trust_chain = false;
};

namespace detail {

TLSENGINE_DECL int parse_tls_version(std::string_view name) noexcept;

/// secureProtocol → [min, max]; {} when the name is a method, else the error.
TLSENGINE_DECL std::error_code secure_protocol_versions(std::string_view method, int& min,
                                                        int& max);

TLSENGINE_DECL int pem_passphrase_callback(char* buffer, int size, int, void* user);

TLSENGINE_DECL bio_ptr memory_bio(std::string_view text);

/// True when the error queue only says "no more PEM blocks" (the normal end of a file).
TLSENGINE_DECL bool only_pem_end_in_queue();

TLSENGINE_DECL std::error_code configure_ciphers(SSL_CTX* ctx, const std::string& ciphers,
                                                 std::string& list12, std::string& suites13);

TLSENGINE_DECL std::error_code load_certificates(SSL_CTX* ctx,
                                                 const std::vector<std::string>& chains);

TLSENGINE_DECL std::error_code load_keys(SSL_CTX* ctx, const std::vector<key_entry>& keys,
                                         const std::string& shared_passphrase);

TLSENGINE_DECL std::error_code load_trust(SSL_CTX* ctx, const std::vector<std::string>& cas);

TLSENGINE_DECL std::error_code ssl_reason(int reason);

/// Every certificate needs its key and every key its certificate (OpenSSL pairs them
/// by key type; a mismatch of the same type already failed with "key values mismatch").
TLSENGINE_DECL std::error_code check_keys(SSL_CTX* ctx, std::size_t certificates, std::size_t keys);

TLSENGINE_DECL std::error_code load_pfx(SSL_CTX* ctx, const std::vector<pfx_entry>& bundles,
                                        const std::string& shared_passphrase);

TLSENGINE_DECL std::error_code load_crls(SSL_CTX* ctx, const std::vector<std::string>& crls);

TLSENGINE_DECL std::error_code load_dhparam(SSL_CTX* ctx, const std::string& dhparam);

/// SHA-256 over the DER of every certificate of the context, truncated to the session id
/// context size; a fixed label when there is none (clients).
TLSENGINE_DECL unsigned int identity_digest(SSL_CTX* ctx, unsigned char* out);

/// Completes, once, the chain of every certificate configured without one, from the trust
/// store (as Node does when it loads a certificate), then turns OpenSSL's automatic chain
/// building off. Without this, OpenSSL rebuilds such a chain in every handshake: a store
/// lookup that, with the system store, reads the certificate directory (openat, getdents)
/// for each connection.
TLSENGINE_DECL void complete_chains(SSL_CTX* ctx);

struct context_state {
  ssl_ctx_ptr ctx;
  std::string cipher_list;  // TLS 1.2 part of `ciphers`, re-applied after an SNI switch
  std::string ciphersuites; // TLS 1.3 part
  std::vector<unsigned char> session_id_context; // the identity sessions are bound to
  // The session id context of a server connection for each verify_policy::flags(),
  // computed once here rather than hashed for every connection.
  std::array<std::vector<unsigned char>, verify_policy::policy_count> session_bindings;
  std::vector<unsigned char> trust; // digest of the CAs, CRLs and store flags (client sessions)
  // What a client connection binds its sessions to, for each client_binding_flags() value:
  // hashed once here rather than for every connection and every ticket.
  std::array<std::vector<unsigned char>, client_binding_count> client_bindings;
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  bool has_certificate = false;
  session_cache client_sessions; // session bytes given to client connections, parsed once
};

} // namespace detail

/// A shareable, immutable-after-creation TLS configuration (an SSL_CTX). Copies share it;
/// it may be used by connections on many threads.
class secure_context {
public:
  secure_context() = default;

  static result<secure_context> create(const context_options& options);

  explicit operator bool() const noexcept { return state_ != nullptr; }
  /// The underlying SSL_CTX, for what tlsengine does not wrap. Do not free it.
  SSL_CTX* native_handle() const noexcept { return state_ ? state_->ctx.get() : nullptr; }
  bool has_certificate() const noexcept { return state_ && state_->has_certificate; }
  int min_version() const noexcept { return state_ ? state_->min_version : 0; }
  int max_version() const noexcept { return state_ ? state_->max_version : 0; }
  /// The session id context of a server connection of this context under `policy`:
  /// its identity, the policy and, when client certificates are requested, its trust.
  const std::vector<unsigned char>& session_binding(const detail::verify_policy& policy) const;
  /// The digest of this context's trust (CAs, CRLs, store flags, system store or not).
  const std::vector<unsigned char>& trust_digest() const;
  /// What a client connection of this context binds its sessions to, given who judges the
  /// server (detail::client_binding_flags).
  const std::vector<unsigned char>& client_session_binding(unsigned char flags) const;
  /// Server connections bind their sessions to this context's identity and their policy.
  bool bind_sessions(SSL* ssl, const detail::verify_policy& policy) const;
  /// Client connections: the parsed session for stored session bytes (parsed once).
  session_handle parsed_session(bytes_view bytes) const;
  const std::string& cipher_list() const noexcept { return state_->cipher_list; }
  const std::string& ciphersuites() const noexcept { return state_->ciphersuites; }

  /// Applies what SSL_set_SSL_CTX does not carry over (versions, ciphers, options) to an
  /// SSL that switches to this context (SNI), and binds its sessions under `policy`.
  bool apply_to(SSL* ssl, const detail::verify_policy& policy) const;

private:
  explicit secure_context(std::shared_ptr<detail::context_state> state);
  std::shared_ptr<detail::context_state> state_;
};

} // namespace tlsengine

#if !defined(TLSENGINE_SEPARATE_COMPILATION)
#include "impl/context.hpp"
#endif
