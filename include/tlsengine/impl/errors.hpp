// tlsengine — the out-of-line functions of tlsengine/errors.hpp (see impl/src.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include "../errors.hpp"

namespace tlsengine::detail {

TLSENGINE_DECL std::string engine_category_impl::message(int value) const {
  switch (static_cast<errc>(value)) {
  case errc::ok: return "success";
  case errc::truncated: return "the transport closed without a TLS close_notify (truncation)";
  case errc::handshake_timeout: return "TLS handshake timeout";
  case errc::cert_altname_invalid: return "Hostname/IP does not match certificate's altnames";
  case errc::write_after_end: return "write after end";
  case errc::destroyed: return "cannot call this after the connection was destroyed";
  case errc::invalid_state: return "the call does not fit the connection's current state";
  case errc::invalid_argument: return "invalid argument value";
  case errc::missing_certificate: return "a server needs a certificate and a private key";
  case errc::dh_param_too_small: return "DH parameter is less than the minimum size";
  case errc::alpn_invalid: return "invalid ALPN protocol list or selection";
  case errc::verify_rejected: return "the application rejected the peer's certificate";
  case errc::decision_failed: return "a handshake decision failed";
  case errc::renegotiation_disabled: return "TLS session renegotiation disabled for this socket";
  case errc::renegotiation_limit: return "TLS session renegotiation attack detected";
  case errc::invalid_max_send_fragment: return "max send fragment must be within 512..16384";
  case errc::too_many_key_updates: return "too many KeyUpdate messages without application data";
  case errc::unexpected_message: return "unexpected message";
  case errc::certificate_list_too_long:
    return "the peer's certificate list is longer than max_cert_list";
  case errc::invalid_protocol_method:
    return "unknown or disabled secureProtocol method (SSLv2 and SSLv3 methods are disabled)";
  case errc::protocol_version_conflict:
    return "min_version / max_version conflict with secure_protocol";
  }
  return "unknown tlsengine error";
}

TLSENGINE_DECL std::string openssl_category_impl::message(int value) const {
  const char* reason = ERR_reason_error_string(static_cast<unsigned long>(value));
  if (reason != nullptr) return reason;
  return "OpenSSL error " + std::to_string(ERR_GET_LIB(static_cast<unsigned long>(value))) + ":" +
         std::to_string(ERR_GET_REASON(static_cast<unsigned long>(value)));
}

TLSENGINE_DECL std::string x509_category_impl::message(int value) const {
  return X509_verify_cert_error_string(static_cast<long>(value));
}

} // namespace tlsengine::detail

namespace tlsengine {

TLSENGINE_DECL const std::error_category& engine_category() noexcept {
  static const detail::engine_category_impl category;
  return category;
}

TLSENGINE_DECL const std::error_category& openssl_category() noexcept {
  static const detail::openssl_category_impl category;
  return category;
}

TLSENGINE_DECL const std::error_category& x509_category() noexcept {
  static const detail::x509_category_impl category;
  return category;
}

TLSENGINE_DECL std::error_code make_error_code(errc e) noexcept {
  return std::error_code(static_cast<int>(e), engine_category());
}

TLSENGINE_DECL std::string_view verify_code_name(long code) noexcept {
  switch (code) {
#define TLSENGINE_X509_NAME(n)                                                                     \
  case X509_V_ERR_##n: return #n;
    TLSENGINE_X509_NAME(UNABLE_TO_GET_ISSUER_CERT)
    TLSENGINE_X509_NAME(UNABLE_TO_GET_CRL)
    TLSENGINE_X509_NAME(UNABLE_TO_DECRYPT_CERT_SIGNATURE)
    TLSENGINE_X509_NAME(UNABLE_TO_DECRYPT_CRL_SIGNATURE)
    TLSENGINE_X509_NAME(UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY)
    TLSENGINE_X509_NAME(CERT_SIGNATURE_FAILURE)
    TLSENGINE_X509_NAME(CRL_SIGNATURE_FAILURE)
    TLSENGINE_X509_NAME(CERT_NOT_YET_VALID)
    TLSENGINE_X509_NAME(CERT_HAS_EXPIRED)
    TLSENGINE_X509_NAME(CRL_NOT_YET_VALID)
    TLSENGINE_X509_NAME(CRL_HAS_EXPIRED)
    TLSENGINE_X509_NAME(ERROR_IN_CERT_NOT_BEFORE_FIELD)
    TLSENGINE_X509_NAME(ERROR_IN_CERT_NOT_AFTER_FIELD)
    TLSENGINE_X509_NAME(ERROR_IN_CRL_LAST_UPDATE_FIELD)
    TLSENGINE_X509_NAME(ERROR_IN_CRL_NEXT_UPDATE_FIELD)
    TLSENGINE_X509_NAME(OUT_OF_MEM)
    TLSENGINE_X509_NAME(DEPTH_ZERO_SELF_SIGNED_CERT)
    TLSENGINE_X509_NAME(SELF_SIGNED_CERT_IN_CHAIN)
    TLSENGINE_X509_NAME(UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
    TLSENGINE_X509_NAME(UNABLE_TO_VERIFY_LEAF_SIGNATURE)
    TLSENGINE_X509_NAME(CERT_CHAIN_TOO_LONG)
    TLSENGINE_X509_NAME(CERT_REVOKED)
    TLSENGINE_X509_NAME(INVALID_CA)
    TLSENGINE_X509_NAME(PATH_LENGTH_EXCEEDED)
    TLSENGINE_X509_NAME(INVALID_PURPOSE)
    TLSENGINE_X509_NAME(CERT_UNTRUSTED)
    TLSENGINE_X509_NAME(CERT_REJECTED)
    TLSENGINE_X509_NAME(HOSTNAME_MISMATCH)
    TLSENGINE_X509_NAME(EMAIL_MISMATCH)
    TLSENGINE_X509_NAME(IP_ADDRESS_MISMATCH)
    TLSENGINE_X509_NAME(INVALID_EXTENSION)
    TLSENGINE_X509_NAME(INVALID_NON_CA)
    TLSENGINE_X509_NAME(KEYUSAGE_NO_CERTSIGN)
    TLSENGINE_X509_NAME(UNABLE_TO_GET_CRL_ISSUER)
    TLSENGINE_X509_NAME(APPLICATION_VERIFICATION)
    TLSENGINE_X509_NAME(CA_KEY_TOO_SMALL)
    TLSENGINE_X509_NAME(EE_KEY_TOO_SMALL)
    TLSENGINE_X509_NAME(CA_MD_TOO_WEAK)
#undef TLSENGINE_X509_NAME
  case X509_V_OK: return "";
  default: return "UNSPECIFIED";
  }
}

TLSENGINE_DECL std::string error_code_name(std::error_code ec) {
  if (!ec) return "";
  if (ec.category() == x509_category()) return std::string(verify_code_name(ec.value()));
  if (ec.category() == engine_category()) {
    switch (static_cast<errc>(ec.value())) {
    case errc::ok: return "";
    case errc::truncated: return "ECONNRESET";
    case errc::handshake_timeout: return "ERR_TLS_HANDSHAKE_TIMEOUT";
    case errc::cert_altname_invalid: return "ERR_TLS_CERT_ALTNAME_INVALID";
    case errc::write_after_end: return "ERR_STREAM_WRITE_AFTER_END";
    case errc::destroyed: return "ERR_STREAM_DESTROYED";
    case errc::invalid_state: return "ERR_TLS_INVALID_STATE";
    case errc::invalid_argument: return "ERR_INVALID_ARG_VALUE";
    case errc::missing_certificate: return "ERR_SSL_NO_CERTIFICATE_ASSIGNED";
    case errc::dh_param_too_small: return "ERR_TLS_DH_PARAM_SIZE";
    case errc::alpn_invalid: return "ERR_TLS_ALPN_CALLBACK_INVALID_RESULT";
    case errc::verify_rejected: return "ERR_TLS_CERT_REJECTED";
    case errc::decision_failed: return "ERR_TLS_DECISION_FAILED";
    case errc::renegotiation_disabled: return "ERR_TLS_RENEGOTIATION_DISABLED";
    case errc::renegotiation_limit: return "ERR_TLS_SESSION_ATTACK";
    case errc::invalid_max_send_fragment: return "ERR_OUT_OF_RANGE";
    case errc::too_many_key_updates: return "ERR_SSL_TOO_MANY_KEY_UPDATES";
    case errc::unexpected_message: return "ERR_SSL_UNEXPECTED_MESSAGE";
    case errc::certificate_list_too_long: return "ERR_SSL_EXCESSIVE_MESSAGE_SIZE";
    case errc::invalid_protocol_method: return "ERR_TLS_INVALID_PROTOCOL_METHOD";
    case errc::protocol_version_conflict: return "ERR_TLS_PROTOCOL_VERSION_CONFLICT";
    }
  }
  if (ec.category() == openssl_category()) {
    std::string reason = ec.message();
    // OpenSSL >= 3.2 says "ssl/tls alert handshake failure" where 3.0 said "sslv3 alert
    // handshake failure" (SSL_R_SSLV3_ALERT_*): the code keeps 3.0's name on every version,
    // the one Node reports there, and never holds a '/'.
    constexpr std::string_view renamed = "ssl/tls alert ";
    if (reason.compare(0, renamed.size(), renamed) == 0)
      reason.replace(0, renamed.size(), "sslv3 alert ");
    std::string code = "ERR_SSL_";
    for (char c : reason)
      code += (c == ' ' || c == '-')
                  ? '_'
                  : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return code;
  }
  return ec.category().name() + std::string(":") + std::to_string(ec.value());
}

} // namespace tlsengine
