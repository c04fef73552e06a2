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
  return make_error_code(errc::invalid_state);
}

inline std::error_code engine::resume_session(std::optional<bytes_view> data) {
  if (std::error_code ec = answer_check(resume_)) return ec;
  if (data && !data->empty()) {
    const unsigned char* p = data->data();
    resume_choice_.reset(d2i_SSL_SESSION(nullptr, &p, static_cast<long>(data->size())));
    ERR_clear_error(); // an unusable session is a cache miss, not an error
  }
  return answered(resume_);
}

inline std::error_code engine::set_ocsp_response(std::optional<bytes_view> response) {
  if (std::error_code ec = answer_check(ocsp_)) return ec;
  if (response && !response->empty()) ocsp_response_ = response->to_vector();
  return answered(ocsp_);
}

inline std::error_code engine::use_certificate(std::string_view cert_pem, const key_entry& key) {
  if (std::error_code ec = answer_check(certificate_request_)) return ec;
  ERR_clear_error();
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
    if (!held_) return {}; // the handshake has not finished: on_handshake_done decides
    if (verdict) {
      reject_after_handshake();
      return {};
    }
    held_ = false;
    events_.emplace_back(events::secure{});
    return {};
  }
  return answered(verify_);
}

inline std::error_code engine::accept_unauthorized(std::error_code verdict) {
  if (std::error_code ec = answer_check(verify_)) return ec;
  recorded_verdict_ = verdict;
  return verify_result({});
}

/// An alert the client's verification can send, as the X.509 code OpenSSL maps to it.
inline long x509_code_for_alert(int alert) {
  switch (alert) {
  case SSL_AD_CERTIFICATE_REVOKED: return X509_V_ERR_CERT_REVOKED;
  case SSL_AD_CERTIFICATE_EXPIRED: return X509_V_ERR_CERT_HAS_EXPIRED;
  case SSL_AD_UNKNOWN_CA: return X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
  case SSL_AD_UNSUPPORTED_CERTIFICATE: return X509_V_ERR_INVALID_PURPOSE;
  case SSL_AD_INTERNAL_ERROR: return X509_V_ERR_OUT_OF_MEM;
  default: return X509_V_ERR_APPLICATION_VERIFICATION; // handshake_failure
  }
}

inline std::error_code engine::fail_decision(std::error_code code, int alert) {
  if (destroyed_ || !ssl_) return make_error_code(errc::destroyed);
  if (error_) return error_;
  if (!code || alert < 0 || alert > 255) return make_error_code(errc::invalid_argument);
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
  if (verify_.state == decision_state::waiting) {
    if (config_.is_server) return verify_result(code); // after the handshake: no alert
    record_callback_error(code, std::move(message));
    return verify_result(
        std::error_code(static_cast<int>(x509_code_for_alert(alert)), x509_category()));
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
  // OpenSSL 3.0 cannot send an arbitrary alert once the handshake is done, and
  // SSL_set_retry_verify is ignored on a server: the connection fails here, no byte of
  // application data was released, and the caller closes the transport.
  held_ = false;
  plain_.clear();
  fail(verify_answer_.category() == x509_category() ? verify_answer_
                                                    : make_error_code(errc::verify_rejected),
       "the application rejected the peer's certificate: " + verify_answer_.message());
}

} // namespace tlsengine::detail
