// tlsengine — session_handle: a client session to resume. It holds OpenSSL's parsed
// SSL_SESSION (shared, reference-counted) and serializes to bytes only when the application
// asks, so resuming from it costs no parsing; bytes from storage are still accepted.
#pragma once

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
  session_handle(std::vector<std::uint8_t> bytes) { // NOLINT: implicit, for compatibility
    if (bytes.empty()) return;
    // Swapped in rather than moved through make_shared's arguments: g++ 14 reports a
    // spurious -Wfree-nonheap-object for the latter where the vector is a temporary.
    auto made = std::make_shared<state>(detail::ssl_session_ptr(), std::vector<std::uint8_t>());
    made->bytes.swap(bytes);
    state_ = std::move(made);
  }
  session_handle(std::initializer_list<std::uint8_t> bytes)
      : session_handle(std::vector<std::uint8_t>(bytes)) {}
  static session_handle from_bytes(bytes_view bytes) {
    return session_handle(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
  }
  /// A copy of `session` (SSL_SESSION_dup: certificates and keys are shared, not parsed);
  /// null gives an empty handle. A copy because OpenSSL marks a client's session
  /// unresumable when the connection using it gets a newer ticket: the handle must not
  /// change under the application.
  static session_handle from_native(const SSL_SESSION* session) {
    return adopt(detail::ssl_session_ptr(session != nullptr ? SSL_SESSION_dup(session) : nullptr));
  }

  bool empty() const noexcept { return !state_; }
  /// The parsed session; null when empty or made from bytes (parsed when used).
  SSL_SESSION* native_handle() const noexcept { return state_ ? state_->parsed.get() : nullptr; }
  /// The bytes this handle was made from; empty when made from a parsed session.
  bytes_view stored_bytes() const noexcept {
    return state_ ? bytes_view(state_->bytes.data(), state_->bytes.size()) : bytes_view();
  }
  /// The serialized session, to store (i2d_SSL_SESSION; made on every call).
  std::vector<std::uint8_t> to_bytes() const {
    if (!state_) return {};
    if (!state_->parsed) return state_->bytes;
    std::vector<std::uint8_t> out;
    const int size = i2d_SSL_SESSION(state_->parsed.get(), nullptr);
    if (size <= 0) return out;
    out.resize(static_cast<std::size_t>(size));
    unsigned char* p = out.data();
    i2d_SSL_SESSION(state_->parsed.get(), &p);
    return out;
  }
  operator std::vector<std::uint8_t>() const { return to_bytes(); } // NOLINT: compatibility

private:
  friend class detail::engine;
  friend class detail::session_cache;

  struct state {
    state(detail::ssl_session_ptr p, std::vector<std::uint8_t> b)
        : parsed(std::move(p)), bytes(std::move(b)) {}
    detail::ssl_session_ptr parsed;
    std::vector<std::uint8_t> bytes;
    // Host names already found to match the session's certificate (the identity binding
    // is checked before every resumption; the answer for a name never changes).
    mutable std::mutex mutex;
    mutable std::vector<std::string> matching_hosts;
  };
  static constexpr std::size_t max_matching_hosts = 4;

  bool known_to_match(std::string_view host) const {
    if (!state_) return false;
    std::lock_guard<std::mutex> lock(state_->mutex);
    for (const std::string& h : state_->matching_hosts)
      if (h == host) return true;
    return false;
  }
  void remember_match(std::string_view host) const {
    if (!state_) return;
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (state_->matching_hosts.size() < max_matching_hosts)
      state_->matching_hosts.emplace_back(host);
  }
  static session_handle adopt(detail::ssl_session_ptr parsed) {
    session_handle h;
    if (parsed)
      h.state_ = std::make_shared<const state>(std::move(parsed), std::vector<std::uint8_t>());
    return h;
  }

  std::shared_ptr<const state> state_;
};

} // namespace tlsengine
