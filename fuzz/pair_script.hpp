// tlsengine fuzzing — the `pair` harness: a client and a server engine joined by a wire the
// input controls. The input is a script:
//
//   [config][seed] then 4-byte operations [op][a][b][c]
//
// config bits: 0-1 versions (0 TLS 1.2-1.3, 1 TLS 1.2, 2 TLS 1.3, 3 TLS 1.2 with a CBC
//   suite), 2 mTLS, 3 HelloRetryRequest (client X25519:P-256, server P-256), 4 small
//   buffer limits, 5 server allow_half_open, 6 client allow_half_open, 7 ChaCha20 for TLS 1.3.
// seed: the RNG streams start from it (deterministic mode).
// op: bit 0 picks the side (0 client, 1 server) or the direction (0 client->server,
//   1 server->client); op >> 1 (modulo the count) is one of `opcode`.
//
// Bytes a side sends go onto the wire (`send`); `deliver` and `window` feed them to the
// other side (feed() or input_window()/commit_input()), `corrupt` flips bits of a byte in
// flight and `drop` removes bytes in flight. What arrives is checked byte by byte against
// what was written (a position-keyed pattern): wrong data is a crash even after
// corruption. At the end the script settles (everything moved and read) and checks:
//   * without alteration or disruption: no error, both sides secure, everything written
//     arrived, an end() reached the peer;
//   * a hard alteration (anything but a record header's minor version byte, or dropping
//     whole ChangeCipherSpec records, which TLS 1.3 peers may ignore) that reached a
//     receiver still open must end in an error there (after a transport EOF at the latest).
#pragma once

#include "fuzz_support.hpp"

#include <algorithm>
#include <cstring>
#include <map>

namespace fuzz::pair {

enum opcode : std::uint8_t {
  op_send = 0,    // dir: move up to size(a) (0: all) bytes of pending_output() onto the wire
  op_deliver,     // dir: feed up to size(a) (0: all) wire bytes to the receiver
  op_write,       // side: write wsize(a) pattern bytes
  op_read,        // side: read up to size(a) (0: all) bytes
  op_end,         // side: end()
  op_timeout,     // advance the fake clock by a*4+b/64 s, on_timeout() on both sides
  op_corrupt,     // dir: wire[(a<<8|b) % wire size] ^= (c ? c : 0x80)
  op_drop,        // dir: drop 1 + c % 32 wire bytes at (a<<8|b) % wire size
  op_eof,         // side: feed_eof() (the transport to this side closed)
  op_destroy,     // side: destroy()
  op_flush,       // move and read everything both ways (no EOF)
  op_peek,        // side: peek_plaintext(), check it, consume_plaintext(size(a))
  op_window,      // dir: deliver through input_window()/commit_input(), up to size(a)
  op_key_update,  // side: key_update(a & 1) (TLS 1.3; invalid_state otherwise)
  op_renegotiate, // side: renegotiate() (TLS 1.2; invalid_state otherwise)
  op_arm,         // side: run action a % arm_count (write: b as write size) inside the next
                  //       callback of this side (its trace sink, inside OpenSSL)
  op_answer,      // side: resume(), the default answer to a waiting decision
  op_count
};

/// What op_arm runs inside a callback (see script::inside_callback).
enum arm_action : std::uint8_t {
  arm_destroy = 0,
  arm_write,
  arm_end,
  arm_key_update,
  arm_renegotiate,
  arm_answer,
  arm_feed,
  arm_read,
  arm_count
};

/// Byte counts from one argument byte: 0-127 as is, then steps of 128 up to 16 KiB.
inline std::size_t size_arg(std::uint8_t a) {
  return a < 128 ? a : static_cast<std::size_t>(a - 127) * 128;
}
/// Write sizes: 0-127 as is, then steps of 256 up to 32 KiB.
inline std::size_t write_size_arg(std::uint8_t a) {
  return a < 128 ? a : static_cast<std::size_t>(a - 127) * 256;
}

/// The cleartext direction `dir` carries at stream offset `offset`.
inline std::uint8_t pattern(int dir, std::uint64_t offset) {
  std::uint64_t z = offset * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(dir + 1);
  z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
  return static_cast<std::uint8_t>(z >> 56);
}

struct config {
  int versions = 0;
  bool mtls = false, hrr = false, small = false, server_half_open = false, client_half_open = false,
       chacha = false;
  explicit config(std::uint8_t b)
      : versions(b & 3), mtls(b & 4), hrr(b & 8), small(b & 16), server_half_open(b & 32),
        client_half_open(b & 64), chacha(b & 128) {}
};

/// Contexts per configuration, created on first use (each from a seed of its own).
inline const tlsengine::secure_context& client_context(const config& c) {
  static std::map<int, tlsengine::secure_context> cache;
  const int key = c.versions | (c.mtls << 2) | (c.hrr << 3) | (c.chacha << 4);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  tlsengine::context_options o = client_context_options(client_kind::tls13);
  if (c.versions == 1 || c.versions == 3) o.max_version = "TLSv1.2";
  if (c.versions == 2) o.min_version = "TLSv1.3";
  if (c.versions == 3) o.ciphers = "ECDHE-ECDSA-AES128-SHA256";
  if (c.chacha && c.versions != 3)
    o.ciphers = "TLS_CHACHA20_POLY1305_SHA256:" + std::string(tlsengine::default_ciphers);
  if (c.mtls) {
    o.cert = {tlsengine_examples::builtin_client_cert_pem};
    o.key = {tlsengine_examples::builtin_client_key_pem};
  }
  if (c.hrr) o.ecdh_curve = "X25519:P-256";
  return cache.emplace(key, make_context(o, 0xa11ce000u + static_cast<unsigned>(key)))
      .first->second;
}

inline const tlsengine::secure_context& server_context(const config& c) {
  static std::map<int, tlsengine::secure_context> cache;
  const int key = c.mtls | (c.hrr << 1);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  tlsengine::context_options o = server_context_options(server_kind::any);
  if (c.mtls) o.ca = {tlsengine_examples::builtin_ca_pem};
  if (c.hrr) o.ecdh_curve = "P-256";
  // The client's order decides; TLS 1.2 CBC needs the suite on the server too.
  o.ciphers = std::string(tlsengine::default_ciphers) + ":ECDHE-ECDSA-AES128-SHA256";
  return cache.emplace(key, make_context(o, 0xb0b0000u + static_cast<unsigned>(key))).first->second;
}

/// One byte in flight, with what the harness knows about it.
struct wire_byte {
  std::uint8_t value;
  std::uint8_t flip = 0;     // XOR applied in flight
  std::uint8_t header = 255; // offset in the record header (0-4), 255: record body
  std::uint8_t type = 0;     // the record's content type
  bool last = false;         // the record's last byte
  bool gap_before = false;   // bytes before this one were dropped (a hard alteration)
};

/// Splits the sender's (intact) stream into records, to classify bytes.
struct record_tracker {
  std::uint8_t header[5] = {};
  int header_pos = 0;
  std::size_t body_left = 0;

  wire_byte next(std::uint8_t b) {
    wire_byte w{b};
    if (body_left == 0) {
      w.header = static_cast<std::uint8_t>(header_pos);
      header[header_pos++] = b;
      w.type = header[0];
      if (header_pos == 5) {
        header_pos = 0;
        body_left = (std::size_t(header[3]) << 8) | header[4];
        w.last = body_left == 0;
      }
    } else {
      w.type = header[0];
      w.last = --body_left == 0;
    }
    return w;
  }
};

struct side_state {
  tlsengine::connection conn;
  stream rng;
  observed seen;
  std::uint64_t read_offset = 0; // cleartext bytes read so far (checked)
  bool ended = false;            // we called end() while healthy
  bool destroyed = false;
};

/// The bytes in flight: a queue with a count of the altered ones, so that the common
/// case (nothing altered) costs no per-byte scan.
class wire_queue {
public:
  std::size_t size() const { return bytes_.size() - head_; }
  bool empty() const { return size() == 0; }
  wire_byte& operator[](std::size_t i) { return bytes_[head_ + i]; }
  wire_byte& front() { return bytes_[head_]; }
  std::size_t altered() const { return altered_; }
  void push_back(const wire_byte& w) {
    bytes_.push_back(w);
    altered_ += is_altered(w);
  }
  void reserve_more(std::size_t n) {
    if (bytes_.capacity() < bytes_.size() + n)
      bytes_.reserve(
          std::max(2 * bytes_.capacity(), std::max<std::size_t>(bytes_.size() + n, 8192)));
  }
  void pop_front(std::size_t n) {
    if (altered_ != 0)
      for (std::size_t i = 0; i < n; ++i)
        altered_ -= is_altered(bytes_[head_ + i]);
    head_ += n;
    if (head_ == bytes_.size()) {
      bytes_.clear();
      head_ = 0;
    } else if (head_ > 65536 && head_ > bytes_.size() / 2) {
      bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void erase(std::size_t pos, std::size_t n) {
    const auto first = bytes_.begin() + static_cast<std::ptrdiff_t>(head_ + pos);
    bytes_.erase(first, first + static_cast<std::ptrdiff_t>(n));
    recount();
  }
  /// After changing flip or gap_before through operator[].
  void recount() {
    altered_ = 0;
    for (std::size_t i = head_; i < bytes_.size(); ++i)
      altered_ += is_altered(bytes_[i]);
  }
  static bool is_altered(const wire_byte& w) { return w.gap_before || w.flip != 0; }

private:
  std::vector<wire_byte> bytes_;
  std::size_t head_ = 0;
  std::size_t altered_ = 0;
};

struct direction_state {
  wire_queue wire;
  record_tracker tracker;
  std::uint64_t written = 0;   // cleartext accepted by the sender's write()
  bool altered = false;        // any alteration (soft or hard) in this direction
  bool hard_delivered = false; // a hard alteration reached an open receiver
  bool gap_at_end = false;     // hard bytes dropped at the end of the wire, nothing after
};

class script {
public:
  script(const std::uint8_t* data, std::size_t size) : data_(data), size_(size), cfg_(data[0]) {}

  void run() {
    start_input(replay_seed ^ data_[1]);
    if (!setup()) return;
    for (std::size_t i = 2; i + 4 <= size_; i += 4) {
      const std::uint8_t op = data_[i], a = data_[i + 1], b = data_[i + 2], c = data_[i + 3];
      const int which = op & 1;
      switch (static_cast<opcode>((op >> 1) % op_count)) {
      case op_send: send(which, a); break;
      case op_deliver: deliver(which, a == 0 ? SIZE_MAX : size_arg(a), false); break;
      case op_write: write(which, a); break;
      case op_read: read(which, a == 0 ? SIZE_MAX : size_arg(a)); break;
      case op_end: end(which); break;
      case op_timeout: timeout(std::chrono::seconds(a * 4 + b / 64)); break;
      case op_corrupt: corrupt(which, (std::size_t(a) << 8) | b, c ? c : 0x80); break;
      case op_drop: drop(which, (std::size_t(a) << 8) | b, 1 + c % 32); break;
      case op_eof: eof(which); break;
      case op_destroy: destroy(which); break;
      case op_flush: flush(); break;
      case op_peek: peek(which, size_arg(a)); break;
      case op_window: deliver(which, a == 0 ? SIZE_MAX : size_arg(a), true); break;
      case op_key_update: key_update(which, a & 1); break;
      case op_renegotiate: renegotiate(which); break;
      case op_arm: arm(which, a, b); break;
      case op_answer: answer(which); break;
      case op_count: break;
      }
    }
    settle();
  }

private:
  side_state& side(int which) { return which == 0 ? client_ : server_; }
  // Direction 0 is client -> server, 1 is server -> client.
  side_state& sender(int dir) { return side(dir); }
  side_state& receiver(int dir) { return side(1 - dir); }

  bool setup() {
    client_.rng = stream::client;
    server_.rng = stream::server;
    tlsengine::server_options so;
    so.secure_context = server_context(cfg_);
    so.now = fake_clock();
    so.request_cert = cfg_.mtls;
    so.allow_half_open = cfg_.server_half_open;
    tlsengine::client_options co;
    co.secure_context = client_context(cfg_);
    co.servername = "localhost";
    co.now = fake_clock();
    co.allow_half_open = cfg_.client_half_open;
    if (cfg_.small) {
      for (tlsengine::connection_options* o : {static_cast<tlsengine::connection_options*>(&so),
                                               static_cast<tlsengine::connection_options*>(&co)}) {
        o->max_input_buffer = 1000;
        o->max_plaintext_buffer = 3000;
        o->max_write_buffer = 5000;
      }
    }
    auto srv = tlsengine::server::create(so);
    if (!srv) fail("pair: server::create failed:", srv.error().message());
    {
      rng_scope scope(stream::server);
      server_.conn = srv->accept();
    }
    rng_scope scope(stream::client);
    auto cli = tlsengine::connection::client(co);
    if (!cli) fail("pair: connection::client failed:", cli.error().message());
    client_.conn = std::move(*cli);
    return true;
  }

  bool open(side_state& s) {
    return !s.destroyed && !s.conn.error() && !s.conn.peer_ended() && !s.conn.is_destroyed();
  }

  /// Events and cleartext, every byte checked against what the peer wrote.
  void drain(int which) {
    side_state& s = side(which);
    rng_scope scope(s.rng);
    while (auto e = s.conn.next_event()) {
      if (std::holds_alternative<tlsengine::events::secure>(*e)) ++s.seen.secure;
      if (std::holds_alternative<tlsengine::events::end>(*e)) ++s.seen.ends;
      if (auto* err = std::get_if<tlsengine::events::error>(&*e)) {
        ++s.seen.errors;
        if (!err->code) fail("pair: an error event without a code");
        if (err->code != s.conn.error()) fail("pair: the error event differs from error()");
      }
    }
    if (s.seen.errors > 1 || s.seen.secure > 1 || s.seen.ends > 1) fail("pair: an event repeated");
    if (s.conn.error() && s.seen.errors == 0 && !s.destroyed)
      fail("pair: error() without an error event");
    read(which, SIZE_MAX);
  }

  void check_cleartext(int which, tlsengine::bytes_view got) {
    const int dir = 1 - which; // what `which` reads travelled in direction 1 - which
    side_state& s = side(which);
    for (std::size_t i = 0; i < got.size(); ++i)
      if (got[i] != pattern(dir, s.read_offset + i))
        fail("pair: WRONG DATA received at offset", std::to_string(s.read_offset + i));
    s.read_offset += got.size();
    if (s.read_offset > dirs_[dir].written) fail("pair: more data received than written");
  }

  void read(int which, std::size_t limit) {
    side_state& s = side(which);
    rng_scope scope(s.rng);
    std::uint8_t buffer[5000];
    while (limit > 0) {
      const std::size_t want = std::min(limit, sizeof buffer);
      const std::size_t n = s.conn.read(tlsengine::mutable_bytes_view(buffer, want));
      if (n == 0) break;
      if (n > want) fail("pair: read() returned more than asked");
      check_cleartext(which, tlsengine::bytes_view(buffer, n));
      limit -= n;
    }
  }

  void peek(int which, std::size_t n) {
    side_state& s = side(which);
    rng_scope scope(s.rng);
    const tlsengine::bytes_view view = s.conn.peek_plaintext();
    // The view is checked once, when consumed.
    n = std::min(n, view.size());
    check_cleartext(which, view.subview(0, n));
    s.conn.consume_plaintext(n);
  }

  void send(int dir, std::uint8_t a) {
    side_state& s = sender(dir);
    direction_state& d = dirs_[dir];
    rng_scope scope(s.rng);
    const tlsengine::bytes_view out = s.conn.pending_output();
    const std::size_t n = a == 0 ? out.size() : std::min(size_arg(a), out.size());
    d.wire.reserve_more(n);
    for (std::size_t i = 0; i < n; ++i) {
      wire_byte w = d.tracker.next(out[i]);
      if (i == 0 && d.gap_at_end) {
        w.gap_before = true;
        d.gap_at_end = false;
      }
      d.wire.push_back(w);
    }
    s.conn.consume_output(n);
  }

  static bool hard(const wire_byte& w) { return w.gap_before || (w.flip != 0 && w.header != 2); }
  static bool altered(const wire_byte& w) { return wire_queue::is_altered(w); }

  /// Feeds up to `limit` wire bytes; an altered byte is always fed at the start of a
  /// feed, after everything before it was processed, so that the receiver's state when
  /// it meets the alteration is known.
  std::size_t deliver(int dir, std::size_t limit, bool zero_copy) {
    side_state& r = receiver(dir);
    direction_state& d = dirs_[dir];
    std::size_t total = 0;
    std::vector<std::uint8_t> chunk;
    while (limit > 0 && !d.wire.empty()) {
      std::size_t n = std::min(limit, d.wire.size());
      // Stop before the next altered byte (not counting the first).
      for (std::size_t i = 1; d.wire.altered() != 0 && i < n; ++i)
        if (altered(d.wire[i])) {
          n = i;
          break;
        }
      bool meets_hard = false;
      if (altered(d.wire.front())) {
        drain(1 - dir); // everything before was processed: is the receiver still open?
        meets_hard = hard(d.wire.front()) && open(r);
      }
      chunk.resize(n);
      for (std::size_t i = 0; i < n; ++i)
        chunk[i] = d.wire[i].value ^ d.wire[i].flip;
      std::size_t taken = 0;
      {
        rng_scope scope(r.rng);
        if (zero_copy) {
          const tlsengine::mutable_bytes_view window = r.conn.input_window();
          taken = std::min(n, window.size());
          if (taken != 0) {
            std::memcpy(window.data(), chunk.data(), taken);
            r.conn.commit_input(taken);
          }
        } else {
          taken = r.conn.feed(tlsengine::bytes_view(chunk.data(), n));
        }
      }
      if (taken > n) fail("pair: feed() took more than offered");
      // An altered byte that was not taken is met again later.
      if (taken != 0 && meets_hard) d.hard_delivered = true;
      d.wire.pop_front(taken);
      total += taken;
      limit -= std::min(limit, taken);
      drain(1 - dir);
      if (taken == 0) break;
    }
    return total;
  }

  void write(int which, std::uint8_t a) {
    side_state& s = side(which);
    direction_state& d = dirs_[which];
    std::size_t len = write_size_arg(a);
    if (total_written_ + len > max_total_written) len = max_total_written - total_written_;
    std::vector<std::uint8_t> data(len);
    for (std::size_t i = 0; i < len; ++i)
      data[i] = pattern(which, d.written + i);
    std::error_code ec;
    std::size_t n = 0;
    // The state before the call: a callback inside it (the trace sink, armed) may end or
    // destroy the connection after the bytes were taken, which is an ordinary write then end.
    const bool ended = s.ended, closed = s.ended || s.destroyed || s.conn.error();
    {
      rng_scope scope(s.rng);
      in_write_[which] = true;
      n = s.conn.write(data, ec);
      in_write_[which] = false;
    }
    if (n > len) fail("pair: write() accepted more than offered");
    if (n != 0 && closed) fail("pair: write() accepted data after end(), destroy() or an error");
    if (ended && !s.conn.error() && !s.destroyed && len != 0 &&
        ec != tlsengine::make_error_code(tlsengine::errc::write_after_end))
      fail("pair: write() after end() without write_after_end:", ec.message());
    d.written += n;
    total_written_ += n;
  }

  void end(int which) {
    side_state& s = side(which);
    rng_scope scope(s.rng);
    if (!s.conn.error() && !s.destroyed) s.ended = true;
    s.conn.end();
    drain(which);
  }

  void timeout(std::chrono::seconds step) {
    fake_now() += step;
    for (int which = 0; which < 2; ++which) {
      side_state& s = side(which);
      rng_scope scope(s.rng);
      const auto due = s.conn.deadline();
      const bool had_error = static_cast<bool>(s.conn.error());
      s.conn.on_timeout(fake_now());
      if (due && *due <= fake_now() && !had_error && !s.destroyed &&
          s.conn.error() != tlsengine::make_error_code(tlsengine::errc::handshake_timeout))
        fail("pair: a deadline passed without handshake_timeout");
      if (!had_error && s.conn.error()) disrupted_ = true;
      drain(which);
    }
  }

  void corrupt(int dir, std::size_t pos, std::uint8_t flip) {
    direction_state& d = dirs_[dir];
    if (d.wire.empty()) return;
    wire_byte& w = d.wire[pos % d.wire.size()];
    w.flip ^= flip;
    d.wire.recount();
    d.altered = true;
  }

  void drop(int dir, std::size_t pos, std::size_t len) {
    direction_state& d = dirs_[dir];
    if (d.wire.empty()) return;
    pos %= d.wire.size();
    len = std::min(len, d.wire.size() - pos);
    bool soft = d.wire[pos].header == 0 && d.wire[pos + len - 1].last;
    bool gap = false;
    for (std::size_t i = pos; i < pos + len; ++i) {
      soft = soft && d.wire[i].type == 20 && d.wire[i].flip == 0 && !d.wire[i].gap_before;
      gap = gap || d.wire[i].gap_before;
    }
    d.altered = true;
    d.wire.erase(pos, len);
    if (soft && !gap) return;
    if (pos < d.wire.size()) {
      d.wire[pos].gap_before = true;
      d.wire.recount();
    } else {
      d.gap_at_end = true;
    }
  }

  void eof(int which) {
    side_state& s = side(which);
    rng_scope scope(s.rng);
    const bool could_truncate = !s.conn.error() && !s.conn.peer_ended() && !s.destroyed;
    s.conn.feed_eof();
    disrupted_ = true;
    drain(which);
    if (could_truncate && !s.conn.error())
      fail("pair: a transport EOF without close_notify did not end in an error");
  }

  void key_update(int which, bool request_peer) {
    side_state& s = side(which);
    rng_scope scope(s.rng);
    // More than 32 KeyUpdates without data between them is refused (errc::too_many_key_updates):
    // past that the run is no longer a clean one.
    if (++key_updates_ > 30) disrupted_ = true;
    s.conn.key_update(request_peer);
    drain(which);
  }

  void renegotiate(int which) {
    side_state& s = side(which);
    rng_scope scope(s.rng);
    // Client renegotiations are limited (client_reneg_limit), and a server's options change
    // the verification: not a clean run any more when one starts.
    if (!s.conn.renegotiate()) disrupted_ = true;
    drain(which);
  }

  void answer(int which) {
    side_state& s = side(which);
    rng_scope scope(s.rng);
    s.conn.resume(); // invalid_state unless a decision waits (none is requested here)
    drain(which);
  }

  /// The action runs inside the next message callback (the trace sink) of this side: with
  /// SSL_do_handshake / SSL_read_ex / SSL_write_ex below it on the stack.
  void arm(int which, std::uint8_t action, std::uint8_t size) {
    side_state& s = side(which);
    if (s.destroyed) return;
    armed_[which] = action % arm_count;
    armed_size_[which] = size;
    s.conn.enable_trace([this, which](std::string_view) { inside_callback(which); });
  }

  void inside_callback(int which) {
    side_state& s = side(which);
    if (armed_[which] < 0) return;
    const int action = armed_[which];
    armed_[which] = -1;
    if (tlsengine::current_connection() != &s.conn)
      fail("pair: current_connection() is not the connection the callback runs for");
    const bool healthy = !s.destroyed && !s.conn.error();
    const auto refused = [&](std::error_code ec) {
      return ec == tlsengine::errc::invalid_state || ec == tlsengine::errc::destroyed ||
             (ec && ec == s.conn.error());
    };
    switch (action) {
    case arm_destroy:
      s.conn.destroy();
      s.destroyed = true;
      disrupted_ = true;
      return; // destroy() also ends the trace
    case arm_write:
      // Inside an outer write() of the same side the bytes go after the outer ones, whose
      // count the pattern cannot know yet: only from other calls.
      if (!in_write_[which]) write(which, armed_size_[which]);
      break;
    case arm_end:
      if (healthy) s.ended = true;
      s.conn.end();
      break;
    case arm_key_update:
      if (!refused(s.conn.key_update(true))) fail("pair: key_update() inside a callback worked");
      break;
    case arm_renegotiate:
      if (!refused(s.conn.renegotiate())) fail("pair: renegotiate() inside a callback worked");
      break;
    case arm_answer:
      if (!refused(s.conn.resume())) fail("pair: resume() inside a callback worked");
      break;
    case arm_feed:
      if (healthy && !s.conn.peer_ended() && s.conn.feed("junk") != 0)
        fail("pair: feed() inside a callback took input");
      break;
    case arm_read: {
      std::uint8_t buffer[16];
      if (s.conn.read(buffer) != 0) fail("pair: read() inside a callback returned cleartext");
      break;
    }
    default: break;
    }
    s.conn.enable_trace({}); // disarmed: replacing the running sink is safe
  }

  void destroy(int which) {
    side_state& s = side(which);
    rng_scope scope(s.rng);
    s.conn.destroy();
    s.destroyed = true;
    disrupted_ = true;
    std::error_code ec;
    if (s.conn.write("x", ec) != 0 || !ec) fail("pair: write() after destroy() accepted");
    drain(which);
  }

  /// Moves and reads everything both ways until nothing moves.
  void flush() {
    for (int round = 0; round < 1000; ++round) {
      std::size_t moved = 0;
      for (int dir = 0; dir < 2; ++dir) {
        send(dir, 0);
        moved += deliver(dir, SIZE_MAX, false);
      }
      drain(0);
      drain(1);
      if (moved == 0) return;
    }
    fail("pair: the engines never settle");
  }

  void settle() {
    flush();
    for (int dir = 0; dir < 2; ++dir) {
      direction_state& d = dirs_[dir];
      side_state& r = receiver(dir);
      const bool must_fail = d.hard_delivered || (d.gap_at_end && open(r));
      if (!must_fail || r.destroyed || r.conn.error()) continue;
      {
        rng_scope scope(r.rng);
        r.conn.feed_eof();
      }
      drain(1 - dir);
      if (!r.conn.error())
        fail(dir == 0 ? "pair: altered client->server bytes were accepted without an error"
                      : "pair: altered server->client bytes were accepted without an error");
    }
    if (disrupted_ || dirs_[0].altered || dirs_[1].altered) return;
    for (int which = 0; which < 2; ++which) {
      side_state& s = side(which);
      if (s.conn.error())
        fail(which == 0 ? "pair: clean run, the client failed:"
                        : "pair: clean run, the server failed:",
             s.conn.error_message());
      if (s.seen.secure != 1) fail("pair: clean run without a completed handshake");
      if (s.read_offset != dirs_[1 - which].written)
        fail("pair: clean run, data lost:",
             std::to_string(s.read_offset) + " of " + std::to_string(dirs_[1 - which].written));
      if (side(1 - which).ended && !s.conn.peer_ended())
        fail("pair: clean run, end() did not reach the peer");
    }
  }

  static constexpr std::size_t max_total_written = 256 * 1024;

  const std::uint8_t* data_;
  std::size_t size_;
  config cfg_;
  side_state client_, server_;
  direction_state dirs_[2];
  bool disrupted_ = false;
  std::size_t total_written_ = 0;
  int key_updates_ = 0;
  int armed_[2] = {-1, -1};
  std::uint8_t armed_size_[2] = {0, 0};
  bool in_write_[2] = {false, false};
};

inline void run_pair_input(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return;
  script(data, size).run();
}

// ---- building scripts (record_corpus) -----------------------------------------------------

struct builder {
  std::vector<std::uint8_t> bytes;
  builder(std::uint8_t config, std::uint8_t seed) : bytes{config, seed} {}
  builder& op(opcode o, int which, std::uint8_t a = 0, std::uint8_t b = 0, std::uint8_t c = 0) {
    bytes.insert(bytes.end(), {static_cast<std::uint8_t>((o << 1) | which), a, b, c});
    return *this;
  }
};

} // namespace fuzz::pair
