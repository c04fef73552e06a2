// tlsengine — an Asio adapter. tlsenginenet::stream<NextLayer> runs a
// tlsengine::connection over any Asio AsyncReadStream + AsyncWriteStream (usually
// ip::tcp::socket) and is itself an AsyncReadStream and AsyncWriteStream: async_read /
// async_write / async_read_until, completion handlers, futures, C++20 coroutines, and
// Boost.Beast's HTTP and WebSocket operations all work with it.
//
//   tlsenginenet::stream<net::ip::tcp::socket> tls(std::move(socket), server.accept());
//   co_await tls.async_handshake(tlsenginenet::stream_base::server, net::use_awaitable);
//   std::size_t n = co_await tls.async_read_some(net::buffer(data), net::use_awaitable);
//   co_await net::async_write(tls, net::buffer(data, n), net::use_awaitable);
//   co_await tls.async_shutdown(net::use_awaitable);
//
// Standalone Asio (Debian's libasio-dev, `#include <asio.hpp>`) by default; Boost.Asio
// (libboost-dev, `#include <boost/asio.hpp>`) when TLSENGINE_USE_BOOST_ASIO is defined
// before this header — the same class, with boost::system::error_code in its completion
// signatures (the engine's error_code converted: message() and category name kept;
// stream.connection().error() has the original). This header is not part of the
// umbrella tlsengine.hpp, so the core library does not depend on Asio.
//
// Threading is Asio's usual rule: the stream and its operations belong to one strand of
// execution (an io_context run by one thread, or a strand). As with any Asio stream, at
// most one read (async_read_some or async_handshake or async_shutdown) and one write
// (async_write_some) may be outstanding at a time; a read and a write may overlap.
//
// How it works: the stream keeps at most one read and one write of the next layer in
// flight, started on demand by the operations ("pumps"); the operations themselves wait
// on a timer used as a condition variable, woken whenever a pump completed. The engine is
// drained in the drain loop's order after every input: events, then cleartext, then
// ciphertext.
#pragma once

#include "tlsengine.hpp"

#if defined(TLSENGINE_USE_BOOST_ASIO)
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/version.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>
#if BOOST_ASIO_VERSION >= 101900
#include <boost/asio/cancellation_type.hpp>
#define TLSENGINE_ASIO_HAS_CANCELLATION 1
#endif
#else
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/basic_waitable_timer.hpp>
#include <asio/buffer.hpp>
#include <asio/compose.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/version.hpp>
#include <asio/write.hpp>
#if ASIO_VERSION >= 101900
#include <asio/cancellation_type.hpp>
#define TLSENGINE_ASIO_HAS_CANCELLATION 1
#endif
#endif

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace tlsengine {
namespace asio {

#if defined(TLSENGINE_USE_BOOST_ASIO)
namespace net = ::boost::asio;
/// The error code of the completion signatures: Boost's under Boost.Asio.
using error_code = ::boost::system::error_code;

namespace detail {
/// A std::error_category seen through Boost.System (Boost 1.74 converts Boost codes to
/// std ones, not back): name and messages are the std category's.
class boost_view_of_std_category final : public ::boost::system::error_category {
public:
  explicit boost_view_of_std_category(const std::error_category& c) noexcept : std_(&c) {}
  const char* name() const noexcept override { return std_->name(); }
  std::string message(int ev) const override { return std_->message(ev); }

private:
  const std::error_category* std_;
};

inline const ::boost::system::error_category& boost_category(const std::error_category& c) {
  if (c == std::generic_category()) return ::boost::system::generic_category();
  if (c == std::system_category()) return ::boost::system::system_category();
  static const boost_view_of_std_category engine(engine_category()), openssl(openssl_category()),
      x509(x509_category());
  if (c == openssl_category()) return openssl;
  if (c == x509_category()) return x509;
  return engine; // tlsengine reports nothing else
}
} // namespace detail

/// The engine's std::error_code as the completion signatures' error_code.
inline error_code to_error_code(const std::error_code& ec) {
  if (!ec) return {};
  return error_code(ec.value(), detail::boost_category(ec.category()));
}
#else
namespace net = ::asio;
/// The error code of the completion signatures: std::error_code under standalone Asio.
using error_code = std::error_code;
inline error_code to_error_code(const std::error_code& ec) { return ec; }
#endif

/// The handshake role argument of ssl::stream::async_handshake, for code written against
/// it. The connection already has its role (connection::client() or server::accept());
/// a role that contradicts it fails the handshake with errc::invalid_argument.
struct stream_base {
  enum handshake_type { client, server };
};

template <class NextLayer> class stream {
public:
  using next_layer_type = std::remove_reference_t<NextLayer>;
  using executor_type = typename next_layer_type::executor_type;
  /// Called for every event the connection reports, in order (session tickets, keylog
  /// lines, decision events to answer through connection(), ...). Runs inside the
  /// stream's operations: it must not start or wait for stream operations itself.
  using event_handler = std::function<void(const tlsengine::event&)>;

  /// Wraps `next_layer` (moved or referenced, as NextLayer says) and a connection: a
  /// client from tlsengine::connection::client(), or a server's accept().
  template <class Arg>
  stream(Arg&& next_layer, tlsengine::connection connection)
      : core_(std::make_unique<core>(std::forward<Arg>(next_layer), std::move(connection))) {}

  stream(stream&&) noexcept = default;
  stream& operator=(stream&& other) noexcept {
    if (this != &other) {
      retire();
      core_ = std::move(other.core_);
    }
    return *this;
  }
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;
  ~stream() { retire(); }

  executor_type get_executor() noexcept { return core_->next.get_executor(); }
  next_layer_type& next_layer() noexcept { return core_->next; }
  const next_layer_type& next_layer() const noexcept { return core_->next; }
  /// The next layer's lowest layer (the socket), when it has one.
  decltype(auto) lowest_layer() noexcept { return core_->next.lowest_layer(); }
  /// The TLS connection: protocol(), alpn_protocol(), authorized(), peer_certificate(),
  /// session(), ... Do not feed it or drain its output: the stream does.
  tlsengine::connection& connection() noexcept { return core_->conn; }
  const tlsengine::connection& connection() const noexcept { return core_->conn; }
  void set_event_handler(event_handler handler) { core_->on_event = std::move(handler); }

  /// Runs the handshake to completion: void(error_code). A server's handshake is
  /// bounded by server_options::handshake_timeout (the engine's deadline()); an error
  /// completes only after the fatal alert was sent.
  template <class Token = net::default_completion_token_t<executor_type>>
  auto async_handshake(Token&& token = net::default_completion_token_t<executor_type>()) {
    return start<false>(handshake_step{}, std::forward<Token>(token));
  }

  /// ssl::stream's form: the same, after checking that `type` is the connection's role.
  template <class Token = net::default_completion_token_t<executor_type>>
  auto async_handshake(stream_base::handshake_type type,
                       Token&& token = net::default_completion_token_t<executor_type>()) {
    const bool server = core_->conn.is_server();
    handshake_step step;
    step.wrong_role = server != (type == stream_base::server);
    return start<false>(step, std::forward<Token>(token));
  }

  /// Reads cleartext: void(error_code, std::size_t). Completes with
  /// net::error::eof after the peer's close_notify, with the engine's error (errc::
  /// truncated, a TLS alert, ...) when the connection failed, or with the transport's.
  template <class MutableBuffers, class Token = net::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBuffers& buffers,
                       Token&& token = net::default_completion_token_t<executor_type>()) {
    return start<true>(read_step<MutableBuffers>{buffers}, std::forward<Token>(token));
  }

  /// Writes cleartext: void(error_code, std::size_t). Completes once the engine
  /// accepted the bytes (its write buffer is bounded: when full, once the transport took
  /// some); the ciphertext goes out in the background. Written before the handshake
  /// completes, it is buffered and sent after it.
  template <class ConstBuffers, class Token = net::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBuffers& buffers,
                        Token&& token = net::default_completion_token_t<executor_type>()) {
    return start<true>(write_step<ConstBuffers>{buffers}, std::forward<Token>(token));
  }

  /// Sends close_notify after everything written, then waits for the peer's (cleartext
  /// still arriving meanwhile is discarded): void(error_code). A peer that closes the
  /// transport instead of answering also completes it without error. Bound it with a
  /// timer or a cancellation slot if the peer may never answer; then close next_layer().
  template <class Token = net::default_completion_token_t<executor_type>>
  auto async_shutdown(Token&& token = net::default_completion_token_t<executor_type>()) {
    return start<false>(shutdown_step{}, std::forward<Token>(token));
  }

private:
  using timer_type =
      net::basic_waitable_timer<std::chrono::steady_clock,
                                net::wait_traits<std::chrono::steady_clock>, executor_type>;

  // Everything the operations share. It lives in a unique_ptr so that a moved stream keeps
  // it in place, and `alive` tells handlers that outlive the stream not to touch it.
  struct core {
    // Buffers first: destroyed last, after the next layer has cancelled its operations.
    std::vector<std::uint8_t> read_buffer = std::vector<std::uint8_t>(17 * 1024);
    std::size_t read_offset = 0, read_size = 0; // ciphertext feed() has not taken yet
    std::vector<std::uint8_t> write_buffer;
    NextLayer next;
    tlsengine::connection conn;
    timer_type signal;   // expires never; cancel() wakes every waiting operation
    timer_type deadline; // the handshake deadline
    std::shared_ptr<bool> alive = std::make_shared<bool>(true);
    event_handler on_event;
    bool reading = false, writing = false, deadline_armed = false;
    bool transport_eof = false, handshake_done = false;
    error_code read_error, write_error;

    template <class Arg>
    core(Arg&& next_layer, tlsengine::connection connection)
        : next(std::forward<Arg>(next_layer)), conn(std::move(connection)),
          signal(next.get_executor(), timer_type::time_point::max()),
          deadline(next.get_executor()) {}

    void notify() { signal.cancel(); }

    /// Events first, in order, as the drain loop says.
    void process_events() {
      while (auto e = conn.next_event()) {
        // No handshake deadline any more once it succeeded or failed: a timer left armed
        // would keep the io_context busy (and run() from returning) until it expired.
        if (std::holds_alternative<events::secure>(*e)) handshake_done = true;
        if ((handshake_done || std::holds_alternative<events::error>(*e)) && deadline_armed)
          deadline.cancel();
        if (on_event) on_event(*e);
      }
    }

    /// Feeds the ciphertext a previous feed() left (the engine's input buffer was full).
    void feed_leftover() {
      if (read_offset < read_size) {
        read_offset += conn.feed(
            tlsengine::bytes_view(read_buffer.data() + read_offset, read_size - read_offset));
        process_events();
      }
    }

    /// Starts writing pending ciphertext unless a write is in flight.
    void start_write() {
      if (writing || write_error) return;
      const tlsengine::bytes_view out = conn.pending_output();
      if (out.empty()) return;
      // A copy: the engine's view is valid only until the next call that changes the
      // connection, and a read may feed() it while this write is in flight.
      write_buffer.assign(out.begin(), out.end());
      conn.consume_output(out.size());
      writing = true;
      net::async_write(next, net::buffer(write_buffer),
                       [self = this, alive = alive](error_code ec, std::size_t) {
                         if (!*alive) return;
                         self->writing = false;
                         if (ec)
                           self->write_error = ec;
                         else
                           self->start_write();
                         self->notify();
                       });
    }

    /// Starts reading ciphertext unless a read is in flight or the transport ended.
    void start_read() {
      if (reading || transport_eof || read_offset < read_size) return;
      reading = true;
      next.async_read_some(net::buffer(read_buffer),
                           [self = this, alive = alive](error_code ec, std::size_t n) {
                             if (!*alive) return;
                             self->reading = false;
                             if (n > 0) {
                               self->read_offset = 0;
                               self->read_size = n;
                               self->feed_leftover();
                             }
                             if (ec) {
                               self->transport_eof = true;
                               if (ec != net::error::eof) self->read_error = ec;
                               // After our close_notify a bare FIN is how many peers finish;
                               // otherwise the engine calls it truncation (an error unless
                               // allow_truncation).
                               if (!self->conn.is_ended()) self->conn.feed_eof();
                               self->process_events();
                             }
                             self->start_write();
                             self->notify();
                           });
    }

    /// Arms the timer for the engine's handshake deadline.
    void arm_deadline() {
      if (deadline_armed || handshake_done) return;
      const auto when = conn.deadline();
      if (!when) return;
      deadline_armed = true;
      deadline.expires_at(*when);
      deadline.async_wait([self = this, alive = alive](error_code ec) {
        if (!*alive) return;
        self->deadline_armed = false;
        if (ec) return; // cancelled
        self->conn.on_timeout(tlsengine::clock::now());
        self->process_events();
        self->start_write();
        self->notify();
      });
    }
  };

  void retire() {
    if (!core_) return;
    *core_->alive = false; // handlers still queued must not touch the core
    core_.reset();
  }

  // ---- the operations: one step function each, run by a shared composed operation ------
  // A step returns true when the operation is finished (with ec and n set); otherwise it
  // has started whatever I/O it waits for, and the operation sleeps until a pump reports.

  struct handshake_step {
    bool wrong_role = false;
    bool operator()(core& c, error_code& ec, std::size_t&) {
      if (wrong_role) {
        ec = to_error_code(make_error_code(errc::invalid_argument));
        return true;
      }
      c.process_events();
      if (c.conn.error()) {
        c.start_write(); // the fatal alert goes out before the operation completes
        if (c.writing && !c.write_error) return false;
        ec = c.read_error ? c.read_error : to_error_code(c.conn.error());
        return true;
      }
      if (c.handshake_done) {
        c.start_write(); // the last flight (and TLS 1.3 tickets) go out in the background
        return true;
      }
      if (c.write_error || c.read_error) {
        ec = c.write_error ? c.write_error : c.read_error;
        return true;
      }
      c.start_write();
      c.start_read();
      c.arm_deadline();
      return false;
    }
  };

  template <class MutableBuffers> struct read_step {
    MutableBuffers buffers;
    bool operator()(core& c, error_code& ec, std::size_t& n) {
      n = 0;
      if (net::buffer_size(buffers) == 0) return true;
      c.feed_leftover();
      c.process_events();
      for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
           ++it) {
        const net::mutable_buffer b(*it);
        const std::size_t got = c.conn.read(tlsengine::mutable_bytes_view(b.data(), b.size()));
        n += got;
        if (got < b.size()) break;
      }
      if (n > 0) {
        c.feed_leftover(); // room again for what the engine could not take before
        c.start_write();
        return true;
      }
      if (c.read_error) {
        ec = c.read_error;
      } else if (c.conn.error()) {
        c.start_write();
        ec = to_error_code(c.conn.error());
      } else if (c.conn.peer_ended() || c.transport_eof) {
        ec = net::error::eof;
      } else {
        c.start_write(); // a handshake message, a KeyUpdate answer, ...
        c.start_read();
        c.arm_deadline();
        return false;
      }
      return true;
    }
  };

  template <class ConstBuffers> struct write_step {
    ConstBuffers buffers;
    bool operator()(core& c, error_code& ec, std::size_t& n) {
      n = 0;
      if (c.write_error) {
        ec = c.write_error;
        return true;
      }
      if (c.conn.error()) {
        ec = to_error_code(c.conn.error());
        return true;
      }
      if (net::buffer_size(buffers) == 0) return true;
      for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
           ++it) {
        const net::const_buffer b(*it);
        std::error_code refused;
        const std::size_t took = c.conn.write(tlsengine::bytes_view(b.data(), b.size()), refused);
        n += took;
        if (refused && n == 0) { // write after end(), ...
          ec = to_error_code(refused);
          return true;
        }
        if (took < b.size()) break;
      }
      c.start_write();
      if (!c.handshake_done) {
        c.start_read(); // the handshake has to progress before anything is sent
        c.arm_deadline();
      }
      return n > 0; // none taken: the write buffer is full until the transport takes some
    }
  };

  struct shutdown_step {
    bool ended = false;
    bool operator()(core& c, error_code& ec, std::size_t&) {
      if (!ended) {
        c.conn.end();
        ended = true;
      }
      c.feed_leftover();
      c.process_events();
      c.start_write();
      if (c.write_error) {
        ec = c.write_error;
        return true;
      }
      if (c.writing) return false; // our close_notify is not out yet
      if (c.conn.peer_ended() || c.transport_eof) return true;
      if (c.conn.error()) {
        ec = to_error_code(c.conn.error());
        return true;
      }
      // Waiting for the peer's close_notify: what arrives before it is dropped.
      c.conn.consume_plaintext(c.conn.peek_plaintext().size());
      c.feed_leftover();
      if (c.conn.peer_ended()) return true;
      c.start_read();
      return false;
    }
  };

  template <bool WithSize, class Step> struct operation {
    operation(core* owner, Step s) : c(owner), alive(owner->alive), step(std::move(s)) {}

    core* c;
    std::shared_ptr<bool> alive;
    Step step;
    bool started = false, finished = false;
    error_code ec;
    std::size_t n = 0;

    template <class Self> void operator()(Self& self, error_code wait_error = {}) {
      if (!*alive) return finish(self, net::error::operation_aborted);
      if (finished) return finish(self, ec); // after the post below
#if defined(TLSENGINE_ASIO_HAS_CANCELLATION)
      if (started && wait_error == net::error::operation_aborted &&
          self.get_cancellation_state().cancelled() != net::cancellation_type::none)
        return finish(self, net::error::operation_aborted); // the caller cancelled it
#else
      (void)wait_error; // no per-operation cancellation before Asio 1.19 (Boost 1.77)
#endif
      if (step(*c, ec, n)) {
        if (started) return finish(self, ec);
        // Never complete inside the initiating function: go through the executor.
        finished = true;
        return net::post(std::move(self));
      }
      started = true;
      c->signal.async_wait(std::move(self));
    }

    template <class Self> void finish(Self& self, error_code result) {
      if constexpr (WithSize)
        self.complete(result, result == net::error::operation_aborted ? 0 : n);
      else
        self.complete(result);
    }
  };

  template <bool WithSize, class Step, class Token> auto start(Step step, Token&& token) {
    using signature = std::conditional_t<WithSize, void(error_code, std::size_t), void(error_code)>;
    return net::async_compose<Token, signature>(
        operation<WithSize, Step>(core_.get(), std::move(step)), token, core_->next);
  }

  std::unique_ptr<core> core_;
};

} // namespace asio
} // namespace tlsengine
