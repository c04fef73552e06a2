// [attack3]: reproductions from an attack on the features added on 2026-12-06 (NPN, client
// pause_on_ocsp_response, server pause_on_verify alerts, what sessions carry). Each test
// states the behaviour the README / headers promise; each failed on the code it was found
// on (2026-12-07) and passes since the fix.
#include "support.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

using namespace tlsengine;

namespace {

template <class E> int count_events(const test::side_log& log) {
  int n = 0;
  for (const event& e : log.events)
    n += std::holds_alternative<E>(e) ? 1 : 0;
  return n;
}

session_handle last_session(test::harness& h) {
  if (!h.client_log.sessions.empty()) return h.client_log.sessions.back();
  return session_handle(h.client.session());
}

server_options verifying_server(const std::string& version) {
  auto so = test::server_opts();
  so.min_version = version;
  so.max_version = version;
  so.request_cert = true;
  so.ca = {test::load("ca.pem")};
  so.pause_on_verify = true;
  return so;
}

client_options client_with_certificate() {
  auto co = test::client_opts();
  co.cert = {test::load("client-chain.pem")};
  co.key = {test::load("client.key")};
  return co;
}

} // namespace

// README: "A session whose server was not verified at all ... is never resumed by a client
// that requires verification", and a session is resumed only when "judged by the same
// party". A pause_on_verify client that accepted a self-signed server with
// accept_unauthorized() (authorized() false) makes a session; the next pause_on_verify
// client resumes it without any verify_peer event and reports authorized() == true for a
// server nobody ever verified. (The server side carries the verdict correctly.)
TEST_CASE(
    "[attack3] client: a session accepted with accept_unauthorized never resumes as authorized",
    "[attack3][session][verify]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  server_options so;
  so.cert = {test::load("selfsigned.pem")};
  so.key = {test::load("selfsigned.key")};
  so.max_version = version;
  auto srv = server::create(so);
  REQUIRE(srv);
  auto co = test::client_opts();
  co.pause_on_verify = true;

  auto first = test::pair_on(*srv, co);
  first.run();
  const auto* asked = test::find_event<events::verify_peer>(first.client_log);
  REQUIRE(asked);
  REQUIRE(asked->preliminary);
  REQUIRE_FALSE(first.client.accept_unauthorized(asked->preliminary));
  first.run();
  first.server.write("hello");
  first.run();
  REQUIRE(first.client_log.secure == 1);
  REQUIRE_FALSE(first.client.authorized());

  auto again = co;
  again.session = last_session(first);
  auto second = test::pair_on(*srv, again);
  second.run();
  CAPTURE(second.client.is_session_reused(), second.client.authorized(),
          count_events<events::verify_peer>(second.client_log));
  // Either the application is asked again, or the resumed connection is not authorized.
  const bool asked_again = count_events<events::verify_peer>(second.client_log) == 1;
  CHECK((asked_again || !second.client.authorized()));
}

// connection.hpp: fail_decision sends "the fatal `alert`". A server that rejects a client
// certificate with fail_decision(code, 0) or fail_decision(code, 90) sends close_notify /
// user_canceled: in TLS 1.3 the client (whose handshake is complete) then sees a clean
// close (or nothing at all), never an error, although it was refused.
TEST_CASE("[attack3] server verify_peer: fail_decision refuses a non-error alert",
          "[attack3][verify][alert]") {
  const int alert = GENERATE(0, 90);
  CAPTURE(alert);
  auto srv = server::create(verifying_server("TLSv1.3"));
  REQUIRE(srv);
  auto h = test::pair_on(*srv, client_with_certificate());
  h.client.write("request");
  h.run();
  REQUIRE(test::find_event<events::verify_peer>(h.server_log));
  const auto refused = std::make_error_code(std::errc::permission_denied);
  // Refused: the decision stays open, nothing crossed; an error alert is then taken and
  // the client learns it was refused.
  CHECK(h.server.fail_decision(refused, alert) == make_error_code(errc::invalid_argument));
  h.run();
  CHECK_FALSE(h.server.error());
  CHECK(h.server_log.received.empty());
  REQUIRE_FALSE(h.server.fail_decision(refused, SSL_AD_ACCESS_DENIED));
  h.run();
  CHECK(h.server.error() == refused);
  CHECK(h.server_log.received.empty());
  CHECK(h.client.error());
  CHECK(h.client_log.alert == SSL_AD_ACCESS_DENIED);
}

// The same on the client's ocsp_response decision in TLS 1.2: fail_decision(code, 0) goes
// out as alert 0 (close_notify) in the middle of the handshake (TLS 1.3 maps it to
// handshake_failure).
TEST_CASE("[attack3] client ocsp_response: fail_decision(code, close_notify) is refused",
          "[attack3][ocsp][alert]") {
  auto so = test::server_opts();
  so.max_version = "TLSv1.2";
  auto srv = server::create(so);
  REQUIRE(srv);
  auto co = test::client_opts();
  co.pause_on_ocsp_response = true;
  auto h = test::pair_on(*srv, co);
  h.run();
  REQUIRE(test::find_event<events::ocsp_response>(h.client_log));
  const std::error_code answer =
      h.client.fail_decision(std::make_error_code(std::errc::permission_denied), 0);
  h.run();
  if (!answer) {
    CHECK(h.client.error());
    CHECK(h.client_log.alert != 0); // an error alert, not close_notify
    CHECK(h.server_log.alert != 0);
  } else {
    CHECK(answer == make_error_code(errc::invalid_argument));
  }
}

// pause_on_ocsp_response on a resumption: TLS 1.2 gives no ocsp_response event at all,
// TLS 1.3 gives a non-decision event with an empty response while ocsp_response() returns
// the carried one; in both the application that asked to judge the staple never does,
// although the session was made by a client that judged nothing (request_ocsp only).
// Expected (as for pause_on_verify's binding): either the session is not resumed, or the
// decision is offered with the carried response.
TEST_CASE("[attack3] pause_on_ocsp_response: a session judged by nobody is not resumed",
          "[attack3][ocsp][session]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  auto so = test::server_opts();
  so.max_version = version;
  so.pause_on_ocsp_request = true;
  auto srv = server::create(so);
  REQUIRE(srv);
  const std::vector<std::uint8_t> staple(8, 0x42); // the server staples what it likes

  auto lax = test::client_opts();
  lax.request_ocsp = true;
  auto first = test::pair_on(*srv, lax);
  first.run();
  REQUIRE_FALSE(first.server.set_ocsp_response(staple));
  first.run();
  first.server.write("x");
  first.run();
  REQUIRE(first.client_log.secure == 1);

  auto strict = test::client_opts();
  strict.pause_on_ocsp_response = true;
  strict.session = last_session(first);
  auto second = test::pair_on(*srv, strict);
  second.run();
  if (test::find_event<events::ocsp_request>(second.server_log)) {
    REQUIRE_FALSE(second.server.set_ocsp_response(staple));
    second.run();
  }
  const auto* ev = test::find_event<events::ocsp_response>(second.client_log);
  CAPTURE(second.client.is_session_reused(), ev != nullptr);
  if (ev && ev->decision) {
    REQUIRE_FALSE(second.client.ocsp_result({}));
    second.run(); // the log grows: find the event again
    ev = test::find_event<events::ocsp_response>(second.client_log);
  }
  if (ev) CHECK(ev->response == second.client.ocsp_response());
  CHECK((!second.client.is_session_reused() || (ev && ev->decision)));
}

// ---- what held (regressions worth keeping) ---------------------------------------------------

TEST_CASE("[attack3] server pause_on_verify: nothing crosses before the verdict",
          "[attack3][verify]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  const std::size_t chunk = GENERATE(std::size_t(1), static_cast<std::size_t>(-1));
  const int mode = GENERATE(0, 1, 2); // plain, client KeyUpdate(request), server end()
  const bool accept = GENERATE(false, true);
  CAPTURE(version, chunk, mode, accept);
  auto srv = server::create(verifying_server(version));
  REQUIRE(srv);
  auto h = test::pair_on(*srv, client_with_certificate());
  h.chunk = chunk;
  h.client.write("client-early");
  h.run();
  REQUIRE(test::find_event<events::verify_peer>(h.server_log));
  h.server.write("server-before-verdict");
  if (mode == 1 && version == "TLSv1.3") REQUIRE_FALSE(h.client.key_update(true));
  if (mode == 2) h.server.end();
  h.client.write("client-more");
  h.run();
  CHECK(h.client_log.received.empty());
  CHECK(h.server_log.received.empty());
  CHECK(h.client_log.sessions.empty());
  if (accept) {
    REQUIRE_FALSE(h.server.verify_result({}));
    h.run();
    CHECK_FALSE(h.client.error());
    CHECK_FALSE(h.server.error());
    CHECK(h.server_log.received == "client-earlyclient-more");
    CHECK(h.client_log.received == "server-before-verdict");
  } else {
    REQUIRE_FALSE(
        h.server.verify_result(std::error_code(X509_V_ERR_CERT_REVOKED, x509_category())));
    h.run();
    CHECK(h.client_log.alert == SSL_AD_CERTIFICATE_REVOKED);
    CHECK_FALSE(h.client_log.alert_sent);
    CHECK(h.client_log.received.empty());
    CHECK(h.server_log.received.empty());
    CHECK(h.client_log.sessions.empty());
  }
}

TEST_CASE("[attack3] NPN: clients with different lists on one secure_context", "[attack3][npn]") {
  context_options cx;
  cx.ca = {test::load("ca.pem")};
  cx.max_version = "TLSv1.2";
  auto ctx = secure_context::create(cx);
  REQUIRE(ctx);
  auto so = test::server_opts();
  so.max_version = "TLSv1.2";
  so.npn_protocols = {"b", "a"};
  auto srv = server::create(so);
  REQUIRE(srv);
  auto ca = test::client_opts();
  ca.secure_context = *ctx;
  ca.npn_protocols = {"a"};
  auto cb = ca;
  cb.npn_protocols = {"b"};
  auto cn = ca;
  cn.npn_protocols = {};
  auto ha = test::pair_on(*srv, ca);
  auto hb = test::pair_on(*srv, cb);
  auto hn = test::pair_on(*srv, cn);
  hb.run();
  ha.run();
  hn.run();
  CHECK(ha.client.npn_protocol() == "a");
  CHECK(hb.client.npn_protocol() == "b");
  CHECK(hn.client.npn_protocol().empty());
  CHECK(hn.client_log.secure == 1);
}

TEST_CASE("[attack3] client_options::session: garbage bytes never crash", "[attack3][session]") {
  auto srv = server::create(test::server_opts());
  REQUIRE(srv);
  auto first = test::pair_on(*srv, test::client_opts());
  first.run();
  first.server.write("x");
  first.run();
  const std::vector<std::uint8_t> bytes = last_session(first).to_bytes();
  REQUIRE_FALSE(bytes.empty());
  std::vector<std::vector<std::uint8_t>> candidates{
      {}, {0x30}, std::vector<std::uint8_t>(70000, 0x30)};
  for (std::size_t i = 1; i < bytes.size(); i += 53)
    candidates.emplace_back(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(i));
  for (std::size_t i = 0; i < bytes.size(); i += 17) {
    auto b = bytes;
    b[i] ^= 0x5a;
    candidates.push_back(std::move(b));
  }
  for (const auto& b : candidates) {
    auto co = test::client_opts();
    co.session = b;
    auto c = connection::client(co);
    if (!c) { // refused at once, with a reason
      CHECK(c.error());
      continue;
    }
    test::harness h;
    h.client = std::move(*c);
    h.server = srv->accept();
    h.run();
    CHECK((h.client_log.secure == 1 || h.client.error())); // never stuck
  }
}

// connection.hpp: a server's verify_result(code) sends "the alert OpenSSL's own verification
// would ... in TLS 1.2 inside the handshake". In a TLS 1.2 renegotiation that asks for a
// client certificate (renegotiate({request_cert = true})) the rejection's alert cannot be
// read by the client: it fails with "Provider routines::invalid aad" / internal error and
// sends internal_error (openssl s_client reports the same), where OpenSSL's own
// verification (pause_on_verify off) delivers unknown_ca / certificate_revoked properly.
TEST_CASE("[attack3] server pause_on_verify: a rejection inside a TLS 1.2 renegotiation",
          "[attack3][verify][renegotiation]") {
  auto so = test::server_opts();
  so.max_version = "TLSv1.2";
  so.ca = {test::load("ca.pem")};
  so.pause_on_verify = true;
  auto srv = server::create(so);
  REQUIRE(srv);
  auto h = test::pair_on(*srv, client_with_certificate());
  h.run();
  REQUIRE(h.client_log.secure == 1);
  REQUIRE(h.server_log.secure == 1);
  renegotiate_options ro;
  ro.request_cert = true;
  REQUIRE_FALSE(h.server.renegotiate(ro));
  h.run();
  REQUIRE(test::find_event<events::verify_peer>(h.server_log));
  const std::error_code revoked(X509_V_ERR_CERT_REVOKED, x509_category());
  REQUIRE_FALSE(h.server.verify_result(revoked));
  h.run();
  // Inside an encrypted renegotiation OpenSSL 3.0 sends no alert of our choosing: the
  // server fails with the verdict and OpenSSL's own fatal alert, under the keys in use,
  // which the client reads (it used to get undecryptable plaintext and fail on its own).
  CHECK(h.server.error() == revoked);
  CHECK(h.server_log.alert_sent);
  CAPTURE(h.client.error_message());
  CHECK(h.client_log.alert == h.server_log.alert); // received, not sent by the client
  CHECK_FALSE(h.client_log.alert_sent);
}

// The same renegotiation judged by OpenSSL itself (no pause_on_verify): the alert arrives.
TEST_CASE("[attack3] a rejection inside a TLS 1.2 renegotiation without pause_on_verify",
          "[attack3][verify][renegotiation]") {
  auto so = test::server_opts();
  so.max_version = "TLSv1.2";
  so.ca = {test::load("ca.pem")};
  auto srv = server::create(so);
  REQUIRE(srv);
  auto co = test::client_opts();
  co.cert = {test::load("selfsigned.pem")};
  co.key = {test::load("selfsigned.key")};
  auto h = test::pair_on(*srv, co);
  h.run();
  REQUIRE(h.client_log.secure == 1);
  renegotiate_options ro;
  ro.request_cert = true;
  REQUIRE_FALSE(h.server.renegotiate(ro));
  h.run();
  CHECK(h.server_log.alert_sent);
  CHECK(h.client_log.alert == h.server_log.alert);
  CHECK_FALSE(h.client_log.alert_sent);
}
