// Ticket key rotation: a server's ring of ticket keys. New tickets use the newest key;
// tickets under the previous ones (server_options::previous_ticket_keys) still resume and
// are renewed under the newest; older ones fall back to a full handshake. TLS 1.2 and 1.3.
#include "support.hpp"

#include "catch_compat.hpp"

#include <memory>
#include <vector>

using namespace tlsengine;

namespace {

test::harness rotation_pair(const server& srv, const std::vector<std::uint8_t>& session) {
  test::harness h;
  auto co = test::client_opts();
  co.session = session;
  auto cli = connection::client(co);
  REQUIRE(cli);
  h.client = std::move(*cli);
  h.server = srv.accept();
  return h;
}

std::vector<std::uint8_t> key(std::uint8_t fill) { return std::vector<std::uint8_t>(48, fill); }

/// The 16-byte key name that opens a ticket (Node's layout: name first).
std::vector<std::uint8_t> name_of(const std::vector<std::uint8_t>& ticket) {
  REQUIRE(ticket.size() >= 16);
  return std::vector<std::uint8_t>(ticket.begin(), ticket.begin() + 16);
}

struct outcome {
  bool secure = false;
  bool reused = false;
  std::vector<std::uint8_t> session; // the newest session the client received
  std::vector<std::uint8_t> ticket;  // its ticket
};

outcome connect_with(const server& srv, const std::vector<std::uint8_t>& session) {
  auto h = rotation_pair(srv, session);
  h.client.write("x");
  h.run();
  outcome o;
  o.secure = h.client.is_secure() && h.server.is_secure();
  o.reused = h.client.is_session_reused();
  CHECK(o.reused == h.server.is_session_reused());
  // A renewed ticket is a `session` event in both versions (test_stricter.cpp); without
  // one, the resumed session is connection::session().
  o.session = h.client_log.sessions.empty() ? h.client.session() : h.client_log.sessions.back();
  o.ticket = h.client.tls_ticket();
  return o;
}

} // namespace

TEST_CASE("ticket key ring: rotation keeps tickets of previous keys, renews them",
          "[session][ticket-ring]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  auto so = test::server_opts();
  so.max_version = version;
  so.ticket_keys = key(1);
  auto srv = server::create(so);
  REQUIRE(srv);
  REQUIRE(srv->ticket_key_ring() == std::vector<std::vector<std::uint8_t>>{key(1)});

  const outcome first = connect_with(*srv, {});
  REQUIRE(first.secure);
  REQUIRE_FALSE(first.session.empty());
  CHECK(name_of(first.ticket) == name_of(key(1)));

  // One rotation: the old ticket resumes, and the client gets a ticket under the new key.
  REQUIRE_FALSE(srv->rotate_ticket_keys(key(2)));
  CHECK(srv->ticket_keys() == key(2)); // Node's getTicketKeys(): the key in use
  CHECK(srv->ticket_key_ring() == std::vector<std::vector<std::uint8_t>>{key(2), key(1)});
  const outcome renewed = connect_with(*srv, first.session);
  CHECK(renewed.secure);
  CHECK(renewed.reused);
  REQUIRE_FALSE(renewed.session.empty());
  CHECK(name_of(renewed.ticket) == name_of(key(2)));

  // Two rotations: the first ticket is under the oldest key kept (default: 2 previous).
  REQUIRE_FALSE(srv->rotate_ticket_keys(key(3)));
  CHECK(srv->ticket_key_ring() == std::vector<std::vector<std::uint8_t>>{key(3), key(2), key(1)});
  CHECK(connect_with(*srv, first.session).reused);

  // Three rotations: key 1 left the ring, a full handshake; the renewed ticket still resumes.
  REQUIRE_FALSE(srv->rotate_ticket_keys(key(4)));
  CHECK(srv->ticket_key_ring() == std::vector<std::vector<std::uint8_t>>{key(4), key(3), key(2)});
  const outcome dropped = connect_with(*srv, first.session);
  CHECK(dropped.secure);
  CHECK_FALSE(dropped.reused);
  CHECK(name_of(dropped.ticket) == name_of(key(4)));
  CHECK(connect_with(*srv, renewed.session).reused);

  // set_ticket_keys keeps Node's meaning: one key, the ring forgotten.
  REQUIRE_FALSE(srv->set_ticket_keys(key(5)));
  CHECK(srv->ticket_key_ring() == std::vector<std::vector<std::uint8_t>>{key(5)});
  CHECK_FALSE(connect_with(*srv, renewed.session).reused);
}

TEST_CASE("ticket key ring: with one previous key, a ticket two rotations old is refused",
          "[session][ticket-ring]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  auto so = test::server_opts();
  so.max_version = version;
  so.ticket_keys = key(1);
  so.previous_ticket_keys = 1;
  auto srv = server::create(so);
  REQUIRE(srv);
  const outcome first = connect_with(*srv, {});
  REQUIRE(first.secure);
  REQUIRE_FALSE(srv->rotate_ticket_keys(key(2)));
  CHECK(connect_with(*srv, first.session).reused);
  REQUIRE_FALSE(srv->rotate_ticket_keys()); // a random key
  const auto ring = srv->ticket_key_ring();
  REQUIRE(ring.size() == 2);
  CHECK(ring[1] == key(2));
  CHECK(ring[0].size() == 48);
  const outcome full = connect_with(*srv, first.session);
  CHECK(full.secure);
  CHECK_FALSE(full.reused);
  CHECK(name_of(full.ticket) == name_of(ring[0]));
}

TEST_CASE("ticket key ring: rotating while clients resume", "[session][ticket-ring]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  auto so = test::server_opts();
  so.max_version = version;
  so.previous_ticket_keys = 1;
  auto srv = server::create(so);
  REQUIRE(srv);
  const outcome first = connect_with(*srv, {});
  REQUIRE_FALSE(first.session.empty());

  // Connections under way keep the ring they started with, whatever happens meanwhile.
  std::vector<test::harness> under_way;
  for (int i = 0; i < 4; ++i) {
    under_way.push_back(rotation_pair(*srv, first.session));
    under_way.back().client.write("x");
  }
  under_way[0].run();
  CHECK(under_way[0].client.is_session_reused());
  REQUIRE_FALSE(srv->rotate_ticket_keys());
  under_way[1].run();
  CHECK(under_way[1].client.is_session_reused());
  REQUIRE_FALSE(srv->rotate_ticket_keys());
  REQUIRE_FALSE(srv->rotate_ticket_keys());
  under_way[2].run();
  CHECK(under_way[2].client.is_session_reused());
  REQUIRE_FALSE(srv->set_ticket_key_ring({key(9)}));
  under_way[3].run();
  CHECK(under_way[3].client.is_session_reused());
  // A connection accepted now sees only key 9.
  CHECK_FALSE(connect_with(*srv, first.session).reused);

  // Clients resuming one after another across rotations: each resumes with the ticket of
  // its previous connection, as long as that ticket's key is still in the ring.
  std::vector<std::uint8_t> session = connect_with(*srv, {}).session;
  for (int round = 0; round < 6; ++round) {
    REQUIRE_FALSE(srv->rotate_ticket_keys());
    const outcome o = connect_with(*srv, session);
    CHECK(o.reused);
    REQUIRE_FALSE(o.session.empty());
    session = o.session; // renewed under the newest key
  }
}

TEST_CASE("ticket key ring: bad rings are refused", "[session][ticket-ring]") {
  auto srv = server::create(test::server_opts());
  REQUIRE(srv);
  const auto before = srv->ticket_key_ring();
  CHECK(srv->set_ticket_key_ring({}) == make_error_code(errc::invalid_argument));
  CHECK(srv->set_ticket_key_ring({key(1), std::vector<std::uint8_t>(47, 2)}) ==
        make_error_code(errc::invalid_argument));
  CHECK(srv->rotate_ticket_keys(std::vector<std::uint8_t>(49, 1)) ==
        make_error_code(errc::invalid_argument));
  CHECK(srv->ticket_key_ring() == before);
  // A longer ring than the server keeps: the oldest keys are dropped.
  REQUIRE_FALSE(srv->set_ticket_key_ring({key(1), key(2), key(3), key(4)}));
  CHECK(srv->ticket_key_ring() == std::vector<std::vector<std::uint8_t>>{key(1), key(2), key(3)});
  server none;
  CHECK(none.rotate_ticket_keys() == make_error_code(errc::invalid_state));
  CHECK(none.ticket_key_ring().empty());
}

TEST_CASE("ticket key ring: a TLS 1.3 resumption brings a fresh ticket", "[session][ticket-ring]") {
  // TLS 1.3 clients use a ticket once: without a new one a second resumption needs the old.
  auto so = test::server_opts();
  so.max_version = "TLSv1.3";
  auto srv = server::create(so);
  REQUIRE(srv);
  outcome o = connect_with(*srv, {});
  REQUIRE_FALSE(o.session.empty());
  for (int i = 0; i < 3; ++i) {
    const std::vector<std::uint8_t> previous = o.ticket;
    o = connect_with(*srv, o.session);
    CHECK(o.reused);
    CHECK_FALSE(o.ticket.empty());
    CHECK(o.ticket != previous);
  }
}

TEST_CASE("external session cache: a TLS 1.2 ticket resumption asks for no lookup",
          "[session][ticket-ring]") {
  // OpenSSL resumes a TLS 1.2 ticket without its session id: asking a (networked) cache
  // would only delay the handshake. Without a ticket the session id is still asked for.
  auto so = test::server_opts();
  so.external_session_cache = true;
  auto srv = server::create(so);
  REQUIRE(srv);
  auto run_pair = [&](client_options co) {
    co.max_version = "TLSv1.2"; // a TLS 1.3 client's random legacy session id is asked too
    auto h = std::make_unique<test::harness>();
    auto cli = connection::client(co);
    REQUIRE(cli);
    h->client = std::move(*cli);
    h->server = srv->accept();
    h->client.write("x");
    h->run(); // resume_session is not answered: a lookup stops the handshake
    return h;
  };
  auto asked = [](const test::harness& h) {
    for (const auto& e : h.server_log.events)
      if (std::holds_alternative<events::resume_session>(e)) return true;
    return false;
  };
  auto co = test::client_opts();
  auto first = run_pair(co);
  REQUIRE(first->client.is_secure());
  REQUIRE_FALSE(first->client.tls_ticket().empty());
  co.session = first->client.session();
  auto resumed = run_pair(co);
  CHECK_FALSE(asked(*resumed));
  CHECK(resumed->client.is_session_reused());

  co = test::client_opts();
  co.secure_options = static_cast<long>(SSL_OP_NO_TICKET);
  auto full = run_pair(co);
  REQUIRE(full->client.is_secure());
  co.session = full->client.session();
  CHECK(asked(*run_pair(co)));
}
