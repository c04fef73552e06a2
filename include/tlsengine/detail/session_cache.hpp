// tlsengine — the parsed form of session bytes a client context was given, so that resuming
// many connections from the same stored bytes parses them once (d2i_SSL_SESSION decodes the
// server's certificates and keys again: most of a resumption's cost). Not public.
#pragma once

#include "../bytes.hpp"
#include "../session.hpp"
#include "handles.hpp"

#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <string_view>
#include <vector>

namespace tlsengine::detail {

/// A few entries (least recently used goes first), keyed by a hash of the bytes and
/// checked against the bytes themselves. Shared by the connections of one context,
/// possibly on several threads.
class session_cache {
public:
  static constexpr std::size_t capacity = 8;

  /// The parsed session for `bytes` (a handle sharing it), parsed now if not cached; empty
  /// when the bytes are not a session (OpenSSL's reason is left in the error queue).
  session_handle find_or_parse(bytes_view bytes) {
    const std::size_t hash = std::hash<std::string_view>()(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (entry* e = find(hash, bytes)) {
        e->last_use = ++clock_;
        return e->session;
      }
    }
    const unsigned char* p = bytes.data();
    session_handle parsed = session_handle::adopt(
        ssl_session_ptr(d2i_SSL_SESSION(nullptr, &p, static_cast<long>(bytes.size()))));
    if (parsed.empty()) return parsed;
    std::lock_guard<std::mutex> lock(mutex_);
    entry* victim = find(hash, bytes); // parsed meanwhile by another thread: replaced
    if (victim == nullptr) {
      victim = &entries_[0];
      for (entry& e : entries_)
        if (e.last_use < victim->last_use) victim = &e; // unused entries have 0
    }
    victim->hash = hash;
    victim->bytes.assign(bytes.begin(), bytes.end());
    victim->session = parsed;
    victim->last_use = ++clock_;
    return parsed;
  }

private:
  struct entry {
    std::size_t hash = 0;
    std::vector<std::uint8_t> bytes;
    session_handle session;
    std::uint64_t last_use = 0;
  };
  entry* find(std::size_t hash, bytes_view bytes) {
    for (entry& e : entries_)
      if (!e.session.empty() && e.hash == hash && e.bytes.size() == bytes.size() &&
          std::memcmp(e.bytes.data(), bytes.data(), bytes.size()) == 0)
        return &e;
    return nullptr;
  }
  std::mutex mutex_;
  std::array<entry, capacity> entries_;
  std::uint64_t clock_ = 0;
};

} // namespace tlsengine::detail
