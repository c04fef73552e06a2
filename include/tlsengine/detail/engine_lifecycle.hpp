// tlsengine — engine, the handshake's end, renegotiation, key update, close_notify and 0-RTT early
// data. Not public: included by engine.hpp, which declares the class.
#pragma once

#include "engine.hpp"

namespace tlsengine::detail {

// ---- lifecycle controls (issue: renegotiation, key update, trace) ----------------------
inline std::error_code engine::renegotiate(bool reject_unauthorized, bool request_cert) {
  if (destroyed_) return make_error_code(errc::destroyed);
  if (error_) return error_;
  if (!ssl_) return make_error_code(errc::destroyed);
  if (in_openssl() || !handshake_done_) return make_error_code(errc::invalid_state);
  if (SSL_version(ssl_.get()) > TLS1_2_VERSION) {
    // TLS 1.3 has no renegotiation: OpenSSL's refusal, ERR_SSL_WRONG_SSL_VERSION as Node.
    clear_error_queue();
    if (SSL_renegotiate(ssl_.get()) == 1) return make_error_code(errc::invalid_state);
    return take_openssl_error_code(make_error_code(errc::invalid_state));
  }
  config_.reject_unauthorized = reject_unauthorized;
  if (config_.is_server) {
    int mode = SSL_VERIFY_NONE;
    if (request_cert) {
      mode = SSL_VERIFY_PEER;
      if (reject_unauthorized) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    config_.verify_peer = request_cert;
    SSL_set_verify(ssl_.get(), mode, nullptr);
    session_context().bind_sessions(ssl_.get(), session_policy()); // the new session's
    SSL_set_options(ssl_.get(), SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  }
  clear_error_queue();
  if (SSL_renegotiate(ssl_.get()) != 1) return take_openssl_error_code();
  renegotiating_ = true;
  openssl_guard guard(*this);
  const int r = SSL_do_handshake(ssl_.get()); // writes the HelloRequest / ClientHello
  if (r != 1) handle_failure(r);
  return error_;
}

inline void engine::disable_renegotiation() {
  renegotiation_disabled_ = true;
  // A client refuses the server's HelloRequest by aborting the ClientHello it would answer
  // with (message_callback, on_build_client_hello): a fatal no_renegotiation alert, where
  // SSL_OP_NO_RENEGOTIATION would only warn and leave the server waiting. A server sees the
  // ClientHello in its client-hello callback and fails there.
}

inline std::error_code engine::key_update(bool request_peer) {
  if (destroyed_) return make_error_code(errc::destroyed);
  if (error_) return error_;
  if (!ssl_) return make_error_code(errc::destroyed);
  // Not from a callback: SSL_key_update changes the state OpenSSL is in the middle of.
  // Nor after our close_notify: nothing may follow it (OpenSSL would fail the connection).
  if (in_openssl() || shutdown_sent_ || !handshake_done_ || held_ ||
      SSL_version(ssl_.get()) != TLS1_3_VERSION)
    return make_error_code(errc::invalid_state);
  clear_error_queue();
  if (SSL_key_update(ssl_.get(),
                     request_peer ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED) != 1)
    return take_openssl_error_code();
  return {}; // sent with the next pending_output()
}

inline void engine::on_handshake_done() {
  handshake_done_ = true;
  if (callback_error_) {
    // A callback failed but OpenSSL went on (it cannot be told to stop from every
    // callback): never report `secure` for such a handshake.
    fail(callback_error_, callback_message_);
    return;
  }
  if (!config_.is_server && config_.min_dh_size > 0) {
    // As Node: a client refuses weak finite-field DH after the fact.
    EVP_PKEY* key = nullptr;
    if (SSL_get_peer_tmp_key(ssl_.get(), &key) == 1 && key != nullptr) {
      const int bits = EVP_PKEY_get_bits(key);
      const bool weak = EVP_PKEY_get_base_id(key) == EVP_PKEY_DH && bits < config_.min_dh_size;
      EVP_PKEY_free(key);
      if (weak) {
        fail(make_error_code(errc::dh_param_too_small),
             "DH parameter size " + std::to_string(bits) + " is less than " +
                 std::to_string(config_.min_dh_size));
        return;
      }
    }
    clear_error_queue();
  }
  if (config_.is_server && verify_.state != decision_state::none) {
    // The application decides about the client certificate: until it accepts, no
    // application data goes either way.
    if (verify_.state == decision_state::waiting) {
      held_ = true;
      return;
    }
    if (verify_answer_) {
      reject_after_handshake();
      return;
    }
    issue_held_tickets(); // TLS 1.3: accepted before the client's Finished
    if (error_ || destroyed_) return;
  }
  report_renewed_ticket();
  report_early_data();
  events_.emplace_back(events::secure{});
}

inline void engine::report_early_data() {
  const int status = SSL_get_early_data_status(ssl_.get());
  const bool tried = config_.is_server ? early_read_done_ && status != SSL_EARLY_DATA_NOT_SENT
                                       : early_started_ && !early_copy_.empty();
  if (!tried) return;
  const bool accepted = status == SSL_EARLY_DATA_ACCEPTED;
  events_.emplace_back(events::early_data_status{accepted});
  if (!config_.is_server && !accepted) {
    // Rejected 0-RTT data is sent again, now as ordinary data, ahead of later writes.
    byte_buffer again;
    again.append(early_copy_.view());
    again.append(staged_.view());
    staged_ = std::move(again);
  }
  early_copy_.clear();
  early_copy_.release_if_empty();
}

inline void engine::on_close_notify() {
  if (received_close_) return;
  received_close_ = true;
  events_.emplace_back(events::end{});
  // Node's allowHalfOpen = false: our close_notify follows, but only once the
  // application has read what came before the peer's, so that it can still answer it.
  if (!config_.connection.allow_half_open) auto_end_pending_ = true;
}

/// A client-initiated renegotiation (this ClientHello comes after the handshake):
/// refused when disabled, and limited as Node does (client_reneg_limit per window).
inline bool engine::renegotiation_allowed(int* alert) {
  if (renegotiating_) return true; // we asked for it
  if (renegotiation_disabled_) {
    record_callback_error(make_error_code(errc::renegotiation_disabled),
                          "the client tried to renegotiate");
    *alert = SSL_AD_NO_RENEGOTIATION;
    return false;
  }
  clock::time_point now{};
  if (!call_user([&] { now = config_.connection.now(); })) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return false;
  }
  while (!renegotiations_.empty() && now - renegotiations_.front() > config_.reneg_window)
    renegotiations_.erase(renegotiations_.begin());
  renegotiations_.push_back(now);
  if (renegotiations_.size() > config_.reneg_limit) {
    record_callback_error(make_error_code(errc::renegotiation_limit),
                          "TLS session renegotiation attack detected");
    *alert = SSL_AD_HANDSHAKE_FAILURE;
    return false;
  }
  return true;
}

/// Client: the ClientHello and what was written so far (up to the ticket's limit) as
/// 0-RTT data; a copy is kept until the server says whether it took it.
inline void engine::send_early_data() {
  early_started_ = true;
  const std::size_t limit = SSL_SESSION_get_max_early_data(SSL_get_session(ssl_.get()));
  // As in flush_writes: a write() from a callback must not move the bytes being sent.
  byte_buffer sending;
  std::swap(sending, staged_);
  const bytes_view data = sending.view().subview(0, limit);
  std::size_t written = 0;
  clear_error_queue();
  const bool ok =
      !data.empty() && SSL_write_early_data(ssl_.get(), data.data(), data.size(), &written) == 1;
  if (destroyed_) return;
  if (ok) {
    early_copy_.append(data.subview(0, written));
    sending.consume(written);
  }
  sending.append(staged_.view());
  std::swap(sending, staged_);
  if (!ok && !data.empty()) {
    handle_failure(0);
    if (error_) return;
  }
  drive();
}

/// Server: reads 0-RTT data before the handshake goes on; it reaches the application
/// as `early_data` events, never through read() (it may be a replay: RFC 8446 8).
inline bool engine::read_early_data() {
  for (;;) {
    std::uint8_t buffer[4096];
    std::size_t n = 0;
    clear_error_queue();
    const int r = SSL_read_early_data(ssl_.get(), buffer, sizeof buffer, &n);
    if (destroyed_) return false;
    if (r == SSL_READ_EARLY_DATA_SUCCESS) {
      if (n != 0)
        events_.emplace_back(events::early_data{std::vector<std::uint8_t>(buffer, buffer + n)});
      continue;
    }
    if (r == SSL_READ_EARLY_DATA_FINISH) {
      early_read_done_ = true;
      return true;
    }
    handle_failure(0);
    return false; // more input needed, paused, or failed
  }
}

} // namespace tlsengine::detail
