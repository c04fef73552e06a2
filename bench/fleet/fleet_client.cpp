// fleet_client: the fleet benchmark's client (bench/fleet/run.sh). Makes --count HTTPS
// connections one after another, node after node (round robin over --ports), each
// offering the session of the previous connection, so every resumption is cross-node.
// Prints one line: connections, resumed, cross-node resumption rate, handshakes/s.
// Not a test: the figures depend on the machine.
#include <tlsengine/tlsengine.hpp>

#include "builtin_certs.hpp"
#include "net.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct result {
  bool ok = false, reused = false;
  std::vector<std::uint8_t> session;
};

/// One connection over a blocking socket and the drain loop: GET / with Connection: close.
result one_connection(int port, const std::string& version,
                      const std::vector<std::uint8_t>& session) {
  result r;
  tlsengine::client_options options;
  options.ca = {tlsengine_examples::builtin_ca_pem};
  options.servername = "localhost";
  options.min_version = options.max_version = version;
  options.session = session;
  std::string error;
  const int fd = tlsengine_examples::connect_tcp("127.0.0.1", port, error);
  if (fd < 0) {
    std::fprintf(stderr, "fleet_client: %s\n", error.c_str());
    return r;
  }
  auto conn = tlsengine::connection::client(options);
  if (!conn) {
    ::close(fd);
    return r;
  }
  const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  conn->write(request);
  bool secure = false, done = false;
  char buffer[16384];
  while (!done) {
    for (auto out = conn->pending_output(); !out.empty(); out = conn->pending_output()) {
      const ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        done = true;
        break;
      }
      conn->consume_output(static_cast<std::size_t>(n));
    }
    while (auto e = conn->next_event()) {
      if (std::holds_alternative<tlsengine::events::secure>(*e)) secure = true;
      if (auto* s = std::get_if<tlsengine::events::session>(&*e)) r.session = s->data;
      if (std::holds_alternative<tlsengine::events::error>(*e) ||
          std::holds_alternative<tlsengine::events::end>(*e))
        done = true;
    }
    while (conn->read(tlsengine::mutable_bytes_view(buffer, sizeof buffer)) != 0) {
    }
    if (done) break;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    conn->feed(tlsengine::bytes_view(buffer, static_cast<std::size_t>(n)));
  }
  r.ok = secure;
  r.reused = conn->is_session_reused();
  if (version == "TLSv1.2") r.session = conn->session(); // renewed tickets come with no event
  ::close(fd);
  return r;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<int> ports;
  int count = 1000;
  std::string version = "TLSv1.3";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--ports") {
      for (std::size_t at = 0; at < value.size();) {
        const std::size_t comma = value.find(',', at);
        ports.push_back(std::atoi(value.substr(at, comma - at).c_str()));
        at = comma == std::string::npos ? value.size() : comma + 1;
      }
    } else if (flag == "--count") {
      count = std::atoi(value.c_str());
    } else if (flag == "--version") {
      version = value;
    }
  }
  if (ports.empty() || count <= 0) {
    std::fprintf(stderr, "usage: fleet_client --ports P1,P2[,...] [--count N] "
                         "[--version TLSv1.2|TLSv1.3]\n");
    return 2;
  }
  std::vector<std::uint8_t> session;
  int ok = 0, resumed = 0, offered = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    const bool offering = !session.empty();
    const result r =
        one_connection(ports[static_cast<std::size_t>(i) % ports.size()], version, session);
    ok += r.ok;
    offered += offering;
    resumed += r.ok && r.reused;
    if (!r.session.empty()) session = r.session;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("connections %d ok %d offered %d resumed %d cross_node_rate %.2f%% "
              "handshakes_per_s %.0f\n",
              count, ok, offered, resumed, offered ? 100.0 * resumed / offered : 0.0,
              count / seconds);
  return ok == count ? 0 : 1;
}
