// tlsengine — session_handle: a client session to resume. It holds OpenSSL's parsed
// SSL_SESSION (shared, reference-counted) and serializes to bytes only when the application
// asks, so resuming from it costs no parsing; bytes from storage are still accepted.
#pragma once

#include "detail/config.hpp"

#include "bytes.hpp"
#include "detail/handles.hpp"

#include <openssl/ssl.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tlsengine {
namespace detail {
class engine;
class session_cache;
} // namespace detail

/// What the `session` event carries and client_options::session takes. Copies share one
/// immutable state: each connection resumes from its own copy of the session. Converts to and from
/// std::vector<std::uint8_t> (the serialized form), so code that stores sessions as bytes keeps
/// working: bytes are parsed once per secure_context (a small cache), a handle from a `session`
/// event is not parsed at all.
class session_handle {
public:
  session_handle() = default;
  /// Serialized bytes (from to_bytes() or an earlier `session` event's data).
  session_handle(std::vector<std::uint8_t> bytes);
  session_handle(std::initializer_list<std::uint8_t> bytes);
  static session_handle from_bytes(bytes_view bytes);
  /// A copy of `session` (SSL_SESSION_dup: certificates and keys are shared, not parsed);
  /// null gives an empty handle. A copy because OpenSSL marks a client's session
  /// unresumable when the connection using it gets a newer ticket: the handle must not
  /// change under the application.
  static session_handle from_native(const SSL_SESSION* session);

  bool empty() const noexcept { return !state_; }
  /// The parsed session; null when empty or made from bytes (parsed when used).
  SSL_SESSION* native_handle() const noexcept { return state_ ? state_->parsed.get() : nullptr; }
  /// The bytes this handle was made from; empty when made from a parsed session.
  bytes_view stored_bytes() const noexcept;
  /// The serialized session, to store (i2d_SSL_SESSION; made on every call).
  std::vector<std::uint8_t> to_bytes() const;
  operator std::vector<std::uint8_t>() const { return to_bytes(); } // NOLINT: compatibility

private:
  friend class detail::engine;
  friend class detail::session_cache;

  struct state {
    state(detail::ssl_session_ptr p, std::vector<std::uint8_t> b);
    detail::ssl_session_ptr parsed;
    std::vector<std::uint8_t> bytes;
    // Host names already found to match the session's certificate (the identity binding
    // is checked before every resumption; the answer for a name never changes).
    mutable std::mutex mutex;
    mutable std::vector<std::string> matching_hosts;
  };
  static constexpr std::size_t max_matching_hosts = 4;

  bool known_to_match(std::string_view host) const;
  void remember_match(std::string_view host) const;
  static session_handle adopt(detail::ssl_session_ptr parsed);

  std::shared_ptr<const state> state_;
};

} // namespace tlsengine

#if !defined(TLSENGINE_SEPARATE_COMPILATION)
#include "impl/session.hpp"
#endif
