// tlsengine — binds server sessions to the verification policy that made them: what was
// asked of the client's certificate and the trust it was verified against. A session
// (id, ticket, external cache entry) that does not match the resuming connection's policy
// is a cache miss: the handshake is a full one, which applies the policy.
#pragma once

#include "openssl_error.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <utility>
#include <vector>

namespace tlsengine::detail {

/// What a server asks of the client's certificate.
struct verify_policy {
  bool request_cert = false;        // CertificateRequest sent (Node's requestCert)
  bool require_cert = false;        // and a verified certificate required (rejectUnauthorized)
  bool application_decides = false; // the verify_peer decision (pause_on_verify)

  static verify_policy of(bool request_cert, bool reject_unauthorized, bool pause_on_verify) {
    verify_policy p;
    p.request_cert = request_cert;
    p.require_cert = request_cert && reject_unauthorized;
    p.application_decides = request_cert && pause_on_verify;
    return p;
  }

  int ssl_verify_mode() const noexcept {
    if (!request_cert) return SSL_VERIFY_NONE;
    return SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE |
           (require_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
  }

  /// The policy as 3 bits, 0 to policy_count - 1 (a context binds each in advance).
  unsigned char flags() const noexcept {
    return static_cast<unsigned char>((request_cert ? 1 : 0) | (require_cert ? 2 : 0) |
                                      (application_decides ? 4 : 0));
  }
  static verify_policy from_flags(unsigned char flags) noexcept {
    verify_policy p;
    p.request_cert = (flags & 1) != 0;
    p.require_cert = (flags & 2) != 0;
    p.application_decides = (flags & 4) != 0;
    return p;
  }
  static constexpr std::size_t policy_count = 8;
};

using sha256_digest = std::array<unsigned char, 32>;

inline bool sha256_of(const std::vector<std::pair<const void*, std::size_t>>& parts,
                      sha256_digest& out) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  unsigned int length = 0;
  bool ok = md != nullptr && EVP_DigestInit_ex(md, EVP_sha256(), nullptr) == 1;
  for (const auto& part : parts)
    ok = ok && EVP_DigestUpdate(md, part.first, part.second) == 1;
  ok = ok && EVP_DigestFinal_ex(md, out.data(), &length) == 1 && length == out.size();
  EVP_MD_CTX_free(md);
  return ok;
}

/// A digest of a trust store as a set: its CA certificates and CRLs (in any order), its
/// verification flags (CRL checking, partial chains) and whether the system's default
/// locations are used. Taken once, when the context is made (contexts are immutable
/// after creation); lookups the system store makes later do not change it.
inline std::vector<unsigned char> trust_digest(X509_STORE* store, bool default_paths) {
  std::vector<sha256_digest> members;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = 0; objects != nullptr && i < sk_X509_OBJECT_num(objects); ++i) {
    X509_OBJECT* object = sk_X509_OBJECT_value(objects, i);
    unsigned char* der = nullptr;
    int n = 0;
    unsigned char kind = 0;
    if (X509* cert = X509_OBJECT_get0_X509(object)) {
      n = i2d_X509(cert, &der);
      kind = 'C';
    } else if (X509_CRL* crl = X509_OBJECT_get0_X509_CRL(object)) {
      n = i2d_X509_CRL(crl, &der);
      kind = 'R';
    }
    sha256_digest member{};
    const bool ok = n > 0 && sha256_of({{&kind, 1}, {der, static_cast<std::size_t>(n)}}, member);
    OPENSSL_free(der);
    if (ok) members.push_back(member);
  }
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  const unsigned long flags = X509_VERIFY_PARAM_get_flags(X509_STORE_get0_param(store));
  const unsigned char header[] = {static_cast<unsigned char>(default_paths ? 1 : 0)};
  std::vector<std::pair<const void*, std::size_t>> parts = {{header, sizeof header},
                                                            {&flags, sizeof flags}};
  for (const sha256_digest& member : members)
    parts.emplace_back(member.data(), member.size());
  sha256_digest digest{};
  clear_error_queue();
  if (!sha256_of(parts, digest)) return {};
  return std::vector<unsigned char>(digest.begin(), digest.end());
}

/// The session id context of a server connection: SHA-256 over the context's identity
/// (its certificates, or the application's session_id_context), the policy and, when a
/// certificate is requested, the trust it is verified against. Without client
/// authentication the trust plays no part, so changing it does not cost resumptions.
inline std::vector<unsigned char> session_binding(const std::vector<unsigned char>& identity,
                                                  const std::vector<unsigned char>& trust,
                                                  const verify_policy& policy) {
  static const char label[] = "tlsengine session binding v1";
  const unsigned char flags = policy.flags();
  std::vector<std::pair<const void*, std::size_t>> parts = {
      {label, sizeof label}, {identity.data(), identity.size()}, {&flags, 1}};
  if (policy.request_cert) parts.emplace_back(trust.data(), trust.size());
  sha256_digest digest{};
  if (!sha256_of(parts, digest)) {
    clear_error_queue();
    return {};
  }
  static_assert(sizeof(digest) <= SSL_MAX_SID_CTX_LENGTH, "fits a session id context");
  return std::vector<unsigned char>(digest.begin(), digest.end());
}

/// Who judges a client's server besides OpenSSL's chain check: the application through
/// pause_on_verify (1) or pause_on_ocsp_response (4), a check_server_identity of its own (2).
inline constexpr unsigned char client_binding_count = 8;
inline unsigned char client_binding_flags(bool application_decides, bool own_identity_check,
                                          bool application_judges_ocsp) noexcept {
  return static_cast<unsigned char>((application_decides ? 1 : 0) | (own_identity_check ? 2 : 0) |
                                    (application_judges_ocsp ? 4 : 0));
}

/// What a client's sessions are bound to: the trust the server was verified against, and
/// who judged it (client_binding_flags). Stored in the session's ticket_appdata, which
/// OpenSSL serializes with the session and never uses on a client; a client offers only
/// sessions bound as it would bind them. Each context computes the eight once.
inline std::vector<unsigned char> client_session_binding(const std::vector<unsigned char>& trust,
                                                         unsigned char flags) {
  static const char label[] = "tlsengine client session binding v1";
  sha256_digest digest{};
  if (!sha256_of({{label, sizeof label}, {trust.data(), trust.size()}, {&flags, 1}}, digest)) {
    clear_error_queue();
    return {};
  }
  return std::vector<unsigned char>(digest.begin(), digest.end());
}

inline bool client_session_bound_to(const SSL_SESSION* session,
                                    const std::vector<unsigned char>& binding) {
  void* data = nullptr;
  std::size_t length = 0;
  SSL_SESSION_get0_ticket_appdata(const_cast<SSL_SESSION*>(session), &data, &length);
  // The binding comes first; the handshake facts follow it (handshake_facts.hpp).
  return !binding.empty() && length >= binding.size() && data != nullptr &&
         std::memcmp(data, binding.data(), binding.size()) == 0;
}

/// May `session` be resumed by a connection bound to `binding` under `policy`? OpenSSL
/// 3.0 already compares session id contexts; the engine checks again at each of its own
/// entry points (tickets of both versions, the external cache), and where a certificate
/// is required a session without one never resumes, whatever its binding says (defence
/// in depth: a forged or mis-shared cache entry, a binding collision).
inline bool session_meets_policy(const SSL_SESSION* session,
                                 const std::vector<unsigned char>& binding,
                                 const verify_policy& policy) {
  unsigned int length = 0;
  const unsigned char* made_under = SSL_SESSION_get0_id_context(session, &length);
  if (binding.empty() || length != binding.size() ||
      std::memcmp(made_under, binding.data(), length) != 0)
    return false;
  if (policy.require_cert && SSL_SESSION_get0_peer(const_cast<SSL_SESSION*>(session)) == nullptr)
    return false;
  return true;
}

} // namespace tlsengine::detail
