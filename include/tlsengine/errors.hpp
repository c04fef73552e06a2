// tlsengine — error categories: the engine's own conditions, OpenSSL's error queue codes,
// and X.509 verification results (with Node's code names).
#pragma once

#include "detail/config.hpp"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <cctype>
#include <string>
#include <string_view>
#include <system_error>

namespace tlsengine {

/// Conditions the engine itself detects. Names follow Node's error codes where one exists.
enum class errc {
  ok = 0,
  truncated,                 ///< the transport closed without close_notify
  handshake_timeout,         ///< ERR_TLS_HANDSHAKE_TIMEOUT
  cert_altname_invalid,      ///< ERR_TLS_CERT_ALTNAME_INVALID (hostname check failed)
  write_after_end,           ///< ERR_STREAM_WRITE_AFTER_END
  destroyed,                 ///< ERR_STREAM_DESTROYED
  invalid_state,             ///< a call that does not fit the connection's state
  invalid_argument,          ///< ERR_INVALID_ARG_VALUE
  missing_certificate,       ///< a server context without a certificate and key
  dh_param_too_small,        ///< DH parameters under 1024 bits (context) or under min_dh_size
  alpn_invalid,              ///< ERR_TLS_ALPN_CALLBACK_INVALID_RESULT / a bad ALPN list
  verify_rejected,           ///< the application rejected the peer (verify_result)
  decision_failed,           ///< a decision callback or answer failed: the handshake ends
  renegotiation_disabled,    ///< ERR_TLS_RENEGOTIATION_DISABLED
  renegotiation_limit,       ///< ERR_TLS_SESSION_ATTACK: too many client renegotiations
  invalid_max_send_fragment, ///< ERR_OUT_OF_RANGE: not within 512..16384
  too_many_key_updates,      ///< more than 32 TLS 1.3 KeyUpdates without data (BoringSSL's rule)
  certificate_list_too_long, ///< the peer's certificate list exceeds max_cert_list
  invalid_protocol_method,   ///< ERR_TLS_INVALID_PROTOCOL_METHOD (secure_protocol)
  protocol_version_conflict, ///< ERR_TLS_PROTOCOL_VERSION_CONFLICT (secure_protocol + versions)
  unexpected_message,        ///< ERR_SSL_UNEXPECTED_MESSAGE: a message the protocol forbids here
};

namespace detail {

class engine_category_impl final : public std::error_category {
public:
  const char* name() const noexcept override { return "tlsengine"; }
  TLSENGINE_DECL std::string message(int value) const override; // no key function when header-only
};

/// OpenSSL packs (library, reason) into one code; the reason string is its message.
class openssl_category_impl final : public std::error_category {
public:
  const char* name() const noexcept override { return "openssl"; }
  TLSENGINE_DECL std::string message(int value) const override; // no key function when header-only
};

class x509_category_impl final : public std::error_category {
public:
  const char* name() const noexcept override { return "x509"; }
  TLSENGINE_DECL std::string message(int value) const override; // no key function when header-only
};

} // namespace detail

TLSENGINE_DECL const std::error_category& engine_category() noexcept;
TLSENGINE_DECL const std::error_category& openssl_category() noexcept;
/// Values are X509_V_ERR_* codes.
TLSENGINE_DECL const std::error_category& x509_category() noexcept;

TLSENGINE_DECL std::error_code make_error_code(errc e) noexcept;

/// Node's name for an X.509 verification code, e.g. "CERT_HAS_EXPIRED".
TLSENGINE_DECL std::string_view verify_code_name(long code) noexcept;

/// Node's code for an error: "CERT_HAS_EXPIRED" for verification failures,
/// "ERR_TLS_CERT_ALTNAME_INVALID" and friends for the engine's own, "ERR_SSL_<REASON>"
/// for OpenSSL's (as Node derives err.code from the reason string).
TLSENGINE_DECL std::string error_code_name(std::error_code ec);

} // namespace tlsengine

template <> struct std::is_error_code_enum<tlsengine::errc> : std::true_type {};

#if !defined(TLSENGINE_SEPARATE_COMPILATION)
#include "impl/errors.hpp"
#endif
