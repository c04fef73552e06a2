// posix_echo_server: Node's tls echo server example in C++ over blocking POSIX sockets —
// one thread per connection, each one a plain loop around the sans-I/O engine.
//
//   const server = tls.createServer(options, (socket) => {
//     console.log('server connected', socket.authorized ? 'authorized' : 'unauthorized');
//     socket.write('welcome!\n');
//     socket.pipe(socket);
//   });
//
// Runs on the built-in demo certificate unless --cert/--key are given.
#include <tlsengine/tlsengine.hpp>

#include "../common/cli.hpp"
#include "../common/net.hpp"
#include "blocking_tls.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

using namespace tlsengine_examples;

namespace {

constexpr int max_connections = 256;     // threads; more connections wait in the backlog
constexpr int idle_timeout_ms = 300'000; // a silent client is dropped after 5 minutes
constexpr int send_timeout_seconds = 30; // a client that stops reading is dropped too

std::atomic<int> active_connections{0};
bool request_cert = false; // --request-cert: whether clients were asked for a certificate
std::mutex log_mutex;

void log_line(const char* format, ...) __attribute__((format(printf, 1, 2)));
void log_line(const char* format, ...) {
  std::lock_guard<std::mutex> lock(log_mutex); // whole lines from concurrent threads
  va_list args;
  va_start(args, format);
  std::vfprintf(stdout, format, args);
  va_end(args);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

/// Writes all of `data` into the engine; when its write buffer is full, sends what it
/// holds first (blocking) to make room. False when the connection cannot take more.
bool write_all(blocking_tls& s, tlsengine::bytes_view data) {
  while (!data.empty()) {
    std::error_code ec;
    const std::size_t n = s.tls().write(data, ec);
    if (ec) return false;
    if (n == 0 && !s.flush()) return false;
    data = data.subview(n);
  }
  return true;
}

/// One connection, start to end, on its own thread.
void serve(int fd, tlsengine::connection connection, std::string peer) {
  // Bounded blocking: a send() that cannot progress for 30 s fails instead of hanging.
  timeval send_timeout{send_timeout_seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);

  blocking_tls s(fd, std::move(connection));
  tlsengine::connection& tls = s.tls();
  tls.write("welcome!\n"); // buffered by the engine, sent when the handshake completes

  for (;;) {
    // After every input: events until empty, then cleartext, then ciphertext out.
    while (auto e = tls.next_event()) {
      keylog().write(*e); // --keylog / SSLKEYLOGFILE
      if (std::holds_alternative<tlsengine::events::secure>(*e))
        log_line("%s", server_connected(tls, peer, request_cert).c_str());
      if (std::holds_alternative<tlsengine::events::end>(*e)) log_line("%s ended", peer.c_str());
      if (auto* err = std::get_if<tlsengine::events::error>(&*e))
        log_line("%s: error: %s", peer.c_str(), err->message.c_str());
    }
    if (tls.error()) {
      s.flush(); // the fatal alert, if one is due, then close
      break;
    }
    std::uint8_t buffer[16 * 1024];
    bool ok = true, got = false;
    while (std::size_t n = tls.read(tlsengine::mutable_bytes_view(buffer, sizeof buffer))) {
      got = true;
      if (!write_all(s, tlsengine::bytes_view(buffer, n))) { // socket.pipe(socket)
        ok = false;
        break;
      }
    }
    // Reading made room, so the engine decrypted what it held back: maybe more events
    // (the client's close_notify among them). Drain them before deciding anything.
    if (ok && got) continue;
    if (!ok || !s.flush()) {
      // A client that sent close_notify may close without reading ours: not worth a line.
      if (!tls.peer_ended()) log_line("%s: connection lost while sending", peer.c_str());
      break;
    }
    // The client's close_notify arrived: everything before it was echoed above, so answer
    // with ours (socket.pipe(socket) ends the socket at 'end'). allow_half_open keeps the
    // engine from answering by itself before the echo was written.
    if (tls.peer_ended() && !tls.is_ended()) {
      tls.end();
      if (!s.flush()) break;
    }
    if (tls.peer_ended() && tls.is_ended()) break;
    if (s.transport_ended()) break; // the engine reported it (error or end) above

    bool timed_out = false;
    if (!s.receive(idle_timeout_ms, timed_out) && timed_out) {
      log_line("%s: idle for too long, closing", peer.c_str());
      tls.end(); // close_notify, best effort
      s.flush();
      break;
    }
  }
  ::close(fd);
  active_connections.fetch_sub(1);
}

} // namespace

int main(int argc, char** argv) {
  flag_parser parser("posix_echo_server",
                     "A blocking TLS echo server (one thread per connection), as in Node's "
                     "tls docs: it sends \"welcome!\" and echoes what it receives.");
  tls_flags flags;
  flags.add_server_flags(parser, default_port::posix_echo_server);
  parser.parse(argc, argv);
  request_cert = flags.request_cert;

  tlsengine::server_options options;
  std::string error;
  if (!server_options_from(flags, options, error)) {
    std::fprintf(stderr, "posix_echo_server: %s\n", error.c_str());
    return 1;
  }
  options.allow_half_open = true; // we end() ourselves, after echoing (see serve())
  options.handshake_timeout = std::chrono::seconds(10);
  auto server = tlsengine::server::create(options);
  if (!server) {
    std::fprintf(stderr, "posix_echo_server: TLS configuration (%s): %s\n", flags.sources().c_str(),
                 server.error().message().c_str());
    return 1;
  }

  const int listener = listen_tcp(flags.host, flags.port, 128, error);
  if (listener < 0) {
    std::fprintf(stderr, "posix_echo_server: %s\n", error.c_str());
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN); // belt and braces: every send() also passes MSG_NOSIGNAL
  log_line("listening on %s", local_address(listener).c_str());

  for (;;) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    const int fd =
        ::accept4(listener, reinterpret_cast<sockaddr*>(&address), &length, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      log_line("accept: %s", errno_text().c_str());
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        ::usleep(100 * 1000); // out of resources: let connections finish, then retry
      continue;
    }
    const std::string peer = address_text(reinterpret_cast<sockaddr*>(&address));
    if (active_connections.load() >= max_connections) {
      log_line("%s: too many connections, refused", peer.c_str());
      ::close(fd);
      continue;
    }
    set_nodelay(fd);
    active_connections.fetch_add(1);
    try {
      std::thread(serve, fd, server->accept(), peer).detach();
    } catch (const std::system_error& e) { // no thread to be had: refuse this one
      log_line("%s: cannot start a thread: %s", peer.c_str(), e.what());
      active_connections.fetch_sub(1);
      ::close(fd);
    }
  }
}
