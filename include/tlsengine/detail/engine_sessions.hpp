// tlsengine — engine, sessions and the identity they are bound to: offering a saved session
// (client), serializing new ones, the external cache and ticket keys (server), and SNI context
// switching. Not public: included by engine.hpp, which declares the class.
#pragma once

#include "engine.hpp"

namespace tlsengine::detail {

inline bool engine::apply_session() {
  const unsigned char* p = config_.session.data();
  ssl_session_ptr session(d2i_SSL_SESSION(nullptr, &p, static_cast<long>(config_.session.size())));
  if (!session) {
    fail_with_openssl(make_error_code(errc::invalid_argument));
    return false;
  }
  // A session made for another server name is never offered (the server's identity
  // is not checked again on resumption): silently fall back to a full handshake.
  const char* made_for = SSL_SESSION_get0_hostname(session.get());
  if (made_for != nullptr && config_.sni != made_for) return true;
  X509* peer = SSL_SESSION_get0_peer(session.get());
  if (peer != nullptr && !config_.identity_host.empty() && config_.reject_unauthorized &&
      !config_.check_identity && check_server_identity_x509(config_.identity_host, peer))
    return true;
  if (SSL_set_session(ssl_.get(), session.get()) != 1) {
    fail_with_openssl(make_error_code(errc::invalid_argument));
    return false;
  }
  return true;
}

inline int engine::on_new_session(SSL_SESSION* session) {
  if (config_.is_server) {
    if (!config_.external_session_cache) return 0;
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
  events::session e{serialize(session)};
  if (e.data.empty()) return 0;
  // One event per ticket, as Node, whatever the chunking of the input; a peer flooding
  // tickets meets a bound: beyond max_undelivered_sessions the oldest is dropped.
  std::size_t queued = 0;
  for (const event& pending : events_)
    queued += std::holds_alternative<events::session>(pending) ? 1 : 0;
  if (queued >= max_undelivered_sessions) {
    for (auto it = events_.begin(); it != events_.end(); ++it) {
      if (std::holds_alternative<events::session>(*it)) {
        events_.erase(it);
        break;
      }
    }
  }
  events_.emplace_back(std::move(e));
  return 0; // we keep no reference
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
  // Never resume a session under another server name than the one it was made for.
  const char* made_for = SSL_SESSION_get0_hostname(session);
  return (made_for == nullptr ? std::string() : std::string(made_for)) == client_hello_sni_;
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
  const std::size_t length = SSL_client_hello_get0_session_id(ssl_.get(), &p);
  return std::vector<std::uint8_t>(p, p + length);
}

inline bool engine::switch_context(const secure_context& chosen) {
  if (!chosen.apply_to(ssl_.get())) {
    ERR_clear_error();
    return false;
  }
  active_context_ = chosen; // keeps the SSL_CTX alive as long as the connection
  if (config_.connection.enable_keylog) install_keylog(chosen.native_handle());
  return true;
}

inline int engine::on_ticket_key(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                                 EVP_MAC_CTX* mac, int encrypt) {
  if (!ticket_keys_) return encrypt ? -1 : 0;
  const ticket_key_bytes& keys = *ticket_keys_;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                        const_cast<std::uint8_t*>(keys.data() + 16), 16),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end()};
  if (encrypt) {
    std::memcpy(name, keys.data(), 16);
    if (RAND_bytes(iv, 16) != 1 ||
        EVP_EncryptInit_ex(cipher, EVP_aes_128_cbc(), nullptr, keys.data() + 32, iv) != 1 ||
        EVP_MAC_CTX_set_params(mac, params) != 1)
      return -1;
    return 1;
  }
  if (std::memcmp(name, keys.data(), 16) != 0) return 0; // another key: full handshake
  if (EVP_DecryptInit_ex(cipher, EVP_aes_128_cbc(), nullptr, keys.data() + 32, iv) != 1 ||
      EVP_MAC_CTX_set_params(mac, params) != 1)
    return -1;
  return 1;
}

} // namespace tlsengine::detail
