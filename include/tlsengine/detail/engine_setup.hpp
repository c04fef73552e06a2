// tlsengine — engine, construction and teardown of the SSL: its options for either role, the BIO,
// and freeing it. Not public: included by engine.hpp, which declares the class.
#pragma once

#include "engine.hpp"

namespace tlsengine::detail {

inline engine::engine(secure_context context, engine_config config)
    : context_(std::move(context)), config_(std::move(config)) {
  if (!config_.connection.now) config_.connection.now = [] { return clock::now(); };
  started_ = config_.connection.now();
  endpoint_.output = &out_;
  endpoint_.may_read = &engine::input_allowed;
  endpoint_.owner = this;
  clear_error_queue();
  ssl_.reset(SSL_new(context_.native_handle()));
  if (!ssl_) {
    fail_with_openssl(make_error_code(errc::invalid_state));
    return;
  }
  SSL_set_ex_data(ssl_.get(), hooks_ex_index(), static_cast<engine_hooks*>(this));
  BIO* bio = BIO_new(engine_bio_method());
  if (bio == nullptr) {
    fail_with_openssl(make_error_code(errc::invalid_state));
    return;
  }
  BIO_set_data(bio, &endpoint_);
  SSL_set_bio(ssl_.get(), bio, bio); // one BIO, one reference, both directions
  SSL_set_info_callback(ssl_.get(), &engine::info_callback);
  SSL_set_msg_callback(ssl_.get(), &engine::message_callback);
  if (config_.connection.max_cert_list != 0)
    SSL_set_max_cert_list(ssl_.get(), static_cast<long>(config_.connection.max_cert_list));
  // A server that may reject a client after its TLS 1.3 Finished seals that alert itself
  // with the secret the key log callback gives (never exposed).
  if (config_.connection.enable_keylog || (config_.is_server && config_.connection.pause_on_verify))
    install_keylog(context_.native_handle());
  if (config_.server) ticket_keys_ = config_.server->ticket_keys(); // kept for this connection

  if (config_.is_server) {
    SSL_set_verify(ssl_.get(), session_policy().ssl_verify_mode(), nullptr);
    if (!context_.bind_sessions(ssl_.get(), session_policy())) {
      fail_with_openssl(make_error_code(errc::invalid_state));
      return;
    }
    // As Node: clients may renegotiate, within client_reneg_limit per window.
    SSL_set_options(ssl_.get(), SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
    if (config_.max_early_data > 0) {
      SSL_set_max_early_data(ssl_.get(), config_.max_early_data);
      // OpenSSL's anti-replay would make tickets stateful and single-use in a server
      // cache we do not keep; early data is instead delivered apart (early_data events)
      // for the application to treat as replayable.
      SSL_set_options(ssl_.get(), SSL_OP_NO_ANTI_REPLAY);
    }
    if (config_.psk_server) {
      SSL_set_psk_server_callback(ssl_.get(), &engine::psk_server_callback);
      if (!config_.psk_identity_hint.empty() &&
          SSL_use_psk_identity_hint(ssl_.get(), config_.psk_identity_hint.c_str()) != 1) {
        fail_with_openssl(make_error_code(errc::invalid_argument));
        return;
      }
    }
    SSL_set_accept_state(ssl_.get());
  } else {
    SSL_set_verify(ssl_.get(), SSL_VERIFY_PEER, nullptr);
    if (!config_.sni.empty() && SSL_set_tlsext_host_name(ssl_.get(), config_.sni.c_str()) != 1) {
      fail_with_openssl(make_error_code(errc::invalid_argument));
      return;
    }
    if (!config_.session.empty() && !apply_session()) return;
    if (!config_.alpn.empty() &&
        SSL_set_alpn_protos(ssl_.get(), config_.alpn.data(),
                            static_cast<unsigned>(config_.alpn.size())) != 0) {
      fail_with_openssl(make_error_code(errc::alpn_invalid));
      return;
    }
    if (config_.request_ocsp || config_.pause_on_ocsp_response)
      SSL_set_tlsext_status_type(ssl_.get(), TLSEXT_STATUSTYPE_ocsp);
    if (config_.psk_client) SSL_set_psk_client_callback(ssl_.get(), &engine::psk_client_callback);
    if (config_.send_fallback_scsv) SSL_set_mode(ssl_.get(), SSL_MODE_SEND_FALLBACK_SCSV);
    SSL_set_connect_state(ssl_.get());
    SSL_SESSION* session = SSL_get_session(ssl_.get());
    early_mode_ =
        config_.early_data && session != nullptr && SSL_SESSION_get_max_early_data(session) > 0;
  }
}

inline void engine::start() {
  if (config_.is_server || !ssl_ || error_ || destroyed_ || in_openssl()) return;
  openssl_guard guard(*this);
  // With 0-RTT the ClientHello waits for pending_output(), to carry what was written.
  if (!early_mode_) drive(); // the ClientHello is ready in pending_output() at once
}

inline bool engine::input_allowed(const void* self) noexcept {
  const engine& e = *static_cast<const engine*>(self);
  // A client's flight held for pause_on_ocsp_response: nothing more is read meanwhile.
  return e.endpoint_.held_output == nullptr &&
         e.plain_.size() < e.config_.connection.max_plaintext_buffer &&
         e.out_.size() < e.config_.connection.max_write_buffer &&
         e.events_.size() < max_pending_events;
}

inline void engine::release_after_failure() {
  if (!error_ || !ssl_ || in_openssl() || !out_.empty()) return;
  staged_.clear();
  staged_.release_if_empty();
  in_.clear();
  in_.release_if_empty();
  early_copy_.clear();
  early_copy_.release_if_empty();
  resume_choice_.reset();
  out_.release_if_empty();
  endpoint_.last_discarded.clear();
  endpoint_.last_discarded.release_if_empty();
  endpoint_.inject(bytes_view());
  free_ssl();
}

inline void engine::release() {
  staged_.clear();
  staged_.release_if_empty();
  plain_.clear();
  plain_.release_if_empty();
  in_.clear();
  in_.release_if_empty();
  early_copy_.clear();
  early_copy_.release_if_empty();
  resume_choice_.reset();
  endpoint_.last_discarded.clear();
  endpoint_.last_discarded.release_if_empty();
  free_ssl();
}

inline void engine::free_ssl() {
  if (!ssl_) return;
  // A connection closed without close_notify would invalidate its session: keep it
  // resumable unless a fatal error already marked it bad.
  if (!error_) SSL_set_shutdown(ssl_.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  BIO* bio = SSL_get_rbio(ssl_.get());
  if (bio != nullptr) BIO_set_data(bio, nullptr);
  ssl_.reset();
}

} // namespace tlsengine::detail
