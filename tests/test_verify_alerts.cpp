// The alert a verdict maps to, as the peer would have seen it from OpenSSL itself: a server's
// pause_on_verify rejection (TLS 1.2 inside the handshake, TLS 1.3 as the first record after
// the server's flight, sealed by detail/tls13_record_seal.hpp) and a client's
// pause_on_ocsp_response. Against our own engines, `openssl s_client -cert` and
// `openssl s_server -status_file`, and the probe that shows why (tests/probes).
#include "net_support.hpp"
#include "support.hpp"

#include "catch_compat.hpp"

#include <tlsengine/detail/tls13_record_seal.hpp>

#include <openssl/x509_vfy.h>

#include <fstream>
#include <iterator>

using namespace tlsengine;

namespace {

std::string cert_path(const std::string& name) { return test::cert_dir() + "/" + name; }

std::vector<std::uint8_t> file_bytes(const std::string& name) {
  std::ifstream in(cert_path(name), std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

template <class T> const T* first_event(const test::side_log& log) {
  for (const event& e : log.events)
    if (const T* found = std::get_if<T>(&e)) return found;
  return nullptr;
}

server_options verifying_server(const std::string& version) {
  auto so = test::server_opts();
  so.max_version = version;
  so.min_version = version;
  so.request_cert = true;
  so.ca = {test::load("ca.pem")};
  so.pause_on_verify = true;
  return so;
}

client_options certified_client() {
  auto co = test::client_opts();
  co.cert = {test::load("client-chain.pem")};
  co.key = {test::load("client.key")};
  return co;
}

const std::error_code revoked(X509_V_ERR_CERT_REVOKED, x509_category());

} // namespace

// ---- the probe ---------------------------------------------------------------------------

TEST_CASE("probe: SSL_set_retry_verify pauses a client's handshake, not a server's",
          "[verify][probe]") {
  auto child = net::child_process::spawn({TLSENGINE_RETRY_VERIFY_PROBE, test::cert_dir()});
  REQUIRE(child.wait_exit(net::deadline(std::chrono::seconds(20))));
  const std::string& out = child.out;
  INFO(child.describe());
  // The control: a client's callback pauses (and is called again on the retry).
  CHECK(out.find("TLSv1.2 client paused=1 calls=2 done=1") != std::string::npos);
  CHECK(out.find("TLSv1.3 client paused=1 calls=2 done=1") != std::string::npos);
  // A server's request is ignored: no pause, one call, the handshake completes. Should a
  // library honour it, the server-side verify_peer could use it instead of holding the
  // client's ChangeCipherSpec (TLS 1.2) and sealing the alert (TLS 1.3).
  CHECK(out.find("TLSv1.2 server paused=0 calls=1 done=1") != std::string::npos);
  CHECK(out.find("TLSv1.3 server paused=0 calls=1 done=1") != std::string::npos);
}

// ---- the sealing helper, against records OpenSSL wrote -----------------------------------

namespace {
struct raw_pair {
  SSL_CTX* server_ctx = nullptr;
  SSL_CTX* client_ctx = nullptr;
  SSL* server = nullptr;
  SSL* client = nullptr;
  BIO *s_in = nullptr, *s_out = nullptr, *c_in = nullptr, *c_out = nullptr;
  ~raw_pair() {
    SSL_free(server);
    SSL_free(client);
    SSL_CTX_free(server_ctx);
    SSL_CTX_free(client_ctx);
  }
  static std::string& secret_line() {
    static std::string line;
    return line;
  }
  /// Records the server wrote since SERVER_TRAFFIC_SECRET_0, counted as the engine counts
  /// them (one SSL3_RT_HEADER message per record written): the key's next sequence number.
  static int& records_under_key() {
    static int count = -1;
    return count;
  }
  static std::vector<std::uint8_t> drain(BIO* from) {
    std::vector<std::uint8_t> out;
    unsigned char buffer[4096];
    int n = 0;
    while ((n = BIO_read(from, buffer, sizeof buffer)) > 0)
      out.insert(out.end(), buffer, buffer + n);
    return out;
  }
  bool handshake(const char* suite) {
    server_ctx = SSL_CTX_new(TLS_server_method());
    client_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(server_ctx, TLS1_3_VERSION);
    SSL_CTX_set_min_proto_version(client_ctx, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(server_ctx, suite);
    SSL_CTX_set_ciphersuites(client_ctx, suite);
    // OpenSSL >= 3.2 keeps CCM_8 (a 64-bit tag) below the default security level.
    SSL_CTX_set_security_level(server_ctx, 0);
    SSL_CTX_set_security_level(client_ctx, 0);
    SSL_CTX_set_num_tickets(server_ctx, 0); // the first record under the key is ours
    SSL_CTX_use_certificate_chain_file(server_ctx, cert_path("server-rsa-chain.pem").c_str());
    SSL_CTX_use_PrivateKey_file(server_ctx, cert_path("server-rsa.key").c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_set_keylog_callback(server_ctx, [](const SSL*, const char* line) {
      if (std::string(line).rfind("SERVER_TRAFFIC_SECRET_0 ", 0) == 0) {
        secret_line() = line;
        records_under_key() = 0;
      }
    });
    SSL_CTX_set_msg_callback(
        server_ctx, [](int write_p, int, int type, const void*, size_t, SSL*, void*) {
          if (write_p != 0 && type == SSL3_RT_HEADER && records_under_key() >= 0)
            ++records_under_key();
        });
    server = SSL_new(server_ctx);
    client = SSL_new(client_ctx);
    s_in = BIO_new(BIO_s_mem());
    s_out = BIO_new(BIO_s_mem());
    c_in = BIO_new(BIO_s_mem());
    c_out = BIO_new(BIO_s_mem());
    SSL_set_bio(server, s_in, s_out);
    SSL_set_bio(client, c_in, c_out);
    SSL_set_accept_state(server);
    SSL_set_connect_state(client);
    bool s_done = false, c_done = false;
    for (int i = 0; i < 20 && !(s_done && c_done); ++i) {
      c_done = c_done || SSL_do_handshake(client) == 1;
      auto bytes = drain(c_out);
      BIO_write(s_in, bytes.data(), static_cast<int>(bytes.size()));
      s_done = s_done || SSL_do_handshake(server) == 1;
      bytes = drain(s_out);
      BIO_write(c_in, bytes.data(), static_cast<int>(bytes.size()));
    }
    return s_done && c_done;
  }
};
} // namespace

TEST_CASE("tls13_record_seal: the alert record OpenSSL itself writes, byte for byte",
          "[verify][seal]") {
  const char* suite =
      GENERATE("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
               "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256");
  const int data_records = GENERATE(0, 1, 3);
  CAPTURE(suite, data_records);
  raw_pair p;
  raw_pair::secret_line().clear();
  raw_pair::records_under_key() = -1;
  REQUIRE(p.handshake(suite));
  const std::vector<std::uint8_t> secret =
      detail::keylog_secret(raw_pair::secret_line(), "SERVER_TRAFFIC_SECRET_0");
  REQUIRE_FALSE(secret.empty());
  for (int i = 0; i < data_records; ++i) {
    std::size_t written = 0;
    REQUIRE(SSL_write_ex(p.server, "x", 1, &written) == 1);
  }
  raw_pair::drain(p.s_out);
  // The engine's proof that its sealed record is the first under the key.
  CHECK(raw_pair::records_under_key() == data_records);
  // close_notify: the one alert OpenSSL writes on request (level warning, description 0).
  SSL_shutdown(p.server);
  const std::vector<std::uint8_t> openssl_record = raw_pair::drain(p.s_out);
  const std::vector<std::uint8_t> ours =
      detail::seal_tls13_alert(SSL_get_current_cipher(p.server), secret, SSL3_AL_WARNING,
                               SSL_AD_CLOSE_NOTIFY, static_cast<std::uint64_t>(data_records));
  REQUIRE_FALSE(ours.empty());
  CHECK(ours == openssl_record);
  if (data_records == 0) {
    // And the client decrypts a fatal one as the first record it reads: it reports the
    // alert we chose.
    const std::vector<std::uint8_t> fatal = detail::seal_tls13_alert(
        SSL_get_current_cipher(p.server), secret, SSL3_AL_FATAL, SSL_AD_CERTIFICATE_REVOKED);
    BIO_write(p.c_in, fatal.data(), static_cast<int>(fatal.size()));
    char buffer[16];
    std::size_t n = 0;
    ERR_clear_error();
    CHECK(SSL_read_ex(p.client, buffer, sizeof buffer, &n) == 0);
    CHECK(ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED);
    ERR_clear_error();
  }
}

TEST_CASE("tls13_record_seal: bad inputs give no record", "[verify][seal]") {
  CHECK(
      detail::keylog_secret("CLIENT_TRAFFIC_SECRET_0 00 0102", "SERVER_TRAFFIC_SECRET_0").empty());
  CHECK(
      detail::keylog_secret("SERVER_TRAFFIC_SECRET_0 00 01zz", "SERVER_TRAFFIC_SECRET_0").empty());
  CHECK(detail::keylog_secret("SERVER_TRAFFIC_SECRET_0 00 0a0B", "SERVER_TRAFFIC_SECRET_0") ==
        std::vector<std::uint8_t>{0x0a, 0x0b});
  CHECK(detail::seal_tls13_alert(nullptr, std::vector<std::uint8_t>(32, 1), 2, 40).empty());
}
// ---- server verify_peer: the alert, both versions, our own client ------------------------

TEST_CASE("verify_peer on the server: a rejection sends the verdict's alert",
          "[verify][decision][alert]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  auto h = test::make_pair(verifying_server(version), certified_client());
  h.client.write("secret request");
  h.run();
  REQUIRE(first_event<events::verify_peer>(h.server_log));
  CHECK(h.server_log.secure == 0);
  std::error_code ec;
  h.server.write("secret reply", ec);
  h.run();
  CHECK(h.client_log.received.empty());

  std::error_code verdict;
  int alert = -1;
  SECTION("CERT_REVOKED: certificate_revoked") {
    verdict = revoked;
    alert = SSL_AD_CERTIFICATE_REVOKED;
    REQUIRE_FALSE(h.server.verify_result(verdict));
  }
  SECTION("CERT_HAS_EXPIRED: certificate_expired") {
    verdict = std::error_code(X509_V_ERR_CERT_HAS_EXPIRED, x509_category());
    alert = SSL_AD_CERTIFICATE_EXPIRED;
    REQUIRE_FALSE(h.server.verify_result(verdict));
  }
  SECTION("UNABLE_TO_GET_ISSUER_CERT_LOCALLY: unknown_ca") {
    verdict = std::error_code(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, x509_category());
    alert = SSL_AD_UNKNOWN_CA;
    REQUIRE_FALSE(h.server.verify_result(verdict));
  }
  SECTION("an application code: access_denied") {
    verdict = std::make_error_code(std::errc::permission_denied);
    alert = SSL_AD_ACCESS_DENIED;
    REQUIRE_FALSE(h.server.verify_result(verdict));
    verdict = make_error_code(errc::verify_rejected);
  }
  SECTION("fail_decision: exactly the application's alert and code") {
    verdict = std::make_error_code(std::errc::permission_denied);
    alert = SSL_AD_INSUFFICIENT_SECURITY;
    REQUIRE_FALSE(h.server.fail_decision(verdict, alert));
  }
  h.run();
  CHECK(h.server.error() == verdict);
  CHECK(h.server_log.alert == alert);
  CHECK(h.server_log.alert_sent);
  // The client read the alert: TLS 1.2 inside its handshake, TLS 1.3 after its own.
  CHECK(h.client_log.errors == 1);
  CHECK(h.client_log.alert == alert);
  CHECK_FALSE(h.client_log.alert_sent);
  CHECK(h.client_log.secure == (version == "TLSv1.3" ? 1 : 0));
  // Not one application byte either way, and no session for a rejected client.
  CHECK(h.server_log.received.empty());
  CHECK(h.client_log.received.empty());
  CHECK(h.client_log.sessions.empty());
}

TEST_CASE("verify_peer on the server: accepted, the tickets follow and resume",
          "[verify][decision][alert]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  auto srv = server::create(verifying_server(version));
  REQUIRE(srv);
  auto co = certified_client();
  auto first = test::harness{};
  {
    auto c = connection::client(co);
    REQUIRE(c);
    first.client = std::move(*c);
    first.server = srv->accept();
  }
  first.client.write("request");
  first.run();
  REQUIRE(first_event<events::verify_peer>(first.server_log));
  // No ticket while the verdict waits: it would let a client not yet accepted resume.
  CHECK(first.client_log.sessions.empty());
  REQUIRE_FALSE(first.server.verify_result({}));
  first.server.write("reply");
  first.run();
  CHECK(first.server_log.secure == 1);
  CHECK(first.server_log.received == "request");
  CHECK(first.client_log.received == "reply");
  if (version == "TLSv1.3") CHECK(first.client_log.sessions.size() == 2); // OpenSSL's default
  REQUIRE_FALSE(first.client_log.sessions.empty());

  co.session = session_handle(first.client_log.sessions.back());
  auto again = connection::client(co);
  REQUIRE(again);
  test::harness second;
  second.client = std::move(*again);
  second.server = srv->accept();
  second.client.write("resumed");
  second.run();
  CHECK(second.client.is_session_reused());
  CHECK(second.server_log.received == "resumed");
  CHECK(second.server.authorized()); // the accepted verdict stays with the session
  CHECK_FALSE(first_event<events::verify_peer>(second.server_log)); // nothing to judge again
}

TEST_CASE("verify_peer on the server: answered before the client's flight ends",
          "[verify][decision][alert]") {
  // The client's flight arrives one byte at a time: the verdict may come while OpenSSL has
  // read the Certificate and not yet the rest.
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  const bool accept = GENERATE(true, false);
  CAPTURE(version, accept);
  auto h = test::make_pair(verifying_server(version), certified_client());
  h.chunk = 1;
  h.client.write("request");
  // Run until the decision appears, answer at once, then finish.
  for (int i = 0; i < 200000 && !first_event<events::verify_peer>(h.server_log); ++i) {
    test::harness::drain(h.server, h.server_log, h.read_size);
    bytes_view out = h.client.pending_output();
    if (out.empty()) {
      out = h.server.pending_output();
      if (out.empty()) break;
      const std::size_t n = h.client.feed(out);
      h.server.consume_output(n);
      test::harness::drain(h.client, h.client_log, h.read_size);
      continue;
    }
    h.client.consume_output(h.server.feed(out.subview(0, 1)));
  }
  REQUIRE(first_event<events::verify_peer>(h.server_log));
  REQUIRE_FALSE(h.server.verify_result(accept ? std::error_code() : revoked));
  h.run();
  if (accept) {
    CHECK(h.server_log.secure == 1);
    CHECK(h.server_log.received == "request");
  } else {
    CHECK(h.client_log.alert == SSL_AD_CERTIFICATE_REVOKED);
    CHECK(h.server_log.received.empty());
  }
}

// ---- against openssl s_client -cert --------------------------------------------------------

TEST_CASE("verify_peer on the server: openssl s_client sees the alert",
          "[verify][decision][alert][interop]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  const bool accept = GENERATE(false, true);
  CAPTURE(version, accept);
  auto srv = server::create(verifying_server(version));
  REQUIRE(srv);
  std::uint16_t port = 0;
  net::unique_fd listener = net::listen_loopback(port);
  net::child_process client = net::child_process::spawn(
      {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-servername",
       "localhost", "-CAfile", cert_path("ca.pem"), "-cert", cert_path("client.pem"), "-key",
       cert_path("client.key"), "-cert_chain", cert_path("intermediate.pem"),
       version == "TLSv1.3" ? "-tls1_3" : "-tls1_2", "-ign_eof"});
  net::unique_fd fd = net::accept_one(listener, client, net::deadline(std::chrono::seconds(10)));
  REQUIRE(fd);
  client.queue_stdin("hello from s_client\n");
  connection conn = srv->accept();
  net::tls_socket s(conn, std::move(fd));
  bool asked = false;
  s.on_event = [&](net::tls_socket& socket, const event& e) {
    if (!std::holds_alternative<events::verify_peer>(e)) return;
    asked = true;
    CHECK_FALSE(socket.connection().verify_result(accept ? std::error_code() : revoked));
  };
  if (accept) {
    s.on_data = [](net::tls_socket& socket) {
      std::error_code ec;
      socket.connection().write("accepted\n", ec);
    };
    const bool done = s.run_until(
        [&] {
          return s.received == "hello from s_client\n" &&
                 client.out.find("accepted") != std::string::npos;
        },
        &client, net::deadline(std::chrono::seconds(20)));
    INFO(s.describe() << "\n" << client.describe());
    CHECK(done);
    CHECK(asked);
  } else {
    const bool done = s.run_until([&] { return conn.error() && !s.output_pending(); }, &client,
                                  net::deadline(std::chrono::seconds(20)));
    s.close_socket();
    client.wait_exit(net::deadline(std::chrono::seconds(10)));
    INFO(s.describe() << "\n" << client.describe());
    CHECK(done);
    CHECK(asked);
    CHECK(s.received.empty());
    CHECK(client.out.find("hello") == std::string::npos);
    // s_client prints OpenSSL's reason for the alert it read.
    const std::string all = client.out + client.err;
    CHECK(all.find("alert certificate revoked") != std::string::npos);
    CHECK(all.find("SSL alert number 44") != std::string::npos);
  }
  client.kill_now();
}

// ---- client pause_on_ocsp_response -----------------------------------------------------------

TEST_CASE("pause_on_ocsp_response: the client judges the stapled response in the handshake",
          "[ocsp][decision][alert]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  const auto ocsp = file_bytes("ocsp-server-rsa.der");
  REQUIRE_FALSE(ocsp.empty());
  auto so = test::server_opts();
  so.max_version = version;
  so.min_version = version;
  so.pause_on_ocsp_request = true;
  auto srv = server::create(so);
  REQUIRE(srv);
  auto co = test::client_opts();
  co.pause_on_ocsp_response = true;
  auto c = connection::client(co);
  REQUIRE(c);
  test::harness h;
  h.client = std::move(*c);
  h.server = srv->accept();
  h.client.write("request");
  h.run();
  REQUIRE(first_event<events::ocsp_request>(h.server_log));
  REQUIRE_FALSE(h.server.set_ocsp_response(ocsp));
  h.run();
  const auto* asked = first_event<events::ocsp_response>(h.client_log);
  REQUIRE(asked);
  CHECK(asked->decision);
  CHECK(asked->response == ocsp);
  CHECK(h.client_log.secure == 0);
  CHECK(h.server_log.secure == 0); // the client's flight is held: the server waits
  CHECK(h.server_log.received.empty());

  SECTION("accepted") {
    REQUIRE_FALSE(h.client.ocsp_result({}));
    h.run();
    CHECK(h.client_log.secure == 1);
    CHECK(h.server_log.received == "request");
    CHECK(h.client.ocsp_result({}) == make_error_code(errc::invalid_state)); // answered once
  }
  SECTION("accepted by resume()") {
    REQUIRE_FALSE(h.client.resume());
    h.run();
    CHECK(h.client_log.secure == 1);
  }
  SECTION("rejected: bad_certificate_status_response inside the handshake") {
    const auto code = std::make_error_code(std::errc::permission_denied);
    REQUIRE_FALSE(h.client.ocsp_result(code));
    h.run();
    CHECK(h.client.error() == code);
    CHECK(h.client_log.alert == SSL_AD_BAD_CERTIFICATE_STATUS_RESPONSE);
    CHECK(h.client_log.alert_sent);
    CHECK(h.server_log.alert == SSL_AD_BAD_CERTIFICATE_STATUS_RESPONSE);
    CHECK_FALSE(h.server_log.alert_sent);
    CHECK(h.server_log.secure == 0);
    CHECK(h.server_log.received.empty());
  }
  SECTION("fail_decision with another alert") {
    const auto code = std::make_error_code(std::errc::permission_denied);
    REQUIRE_FALSE(h.client.fail_decision(code, SSL_AD_CERTIFICATE_REVOKED));
    h.run();
    CHECK(h.client.error() == code);
    CHECK(h.server_log.alert == SSL_AD_CERTIFICATE_REVOKED);
    CHECK(h.server_log.received.empty());
  }
}

TEST_CASE("pause_on_ocsp_response against openssl s_server -status_file",
          "[ocsp][decision][alert][interop]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  const bool accept = GENERATE(true, false);
  CAPTURE(version, accept);
  const auto ocsp = file_bytes("ocsp-server-rsa.der");
  net::child_process server;
  net::unique_fd socket;
  for (int attempt = 0; attempt < 5 && !socket; ++attempt) {
    const std::uint16_t port = net::pick_free_port();
    server = net::child_process::spawn(
        {"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
         cert_path("server-rsa.pem"), "-key", cert_path("server-rsa.key"), "-cert_chain",
         cert_path("intermediate.pem"), "-status_file", cert_path("ocsp-server-rsa.der"),
         version == "TLSv1.3" ? "-tls1_3" : "-tls1_2"});
    const net::deadline limit(std::chrono::seconds(10));
    while (server.running() && !limit.expired() && !socket) {
      if (server.out.find("ACCEPT") != std::string::npos) {
        int error = 0;
        socket = net::try_connect(port, limit, error);
        if (!socket && error != ECONNREFUSED) break;
      }
      server.poll_output(limit.poll_ms(20));
    }
    if (!socket) server.kill_now();
  }
  REQUIRE(socket);
  auto co = test::client_opts();
  co.pause_on_ocsp_response = true;
  auto c = connection::client(co);
  REQUIRE(c);
  const auto code = std::make_error_code(std::errc::permission_denied);
  net::tls_socket s(*c, std::move(socket));
  std::vector<std::uint8_t> stapled;
  s.on_event = [&](net::tls_socket& socket_, const event& e) {
    const auto* r = std::get_if<events::ocsp_response>(&e);
    if (r == nullptr || !r->decision) return;
    stapled = r->response;
    CHECK_FALSE(socket_.connection().ocsp_result(accept ? std::error_code() : code));
  };
  if (accept) {
    std::error_code ec;
    c->write("ping\n", ec);
    const bool done =
        s.run_until([&] { return s.secure == 1 && server.out.find("ping") != std::string::npos; },
                    &server, net::deadline(std::chrono::seconds(20)));
    INFO(s.describe() << "\n" << server.describe());
    CHECK(done);
  } else {
    const bool done = s.run_until([&] { return c->error() && !s.output_pending(); }, &server,
                                  net::deadline(std::chrono::seconds(20)));
    // s_server reports the alert it read (and goes on accepting: wait for its words).
    s.run_until(
        [&] {
          return server.err.find("alert number 113") != std::string::npos ||
                 server.out.find("alert number 113") != std::string::npos;
        },
        &server, net::deadline(std::chrono::seconds(10)));
    INFO(s.describe() << "\n" << server.describe());
    CHECK(done);
    CHECK(c->error() == code);
    CHECK(s.error_event->alert == SSL_AD_BAD_CERTIFICATE_STATUS_RESPONSE);
    CHECK((server.out + server.err).find("SSL alert number 113") != std::string::npos);
    CHECK(s.secure == 0);
  }
  CHECK(stapled == ocsp);
  server.kill_now();
}

// ---- re-entrancy: the new answers from inside a callback --------------------------------------

TEST_CASE("ocsp_result, verify_result and destroy() from inside a callback while a verdict waits",
          "[ocsp][verify][reentrancy]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  SECTION("client ocsp_response") {
    auto so = test::server_opts();
    so.max_version = so.min_version = version;
    so.pause_on_ocsp_request = true;
    auto co = test::client_opts();
    co.pause_on_ocsp_response = true;
    auto h = test::make_pair(so, co);
    std::error_code inside;
    bool destroy_inside = false;
    int calls = 0;
    h.client.enable_trace([&](std::string_view) {
      ++calls;
      inside = h.client.ocsp_result({});
      if (destroy_inside) h.client.destroy();
    });
    h.run();
    REQUIRE_FALSE(h.server.set_ocsp_response(file_bytes("ocsp-server-rsa.der")));
    h.run();
    REQUIRE(first_event<events::ocsp_response>(h.client_log));
    CHECK(calls > 0);
    CHECK(inside == errc::invalid_state); // never answered from inside OpenSSL
    destroy_inside = true;
    REQUIRE_FALSE(h.client.ocsp_result({})); // the trace runs inside and destroys it
    h.run();
    CHECK(h.client.is_destroyed());
    CHECK(h.server_log.received.empty());
  }
  SECTION("server verify_peer") {
    auto h = test::make_pair(verifying_server(version), certified_client());
    std::error_code inside;
    bool destroy_inside = false;
    h.server.enable_trace([&](std::string_view) {
      inside = h.server.verify_result(revoked);
      if (destroy_inside) h.server.destroy();
    });
    h.run();
    REQUIRE(first_event<events::verify_peer>(h.server_log));
    CHECK(inside == errc::invalid_state);
    destroy_inside = true;
    REQUIRE_FALSE(h.server.verify_result({}));
    h.run();
    CHECK(h.client_log.received.empty());
    CHECK(h.server_log.received.empty());
  }
}
