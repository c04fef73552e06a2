// Stricter than the OpenSSL we wrap: what raw OpenSSL drops, tlsengine keeps. A TLS 1.2
// ticket renewed on resumption reaches the client as a `session` event; the peer's
// signature scheme and the stapled OCSP response of the handshake that made a session are
// still answered after resuming it (both roles); a fatal alert received instead of
// close_notify is an error, not an end.
#include "support.hpp"

#include "catch_compat.hpp"

#include <string>
#include <vector>

using namespace tlsengine;

namespace {

/// Runs the pair, stapling `ocsp` whenever the server asks (every full handshake).
void run_stapling(test::harness& h, const std::vector<std::uint8_t>& ocsp) {
  for (int round = 0; round < 5; ++round) {
    h.run();
    if (test::find_event<events::ocsp_request>(h.server_log) == nullptr) return;
    if (h.server.set_ocsp_response(ocsp)) return; // answered already: nothing waits
  }
}

} // namespace

TEST_CASE("TLS 1.2: a ticket renewed on resumption reaches the client as a session event",
          "[stricter][session]") {
  auto so = test::server_opts();
  so.max_version = "TLSv1.2";
  so.ticket_keys = std::vector<std::uint8_t>(48, 1);
  auto srv = server::create(so);
  REQUIRE(srv);

  auto first = test::pair_on(*srv, test::client_opts());
  first.run();
  REQUIRE(first.client.is_secure());
  REQUIRE(first.client_log.sessions.size() == 1);

  // Without a new key the server resumes without a new ticket: no event (as Node).
  auto co = test::client_opts();
  co.session = first.client_log.sessions.back();
  auto same = test::pair_on(*srv, co);
  same.run();
  REQUIRE(same.client.is_session_reused());
  CHECK(same.client_log.sessions.empty());

  // A rotation makes the server renew the ticket while resuming: one event, before
  // `secure` as on a full handshake, with a session that resumes in turn.
  REQUIRE_FALSE(srv->rotate_ticket_keys(std::vector<std::uint8_t>(48, 2)));
  auto renewed = test::pair_on(*srv, co);
  renewed.run();
  REQUIRE(renewed.client.is_session_reused());
  REQUIRE(renewed.client_log.sessions.size() == 1);
  CHECK(renewed.client_log.sessions.back() != co.session.to_bytes());
  std::size_t session_at = 0, secure_at = 0;
  for (std::size_t i = 0; i < renewed.client_log.events.size(); ++i) {
    if (std::holds_alternative<events::session>(renewed.client_log.events[i])) session_at = i;
    if (std::holds_alternative<events::secure>(renewed.client_log.events[i])) secure_at = i;
  }
  CHECK(session_at < secure_at);

  // The renewed session resumes once the first key is gone from the ring.
  REQUIRE_FALSE(srv->rotate_ticket_keys(std::vector<std::uint8_t>(48, 3)));
  REQUIRE_FALSE(srv->rotate_ticket_keys(std::vector<std::uint8_t>(48, 4)));
  auto stale = test::pair_on(*srv, co);
  stale.run();
  CHECK_FALSE(stale.client.is_session_reused()); // key 1 is gone
  auto co2 = test::client_opts();
  co2.session = renewed.client_log.sessions.back();
  auto again = test::pair_on(*srv, co2);
  again.run();
  CHECK(again.client.is_session_reused()); // key 2 is still in the ring
}

TEST_CASE("a resumption still answers the peer's signature scheme and the OCSP response",
          "[stricter][getters]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  const std::vector<std::uint8_t> ocsp = test::load_bytes("ocsp-server-rsa.der");
  auto so = test::server_opts();
  so.max_version = version;
  so.pause_on_ocsp_request = true;
  so.request_cert = true;
  so.ca = {test::load("ca.pem")};
  auto srv = server::create(so);
  REQUIRE(srv);
  auto co = test::client_opts();
  co.request_ocsp = true;
  co.cert = {test::load("client-chain.pem")};
  co.key = {test::load("client.key")};
  co.sigalgs = "ECDSA+SHA256:RSA-PSS+SHA384:RSA-PSS+SHA256";

  auto first = test::pair_on(*srv, co);
  run_stapling(first, ocsp);
  REQUIRE(first.client.is_secure());
  REQUIRE_FALSE(first.client.is_session_reused());
  REQUIRE_FALSE(first.client_log.sessions.empty());
  const std::string server_signed = first.client.peer_signature_scheme();
  const std::string client_signed = first.server.peer_signature_scheme();
  CHECK(server_signed == "RSA-PSS+SHA384"); // the first RSA scheme the client accepts
  CHECK_FALSE(client_signed.empty());
  CHECK(first.client.ocsp_response() == ocsp);
  CHECK(first.server.ocsp_response().empty()); // servers receive none

  co.session = first.client_log.sessions.back();
  auto resumed = test::pair_on(*srv, co);
  run_stapling(resumed, ocsp);
  REQUIRE(resumed.client.is_secure());
  REQUIRE(resumed.client.is_session_reused());
  REQUIRE(resumed.server.is_session_reused());
  // Nobody signed and nothing was stapled in this handshake: the original's answers.
  CHECK(test::find_event<events::ocsp_request>(resumed.server_log) == nullptr);
  CHECK(resumed.client.peer_signature_scheme() == server_signed);
  CHECK(resumed.server.peer_signature_scheme() == client_signed);
  CHECK(resumed.client.ocsp_response() == ocsp);

  // A session from the resumed connection (TLS 1.3 sends new tickets) carries them on.
  if (!resumed.client_log.sessions.empty()) {
    co.session = resumed.client_log.sessions.back();
    auto third = test::pair_on(*srv, co);
    run_stapling(third, ocsp);
    REQUIRE(third.client.is_session_reused());
    CHECK(third.client.peer_signature_scheme() == server_signed);
    CHECK(third.server.peer_signature_scheme() == client_signed);
    CHECK(third.client.ocsp_response() == ocsp);
  }
}

TEST_CASE("a fatal alert instead of close_notify is an error, not an end",
          "[stricter][lifecycle]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  auto so = test::server_opts();
  so.max_version = version;
  // A record the server cannot decrypt makes its OpenSSL send a fatal bad_record_mac:
  // what reaches the client is that alert, never a close_notify.
  const std::uint8_t garbage[] = {23, 3,  3,  0,  32, 1,  2,  3,  4,  5,  6,  7,  8,
                                  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                  22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
  auto h2 = test::make_pair(so, test::client_opts());
  h2.run();
  REQUIRE(h2.server.is_secure());
  h2.server.feed(bytes_view(garbage, sizeof garbage));
  test::harness::drain(h2.server, h2.server_log, h2.read_size);
  REQUIRE(h2.server_log.errors == 1);
  REQUIRE_FALSE(h2.server.pending_output().empty()); // its bad_record_mac alert
  h2.run();
  CHECK(h2.client_log.errors == 1);
  CHECK(h2.client_log.ends == 0);
  CHECK(h2.client_log.alert == SSL_AD_BAD_RECORD_MAC);
  CHECK_FALSE(h2.client_log.alert_sent);
  CHECK_FALSE(h2.client.received_close_notify());
}

TEST_CASE("set_ocsp_response refuses a staple no TLS 1.2 client accepts; the decision stays open",
          "[stricter][ocsp]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  CAPTURE(version);
  auto so = test::server_opts();
  so.max_version = version;
  so.pause_on_ocsp_request = true;
  auto srv = server::create(so);
  REQUIRE(srv);
  auto co = test::client_opts();
  co.request_ocsp = true;
  auto h = test::pair_on(*srv, co);
  h.run();
  REQUIRE(test::find_event<events::ocsp_request>(h.server_log));
  const std::vector<std::uint8_t> huge(90000, 0x30);
  CHECK(h.server.set_ocsp_response(huge) == make_error_code(errc::invalid_argument));
  // The largest accepted one (a 16 KiB message less its header) reaches the client whole.
  const std::vector<std::uint8_t> largest(16 * 1024 - 4, 0x30);
  REQUIRE_FALSE(h.server.set_ocsp_response(largest));
  h.run();
  REQUIRE(h.client.is_secure());
  const auto* got = test::find_event<events::ocsp_response>(h.client_log);
  REQUIRE(got);
  CHECK(got->response == largest);
}
