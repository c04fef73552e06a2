// tlsengine — engine, NPN (Next Protocol Negotiation, the pre-ALPN extension of Node's older
// manuals: NPNProtocols / npnProtocol). TLS 1.2 only; opt-in on both sides; when a client
// offers both, ALPN takes precedence (OpenSSL's server then does not answer NPN). Not
// public: included by engine.hpp, which declares the class.
#pragma once

#include "engine.hpp"

namespace tlsengine::detail {

inline int engine::on_npn_advertise(const unsigned char** out, unsigned int* out_length) {
  if (!config_.is_server || config_.npn.empty() || destroyed_ || error_)
    return SSL_TLSEXT_ERR_NOACK;
  *out = config_.npn.data();
  *out_length = static_cast<unsigned int>(config_.npn.size());
  return SSL_TLSEXT_ERR_OK;
}

inline int engine::on_npn_select(unsigned char** out, unsigned char* out_length,
                                 const unsigned char* in, unsigned int in_length) {
  if (destroyed_ || error_) return SSL_TLSEXT_ERR_ALERT_FATAL;
  if (config_.npn.empty()) {
    // Another client of a context an NPN client uses: NPN requires a choice once the
    // server answers; Node 0.10 chose "http/1.1" and reported none.
    static unsigned char http11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
    *out = http11;
    *out_length = sizeof http11;
    return SSL_TLSEXT_ERR_OK;
  }
  // OpenSSL validated the server's list; ours is never empty (CVE-2024-5535 concerns an
  // empty client list). Without overlap the client's first protocol goes out, as NPN says.
  const int status = SSL_select_next_proto(out, out_length, in, in_length, config_.npn.data(),
                                           static_cast<unsigned int>(config_.npn.size()));
  npn_overlap_ = status == OPENSSL_NPN_NEGOTIATED;
  return SSL_TLSEXT_ERR_OK;
}

inline std::string engine::npn_protocol() const {
  if (!ssl_ || !handshake_done_ || config_.npn.empty()) return {};
  if (!config_.is_server && !npn_overlap_) return {};
  const unsigned char* data = nullptr;
  unsigned int length = 0;
  SSL_get0_next_proto_negotiated(ssl_.get(), &data, &length);
  return data != nullptr ? std::string(reinterpret_cast<const char*>(data), length) : std::string();
}

} // namespace tlsengine::detail
