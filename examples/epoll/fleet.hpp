// epoll_server as a node of a fleet (built when hiredis is found: TLSENGINE_EPOLL_FLEET).
// With --redis HOST:PORT the node keeps TLS 1.2 session ids and TLS 1.3 stateful sessions
// (--no-tickets) in Redis through tlsengine::redis_session_store, and follows the fleet's
// ticket-key ring; --ticket-key-rotate SECONDS makes this node rotate the ring. Without
// --redis nothing changes. This file adapts the store to the server's epoll loop: its
// descriptor is registered with the interest it asks for, its timer joins the loop's.
#pragma once

#include <tlsengine/tlsengine.hpp>

#include "../common/cli.hpp"

#if TLSENGINE_EPOLL_FLEET
#include <tlsengine/redis_session_store.hpp>

#include <openssl/ssl.h>
#include <sys/epoll.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tlsengine_examples {

struct fleet_flags {
  std::string redis; // HOST:PORT
  int ticket_key_rotate = 0;
  int lookup_timeout_ms = 50;
  int ring_poll_ms = 1000;
  bool no_tickets = false;

  void add(flag_parser& p) {
#if TLSENGINE_EPOLL_FLEET
    p.add("--redis", &redis, "HOST:PORT of a Redis shared by the fleet (sessions, ticket keys)");
    p.add("--ticket-key-rotate", &ticket_key_rotate,
          "with --redis: rotate the fleet's ticket keys every SECONDS (default 0: never)");
    p.add("--redis-timeout", &lookup_timeout_ms,
          "with --redis: milliseconds a session lookup may wait (default 50)");
    p.add("--ring-poll", &ring_poll_ms,
          "with --redis: milliseconds between reads of the ticket-key ring (default 1000)");
    p.add("--no-tickets", &no_tickets, "no session tickets: TLS 1.3 resumes from the cache");
#else
    (void)p;
#endif
  }
};

/// Hands a cached session (or nothing: full handshake) to the connection `fd` had when
/// its `resume_session` was asked (`serial` tells a reused descriptor from it).
using fleet_answer_function =
    std::function<void(int fd, std::uint64_t serial, const std::vector<std::uint8_t>* session)>;

#if TLSENGINE_EPOLL_FLEET

class fleet_node {
public:
  using steady = tlsengine::clock;

  explicit fleet_node(fleet_flags flags) : flags_(std::move(flags)) {}
  bool enabled() const { return store_ != nullptr; }

  /// Before the server is made: tickets off with --no-tickets.
  bool configure(tlsengine::server_options& options, std::string& error) {
    if (flags_.no_tickets) options.secure_options |= static_cast<long>(SSL_OP_NO_TICKET);
    if (flags_.redis.empty()) {
      if (flags_.ticket_key_rotate > 0) error = "--ticket-key-rotate needs --redis";
      return error.empty();
    }
    const std::size_t colon = flags_.redis.rfind(':');
    int port = 0;
    if (colon != std::string::npos) port = std::atoi(flags_.redis.c_str() + colon + 1);
    if (colon == std::string::npos || colon == 0 || port <= 0 || port > 65535) {
      error = "--redis: expected HOST:PORT, got \"" + flags_.redis + "\"";
      return false;
    }
    redis_options_.host = flags_.redis.substr(0, colon);
    redis_options_.port = port;
    redis_options_.lookup_timeout =
        std::chrono::milliseconds(std::max(1, flags_.lookup_timeout_ms));
    redis_options_.ring_poll_interval =
        std::chrono::milliseconds(std::max(10, flags_.ring_poll_ms));
    redis_options_.ring_previous_keys = options.previous_ticket_keys;
    options.previous_ticket_keys += 1; // and the staged key (see redis_session_store.hpp)
    return true;
  }

  /// After the server and the epoll instance exist.
  void start(const tlsengine::server& server, int epoll_fd, fleet_answer_function answer) {
    if (flags_.redis.empty()) return;
    epoll_fd_ = epoll_fd;
    answer_ = std::move(answer);
    redis_options_.session_ttl =
        std::chrono::seconds(SSL_CTX_get_timeout(server.context().native_handle()));
    store_ = std::make_unique<tlsengine::redis_session_store>(redis_options_);
    const auto now = steady::now();
    store_->start(now);
    store_->follow_ticket_key_ring(server);
    if (flags_.ticket_key_rotate > 0)
      next_rotation_ = now + std::chrono::seconds(flags_.ticket_key_rotate);
    sync();
  }

  bool owns(int fd) const { return store_ != nullptr && fd >= 0 && fd == registered_fd_; }

  void on_event(std::uint32_t events) {
    const auto now = steady::now();
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) store_->on_readable(now);
    if ((events & EPOLLOUT) != 0 && store_->wants_write()) store_->on_writable(now);
    sync();
  }

  void on_timer() {
    if (!store_) return;
    const auto now = steady::now();
    if (next_rotation_ && now >= *next_rotation_) {
      store_->rotate_ticket_key_ring(); // Redis away: the next period tries again
      next_rotation_ = now + std::chrono::seconds(flags_.ticket_key_rotate);
    }
    store_->on_timer(now);
    sync();
  }

  std::optional<steady::time_point> next_timer() const {
    if (!store_) return std::nullopt;
    auto next = store_->next_timer();
    if (next_rotation_ && (!next || *next_rotation_ < *next)) next = next_rotation_;
    return next;
  }

  /// A `new_session` event; false: not ours (no --redis), the server keeps it itself.
  bool new_session(const std::vector<std::uint8_t>& id, const std::vector<std::uint8_t>& data) {
    if (!store_) return false;
    store_->store(id, data);
    sync();
    return true;
  }

  /// A `resume_session` decision; the answer comes through the answer function later.
  bool resume_session(int fd, std::uint64_t serial, const std::vector<std::uint8_t>& id) {
    if (!store_) return false;
    store_->lookup(id, steady::now(), [this, fd, serial](tlsengine::lookup_result r) {
      record_latency(r.waited);
      answer_(fd, serial, r.outcome == tlsengine::lookup_outcome::hit ? &r.data : nullptr);
    });
    sync();
    return true;
  }

  std::string stats_text() const {
    if (!store_) return {};
    const auto& s = store_->stats();
    auto line = [](const char* name, std::uint64_t value) {
      return std::string(name) + " " + std::to_string(value) + "\n";
    };
    std::string names;
    for (const std::string& name : store_->ring_key_names())
      names += (names.empty() ? "" : ",") + name;
    return line("redis_connected", store_->connected() ? 1 : 0) + line("cache_lookups", s.lookups) +
           line("cache_hits", s.hits) + line("cache_misses", s.misses) +
           line("cache_timeouts", s.timeouts) + line("cache_unavailable", s.unavailable) +
           line("cache_errors", s.errors) + line("cache_stores", s.stores) +
           line("cache_stores_dropped", s.stores_dropped) + line("lookup_p50_us", percentile(50)) +
           line("lookup_p99_us", percentile(99)) + line("ticket_ring_updates", s.ring_updates) +
           line("ticket_ring_rotations", s.rotations) + "ticket_keys " + names +
           "\n"; // current first
  }

private:
  /// Registers the store's descriptor with the interest it has now (it changes after every
  /// call into the store: connects, reconnects, output queued or flushed).
  void sync() {
    const int fd = store_->fd();
    std::uint32_t interest = 0;
    if (store_->wants_read()) interest |= EPOLLIN;
    if (store_->wants_write()) interest |= EPOLLOUT;
    if (fd != registered_fd_) {
      if (registered_fd_ >= 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, registered_fd_, nullptr);
      registered_fd_ = -1;
      if (fd >= 0) {
        epoll_event ev{};
        ev.events = interest;
        ev.data.fd = fd;
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0) registered_fd_ = fd;
      }
      registered_interest_ = interest;
    } else if (fd >= 0 && interest != registered_interest_) {
      epoll_event ev{};
      ev.events = interest;
      ev.data.fd = fd;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
      registered_interest_ = interest;
    }
  }

  /// The last 4096 lookup latencies, for /stats.
  void record_latency(steady::duration waited) {
    const auto us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(waited).count());
    if (latencies_.size() < 4096)
      latencies_.push_back(us);
    else
      latencies_[latency_next_++ % latencies_.size()] = us;
  }
  std::uint64_t percentile(int p) const {
    if (latencies_.empty()) return 0;
    std::vector<std::uint64_t> sorted = latencies_;
    const std::size_t at = (sorted.size() - 1) * static_cast<std::size_t>(p) / 100;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(at), sorted.end());
    return sorted[at];
  }

  fleet_flags flags_;
  tlsengine::redis_store_options redis_options_;
  std::unique_ptr<tlsengine::redis_session_store> store_;
  fleet_answer_function answer_;
  int epoll_fd_ = -1, registered_fd_ = -1;
  std::uint32_t registered_interest_ = 0;
  std::optional<steady::time_point> next_rotation_;
  std::vector<std::uint64_t> latencies_;
  std::size_t latency_next_ = 0;
};

#else // built without hiredis: no fleet flags, nothing changes

class fleet_node {
public:
  explicit fleet_node(fleet_flags) {}
  bool enabled() const { return false; }
  bool configure(tlsengine::server_options&, std::string&) { return true; }
  void start(const tlsengine::server&, int, fleet_answer_function) {}
  bool owns(int) const { return false; }
  void on_event(std::uint32_t) {}
  void on_timer() {}
  std::optional<tlsengine::clock::time_point> next_timer() const { return std::nullopt; }
  bool new_session(const std::vector<std::uint8_t>&, const std::vector<std::uint8_t>&) {
    return false;
  }
  bool resume_session(int, std::uint64_t, const std::vector<std::uint8_t>&) { return false; }
  std::string stats_text() const { return {}; }
};

#endif

} // namespace tlsengine_examples
