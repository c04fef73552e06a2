// The interop matrix over loopback, beside test_interop_openssl.cpp (our client against
// openssl s_server lives there):
//  - our client engine against gnutls-serv, a Node.js tls server and a Python ssl server;
//  - the example servers (posix_echo_server, epoll_server, asio_echo_server) against
//    openssl s_client, gnutls-cli, a Node.js tls client and a Python ssl client, and
//    epoll_server against curl (HTTPS GET);
// each over TLS 1.2 and TLS 1.3, with ALPN, mutual TLS and session resumption. A missing
// peer program fails its test (net::child_process::spawn throws); nothing is skipped.
// The Node.js and Python peers are tests/interop/peer.js and peer.py.
#include "interop/peers.hpp"

#include "catch_compat.hpp"

#include <regex>
#include <string>
#include <vector>

using namespace tlsengine;
using peers::cert;
using peers::running_server;

namespace {

const char* version_flag(const std::string& version) {
  return version == "TLSv1.3" ? "-tls1_3" : "-tls1_2";
}

std::string gnutls_priority(const std::string& version) {
  return version == "TLSv1.3" ? "NORMAL:-VERS-ALL:+VERS-TLS1.3" : "NORMAL:-VERS-ALL:+VERS-TLS1.2";
}

// ---- our client against peer servers ----------------------------------------------------

/// gnutls-serv takes a port number (no port 0): pick a free one, retry if it was taken.
/// It listens on every interface (it has no bind address option); nothing but this test
/// connects to it.
running_server start_gnutls_serv(const std::vector<std::string>& args) {
  std::string last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    running_server s;
    s.port = net::pick_free_port();
    std::vector<std::string> argv{"gnutls-serv", "--echo", "-p", std::to_string(s.port)};
    argv.insert(argv.end(), args.begin(), args.end());
    s.child = net::child_process::spawn(argv);
    const net::deadline limit(std::chrono::seconds(20));
    while (s.child.running() && !limit.expired()) {
      // "Echo Server listening on IPv4 0.0.0.0 port N...done": "done" once listen() ran.
      const std::string printed = s.child.out + s.child.err;
      const std::size_t at = printed.find("listening on IPv4");
      if (at != std::string::npos && printed.find("done", at) != std::string::npos) return s;
      s.child.poll_output(limit.poll_ms(50));
    }
    s.child.wait_exit(net::deadline(std::chrono::seconds(2)));
    last = s.child.describe();
    if (last.find("in use") == std::string::npos) FAIL("gnutls-serv did not start\n" << last);
  }
  FAIL("no free port for gnutls-serv\n" << last);
  return {};
}

/// Our client: one echo exchange, then a second connection resuming the first's session.
void our_client_resumes(running_server& server, client_options options,
                        const std::string& version) {
  const std::string message = "hello from tlsengine\n";
  peers::exchange first = peers::echo_exchange(server.port, options, message, &server.child);
  CHECK(first.conn.protocol() == version);
  CHECK(first.conn.alpn_protocol() == "echo");
  CHECK(first.conn.authorized());
  CHECK_FALSE(first.conn.is_session_reused());
  REQUIRE_FALSE(first.session.empty());

  options.session = first.session;
  peers::exchange second = peers::echo_exchange(server.port, options, message, &server.child);
  CHECK(second.conn.is_session_reused());
  CHECK(second.conn.protocol() == version);
  CHECK(second.conn.alpn_protocol() == "echo");
  CHECK(second.conn.authorized());
}

client_options matrix_client(const std::string& version) {
  client_options o = peers::test_client_options(version); // trusts the test CA, has a cert
  o.alpn_protocols = {"echo"};
  return o;
}

/// The peer script's "secure" lines (one per connection), waited for (bounded).
std::vector<std::string> secure_lines(running_server& server, std::size_t count) {
  const net::deadline limit(std::chrono::seconds(20));
  for (;;) {
    server.child.read_output();
    auto lines = peers::json_events(server.child.out, "secure");
    if (lines.size() >= count || limit.expired() || !server.child.running()) return lines;
    server.child.poll_output(limit.poll_ms(50));
  }
}

void check_script_server(running_server& server, const std::string& version) {
  const auto lines = secure_lines(server, 2);
  INFO(server.child.describe());
  REQUIRE(lines.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(peers::json_field(lines[i], "protocol") == version);
    CHECK(peers::json_field(lines[i], "alpn") == "echo");
    CHECK(peers::json_field(lines[i], "client") == "tlsengine client"); // mutual TLS
    CHECK(peers::json_field(lines[i], "reused") == (i == 0 ? "false" : "true"));
  }
}

std::vector<std::string> script_server_args(const std::string& version) {
  return {"--cert",         cert("server-rsa-chain.pem"),
          "--key",          cert("server-rsa.key"),
          "--ca",           cert("ca.pem"),
          "--request-cert", "--alpn",
          "echo,http/1.1",  "--min-version",
          version,          "--max-version",
          version};
}

// ---- example servers against peer clients -----------------------------------------------

const char* const example_servers[] = {"posix_echo_server", "epoll_server", "asio_echo_server"};

/// An example server on the test chain, requiring a client certificate from the test CA,
/// accepting ALPN "echo".
running_server start_matrix_server(const std::string& name) {
  std::vector<std::string> args{"--cert",
                                cert("server-ecdsa-chain.pem"),
                                "--key",
                                cert("server-ecdsa.key"),
                                "--ca",
                                cert("ca.pem"),
                                "--request-cert",
                                "--alpn",
                                "echo"};
  if (name == "epoll_server") args.push_back("--verbose"); // one line per connection
  return peers::start_example_server(name, args);
}

/// Waits for the server's line about a connection: "server connected authorized from
/// PEER: TLSv1.3 ... alpn=echo resumed=yes client="tlsengine client"".
void expect_connection_line(running_server& server, const std::string& version, bool resumed) {
  const std::string pattern = "(server connected authorized from [^ ]+: " + version +
                              " [^ ]+ alpn=echo resumed=" + (resumed ? "yes" : "no") +
                              " client=\"tlsengine client\")";
  peers::wait_for_line(server.child, std::regex(pattern), "the server's connection line");
}

/// Runs a peer client program with stdin: waits until `expected` shows in its stdout,
/// then closes its stdin (the client then sends close_notify) and waits for its exit.
net::child_process interactive_client(const std::vector<std::string>& argv,
                                      const std::string& input, const std::string& expected,
                                      running_server& server) {
  net::child_process client = net::child_process::spawn(argv);
  REQUIRE(client.write_stdin(input));
  const net::deadline limit(std::chrono::seconds(20));
  while (client.out.find(expected) == std::string::npos && client.running() && !limit.expired()) {
    client.poll_output(limit.poll_ms(50));
    server.child.read_output();
  }
  INFO(client.describe() << "\n" << server.child.describe());
  REQUIRE(client.out.find(expected) != std::string::npos);
  client.close_stdin();
  REQUIRE(client.wait_exit(net::deadline(std::chrono::seconds(20))));
  return client;
}

std::vector<std::string> script_client_args(const std::string& script, std::uint16_t port,
                                            const std::string& version) {
  return {script == "peer.js" ? "node" : "python3",
          peers::script(script),
          "client",
          "--port",
          std::to_string(port),
          "--servername",
          "localhost",
          "--ca",
          cert("ca.pem"),
          "--cert",
          cert("client-chain.pem"),
          "--key",
          cert("client.key"),
          "--alpn",
          "echo",
          "--min-version",
          version,
          "--max-version",
          version,
          "--resume"};
}

void script_client_against(const std::string& script, const std::string& name,
                           const std::string& version) {
  running_server server = start_matrix_server(name);
  net::child_process client = peers::run(script_client_args(script, server.port, version));
  INFO(client.describe() << "\n" << server.child.describe());
  CHECK(client.exit_code() == 0);
  const auto results = peers::json_events(client.out, "result");
  REQUIRE(results.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(peers::json_field(results[i], "ok") == "true");
    CHECK(peers::json_field(results[i], "protocol") == version);
    CHECK(peers::json_field(results[i], "alpn") == "echo");
    CHECK(peers::json_field(results[i], "reused") == (i == 0 ? "false" : "true"));
  }
  expect_connection_line(server, version, false);
  expect_connection_line(server, version, true);
}

} // namespace

TEST_CASE("matrix: our client against gnutls-serv", "[interop][matrix]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  running_server server = start_gnutls_serv(
      {"--x509certfile", cert("server-ecdsa-chain.pem"), "--x509keyfile", cert("server-ecdsa.key"),
       "--x509cafile", cert("ca.pem"), "--require-client-cert", "--verify-client-cert", "--alpn",
       "echo", "--priority", gnutls_priority(version)});
  our_client_resumes(server, matrix_client(version), version);
  server.child.read_output();
  INFO(server.child.describe());
  CHECK(server.child.out.find("NOT verified") == std::string::npos); // mutual TLS passed
}

TEST_CASE("matrix: our client against a Node.js tls server", "[interop][matrix]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  std::vector<std::string> argv{"node", peers::script("peer.js"), "server"};
  for (const std::string& a : script_server_args(version))
    argv.push_back(a);
  running_server server = peers::start_script_server(argv);
  our_client_resumes(server, matrix_client(version), version);
  check_script_server(server, version);
}

TEST_CASE("matrix: our client against a Python ssl server", "[interop][matrix]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  std::vector<std::string> argv{"python3", peers::script("peer.py"), "server"};
  for (const std::string& a : script_server_args(version))
    argv.push_back(a);
  running_server server = peers::start_script_server(argv);
  our_client_resumes(server, matrix_client(version), version);
  check_script_server(server, version);
}

TEST_CASE("matrix: openssl s_client against the example servers", "[interop][matrix]") {
  const std::string name =
      GENERATE(from_range(std::begin(example_servers), std::end(example_servers)));
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(name, version);
  running_server server = start_matrix_server(name);
  peers::temp_dir tmp;
  const std::string session = tmp.file("session.pem");
  for (const bool resume : {false, true}) {
    std::vector<std::string> argv{"openssl",
                                  "s_client",
                                  "-connect",
                                  "127.0.0.1:" + std::to_string(server.port),
                                  "-servername",
                                  "localhost",
                                  "-CAfile",
                                  cert("ca.pem"),
                                  "-verify_return_error",
                                  "-verify_hostname",
                                  "localhost",
                                  version_flag(version),
                                  "-alpn",
                                  "echo",
                                  "-cert",
                                  cert("client.pem"),
                                  "-key",
                                  cert("client.key"),
                                  "-cert_chain",
                                  cert("intermediate.pem"),
                                  resume ? "-sess_in" : "-sess_out",
                                  session};
    net::child_process client = interactive_client(argv, "ping\n", "ping\n", server);
    INFO(client.describe() << "\n" << server.child.describe());
    CHECK(client.exit_code() == 0);
    CHECK(client.out.find("ALPN protocol: echo") != std::string::npos);
    CHECK(client.out.find(resume ? "Reused, " + version : "New, " + version) != std::string::npos);
    expect_connection_line(server, version, resume);
  }
}

TEST_CASE("matrix: gnutls-cli against the example servers", "[interop][matrix]") {
  const std::string name =
      GENERATE(from_range(std::begin(example_servers), std::end(example_servers)));
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(name, version);
  running_server server = start_matrix_server(name);
  // --resume: a first connection, then a second that resumes it and carries stdin.
  const std::vector<std::string> argv{"gnutls-cli",
                                      "--x509cafile",
                                      cert("ca.pem"),
                                      "--x509certfile",
                                      cert("client-chain.pem"),
                                      "--x509keyfile",
                                      cert("client.key"),
                                      "--alpn",
                                      "echo",
                                      "--priority",
                                      gnutls_priority(version),
                                      "--resume",
                                      "-p",
                                      std::to_string(server.port),
                                      "localhost"};
  net::child_process client = interactive_client(argv, "ping\n", "ping\n", server);
  INFO(client.describe() << "\n" << server.child.describe());
  CHECK(client.exit_code() == 0);
  CHECK(client.out.find("Application protocol: echo") != std::string::npos);
  CHECK(client.out.find("This is a resumed session") != std::string::npos);
  expect_connection_line(server, version, false);
  expect_connection_line(server, version, true);
}

TEST_CASE("matrix: a Node.js tls client against the example servers", "[interop][matrix]") {
  const std::string name =
      GENERATE(from_range(std::begin(example_servers), std::end(example_servers)));
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(name, version);
  script_client_against("peer.js", name, version);
}

TEST_CASE("matrix: a Python ssl client against the example servers", "[interop][matrix]") {
  const std::string name =
      GENERATE(from_range(std::begin(example_servers), std::end(example_servers)));
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(name, version);
  script_client_against("peer.py", name, version);
}

TEST_CASE("matrix: curl GETs pages from epoll_server over HTTPS", "[interop][matrix]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  peers::temp_dir docroot;
  std::string file;
  for (int i = 0; file.size() < 200 * 1024; ++i)
    file += "line " + std::to_string(i) + " of a static file\n";
  docroot.write("static.txt", file);

  running_server server = peers::start_example_server(
      "epoll_server",
      {"--cert", cert("server-rsa-chain.pem"), "--key", cert("server-rsa.key"), "--ca",
       cert("ca.pem"), "--request-cert", "--docroot", docroot.path(), "--verbose"});
  const std::string base = "https://localhost:" + std::to_string(server.port);
  std::vector<std::string> argv{"curl",
                                "-sS",
                                "--fail",
                                "--resolve",
                                "localhost:" + std::to_string(server.port) + ":127.0.0.1",
                                "--cacert",
                                cert("ca.pem"),
                                "--cert",
                                cert("client-chain.pem"),
                                "--key",
                                cert("client.key"),
                                "--max-time",
                                "20"};
  if (version == "TLSv1.2") {
    argv.insert(argv.end(), {"--tlsv1.2", "--tls-max", "1.2"});
  } else {
    argv.insert(argv.end(), {"--tlsv1.3"});
  }
  // Connection: close makes the second URL a new connection, which resumes the first's
  // session (curl caches it: a session id for TLS 1.2, a ticket for TLS 1.3).
  argv.insert(argv.end(), {"-H", "Connection: close", base + "/", base + "/static.txt"});
  net::child_process curl = peers::run(argv);
  INFO(curl.describe().substr(0, 3000) << "\n" << server.child.describe());
  REQUIRE(curl.exit_code() == 0);
  CHECK(curl.out.find("Hello from tlsengine") != std::string::npos);
  CHECK(curl.out.size() > file.size());
  CHECK(curl.out.substr(curl.out.size() - file.size()) == file);

  const std::string prefix =
      "(server connected authorized from [^ ]+: " + version + " [^ ]+ alpn=http/1.1 resumed=";
  peers::wait_for_line(server.child, std::regex(prefix + "no)"), "curl's first connection");
  peers::wait_for_line(server.child, std::regex(prefix + "yes)"), "curl's resumed connection");
}
