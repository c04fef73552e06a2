// posix_echo_client: Node's tls echo client example in C++ over a blocking POSIX socket.
// What arrives is printed on stdout; stdin is sent to the server once the connection is
// secure; at the end of stdin the client sends close_notify and waits for the server's.
//
//   const socket = tls.connect(8443, options, () => {
//     console.log('client connected', socket.authorized ? 'authorized' : 'unauthorized');
//     process.stdin.pipe(socket);
//   });
//   socket.on('data', (data) => console.log(data));
//   socket.on('end', () => console.log('server ends connection'));
//
// Status lines go to stderr so that stdout carries exactly the bytes received.
#include <tlsengine/tlsengine.hpp>

#include "../common/cli.hpp"
#include "../common/net.hpp"
#include "blocking_tls.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

using namespace tlsengine_examples;

namespace {

/// write(2) all of it: stdout may be a pipe that takes less at a time.
bool write_stdout(const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(STDOUT_FILENO, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

} // namespace

int main(int argc, char** argv) {
  flag_parser parser("posix_echo_client",
                     "A blocking TLS client, as in Node's tls docs: sends stdin, prints what "
                     "the server sends.");
  tls_flags flags;
  flags.add_client_flags(parser, default_port::posix_echo_server);
  parser.parse(argc, argv);
  ::signal(SIGPIPE, SIG_IGN); // a closed stdout is an error code, not a signal

  tlsengine::client_options options;
  std::string error;
  if (!client_options_from(flags, options, error)) {
    std::fprintf(stderr, "posix_echo_client: %s\n", error.c_str());
    return 1;
  }
  auto connection = tlsengine::connection::client(options); // the ClientHello is ready now
  if (!connection) {
    std::fprintf(stderr, "posix_echo_client: TLS configuration (%s): %s\n", flags.sources().c_str(),
                 connection.error().message().c_str());
    return 1;
  }
  const int fd = connect_tcp(flags.host, flags.port, error);
  if (fd < 0) {
    std::fprintf(stderr, "posix_echo_client: %s\n", error.c_str());
    return 1;
  }

  blocking_tls s(fd, std::move(*connection));
  tlsengine::connection& tls = s.tls();
  bool secure = false, stdin_open = true;
  int status = 0;
  for (;;) {
    while (auto e = tls.next_event()) {
      keylog().write(*e); // --keylog / SSLKEYLOGFILE
      if (std::holds_alternative<tlsengine::events::secure>(*e)) {
        secure = true;
        const std::string alpn = tls.alpn_protocol();
        std::fprintf(stderr, "client connected %s (%s, alpn=%s)\n",
                     tls.authorized() ? "authorized" : "unauthorized", tls.protocol().c_str(),
                     alpn.empty() ? "-" : alpn.c_str());
      } else if (std::holds_alternative<tlsengine::events::end>(*e)) {
        std::fprintf(stderr, "server ends connection\n");
      } else if (auto* err = std::get_if<tlsengine::events::error>(&*e)) {
        std::fprintf(stderr, "posix_echo_client: %s\n", err->message.c_str());
      }
    }
    if (tls.error()) {
      s.flush(); // our fatal alert, if one is due
      status = 1;
      break;
    }
    std::uint8_t buffer[16 * 1024];
    bool got = false;
    while (std::size_t n = tls.read(tlsengine::mutable_bytes_view(buffer, sizeof buffer))) {
      if (!write_stdout(buffer, n)) {
        std::fprintf(stderr, "posix_echo_client: stdout: %s\n", errno_text().c_str());
        return 1;
      }
      got = true;
    }
    // Reading made room, so the engine decrypted what it held back: maybe more events
    // (the server's close_notify among them). Drain them before deciding anything.
    if (got) continue;
    if (!s.flush()) {
      std::fprintf(stderr, "posix_echo_client: send: %s\n", errno_text().c_str());
      status = 1;
      break;
    }
    if (tls.peer_ended() && tls.is_ended()) break; // both close_notify sent: done
    if (s.transport_ended()) {
      status = tls.peer_ended() ? 0 : 1; // the engine reported what happened above
      break;
    }

    // Wait for the server, and for stdin once secure while the engine takes more input
    // (its write buffer full means the server is not reading: stop reading stdin too).
    pollfd fds[2] = {{fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    const bool want_stdin =
        secure && stdin_open && !tls.is_ended() && tls.buffered_write_size() < 256 * 1024;
    const int r = ::poll(fds, want_stdin ? 2 : 1, s.poll_timeout(-1));
    if (r < 0 && errno != EINTR) {
      std::fprintf(stderr, "posix_echo_client: poll: %s\n", errno_text().c_str());
      return 1;
    }
    s.check_deadline();
    if (r > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) s.receive_available();
    if (r > 0 && want_stdin && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
      if (n > 0) {
        // The engine copies it; a full write buffer was ruled out above (256 KiB < 1 MiB).
        tls.write(tlsengine::bytes_view(buffer, static_cast<std::size_t>(n)));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        stdin_open = false;
        tls.end(); // process.stdin.pipe(socket) ends the socket with stdin
      }
    }
  }
  ::close(fd);
  return status;
}
