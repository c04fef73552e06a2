// tlsengine — the out-of-line functions of tlsengine/session.hpp (see impl/src.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include "../session.hpp"

namespace tlsengine {

TLSENGINE_DECL session_handle::session_handle(
    std::vector<std::uint8_t> bytes) { // NOLINT: implicit, for compatibility
  if (bytes.empty()) return;
  // Swapped in rather than moved through make_shared's arguments: g++ 14 reports a
  // spurious -Wfree-nonheap-object for the latter where the vector is a temporary.
  auto made = std::make_shared<state>(detail::ssl_session_ptr(), std::vector<std::uint8_t>());
  made->bytes.swap(bytes);
  state_ = std::move(made);
}

TLSENGINE_DECL session_handle::session_handle(std::initializer_list<std::uint8_t> bytes)
    : session_handle(std::vector<std::uint8_t>(bytes)) {}

TLSENGINE_DECL session_handle session_handle::from_bytes(bytes_view bytes) {
  return session_handle(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
}

TLSENGINE_DECL session_handle session_handle::from_native(const SSL_SESSION* session) {
  return adopt(detail::ssl_session_ptr(session != nullptr ? SSL_SESSION_dup(session) : nullptr));
}

TLSENGINE_DECL bytes_view session_handle::stored_bytes() const noexcept {
  return state_ ? bytes_view(state_->bytes.data(), state_->bytes.size()) : bytes_view();
}

TLSENGINE_DECL std::vector<std::uint8_t> session_handle::to_bytes() const {
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

TLSENGINE_DECL session_handle::state::state(detail::ssl_session_ptr p, std::vector<std::uint8_t> b)
    : parsed(std::move(p)), bytes(std::move(b)) {}

TLSENGINE_DECL bool session_handle::known_to_match(std::string_view host) const {
  if (!state_) return false;
  std::lock_guard<std::mutex> lock(state_->mutex);
  for (const std::string& h : state_->matching_hosts)
    if (h == host) return true;
  return false;
}

TLSENGINE_DECL void session_handle::remember_match(std::string_view host) const {
  if (!state_) return;
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (state_->matching_hosts.size() < max_matching_hosts) state_->matching_hosts.emplace_back(host);
}

TLSENGINE_DECL session_handle session_handle::adopt(detail::ssl_session_ptr parsed) {
  session_handle h;
  if (parsed)
    h.state_ = std::make_shared<const state>(std::move(parsed), std::vector<std::uint8_t>());
  return h;
}

} // namespace tlsengine
