// tlsengine examples — a tlsengine::connection over a blocking socket: the smallest
// complete I/O loop around the sans-I/O engine. Used by posix_echo_server and
// posix_echo_client.
#pragma once

#include <tlsengine/tlsengine.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <utility>

namespace tlsengine_examples {

class blocking_tls {
public:
  blocking_tls(int fd, tlsengine::connection connection) : fd_(fd), tls_(std::move(connection)) {}

  tlsengine::connection& tls() { return tls_; }
  int fd() const { return fd_; }
  /// The transport ended: recv() returned 0 or failed (the engine was told: feed_eof()).
  bool transport_ended() const { return transport_ended_; }

  /// Sends everything the engine has to send, blocking. False when the peer is gone.
  bool flush() {
    for (;;) {
      const tlsengine::bytes_view out = tls_.pending_output();
      if (out.empty()) return true;
      // MSG_NOSIGNAL: a peer that vanished is an error code here, not SIGPIPE.
      const ssize_t n = ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        tls_.consume_output(static_cast<std::size_t>(n)); // partial sends are fine
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return false; // EPIPE, ECONNRESET, or SO_SNDTIMEO expired (EAGAIN)
      }
    }
  }

  /// One recv() into the engine's input window (no copy), or feed_eof() at the end.
  /// Call it when poll() said the socket is readable. False once the transport ended.
  bool receive_available() {
    if (transport_ended_) return false;
    tlsengine::mutable_bytes_view window = tls_.input_window();
    std::uint8_t fallback[4096];
    // No window: an error already happened or the input buffer is full (the caller is
    // not reading cleartext). recv() anyway, so that an EOF is still noticed.
    const bool direct = !window.empty();
    if (!direct) window = tlsengine::mutable_bytes_view(fallback, sizeof fallback);
    ssize_t n;
    do {
      n = ::recv(fd_, window.data(), window.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
      if (direct)
        tls_.commit_input(static_cast<std::size_t>(n));
      else
        tls_.feed(tlsengine::bytes_view(fallback, static_cast<std::size_t>(n)));
      return true;
    }
    // 0: FIN. <0: ECONNRESET and friends. Either way no more ciphertext will come; without
    // the peer's close_notify first the engine reports truncation.
    transport_ended_ = true;
    tls_.feed_eof();
    return false;
  }

  /// A poll() timeout: `idle_ms` (-1: none), shortened to the engine's deadline.
  int poll_timeout(int idle_ms) const {
    const auto when = tls_.deadline();
    if (!when) return idle_ms;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(*when - tlsengine::clock::now())
            .count();
    const int until_deadline = static_cast<int>(std::clamp<long long>(left + 1, 0, 1 << 30));
    return idle_ms < 0 ? until_deadline : std::min(idle_ms, until_deadline);
  }

  /// Tells the engine the time when its deadline passed (the handshake timeout).
  void check_deadline() {
    const auto when = tls_.deadline();
    const auto now = tlsengine::clock::now();
    if (when && now >= *when) tls_.on_timeout(now);
  }

  /// Waits up to timeout_ms for ciphertext and feeds it. False once the transport ended
  /// or when nothing came in time (`timed_out` says which).
  bool receive(int idle_ms, bool& timed_out) {
    timed_out = false;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, poll_timeout(idle_ms));
    if (r < 0 && errno == EINTR) return true;
    check_deadline();
    if (r == 0) {
      timed_out = !tls_.error(); // a handshake timeout is the engine's error instead
      return !timed_out;
    }
    return receive_available();
  }

private:
  int fd_;
  tlsengine::connection tls_;
  bool transport_ended_ = false;
};

/// The first error of a connection as one line: the error event's text when there was
/// one, else error_message().
inline std::string error_line(const tlsengine::connection& c) {
  std::string text = c.error_message();
  if (text.empty()) text = c.error().message();
  return text;
}

} // namespace tlsengine_examples
