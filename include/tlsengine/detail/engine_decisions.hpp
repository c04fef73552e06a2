// tlsengine — engine, decisions: the events that pause the handshake (servername, resume_session,
// ocsp_request, certificate_request, verify_peer) and the answers that resume it. Not public:
// included by engine.hpp, which declares the class.
#pragma once

#include "engine.hpp"

namespace tlsengine::detail {

// ---- decision answers ------------------------------------------------------------------
inline bool engine::waiting_for_decision() const noexcept {
  return sni_.state == decision_state::waiting || resume_.state == decision_state::waiting ||
         ocsp_.state == decision_state::waiting ||
         certificate_request_.state == decision_state::waiting ||
         ocsp_verdict_.state == decision_state::waiting ||
         (verify_.state == decision_state::waiting && !config_.is_server);
}

inline std::error_code engine::use_context(const secure_context& context) {
  if (std::error_code ec = answer_check(sni_)) return ec;
  if (!context) {
    // As Node's "Invalid SNI context": the connection fails now, not at its timeout.
    fail_decision(make_error_code(errc::invalid_argument), SSL_AD_INTERNAL_ERROR);
    error_message_ = "Invalid SNI context";
    if (auto* e = events_.empty() ? nullptr : std::get_if<events::error>(&events_.back()))
      e->message = error_message_;
    return error_;
  }
  if (!switch_context(context)) {
    fail(make_error_code(errc::decision_failed), "switching to the SNI context failed");
    return error_;
  }
  return answered(sni_);
}

/// The default answer to whichever decision is waiting.
inline std::error_code engine::resume() {
  if (destroyed_) return make_error_code(errc::destroyed);
  if (error_) return error_;
  if (!ssl_) return make_error_code(errc::destroyed);
  if (in_openssl()) return make_error_code(errc::invalid_state);
  if (sni_.state == decision_state::waiting) {
    if (config_.server)
      if (auto chosen = config_.server->lookup(client_hello_sni_)) return use_context(*chosen);
    return answered(sni_);
  }
  if (resume_.state == decision_state::waiting) return resume_session({});
  if (ocsp_.state == decision_state::waiting) return set_ocsp_response({});
  if (certificate_request_.state == decision_state::waiting) return answered(certificate_request_);
  if (verify_.state == decision_state::waiting) return verify_result({});
  if (ocsp_verdict_.state == decision_state::waiting) return ocsp_result({});
  return make_error_code(errc::invalid_state);
}

inline std::error_code engine::resume_session(std::optional<bytes_view> data) {
  if (std::error_code ec = answer_check(resume_)) return ec;
  if (data && !data->empty()) {
    const unsigned char* p = data->data();
    resume_choice_.reset(d2i_SSL_SESSION(nullptr, &p, static_cast<long>(data->size())));
    clear_error_queue(); // an unusable session is a cache miss, not an error
  }
  return answered(resume_);
}

inline std::error_code engine::set_ocsp_response(std::optional<bytes_view> response) {
  if (std::error_code ec = answer_check(ocsp_)) return ec;
  // TLS 1.2's CertificateStatus must fit one 16 KiB handshake message (OpenSSL clients
  // refuse more), and TLS 1.3 servers fail on much larger ones: refused, still waiting.
  if (response && response->size() > max_ocsp_response)
    return make_error_code(errc::invalid_argument);
  if (response && !response->empty()) ocsp_response_ = response->to_vector();
  return answered(ocsp_);
}

inline std::error_code engine::use_certificate(std::string_view cert_pem, const key_entry& key) {
  if (std::error_code ec = answer_check(certificate_request_)) return ec;
  clear_error_queue();
  bio_ptr bio = memory_bio(cert_pem);
  x509_ptr leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  bool ok = leaf && SSL_use_certificate(ssl_.get(), leaf.get()) == 1;
  while (ok) {
    X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (extra == nullptr) break;
    ok = SSL_add0_chain_cert(ssl_.get(), extra) == 1;
    if (!ok) X509_free(extra);
  }
  ok = ok && only_pem_end_in_queue();
  if (ok) {
    bio_ptr key_bio = memory_bio(key.pem);
    const std::string passphrase = key.passphrase.value_or(std::string());
    evp_pkey_ptr pkey(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, pem_passphrase_callback,
                                              const_cast<std::string*>(&passphrase)));
    ok = pkey && SSL_use_PrivateKey(ssl_.get(), pkey.get()) == 1 &&
         SSL_check_private_key(ssl_.get()) == 1;
  }
  if (!ok) return take_openssl_error_code(); // still waiting: answer again or resume()
  return answered(certificate_request_);
}

inline std::error_code engine::verify_result(std::error_code verdict) {
  if (std::error_code ec = answer_check(verify_)) return ec;
  verify_answer_ = verdict;
  if (config_.is_server) {
    verify_.state = decision_state::answered;
    verify_error_ = verdict ? verdict : recorded_verdict_;
    if (endpoint_.hold_before_change_cipher_spec) {
      // TLS 1.2: the client's ChangeCipherSpec waits; we have sent nothing since
      // ServerHelloDone.
      endpoint_.hold_before_change_cipher_spec = false;
      if (verdict) {
        reject_in_handshake();
        return {};
      }
      return answered(verify_);
    }
    if (!held_) return {}; // TLS 1.3, before the client's Finished: on_handshake_done decides
    if (verdict) {
      reject_after_handshake();
      return {};
    }
    held_ = false;
    openssl_guard guard(*this);
    issue_held_tickets();
    if (error_ || destroyed_) return error_;
    events_.emplace_back(events::secure{});
    process_buffered_input(); // the application data that waited for the verdict
    return {};
  }
  return answered(verify_);
}

inline std::error_code engine::ocsp_result(std::error_code verdict) {
  if (std::error_code ec = answer_check(ocsp_verdict_)) return ec;
  ocsp_answer_ = verdict;
  if (verdict)
    record_callback_error(verdict, "the application rejected the server's OCSP response: " +
                                       verdict.message());
  if (endpoint_.held_output != nullptr) {
    // TLS 1.2: the client's flight waited in the engine.
    endpoint_.held_output = nullptr;
    ocsp_verdict_.state = decision_state::answered;
    if (verdict) {
      held_flight_.clear();
      held_flight_.release_if_empty();
      plaintext_alert_ =
          ocsp_reject_alert_ >= 0 ? ocsp_reject_alert_ : SSL_AD_BAD_CERTIFICATE_STATUS_RESPONSE;
      plaintext_alert_mark_ = out_.size();
      send_plaintext_alert();
      return {};
    }
    out_.append(held_flight_.view());
    endpoint_.bytes_written += held_flight_.size();
    held_flight_.clear();
    held_flight_.release_if_empty();
  }
  return answered(ocsp_verdict_);
}

inline int engine::verify_reject_alert() const {
  if (verify_reject_alert_ >= 0) return verify_reject_alert_;
  if (verify_answer_.category() == x509_category())
    return alert_for_x509_code(verify_answer_.value());
  // The application's own reason, not an X.509 verdict: the certificate is valid but
  // access is refused (RFC 8446 6.2 access_denied).
  return SSL_AD_ACCESS_DENIED;
}

inline std::error_code engine::verify_reject_code() const {
  return verify_failed_by_app_ || verify_answer_.category() == x509_category()
             ? verify_answer_
             : make_error_code(errc::verify_rejected);
}

inline void engine::reject_in_handshake() {
  record_callback_error(verify_reject_code(),
                        (verify_failed_by_app_ ? "the application failed the handshake: "
                                               : "the application rejected the peer's "
                                                 "certificate: ") +
                            verify_answer_.message());
  if (handshake_done_) {
    // A renegotiation: the connection is encrypted, so a plaintext alert would be garbage
    // to the peer, and OpenSSL 3.0 sends no alert of our choosing. The record injected
    // before the held ChangeCipherSpec makes OpenSSL fail the handshake with its own fatal
    // alert (internal_error on 3.0), under the keys in use: one the peer can read.
    endpoint_.inject_invalid_record();
    answered(verify_);
    return;
  }
  plaintext_alert_ = verify_reject_alert();
  plaintext_alert_mark_ = out_.size();
  send_plaintext_alert();
}

inline void engine::issue_held_tickets() {
  if (tickets_held_ < 0 || !ssl_) return;
  const int count = tickets_held_;
  tickets_held_ = -1;
  SSL_set_num_tickets(ssl_.get(), static_cast<std::size_t>(count));
  if (count == 0 || SSL_version(ssl_.get()) != TLS1_3_VERSION) return;
  for (int i = 0; i < count; ++i)
    SSL_new_session_ticket(ssl_.get());
  clear_error_queue();
  const int r = SSL_do_handshake(ssl_.get()); // writes them now
  if (r != 1) handle_failure(r);
}

inline std::error_code engine::accept_unauthorized(std::error_code verdict) {
  if (std::error_code ec = answer_check(verify_)) return ec;
  recorded_verdict_ = verdict;
  return verify_result({});
}

inline std::error_code engine::fail_decision(std::error_code code, int alert) {
  if (destroyed_ || !ssl_) return make_error_code(errc::destroyed);
  if (error_) return error_;
  // The alert must say "failed": close_notify, user_canceled and no_renegotiation are not
  // errors (a peer reading close_notify after a finished TLS 1.3 handshake sees success).
  if (!code || alert < 0 || alert > 255 || alert == SSL_AD_CLOSE_NOTIFY ||
      alert == SSL_AD_USER_CANCELLED || alert == SSL_AD_NO_RENEGOTIATION)
    return make_error_code(errc::invalid_argument);
  std::string message = "the application failed the handshake: " + code.message();
  for (decision* d : {&sni_, &resume_, &ocsp_}) {
    if (d->state != decision_state::waiting) continue;
    // Server, paused inside the ClientHello: none of its first flight was written yet,
    // so the alert of the application's choice goes out as a plaintext record.
    d->state = decision_state::answered;
    record_callback_error(code, std::move(message));
    plaintext_alert_ = alert;
    plaintext_alert_mark_ = out_.size();
    send_plaintext_alert();
    return {};
  }
  if (certificate_request_.state == decision_state::waiting) {
    // Client: OpenSSL's certificate callback can only fail with internal_error.
    record_callback_error(code, std::move(message));
    certificate_request_failed_ = true;
    return answered(certificate_request_);
  }
  if (ocsp_verdict_.state == decision_state::waiting) {
    // TLS 1.2: any alert (plaintext, in ocsp_result). TLS 1.3: bad_certificate_status_response
    // by the status callback, any other alert through verification's X.509 code.
    if (endpoint_.held_output != nullptr || alert != SSL_AD_BAD_CERTIFICATE_STATUS_RESPONSE)
      ocsp_reject_alert_ = alert;
    return ocsp_result(code);
  }
  if (verify_.state == decision_state::waiting) {
    if (config_.is_server) {
      verify_reject_alert_ = alert;
      verify_failed_by_app_ = true;
      return verify_result(code);
    }
    record_callback_error(code, std::move(message));
    return verify_result(std::error_code(x509_code_for_alert(alert), x509_category()));
  }
  return make_error_code(errc::invalid_state);
}

inline std::error_code engine::answer_check(const decision& d) const {
  if (destroyed_) return make_error_code(errc::destroyed);
  if (error_) return error_;
  if (!ssl_) return make_error_code(errc::destroyed);
  // From inside a callback no decision can be answered: OpenSSL is mid-call.
  if (in_openssl() || d.state != decision_state::waiting)
    return make_error_code(errc::invalid_state);
  return {};
}

inline std::error_code engine::answered(decision& d) {
  d.state = decision_state::answered;
  openssl_guard guard(*this);
  if (in_.empty()) {
    drive();
  } else {
    process_buffered_input();
  }
  return {};
}

inline void engine::reject_after_handshake() {
  // TLS 1.3 (TLS 1.2 rejects inside the handshake, reject_in_handshake): OpenSSL 3.0 has
  // no call to send an alert of our choice once the handshake is done, and
  // SSL_set_retry_verify is ignored on a server. The alert is sealed here, as the first
  // record under the server's application key: nothing was sent under it (no ticket while
  // the verdict waited, no data, no KeyUpdate), which records_under_app_key_ confirms.
  // Should that ever not hold, or the suite be unknown, the connection fails without it.
  held_ = false;
  plain_.clear();
  const int alert = verify_reject_alert();
  if (ssl_ && SSL_version(ssl_.get()) == TLS1_3_VERSION && records_under_app_key_ == 0) {
    const std::vector<std::uint8_t> record =
        seal_tls13_alert(SSL_get_current_cipher(ssl_.get()), server_app_secret_, SSL3_AL_FATAL,
                         static_cast<std::uint8_t>(alert));
    if (!record.empty()) {
      out_.append(bytes_view(record.data(), record.size()));
      endpoint_.bytes_written += record.size();
      last_alert_ = alert;
      last_alert_sent_ = true;
    }
  }
  OPENSSL_cleanse(server_app_secret_.data(), server_app_secret_.size());
  server_app_secret_.clear();
  fail(verify_reject_code(),
       (verify_failed_by_app_ ? "the application failed the handshake: "
                              : "the application rejected the peer's certificate: ") +
           verify_answer_.message());
}

} // namespace tlsengine::detail
