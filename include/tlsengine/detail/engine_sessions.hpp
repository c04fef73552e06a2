// tlsengine — engine, sessions and the identity they are bound to: offering a saved session
// (client), serializing new ones, the external cache and ticket keys (server), and SNI context
// switching. Not public: included by engine.hpp, which declares the class.
#pragma once

#include "engine.hpp"

namespace tlsengine::detail {

inline bool engine::apply_session() {
  // A handle from a `session` event holds OpenSSL's session; bytes are parsed once per
  // context (the parse decodes the server's certificates again).
  const session_handle offered = config_.session.native_handle() != nullptr
                                     ? config_.session
                                     : context_.parsed_session(config_.session.stored_bytes());
  SSL_SESSION* session = offered.native_handle();
  if (session == nullptr) {
    fail_with_openssl(make_error_code(errc::invalid_argument));
    return false;
  }
  // A session made for another server name is never offered (the server's identity
  // is not checked again on resumption): silently fall back to a full handshake.
  const char* made_for = SSL_SESSION_get0_hostname(session);
  if (made_for != nullptr && config_.sni != made_for) return true;
  // Nor one whose server was verified against other CAs or CRLs, or judged by someone
  // else (the application, an identity check of its own): a full handshake verifies it.
  if (!client_session_bound_to(session, client_binding())) return true;
  X509* peer = SSL_SESSION_get0_peer(session);
  if (peer != nullptr && !config_.identity_host.empty()) {
    if (config_.check_identity) {
      // An own check_server_identity judges every connection, resumed or not, as Node
      // calls checkServerIdentity on each: another client's judge accepting this server
      // says nothing about this one's (certificate pinning...). Refused: a full
      // handshake, in which the judge refuses it again with the usual error.
      if (check_identity(peer) || destroyed_ || error_) return true;
    } else if (config_.reject_unauthorized && !offered.known_to_match(config_.identity_host)) {
      if (check_server_identity_x509(config_.identity_host, peer)) return true;
      offered.remember_match(config_.identity_host);
    }
  }
  // This connection's own copy: OpenSSL marks the session it resumed unresumable when a
  // new ticket arrives, which must not reach the handle (or the cache) others resume from.
  ssl_session_ptr own(SSL_SESSION_dup(session));
  if (!own || SSL_set_session(ssl_.get(), own.get()) != 1) {
    fail_with_openssl(make_error_code(errc::invalid_argument));
    return false;
  }
  // SSL_set_session carries the session's verify_result over. A session whose server
  // was not verified (made with reject_unauthorized off) is never resumed by a client that
  // requires verification: a full handshake verifies the server instead.
  if (config_.reject_unauthorized && SSL_get_verify_result(ssl_.get()) != X509_V_OK &&
      SSL_set_session(ssl_.get(), nullptr) != 1) {
    fail_with_openssl(make_error_code(errc::invalid_argument));
    return false;
  }
  return true;
}

inline int engine::on_new_session(SSL_SESSION* session) {
  if (config_.is_server) {
    if (!config_.external_session_cache) return 0;
    // TLS 1.3 with stateless tickets: the ticket carries the session and nothing is ever
    // looked up by id (offered_session_id), so there is nothing to store (OpenSSL reports
    // every ticket: serializing them cost ~27,000 instructions each, storing them memory).
    if (SSL_version(ssl_.get()) == TLS1_3_VERSION &&
        (SSL_get_options(ssl_.get()) & SSL_OP_NO_TICKET) == 0)
      return 0;
    store_facts(session);
    unsigned int id_length = 0;
    const unsigned char* id = SSL_SESSION_get_id(session, &id_length);
    if (id_length == 0) return 0;
    events::new_session e;
    e.id.assign(id, id + id_length);
    e.data = serialize(session);
    if (!e.data.empty()) events_.emplace_back(std::move(e));
    return 0;
  }
  if (SSL_SESSION_is_resumable(session) != 1) return 0;
  std::vector<unsigned char> binding = client_binding();
  if (!binding.empty()) facts().append_to(binding);
  if (binding.empty() ||
      SSL_SESSION_set1_ticket_appdata(session, binding.data(), binding.size()) != 1) {
    clear_error_queue();
    return 0; // a session that cannot be bound is not handed out
  }
  // A copy, not serialized: the application serializes it only if it stores it.
  events::session e{session_handle::from_native(session)};
  if (e.data.empty()) return 0;
  // One event per ticket, as Node, whatever the chunking of the input; a peer flooding
  // tickets meets a bound: beyond max_undelivered_sessions the oldest is dropped.
  std::size_t queued = 0;
  for (const event& pending : events_)
    queued += std::holds_alternative<events::session>(pending) ? 1u : 0u;
  if (queued >= max_undelivered_sessions) {
    for (auto it = events_.begin(); it != events_.end(); ++it) {
      if (std::holds_alternative<events::session>(*it)) {
        events_.erase(it);
        break;
      }
    }
  }
  events_.emplace_back(std::move(e));
  return 0; // we keep no reference (the handle has a copy)
}

inline handshake_facts engine::facts() const {
  SSL* ssl = ssl_.get();
  // Also asked inside the handshake (a ticket or a session is made before it is done).
  if (ssl == nullptr || SSL_get_session(ssl) == nullptr) return {};
  if (SSL_session_reused(ssl) != 1) return live_handshake_facts(ssl, config_.is_server);
  void* data = nullptr;
  std::size_t length = 0;
  SSL_SESSION* session = SSL_get0_session(ssl);
  if (session != nullptr) SSL_SESSION_get0_ticket_appdata(session, &data, &length);
  // A client's appdata starts with its binding digest (client_session_binding).
  const std::size_t skip = config_.is_server ? 0 : sha256_digest().size();
  if (data == nullptr || length < skip) return {};
  return handshake_facts::parse(static_cast<const unsigned char*>(data) + skip, length - skip);
}

inline void engine::store_facts(SSL_SESSION* session) {
  std::vector<unsigned char> encoded;
  facts().append_to(encoded);
  if (session != nullptr && !encoded.empty() &&
      SSL_SESSION_set1_ticket_appdata(session, encoded.data(), encoded.size()) != 1)
    clear_error_queue(); // the session is still valid, only the getters forget after resuming
}

inline int engine::on_generate_ticket() {
  if (config_.is_server) store_facts(SSL_get0_session(ssl_.get()));
  return 1;
}

inline void engine::report_renewed_ticket() {
  const bool renewed =
      ticket_in_handshake_ && !config_.is_server && SSL_session_reused(ssl_.get()) == 1;
  ticket_in_handshake_ = false;
  if (renewed) on_new_session(SSL_get0_session(ssl_.get()));
}

inline std::vector<std::uint8_t> engine::serialize(SSL_SESSION* session) {
  std::vector<std::uint8_t> out;
  const int size = i2d_SSL_SESSION(session, nullptr);
  if (size <= 0) return out;
  out.resize(static_cast<std::size_t>(size));
  unsigned char* p = out.data();
  i2d_SSL_SESSION(session, &p);
  return out;
}

inline SSL_SESSION* engine::on_get_session(const unsigned char* id, int length) {
  if (!resume_choice_) return nullptr;
  unsigned int have_length = 0;
  const unsigned char* have = SSL_SESSION_get_id(resume_choice_.get(), &have_length);
  if (static_cast<int>(have_length) != length || std::memcmp(have, id, have_length) != 0 ||
      !may_resume(resume_choice_.get()))
    return nullptr;
  return resume_choice_.release(); // served once; our reference goes to OpenSSL
}

inline bool engine::may_resume(SSL_SESSION* session) {
  // Never resume a session under another server name than the one it was made for,
  // nor under another verification policy (session_policy.hpp).
  const char* made_for = SSL_SESSION_get0_hostname(session);
  return (made_for == nullptr ? std::string() : std::string(made_for)) == client_hello_sni_ &&
         session_meets_policy(session, session_context().session_binding(session_policy()),
                              session_policy());
}

inline const std::vector<unsigned char>& engine::client_binding() const {
  return context_.client_session_binding(client_binding_flags(
      config_.connection.pause_on_verify, static_cast<bool>(config_.check_identity),
      config_.pause_on_ocsp_response));
}

inline verify_policy engine::session_policy() const {
  return verify_policy::of(config_.verify_peer, config_.reject_unauthorized,
                           config_.connection.pause_on_verify);
}

inline const secure_context& engine::session_context() const {
  return active_context_ ? active_context_ : context_;
}

/// The key an external cache is asked for: TLS 1.2's session id, or with TLS 1.3 and
/// stateful tickets the first PSK identity. Never TLS 1.3's random legacy_session_id.
inline std::vector<std::uint8_t> engine::offered_session_id() {
  const unsigned char* p = nullptr;
  std::size_t n = 0;
  bool offers_tls13 = false;
  if (SSL_get_max_proto_version(ssl_.get()) == 0 ||
      SSL_get_max_proto_version(ssl_.get()) >= TLS1_3_VERSION) {
    if (SSL_client_hello_get0_ext(ssl_.get(), TLSEXT_TYPE_supported_versions, &p, &n) == 1 &&
        n >= 1) {
      for (std::size_t i = 1; i + 1 < n && i + 1 <= std::size_t(p[0]); i += 2)
        if (p[i] == 0x03 && p[i + 1] == 0x04) offers_tls13 = true;
    }
  }
  if (offers_tls13) {
    if ((SSL_get_options(ssl_.get()) & SSL_OP_NO_TICKET) == 0) return {}; // stateless
    if (SSL_client_hello_get0_ext(ssl_.get(), TLSEXT_TYPE_psk, &p, &n) != 1 || n < 4) return {};
    const std::size_t identity = (std::size_t(p[2]) << 8) | p[3];
    if (4 + identity > n) return {};
    return std::vector<std::uint8_t>(p + 4, p + 4 + identity);
  }
  // TLS 1.2 with a ticket: OpenSSL decides from the ticket alone and never looks the session
  // id up (it only echoes back a resumption), so there is nothing to wait for.
  if ((SSL_get_options(ssl_.get()) & SSL_OP_NO_TICKET) == 0 &&
      SSL_client_hello_get0_ext(ssl_.get(), TLSEXT_TYPE_session_ticket, &p, &n) == 1 && n > 0)
    return {};
  const std::size_t length = SSL_client_hello_get0_session_id(ssl_.get(), &p);
  return std::vector<std::uint8_t>(p, p + length);
}

inline bool engine::switch_context(const secure_context& chosen) {
  if (!chosen.apply_to(ssl_.get(), session_policy())) {
    clear_error_queue();
    return false;
  }
  active_context_ = chosen; // keeps the SSL_CTX alive as long as the connection
  if (config_.connection.enable_keylog || config_.connection.pause_on_verify)
    install_keylog(chosen.native_handle());
  return true;
}

/// AES-128-CBC fetched once: with the legacy EVP_aes_128_cbc() OpenSSL 3 looks the
/// implementation up by name in every ticket operation.
inline const EVP_CIPHER* ticket_cipher() noexcept {
  static const EVP_CIPHER* const fetched = [] {
    const EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr);
    clear_error_queue();
    return cipher != nullptr ? cipher : EVP_aes_128_cbc();
  }();
  return fetched;
}

/// Encrypts under the ring's newest key; decrypts under any key of the ring, and asks
/// OpenSSL to renew (return 2) a ticket made under an older one.
inline int engine::on_ticket_key(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                                 EVP_MAC_CTX* mac, int encrypt) {
  if (!ticket_keys_ || ticket_keys_->empty()) return encrypt ? -1 : 0;
  std::size_t index = 0;
  if (!encrypt) {
    while (index < ticket_keys_->size() &&
           std::memcmp(name, (*ticket_keys_)[index].data(), 16) != 0)
      ++index;
    if (index == ticket_keys_->size()) return 0; // an unknown key: full handshake
  }
  const ticket_key_bytes& keys = (*ticket_keys_)[index];
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                        const_cast<std::uint8_t*>(keys.data() + 16), 16),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end()};
  if (encrypt) {
    std::memcpy(name, keys.data(), 16);
    if (RAND_bytes(iv, 16) != 1 ||
        EVP_EncryptInit_ex(cipher, ticket_cipher(), nullptr, keys.data() + 32, iv) != 1 ||
        EVP_MAC_CTX_set_params(mac, params) != 1)
      return -1;
    return 1;
  }
  if (EVP_DecryptInit_ex(cipher, ticket_cipher(), nullptr, keys.data() + 32, iv) != 1 ||
      EVP_MAC_CTX_set_params(mac, params) != 1)
    return -1;
  // TLS 1.3 clients should use a ticket once (RFC 8446, C.4): every resumption gets a
  // fresh one, as with OpenSSL's own ticket keys; TLS 1.2 only when the key is old.
  return index == 0 && SSL_version(ssl_.get()) != TLS1_3_VERSION ? 1 : 2;
}

} // namespace tlsengine::detail
