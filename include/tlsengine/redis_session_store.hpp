// tlsengine — a fleet's shared session cache and ticket-key ring on Redis (optional: not in
// tlsengine.hpp; needs hiredis, Debian libhiredis-dev, link -lhiredis).
//
// It answers a server's `new_session` / `resume_session` decisions from Redis with
// hiredis's asynchronous API, driven by the application's own event loop: the store owns
// no thread and never blocks. The loop watches fd() for wants_read()/wants_write(), calls
// on_readable/on_writable when it is ready and on_timer when next_timer() comes; every
// callback of the store runs from one of those three calls, never from lookup() itself.
//
// A handshake never fails because of Redis: a lookup that Redis does not answer within
// lookup_timeout (time read from the caller's clock), or answers with anything but a
// string, or that cannot be sent (Redis down, reconnecting, too many requests in flight),
// is answered as a miss and the handshake goes on as a full one.
//
// The ticket-key ring: follow_ticket_key_ring(server) makes the server use the fleet's
// ring, read from Redis every ring_poll_interval (so every node picks a rotation up within
// that bound); rotate_ticket_key_ring() (one node, on a timer) or an external command (see
// docs/FLEET.md) puts a new key in front. Keys are stored in hex, newest first. The newest
// key is staged: nodes accept it at once but encrypt with the one after it, so a ticket
// made by a node that saw a rotation already resumes on a node that has not seen it yet;
// it encrypts from the next rotation on. The server's ring is [current, staged, former...]:
// give it previous_ticket_keys = ring_previous_keys + 1.
#pragma once

#include "server.hpp"

#include <hiredis/async.h>
#include <sys/socket.h>

#include <cerrno>
#include <hiredis/hiredis.h>

#include <openssl/rand.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// Exported by libhiredis (0.14 and 1.x) but not declared by its headers: what
// redisAsyncHandleRead runs after reading. The store reads the socket itself (see
// read_replies) and then lets hiredis run the callbacks of what it fed.
extern "C" void redisProcessCallbacks(redisAsyncContext* ac);

namespace tlsengine {

struct redis_store_options {
  std::string host = "127.0.0.1"; ///< an address: a host name would be resolved blocking
  int port = 6379;
  std::string key_prefix = "tlsengine:"; ///< sessions under PREFIX + "s:" + the id in hex
  /// Past this a lookup is a miss (`timeout`) and the handshake goes on, full.
  clock::duration lookup_timeout = std::chrono::milliseconds(50);
  /// Sessions expire in Redis after this (use the context's session_timeout).
  clock::duration session_ttl = std::chrono::seconds(300);
  /// A connection attempt that has not completed by then is abandoned.
  clock::duration connect_timeout = std::chrono::seconds(1);
  /// Wait between connection attempts while Redis is unreachable.
  clock::duration reconnect_delay = std::chrono::milliseconds(500);
  /// How often the ring is read (the bound on a rotation reaching every node).
  clock::duration ring_poll_interval = std::chrono::seconds(1);
  /// The ring kept in Redis: the staged key, the current one and this many former ones.
  std::size_t ring_previous_keys = 2;
  /// Requests in flight beyond this are not sent (bounded memory when Redis stalls).
  std::size_t max_in_flight = 1024;
  /// A stored session larger than this is garbage; a reply that would be larger (a
  /// hostile or broken server announcing a huge bulk string) drops the connection before
  /// it is buffered.
  std::size_t max_session_size = 64 * 1024;
  /// A connection with requests in flight that answers nothing for this long is dropped and
  /// made again (a server that stalls, a half-open connection behind a lost route).
  clock::duration reply_timeout = std::chrono::seconds(2);
};

/// How a lookup ended; only `hit` carries session data.
enum class lookup_outcome { hit, miss, timeout, unavailable, error };

struct lookup_result {
  lookup_outcome outcome = lookup_outcome::miss;
  std::vector<std::uint8_t> data; ///< the session, for connection::resume_session
  clock::duration waited{};       ///< from lookup() to the answer, on the caller's clock
};

struct redis_store_stats {
  std::uint64_t lookups = 0, hits = 0, misses = 0, timeouts = 0, unavailable = 0, errors = 0;
  std::uint64_t stores = 0, stores_dropped = 0;
  std::uint64_t connects = 0, disconnects = 0, ring_updates = 0, rotations = 0;
  /// Connections dropped because the server answered what nobody asked, announced a reply
  /// larger than any session, or stopped answering (reply_timeout).
  std::uint64_t protocol_errors = 0;
};

class redis_session_store {
public:
  using lookup_callback = std::function<void(lookup_result)>;

  explicit redis_session_store(redis_store_options options) : options_(std::move(options)) {}
  redis_session_store(const redis_session_store&) = delete;
  redis_session_store& operator=(const redis_session_store&) = delete;
  ~redis_session_store() {
    closing_ = true; // hiredis calls back with null replies while freeing: ignored
    if (context_ != nullptr) redisAsyncFree(context_);
  }

  // ---- the event loop's side -------------------------------------------------------------
  /// Starts connecting (also done by on_timer when reconnecting).
  void start(clock::time_point now) {
    now_ = now;
    if (context_ == nullptr) connect();
  }
  int fd() const noexcept { return context_ != nullptr ? context_->c.fd : -1; }
  bool wants_read() const noexcept { return context_ != nullptr && want_read_; }
  bool wants_write() const noexcept { return context_ != nullptr && want_write_; }
  bool connected() const noexcept { return connected_; }

  void on_readable(clock::time_point now) {
    now_ = now;
    if (context_ != nullptr && connected_) {
      read_replies();
    } else if (context_ != nullptr) {
      callback_scope scope(*this);
      redisAsyncHandleRead(context_); // may free the context
    }
    deliver();
  }
  void on_writable(clock::time_point now) {
    now_ = now;
    if (context_ != nullptr) {
      callback_scope scope(*this);
      redisAsyncHandleWrite(context_); // may complete the connect
    }
    deliver();
  }
  /// Expires lookups, reconnects, polls the ring.
  void on_timer(clock::time_point now) {
    now_ = now;
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      ++stats_.timeouts;
      finish(it->second, lookup_outcome::timeout, {});
      it = pending_.erase(it);
    }
    if (context_ != nullptr && !connected_ && now >= connect_deadline_) {
      drop_context(); // the connect hangs: give up, try again later
    }
    if (context_ != nullptr && connected_ && in_flight_ > 0 &&
        now >= last_reply_ + options_.reply_timeout) {
      ++stats_.protocol_errors;
      drop_context(); // requests in flight, no answer: the connection is dead or stalled
    }
    if (context_ == nullptr && now >= reconnect_at_) connect();
    if (connected_ && ring_server_ && now >= ring_poll_at_) poll_ring();
    deliver();
  }
  /// When on_timer wants to run next (now, when answers are waiting).
  std::optional<clock::time_point> next_timer() const {
    if (!ready_.empty()) return now_;
    std::optional<clock::time_point> next;
    auto earliest = [&](clock::time_point t) {
      if (!next || t < *next) next = t;
    };
    for (const auto& entry : pending_)
      earliest(entry.second.deadline);
    if (context_ == nullptr) earliest(reconnect_at_);
    if (context_ != nullptr && !connected_) earliest(connect_deadline_);
    if (connected_ && ring_server_) earliest(ring_poll_at_);
    if (connected_ && in_flight_ > 0) earliest(last_reply_ + options_.reply_timeout);
    return next;
  }

  // ---- sessions -------------------------------------------------------------------------
  /// A `new_session` event: stored with the session TTL (dropped while Redis is away).
  void store(bytes_view id, bytes_view data) {
    if (!can_send() || id.empty()) {
      ++stats_.stores_dropped;
      return;
    }
    const std::string key = session_key(id);
    const std::string ttl = std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.session_ttl).count());
    if (command(&redis_session_store::on_reply_ignored, nullptr, "SET %b %b PX %s", key.data(),
                key.size(), data.data(), data.size(), ttl.c_str()))
      ++stats_.stores;
    else
      ++stats_.stores_dropped;
  }

  /// A `resume_session` decision: `done` gets the answer later (from on_readable or
  /// on_timer), at the latest lookup_timeout after `now`.
  void lookup(bytes_view id, clock::time_point now, lookup_callback done) {
    now_ = now;
    ++stats_.lookups;
    pending_lookup p{now + options_.lookup_timeout, now, std::move(done)};
    if (!can_send()) {
      ++stats_.unavailable;
      finish(p, lookup_outcome::unavailable, {});
      return;
    }
    const std::uint64_t serial = ++serial_;
    const std::string key = session_key(id);
    if (!command(&redis_session_store::on_reply_lookup,
                 reinterpret_cast<void*>(static_cast<std::uintptr_t>(serial)), "GET %b", key.data(),
                 key.size())) {
      ++stats_.unavailable;
      finish(p, lookup_outcome::unavailable, {});
      return;
    }
    pending_.emplace(serial, std::move(p));
  }

  // ---- the fleet's ticket-key ring ------------------------------------------------------
  /// From now on `srv` uses the ring in Redis (this store keeps a copy of `srv`, which
  /// shares its state). The first node to connect publishes its own ring.
  void follow_ticket_key_ring(const server& srv) {
    ring_server_ = srv;
    ring_poll_at_ = now_;
    if (connected_) poll_ring();
  }
  /// Puts a new random key in front of the fleet's ring; every node follows within
  /// ring_poll_interval. False when Redis cannot be asked now.
  bool rotate_ticket_key_ring() {
    std::uint8_t key[48];
    if (!can_send() || RAND_bytes(key, sizeof key) != 1) return false;
    const std::string hex = to_hex(bytes_view(key, sizeof key));
    const std::string keep = std::to_string(96 * (options_.ring_previous_keys + 2));
    const std::string name = ring_key();
    if (!command(&redis_session_store::on_reply_ring, nullptr, "EVAL %s 1 %b %s %s", rotate_script,
                 name.data(), name.size(), hex.c_str(), keep.c_str()))
      return false;
    ++stats_.rotations;
    return true;
  }
  /// The names (first 16 bytes, hex) of the server's keys: current, staged, former ones.
  std::vector<std::string> ring_key_names() const {
    std::vector<std::string> names;
    for (const auto& key : ring_server_.ticket_key_ring())
      names.push_back(to_hex(bytes_view(key.data(), 16)));
    return names;
  }
  std::string ring_key() const { return options_.key_prefix + "ticket-ring"; }

  /// The atomic rotation (KEYS[1]: the ring; ARGV: new key in hex, characters kept).
  static constexpr const char* rotate_script =
      "local r = ARGV[1] .. (redis.call('GET', KEYS[1]) or '') "
      "r = string.sub(r, 1, tonumber(ARGV[2])) redis.call('SET', KEYS[1], r) return r";

  const redis_store_stats& stats() const noexcept { return stats_; }
  const redis_store_options& options() const noexcept { return options_; }

private:
  struct pending_lookup {
    clock::time_point deadline, started;
    lookup_callback done;
  };

  // ---- connection -----------------------------------------------------------------------
  void connect() {
    reconnect_at_ = now_ + options_.reconnect_delay;
    redisAsyncContext* c = redisAsyncConnect(options_.host.c_str(), options_.port);
    if (c == nullptr) return;
    if (c->err != 0) {
      redisAsyncFree(c);
      return;
    }
    context_ = c;
    c->data = this;
    c->ev.data = this;
    c->ev.addRead = [](void* self) { static_cast<redis_session_store*>(self)->want_read_ = true; };
    c->ev.delRead = [](void* self) { static_cast<redis_session_store*>(self)->want_read_ = false; };
    c->ev.addWrite = [](void* self) {
      static_cast<redis_session_store*>(self)->want_write_ = true;
    };
    c->ev.delWrite = [](void* self) {
      static_cast<redis_session_store*>(self)->want_write_ = false;
    };
    c->ev.cleanup = [](void* self) {
      auto* store = static_cast<redis_session_store*>(self);
      store->want_read_ = store->want_write_ = false;
    };
    redisAsyncSetConnectCallback(c, &redis_session_store::on_connect);
    redisAsyncSetDisconnectCallback(c, &redis_session_store::on_disconnect);
    want_read_ = false;
    want_write_ = true; // the first writable event completes the connect
    connect_deadline_ = now_ + options_.connect_timeout;
  }

  static void on_connect(const redisAsyncContext* c, int status) {
    auto* self = static_cast<redis_session_store*>(c->data);
    if (self == nullptr || self->closing_) return;
    if (status != REDIS_OK) { // hiredis frees the context after this
      self->lost();
      return;
    }
    self->connected_ = true;
    ++self->stats_.connects;
    self->ring_poll_at_ = self->now_;
    if (self->ring_server_) self->poll_ring();
  }
  static void on_disconnect(const redisAsyncContext* c, int) {
    auto* self = static_cast<redis_session_store*>(c->data);
    if (self == nullptr || self->closing_) return;
    ++self->stats_.disconnects;
    self->lost();
  }
  /// The context is gone (hiredis frees it): forget it, reconnect later.
  void lost() {
    context_ = nullptr;
    connected_ = false;
    want_read_ = want_write_ = false;
    in_flight_ = 0;
    reconnect_at_ = now_ + options_.reconnect_delay;
  }
  /// Frees the context ourselves (never from inside a hiredis callback).
  void drop_context() {
    redisAsyncContext* c = context_;
    closing_ = true;
    redisAsyncFree(c);
    closing_ = false;
    lost();
  }

  /// hiredis aborts the process (an assert in redisProcessCallbacks) on a reply that no
  /// request waits for, and buffers a bulk string of any announced length. So the store
  /// reads the socket itself and hands hiredis only bytes that hold no more complete replies
  /// than requests in flight, and no more than the largest reply it asks for; otherwise the
  /// server is not speaking to us as Redis does, and the connection is dropped instead.
  void read_replies() {
    char data[16 * 1024]; // what hiredis reads at most in one call
    const ssize_t n = ::recv(context_->c.fd, data, sizeof data, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) { // EOF or an error: the connection is gone
      ++stats_.disconnects;
      drop_context();
      return;
    }
    const std::size_t size = static_cast<std::size_t>(n);
    if (!replies_expected(data, size) ||
        redisReaderFeed(context_->c.reader, data, size) != REDIS_OK) {
      ++stats_.protocol_errors;
      drop_context();
      return;
    }
    {
      callback_scope scope(*this);
      redisProcessCallbacks(context_); // may free the context
    }
    if (desynchronised_) { // a reply GET cannot give: replies no longer match requests
      desynchronised_ = false;
      ++stats_.protocol_errors;
      if (context_ != nullptr) drop_context();
    }
  }
  bool replies_expected(const char* data, std::size_t size) const {
    const redisReader* held = context_->c.reader;
    const std::size_t buffered =
        held != nullptr && held->len > held->pos ? held->len - held->pos : 0;
    redisReader* counter = redisReaderCreate();
    if (counter == nullptr) return false;
    bool ok =
        (buffered == 0 || redisReaderFeed(counter, held->buf + held->pos, buffered) == REDIS_OK) &&
        redisReaderFeed(counter, data, size) == REDIS_OK;
    std::size_t complete = 0;
    void* reply = nullptr;
    while (ok && redisReaderGetReply(counter, &reply) == REDIS_OK && reply != nullptr) {
      freeReplyObject(reply);
      reply = nullptr;
      ok = ++complete <= in_flight_;
    }
    // What has arrived of a reply still incomplete must fit in the largest one we ask for.
    if (ok && counter->len - counter->pos > options_.max_session_size + 4096) ok = false;
    redisReaderFree(counter);
    return ok;
  }

  bool can_send() const { return connected_ && in_flight_ < options_.max_in_flight; }

  template <class... Args>
  bool command(redisCallbackFn* fn, void* privdata, const char* format, Args... args) {
    if (context_ == nullptr) return false;
    if (redisAsyncCommand(context_, fn, privdata, format, args...) != REDIS_OK) return false;
    if (in_flight_++ == 0) last_reply_ = now_; // the reply timeout counts from here

    // Written at once rather than at the loop's next turn: a session stored now must be
    // in Redis before the client can ask another node for it. A failed write frees the
    // context (lost()); the answers it causes wait in ready_ for the next on_* call.
    if (connected_ && !in_callback_) redisAsyncHandleWrite(context_);
    return true;
  }
  /// Counts a reply (or a null one when the connection goes); the store, or null.
  static redis_session_store* replied(redisAsyncContext* c) {
    auto* self = static_cast<redis_session_store*>(c->data);
    if (self == nullptr || self->closing_) return nullptr;
    if (self->in_flight_ > 0) --self->in_flight_;
    self->last_reply_ = self->now_;
    return self;
  }

  static void on_reply_ignored(redisAsyncContext* c, void*, void*) { replied(c); }
  /// Marks hiredis's call stack: no command is written from inside it.
  struct callback_scope {
    explicit callback_scope(redis_session_store& s) : store(s), was(s.in_callback_) {
      s.in_callback_ = true;
    }
    ~callback_scope() { store.in_callback_ = was; }
    redis_session_store& store;
    bool was;
  };

  static void on_reply_lookup(redisAsyncContext* c, void* reply, void* privdata) {
    redis_session_store* self = replied(c);
    if (self == nullptr) return;
    auto it =
        self->pending_.find(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(privdata)));
    if (it == self->pending_.end()) return; // already answered by the timeout
    const auto* r = static_cast<const redisReply*>(reply);
    if (r != nullptr && r->type == REDIS_REPLY_STRING && r->len > 0 &&
        r->len <= self->options_.max_session_size) {
      ++self->stats_.hits;
      self->finish(it->second, lookup_outcome::hit,
                   std::vector<std::uint8_t>(r->str, r->str + r->len));
    } else if (r != nullptr && r->type == REDIS_REPLY_NIL) {
      ++self->stats_.misses;
      self->finish(it->second, lookup_outcome::miss, {});
    } else { // no reply (connection lost), an error reply, or not a session
      // A status, integer or array reply is not an answer to GET: the stream is out of
      // step (a listener that is not Redis, or a reply nobody asked for that the count
      // could not tell apart): drop the connection once hiredis is done.
      if (r != nullptr && r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_ERROR)
        self->desynchronised_ = true;
      ++self->stats_.errors;
      self->finish(it->second, lookup_outcome::error, {});
    }
    self->pending_.erase(it);
  }

  void finish(pending_lookup& p, lookup_outcome outcome, std::vector<std::uint8_t> data) {
    lookup_result result;
    result.outcome = outcome;
    result.data = std::move(data);
    result.waited = now_ - p.started;
    ready_.emplace_back(std::move(p.done), std::move(result));
  }
  /// Runs the answers outside hiredis's callbacks: they may call anything, lookup() too.
  void deliver() {
    while (!ready_.empty()) {
      auto batch = std::move(ready_);
      ready_.clear();
      for (auto& [done, result] : batch)
        if (done) done(std::move(result));
    }
  }

  // ---- the ring -------------------------------------------------------------------------
  void poll_ring() {
    ring_poll_at_ = now_ + options_.ring_poll_interval;
    if (!can_send()) return;
    const std::string name = ring_key();
    if (!ring_published_) {
      // The first node publishes its ring; the others keep what is there.
      std::string ours;
      auto ring = ring_server_.ticket_key_ring();
      if (ring.size() >= 2) std::swap(ring[0], ring[1]); // back to Redis's order
      for (const auto& key : ring)
        ours += to_hex(bytes_view(key.data(), key.size()));
      command(&redis_session_store::on_reply_ignored, nullptr, "SET %b %s NX", name.data(),
              name.size(), ours.c_str());
      ring_published_ = true;
    }
    command(&redis_session_store::on_reply_ring, nullptr, "GET %b", name.data(), name.size());
  }

  static void on_reply_ring(redisAsyncContext* c, void* reply, void*) {
    redis_session_store* self = replied(c);
    if (self == nullptr || !self->ring_server_) return;
    const auto* r = static_cast<const redisReply*>(reply);
    if (r == nullptr) return;
    if (r->type == REDIS_REPLY_NIL) { // deleted: publish ours again at the next poll
      self->ring_published_ = false;
      return;
    }
    if (r->type != REDIS_REPLY_STRING) return;
    const std::string text(r->str, r->len);
    if (text == self->ring_text_) return;
    std::vector<std::vector<std::uint8_t>> ring;
    if (!parse_ring(text, ring)) return;               // garbage: keep the ring we have
    if (ring.size() >= 2) std::swap(ring[0], ring[1]); // the staged key only decrypts
    if (!self->ring_server_.set_ticket_key_ring(ring)) {
      self->ring_text_ = text;
      ++self->stats_.ring_updates;
    }
  }

  static bool parse_ring(const std::string& text, std::vector<std::vector<std::uint8_t>>& ring) {
    if (text.empty() || text.size() % 96 != 0 || text.size() > 96 * 16) return false;
    for (std::size_t at = 0; at < text.size(); at += 96) {
      std::vector<std::uint8_t> key;
      for (std::size_t i = at; i < at + 96; i += 2) {
        const int high = hex_value(text[i]), low = hex_value(text[i + 1]);
        if (high < 0 || low < 0) return false;
        key.push_back(static_cast<std::uint8_t>(high * 16 + low));
      }
      ring.push_back(std::move(key));
    }
    return true;
  }
  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  static std::string to_hex(bytes_view data) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (std::uint8_t b : data) {
      out.push_back(digits[b >> 4]);
      out.push_back(digits[b & 15]);
    }
    return out;
  }
  std::string session_key(bytes_view id) const { return options_.key_prefix + "s:" + to_hex(id); }

  redis_store_options options_;
  redisAsyncContext* context_ = nullptr;
  bool connected_ = false, want_read_ = false, want_write_ = false, closing_ = false;
  bool in_callback_ = false;
  bool desynchronised_ = false; // see on_reply_lookup
  clock::time_point now_{}, reconnect_at_{}, connect_deadline_{}, ring_poll_at_{};
  std::size_t in_flight_ = 0;
  clock::time_point last_reply_{}; // the last reply, or the send that started the wait
  std::uint64_t serial_ = 0;
  std::map<std::uint64_t, pending_lookup> pending_;
  std::vector<std::pair<lookup_callback, lookup_result>> ready_;
  server ring_server_;
  std::string ring_text_;
  bool ring_published_ = false;
  redis_store_stats stats_;
};

} // namespace tlsengine
