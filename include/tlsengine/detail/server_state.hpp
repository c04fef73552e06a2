// tlsengine — what a server shares with its connections: the SNI context table and the
// ring of session ticket keys, both changeable while connections run on other threads.
#pragma once

#include "../context.hpp"

#include <array>
#include <cctype>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tlsengine::detail {

/// Node's ticket key layout: 16 bytes key name, 16 bytes HMAC secret, 16 bytes AES key.
using ticket_key_bytes = std::array<std::uint8_t, 48>;
/// The ticket keys a server accepts, newest first: new tickets use the front one.
using ticket_key_ring = std::vector<ticket_key_bytes>;

/// Node's addContext patterns: '*' stands for any run of characters without a dot;
/// comparison ignores ASCII case; the whole name must match.
inline bool hostname_pattern_matches(std::string_view pattern, std::string_view name) {
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && lower(pattern[p]) == lower(name[n])) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos && name[resume] != '.') {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

class server_state {
public:
  void add_context(std::string pattern, secure_context context) {
    std::lock_guard<std::mutex> lock(mutex_);
    contexts_.emplace_back(std::move(pattern), std::move(context));
  }

  /// The most recently added context whose pattern matches (Node's order).
  std::optional<secure_context> lookup(std::string_view servername) const {
    if (servername.empty()) return std::nullopt;
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = contexts_.rbegin(); it != contexts_.rend(); ++it)
      if (hostname_pattern_matches(it->first, servername)) return it->second;
    return std::nullopt;
  }

  /// A snapshot: connections keep the ring they started with.
  std::shared_ptr<const ticket_key_ring> ticket_keys() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return ticket_keys_;
  }
  /// Node's setTicketKeys: one key, the previous ones forgotten.
  void set_ticket_keys(const ticket_key_bytes& keys) { set_ticket_key_ring(ticket_key_ring{keys}); }
  /// Keys beyond the newest and `previous_keys` older ones are dropped.
  void set_ticket_key_ring(ticket_key_ring ring) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (ring.size() > previous_keys_ + 1) ring.resize(previous_keys_ + 1);
    ticket_keys_ = std::make_shared<const ticket_key_ring>(std::move(ring));
  }
  /// `newest` encrypts new tickets; the former keys still decrypt, up to `previous_keys`.
  void rotate_ticket_keys(const ticket_key_bytes& newest) {
    std::lock_guard<std::mutex> lock(mutex_);
    ticket_key_ring ring{newest};
    if (ticket_keys_)
      for (const ticket_key_bytes& key : *ticket_keys_)
        if (ring.size() <= previous_keys_) ring.push_back(key);
    ticket_keys_ = std::make_shared<const ticket_key_ring>(std::move(ring));
  }
  void set_previous_ticket_keys(std::size_t previous_keys) {
    std::lock_guard<std::mutex> lock(mutex_);
    previous_keys_ = previous_keys;
  }

private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, secure_context>> contexts_;
  std::shared_ptr<const ticket_key_ring> ticket_keys_;
  std::size_t previous_keys_ = 2;
};

} // namespace tlsengine::detail
