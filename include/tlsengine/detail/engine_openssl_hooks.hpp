// tlsengine — engine, what OpenSSL calls back during a handshake (engine_hooks and the per-SSL
// callbacks): they record state and make only the synchronous decisions (verify, ALPN, PSK);
// nothing here waits. Not public: included by engine.hpp, which declares the class.
#pragma once

#include "engine.hpp"

namespace tlsengine::detail {

// ---- OpenSSL callbacks: record state, decide nothing that waits ----------------------
inline void engine::info_callback(const SSL* ssl, int where, int value) {
  engine* self = from(ssl);
  if (self == nullptr) return;
  // A server also reports "done" after merely sending a HelloRequest: count only
  // handshakes that saw a renegotiation ClientHello.
  if ((where & SSL_CB_HANDSHAKE_DONE) != 0 && self->handshake_done_ &&
      SSL_version(ssl) <= TLS1_2_VERSION &&
      (!self->config_.is_server || self->renegotiation_hello_seen_)) {
    self->renegotiation_hello_seen_ = false;
    self->renegotiating_ = false;
    self->events_.emplace_back(events::renegotiated{}); // a TLS 1.2 renegotiation ended
    return;
  }
  if ((where & SSL_CB_ALERT) == 0) return;
  // Only fatal alerts matter for the error event; close_notify is a warning.
  if ((value >> 8) == SSL3_AL_FATAL) {
    self->last_alert_ = value & 0xff;
    self->last_alert_sent_ = (where & SSL_CB_WRITE) != 0;
    // Destroyed from a callback: the handshake aborts, and of what OpenSSL wrote since
    // only this alert (its one record, the last write) goes out.
    if (self->destroyed_ && self->last_alert_sent_ && self->endpoint_.discard) {
      self->out_.append(self->endpoint_.last_discarded.view());
      self->endpoint_.bytes_written += self->endpoint_.last_discarded.size();
      self->endpoint_.last_discarded.clear();
    }
  }
}

/// Sees every protocol message: the peer's KeyUpdate and HelloRequest (which no other
/// callback reports), and the trace.
inline void engine::message_callback(int write_p, int version, int content_type, const void* buf,
                                     size_t length, SSL* ssl, void*) {
  engine* self = from(ssl);
  if (self == nullptr || self->destroyed_) return;
  // Every record OpenSSL writes is reported by its header: those since the server's
  // application traffic key was derived give that key's next sequence number.
  if (write_p != 0 && content_type == SSL3_RT_HEADER && self->records_under_app_key_ >= 0)
    ++self->records_under_app_key_;
  if (self->trace_) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio != nullptr) {
      SSL_trace(write_p, version, content_type, buf, length, ssl, bio);
      char* text = nullptr;
      const long n = BIO_get_mem_data(bio, &text);
      // A copy: the sink may replace itself (enable_trace) while it runs.
      std::function<void(std::string_view)> sink = self->trace_;
      if (n > 0) {
        self->call_user([&] {
          TLSENGINE_TRY { sink(std::string_view(text, static_cast<std::size_t>(n))); }
          TLSENGINE_CATCH_ALL {}
        });
      }
      BIO_free(bio);
    }
    // A message callback cannot stop OpenSSL; after destroy() it reads no more input.
    if (self->destroyed_) return;
  }
  if (content_type == SSL3_RT_HANDSHAKE && length >= 38 &&
      static_cast<const unsigned char*>(buf)[0] == SSL3_MT_SERVER_HELLO) {
    // A HelloRetryRequest is a ServerHello with this random (RFC 8446 4.1.3).
    static const unsigned char hrr_random[32] = {0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11,
                                                 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
                                                 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E,
                                                 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};
    if (std::memcmp(static_cast<const unsigned char*>(buf) + 6, hrr_random, 32) == 0)
      self->hello_retry_ = true;
  }
  if (write_p != 0 || content_type != SSL3_RT_HANDSHAKE || length < 1) return;
  const auto* message = static_cast<const unsigned char*>(buf);
  if (message[0] == SSL3_MT_NEWSESSION_TICKET && !self->handshake_done_ &&
      SSL_version(ssl) != TLS1_3_VERSION)
    self->ticket_in_handshake_ = true; // see report_renewed_ticket
  if (message[0] == SSL3_MT_KEY_UPDATE && length >= 5) {
    if (++self->key_updates_in_row_ > max_key_updates_in_row) {
      // OpenSSL 3.0 has no limit and cannot be told to fail here: the BIO hands it a
      // ChangeCipherSpec record next, which it refuses with unexpected_message (the
      // alert BoringSSL sends), encrypted as it must be.
      static const unsigned char change_cipher_spec[] = {20, 3, 3, 0, 1, 1};
      self->record_callback_error(make_error_code(errc::too_many_key_updates),
                                  "the peer sent more than 32 KeyUpdate messages without "
                                  "application data");
      self->endpoint_.inject(bytes_view(change_cipher_spec, sizeof change_cipher_spec));
      return;
    }
    self->events_.emplace_back(events::key_update{message[4] == SSL_KEY_UPDATE_REQUESTED});
  } else if (message[0] == SSL3_MT_HELLO_REQUEST && !self->config_.is_server) {
    if (!self->handshake_done_ || SSL_version(ssl) == TLS1_3_VERSION) {
      // OpenSSL ignores a HelloRequest during a handshake (RFC 5246 7.4.1.1 allows it);
      // stricter, it is a protocol violation: the forged record after it makes OpenSSL
      // send its own fatal unexpected_message alert with the keys of the moment.
      self->record_callback_error(make_error_code(errc::unexpected_message),
                                  "the server sent a HelloRequest during the handshake");
      self->endpoint_.inject_invalid_record();
    } else if (self->renegotiation_disabled_) {
      self->record_callback_error(make_error_code(errc::renegotiation_disabled),
                                  "the server tried to renegotiate");
      self->refuse_hello_alert_ = SSL_AD_NO_RENEGOTIATION;
    }
  }
}

// ---- OpenSSL callbacks (engine_hooks): record state, decide nothing that waits -------
/// Decides inside the handshake, so that a rejection sends the proper alert (Node
/// decides after the handshake and can only close the socket).
inline int engine::on_verify(X509_STORE_CTX* store) {
  if (destroyed_ || error_) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  if (verify_.state == decision_state::waiting) {
    // Client: OpenSSL restarts verification on every resume; keep pausing.
    SSL_set_retry_verify(ssl_.get());
    return 1;
  }
  if (!config_.is_server && ocsp_verdict_.state != decision_state::none &&
      verify_.state == decision_state::none) {
    // Called again after the OCSP pause: the chain OpenSSL keeps is the one this call
    // builds; the verdict is the one already given.
    X509_STORE_CTX_set_verify_cb(store, [](int, X509_STORE_CTX*) { return 1; });
    X509_verify_cert(store);
    X509_STORE_CTX_set_error(store, ocsp_gate_x509_error_);
    return ocsp_gate(store);
  }
  if (verify_.state == decision_state::answered) {
    if (!verify_answer_) {
      verify_error_ = recorded_verdict_; // {} unless accept_unauthorized() kept one
      // Accepted anyway: the verify_result (which the session keeps) still names the
      // verdict, so authorized() is false and a client that requires verification never
      // resumes the session without asking again (apply_session).
      if (recorded_verdict_) X509_STORE_CTX_set_error(store, x509_code_of(recorded_verdict_));
      return config_.is_server ? 1 : ocsp_gate(store);
    }
    verify_error_ = verify_answer_;
    if (config_.is_server) return 1; // rejected after the handshake (see on_handshake_done)
    verify_rejected_ = true;
    X509_STORE_CTX_set_error(store, x509_code_of(verify_answer_));
    return 0;
  }
  // As Node, whose verify callback lets verification go on past a failure: the last
  // error is the verdict (a lone leaf whose issuer is nowhere is
  // UNABLE_TO_VERIFY_LEAF_SIGNATURE, not the first failure's GET_ISSUER_CERT_LOCALLY).
  X509_STORE_CTX_set_verify_cb(store, [](int, X509_STORE_CTX*) { return 1; });
  const bool completed = X509_verify_cert(store) > 0;
  const bool chain_ok = completed && X509_STORE_CTX_get_error(store) == X509_V_OK;
  std::error_code verdict;
  if (!chain_ok) {
    long code = X509_STORE_CTX_get_error(store);
    if (code == X509_V_OK) code = X509_V_ERR_UNSPECIFIED;
    verdict = std::error_code(static_cast<int>(code), x509_category());
  } else if (!config_.is_server && !config_.identity_host.empty()) {
    verdict = check_identity(X509_STORE_CTX_get0_cert(store));
    if (destroyed_ || error_) { // the identity callback ended the connection
      X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
      return 0;
    }
  }
  verify_error_ = verdict;
  if (config_.connection.pause_on_verify) {
    verify_.state = decision_state::waiting;
    events_.emplace_back(events::verify_peer{verdict});
    if (!config_.is_server) {
      SSL_set_retry_verify(ssl_.get());
    } else if (SSL_version(ssl_.get()) <= TLS1_2_VERSION) {
      // OpenSSL 3.0 ignores SSL_set_retry_verify on a server (tests/probes): the
      // handshake is held at the client's ChangeCipherSpec instead, where a rejection
      // can still be a plaintext alert inside the handshake.
      endpoint_.hold_before_change_cipher_spec = true;
    } else {
      // TLS 1.3: the server's Finished is out. No ticket until the application accepts
      // (issue_held_tickets), and none may precede a rejection's alert, which is sealed as
      // the first record under the server's application key (reject_after_handshake).
      tickets_held_ = static_cast<int>(SSL_get_num_tickets(ssl_.get()));
      SSL_set_num_tickets(ssl_.get(), 0);
    }
    return 1;
  }
  if (!verdict) return config_.is_server ? 1 : ocsp_gate(store);
  if (!config_.reject_unauthorized) {
    // Accepted anyway (Node's rejectUnauthorized: false), but the session records the
    // verdict (its verify_result), so that a client that requires verification never
    // resumes it (apply_session).
    if (chain_ok) X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
    return config_.is_server ? 1 : ocsp_gate(store);
  }
  verify_rejected_ = true;
  if (chain_ok) X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
  return 0;
}

inline std::error_code engine::check_identity(X509* leaf) {
  std::error_code ec;
  std::string reason;
  if (config_.check_identity) {
    const certificate_info info = certificate_info_from_x509(leaf);
    call_user([&] {
      TLSENGINE_TRY { ec = config_.check_identity(config_.identity_host, info); }
      TLSENGINE_CATCH_ALL { ec = make_error_code(errc::decision_failed); }
    });
  } else {
    ec = check_server_identity_x509(config_.identity_host, leaf, &reason);
  }
  if (ec) verify_reason_ = std::move(reason);
  return ec;
}

inline int engine::on_client_hello(int* alert) {
  if (!config_.is_server) return SSL_CLIENT_HELLO_SUCCESS;
  if (destroyed_ || error_) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  if (handshake_done_) {
    if (!renegotiation_allowed(alert)) return SSL_CLIENT_HELLO_ERROR;
    renegotiation_hello_seen_ = true;
  }
  // Called again on every resume while paused, and after a context switch: idempotent.
  if (sni_.state == decision_state::none) {
    client_hello_sni_ = parse_server_name();
    if (config_.pause_on_servername) {
      sni_.state = decision_state::waiting;
      events_.emplace_back(events::servername{client_hello_sni_});
      return SSL_CLIENT_HELLO_RETRY;
    }
    sni_.state = decision_state::answered;
    if (config_.server) {
      if (auto chosen = config_.server->lookup(client_hello_sni_)) {
        if (!switch_context(*chosen)) {
          *alert = SSL_AD_INTERNAL_ERROR;
          return SSL_CLIENT_HELLO_ERROR;
        }
      }
    }
  }
  if (sni_.state == decision_state::waiting) return SSL_CLIENT_HELLO_RETRY;

  if (config_.external_session_cache && resume_.state == decision_state::none) {
    resume_.state = decision_state::answered;
    std::vector<std::uint8_t> id = offered_session_id();
    if (!id.empty()) {
      resume_.state = decision_state::waiting;
      events_.emplace_back(events::resume_session{std::move(id)});
      return SSL_CLIENT_HELLO_RETRY;
    }
  }
  if (resume_.state == decision_state::waiting) return SSL_CLIENT_HELLO_RETRY;
  return SSL_CLIENT_HELLO_SUCCESS;
}

/// The host_name of the server_name extension (SSL_get_servername is not set yet).
inline std::string engine::parse_server_name() {
  const unsigned char* p = nullptr;
  std::size_t n = 0;
  if (SSL_client_hello_get0_ext(ssl_.get(), TLSEXT_TYPE_server_name, &p, &n) != 1 || n < 2)
    return {};
  std::size_t list = (std::size_t(p[0]) << 8) | p[1];
  if (list + 2 > n) return {};
  for (std::size_t i = 2; i + 3 <= 2 + list;) {
    const unsigned type = p[i];
    const std::size_t length = (std::size_t(p[i + 1]) << 8) | p[i + 2];
    if (i + 3 + length > 2 + list) return {};
    if (type == TLSEXT_NAMETYPE_host_name)
      return std::string(reinterpret_cast<const char*>(p + i + 3), length);
    i += 3 + length;
  }
  return {};
}

inline int engine::on_alpn_select(const unsigned char** out, unsigned char* out_length,
                                  const unsigned char* in, unsigned int in_length) {
  if (destroyed_ || error_) return SSL_TLSEXT_ERR_ALERT_FATAL;
  if (config_.alpn_callback) {
    alpn_request request;
    request.servername = client_hello_sni_;
    for (unsigned i = 0; i < in_length;) {
      const unsigned n = in[i];
      if (n == 0 || i + 1 + n > in_length) return SSL_TLSEXT_ERR_ALERT_FATAL;
      request.protocols.emplace_back(reinterpret_cast<const char*>(in + i + 1), n);
      i += 1 + n;
    }
    std::optional<std::string> choice;
    bool threw = false;
    const bool alive = call_user([&] {
      TLSENGINE_TRY { choice = config_.alpn_callback(request); }
      TLSENGINE_CATCH_ALL { threw = true; }
    });
    // Destroyed or failed from inside: abort with the alert, without reading `in` again.
    if (!alive) return SSL_TLSEXT_ERR_ALERT_FATAL;
    if (threw) {
      abort_first_flight(SSL_AD_INTERNAL_ERROR, make_error_code(errc::decision_failed),
                         "the ALPN callback failed");
      return SSL_TLSEXT_ERR_NOACK;
    }
    if (!choice) return SSL_TLSEXT_ERR_ALERT_FATAL; // no_application_protocol
    for (unsigned i = 0; i < in_length; i += 1 + in[i]) {
      if (in[i] == choice->size() && std::memcmp(in + i + 1, choice->data(), in[i]) == 0) {
        *out = in + i + 1;
        *out_length = in[i];
        return SSL_TLSEXT_ERR_OK;
      }
    }
    // Our fault, not a missing overlap: internal_error (RFC 7301 keeps
    // no_application_protocol for the latter), which OpenSSL's answer codes cannot say.
    abort_first_flight(SSL_AD_INTERNAL_ERROR, make_error_code(errc::alpn_invalid),
                       "the ALPN callback chose a protocol the client did not offer: " + *choice);
    return SSL_TLSEXT_ERR_NOACK;
  }
  if (config_.alpn.empty()) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* selected = nullptr;
  // The server's order of preference, as Node; no overlap is a fatal
  // no_application_protocol alert (RFC 7301 3.2).
  if (SSL_select_next_proto(&selected, out_length, config_.alpn.data(),
                            static_cast<unsigned>(config_.alpn.size()), in,
                            in_length) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

inline int engine::on_certificate_needed() {
  if (destroyed_ || error_) return 0;
  if (config_.is_server) {
    if (!config_.pause_on_ocsp_request ||
        SSL_get_tlsext_status_type(ssl_.get()) != TLSEXT_STATUSTYPE_ocsp)
      return 1;
    if (ocsp_.state == decision_state::none) {
      ocsp_.state = decision_state::waiting;
      events_.emplace_back(ocsp_request_event());
    }
    return ocsp_.state == decision_state::waiting ? -1 : 1;
  }
  if (certificate_request_failed_) return 0; // fail_decision: internal_error
  if (!config_.pause_on_certificate_request) return 1;
  if (certificate_request_.state == decision_state::none) {
    certificate_request_.state = decision_state::waiting;
    events::certificate_request e;
    if (const STACK_OF(X509_NAME)* names = SSL_get0_peer_CA_list(ssl_.get())) {
      for (int i = 0; i < sk_X509_NAME_num(names); ++i) {
        char line[512];
        X509_NAME_oneline(sk_X509_NAME_value(names, i), line, sizeof line);
        e.acceptable_issuers.emplace_back(line);
      }
    }
    events_.emplace_back(std::move(e));
  }
  return certificate_request_.state == decision_state::waiting ? -1 : 1;
}

inline events::ocsp_request engine::ocsp_request_event() {
  events::ocsp_request e;
  X509* cert = SSL_get_certificate(ssl_.get());
  auto to_der = [](X509* x) {
    std::vector<std::uint8_t> der;
    const int n = i2d_X509(x, nullptr);
    if (n <= 0) return der;
    der.resize(static_cast<std::size_t>(n));
    unsigned char* p = der.data();
    i2d_X509(x, &p);
    return der;
  };
  if (cert == nullptr) return e;
  e.certificate = to_der(cert);
  STACK_OF(X509)* chain = nullptr;
  if (SSL_get0_chain_certs(ssl_.get(), &chain) == 1 && chain != nullptr) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      X509* candidate = sk_X509_value(chain, i);
      if (X509_check_issued(candidate, cert) == X509_V_OK) {
        e.issuer = to_der(candidate);
        break;
      }
    }
  }
  return e;
}

inline int engine::on_ocsp_status() {
  if (destroyed_ || error_) return config_.is_server ? SSL_TLSEXT_ERR_ALERT_FATAL : 0;
  if (config_.is_server) {
    if (!ocsp_response_ || ocsp_response_->empty()) return SSL_TLSEXT_ERR_NOACK;
    auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(ocsp_response_->size()));
    if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;
    std::memcpy(copy, ocsp_response_->data(), ocsp_response_->size());
    SSL_set_tlsext_status_ocsp_resp(ssl_.get(), copy, static_cast<long>(ocsp_response_->size()));
    return SSL_TLSEXT_ERR_OK;
  }
  if (!config_.request_ocsp && !config_.pause_on_ocsp_response) return 1;
  if (config_.pause_on_ocsp_response) {
    if (ocsp_verdict_.state == decision_state::answered) {
      // TLS 1.3: judged in the verify callback (ocsp_gate). A rejection fails here, and
      // OpenSSL sends bad_certificate_status_response itself, with the keys of the moment.
      return ocsp_answer_ ? 0 : 1;
    }
    if (ocsp_verdict_.state == decision_state::none && SSL_version(ssl_.get()) <= TLS1_2_VERSION) {
      // TLS 1.2, after ServerHelloDone: this callback cannot wait. It says yes for now and
      // the client's flight that OpenSSL writes next stays inside the engine until the
      // answer: released on accept, replaced by a plaintext alert on reject.
      ocsp_verdict_.state = decision_state::waiting;
      endpoint_.held_output = &held_flight_;
      events_.emplace_back(ocsp_response_event(true));
      return 1;
    }
  }
  events_.emplace_back(ocsp_response_event(false)); // a TLS 1.3 resumption: nothing to judge
  return 1;
}

inline events::ocsp_response engine::ocsp_response_event(bool decision) {
  const unsigned char* p = nullptr;
  const long n = SSL_get_tlsext_status_ocsp_resp(ssl_.get(), &p);
  events::ocsp_response e;
  if (p != nullptr && n > 0) e.response.assign(p, p + n);
  e.decision = decision;
  return e;
}

inline int engine::ocsp_gate(X509_STORE_CTX* store) {
  if (!config_.pause_on_ocsp_response || SSL_version(ssl_.get()) != TLS1_3_VERSION) return 1;
  if (ocsp_verdict_.state == decision_state::none) {
    // TLS 1.3 staples the response in the server's Certificate, parsed before this
    // callback: the client pauses here with OpenSSL's own retry-verify.
    ocsp_verdict_.state = decision_state::waiting;
    ocsp_gate_x509_error_ = X509_STORE_CTX_get_error(store);
    events_.emplace_back(ocsp_response_event(true));
  }
  if (ocsp_verdict_.state == decision_state::waiting) {
    SSL_set_retry_verify(ssl_.get());
    return 1;
  }
  if (ocsp_reject_alert_ >= 0) {
    // fail_decision with an alert the status callback cannot send: OpenSSL's verification
    // fails with the X.509 code that maps to it.
    verify_rejected_ = true;
    X509_STORE_CTX_set_error(store, x509_code_for_alert(ocsp_reject_alert_));
    return 0;
  }
  return 1;
}

inline void engine::on_keylog(const char* line) {
  if (config_.is_server && config_.connection.pause_on_verify && server_app_secret_.empty()) {
    server_app_secret_ = keylog_secret(line, "SERVER_TRAFFIC_SECRET_0");
    if (!server_app_secret_.empty()) records_under_app_key_ = 0;
  }
  if (config_.connection.enable_keylog) events_.emplace_back(events::keylog{line});
}

inline unsigned int engine::psk_client_callback(SSL* ssl, const char* hint, char* identity,
                                                unsigned int max_identity, unsigned char* psk,
                                                unsigned int max_psk) {
  engine* self = from(ssl);
  if (self == nullptr || !self->config_.psk_client || self->destroyed_ || self->error_) return 0;
  // OpenSSL first asks while it builds a TLS 1.3 ClientHello, before the server said
  // anything (hint NULL): that probe gets a null string_view (is_psk_probe()), and a
  // declined probe only means "no TLS 1.3 external PSK".
  const bool probe = hint == nullptr && SSL_get_state(ssl) == TLS_ST_CW_CLNT_HELLO;
  std::optional<psk_credentials> answer;
  bool threw = false;
  if (!self->call_user([&] {
        TLSENGINE_TRY {
          answer = self->config_.psk_client(probe ? std::string_view()
                                                  : std::string_view(hint ? hint : ""));
        }
        TLSENGINE_CATCH_ALL { threw = true; }
      }))
    return 0; // destroyed or failed from inside: no PSK, the handshake stops
  if (probe && !answer && !threw) return 0;
  if (!answer || answer->key.empty() || answer->key.size() > max_psk ||
      answer->identity.size() + 1 > max_identity) {
    self->record_callback_error(make_error_code(errc::decision_failed),
                                "the PSK callback gave no usable identity and key");
    return 0;
  }
  std::memcpy(identity, answer->identity.c_str(), answer->identity.size() + 1);
  std::memcpy(psk, answer->key.data(), answer->key.size());
  return static_cast<unsigned int>(answer->key.size());
}

inline unsigned int engine::psk_server_callback(SSL* ssl, const char* identity, unsigned char* psk,
                                                unsigned int max_psk) {
  engine* self = from(ssl);
  if (self == nullptr || !self->config_.psk_server || self->destroyed_ || self->error_) return 0;
  std::optional<std::vector<std::uint8_t>> key;
  if (!self->call_user([&] {
        TLSENGINE_TRY { key = self->config_.psk_server(identity ? identity : ""); }
        TLSENGINE_CATCH_ALL { key.reset(); }
      }))
    return 0; // destroyed or failed from inside: unknown identity, the handshake fails
  if (!key || key->empty() || key->size() > max_psk) return 0; // unknown identity
  std::memcpy(psk, key->data(), key->size());
  return static_cast<unsigned int>(key->size());
}

inline void engine::record_callback_error(std::error_code code, std::string message) {
  if (callback_error_) return;
  callback_error_ = code;
  callback_message_ = std::move(message);
}

inline int engine::on_build_client_hello(int* alert) {
  if (refuse_hello_alert_ < 0) return 0; // the extension is not sent
  *alert = refuse_hello_alert_;
  return -1;
}

inline void engine::abort_first_flight(int alert, std::error_code code, std::string message) {
  record_callback_error(code, std::move(message));
  if (plaintext_alert_ >= 0) return;
  plaintext_alert_ = alert;
  plaintext_alert_mark_ = out_.size();
}

/// The server's write side is still plaintext while it answers a ClientHello (TLS 1.2's
/// whole first flight, TLS 1.3's ServerHello), and that flight has not left the engine:
/// it is dropped and replaced by the fatal alert record, which OpenSSL 3.0 has no call to
/// send with a description of our choice.
inline void engine::send_plaintext_alert() {
  const int version = std::min(SSL_version(ssl_.get()), TLS1_2_VERSION);
  const std::uint8_t record[7] = {SSL3_RT_ALERT,
                                  static_cast<std::uint8_t>(version >> 8),
                                  static_cast<std::uint8_t>(version & 0xff),
                                  0,
                                  2,
                                  SSL3_AL_FATAL,
                                  static_cast<std::uint8_t>(plaintext_alert_)};
  out_.truncate(plaintext_alert_mark_);
  out_.append(bytes_view(record, sizeof record));
  last_alert_ = plaintext_alert_;
  last_alert_sent_ = true;
  clear_error_queue();
  fail(callback_error_, callback_message_);
}

inline void engine::fail_on_callback_error() {
  // A callback failed and OpenSSL went on: fail now (a failure OpenSSL acted on fails in
  // handle_failure, with its alert).
  if (callback_error_ && !error_ && !destroyed_) fail(callback_error_, callback_message_);
}

} // namespace tlsengine::detail
