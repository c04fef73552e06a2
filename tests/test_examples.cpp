// The examples as programs: the POSIX echo client and server with each other and with a
// Node.js peer, the Asio client against every example server, and epoll_server's
// promises — 10,000 concurrent connections, keep-alive and pipelining, static files,
// backpressure, handshake deadlines, session resumption, graceful shutdown on SIGTERM,
// and a page loaded by headless Chromium. The example binaries are found next to this
// test executable (<build>/examples/); a missing one, or a missing peer program, fails.
#include "../examples/common/net.hpp"
#include "interop/peers.hpp"

#include "catch_compat.hpp"

#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

using namespace tlsengine;
using peers::cert;
using peers::running_server;

namespace {

// ---- HTTP over our client engine ---------------------------------------------------------

struct http_response {
  int status = 0;
  std::map<std::string, std::string> headers; // names in lowercase
  std::string body;
};

/// Parses the complete responses at the start of `text`; head_only[i] says that the i-th
/// answered a HEAD (no body whatever Content-Length says).
std::vector<http_response> parse_responses(const std::string& text,
                                           const std::vector<bool>& head_only = {}) {
  std::vector<http_response> out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.find("\r\n\r\n", at);
    if (end == std::string::npos) break;
    http_response r;
    std::istringstream head(text.substr(at, end - at));
    std::string line;
    std::getline(head, line);
    if (line.rfind("HTTP/1.1 ", 0) != 0) break;
    r.status = std::stoi(line.substr(9, 3));
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = line.substr(colon + 2);
    }
    const std::size_t length = std::stoul(r.headers["content-length"]);
    const bool no_body = out.size() < head_only.size() && head_only[out.size()];
    const std::size_t body_size = no_body ? 0 : length;
    if (end + 4 + body_size > text.size()) break;
    r.body = text.substr(end + 4, body_size);
    at = end + 4 + body_size;
    out.push_back(std::move(r));
  }
  return out;
}

/// A TLS connection of our client to 127.0.0.1:port over the drain loop.
struct tls_client {
  connection conn;
  std::unique_ptr<net::tls_socket> socket;

  tls_client(std::uint16_t port, const client_options& options) {
    int error = 0;
    net::unique_fd fd = net::try_connect(port, net::deadline(), error);
    INFO("connect: " << net::errno_text(error));
    REQUIRE(fd);
    auto c = connection::client(options);
    REQUIRE(c);
    conn = std::move(*c);
    socket = std::make_unique<net::tls_socket>(conn, std::move(fd));
  }

  /// Runs the loop until `done` (bounded); fails the test on a timeout.
  void run_until(const std::function<bool()>& done, net::child_process* server,
                 std::chrono::seconds limit = std::chrono::seconds(30)) {
    const bool ok = socket->run_until(done, server, net::deadline(limit));
    INFO(socket->describe().substr(0, 2000) << (server ? "\n" + server->describe() : ""));
    REQUIRE(ok);
  }

  /// Sends `requests` and waits for `count` complete responses.
  std::vector<http_response> exchange(const std::string& requests, std::size_t count,
                                      net::child_process* server,
                                      const std::vector<bool>& head_only = {}) {
    const std::size_t start = socket->received.size();
    REQUIRE(conn.write(requests) == requests.size());
    std::vector<http_response> responses;
    run_until(
        [&] {
          responses = parse_responses(socket->received.substr(start), head_only);
          return responses.size() >= count || socket->errors != 0 || socket->transport_eof;
        },
        server);
    INFO(socket->describe().substr(0, 2000));
    REQUIRE(responses.size() == count);
    return responses;
  }
};

/// GET /stats on a new connection: the server's counters by name.
std::map<std::string, long long> server_stats(running_server& server) {
  tls_client c(server.port, peers::builtin_client_options());
  auto r = c.exchange("GET /stats HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 1,
                      &server.child);
  std::map<std::string, long long> stats;
  std::istringstream in(r[0].body);
  std::string name;
  long long value = 0;
  while (in >> name >> value)
    stats[name] = value;
  return stats;
}

std::string patterned(std::size_t size) {
  std::string data(size, '\0');
  for (std::size_t i = 0; i < size; ++i)
    data[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  return data;
}

int server_pid(running_server& server) {
  const std::string pid =
      peers::wait_for_line(server.child, std::regex(R"(\(pid ([0-9]+))"), "epoll_server's pid");
  return std::stoi(pid);
}

} // namespace

// ---- posix examples ----------------------------------------------------------------------

TEST_CASE("examples: posix_echo_client and posix_echo_server, mutual TLS and ALPN",
          "[examples][posix]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  // Both on the built-in demo credentials: the server asks for the demo client certificate.
  running_server server =
      peers::start_example_server("posix_echo_server", {"--request-cert", "--alpn", "echo"});
  net::child_process client =
      peers::run({peers::example("posix_echo_client"), "--port", std::to_string(server.port),
                  "--alpn", "echo", "--max-version", version},
                 "hello\nworld\n");
  INFO(client.describe() << "\n" << server.child.describe());
  CHECK(client.exit_code() == 0);
  CHECK(client.out == "welcome!\nhello\nworld\n"); // Node's example greets first
  CHECK(client.err.find("client connected authorized (" + version + ", alpn=echo)") !=
        std::string::npos);
  CHECK(client.err.find("server ends connection") != std::string::npos);
  peers::wait_for_line(server.child,
                       std::regex("(server connected authorized from [^ ]+: " + version +
                                  " [^ ]+ alpn=echo resumed=no client=\"tlsengine demo client\")"),
                       "the server's connection line");
}

TEST_CASE("examples: posix_echo_client against the other example servers",
          "[examples][posix][asio][epoll]") {
  // All of stdin at once, then its end: the data and the client's close_notify arrive
  // together, and the server must still echo the data before its own close_notify.
  const std::string name = GENERATE(as<std::string>{}, "asio_echo_server", "epoll_server");
  CAPTURE(name);
  running_server server = peers::start_example_server(name);
  std::string input;
  for (int i = 0; input.size() < 300 * 1024; ++i)
    input += "line " + std::to_string(i) + "\n";
  net::child_process client = peers::run({peers::example("posix_echo_client"), "--port",
                                          std::to_string(server.port), "--alpn", "echo"},
                                         input);
  INFO(client.describe().substr(0, 2000) << "\n" << server.child.describe());
  CHECK(client.exit_code() == 0);
  CHECK(client.out == (name == "epoll_server" ? "" : "welcome!\n") + input);
  CHECK(client.err.find("server ends connection") != std::string::npos);
}

TEST_CASE("examples: posix_echo_client refuses a server its CA did not sign", "[examples][posix]") {
  running_server server = peers::start_example_server("posix_echo_server"); // demo certificate
  net::child_process client =
      peers::run({peers::example("posix_echo_client"), "--port", std::to_string(server.port),
                  "--ca", cert("ca.pem")}, // the test CA, not the demo one
                 "hello\n");
  INFO(client.describe() << "\n" << server.child.describe());
  CHECK(client.exit_code() == 1);
  CHECK(client.out.empty());
  CHECK(client.err.find("certificate") != std::string::npos);
  peers::wait_for_line(server.child, std::regex("(error: .*alert)"), "the server's error line");
}

TEST_CASE("examples: posix_echo_client against a Node.js tls server", "[examples][posix]") {
  running_server server =
      peers::start_script_server({"node", peers::script("peer.js"), "server", "--cert",
                                  cert("server-ecdsa-chain.pem"), "--key", cert("server-ecdsa.key"),
                                  "--ca", cert("ca.pem"), "--request-cert", "--alpn", "echo"});
  net::child_process client =
      peers::run({peers::example("posix_echo_client"), "--port", std::to_string(server.port),
                  "--ca", cert("ca.pem"), "--cert", cert("client-chain.pem"), "--key",
                  cert("client.key"), "--alpn", "echo"},
                 "ping\n");
  INFO(client.describe() << "\n" << server.child.describe());
  CHECK(client.exit_code() == 0);
  CHECK(client.out == "ping\n");
  CHECK(client.err.find("client connected authorized (TLSv1.3, alpn=echo)") != std::string::npos);
  server.child.read_output();
  const auto lines = peers::json_events(server.child.out, "secure");
  REQUIRE(lines.size() == 1);
  CHECK(peers::json_field(lines[0], "authorized") == "true");
  CHECK(peers::json_field(lines[0], "client") == "tlsengine client");
}

// ---- the Asio adapter --------------------------------------------------------------------

TEST_CASE("examples: asio_client against the example echo servers", "[examples][asio]") {
  const std::string name =
      GENERATE(as<std::string>{}, "asio_echo_server", "posix_echo_server", "epoll_server");
  CAPTURE(name);
  running_server server = peers::start_example_server(name);
  std::vector<std::string> argv{peers::example("asio_client"), "--port",
                                std::to_string(server.port), "--message", "hello asio\n"};
  if (name == "epoll_server") argv.insert(argv.end(), {"--alpn", "echo"});
  net::child_process client = peers::run(argv);
  INFO(client.describe() << "\n" << server.child.describe());
  CHECK(client.exit_code() == 0);
  CHECK(client.out == (name == "epoll_server" ? "hello asio\n" : "welcome!\nhello asio\n"));
  CHECK(client.err.find("client connected authorized") != std::string::npos);
}

TEST_CASE("examples: asio_client reports a server it cannot verify", "[examples][asio]") {
  running_server server = peers::start_example_server("asio_echo_server"); // demo certificate
  net::child_process client = peers::run({peers::example("asio_client"), "--port",
                                          std::to_string(server.port), "--ca", cert("ca.pem")});
  INFO(client.describe() << "\n" << server.child.describe());
  CHECK(client.exit_code() == 1);
  CHECK(client.out.empty());
  CHECK(client.err.find("asio_client: handshake: ") != std::string::npos);
  peers::wait_for_line(server.child, std::regex("(handshake failed: .*)"),
                       "the server's handshake error");
}

TEST_CASE("examples: asio_client fetches a large file from epoll_server",
          "[examples][asio][epoll]") {
  peers::temp_dir docroot;
  const std::string file = patterned(3 * 1024 * 1024 + 17);
  docroot.write("big.bin", file);
  running_server server =
      peers::start_example_server("epoll_server", {"--docroot", docroot.path()});
  net::child_process client =
      peers::run({peers::example("asio_client"), "--port", std::to_string(server.port), "--alpn",
                  "http/1.1", "--http", "/big.bin"});
  INFO(client.describe().substr(0, 3000) << "\n" << server.child.describe());
  REQUIRE(client.exit_code() == 0);
  auto responses = parse_responses(client.out);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 200);
  CHECK(responses[0].headers["connection"] == "close");
  CHECK(responses[0].body == file);
  CHECK(client.err.find("alpn=http/1.1") != std::string::npos);
}

// ---- epoll_server ------------------------------------------------------------------------

TEST_CASE("examples: epoll_server keep-alive, pipelining, static files and errors",
          "[examples][epoll]") {
  peers::temp_dir docroot;
  docroot.write("hello.txt", "hello, static file\n");
  docroot.write(".secret", "hidden\n");
  running_server server =
      peers::start_example_server("epoll_server", {"--docroot", docroot.path()});
  tls_client c(server.port, peers::builtin_client_options()); // no ALPN: HTTP
  // Pipelined on one connection: every answer comes back, in order.
  const std::string requests = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
                               "HEAD /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
                               "GET /missing.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
                               "GET /.secret HTTP/1.1\r\nHost: localhost\r\n\r\n"
                               "POST /hello.txt HTTP/1.1\r\nHost: localhost\r\n"
                               "Content-Length: 5\r\n\r\nabcde"
                               "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";
  auto r = c.exchange(requests, 6, &server.child, {false, true});
  CHECK(r[0].status == 200);
  CHECK(r[0].body.find("Hello from tlsengine") != std::string::npos);
  CHECK(r[0].headers["connection"] == "keep-alive");
  CHECK(r[0].headers["content-type"] == "text/html; charset=utf-8");
  CHECK(r[1].status == 200);
  CHECK(r[1].headers["content-length"] == "19");
  CHECK(r[1].body.empty());
  CHECK(r[2].status == 404);
  CHECK(r[3].status == 404); // no dot files, hence no ".."
  CHECK(r[4].status == 405);
  CHECK(r[4].headers["allow"] == "GET, HEAD");
  CHECK(r[5].status == 200);
  CHECK(r[5].body == "hello, static file\n");
  CHECK(c.conn.alpn_protocol().empty());

  // Still the same connection: keep-alive, then Connection: close ends it with
  // close_notify.
  auto last = c.exchange("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 1,
                         &server.child);
  CHECK(last[0].headers["connection"] == "close");
  c.run_until([&] { return c.socket->transport_eof || c.socket->errors != 0; }, &server.child);
  CHECK(c.socket->ends == 1);
  CHECK(c.socket->errors == 0);

  // A malformed request: 400 and the connection closes.
  tls_client bad(server.port, peers::builtin_client_options());
  auto r400 = bad.exchange("NONSENSE\r\n\r\n", 1, &server.child);
  CHECK(r400[0].status == 400);
  bad.run_until([&] { return bad.socket->transport_eof || bad.socket->errors != 0; },
                &server.child);
  CHECK(bad.socket->ends == 1);
}

TEST_CASE("examples: epoll_server speaks echo when ALPN agrees on it", "[examples][epoll]") {
  running_server server = peers::start_example_server("epoll_server");
  client_options o = peers::builtin_client_options();
  o.alpn_protocols = {"echo"};                // the server prefers http/1.1 when both are offered
  const std::string message(100 * 1000, 'e'); // more than a record, less than any buffer
  const peers::exchange e = peers::echo_exchange(server.port, o, message, &server.child);
  CHECK(e.conn.alpn_protocol() == "echo");
  CHECK(e.received == message);
}

TEST_CASE("examples: epoll_server resumes sessions", "[examples][epoll]") {
  // TLS 1.3 tickets, TLS 1.2 tickets, and TLS 1.2 session ids (the client refuses
  // tickets, so the server's session cache answers).
  const std::string kind = GENERATE(as<std::string>{}, "TLSv1.3", "TLSv1.2", "TLSv1.2 id");
  CAPTURE(kind);
  running_server server = peers::start_example_server("epoll_server");
  client_options o = peers::builtin_client_options();
  o.min_version = o.max_version = kind.substr(0, 7);
  if (kind == "TLSv1.2 id") o.secure_options = static_cast<long>(SSL_OP_NO_TICKET);
  const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  std::vector<std::uint8_t> session;
  for (int round = 0; round < 2; ++round) {
    if (round == 1) o.session = session;
    tls_client c(server.port, o);
    auto r = c.exchange(request, 1, &server.child);
    CHECK(r[0].status == 200);
    c.run_until([&] { return c.socket->transport_eof || c.socket->errors != 0; }, &server.child);
    CHECK(c.socket->errors == 0);
    CHECK(c.conn.protocol() == kind.substr(0, 7));
    CHECK(c.conn.is_session_reused() == (round == 1));
    if (round == 0) {
      session = c.socket->last_session;
      REQUIRE_FALSE(session.empty());
    }
  }
  std::map<std::string, long long> stats = server_stats(server);
  CHECK(stats["sessions_resumed"] == 1);
  // The in-memory cache holds TLS 1.2 session ids; a TLS 1.3 ticket carries its session,
  // so nothing is cached for it (10,000 TLS 1.3 clients would leave 10,000 dead entries).
  if (kind == "TLSv1.3") CHECK(stats["sessions_cached"] == 0);
  if (kind == "TLSv1.2 id") CHECK(stats["sessions_cached"] == 1);
}

TEST_CASE("examples: epoll_server fails handshakes that do not finish in time",
          "[examples][epoll]") {
  running_server server =
      peers::start_example_server("epoll_server", {"--handshake-timeout", "300"});
  // A TCP connection that never says anything: the engine's deadline() closes it.
  int error = 0;
  net::unique_fd fd = net::try_connect(server.port, net::deadline(), error);
  REQUIRE(fd);
  const net::deadline limit(std::chrono::seconds(20));
  bool closed = false;
  while (!closed && !limit.expired()) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, limit.poll_ms(100)) > 0) {
      char buffer[256];
      closed = ::recv(fd.get(), buffer, sizeof buffer, 0) <= 0;
    }
    server.child.read_output();
  }
  INFO(server.child.describe());
  REQUIRE(closed);
  peers::wait_for_line(server.child, std::regex("(TLS handshake timeout)"), "the timeout line");
  CHECK(server_stats(server)["handshake_timeouts"] == 1);
}

TEST_CASE("examples: epoll_server stops reading a client that does not read", "[examples][epoll]") {
  // Three pipelined requests for 8 MiB each: more than the kernel's socket buffers hold, so
  // the first response cannot drain while the client reads nothing. The server must then
  // stop reading that connection (the next requests wait, unparsed) and keep serving
  // others; once the client reads, everything arrives.
  peers::temp_dir docroot;
  const std::string file = patterned(8 * 1024 * 1024);
  docroot.write("big.bin", file);
  running_server server =
      peers::start_example_server("epoll_server", {"--docroot", docroot.path()});
  tls_client slow(server.port, peers::builtin_client_options());
  slow.run_until([&] { return slow.socket->secure == 1 || slow.socket->errors != 0; },
                 &server.child);
  std::string requests;
  for (int i = 0; i < 3; ++i)
    requests += "GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n";
  REQUIRE(slow.conn.write(requests) == requests.size());
  slow.socket->flush(); // the requests go out; from here on the client reads nothing

  int stats_requests = 0;
  std::map<std::string, long long> stats;
  const net::deadline limit(std::chrono::seconds(20));
  do {
    stats = server_stats(server); // other connections are still served
    ++stats_requests;
  } while (stats["backpressure_pauses"] < 1 && !limit.expired());
  INFO(server.child.describe());
  REQUIRE(stats["backpressure_pauses"] >= 1);
  CHECK(stats["requests"] == 1 + stats_requests); // the 2nd and 3rd were not even parsed

  std::vector<http_response> responses;
  slow.run_until(
      [&] {
        responses = parse_responses(slow.socket->received);
        return responses.size() == 3 || slow.socket->errors != 0 || slow.socket->transport_eof;
      },
      &server.child, std::chrono::seconds(60));
  REQUIRE(responses.size() == 3);
  for (const http_response& r : responses) {
    CHECK(r.status == 200);
    CHECK(r.body.size() == file.size());
    CHECK((r.body == file));
  }
}

TEST_CASE("examples: epoll_server sends close_notify to every connection on SIGTERM",
          "[examples][epoll]") {
  running_server server = peers::start_example_server("epoll_server");
  const int pid = server_pid(server);

  std::vector<std::unique_ptr<tls_client>> clients;
  for (int i = 0; i < 4; ++i) { // idle keep-alive HTTP connections, and echo ones
    client_options o = peers::builtin_client_options();
    if (i % 2 == 1) o.alpn_protocols = {"echo"};
    clients.push_back(std::make_unique<tls_client>(server.port, o));
    tls_client& c = *clients.back();
    if (i % 2 == 0) {
      c.exchange("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", 1, &server.child);
    } else {
      REQUIRE(c.conn.write("echo me\n") == 8);
      c.run_until([&] { return c.socket->received == "echo me\n" || c.socket->errors != 0; },
                  &server.child);
    }
  }
  int error = 0; // and one connection still before its handshake
  net::unique_fd silent = net::try_connect(server.port, net::deadline(), error);
  REQUIRE(silent);
  CHECK(server_stats(server)["connections_open"] == 6); // 4 + silent + the stats one

  REQUIRE(::kill(pid, SIGTERM) == 0);
  for (auto& c : clients) {
    // The server's close_notify arrives; ours answers it; then the server closes.
    c->run_until([&] { return c->socket->transport_eof || c->socket->errors != 0; }, &server.child);
    CHECK(c->socket->ends == 1);
    CHECK(c->socket->errors == 0);
    CHECK(c->conn.peer_ended());
  }
  const bool exited = server.child.wait_exit(net::deadline(std::chrono::seconds(20)));
  INFO(server.child.describe());
  REQUIRE(exited);
  CHECK(server.child.exit_code() == 0);
  CHECK(server.child.out.find("shutdown complete") != std::string::npos);
}

TEST_CASE("examples: epoll_server holds 10,000 concurrent connections", "[examples][epoll][load]") {
  constexpr std::size_t total = 10'000;
  constexpr std::size_t max_connecting = 200; // handshakes in flight at once
  // Our half of every connection lives in this process: raise our descriptor limit too.
  const rlim_t limit = tlsengine_examples::raise_file_limit();
  INFO("RLIMIT_NOFILE is " << limit);
  REQUIRE(limit >= total + 64);

  running_server server = peers::start_example_server(
      "epoll_server", {"--quiet", "--idle-timeout", "300000", "--handshake-timeout", "120000"});

  // One client context for every connection: the CA is parsed once.
  context_options co;
  co.ca = {tlsengine_examples::builtin_ca_pem};
  auto context = secure_context::create(co);
  REQUIRE(context);
  client_options options;
  options.secure_context = *context;
  options.servername = "localhost";

  struct client {
    net::unique_fd fd;
    connection conn;
    bool connected = false, secure = false;
    int responses = 0;
    std::string in;
    std::uint32_t interest = 0;
  };
  std::vector<client> clients(total);
  net::unique_fd ep(::epoll_create1(EPOLL_CLOEXEC));
  REQUIRE(ep);

  const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  const std::string page_end = "</html>\n";
  std::size_t opened = 0, connecting = 0, round_done = 0;
  int round = 1;
  std::string failure;

  auto set_interest = [&](std::size_t i, std::uint32_t events) {
    client& c = clients[i];
    if (c.interest == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = i;
    ::epoll_ctl(ep.get(), c.interest == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd.get(), &ev);
    c.interest = events;
  };
  auto flush = [&](std::size_t i) {
    client& c = clients[i];
    for (;;) {
      const bytes_view out = c.conn.pending_output();
      if (out.empty()) return set_interest(i, EPOLLIN);
      const ssize_t n = ::send(c.fd.get(), out.data(), out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        c.conn.consume_output(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return set_interest(i, EPOLLIN | EPOLLOUT);
      failure = "send: " + net::errno_text(errno);
      return;
    }
  };
  auto drain = [&](std::size_t i) {
    client& c = clients[i];
    while (auto e = c.conn.next_event()) {
      if (std::holds_alternative<events::secure>(*e)) {
        c.secure = true;
        --connecting;
        c.conn.write(request); // round 1
      }
      if (auto* err = std::get_if<events::error>(&*e))
        failure = "connection " + std::to_string(i) + ": " + err->message;
      if (std::holds_alternative<events::end>(*e))
        failure = "connection " + std::to_string(i) + " ended early";
    }
    char buffer[4096];
    while (std::size_t n = c.conn.read(mutable_bytes_view(buffer, sizeof buffer)))
      c.in.append(buffer, n);
    // One response per round: the page ends with </html>.
    while (c.in.find(page_end) != std::string::npos) {
      c.in.erase(0, c.in.find(page_end) + page_end.size());
      ++c.responses;
      ++round_done;
    }
    flush(i);
  };

  const net::deadline until(std::chrono::seconds(150));
  auto started = std::chrono::steady_clock::now();
  while (failure.empty() && !until.expired()) {
    // Keep up to max_connecting handshakes in flight until every client is open.
    while (opened < total && connecting < max_connecting && failure.empty()) {
      client& c = clients[opened];
      c.fd = net::tcp_socket();
      net::set_nonblocking(c.fd.get());
      net::set_nodelay(c.fd.get());
      sockaddr_in addr = net::loopback_address(server.port);
      if (::connect(c.fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
          errno != EINPROGRESS) {
        failure = "connect #" + std::to_string(opened) + ": " + net::errno_text(errno);
        break;
      }
      auto conn = connection::client(options);
      REQUIRE(conn);
      c.conn = std::move(*conn);
      set_interest(opened, EPOLLOUT | EPOLLIN);
      ++opened;
      ++connecting;
    }
    if (round == 1 && round_done == total) {
      // Every connection is open at once now, each served once. Round 2: all of them ask
      // again, at the same time.
      round = 2;
      round_done = 0;
      for (std::size_t i = 0; i < total; ++i) {
        clients[i].conn.write(request);
        flush(i);
      }
    } else if (round == 2 && round_done == total) {
      break;
    }
    epoll_event events[512];
    const int n = ::epoll_wait(ep.get(), events, 512, 100);
    server.child.read_output();
    if (!server.child.running()) failure = "epoll_server exited";
    for (int k = 0; k < n && failure.empty(); ++k) {
      const std::size_t i = events[k].data.u64;
      client& c = clients[i];
      if (!c.connected) {
        int so_error = 0;
        socklen_t len = sizeof so_error;
        ::getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
        if (so_error != 0) {
          failure = "connect #" + std::to_string(i) + ": " + net::errno_text(so_error);
          break;
        }
        c.connected = true;
      }
      if ((events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
        const mutable_bytes_view window = c.conn.input_window(); // empty after an error
        const ssize_t got =
            window.empty() ? 0 : ::recv(c.fd.get(), window.data(), window.size(), 0);
        if (got > 0) {
          c.conn.commit_input(static_cast<std::size_t>(got));
        } else if (!window.empty() && (got == 0 || (errno != EAGAIN && errno != EINTR))) {
          failure = "connection " + std::to_string(i) + " closed by the server";
          break;
        }
      }
      drain(i);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(failure << "\nopened " << opened << ", round " << round << ", responses this round "
               << round_done << ", " << seconds << " s\n"
               << server.child.describe().substr(0, 3000));
  REQUIRE(failure.empty());
  REQUIRE(round == 2);
  REQUIRE(round_done == total);

  // While all of them are still open, the server counts them (plus the stats connection).
  const auto stats = server_stats(server);
  CHECK(stats.at("connections_open") == static_cast<long long>(total) + 1);
  CHECK(stats.at("handshakes") >= static_cast<long long>(total));
  CHECK(stats.at("requests") == 2 * static_cast<long long>(total) + 1);
  WARN("10,000 connections, 20,000 requests in " << seconds << " s (informational)");
}

TEST_CASE("examples: headless Chromium loads a page from epoll_server", "[examples][browser]") {
  // The demo root CA is trusted through a new NSS database in a temporary HOME (where
  // Chromium on Linux looks for it), so the browser verifies the certificate for real.
  peers::temp_dir tmp;
  const std::string ca = tmp.write("demo-ca.pem", tlsengine_examples::builtin_ca_pem);
  const std::string home = tmp.file("home");
  REQUIRE(::mkdir(home.c_str(), 0700) == 0);
  REQUIRE(::mkdir((home + "/.pki").c_str(), 0700) == 0);
  REQUIRE(::mkdir((home + "/.pki/nssdb").c_str(), 0700) == 0);
  const std::string db = "sql:" + home + "/.pki/nssdb";
  net::child_process create = peers::run({"certutil", "-N", "-d", db, "--empty-password"});
  INFO(create.describe());
  REQUIRE(create.exit_code() == 0);
  net::child_process add =
      peers::run({"certutil", "-A", "-d", db, "-n", "tlsengine demo root", "-t", "C,,", "-i", ca});
  INFO(add.describe());
  REQUIRE(add.exit_code() == 0);

  running_server server = peers::start_example_server("epoll_server", {"--verbose"});
  net::child_process browser = peers::run(
      {"env", "HOME=" + home, "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
       "--disable-quic", "--no-first-run", "--disable-background-networking",
       "--disable-component-update", "--disable-sync", "--user-data-dir=" + tmp.file("profile"),
       "--dump-dom", "https://localhost:" + std::to_string(server.port) + "/"},
      "", std::chrono::seconds(90));
  INFO(browser.describe().substr(0, 4000) << "\n" << server.child.describe());
  CHECK(browser.exit_code() == 0);
  CHECK(browser.out.find("<h1>Hello from tlsengine</h1>") != std::string::npos);
  peers::wait_for_line(server.child,
                       std::regex("(server connected from [^ ]+ \\(no client certificate "
                                  "requested\\): TLSv1.3 [^ ]+ alpn=http/1.1)"),
                       "the browser's connection");
}

// ---- what a person reads: configuration errors, plain HTTP, ordinary endings ------------

namespace {
std::string demo_cert_file(const std::string& name) {
  return std::string(TLSENGINE_SOURCE_DIR) + "/examples/certs/" + name;
}

/// epoll_server's /stats counter `name`, read with curl (a real client).
long epoll_stat(std::uint16_t port, const std::string& name) {
  net::child_process curl = peers::run({"curl", "-sS", "--cacert", demo_cert_file("ca.pem"),
                                        "https://localhost:" + std::to_string(port) + "/stats"});
  INFO(curl.describe());
  REQUIRE(curl.exit_code() == 0);
  std::smatch m;
  const std::regex line("(^|\n)" + name + " ([0-9]+)\n");
  REQUIRE(std::regex_search(curl.out, m, line));
  return std::stol(m[2].str());
}
} // namespace

TEST_CASE("examples: configuration errors name the option and the file", "[examples]") {
  const std::string key_as_cert = demo_cert_file("server.key");
  net::child_process wrong_kind =
      peers::run({peers::example("epoll_server"), "--port", "0", "--cert", key_as_cert, "--key",
                  demo_cert_file("server.key")});
  INFO(wrong_kind.describe());
  CHECK(wrong_kind.exit_code() == 1);
  CHECK(wrong_kind.err.find("--cert " + key_as_cert + ": ") != std::string::npos);
  CHECK(wrong_kind.err.find("no start line") != std::string::npos);

  const std::string missing = demo_cert_file("no-such-ca.pem");
  net::child_process no_file =
      peers::run({peers::example("posix_echo_client"), "--port", "1", "--ca", missing});
  INFO(no_file.describe());
  CHECK(no_file.exit_code() == 1);
  CHECK(no_file.err.find("--ca " + missing + ": No such file or directory") != std::string::npos);

  // Each file is fine on its own; together they do not match: the sources are named.
  net::child_process mismatch =
      peers::run({peers::example("asio_echo_server"), "--port", "0", "--cert",
                  demo_cert_file("server-chain.pem"), "--key", demo_cert_file("client.key")});
  INFO(mismatch.describe());
  CHECK(mismatch.exit_code() == 1);
  CHECK(mismatch.err.find("TLS configuration (--cert " + demo_cert_file("server-chain.pem") +
                          ", --key " + demo_cert_file("client.key") + ")") != std::string::npos);
  CHECK(mismatch.err.find("key values mismatch") != std::string::npos);
}

TEST_CASE("examples: plain HTTP to epoll_server's TLS port gets nginx's 400 page",
          "[examples][epoll]") {
  running_server server = peers::start_example_server("epoll_server", {"--verbose"});
  net::child_process curl =
      peers::run({"curl", "-sS", "-i", "http://127.0.0.1:" + std::to_string(server.port) + "/"});
  INFO(curl.describe() << "\n" << server.child.describe());
  CHECK(curl.exit_code() == 0);
  CHECK(curl.out.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(curl.out.find("<center>The plain HTTP request was sent to HTTPS port</center>") !=
        std::string::npos);
  peers::wait_for_line(server.child, std::regex("(plain HTTP sent to the TLS port: answered 400)"),
                       "the server's line about it");
}

TEST_CASE("examples: a client leaving without close_notify after its response is no error",
          "[examples][epoll]") {
  running_server server = peers::start_example_server("epoll_server");
  const std::string port = std::to_string(server.port);
  // Python's ssl module closing the socket without unwrap(): no close_notify, as browsers
  // and load tools often do once they have their response.
  const std::string client = R"(
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="localhost")
s.sendall(sys.argv[3].encode())
data = b""
while b"Hello from tlsengine" not in data and sys.argv[3].endswith("\r\n\r\n"):
    data += s.recv(65536)
s.close()  # TCP FIN without close_notify
)";
  const auto leave = [&](const std::string& request) {
    net::child_process p =
        peers::run({"python3", "-c", client, port, demo_cert_file("ca.pem"), request});
    INFO(p.describe());
    REQUIRE(p.exit_code() == 0);
    // Wait (bounded by the test's timeout) until the server closed that connection: the
    // /stats request itself is the only one open then.
    while (epoll_stat(server.port, "connections_open") != 1) {
    }
  };
  leave("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(epoll_stat(server.port, "errors") == 0);
  // A request cut in the middle is still an error, and logged.
  leave("GET / HTTP/1.1\r\nHost: local");
  CHECK(epoll_stat(server.port, "errors") == 1);
  INFO(server.child.describe());
  peers::wait_for_line(server.child, std::regex("(truncation)"), "the cut request's error line");
}
