// Protocol conformance: the alert a peer sees when the engine ends a handshake (a stray
// HelloRequest, a refused renegotiation, an ALPN callback's invalid answer), in memory and
// against openssl s_client / s_server.
#include "net_support.hpp"
#include "support.hpp"

#include "catch_compat.hpp"

#include <openssl/ssl.h>

using namespace tlsengine;

namespace {

using test::find_event;

std::string cert_path(const std::string& name) { return test::cert_dir() + "/" + name; }

// A plaintext handshake record holding one HelloRequest (type 0, empty body).
const std::uint8_t hello_request_record[] = {0x16, 0x03, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00};

} // namespace

TEST_CASE("a HelloRequest during the initial handshake is a fatal unexpected_message",
          "[conformance][alerts]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  auto so = test::server_opts();
  so.max_version = version;
  auto h = test::make_pair(so, test::client_opts());
  h.move(h.client, h.server, h.server_log); // ClientHello
  // The server's first flight with a stray HelloRequest (OpenSSL alone ignores it): in
  // TLS 1.2 after the ServerHello record, in TLS 1.3 before it (what follows is encrypted).
  const bytes_view out = h.server.pending_output();
  std::vector<std::uint8_t> flight(out.data(), out.data() + out.size());
  h.server.consume_output(out.size());
  REQUIRE(flight.size() > 5);
  const std::size_t at = version == "TLSv1.2" ? 5 + (std::size_t(flight[3]) << 8 | flight[4]) : 0;
  flight.insert(flight.begin() + static_cast<std::ptrdiff_t>(at), std::begin(hello_request_record),
                std::end(hello_request_record));
  // Fed one byte at a time too: the forged record must still land on a record boundary.
  const std::size_t chunk = GENERATE(std::size_t(1), std::size_t(100000));
  for (std::size_t i = 0; i < flight.size() && !h.client.error(); i += chunk)
    h.client.feed(bytes_view(flight.data() + i, std::min(chunk, flight.size() - i)));
  test::harness::drain(h.client, h.client_log, 4096);
  CHECK(h.client.error() == make_error_code(errc::unexpected_message));
  CHECK(error_code_name(h.client.error()) == "ERR_SSL_UNEXPECTED_MESSAGE");
  CHECK(h.client_log.alert == SSL_AD_UNEXPECTED_MESSAGE);
  CHECK(h.client_log.alert_sent);
  CHECK(h.client_log.secure == 0);
  h.run();
  CHECK(h.server_log.errors == 1); // the alert (or, in TLS 1.3, its plaintext) ends it
  if (version == "TLSv1.2") {
    INFO(h.server.error_message());
    CHECK(h.server_log.alert == SSL_AD_UNEXPECTED_MESSAGE);
    CHECK_FALSE(h.server_log.alert_sent);
  }
}

TEST_CASE("a refused renegotiation ends with a fatal alert the peer sees",
          "[conformance][alerts][renegotiation]") {
  auto so = test::server_opts();
  so.max_version = "TLSv1.2";
  clock::time_point now{};
  so.now = [&] { return now; };
  auto h = test::make_pair(so, test::client_opts());
  h.run();
  REQUIRE(h.client.is_secure());
  SECTION("a client that refuses the server's HelloRequest: fatal no_renegotiation") {
    h.client.disable_renegotiation();
    REQUIRE_FALSE(h.server.renegotiate());
    h.run();
    CHECK(h.client.error() == make_error_code(errc::renegotiation_disabled));
    CHECK(h.client_log.alert == SSL_AD_NO_RENEGOTIATION);
    CHECK(h.client_log.alert_sent);
    CHECK(h.server_log.errors == 1);
    CHECK(h.server_log.alert == SSL_AD_NO_RENEGOTIATION);
    CHECK_FALSE(h.server_log.alert_sent);
  }
  SECTION("a server with renegotiation disabled: fatal no_renegotiation") {
    h.server.disable_renegotiation();
    REQUIRE_FALSE(h.client.renegotiate());
    h.run();
    CHECK(h.server.error() == make_error_code(errc::renegotiation_disabled));
    CHECK(h.client_log.errors == 1);
    CHECK(h.client_log.alert == SSL_AD_NO_RENEGOTIATION);
    CHECK_FALSE(h.client_log.alert_sent);
  }
  SECTION("the client renegotiation limit: fatal handshake_failure") {
    for (int i = 0; i < 3; ++i) {
      REQUIRE_FALSE(h.client.renegotiate());
      h.run();
    }
    REQUIRE_FALSE(h.client.renegotiate());
    h.run();
    CHECK(h.server.error() == make_error_code(errc::renegotiation_limit));
    CHECK(h.client_log.alert == SSL_AD_HANDSHAKE_FAILURE);
    CHECK_FALSE(h.client_log.alert_sent);
  }
}

TEST_CASE("an ALPN callback choosing a protocol not offered sends internal_error",
          "[conformance][alerts][alpn]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  auto so = test::server_opts();
  so.max_version = version;
  bool refuse = false;
  so.alpn_callback = [&](const alpn_request&) -> std::optional<std::string> {
    if (refuse) return std::nullopt;
    return std::string("not-offered");
  };
  auto co = test::client_opts();
  co.alpn_protocols = {"a", "b"};
  {
    auto h = test::make_pair(so, co);
    h.run();
    CHECK(h.server.error() == make_error_code(errc::alpn_invalid));
    CHECK(h.server_log.alert == SSL_AD_INTERNAL_ERROR);
    CHECK(h.server_log.alert_sent);
    CHECK(h.client_log.errors == 1);
    CHECK(h.client_log.alert == SSL_AD_INTERNAL_ERROR);
    CHECK_FALSE(h.client_log.alert_sent);
  }
  {
    refuse = true; // no overlap stays no_application_protocol
    auto h = test::make_pair(so, co);
    h.run();
    CHECK(h.client_log.alert == SSL_AD_NO_APPLICATION_PROTOCOL);
    CHECK_FALSE(h.client_log.alert_sent);
  }
}

TEST_CASE("interop: openssl s_client sees internal_error for an invalid ALPN choice",
          "[conformance][alerts][interop]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  auto so = test::server_opts();
  so.alpn_callback = [](const alpn_request&) { return std::optional<std::string>("x"); };
  auto srv = server::create(so);
  REQUIRE(srv);
  net::child_process client = net::child_process::spawn(
      {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-servername",
       "localhost", "-CAfile", cert_path("ca.pem"), "-alpn", "a,b",
       version == "TLSv1.3" ? "-tls1_3" : "-tls1_2"});
  net::unique_fd fd = net::accept_one(listener, client, net::deadline(std::chrono::seconds(10)));
  REQUIRE(fd);
  connection conn = srv->accept();
  net::tls_socket s(conn, std::move(fd));
  s.run_until([&] { return s.errors != 0; }, &client);
  REQUIRE(client.wait_exit());
  INFO(s.describe() << "\n" << client.describe());
  CHECK(conn.error() == make_error_code(errc::alpn_invalid));
  CHECK(client.exit_code() != 0);
  CHECK(client.err.find("alert internal error") != std::string::npos);
}

TEST_CASE("interop: openssl s_server sees no_renegotiation when our client refuses",
          "[conformance][alerts][interop][renegotiation]") {
  std::uint16_t port = net::pick_free_port();
  net::child_process server = net::child_process::spawn(
      {"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
       cert_path("server-rsa.pem"), "-key", cert_path("server-rsa.key"), "-cert_chain",
       cert_path("intermediate.pem"), "-tls1_2"});
  const net::deadline limit(std::chrono::seconds(10));
  while (server.out.find("ACCEPT") == std::string::npos && !limit.expired())
    server.poll_output(limit.poll_ms(20));
  int error = 0;
  net::unique_fd fd = net::try_connect(port, limit, error);
  INFO(server.describe());
  REQUIRE(fd);
  auto client = connection::client(test::client_opts());
  REQUIRE(client);
  client->disable_renegotiation();
  net::tls_socket s(*client, std::move(fd));
  REQUIRE(client->write("hello\n") == 6);
  REQUIRE(s.run_until(
      [&] { return s.errors != 0 || server.out.find("hello") != std::string::npos; }, &server));
  server.queue_stdin("r\n");
  s.run_until([&] { return s.errors != 0; }, &server);
  s.run_until(
      [&] {
        return server.err.find("no renegotiation") != std::string::npos ||
               server.out.find("no renegotiation") != std::string::npos;
      },
      &server);
  INFO(s.describe() << "\n" << server.describe());
  CHECK(client->error() == make_error_code(errc::renegotiation_disabled));
  REQUIRE(s.error_event);
  CHECK(s.error_event->alert == SSL_AD_NO_RENEGOTIATION);
  CHECK(s.error_event->alert_sent);
  CHECK((server.err + server.out).find("alert no renegotiation") != std::string::npos);
}

// ---- decisions that fail (Node's cb(err)) ------------------------------------------------

TEST_CASE("every decision can fail with the application's error and alert",
          "[conformance][decision]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  const std::error_code app_error = std::make_error_code(std::errc::permission_denied);
  auto so = test::server_opts();
  so.max_version = version;
  auto co = test::client_opts();
  SECTION("servername: unrecognized_name") {
    so.pause_on_servername = true;
    auto h = test::make_pair(so, co);
    h.run();
    REQUIRE(find_event<events::servername>(h.server_log));
    REQUIRE_FALSE(h.server.fail_decision(app_error, SSL_AD_UNRECOGNIZED_NAME));
    h.run();
    CHECK(h.server.error() == app_error);
    CHECK(h.server_log.errors == 1);
    CHECK(h.server_log.alert == SSL_AD_UNRECOGNIZED_NAME);
    CHECK(h.client_log.errors == 1);
    CHECK(h.client_log.alert == SSL_AD_UNRECOGNIZED_NAME);
    CHECK_FALSE(h.client_log.alert_sent);
  }
  SECTION("servername: an empty context is Node's \"Invalid SNI context\"") {
    so.pause_on_servername = true;
    auto h = test::make_pair(so, co);
    h.run();
    REQUIRE(find_event<events::servername>(h.server_log));
    CHECK(h.server.use_context(secure_context{}) == make_error_code(errc::invalid_argument));
    h.run();
    CHECK(h.server.error() == make_error_code(errc::invalid_argument));
    CHECK(h.server.error_message() == "Invalid SNI context");
    CHECK(h.server_log.errors == 1);
    CHECK(h.client_log.alert == SSL_AD_INTERNAL_ERROR);
  }
  SECTION("ocsp_request: the server's chosen alert") {
    so.pause_on_ocsp_request = true;
    co.request_ocsp = true;
    auto h = test::make_pair(so, co);
    h.run();
    REQUIRE(find_event<events::ocsp_request>(h.server_log));
    REQUIRE_FALSE(h.server.fail_decision(app_error, SSL_AD_INTERNAL_ERROR));
    h.run();
    CHECK(h.server.error() == app_error);
    CHECK(h.client_log.alert == SSL_AD_INTERNAL_ERROR);
    CHECK_FALSE(h.client_log.alert_sent);
  }
  SECTION("certificate_request (client): internal_error") {
    so.request_cert = true;
    so.reject_unauthorized = false;
    so.ca = {test::load("ca.pem")};
    co.pause_on_certificate_request = true;
    auto h = test::make_pair(so, co);
    h.run();
    REQUIRE(find_event<events::certificate_request>(h.client_log));
    REQUIRE_FALSE(h.client.fail_decision(app_error));
    h.run();
    CHECK(h.client.error() == app_error);
    CHECK(h.client_log.alert == SSL_AD_INTERNAL_ERROR);
    CHECK(h.client_log.alert_sent);
    CHECK(h.server_log.errors == 1);
  }
  SECTION("verify_peer (client): the alert OpenSSL can send for it") {
    co.pause_on_verify = true;
    auto h = test::make_pair(so, co);
    h.run();
    REQUIRE(find_event<events::verify_peer>(h.client_log));
    REQUIRE_FALSE(h.client.fail_decision(app_error, SSL_AD_CERTIFICATE_REVOKED));
    h.run();
    CHECK(h.client.error() == app_error);
    CHECK(h.server_log.alert == SSL_AD_CERTIFICATE_REVOKED);
    CHECK_FALSE(h.server_log.alert_sent);
  }
  SECTION("nothing waiting, or no error: refused") {
    auto h = test::make_pair(so, co);
    h.run();
    CHECK(h.client.fail_decision(app_error) == make_error_code(errc::invalid_state));
    CHECK(h.client.fail_decision({}) == make_error_code(errc::invalid_argument));
    CHECK(h.client.is_secure());
  }
}

TEST_CASE("interop: openssl s_client sees the alert of a failed servername decision",
          "[conformance][decision][interop]") {
  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  auto so = test::server_opts();
  so.pause_on_servername = true;
  auto srv = server::create(so);
  REQUIRE(srv);
  net::child_process client = net::child_process::spawn(
      {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-servername",
       "unknown.example", "-CAfile", cert_path("ca.pem")});
  net::unique_fd fd = net::accept_one(listener, client, net::deadline(std::chrono::seconds(10)));
  REQUIRE(fd);
  connection conn = srv->accept();
  net::tls_socket s(conn, std::move(fd));
  bool asked = false;
  s.run_until(
      [&] {
        // tls_socket::drain counts the events it takes; the decision shows as paused state.
        if (!asked && conn.servername().empty() && s.errors == 0) {
          if (!conn.fail_decision(std::make_error_code(std::errc::permission_denied),
                                  SSL_AD_UNRECOGNIZED_NAME))
            asked = true;
        }
        return s.errors != 0;
      },
      &client);
  REQUIRE(client.wait_exit());
  INFO(s.describe() << "\n" << client.describe());
  CHECK(asked);
  CHECK(client.exit_code() != 0);
  CHECK(client.err.find("unrecognized name") != std::string::npos);
}

// ---- Node parity ---------------------------------------------------------------------------

TEST_CASE("TLS 1.3: one session event per ticket whatever the chunking, bounded",
          "[conformance][node][session]") {
  const std::size_t chunk = GENERATE(std::size_t(1), std::size_t(7), std::size_t(-1));
  CAPTURE(chunk);
  auto h = test::make_pair(test::server_opts(), test::client_opts());
  h.chunk = chunk;
  h.run();
  REQUIRE(h.client.protocol() == "TLSv1.3");
  CHECK(h.client_log.sessions.size() == 2); // OpenSSL's two tickets, as Node's two events

  SECTION("a ticket flood keeps the newest 4 undelivered") {
    auto f = test::make_pair(test::server_opts(), test::client_opts());
    REQUIRE(SSL_set_num_tickets(f.server.native_handle(), 10) == 1);
    // Move bytes both ways without taking the client's events.
    for (int round = 0; round < 10; ++round) {
      for (auto* from : {&f.client, &f.server}) {
        auto* to = from == &f.client ? &f.server : &f.client;
        const bytes_view out = from->pending_output();
        from->consume_output(to->feed(out));
      }
      while (f.server.next_event()) {
      }
    }
    REQUIRE(f.client.is_secure());
    std::vector<std::vector<std::uint8_t>> sessions;
    while (auto e = f.client.next_event())
      if (auto* s = std::get_if<events::session>(&*e)) sessions.push_back(s->data);
    CHECK(sessions.size() == 4);
  }
}

TEST_CASE("allow_truncation: an EOF is told apart from close_notify", "[conformance][node]") {
  auto co = test::client_opts();
  co.allow_truncation = true;
  SECTION("EOF without close_notify") {
    auto h = test::make_pair(test::server_opts(), co);
    h.run();
    h.client.feed_eof();
    test::harness::drain(h.client, h.client_log, 100);
    const auto* end = find_event<events::end>(h.client_log);
    REQUIRE(end);
    CHECK_FALSE(end->close_notify);
    CHECK(h.client.peer_ended());
    CHECK_FALSE(h.client.received_close_notify());
  }
  SECTION("close_notify") {
    auto h = test::make_pair(test::server_opts(), co);
    h.run();
    CHECK_FALSE(h.client.received_close_notify());
    h.server.end();
    h.run();
    const auto* end = find_event<events::end>(h.client_log);
    REQUIRE(end);
    CHECK(end->close_notify);
    CHECK(h.client.received_close_notify());
  }
}

TEST_CASE("Node parity: small behaviours", "[conformance][node]") {
  SECTION("authorization_error() is empty on a server that asked for no certificate") {
    auto h = test::make_pair(test::server_opts(), test::client_opts());
    h.run();
    REQUIRE(h.server.is_secure());
    CHECK_FALSE(h.server.authorized());
    CHECK(h.server.authorization_error().empty());
  }
  SECTION("renegotiate() on TLS 1.3 is ERR_SSL_WRONG_SSL_VERSION") {
    auto h = test::make_pair(test::server_opts(), test::client_opts());
    h.run();
    CHECK(error_code_name(h.client.renegotiate()) == "ERR_SSL_WRONG_SSL_VERSION");
    CHECK(error_code_name(h.server.renegotiate()) == "ERR_SSL_WRONG_SSL_VERSION");
    CHECK(h.client.is_secure());
  }
  SECTION("an EOF during the handshake reads as Node's") {
    auto h = test::make_pair(test::server_opts(), test::client_opts());
    h.client.feed_eof();
    CHECK(h.client.error() == make_error_code(errc::truncated));
    CHECK(h.client.error_message() == "Client network socket disconnected before secure TLS "
                                      "connection was established");
  }
  SECTION("a client handshake timeout") {
    clock::time_point now{};
    auto co = test::client_opts();
    co.now = [&] { return now; };
    co.handshake_timeout = std::chrono::seconds(5);
    auto cli = connection::client(co);
    REQUIRE(cli);
    REQUIRE(cli->deadline());
    CHECK(*cli->deadline() == now + std::chrono::seconds(5));
    cli->on_timeout(now + std::chrono::seconds(4));
    CHECK_FALSE(cli->error());
    cli->on_timeout(now + std::chrono::seconds(5));
    CHECK(cli->error() == make_error_code(errc::handshake_timeout));
    CHECK_FALSE(connection::client(test::client_opts())->deadline()); // none by default
  }
}

TEST_CASE("verify_peer: accept while recording the verdict (rejectUnauthorized: false)",
          "[conformance][verify][decision]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  const std::error_code revoked(X509_V_ERR_CERT_REVOKED, x509_category());
  auto so = test::server_opts();
  so.max_version = version;
  auto co = test::client_opts();
  SECTION("client") {
    co.pause_on_verify = true;
    auto h = test::make_pair(so, co);
    h.run();
    REQUIRE(find_event<events::verify_peer>(h.client_log));
    REQUIRE_FALSE(h.client.accept_unauthorized(revoked));
    h.client.write("through");
    h.run();
    CHECK(h.client.is_secure());
    CHECK_FALSE(h.client.authorized());
    CHECK(h.client.authorization_error() == "CERT_REVOKED");
    CHECK(h.server_log.received == "through");
  }
  SECTION("server") {
    so.request_cert = true;
    so.ca = {test::load("ca.pem")};
    so.pause_on_verify = true;
    co.cert = {test::load("client-chain.pem")};
    co.key = {test::load("client.key")};
    auto h = test::make_pair(so, co);
    h.client.write("request");
    h.run();
    REQUIRE(find_event<events::verify_peer>(h.server_log));
    REQUIRE_FALSE(h.server.accept_unauthorized(revoked));
    h.run();
    CHECK(h.server.is_secure());
    CHECK(h.server_log.received == "request");
    CHECK_FALSE(h.server.authorized());
    CHECK(h.server.authorization_error() == "CERT_REVOKED");
  }
}

TEST_CASE("peer_certificate(true) walks to the trust anchor, as Node", "[conformance][node]") {
  auto h = test::make_pair(test::server_opts(), test::client_opts());
  h.run();
  REQUIRE(h.client.authorized());
  const certificate_info leaf = h.client.peer_certificate(true);
  int depth = 0;
  for (const certificate_info* c = &leaf; c != nullptr; c = c->issuer_certificate.get()) {
    ++depth;
    if (depth > 10) break;
  }
  CHECK(depth == 3); // leaf, intermediate, root (Node 20: 3)
  REQUIRE(leaf.issuer_certificate);
  REQUIRE(leaf.issuer_certificate->issuer_certificate);
  CHECK(leaf.issuer_certificate->issuer_certificate->subject.get("CN") == "tlsengine Test Root CA");
}

/// Node 20 as the client of our server: what Node reports is what our client reports.
TEST_CASE("interop: Node agrees on leaf-only verdicts, chain depth and ticket events",
          "[conformance][node][interop]") {
  const std::string leaf_file =
      GENERATE(as<std::string>{}, "server-rsa.pem", "server-rsa-chain.pem");
  CAPTURE(leaf_file);
  server_options so;
  so.cert = {test::load(leaf_file)};
  so.key = {test::load("server-rsa.key")};
  auto srv = server::create(so);
  REQUIRE(srv);

  // Our client against the same server.
  auto h = test::make_pair(so, [] {
    auto co = test::client_opts();
    co.reject_unauthorized = false;
    return co;
  }());
  h.run();
  REQUIRE(h.client.is_secure());
  int depth = 0;
  const certificate_info leaf = h.client.peer_certificate(true);
  for (const certificate_info* c = &leaf; c != nullptr && depth < 10;
       c = c->issuer_certificate.get())
    ++depth;

  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  const std::string script = "const tls=require('tls'),fs=require('fs');let n=0;"
                             "const c=tls.connect({port:" +
                             std::to_string(port) +
                             ",host:'127.0.0.1',servername:"
                             "'localhost',ca:fs.readFileSync('" +
                             cert_path("ca.pem") +
                             "'),rejectUnauthorized:false},"
                             "()=>{let d=0,x=c.getPeerCertificate(true);const s=new Set();"
                             "while(x&&!s.has(x)){s.add(x);d++;x=x.issuerCertificate;}"
                             "console.log('error='+c.authorizationError+' depth='+d);});"
                             "c.on('session',()=>n++);c.on('data',()=>{});"
                             "c.on('close',()=>console.log('sessions='+n));c.on('error',()=>{});";
  net::child_process node = net::child_process::spawn({"node", "-e", script});
  net::unique_fd fd = net::accept_one(listener, node, net::deadline(std::chrono::seconds(10)));
  REQUIRE(fd);
  connection conn = srv->accept();
  net::tls_socket s(conn, std::move(fd));
  s.run_until([&] { return s.errors != 0 || conn.is_secure(); }, &node);
  conn.end();
  s.run_until([&] { return s.errors != 0 || s.transport_eof; }, &node);
  s.close_socket();
  REQUIRE(node.wait_exit());
  INFO(s.describe() << "\n" << node.describe());
  const std::string ours =
      "error=" +
      (h.client.authorization_error().empty() ? std::string("null")
                                              : h.client.authorization_error()) +
      " depth=" + std::to_string(depth);
  CHECK(node.out.find(ours) != std::string::npos);
  CHECK(node.out.find("sessions=" + std::to_string(h.client_log.sessions.size())) !=
        std::string::npos);
  CHECK(h.client_log.sessions.size() == 2);
}

// ---- the queries a TLS test suite asks --------------------------------------------------

TEST_CASE("getters: group, peer signature scheme, HRR, EMS, secure renegotiation",
          "[conformance][getters]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  auto so = test::server_opts();
  so.max_version = version;
  so.request_cert = true;
  so.ca = {test::load("ca.pem")};
  auto co = test::client_opts();
  co.cert = {test::load("client-chain.pem")};
  co.key = {test::load("client.key")};
  co.sigalgs = "RSA-PSS+SHA384:ECDSA+SHA256";
  auto h = test::make_pair(so, co);
  h.run();
  REQUIRE(h.client.is_secure());
  // OpenSSL >= 3.5 prefers the post-quantum hybrid for TLS 1.3 (test_key_exchange.cpp).
  const std::string group =
      OPENSSL_VERSION_NUMBER >= 0x30500000L && version == "TLSv1.3" ? "X25519MLKEM768" : "x25519";
  CHECK(h.client.negotiated_group() == group);
  CHECK(h.server.negotiated_group() == group);
  CHECK(h.client.peer_signature_scheme() == "RSA-PSS+SHA384"); // the only RSA one we accept
  CHECK_FALSE(h.server.peer_signature_scheme().empty());
  CHECK_FALSE(h.client.hello_retry_request());
  CHECK(h.client.extended_master_secret() == (version == "TLSv1.2"));
  CHECK(h.server.extended_master_secret() == (version == "TLSv1.2"));
  CHECK(h.client.peer_secure_renegotiation() == (version == "TLSv1.2"));
  // An OpenSSL client signals it in every ClientHello; under TLS 1.3 (no renegotiation)
  // OpenSSL 3.0 still reports it, OpenSSL 3.5 does not (seen on Debian 13's 3.5).
  CHECK(h.server.peer_secure_renegotiation() ==
        (version == "TLSv1.2" || OPENSSL_VERSION_NUMBER < 0x30500000L));
}

TEST_CASE("getters: a HelloRetryRequest, and the group after a TLS 1.3 resumption",
          "[conformance][getters]") {
  auto so = test::server_opts();
  so.ecdh_curve = "P-256";
  auto srv = server::create(so);
  REQUIRE(srv);
  auto co = test::client_opts();
  co.ecdh_curve = "X25519:P-256"; // a key share for X25519 only: the server asks again
  auto cli = connection::client(co);
  REQUIRE(cli);
  test::harness h;
  h.client = std::move(*cli);
  h.server = srv->accept();
  h.run();
  REQUIRE(h.client.is_secure());
  CHECK(h.client.hello_retry_request());
  CHECK(h.server.hello_retry_request());
  CHECK(h.client.negotiated_group() == "secp256r1");
  CHECK(h.server.negotiated_group() == "secp256r1");
  REQUIRE_FALSE(h.client_log.sessions.empty());

  co.session = h.client_log.sessions.back();
  auto again = connection::client(co);
  REQUIRE(again);
  test::harness r;
  r.client = std::move(*again);
  r.server = srv->accept();
  r.run();
  REQUIRE(r.client.is_session_reused());
  CHECK(r.client.negotiated_group() == "secp256r1");
  CHECK(r.server.negotiated_group() == "secp256r1");
}

TEST_CASE("options: send_fallback_scsv, client_sigalgs, max_cert_list", "[conformance][options]") {
  SECTION("a fallback to TLS 1.2 against a TLS 1.3 server: inappropriate_fallback") {
    auto co = test::client_opts();
    co.max_version = "TLSv1.2";
    co.send_fallback_scsv = true;
    auto h = test::make_pair(test::server_opts(), co);
    h.run();
    CHECK(h.client_log.errors == 1);
    CHECK(h.client_log.alert == SSL_AD_INAPPROPRIATE_FALLBACK);
    CHECK_FALSE(h.client_log.alert_sent);
  }
  SECTION("client_sigalgs: the server's CertificateRequest list") {
    auto so = test::server_opts();
    so.request_cert = true;
    so.ca = {test::load("ca.pem")};
    so.max_version = "TLSv1.2"; // TLS 1.3 binds ECDSA schemes to the key's curve
    so.client_sigalgs = "ECDSA+SHA384";
    auto co = test::client_opts();
    co.cert = {test::load("client-chain.pem")};
    co.key = {test::load("client.key")};
    auto h = test::make_pair(so, co);
    h.run();
    INFO(h.server.error_message() << " / " << h.client.error_message());
    REQUIRE(h.server.is_secure());
    CHECK(h.server.peer_signature_scheme() == "ECDSA+SHA384");   // the client's default: SHA256
    CHECK(h.client.peer_signature_scheme() == "RSA-PSS+SHA256"); // sigalgs: the default
  }
  SECTION("a certificate list over max_cert_list fails with a clear error") {
    auto co = test::client_opts();
    co.max_cert_list = 512;
    auto h = test::make_pair(test::server_opts(), co);
    h.run();
    CHECK(h.client.error() == make_error_code(errc::certificate_list_too_long));
    CHECK(h.client.error_message().find("max_cert_list (512 bytes)") != std::string::npos);
    CHECK(h.server_log.errors == 1);
  }
}

// ---- the options of Node's older docs ----------------------------------------------------

TEST_CASE("secure_protocol: Node's method names, as Node 20 maps them", "[conformance][node]") {
  struct row {
    const char* method;
    const char* negotiated; // against a TLS 1.3 client (min TLSv1)
  };
  const row rows[] = {{"TLS_method", "TLSv1.3"},
                      {"SSLv23_method", "TLSv1.2"},
                      {"TLSv1_2_method", "TLSv1.2"},
                      {"TLSv1_2_server_method", "TLSv1.2"}};
  for (const row& r : rows) {
    CAPTURE(r.method);
    auto so = test::server_opts();
    so.secure_protocol = r.method;
    auto h = test::make_pair(so, test::client_opts());
    h.run();
    REQUIRE(h.server.is_secure());
    CHECK(h.server.protocol() == r.negotiated);
  }
  for (const char* bad :
       {"SSLv3_method", "SSLv2_method", "Bogus_method", "TLSv1_3_method", "TLS"}) {
    CAPTURE(bad);
    context_options o;
    o.secure_protocol = bad;
    const auto created = secure_context::create(o);
    REQUIRE_FALSE(created);
    CHECK(error_code_name(created.error()) == "ERR_TLS_INVALID_PROTOCOL_METHOD");
  }
  context_options conflict;
  conflict.secure_protocol = "TLSv1_2_method";
  conflict.min_version = "TLSv1.3";
  CHECK(error_code_name(secure_context::create(conflict).error()) ==
        "ERR_TLS_PROTOCOL_VERSION_CONFLICT");
}
