// Sessions are bound to the verification policy that made them (issue 11, item 3): a
// session never resumes where the server asks more of the client's certificate, or trusts
// other CAs or CRLs, than the server that made it; such a session is a cache miss and the
// handshake is a full one. Servers sharing ticket keys and certificate, engines back to
// back through the drain loop, TLS 1.2 and 1.3, tickets and the external cache.
#include "support.hpp"

#include "catch_compat.hpp"

#include <openssl/ssl.h>

#include <map>

using namespace tlsengine;

namespace {

const std::vector<std::uint8_t> shared_ticket_keys(48, 0x5a);

/// Same certificate, same ticket keys, no client authentication.
server_options lax(const std::string& version) {
  auto so = test::server_opts();
  so.max_version = version;
  so.ticket_keys = shared_ticket_keys;
  so.ca = {test::load("ca.pem")};
  return so;
}

/// The same server with client certificates requested but not required.
server_options requesting(const std::string& version) {
  auto so = lax(version);
  so.request_cert = true;
  so.reject_unauthorized = false;
  return so;
}

/// The same server with client certificates required (request_cert + reject_unauthorized).
server_options strict(const std::string& version) {
  auto so = lax(version);
  so.request_cert = true;
  so.reject_unauthorized = true;
  return so;
}

server make_server(const server_options& so) {
  auto srv = server::create(so);
  REQUIRE(srv);
  return std::move(*srv);
}

client_options with_certificate() {
  auto co = test::client_opts();
  co.cert = {test::load("client-chain.pem")};
  co.key = {test::load("client.key")};
  return co;
}

using session_cache = std::map<std::vector<std::uint8_t>, std::vector<std::uint8_t>>;

/// What a connection of the client to `srv` came to, seen from the server.
struct outcome {
  bool secure = false;
  bool reused = false;
  bool authorized = false;
  int server_errors = 0;
  bool cache_hit = false;            // the external cache had the offered session
  std::string received;              // what reached the server's application
  std::vector<std::uint8_t> session; // the client's newest session, to resume later
};

/// Connects, the client sending "request" at once. With `cache`, the server's
/// external-cache decisions are answered from it and its new sessions stored in it; with
/// `sni_choice`, the servername decision is answered with use_context().
outcome connect(const server& srv, client_options co, const std::vector<std::uint8_t>& session,
                session_cache* cache = nullptr, const secure_context* sni_choice = nullptr) {
  co.session = session;
  test::harness h;
  auto cli = connection::client(co);
  REQUIRE(cli);
  h.client = std::move(*cli);
  h.server = srv.accept();
  h.client.write("request");
  std::size_t seen = 0;
  bool cache_hit = false;
  for (int round = 0; round < 10; ++round) {
    h.run();
    bool answered = false;
    for (; seen < h.server_log.events.size(); ++seen) {
      const event& e = h.server_log.events[seen];
      if (auto* s = std::get_if<events::new_session>(&e)) {
        if (cache) (*cache)[s->id] = s->data;
      } else if (auto* r = std::get_if<events::resume_session>(&e)) {
        REQUIRE(cache);
        auto hit = cache->find(r->id);
        cache_hit = cache_hit || hit != cache->end();
        const std::error_code ec =
            hit == cache->end() ? h.server.resume_session() : h.server.resume_session(hit->second);
        REQUIRE_FALSE(ec);
        answered = true;
      } else if (std::holds_alternative<events::servername>(e)) {
        REQUIRE(sni_choice);
        REQUIRE_FALSE(h.server.use_context(*sni_choice));
        answered = true;
      }
    }
    if (!answered) break;
  }
  outcome o;
  o.secure = h.server.is_secure();
  o.reused = h.server.is_session_reused();
  o.authorized = h.server.authorized();
  o.cache_hit = cache_hit;
  o.server_errors = h.server_log.errors;
  o.received = h.server_log.received;
  if (!h.client_log.sessions.empty()) o.session = h.client_log.sessions.back();
  return o;
}

/// A first, full handshake whose session the tests then offer elsewhere.
outcome mint(const server& srv, const client_options& co, session_cache* cache = nullptr) {
  outcome first = connect(srv, co, {}, cache);
  REQUIRE(first.secure);
  REQUIRE_FALSE(first.reused);
  REQUIRE(first.received == "request");
  REQUIRE_FALSE(first.session.empty());
  // Control: the server that made it resumes it.
  outcome again = connect(srv, co, first.session, cache);
  REQUIRE(again.reused);
  return first;
}

/// The client certificate was required and not given: the handshake failed at the
/// server, and nothing the client sent reached the application.
void check_refused(const outcome& o) {
  CHECK_FALSE(o.reused);
  CHECK_FALSE(o.secure);
  CHECK(o.server_errors == 1);
  CHECK(o.received.empty());
}

/// A full handshake that verified the client's certificate.
void check_full_and_authorized(const outcome& o) {
  CHECK_FALSE(o.reused);
  CHECK(o.secure);
  CHECK(o.authorized);
  CHECK(o.received == "request");
}

} // namespace

TEST_CASE("policy: a session made without client authentication does not resume where it is "
          "required",
          "[session][policy]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  const server b = make_server(strict(version));

  SECTION("made where no certificate was requested") {
    const server a = make_server(lax(version));
    const outcome minted = mint(a, test::client_opts());
    // nginx's CVE-2025-23419 class: without the binding this resumed, `secure` with no
    // client certificate, and "request" reached the application.
    check_refused(connect(b, test::client_opts(), minted.session));
    // A client that has a certificate gets the full handshake and is verified.
    check_full_and_authorized(connect(b, with_certificate(), minted.session));
  }
  SECTION("made where a certificate was requested but not required, and none was sent") {
    const server a = make_server(requesting(version));
    const outcome minted = mint(a, test::client_opts());
    CHECK_FALSE(minted.authorized);
    check_refused(connect(b, test::client_opts(), minted.session));
    check_full_and_authorized(connect(b, with_certificate(), minted.session));
  }
}

TEST_CASE("policy: a session resumes under the same policy, with its client certificate",
          "[session][policy]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  const server b = make_server(strict(version));
  const outcome minted = mint(b, with_certificate());
  CHECK(minted.authorized);
  // Another server with the same policy (a cluster sharing ticket keys).
  const server twin = make_server(strict(version));
  const outcome resumed = connect(twin, with_certificate(), minted.session);
  CHECK(resumed.reused);
  CHECK(resumed.authorized); // the certificate verified when the session was made
  CHECK(resumed.received == "request");

  // The same CAs given in another order are the same trust.
  auto forward = strict(version);
  forward.ca = {test::load("ca.pem"), test::load("intermediate.pem")};
  auto backward = strict(version);
  backward.ca = {test::load("intermediate.pem"), test::load("ca.pem")};
  const outcome made = mint(make_server(forward), with_certificate());
  const outcome reordered = connect(make_server(backward), with_certificate(), made.session);
  CHECK(reordered.reused);
  CHECK(reordered.authorized);

  // Without client authentication the trust configuration plays no part: a server that
  // trusts other CAs (but asks for no certificate) still resumes.
  const server a = make_server(lax(version));
  auto other_trust = lax(version);
  other_trust.ca = {test::load("other-ca.pem")};
  const server a2 = make_server(other_trust);
  const outcome lax_session = mint(a, test::client_opts());
  CHECK(connect(a2, test::client_opts(), lax_session.session).reused);
}

TEST_CASE("policy: a session made under a stricter policy does not resume under a laxer one",
          "[session][policy]") {
  // Decision: the policy must be the same, not merely stricter. The policies are not
  // ordered (other CAs are neither stricter nor laxer), and a lax server that resumed
  // such a session would report a client certificate that it never asked for.
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  const server b = make_server(strict(version));
  const outcome minted = mint(b, with_certificate());

  const server a = make_server(lax(version));
  const outcome on_lax = connect(a, with_certificate(), minted.session);
  CHECK_FALSE(on_lax.reused);
  CHECK(on_lax.secure);
  CHECK_FALSE(on_lax.authorized); // a server that asks for no certificate has none
  CHECK(on_lax.received == "request");

  const server c = make_server(requesting(version));
  const outcome on_requesting = connect(c, with_certificate(), minted.session);
  CHECK_FALSE(on_requesting.reused);
  CHECK(on_requesting.authorized); // full handshake: the certificate was verified again
}

TEST_CASE("policy: another set of trusted CAs or CRLs means a full handshake",
          "[session][policy]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  const server b = make_server(strict(version));
  const outcome minted = mint(b, with_certificate());

  SECTION("CAs that no longer trust the client: refused") {
    auto so = strict(version);
    so.ca = {test::load("other-ca.pem")};
    const outcome o = connect(make_server(so), with_certificate(), minted.session);
    CHECK_FALSE(o.reused);
    CHECK_FALSE(o.secure);
    CHECK(o.server_errors == 1);
    CHECK(o.received.empty());
  }
  SECTION("one more CA: verified again") {
    auto so = strict(version);
    so.ca = {test::load("ca-with-intermediate.pem")};
    check_full_and_authorized(connect(make_server(so), with_certificate(), minted.session));
  }
  SECTION("CRLs added: verified again") {
    auto so = strict(version);
    so.crl = {test::load("crl-intermediate.pem"), test::load("crl-root.pem")};
    check_full_and_authorized(connect(make_server(so), with_certificate(), minted.session));
  }
}

TEST_CASE("policy: SNI contexts whose client authentication differs do not share sessions",
          "[session][policy][sni]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  // The same certificate (so the same identity) but another trust configuration: under
  // this context the client's certificate does not verify.
  auto other_trust_options = test::server_opts();
  other_trust_options.max_version = version; // a context brings its own versions
  other_trust_options.ca = {test::load("other-ca.pem")};
  auto other_trust = secure_context::create(other_trust_options);
  REQUIRE(other_trust);
  auto same_trust_options = test::server_opts();
  same_trust_options.max_version = version;
  same_trust_options.ca = {test::load("ca.pem")};
  auto same_trust = secure_context::create(same_trust_options);
  REQUIRE(same_trust);

  server b = make_server(strict(version));
  const outcome minted = mint(b, with_certificate());

  SECTION("a context with the same certificate and trust resumes") {
    REQUIRE_FALSE(b.add_context("localhost", *same_trust));
    const outcome o = connect(b, with_certificate(), minted.session);
    CHECK(o.reused);
    CHECK(o.authorized);
  }
  SECTION("add_context() after the session was made: the new context's trust applies") {
    REQUIRE_FALSE(b.add_context("localhost", *other_trust));
    const outcome o = connect(b, with_certificate(), minted.session);
    CHECK_FALSE(o.reused);
    CHECK_FALSE(o.secure);
    CHECK(o.received.empty());
  }
  SECTION("the servername decision answered with use_context()") {
    auto so = strict(version);
    so.pause_on_servername = true;
    const server paused = make_server(so);
    const outcome o = connect(paused, with_certificate(), minted.session, nullptr, &*other_trust);
    CHECK_FALSE(o.reused);
    CHECK_FALSE(o.secure);
    CHECK(o.received.empty());
  }
}

TEST_CASE("policy: the external session cache is held to the policy too", "[session][policy]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  auto lax_options = lax(version);
  auto strict_options = strict(version);
  for (server_options* so : {&lax_options, &strict_options}) {
    so->external_session_cache = true;
    so->secure_options = static_cast<long>(SSL_OP_NO_TICKET); // ids / stateful tickets
  }
  const server a = make_server(lax_options);
  const server b = make_server(strict_options);
  session_cache cache; // shared by both servers, as a cluster's cache is
  const outcome minted = mint(a, test::client_opts(), &cache);
  REQUIRE_FALSE(cache.empty());

  check_refused(connect(b, test::client_opts(), minted.session, &cache));
  check_full_and_authorized(connect(b, with_certificate(), minted.session, &cache));
}

TEST_CASE("policy: where a certificate is required, a session without one never resumes",
          "[session][policy]") {
  // Defence in depth, behind the session id context: a session that claims the strict
  // server's binding but has no client certificate (here forged in the external cache)
  // is a cache miss.
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  auto lax_options = lax(version);
  auto strict_options = strict(version);
  for (server_options* so : {&lax_options, &strict_options}) {
    so->external_session_cache = true;
    so->secure_options = static_cast<long>(SSL_OP_NO_TICKET);
  }
  const server a = make_server(lax_options);
  const server b = make_server(strict_options);
  session_cache lax_cache, strict_cache;
  const outcome without_cert = mint(a, test::client_opts(), &lax_cache);
  mint(b, with_certificate(), &strict_cache);
  REQUIRE(lax_cache.size() >= 1);
  REQUIRE(strict_cache.size() >= 1);

  auto parse = [](const std::vector<std::uint8_t>& der) {
    const unsigned char* p = der.data();
    detail::ssl_session_ptr s(d2i_SSL_SESSION(nullptr, &p, static_cast<long>(der.size())));
    REQUIRE(s);
    return s;
  };
  detail::ssl_session_ptr strict_session = parse(strict_cache.begin()->second);
  unsigned int binding_length = 0;
  const unsigned char* binding = SSL_SESSION_get0_id_context(strict_session.get(), &binding_length);
  REQUIRE(SSL_SESSION_get0_peer(strict_session.get()) != nullptr);

  // Every session the lax server cached, given the strict server's binding.
  session_cache forged_cache;
  for (const auto& entry : lax_cache) {
    detail::ssl_session_ptr forged = parse(entry.second);
    REQUIRE(SSL_SESSION_get0_peer(forged.get()) == nullptr);
    REQUIRE(SSL_SESSION_set1_id_context(forged.get(), binding, binding_length) == 1);
    std::vector<std::uint8_t> der(static_cast<std::size_t>(i2d_SSL_SESSION(forged.get(), nullptr)));
    unsigned char* p = der.data();
    i2d_SSL_SESSION(forged.get(), &p);
    forged_cache[entry.first] = std::move(der);
  }
  const outcome o = connect(b, test::client_opts(), without_cert.session, &forged_cache);
  CHECK(o.cache_hit); // the forged session was handed to the server
  check_refused(o);
}

TEST_CASE("policy: a renegotiation that asks for a certificate binds its new session to that "
          "policy",
          "[session][policy][renegotiation]") {
  // TLS 1.2: the lax server renegotiates with request_cert + reject_unauthorized; the new
  // session holds the verified client certificate and belongs to the strict policy. (A
  // renegotiation issues no ticket: the external cache keeps the session.)
  auto lax_options = lax("TLSv1.2");
  auto strict_options = strict("TLSv1.2");
  for (server_options* so : {&lax_options, &strict_options}) {
    so->external_session_cache = true;
    so->secure_options = static_cast<long>(SSL_OP_NO_TICKET);
  }
  const server a = make_server(lax_options);
  auto co = with_certificate();
  co.max_version = "TLSv1.2"; // no random legacy session id: no cache decision to answer
  test::harness h;
  auto cli = connection::client(co);
  REQUIRE(cli);
  h.client = std::move(*cli);
  h.server = a.accept();
  h.run();
  REQUIRE(h.server.is_secure());
  REQUIRE_FALSE(h.server.authorized()); // no certificate asked for yet
  REQUIRE_FALSE(h.server.renegotiate({true, true}));
  h.client.write("during");
  h.run();
  REQUIRE(h.server.authorized());
  REQUIRE(h.server_log.received == "during");
  session_cache cache;
  for (const event& e : h.server_log.events)
    if (auto* s = std::get_if<events::new_session>(&e)) cache[s->id] = s->data;
  REQUIRE(cache.size() == 2); // the first handshake's session and the renegotiation's
  REQUIRE(h.client_log.sessions.size() == 2);
  const std::vector<std::uint8_t> renegotiated = h.client_log.sessions.back();

  const outcome on_strict =
      connect(make_server(strict_options), with_certificate(), renegotiated, &cache);
  CHECK(on_strict.cache_hit);
  CHECK(on_strict.reused);
  CHECK(on_strict.authorized);
  const outcome on_lax = connect(a, with_certificate(), renegotiated, &cache);
  CHECK(on_lax.cache_hit);
  CHECK_FALSE(on_lax.reused);
  CHECK(on_lax.secure);
}

namespace {

/// The client side of a connection to `srv` offering `session`.
struct client_outcome {
  bool secure = false;
  bool reused = false;
  bool authorized = false;
  int errors = 0;
  std::vector<std::uint8_t> session;
};

client_outcome connect_client(const server& srv, client_options co,
                              const std::vector<std::uint8_t>& session) {
  co.session = session;
  test::harness h;
  auto cli = connection::client(co);
  REQUIRE(cli);
  h.client = std::move(*cli);
  h.server = srv.accept();
  h.client.write("request");
  h.run();
  client_outcome o;
  o.secure = h.client.is_secure();
  o.reused = h.client.is_session_reused();
  o.authorized = h.client.authorized();
  o.errors = h.client_log.errors;
  if (!h.client_log.sessions.empty()) o.session = h.client_log.sessions.back();
  return o;
}

} // namespace

TEST_CASE("policy: a client that requires verification never resumes a session whose server "
          "was not verified",
          "[session][policy][client]") {
  for (const std::string version : {"TLSv1.2", "TLSv1.3"}) {
    INFO(version);
    server srv = make_server(lax(version));
    // A careless client: trusts nothing but goes on (Node's rejectUnauthorized: false).
    client_options careless = test::client_opts();
    careless.ca = {test::load("other-ca.pem")};
    careless.reject_unauthorized = false;
    client_outcome first = connect_client(srv, careless, {});
    REQUIRE(first.secure);
    REQUIRE_FALSE(first.authorized);
    REQUIRE_FALSE(first.session.empty());
    // Control: the careless client itself resumes it.
    CHECK(connect_client(srv, careless, first.session).reused);

    // A strict client handed that session verifies the server in a full handshake.
    client_outcome strict_trusting = connect_client(srv, test::client_opts(), first.session);
    CHECK(strict_trusting.secure);
    CHECK_FALSE(strict_trusting.reused);
    CHECK(strict_trusting.authorized);

    // ... and a strict client that does not trust the server fails instead of resuming.
    client_options strict_untrusting = careless;
    strict_untrusting.reject_unauthorized = true;
    client_outcome refused = connect_client(srv, strict_untrusting, first.session);
    CHECK_FALSE(refused.secure);
    CHECK_FALSE(refused.reused);
    CHECK(refused.errors == 1);

    // A session made by a strict client still resumes on a strict client.
    client_outcome verified = connect_client(srv, test::client_opts(), {});
    REQUIRE(verified.authorized);
    client_outcome resumed = connect_client(srv, test::client_opts(), verified.session);
    CHECK(resumed.reused);
    CHECK(resumed.authorized);
  }
}

// Found by an adversarial review: a client's session carried no record of what its server
// was verified against, so a client trusting other CAs, or judging the server itself
// (pause_on_verify, its own check_server_identity), resumed it without any check.
TEST_CASE("policy: a client resumes only sessions verified as it would verify them",
          "[session][policy][client]") {
  for (const std::string version : {"TLSv1.2", "TLSv1.3"}) {
    INFO(version);
    // The "untrusted" server: a localhost certificate issued by the other CA.
    server_options so = test::server_opts("untrusted");
    so.max_version = version;
    server srv = make_server(so);

    client_options trusts_other = test::client_opts();
    trusts_other.ca = {test::load("other-ca.pem")};
    client_outcome first = connect_client(srv, trusts_other, {});
    REQUIRE(first.authorized);
    CHECK(connect_client(srv, trusts_other, first.session).reused); // control

    // Another trust set: a full handshake, which does not verify.
    client_outcome other_trust = connect_client(srv, test::client_opts(), first.session);
    CHECK_FALSE(other_trust.reused);
    CHECK_FALSE(other_trust.secure);
    CHECK(other_trust.errors == 1);

    // The application accepted what verification refused (pause_on_verify): its session
    // is not for a client that leaves the judgement to verification.
    client_options judges_itself = test::client_opts();
    judges_itself.pause_on_verify = true;
    test::harness h;
    {
      auto cli = connection::client(judges_itself);
      REQUIRE(cli);
      h.client = std::move(*cli);
      h.server = srv.accept();
      h.run();
      REQUIRE_FALSE(h.client.verify_result({}));
      h.run();
      REQUIRE(h.client.is_secure());
      REQUIRE_FALSE(h.client_log.sessions.empty());
    }
    client_outcome strict = connect_client(srv, test::client_opts(), h.client_log.sessions.back());
    CHECK_FALSE(strict.reused);
    CHECK_FALSE(strict.secure);

    // A client with an identity check of its own (a pin) never resumes a session its check
    // did not see.
    int pin_calls = 0;
    client_options pinning = trusts_other;
    pinning.check_server_identity = [&](std::string_view, const certificate_info&) {
      ++pin_calls;
      return make_error_code(errc::cert_altname_invalid);
    };
    client_outcome pinned = connect_client(srv, pinning, first.session);
    CHECK_FALSE(pinned.reused);
    CHECK_FALSE(pinned.secure);
    CHECK(pin_calls == 1);
  }
}

// Found by an adversarial review: the binding only said "judged by an own
// check_server_identity", not by which one, so a client whose judge refuses the server (a
// pin) resumed a session another client's judge had accepted, and its judge never ran.
// An own judge now runs on every connection, resumed or not, as Node's checkServerIdentity.
TEST_CASE("policy: an own check_server_identity judges resumptions too",
          "[session][policy][client]") {
  for (const std::string version : {"TLSv1.2", "TLSv1.3"}) {
    INFO(version);
    server_options so = test::server_opts();
    so.max_version = version;
    server srv = make_server(so);

    int lax_calls = 0;
    client_options lax = test::client_opts();
    lax.check_server_identity = [&](std::string_view, const certificate_info&) {
      ++lax_calls;
      return std::error_code();
    };
    client_outcome first = connect_client(srv, lax, {});
    REQUIRE(first.authorized);
    REQUIRE(lax_calls == 1);
    // The accepting judge is asked again on resumption, with the session's certificate.
    client_outcome again = connect_client(srv, lax, first.session);
    CHECK(again.reused);
    CHECK(lax_calls == 2);

    int pin_calls = 0;
    client_options pinning = test::client_opts();
    pinning.check_server_identity = [&](std::string_view, const certificate_info& cert) {
      ++pin_calls;
      CHECK_FALSE(cert.empty()); // the server's certificate, also on resumption
      return make_error_code(errc::cert_altname_invalid);
    };
    // The lax client's session, as from a shared store: never resumed, refused by the pin.
    client_outcome pinned = connect_client(srv, pinning, first.session);
    CHECK_FALSE(pinned.reused);
    CHECK_FALSE(pinned.secure);
    CHECK(pinned.errors == 1);
    CHECK(pin_calls >= 1);
  }
}
