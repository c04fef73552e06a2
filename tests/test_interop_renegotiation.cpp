// Renegotiation against a real peer: `openssl s_client` typing "R" (TLS 1.2) renegotiates
// with our server; the fourth time within the window breaks Node's limit.
#include "net_support.hpp"
#include "support.hpp"

#include "catch_compat.hpp"

#include <string>

using namespace tlsengine;

TEST_CASE("interop: openssl s_client renegotiates with R, up to client_reneg_limit",
          "[interop][renegotiation]") {
  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  auto so = test::server_opts();
  so.max_version = "TLSv1.2";
  auto srv = server::create(so);
  REQUIRE(srv);

  // Not -quiet: it would imply -ign_eof, which turns s_client's "R" command off.
  net::child_process client = net::child_process::spawn(
      {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-servername",
       "localhost", "-CAfile", test::cert_dir() + "/ca.pem", "-verify_return_error", "-tls1_2"});
  net::unique_fd fd = net::accept_one(listener, client, net::deadline(std::chrono::seconds(10)));
  REQUIRE(fd);
  connection conn = srv->accept();
  net::tls_socket s(conn, std::move(fd));

  // s_client acts on "R" only at the start of what one read() returns, so the line after
  // it waits until s_client said RENEGOTIATING (it then finishes the handshake before it
  // reads stdin again): that line arriving means the renegotiation completed.
  auto renegotiations = [&] {
    std::size_t n = 0;
    for (std::size_t at = client.err.find("RENEGOTIATING"); at != std::string::npos;
         at = client.err.find("RENEGOTIATING", at + 1))
      ++n;
    return n;
  };
  for (std::size_t i = 1; i <= 3; ++i) {
    REQUIRE(client.write_stdin("R\n"));
    const bool started =
        s.run_until([&] { return s.errors != 0 || renegotiations() == i; }, &client);
    const std::string line = "ping" + std::to_string(i) + "\n";
    REQUIRE(client.write_stdin(line));
    const bool got = s.run_until(
        [&] { return s.errors != 0 || s.received.find(line) != std::string::npos; }, &client);
    INFO(s.describe() << "\n" << client.describe());
    REQUIRE(started);
    REQUIRE(got);
    REQUIRE(s.errors == 0);
  }

  REQUIRE(client.write_stdin("R\n"));
  const bool failed = s.run_until([&] { return s.errors != 0; }, &client);
  INFO(s.describe() << "\n" << client.describe());
  REQUIRE(failed);
  CHECK(conn.error() == make_error_code(errc::renegotiation_limit));
  CHECK(error_code_name(conn.error()) == "ERR_TLS_SESSION_ATTACK");
}
