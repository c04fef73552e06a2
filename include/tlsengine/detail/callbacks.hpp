// tlsengine — OpenSSL's context-level callbacks, installed once on every SSL_CTX the
// library creates. Each finds its connection through the SSL's ex_data and forwards to
// the engine_hooks interface; callbacks only record state, except the synchronous
// decisions (ALPN, PSK) that Node also makes inside the handshake.
#pragma once

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace tlsengine::detail {

/// What the C callbacks call on the connection that owns the SSL.
class engine_hooks {
public:
  virtual int on_verify(X509_STORE_CTX* store) = 0;
  virtual int on_new_session(SSL_SESSION* session) = 0;
  virtual SSL_SESSION* on_get_session(const unsigned char* id, int length) = 0;
  virtual int on_client_hello(int* alert) = 0;
  virtual int on_alpn_select(const unsigned char** out, unsigned char* out_length,
                             const unsigned char* in, unsigned int in_length) = 0;
  virtual int on_certificate_needed() = 0;
  virtual int on_ocsp_status() = 0;
  virtual int on_ticket_key(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                            EVP_MAC_CTX* mac, int encrypt) = 0;
  virtual void on_keylog(const char* line) = 0;
  /// Server: may this session (from a ticket or the external cache) be resumed here?
  virtual bool may_resume(SSL_SESSION* session) = 0;
  /// Client, building a ClientHello: 0 to go on, -1 with *alert to abort the handshake
  /// with that fatal alert (how a refused HelloRequest ends the connection).
  virtual int on_build_client_hello(int* alert) = 0;
  /// Server, about to encrypt a ticket for the connection's session: 1 to go on.
  virtual int on_generate_ticket() = 0;
  /// NPN (TLS 1.2 only): the server's advertised list, the client's choice.
  virtual int on_npn_advertise(const unsigned char** out, unsigned int* out_length) = 0;
  virtual int on_npn_select(unsigned char** out, unsigned char* out_length, const unsigned char* in,
                            unsigned int in_length) = 0;

protected:
  ~engine_hooks() = default;
};

inline int hooks_ex_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

inline engine_hooks* hooks_of(const SSL* ssl) {
  return ssl ? static_cast<engine_hooks*>(SSL_get_ex_data(ssl, hooks_ex_index())) : nullptr;
}

namespace callbacks {

inline int verify(X509_STORE_CTX* store, void*) {
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (engine_hooks* hooks = hooks_of(ssl)) return hooks->on_verify(store);
  return X509_verify_cert(store) > 0 ? 1 : 0;
}

inline int new_session(SSL* ssl, SSL_SESSION* session) {
  engine_hooks* hooks = hooks_of(ssl);
  return hooks ? hooks->on_new_session(session) : 0;
}

inline SSL_SESSION* get_session(SSL* ssl, const unsigned char* id, int length, int* copy) {
  *copy = 0; // the reference we return is handed over
  engine_hooks* hooks = hooks_of(ssl);
  return hooks ? hooks->on_get_session(id, length) : nullptr;
}

inline int client_hello(SSL* ssl, int* alert, void*) {
  engine_hooks* hooks = hooks_of(ssl);
  return hooks ? hooks->on_client_hello(alert) : SSL_CLIENT_HELLO_SUCCESS;
}

inline int alpn_select(SSL* ssl, const unsigned char** out, unsigned char* out_length,
                       const unsigned char* in, unsigned int in_length, void*) {
  engine_hooks* hooks = hooks_of(ssl);
  return hooks ? hooks->on_alpn_select(out, out_length, in, in_length) : SSL_TLSEXT_ERR_NOACK;
}

inline int certificate_needed(SSL* ssl, void*) {
  engine_hooks* hooks = hooks_of(ssl);
  return hooks ? hooks->on_certificate_needed() : 1;
}

inline int ocsp_status(SSL* ssl, void*) {
  engine_hooks* hooks = hooks_of(ssl);
  if (hooks) return hooks->on_ocsp_status();
  return SSL_is_server(ssl) ? SSL_TLSEXT_ERR_NOACK : 1;
}

inline int ticket_key(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                      EVP_MAC_CTX* mac, int encrypt) {
  engine_hooks* hooks = hooks_of(ssl);
  return hooks ? hooks->on_ticket_key(name, iv, cipher, mac, encrypt) : 0;
}

/// A private-use extension that is never sent: its add callback is the one hook OpenSSL
/// calls while building every ClientHello that can abort it with an alert of our choice.
inline constexpr unsigned int abort_hook_extension = 0xff7e;

inline int client_hello_add(SSL* ssl, unsigned int, unsigned int, const unsigned char**, size_t*,
                            X509*, size_t, int* alert, void*) {
  engine_hooks* hooks = hooks_of(ssl);
  return hooks ? hooks->on_build_client_hello(alert) : 0;
}

inline int client_hello_parse(SSL*, unsigned int, unsigned int, const unsigned char*, size_t, X509*,
                              size_t, int*, void*) {
  return 1; // a peer sending it is ignored
}

/// Acknowledging SNI makes OpenSSL record the name in the session, which resumption
/// checks against (without a servername callback it records nothing).
inline int servername_ack(SSL*, int*, void*) { return SSL_TLSEXT_ERR_OK; }

inline SSL_TICKET_RETURN ticket_decrypted(SSL* ssl, SSL_SESSION* session, const unsigned char*,
                                          size_t, SSL_TICKET_STATUS status, void*) {
  switch (status) {
  case SSL_TICKET_FATAL_ERR_MALLOC:
  case SSL_TICKET_FATAL_ERR_OTHER: return SSL_TICKET_RETURN_ABORT;
  case SSL_TICKET_NONE: return SSL_TICKET_RETURN_IGNORE;
  case SSL_TICKET_EMPTY:
  case SSL_TICKET_NO_DECRYPT: return SSL_TICKET_RETURN_IGNORE_RENEW;
  default: break;
  }
  engine_hooks* hooks = hooks_of(ssl);
  if (hooks != nullptr && !hooks->may_resume(session)) return SSL_TICKET_RETURN_IGNORE_RENEW;
  return status == SSL_TICKET_SUCCESS_RENEW ? SSL_TICKET_RETURN_USE_RENEW : SSL_TICKET_RETURN_USE;
}

inline int ticket_generated(SSL* ssl, void*) {
  engine_hooks* hooks = hooks_of(ssl);
  return hooks ? hooks->on_generate_ticket() : 1;
}

inline int npn_advertise(SSL* ssl, const unsigned char** out, unsigned int* out_length, void*) {
  engine_hooks* hooks = hooks_of(ssl);
  return hooks ? hooks->on_npn_advertise(out, out_length) : SSL_TLSEXT_ERR_NOACK;
}

inline int npn_select(SSL* ssl, unsigned char** out, unsigned char* out_length,
                      const unsigned char* in, unsigned int in_length, void*) {
  engine_hooks* hooks = hooks_of(ssl);
  return hooks ? hooks->on_npn_select(out, out_length, in, in_length) : SSL_TLSEXT_ERR_ALERT_FATAL;
}

inline void keylog(const SSL* ssl, const char* line) {
  if (engine_hooks* hooks = hooks_of(ssl)) hooks->on_keylog(line);
}

} // namespace callbacks

/// Installs every callback on a new context (before it is shared between threads).
inline void install_callbacks(SSL_CTX* ctx) {
  SSL_CTX_set_cert_verify_callback(ctx, &callbacks::verify, nullptr);
  // As Node: no internal session store; sessions reach the application as events.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_SERVER |
                                          SSL_SESS_CACHE_NO_INTERNAL_STORE |
                                          SSL_SESS_CACHE_NO_AUTO_CLEAR);
  SSL_CTX_sess_set_new_cb(ctx, &callbacks::new_session);
  SSL_CTX_sess_set_get_cb(ctx, &callbacks::get_session);
  SSL_CTX_set_client_hello_cb(ctx, &callbacks::client_hello, nullptr);
  SSL_CTX_set_tlsext_servername_callback(ctx, &callbacks::servername_ack);
  SSL_CTX_set_alpn_select_cb(ctx, &callbacks::alpn_select, nullptr);
  // A server advertises NPN only when its options list protocols (on_npn_advertise); the
  // client's select callback is installed on demand (install_npn_select).
  SSL_CTX_set_next_protos_advertised_cb(ctx, &callbacks::npn_advertise, nullptr);
  SSL_CTX_set_cert_cb(ctx, &callbacks::certificate_needed, nullptr);
  SSL_CTX_set_tlsext_status_cb(ctx, &callbacks::ocsp_status);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &callbacks::ticket_key);
  SSL_CTX_set_session_ticket_cb(ctx, &callbacks::ticket_generated, &callbacks::ticket_decrypted,
                                nullptr);
  SSL_CTX_add_custom_ext(ctx, callbacks::abort_hook_extension, SSL_EXT_CLIENT_HELLO,
                         &callbacks::client_hello_add, nullptr, nullptr,
                         &callbacks::client_hello_parse, nullptr);
  // The keylog callback is not installed here: with one set, OpenSSL formats every secret
  // of every handshake as hex text (~5% of a full handshake) whether or not anyone
  // listens. enable_keylog connections install it (install_keylog).
}

inline int npn_installed_ex_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

/// Installs NPN's select callback on `ctx` for a client connection with npn_protocols.
/// OpenSSL offers NPN in the ClientHello of every client of a context that has one, so it
/// is not installed on every context: only on those an NPN client uses (as Node 0.10 did,
/// the other clients of such a context select "http/1.1" if a server insists). Idempotent.
inline void install_npn_select(SSL_CTX* ctx) {
  static int installed = 1;
  if (SSL_CTX_get_ex_data(ctx, npn_installed_ex_index()) == &installed) return;
  SSL_CTX_set_next_proto_select_cb(ctx, &callbacks::npn_select, nullptr);
  SSL_CTX_set_ex_data(ctx, npn_installed_ex_index(), &installed);
}

/// Installs the keylog callback on `ctx` for a connection that wants keylog events.
/// Idempotent (the same pointer every time); connections of the context without
/// enable_keylog ignore the lines (engine::on_keylog).
inline void install_keylog(SSL_CTX* ctx) {
  if (SSL_CTX_get_keylog_callback(ctx) != &callbacks::keylog)
    SSL_CTX_set_keylog_callback(ctx, &callbacks::keylog);
}

} // namespace tlsengine::detail
