// Interop with the `openssl` command line tool over real loopback TCP sockets: our client
// engine against `openssl s_server`, `openssl s_client` against our server engine (TLS 1.2
// and 1.3, RSA and ECDSA), mutual TLS, session resumption both ways, close_notify from
// either side and truncation, bulk data, TLS 1.2 renegotiation and TLS 1.3 KeyUpdate, and
// verification failures each way. The engine runs DESIGN.md's drain loop over a
// non-blocking socket (net_support.hpp); every wait is bounded, and the openssl child is
// killed and reaped at the end of every test whatever happened.
#include "net_support.hpp"
#include "support.hpp"

#include "catch_compat.hpp"

#include <openssl/x509_vfy.h>

#include <array>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace tlsengine;

namespace {

std::string cert_path(const std::string& name) { return test::cert_dir() + "/" + name; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string version_flag(const std::string& version) {
  return version == "TLSv1.3" ? "-tls1_3" : "-tls1_2";
}

// ---- openssl s_server --------------------------------------------------------------------

struct running_s_server {
  net::child_process child;
  net::unique_fd socket; // connected to it
  std::uint16_t port = 0;
};

/// Starts `openssl s_server -accept 127.0.0.1:PORT <args>` on a free port and connects to
/// it. Once s_server has printed "ACCEPT" (it has bound the port: a port someone else took
/// between our probe and its bind never gets there) connect() is retried, bounded (~10 s),
/// until it succeeds; that first connection is the test's. When the port was taken ("Address
/// already in use") the whole start is retried with a new port.
running_s_server start_s_server(const std::vector<std::string>& args) {
  std::string last_failure;
  for (int attempt = 0; attempt < 5; ++attempt) {
    running_s_server run;
    run.port = net::pick_free_port();
    std::vector<std::string> argv{"openssl", "s_server", "-accept",
                                  "127.0.0.1:" + std::to_string(run.port)};
    argv.insert(argv.end(), args.begin(), args.end());
    run.child = net::child_process::spawn(argv);

    const net::deadline limit(std::chrono::seconds(10));
    while (run.child.running()) {
      if (limit.expired()) FAIL("s_server did not accept within 10 s\n" << run.child.describe());
      if (run.child.out.find("ACCEPT") != std::string::npos) {
        int error = 0;
        run.socket = net::try_connect(run.port, limit, error);
        if (run.socket) return run;
        if (error != ECONNREFUSED)
          FAIL("connect(127.0.0.1:" << run.port << "): " << net::errno_text(error) << "\n"
                                    << run.child.describe());
      }
      run.child.poll_output(limit.poll_ms(20));
    }
    run.child.wait_exit(net::deadline(std::chrono::seconds(5)));
    last_failure = run.child.describe();
    if (last_failure.find("in use") == std::string::npos)
      FAIL("s_server exited before accepting\n" << last_failure);
  }
  FAIL("no free port for s_server after 5 attempts\n" << last_failure);
  return {};
}

/// s_server arguments for a certificate: the leaf, its key, and the intermediate as the
/// chain (s_server's -cert reads only the first certificate of a file).
std::vector<std::string> s_server_cert_args(const std::string& leaf) {
  return {"-cert",       cert_path(leaf + ".pem"),     "-key", cert_path(leaf + ".key"),
          "-cert_chain", cert_path("intermediate.pem")};
}

// ---- openssl s_client --------------------------------------------------------------------

std::vector<std::string> s_client_args(std::uint16_t port, const std::string& version) {
  return {"openssl",
          "s_client",
          "-connect",
          "127.0.0.1:" + std::to_string(port),
          "-servername",
          "localhost",
          "-CAfile",
          cert_path("ca.pem"),
          "-verify_return_error",
          "-verify_hostname",
          "localhost",
          version_flag(version),
          "-quiet"}; // no session dump; stdin EOF does not close (implies -ign_eof)
}

/// Starts s_client and accepts its connection on `listener` (bounded).
net::unique_fd start_s_client(net::child_process& child, const std::vector<std::string>& argv,
                              const net::unique_fd& listener) {
  child = net::child_process::spawn(argv);
  net::unique_fd fd = net::accept_one(listener, child, net::deadline(std::chrono::seconds(10)));
  if (!fd) FAIL("s_client did not connect\n" << child.describe());
  return fd;
}

/// The first offset where a and b differ (npos when equal): checks on large buffers that
/// report a number instead of printing both buffers.
std::size_t first_difference(const std::string& a, const std::string& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return i;
  return a.size() == b.size() ? std::string::npos : n;
}

std::string to_upper(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

/// Echoes every complete line received, uppercased, so the answer proves it went through
/// our engine's read() and write().
struct upper_echo {
  std::size_t done = 0;
  int lines = 0;
  void operator()(net::tls_socket& s) {
    for (std::size_t nl; (nl = s.received.find('\n', done)) != std::string::npos;) {
      const std::string line = to_upper(s.received.substr(done, nl + 1 - done));
      REQUIRE(s.connection().write(line) == line.size());
      done = nl + 1;
      ++lines;
    }
  }
};

/// Echoes every byte received, uppercased, in writes as large as what arrived; what write()
/// does not accept yet (a full write buffer) waits in `pending` for flush().
struct upper_stream_echo {
  std::size_t done = 0;
  std::string pending;
  void operator()(net::tls_socket& s) {
    pending += to_upper(s.received.substr(done));
    done = s.received.size();
    flush(s);
  }
  void flush(net::tls_socket& s) {
    if (!pending.empty()) pending.erase(0, s.connection().write(pending));
  }
};

net::io_options pick_io() {
  // Whole sends and receives, or 7-byte sends and receives (every record split across
  // several feed() calls, every flight drained with partial consume_output()).
  const std::size_t chunk =
      GENERATE(as<std::size_t>{}, std::numeric_limits<std::size_t>::max(), std::size_t{7});
  net::io_options io;
  io.send_chunk = chunk;
  io.recv_chunk = std::min<std::size_t>(chunk, 16 * 1024);
  return io;
}

} // namespace

TEST_CASE("interop: our client against openssl s_server", "[interop]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  const std::string leaf = GENERATE(as<std::string>{}, "server-rsa", "server-ecdsa");
  const net::io_options io = pick_io();
  CAPTURE(version, leaf, io.send_chunk);

  std::vector<std::string> args = s_server_cert_args(leaf);
  args.insert(args.end(), {"-rev", version_flag(version)});
  running_s_server server = start_s_server(args);

  client_options co = test::client_opts();
  co.min_version = version;
  co.max_version = version;
  auto client = connection::client(co);
  REQUIRE(client);
  net::tls_socket s(*client, std::move(server.socket), io);

  // Written before the handshake completes: buffered and sent after it. s_server -rev
  // answers each line reversed.
  const std::string line = "hello tlsengine";
  const std::string reversed_line =
      std::string(line.rbegin(), line.rend()) + "\n"; // "enigneslt olleh\n"
  REQUIRE(client->write(line + "\n") == 16);
  const bool echoed = s.run_until(
      [&] {
        return s.errors != 0 || s.transport_eof || s.received.find('\n') != std::string::npos;
      },
      &server.child);
  INFO(s.describe() << "\n" << server.child.describe());
  REQUIRE(echoed);
  REQUIRE(s.errors == 0);
  CHECK(s.received == reversed_line);
  CHECK(s.secure == 1);
  CHECK(client->is_secure());
  CHECK(client->protocol() == version);
  CHECK(client->authorized());
  CHECK(client->authorization_error().empty());
  CHECK_FALSE(client->verify_error());
  CHECK(client->servername() == "localhost");
  const auto cipher = client->cipher();
  REQUIRE(cipher);
  CHECK_FALSE(cipher->name.empty());
  CHECK_FALSE(cipher->standard_name.empty());
  CHECK(s.sessions >= 1); // s_server issues a session (1.2) or tickets (1.3)
  if (io.send_chunk == 7) CHECK(s.send_calls > 1);

  // Clean close: our close_notify, s_server's answering close_notify, then its FIN.
  client->end();
  const bool closed =
      s.run_until([&] { return s.transport_eof && !s.output_pending(); }, &server.child);
  INFO("after end(): " << s.describe() << "\n" << server.child.describe());
  REQUIRE(closed);
  CHECK(s.ends == 1);
  CHECK(s.errors == 0);
  CHECK_FALSE(client->error());
  CHECK(client->is_ended());
  CHECK(client->peer_ended());
  CHECK(s.socket_error == 0);
  CHECK(s.received == reversed_line); // nothing else arrived
}

TEST_CASE("interop: openssl s_client against our server", "[interop]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  const std::string leaf = GENERATE(as<std::string>{}, "server-rsa", "server-ecdsa");
  net::io_options io = pick_io();
  io.zero_copy_input = io.send_chunk == 7; // also cover input_window()/commit_input()
  CAPTURE(version, leaf, io.send_chunk, io.zero_copy_input);

  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  auto srv = server::create(test::server_opts(leaf));
  REQUIRE(srv);

  net::child_process client;
  net::unique_fd fd = start_s_client(client, s_client_args(port, version), listener);
  // s_client sends what it reads from stdin; -quiet keeps stdin's EOF from closing.
  REQUIRE(client.write_stdin("ping\n"));
  connection conn = srv->accept();
  net::tls_socket s(conn, std::move(fd), io);
  upper_echo echo;
  s.on_data = std::ref(echo);

  const bool answered =
      s.run_until([&] { return s.errors != 0 || s.transport_eof || echo.lines >= 1; }, &client);
  INFO(s.describe() << "\n" << client.describe());
  REQUIRE(answered);
  REQUIRE(s.errors == 0);
  CHECK(s.received == "ping\n");
  CHECK(s.secure == 1);
  CHECK(conn.is_secure());
  CHECK(conn.is_server());
  CHECK(conn.servername() == "localhost");
  CHECK(conn.protocol() == version);
  REQUIRE(conn.cipher());
  CHECK_FALSE(conn.cipher()->name.empty());
  CHECK_FALSE(conn.authorized()); // no client certificate was requested

  // close_notify after "PING\n": s_client prints it, answers close_notify and exits 0.
  conn.end();
  const bool closed = s.run_until([&] { return s.transport_eof && !s.output_pending(); }, &client);
  s.close_socket(); // our FIN: s_client waits for it after its own shutdown
  const bool exited = client.wait_exit();
  INFO("after end(): " << s.describe() << "\n" << client.describe());
  REQUIRE(closed);
  REQUIRE(exited);
  CHECK(client.exit_code() == 0);
  CHECK(client.out.find("PING\n") != std::string::npos);
  CHECK(client.out.find("ping") == std::string::npos);
  CHECK(s.ends == 1);
  CHECK(s.errors == 0);
  CHECK_FALSE(conn.error());
  CHECK(conn.peer_ended());
}

TEST_CASE("interop: mutual TLS with openssl s_client presenting a client certificate",
          "[interop]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);

  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  server_options so = test::server_opts();
  so.request_cert = true;
  so.ca = {test::load("ca.pem")};
  auto srv = server::create(so);
  REQUIRE(srv);

  std::vector<std::string> argv = s_client_args(port, version);
  // s_client's -cert reads the leaf only; the intermediate goes in -cert_chain.
  argv.insert(argv.end(), {"-cert", cert_path("client.pem"), "-key", cert_path("client.key"),
                           "-cert_chain", cert_path("intermediate.pem")});
  net::child_process client;
  net::unique_fd fd = start_s_client(client, argv, listener);
  REQUIRE(client.write_stdin("ping\n"));
  connection conn = srv->accept();
  net::tls_socket s(conn, std::move(fd));
  upper_echo echo;
  s.on_data = std::ref(echo);

  const bool answered =
      s.run_until([&] { return s.errors != 0 || s.transport_eof || echo.lines >= 1; }, &client);
  INFO(s.describe() << "\n" << client.describe());
  REQUIRE(answered);
  REQUIRE(s.errors == 0);
  CHECK(s.received == "ping\n");
  CHECK(conn.protocol() == version);
  CHECK(conn.authorized());
  CHECK(conn.authorization_error().empty());
  CHECK_FALSE(conn.peer_certificate().empty());
  CHECK(conn.peer_certificate().subject.get("CN") == "tlsengine client");

  conn.end();
  const bool closed = s.run_until([&] { return s.transport_eof && !s.output_pending(); }, &client);
  s.close_socket(); // our FIN: s_client waits for it after its own shutdown
  const bool exited = client.wait_exit();
  INFO("after end(): " << s.describe() << "\n" << client.describe());
  REQUIRE(closed);
  REQUIRE(exited);
  CHECK(client.exit_code() == 0);
  CHECK(client.out.find("PING\n") != std::string::npos);
  CHECK(s.errors == 0);
  CHECK_FALSE(conn.error());
}

namespace {

/// One connection of our client to a running s_server -rev: "hello tlsengine" and its
/// reversed echo, then a clean close. Returns the connection and the last session event.
std::pair<connection, std::vector<std::uint8_t>>
client_exchange(running_s_server& server, net::unique_fd socket, const client_options& co) {
  auto client = connection::client(co);
  REQUIRE(client);
  connection conn = std::move(*client);
  net::tls_socket s(conn, std::move(socket));
  REQUIRE(conn.write("hello tlsengine\n") == 16);
  const bool echoed = s.run_until(
      [&] {
        return s.errors != 0 || s.transport_eof || s.received.find('\n') != std::string::npos;
      },
      &server.child);
  {
    INFO(s.describe() << "\n" << server.child.describe());
    REQUIRE(echoed);
  }
  conn.end();
  const bool closed = s.run_until(
      [&] { return s.errors != 0 || (s.transport_eof && !s.output_pending()); }, &server.child);
  INFO(s.describe() << "\n" << server.child.describe());
  REQUIRE(closed);
  REQUIRE(s.errors == 0);
  CHECK(s.received == "enigneslt olleh\n");
  CHECK(s.ends == 1);
  return {std::move(conn), s.last_session};
}

/// Creates a unique temporary directory and removes it (and the files named) at the end.
struct temp_dir {
  std::string path;
  std::vector<std::string> files;
  temp_dir() {
    char name[] = "/tmp/tlsengine-interop-XXXXXX";
    if (::mkdtemp(name) == nullptr) throw std::runtime_error("mkdtemp: " + net::errno_text(errno));
    path = name;
  }
  std::string file(const std::string& name) {
    files.push_back(path + "/" + name);
    return files.back();
  }
  ~temp_dir() {
    for (const std::string& f : files)
      ::unlink(f.c_str());
    ::rmdir(path.c_str());
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

/// One s_client run against our server: "ping" answered "PING", then our close_notify.
/// Returns the server-side connection after the close for the caller's checks.
connection s_client_exchange(const server& srv, const std::vector<std::string>& argv,
                             const net::unique_fd& listener, net::child_process& client) {
  net::unique_fd fd = start_s_client(client, argv, listener);
  REQUIRE(client.write_stdin("ping\n"));
  connection conn = srv.accept();
  net::tls_socket s(conn, std::move(fd));
  upper_echo echo;
  s.on_data = std::ref(echo);
  const bool answered =
      s.run_until([&] { return s.errors != 0 || s.transport_eof || echo.lines >= 1; }, &client);
  {
    INFO(s.describe() << "\n" << client.describe());
    REQUIRE(answered);
  }
  conn.end();
  const bool closed = s.run_until(
      [&] { return s.errors != 0 || (s.transport_eof && !s.output_pending()); }, &client);
  s.close_socket();
  const bool exited = client.wait_exit();
  INFO(s.describe() << "\n" << client.describe());
  REQUIRE(closed);
  REQUIRE(exited);
  REQUIRE(s.errors == 0);
  CHECK(s.received == "ping\n");
  CHECK(client.exit_code() == 0);
  CHECK(client.out.find("PING\n") != std::string::npos);
  return conn;
}

} // namespace

TEST_CASE("interop: our client resumes a session with openssl s_server", "[interop]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);

  std::vector<std::string> args = s_server_cert_args("server-rsa");
  args.insert(args.end(), {"-rev", version_flag(version), "-status_file",
                           test::cert_dir() + "/ocsp-server-rsa.der"});
  running_s_server server = start_s_server(args);

  client_options co = test::client_opts();
  co.min_version = version;
  co.max_version = version;
  co.request_ocsp = true;
  auto [first, session] = client_exchange(server, std::move(server.socket), co);
  CHECK_FALSE(first.is_session_reused());
  CHECK(first.authorized());
  REQUIRE_FALSE(session.empty());
  const std::vector<std::uint8_t> stapled = test::load_bytes("ocsp-server-rsa.der");
  CHECK(first.ocsp_response() == stapled);
  const std::string scheme = first.peer_signature_scheme();
  CHECK_FALSE(scheme.empty());

  // s_server serves connections one after another: the second one resumes.
  int error = 0;
  net::unique_fd socket = net::try_connect(server.port, net::deadline(), error);
  INFO(net::errno_text(error) << "\n" << server.child.describe());
  REQUIRE(socket);
  co.session = session;
  auto [second, unused] = client_exchange(server, std::move(socket), co);
  (void)unused;
  CHECK(second.is_session_reused());
  CHECK(second.protocol() == version);
  // Stricter than OpenSSL, which forgets both on a resumption: the original handshake's.
  CHECK(second.ocsp_response() == stapled);
  CHECK(second.peer_signature_scheme() == scheme);
  CHECK(second.authorized()); // Node: a resumed session keeps its verification
  CHECK(second.authorization_error().empty());
  CHECK_FALSE(second.peer_certificate().empty());
}

TEST_CASE("interop: openssl s_client resumes a session with our server", "[interop]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);

  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  auto srv = server::create(test::server_opts());
  REQUIRE(srv);
  temp_dir tmp;
  const std::string session_file = tmp.file("session.pem");

  std::vector<std::string> argv = s_client_args(port, version);
  argv.insert(argv.end(), {"-sess_out", session_file});
  net::child_process first_client;
  connection first = s_client_exchange(*srv, argv, listener, first_client);
  CHECK_FALSE(first.is_session_reused());
  REQUIRE_FALSE(read_file(session_file).empty());

  argv = s_client_args(port, version);
  argv.insert(argv.end(), {"-sess_in", session_file});
  net::child_process second_client;
  connection second = s_client_exchange(*srv, argv, listener, second_client);
  CHECK(second.is_session_reused());
  CHECK(second.protocol() == version);
  // On a TLS 1.2 resumption OpenSSL reports the name stored in the session, which it
  // records only when a servername callback accepted it: the engine must install one.
  CHECK(second.servername() == "localhost");
}

TEST_CASE("interop: s_server sends close_notify first", "[interop]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);

  std::vector<std::string> args = s_server_cert_args("server-ecdsa");
  args.insert(args.end(), {"-rev", version_flag(version)});
  running_s_server server = start_s_server(args);

  auto client = connection::client(test::client_opts());
  REQUIRE(client);
  net::tls_socket s(*client, std::move(server.socket));
  // s_server -rev answers "hello" reversed, and a line starting with CLOSE with its
  // close_notify. allow_half_open is false: our close_notify follows automatically.
  REQUIRE(client->write("hello\nCLOSE\n") == 12);
  const bool ended = s.run_until(
      [&] { return s.errors != 0 || (s.transport_eof && !s.output_pending()); }, &server.child);
  INFO(s.describe() << "\n" << server.child.describe());
  REQUIRE(ended);
  CHECK(s.errors == 0);
  CHECK_FALSE(client->error());
  CHECK(s.received == "olleh\n");
  CHECK(client->protocol() == version);
  CHECK(s.ends == 1);
  CHECK(client->peer_ended());
  CHECK(client->is_ended());
  std::error_code ec;
  CHECK(client->write("late", ec) == 0);
  CHECK(ec == make_error_code(errc::write_after_end));
}

TEST_CASE("interop: s_server killed mid-connection is truncation", "[interop]") {
  const bool allow_truncation = GENERATE(false, true);
  CAPTURE(allow_truncation);

  std::vector<std::string> args = s_server_cert_args("server-rsa");
  args.insert(args.end(), {"-rev"});
  running_s_server server = start_s_server(args);
  client_options co = test::client_opts();
  co.allow_truncation = allow_truncation;
  auto client = connection::client(co);
  REQUIRE(client);
  net::tls_socket s(*client, std::move(server.socket));
  REQUIRE(client->write("hello\n") == 6);
  const bool echoed = s.run_until(
      [&] { return s.errors != 0 || s.transport_eof || s.received == "olleh\n"; }, &server.child);
  INFO(s.describe() << "\n" << server.child.describe());
  REQUIRE(echoed);
  REQUIRE(s.errors == 0);

  // The kernel closes s_server's socket: a FIN (or a reset) without close_notify.
  server.child.kill_now();
  const bool ended = s.run_until([&] { return s.transport_eof; }, nullptr);
  INFO("after the kill: " << s.describe());
  REQUIRE(ended);
  if (allow_truncation) {
    CHECK(s.errors == 0);
    CHECK_FALSE(client->error());
    CHECK(s.ends == 1);
    CHECK(client->peer_ended());
  } else {
    CHECK(s.errors == 1);
    CHECK(client->error() == make_error_code(errc::truncated));
    CHECK(s.ends == 0);
    CHECK_FALSE(client->peer_ended());
    CHECK_FALSE(client->is_secure());
    CHECK(error_code_name(client->error()) == "ECONNRESET");
  }
}

TEST_CASE("interop: our client rejects s_server's expired certificate", "[interop]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);

  std::vector<std::string> args = s_server_cert_args("expired");
  args.insert(args.end(), {"-rev", version_flag(version)});
  running_s_server server = start_s_server(args);

  client_options co = test::client_opts();
  co.min_version = version;
  co.max_version = version;
  auto client = connection::client(co);
  REQUIRE(client);
  net::tls_socket s(*client, std::move(server.socket));
  REQUIRE(client->write("hello tlsengine\n") == 16);

  // The error, then its fatal alert flushed to s_server.
  const bool failed = s.run_until(
      [&] { return (s.errors != 0 && !s.output_pending()) || s.transport_eof; }, &server.child);
  INFO(s.describe() << "\n" << server.child.describe());
  REQUIRE(failed);
  REQUIRE(s.errors == 1);
  const std::error_code expired(X509_V_ERR_CERT_HAS_EXPIRED, x509_category());
  CHECK(client->error() == expired);
  CHECK(s.error_event->code == expired);
  CHECK(client->verify_error() == expired);
  CHECK(client->authorization_error() == "CERT_HAS_EXPIRED");
  CHECK_FALSE(client->authorized());
  CHECK_FALSE(client->is_secure());
  CHECK(s.secure == 0);
  CHECK(s.received.empty());
  CHECK(s.error_event->alert == SSL_AD_CERTIFICATE_EXPIRED);
  CHECK(s.error_event->alert_sent);

  // s_server reports the alert it received (bounded wait for its output).
  const net::deadline limit(std::chrono::seconds(10));
  while (server.child.err.find("certificate expired") == std::string::npos &&
         server.child.out.find("certificate expired") == std::string::npos && !limit.expired())
    server.child.poll_output(limit.poll_ms(50));
  INFO(server.child.describe());
  CHECK((server.child.err + server.child.out).find("certificate expired") != std::string::npos);
}

TEST_CASE("interop: our server rejects a client certificate without its intermediate",
          "[interop]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);

  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  server_options so = test::server_opts();
  so.request_cert = true;
  so.ca = {test::load("ca.pem")}; // the root only: the intermediate must come from the client
  auto srv = server::create(so);
  REQUIRE(srv);

  std::vector<std::string> argv = s_client_args(port, version);
  // s_client sends only the first certificate of -cert: no intermediate reaches us.
  argv.insert(argv.end(),
              {"-cert", cert_path("client-chain.pem"), "-key", cert_path("client.key")});
  net::child_process client;
  net::unique_fd fd = start_s_client(client, argv, listener);
  connection conn = srv->accept();
  net::tls_socket s(conn, std::move(fd));

  const bool failed = s.run_until(
      [&] { return (s.errors != 0 && !s.output_pending()) || s.transport_eof; }, &client);
  s.close_socket();
  const bool exited = client.wait_exit();
  INFO(s.describe() << "\n" << client.describe());
  REQUIRE(failed);
  REQUIRE(exited);
  REQUIRE(s.errors == 1);
  // A lone leaf whose issuer is nowhere: Node's UNABLE_TO_VERIFY_LEAF_SIGNATURE.
  const std::error_code no_issuer(X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, x509_category());
  CHECK(conn.error() == no_issuer);
  CHECK(conn.authorization_error() == "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  CHECK_FALSE(conn.authorized());
  CHECK(s.secure == 0);
  CHECK(s.error_event->alert == SSL_AD_UNKNOWN_CA);
  CHECK(s.error_event->alert_sent);
  CHECK(client.exit_code() != 0);
  CHECK(client.exit_code() < 128);
}

TEST_CASE("interop: s_client -verify_return_error rejects our self-signed server", "[interop]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);

  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  server_options so;
  so.cert = {test::load("selfsigned.pem")};
  so.key = {test::load("selfsigned.key")};
  auto srv = server::create(so);
  REQUIRE(srv);

  net::child_process client;
  net::unique_fd fd = start_s_client(client, s_client_args(port, version), listener);
  connection conn = srv->accept();
  net::tls_socket s(conn, std::move(fd));

  const bool failed = s.run_until([&] { return s.errors != 0 || s.transport_eof; }, &client);
  s.close_socket();
  const bool exited = client.wait_exit();
  INFO(s.describe() << "\n" << client.describe());
  REQUIRE(failed);
  REQUIRE(exited);
  CHECK(client.exit_code() != 0);
  CHECK(client.exit_code() < 128); // it failed, it was not killed
  CHECK(client.err.find("verify error") != std::string::npos);
  CHECK(client.out.empty());
  // Our server saw the handshake fail on s_client's alert (unknown_ca for a self-signed
  // certificate), not a completed handshake.
  CHECK(s.secure == 0);
  CHECK_FALSE(conn.is_secure());
  REQUIRE(s.errors == 1);
  CHECK(conn.error());
  CHECK(s.error_event->alert == SSL_AD_UNKNOWN_CA);
  CHECK_FALSE(s.error_event->alert_sent);
}

TEST_CASE("interop: bulk data through openssl s_client and our server", "[interop]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  net::io_options io;
  io.zero_copy_input = GENERATE(false, true);
  CAPTURE(version, io.zero_copy_input);

  // 256 KiB of varied lowercase lines: many full records each way, and echo writes large
  // enough to take the engine's direct (unstaged) write path.
  std::string payload;
  for (int i = 0; payload.size() < 256 * 1024; ++i) {
    for (int j = 0; j < 63; ++j)
      payload += static_cast<char>('a' + (i * 7 + j) % 26);
    payload += '\n';
  }

  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  auto srv = server::create(test::server_opts());
  REQUIRE(srv);
  net::child_process client;
  net::unique_fd fd = start_s_client(client, s_client_args(port, version), listener);
  client.queue_stdin(payload); // written as s_client reads it, inside the loop's polls
  connection conn = srv->accept();
  net::tls_socket s(conn, std::move(fd), io);
  upper_stream_echo echo;
  s.on_data = std::ref(echo);

  const bool all_in = s.run_until(
      [&] {
        echo.flush(s);
        return s.errors != 0 || s.transport_eof ||
               (s.received.size() >= payload.size() && echo.pending.empty());
      },
      &client);
  INFO(s.describe().substr(0, 2000) << "\n" << client.describe().substr(0, 4000));
  REQUIRE(all_in);
  REQUIRE(s.errors == 0);
  CHECK(s.received.size() == payload.size());
  CHECK(first_difference(s.received, payload) == std::string::npos);

  const bool all_out = s.run_until(
      [&] { return s.errors != 0 || s.transport_eof || client.out.size() >= payload.size(); },
      &client);
  INFO("s_client printed " << client.out.size() << " bytes; its stderr:\n" << client.err);
  REQUIRE(all_out);
  CHECK(client.out.size() == payload.size());
  CHECK(first_difference(client.out, to_upper(payload)) == std::string::npos);

  conn.end();
  const bool closed = s.run_until([&] { return s.transport_eof && !s.output_pending(); }, &client);
  s.close_socket();
  const bool exited = client.wait_exit();
  REQUIRE(closed);
  REQUIRE(exited);
  CHECK(client.exit_code() == 0);
  CHECK(s.errors == 0);
  CHECK(s.ends == 1);
  CHECK_FALSE(conn.error());
  CHECK(conn.cleartext_bytes_read() == payload.size());
  CHECK(conn.cleartext_bytes_written() == payload.size());
}

namespace {

/// Handshake messages our side sent and received, counted by type (SSL_set_msg_callback on
/// the connection's native handle: observation only, no I/O).
struct handshake_messages {
  std::array<int, 256> sent{}, received{};

  void attach(connection& c) {
    SSL_set_msg_callback(c.native_handle(), &handshake_messages::callback);
    SSL_set_msg_callback_arg(c.native_handle(), this);
  }
  static void callback(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*,
                       void* arg) {
    if (content_type != SSL3_RT_HANDSHAKE || len == 0) return;
    auto* self = static_cast<handshake_messages*>(arg);
    const unsigned type = static_cast<const unsigned char*>(buf)[0];
    ++(write_p ? self->sent : self->received)[type];
  }
};

/// Runs our client against s_server's interactive mode (stdin commands, received data on
/// its stdout), sends `command` ("r": renegotiate, "K": KeyUpdate with update_requested)
/// after some data, waits for `done`, then checks that data still flows both ways.
void post_handshake_command(const std::string& version, const std::string& command,
                            const std::function<bool(const handshake_messages&)>& done,
                            handshake_messages& messages) {
  std::vector<std::string> args = s_server_cert_args("server-rsa");
  args.push_back(version_flag(version));
  running_s_server server = start_s_server(args);

  client_options co = test::client_opts();
  co.min_version = version;
  co.max_version = version;
  auto client = connection::client(co);
  REQUIRE(client);
  messages.attach(*client);
  net::tls_socket s(*client, std::move(server.socket));
  const std::string& printed = server.child.out; // what s_server received

  REQUIRE(client->write("before\n") == 7);
  const bool before = s.run_until(
      [&] {
        return s.errors != 0 || s.transport_eof || printed.find("before\n") != std::string::npos;
      },
      &server.child);
  INFO(s.describe() << "\n" << server.child.describe());
  REQUIRE(before);

  server.child.queue_stdin(command + "\n");
  const bool handled = s.run_until(
      [&] { return s.errors != 0 || s.transport_eof || done(messages); }, &server.child);
  INFO("after the command: " << s.describe() << "\n" << server.child.describe());
  REQUIRE(handled);
  REQUIRE(s.errors == 0);

  server.child.queue_stdin("from server\n");
  REQUIRE(client->write("after\n") == 6);
  const bool after = s.run_until(
      [&] {
        return s.errors != 0 || s.transport_eof ||
               (printed.find("after\n") != std::string::npos && s.received == "from server\n");
      },
      &server.child);
  INFO("after more data: " << s.describe() << "\n" << server.child.describe());
  REQUIRE(after);
  CHECK(s.errors == 0);
  CHECK(client->is_secure());
  CHECK(client->protocol() == version);
  CHECK(client->authorized());

  client->end();
  const bool closed = s.run_until(
      [&] { return s.errors != 0 || (s.transport_eof && !s.output_pending()); }, &server.child);
  INFO("after end(): " << s.describe() << "\n" << server.child.describe());
  REQUIRE(closed);
  CHECK(s.errors == 0);
  CHECK_FALSE(client->error());
}

} // namespace

TEST_CASE("interop: TLS 1.2 renegotiation requested by openssl s_server", "[interop]") {
  handshake_messages messages;
  post_handshake_command(
      "TLSv1.2", "r", [](const handshake_messages& m) { return m.received[SSL3_MT_FINISHED] >= 2; },
      messages);
  CHECK(messages.received[SSL3_MT_HELLO_REQUEST] == 1);
  CHECK(messages.sent[SSL3_MT_CLIENT_HELLO] == 1); // the renegotiation's (the first was
                                                   // sent before the callback was attached)
  CHECK(messages.received[SSL3_MT_FINISHED] == 2);
  CHECK(messages.sent[SSL3_MT_FINISHED] == 2);
}

TEST_CASE("interop: TLS 1.3 KeyUpdate requested by openssl s_server", "[interop]") {
  handshake_messages messages;
  post_handshake_command(
      "TLSv1.3", "K",
      [](const handshake_messages& m) { return m.received[SSL3_MT_KEY_UPDATE] >= 1; }, messages);
  CHECK(messages.received[SSL3_MT_KEY_UPDATE] == 1);
  CHECK(messages.sent[SSL3_MT_KEY_UPDATE] == 1); // our answer, before our next data
}

// ---- key-exchange groups ------------------------------------------------------------------

namespace {

/// Our client with default options against `openssl s_server <group args>`, TLS 1.3: the
/// group both sides report.
std::string group_against_s_server(const std::vector<std::string>& group_args) {
  std::vector<std::string> args = s_server_cert_args("server-ecdsa");
  args.insert(args.end(), {"-rev", "-tls1_3"});
  args.insert(args.end(), group_args.begin(), group_args.end());
  running_s_server server = start_s_server(args);
  auto client = connection::client(test::client_opts());
  REQUIRE(client);
  net::tls_socket s(*client, std::move(server.socket));
  REQUIRE(client->write("hello\n") == 6);
  const bool echoed = s.run_until(
      [&] { return s.errors != 0 || s.transport_eof || s.received == "olleh\n"; }, &server.child);
  INFO(s.describe() << "\n" << server.child.describe());
  REQUIRE(echoed);
  REQUIRE(s.errors == 0);
  CHECK(client->protocol() == "TLSv1.3");
  return client->negotiated_group();
}

/// `openssl s_client <extra>` against our server with default options, TLS 1.3: the group
/// our server reports; `client` keeps s_client's output (-brief prints its own view).
std::string group_from_s_client(const std::vector<std::string>& extra, net::child_process& client) {
  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  auto srv = server::create(test::server_opts("server-ecdsa"));
  REQUIRE(srv);
  std::vector<std::string> argv = s_client_args(port, "TLSv1.3");
  argv.insert(argv.end(), {"-brief"});
  argv.insert(argv.end(), extra.begin(), extra.end());
  connection conn = s_client_exchange(*srv, argv, listener, client);
  return conn.negotiated_group();
}

} // namespace

TEST_CASE("interop: groups: openssl s_server limited to X25519 gets x25519 from our client",
          "[interop][kex]") {
  // A peer without the hybrid group: what OpenSSL 3.0 and every older TLS 1.3 stack offers.
  CHECK(group_against_s_server({"-groups", "X25519"}) == "x25519");
}

TEST_CASE("interop: groups: openssl s_client limited to X25519 gets x25519 from our server",
          "[interop][kex]") {
  net::child_process client;
  CHECK(group_from_s_client({"-groups", "X25519"}, client) == "x25519");
}

#if OPENSSL_VERSION_NUMBER >= 0x30500000L

TEST_CASE("interop (OpenSSL >= 3.5): our client and openssl s_server negotiate X25519MLKEM768",
          "[interop][kex][pq]") {
  CHECK(group_against_s_server({}) == "X25519MLKEM768");
  // s_server restricted to the hybrid group: only a client that offers it gets through.
  CHECK(group_against_s_server({"-groups", "X25519MLKEM768"}) == "X25519MLKEM768");
}

TEST_CASE("interop (OpenSSL >= 3.5): openssl s_client and our server negotiate X25519MLKEM768",
          "[interop][kex][pq]") {
  net::child_process client;
  CHECK(group_from_s_client({}, client) == "X25519MLKEM768");
  INFO(client.describe());
  // s_client's own report (-brief) of the same handshake.
  CHECK((client.out + client.err).find("X25519MLKEM768") != std::string::npos);
}

#endif
