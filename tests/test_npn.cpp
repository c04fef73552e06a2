// NPN (Next Protocol Negotiation), the NPNProtocols / npnProtocol of Node's v0.x-v8 manuals:
// opt-in on both sides, TLS 1.2 only, ALPN taking precedence when both are offered. Both
// roles against each other and against openssl s_client -nextprotoneg / s_server
// -nextprotoneg.
#include "net_support.hpp"
#include "support.hpp"

#include "catch_compat.hpp"

#include <string>

using namespace tlsengine;

namespace {

std::string cert_path(const std::string& name) { return test::cert_dir() + "/" + name; }

} // namespace

TEST_CASE("NPN: both roles, TLS 1.2 only, ALPN first, no overlap", "[npn]") {
  auto so = test::server_opts();
  so.npn_protocols = {"spdy/3", "http/1.1"};
  auto co = test::client_opts();
  co.max_version = "TLSv1.2";

  SECTION("the server's first protocol the client also has (OpenSSL's and Node's rule)") {
    co.npn_protocols = {"http/1.1", "spdy/3"};
    auto h = test::make_pair(so, co);
    h.run();
    REQUIRE(h.client.is_secure());
    CHECK(h.client.npn_protocol() == "spdy/3");
    CHECK(h.server.npn_protocol() == "spdy/3");
    CHECK(h.client.alpn_protocol().empty());
  }
  SECTION("no overlap: the client sends its first and reports none (Node's false)") {
    co.npn_protocols = {"h9", "h8"};
    auto h = test::make_pair(so, co);
    h.run();
    REQUIRE(h.client.is_secure());
    CHECK(h.client.npn_protocol().empty());
    CHECK(h.server.npn_protocol() == "h9");
  }
  SECTION("ALPN takes precedence when both are offered and the server has both") {
    so.alpn_protocols = {"h2"};
    co.alpn_protocols = {"h2"};
    co.npn_protocols = {"spdy/3"};
    auto h = test::make_pair(so, co);
    h.run();
    REQUIRE(h.client.is_secure());
    CHECK(h.client.alpn_protocol() == "h2");
    CHECK(h.client.npn_protocol().empty());
    CHECK(h.server.npn_protocol().empty());
  }
  SECTION("opt-in: a server without npn_protocols does not answer") {
    co.npn_protocols = {"spdy/3"};
    auto h = test::make_pair(test::server_opts(), co);
    h.run();
    REQUIRE(h.client.is_secure());
    CHECK(h.client.npn_protocol().empty());
    CHECK(h.server.npn_protocol().empty());
  }
  SECTION("TLS 1.3 has no NPN") {
    co.max_version = "TLSv1.3";
    co.npn_protocols = {"spdy/3"};
    auto h = test::make_pair(so, co);
    h.run();
    REQUIRE(h.client.is_secure());
    CHECK(h.client.protocol() == "TLSv1.3");
    CHECK(h.client.npn_protocol().empty());
    CHECK(h.server.npn_protocol().empty());
  }
  SECTION("a resumption negotiates again") {
    co.npn_protocols = {"spdy/3"};
    auto srv = server::create(so);
    REQUIRE(srv);
    // Tickets are per server: make the session on the server that resumes it.
    auto made = test::pair_on(*srv, co);
    made.run();
    REQUIRE_FALSE(made.client_log.sessions.empty());
    co.session = made.client_log.sessions.back();
    auto again = test::pair_on(*srv, co);
    again.run();
    REQUIRE(again.client.is_session_reused());
    CHECK(again.client.npn_protocol() == "spdy/3");
    CHECK(again.server.npn_protocol() == "spdy/3");
  }
  SECTION("an empty name is refused at configuration") {
    co.npn_protocols = {""};
    CHECK(connection::client(co).error() == make_error_code(errc::alpn_invalid));
    so.npn_protocols = {"a", ""};
    CHECK(server::create(so).error() == make_error_code(errc::alpn_invalid));
  }
}

TEST_CASE("NPN: a shared context's other clients still connect", "[npn]") {
  auto so = test::server_opts();
  so.npn_protocols = {"spdy/3"};
  auto srv = server::create(so);
  REQUIRE(srv);
  auto context_options = test::client_opts();
  context_options.max_version = "TLSv1.2"; // a context option: secure_context carries it
  auto shared = secure_context::create(context_options);
  REQUIRE(shared);
  auto co = test::client_opts();
  co.secure_context = *shared;
  co.npn_protocols = {"spdy/3"};
  auto with = test::pair_on(*srv, co);
  with.run();
  CHECK(with.client.npn_protocol() == "spdy/3");
  // The context now offers NPN in every ClientHello: one without npn_protocols selects
  // "http/1.1" as Node 0.10 did, and reports none.
  co.npn_protocols = {};
  auto without = test::pair_on(*srv, co);
  without.run();
  REQUIRE(without.client.is_secure());
  CHECK(without.client.npn_protocol().empty());
  CHECK(without.server.npn_protocol() == "http/1.1");
}

TEST_CASE("interop: openssl s_client -nextprotoneg against our server", "[npn][interop]") {
  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  auto so = test::server_opts();
  so.npn_protocols = {"spdy/3", "http/1.1"};
  auto srv = server::create(so);
  REQUIRE(srv);
  net::child_process client = net::child_process::spawn(
      {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-servername",
       "localhost", "-CAfile", cert_path("ca.pem"), "-tls1_2", "-nextprotoneg", "http/1.1"});
  net::unique_fd fd = net::accept_one(listener, client, net::deadline(std::chrono::seconds(10)));
  REQUIRE(fd);
  connection conn = srv->accept();
  net::tls_socket s(conn, std::move(fd));
  REQUIRE(s.run_until([&] { return conn.is_secure() || s.errors != 0; }, &client));
  // s_client prints the outcome once the handshake is done.
  REQUIRE(
      s.run_until([&] { return client.out.find("Next protocol") != std::string::npos; }, &client));
  INFO(s.describe() << "\n" << client.describe());
  CHECK(conn.npn_protocol() == "http/1.1");
  CHECK(client.out.find("Next protocol: (1) http/1.1") != std::string::npos);
  conn.end();
  s.run_until([&] { return client.exited(); }, &client);
}

TEST_CASE("interop: our client against openssl s_server -nextprotoneg", "[npn][interop]") {
  std::uint16_t port = net::pick_free_port();
  net::child_process server = net::child_process::spawn(
      {"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
       cert_path("server-rsa.pem"), "-key", cert_path("server-rsa.key"), "-cert_chain",
       cert_path("intermediate.pem"), "-tls1_2", "-nextprotoneg", "spdy/2,http/1.1"});
  const net::deadline limit(std::chrono::seconds(10));
  while (server.out.find("ACCEPT") == std::string::npos && !limit.expired())
    server.poll_output(limit.poll_ms(20));
  int error = 0;
  net::unique_fd fd = net::try_connect(port, limit, error);
  INFO(server.describe());
  REQUIRE(fd);
  auto co = test::client_opts();
  co.npn_protocols = {"spdy/2", "http/1.1"};
  auto client = connection::client(co);
  REQUIRE(client);
  net::tls_socket s(*client, std::move(fd));
  REQUIRE(s.run_until([&] { return client->is_secure() || s.errors != 0; }, &server));
  INFO(s.describe() << "\n" << server.describe());
  CHECK(client->npn_protocol() == "spdy/2");
  REQUIRE(client->write("hello\n") == 6);
  REQUIRE(s.run_until(
      [&] { return s.errors != 0 || server.out.find("NEXTPROTO is spdy/2") != std::string::npos; },
      &server));
  CHECK(server.out.find("NEXTPROTO is spdy/2") != std::string::npos);
}
