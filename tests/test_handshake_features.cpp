// Handshake features of Node's tls and the decisions that can wait: ALPN, SNI, client
// certificates, sessions, ticket keys, OCSP, PSK, credentials, asynchronous verification.
// Both roles, engines back to back through the drain loop.
#include "support.hpp"

#include "catch_compat.hpp"

#include <openssl/ssl.h>

#include <cstring>
#include <map>

using namespace tlsengine;

namespace {

using test::load_bytes;

std::vector<std::uint8_t> der_of(const std::string& pem_name) {
  auto cert = certificate_info::from_pem(test::load(pem_name));
  REQUIRE(cert);
  return cert->raw;
}

using test::find_event;

template <class E> int count_events(const test::side_log& log) {
  int n = 0;
  for (const event& e : log.events)
    n += std::holds_alternative<E>(e) ? 1 : 0;
  return n;
}

using test::pair_on;

using session_cache = std::map<std::vector<std::uint8_t>, std::vector<std::uint8_t>>;

/// Runs the pair, answering every resume_session decision from `cache` (a miss when
/// absent: a TLS 1.3-capable client sends a random legacy session id to a TLS 1.2
/// server, which is an ordinary cache miss) and storing new_session events in it.
void run_with_cache(test::harness& h, session_cache& cache) {
  std::size_t seen = 0;
  for (int round = 0; round < 10; ++round) {
    h.run();
    bool answered = false;
    for (; seen < h.server_log.events.size(); ++seen) {
      const event& e = h.server_log.events[seen];
      if (auto* s = std::get_if<events::new_session>(&e)) cache[s->id] = s->data;
      if (auto* r = std::get_if<events::resume_session>(&e)) {
        auto hit = cache.find(r->id);
        const std::error_code ec =
            hit == cache.end() ? h.server.resume_session() : h.server.resume_session(hit->second);
        REQUIRE_FALSE(ec);
        answered = true;
      }
    }
    if (!answered) return;
  }
}

std::size_t pick_chunk() {
  return GENERATE(as<std::size_t>{}, static_cast<std::size_t>(-1), 1, 13);
}

} // namespace

// ---- ALPN -----------------------------------------------------------------------------

TEST_CASE("ALPN: the server's preference among what the client offers", "[alpn]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  auto so = test::server_opts();
  so.max_version = version;
  so.alpn_protocols = {"echo", "http/1.1"};
  auto co = test::client_opts();
  co.alpn_protocols = {"http/1.1", "echo"};
  auto h = test::make_pair(so, co);
  h.chunk = pick_chunk();
  h.run();
  CHECK(h.client.alpn_protocol() == "echo");
  CHECK(h.server.alpn_protocol() == "echo");
}

TEST_CASE("ALPN: no overlap is a fatal no_application_protocol alert", "[alpn]") {
  auto so = test::server_opts();
  so.alpn_protocols = {"echo"};
  auto co = test::client_opts();
  co.alpn_protocols = alpn_list::wire(bytes_view("\x02h2", 3)); // the wire format
  auto h = test::make_pair(so, co);
  h.run();
  CHECK(h.server_log.errors == 1);
  CHECK(h.server_log.alert == SSL_AD_NO_APPLICATION_PROTOCOL);
  CHECK(h.server_log.alert_sent);
  CHECK(h.client_log.alert == SSL_AD_NO_APPLICATION_PROTOCOL);
  CHECK(h.client.error_message().find("no application protocol") != std::string::npos);
}

TEST_CASE("ALPN: a client without ALPN, a server without ALPN", "[alpn]") {
  auto so = test::server_opts();
  so.alpn_protocols = {"echo"};
  auto h = test::make_pair(so, test::client_opts());
  h.run();
  CHECK(h.client.is_secure());
  CHECK(h.server.alpn_protocol().empty());
  auto co = test::client_opts();
  co.alpn_protocols = {"echo"};
  auto h2 = test::make_pair(test::server_opts(), co);
  h2.run();
  CHECK(h2.client.is_secure());
  CHECK(h2.client.alpn_protocol().empty());
}

TEST_CASE("ALPN callback: choose, refuse, or answer wrongly", "[alpn]") {
  auto so = test::server_opts();
  alpn_request seen;
  std::string answer = "b";
  bool refuse = false;
  so.alpn_callback = [&](const alpn_request& request) -> std::optional<std::string> {
    seen = request;
    if (refuse) return std::nullopt;
    return answer;
  };
  auto srv = server::create(so);
  REQUIRE(srv);
  auto co = test::client_opts();
  co.alpn_protocols = {"a", "b"};
  {
    auto h = pair_on(*srv, co);
    h.run();
    CHECK(h.client.alpn_protocol() == "b");
    CHECK(seen.servername == "localhost");
    CHECK(seen.protocols == std::vector<std::string>{"a", "b"});
  }
  {
    refuse = true;
    auto h = pair_on(*srv, co);
    h.run();
    CHECK(h.server_log.alert == SSL_AD_NO_APPLICATION_PROTOCOL);
    CHECK(h.client_log.errors == 1);
  }
  {
    refuse = false;
    answer = "not-offered";
    auto h = pair_on(*srv, co);
    h.run();
    CHECK(h.server.error() == make_error_code(errc::alpn_invalid));
    CHECK(error_code_name(h.server.error()) == "ERR_TLS_ALPN_CALLBACK_INVALID_RESULT");
    CHECK(h.client_log.errors == 1);
  }
  {
    so.alpn_callback = [](const alpn_request&) -> std::optional<std::string> {
      throw std::runtime_error("user code failed");
    };
    auto throwing = server::create(so);
    REQUIRE(throwing);
    auto h = pair_on(*throwing, co);
    h.run();
    CHECK(h.server.error() == make_error_code(errc::decision_failed));
    CHECK(h.client_log.errors == 1); // the handshake ended with an alert, not hanging
  }
}

TEST_CASE("ALPN configuration errors", "[alpn]") {
  auto so = test::server_opts();
  so.alpn_protocols = {"x"};
  so.alpn_callback = [](const alpn_request&) { return std::optional<std::string>("x"); };
  CHECK(server::create(so).error() == make_error_code(errc::invalid_argument));

  auto co = test::client_opts();
  co.alpn_protocols = {"ok", ""};
  CHECK(connection::client(co).error() == make_error_code(errc::alpn_invalid));
  co.alpn_protocols = {std::string(256, 'x')};
  CHECK(connection::client(co).error() == make_error_code(errc::alpn_invalid));
  co.alpn_protocols = std::vector<std::string>{};
  CHECK(connection::client(co).error() == make_error_code(errc::alpn_invalid));
  co.alpn_protocols = alpn_list::wire(bytes_view("\x05h2", 3)); // length runs past the end
  CHECK(connection::client(co).error() == make_error_code(errc::alpn_invalid));
  co.alpn_protocols = {std::string(255, 'x')};
  CHECK(connection::client(co));
}

// ---- SNI ------------------------------------------------------------------------------

TEST_CASE("SNI: add_context picks the certificate by name, wildcards, latest first", "[sni]") {
  auto srv = server::create(test::server_opts());
  REQUIRE(srv);
  REQUIRE_FALSE(srv->add_context("wrong.example", [] {
    context_options o;
    o.cert = {test::load("wronghost-chain.pem")};
    o.key = {test::load("wronghost.key")};
    return o;
  }()));
  context_options bad;
  bad.cert = {"not a certificate"};
  CHECK(srv->add_context("x.example", bad));

  auto co = test::client_opts();
  co.servername = "wrong.example";
  auto h = pair_on(*srv, co);
  h.chunk = pick_chunk();
  h.run();
  CHECK(h.client.authorized());
  CHECK(h.client.peer_certificate().subject.get("CN") == "wrong.example");
  CHECK(h.server.servername() == "wrong.example");
  CHECK(h.server.certificate().subject.get("CN") == "wrong.example");

  // Any other name: the default context.
  auto h2 = pair_on(*srv, test::client_opts());
  h2.run();
  CHECK(h2.client.peer_certificate().subject.get("CN") == "localhost");

  // A wildcard entry; the latest added wins over an earlier match.
  auto ecdsa = secure_context::create(test::server_opts("server-ecdsa"));
  REQUIRE(ecdsa);
  REQUIRE_FALSE(srv->add_context("*.EXAMPLE.test", *ecdsa));
  co.servername = "api.example.test";
  auto h3 = pair_on(*srv, co);
  h3.run();
  CHECK(h3.client.authorized());
  CHECK(h3.client.peer_certificate().asn1_curve == "prime256v1");
  co.servername = "a.b.example.test"; // '*' does not cross a dot
  co.reject_unauthorized = false;     // (nor does the certificate's wildcard)
  auto h4 = pair_on(*srv, co);
  h4.run();
  CHECK(h4.client.peer_certificate().bits == 2048);
}

TEST_CASE("SNI decision: the handshake waits for use_context() or resume()", "[sni][decision]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  auto so = test::server_opts();
  so.max_version = version;
  so.pause_on_servername = true;
  auto srv = server::create(so);
  REQUIRE(srv);
  auto wrong = secure_context::create([] {
    context_options o;
    o.cert = {test::load("wronghost-chain.pem")};
    o.key = {test::load("wronghost.key")};
    return o;
  }());
  REQUIRE(wrong);

  auto co = test::client_opts();
  co.servername = "wrong.example";
  auto h = pair_on(*srv, co);
  h.chunk = pick_chunk();
  h.client.write("hello");
  h.run();
  const auto* asked = find_event<events::servername>(h.server_log);
  REQUIRE(asked);
  CHECK(asked->name == "wrong.example");
  CHECK(h.server_log.secure == 0);
  CHECK(h.client_log.secure == 0);
  CHECK(h.server.pending_output().empty()); // paused: no ServerHello yet
  // A second answer kind for this decision is the wrong state.
  CHECK(h.server.resume_session() == make_error_code(errc::invalid_state));

  REQUIRE_FALSE(h.server.use_context(*wrong));
  h.run();
  CHECK(h.client.authorized());
  CHECK(h.client.peer_certificate().subject.get("CN") == "wrong.example");
  CHECK(h.server_log.received == "hello");
  CHECK(h.server.use_context(*wrong) == make_error_code(errc::invalid_state));

  // resume(): the default context.
  co.servername = "localhost";
  auto h2 = pair_on(*srv, co);
  h2.run();
  REQUIRE(find_event<events::servername>(h2.server_log));
  REQUIRE_FALSE(h2.server.resume());
  h2.run();
  CHECK(h2.client.authorized());
  CHECK(h2.client.peer_certificate().subject.get("CN") == "localhost");
}

TEST_CASE("SNI: the new context's versions and ciphers apply after the switch", "[sni]") {
  auto so = test::server_opts();
  so.pause_on_servername = true;
  auto srv = server::create(so);
  REQUIRE(srv);
  auto tls12_only = test::server_opts("server-ecdsa");
  tls12_only.max_version = "TLSv1.2";
  auto ctx12 = secure_context::create(tls12_only);
  REQUIRE(ctx12);
  auto h = pair_on(*srv, test::client_opts());
  h.run();
  REQUIRE_FALSE(h.server.use_context(*ctx12));
  h.run();
  CHECK(h.client.protocol() == "TLSv1.2");
  CHECK(h.client.peer_certificate().asn1_curve == "prime256v1");
}

// ---- decisions answered late, out of order, after destroy -------------------------------

TEST_CASE("decisions answered after unrelated work and in another order", "[decision]") {
  auto so = test::server_opts();
  so.pause_on_servername = true;
  so.pause_on_ocsp_request = true;
  so.external_session_cache = true;
  so.max_version = "TLSv1.2";
  so.secure_options = static_cast<long>(SSL_OP_NO_TICKET); // TLS 1.2 session ids
  auto srv = server::create(so);
  REQUIRE(srv);
  const auto ocsp = load_bytes("ocsp-server-rsa.der");

  // First: a full handshake to have a session in the "external cache".
  std::vector<std::uint8_t> cached_id, cached_data;
  std::vector<std::uint8_t> client_session;
  {
    auto h = pair_on(*srv, test::client_opts());
    h.run();
    REQUIRE_FALSE(h.server.resume()); // servername
    session_cache ignored;
    run_with_cache(h, ignored); // the random id of a TLS 1.3-capable client: a miss
    REQUIRE(h.client.is_secure());
    const auto* created = find_event<events::new_session>(h.server_log);
    REQUIRE(created);
    cached_id = created->id;
    cached_data = created->data;
    REQUIRE_FALSE(h.client_log.sessions.empty());
    client_session = h.client_log.sessions.back();
  }

  // Three connections that all wait; unrelated traffic runs meanwhile.
  auto co = test::client_opts();
  co.session = client_session;
  co.request_ocsp = true;
  std::vector<test::harness> waiting;
  for (int i = 0; i < 3; ++i) {
    waiting.push_back(pair_on(*srv, co));
    waiting.back().run();
    REQUIRE(find_event<events::servername>(waiting.back().server_log));
  }
  for (int i = 0; i < 20; ++i) { // many feed() calls on other connections
    auto busy = pair_on(*srv, test::client_opts());
    busy.run();
    REQUIRE_FALSE(busy.server.resume());
    session_cache ignored;
    run_with_cache(busy, ignored);
    CHECK(busy.client.is_secure());
  }
  // Answer the servername decisions in reverse order.
  for (int i = 2; i >= 0; --i) {
    REQUIRE_FALSE(waiting[i].server.resume());
    waiting[i].run();
    const auto* asked = find_event<events::resume_session>(waiting[i].server_log);
    REQUIRE(asked);
    CHECK(asked->id == cached_id);
  }
  // Session decisions: 1 then 0 then 2; connection 2 gets a cache miss.
  for (int i : {1, 0, 2}) {
    if (i == 2)
      REQUIRE_FALSE(waiting[i].server.resume_session());
    else
      REQUIRE_FALSE(waiting[i].server.resume_session(cached_data));
    waiting[i].run();
  }
  // Resumed handshakes send no certificate, so only the full one asks for OCSP.
  CHECK(find_event<events::ocsp_request>(waiting[0].server_log) == nullptr);
  const auto* ocsp_asked = find_event<events::ocsp_request>(waiting[2].server_log);
  REQUIRE(ocsp_asked);
  CHECK(ocsp_asked->certificate == der_of("server-rsa.pem"));
  CHECK(ocsp_asked->issuer == der_of("intermediate.pem"));
  REQUIRE_FALSE(waiting[2].server.set_ocsp_response(ocsp));
  waiting[2].run();

  CHECK(waiting[0].client.is_session_reused());
  CHECK(waiting[1].client.is_session_reused());
  CHECK(waiting[1].server.is_session_reused());
  CHECK_FALSE(waiting[2].client.is_session_reused());
  CHECK(waiting[2].client.authorized());
  const auto* stapled = find_event<events::ocsp_response>(waiting[2].client_log);
  REQUIRE(stapled);
  CHECK(stapled->response == ocsp);
}

TEST_CASE("decision answers in the wrong state or after destroy() are error codes", "[decision]") {
  auto so = test::server_opts();
  so.pause_on_servername = true;
  auto srv = server::create(so);
  REQUIRE(srv);
  auto h = pair_on(*srv, test::client_opts());
  CHECK(h.server.resume() == make_error_code(errc::invalid_state)); // nothing asked yet
  CHECK(h.server.set_ocsp_response() == make_error_code(errc::invalid_state));
  CHECK(h.client.verify_result({}) == make_error_code(errc::invalid_state));
  h.run();
  REQUIRE(find_event<events::servername>(h.server_log));
  h.server.destroy();
  CHECK(h.server.resume() == make_error_code(errc::destroyed));
  CHECK(h.server.use_context(srv->context()) == make_error_code(errc::destroyed));
  connection moved_from;
  CHECK(moved_from.resume() == make_error_code(errc::destroyed));
}

// ---- client certificates --------------------------------------------------------------

TEST_CASE("client certificate chosen when the server asks", "[client-cert][decision]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  auto so = test::server_opts();
  so.max_version = version;
  so.request_cert = true;
  so.ca = {test::load("ca.pem")};
  auto srv = server::create(so);
  REQUIRE(srv);
  auto co = test::client_opts();
  co.pause_on_certificate_request = true;

  auto h = pair_on(*srv, co);
  h.run();
  const auto* asked = find_event<events::certificate_request>(h.client_log);
  REQUIRE(asked);
  REQUIRE(asked->acceptable_issuers.size() == 1);
  CHECK(asked->acceptable_issuers[0].find("tlsengine Test Root CA") != std::string::npos);
  // A bad answer leaves the decision open.
  CHECK(h.client.use_certificate("garbage", test::load("client.key")));
  REQUIRE_FALSE(h.client.use_certificate(test::load("client-chain.pem"), test::load("client.key")));
  h.client.write("with cert");
  h.run();
  CHECK(h.server.authorized());
  CHECK(h.server.peer_certificate().subject.get("CN") == "tlsengine client");
  CHECK(h.server_log.received == "with cert");

  // resume(): no certificate; the server refuses.
  auto h2 = pair_on(*srv, co);
  h2.run();
  REQUIRE(find_event<events::certificate_request>(h2.client_log));
  REQUIRE_FALSE(h2.client.resume());
  h2.run();
  CHECK(h2.server_log.errors == 1);
  CHECK_FALSE(h2.server.is_secure());
}

// ---- sessions and tickets -----------------------------------------------------------------

TEST_CASE("tickets: tls_ticket(), ticket keys, rotation keeps connections under way", "[session]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  auto so = test::server_opts();
  so.max_version = version;
  so.ticket_keys = std::vector<std::uint8_t>(48, 7);
  auto srv = server::create(so);
  REQUIRE(srv);
  CHECK(srv->ticket_keys() == std::vector<std::uint8_t>(48, 7));
  CHECK(srv->set_ticket_keys(std::vector<std::uint8_t>(47, 1)) ==
        make_error_code(errc::invalid_argument));

  auto h = pair_on(*srv, test::client_opts());
  h.client.write("x");
  h.run();
  REQUIRE_FALSE(h.client_log.sessions.empty());
  CHECK_FALSE(h.client.tls_ticket().empty());
  auto co = test::client_opts();
  co.session = h.client_log.sessions.back();

  // A connection accepted before the rotation keeps the old keys: it resumes.
  auto before = pair_on(*srv, co);
  REQUIRE_FALSE(srv->set_ticket_keys(std::vector<std::uint8_t>(48, 9)));
  before.run();
  CHECK(before.client.is_session_reused());
  // A connection accepted after it cannot decrypt the old ticket: full handshake.
  auto after = pair_on(*srv, co);
  after.run();
  CHECK(after.client.is_secure());
  CHECK_FALSE(after.client.is_session_reused());

  // Another server with the same keys resumes the ticket (a cluster sharing keys).
  so.ticket_keys = std::vector<std::uint8_t>(48, 7);
  auto twin = server::create(so);
  REQUIRE(twin);
  auto shared = pair_on(*twin, co);
  shared.run();
  CHECK(shared.client.is_session_reused());
}

TEST_CASE("external session cache: new_session then resume_session", "[session][decision]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  auto so = test::server_opts();
  so.max_version = version;
  so.external_session_cache = true;
  so.secure_options =
      static_cast<long>(SSL_OP_NO_TICKET); // stateful: ids / TLS 1.3 stateful tickets
  auto srv = server::create(so);
  REQUIRE(srv);
  session_cache cache;

  auto h = pair_on(*srv, test::client_opts());
  h.client.write("x");
  run_with_cache(h, cache);
  REQUIRE(h.client.is_secure());
  CHECK_FALSE(h.client.is_session_reused());
  REQUIRE_FALSE(cache.empty());
  REQUIRE_FALSE(h.client_log.sessions.empty());

  auto co = test::client_opts();
  co.session = h.client_log.sessions.back();
  auto h2 = pair_on(*srv, co);
  h2.chunk = pick_chunk();
  h2.run();
  const auto* asked = find_event<events::resume_session>(h2.server_log);
  REQUIRE(asked);
  REQUIRE(cache.count(asked->id) == 1);
  CHECK(h2.server_log.secure == 0);
  CHECK(h2.server.pending_output().empty()); // paused before the ServerHello
  REQUIRE_FALSE(h2.server.resume_session(cache[asked->id]));
  h2.run();
  CHECK(h2.server.is_session_reused());
  CHECK(h2.client.is_session_reused());

  // A cache miss: full handshake.
  auto h3 = pair_on(*srv, co);
  h3.run();
  REQUIRE(find_event<events::resume_session>(h3.server_log));
  REQUIRE_FALSE(h3.server.resume_session());
  h3.run();
  CHECK(h3.client.is_secure());
  CHECK_FALSE(h3.client.is_session_reused());
}

TEST_CASE("external session cache: TLS 1.3 stateless tickets make no new_session event",
          "[session][decision]") {
  // The ticket carries the session and no TLS 1.3 lookup by id ever happens with stateless
  // tickets: storing what OpenSSL reports for each ticket would only fill the cache.
  auto so = test::server_opts();
  so.external_session_cache = true; // tickets on (the default): stateless
  auto srv = server::create(so);
  REQUIRE(srv);
  session_cache cache;
  auto h = pair_on(*srv, test::client_opts());
  h.client.write("x");
  run_with_cache(h, cache);
  REQUIRE(h.client.is_secure());
  REQUIRE(h.client.protocol() == "TLSv1.3");
  REQUIRE_FALSE(h.client_log.sessions.empty()); // the tickets reached the client
  CHECK(find_event<events::new_session>(h.server_log) == nullptr);
  CHECK(cache.empty());

  auto co = test::client_opts();
  co.session = h.client_log.sessions.back();
  auto h2 = pair_on(*srv, co);
  run_with_cache(h2, cache);
  CHECK(h2.client.is_session_reused()); // from the ticket alone
  CHECK(find_event<events::resume_session>(h2.server_log) == nullptr);
  CHECK(find_event<events::new_session>(h2.server_log) == nullptr);
}

namespace {
// A raw OpenSSL client that offers whatever session it is given (tlsengine's own client
// refuses to offer a session to another name), to test the server's own checks.
struct raw_client {
  detail::ssl_ctx_ptr ctx{SSL_CTX_new(TLS_client_method())};
  detail::ssl_ptr ssl;
  BIO* network = nullptr;
  std::vector<std::uint8_t> ticket_session;

  raw_client(const std::string& sni, SSL_SESSION* session, int max_version) {
    SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    ssl.reset(SSL_new(ctx.get()));
    BIO* inner = nullptr;
    BIO_new_bio_pair(&inner, 0, &network, 0);
    SSL_set_bio(ssl.get(), inner, inner);
    SSL_set_tlsext_host_name(ssl.get(), sni.c_str());
    if (session) SSL_set_session(ssl.get(), session);
    SSL_set_connect_state(ssl.get());
  }
  ~raw_client() { BIO_free(network); }

  void run_with(connection& server_side) {
    for (int i = 0; i < 100; ++i) {
      SSL_do_handshake(ssl.get());
      char buf[1];
      SSL_read(ssl.get(), buf, 0); // processes tickets after the handshake
      std::uint8_t out[65536];
      int n = BIO_read(network, out, sizeof out);
      std::size_t moved = 0;
      if (n > 0) moved += server_side.feed(bytes_view(out, static_cast<std::size_t>(n)));
      while (server_side.next_event()) {
      }
      bytes_view reply = server_side.pending_output();
      if (!reply.empty()) {
        const int w = BIO_write(network, reply.data(), static_cast<int>(reply.size()));
        if (w > 0) {
          server_side.consume_output(static_cast<std::size_t>(w));
          moved += static_cast<std::size_t>(w);
        }
      }
      if (moved == 0 && SSL_is_init_finished(ssl.get())) break;
    }
  }
};
} // namespace

TEST_CASE("a session made under one name or context is never resumed under another",
          "[session][sni]") {
  const int version = GENERATE(TLS1_2_VERSION, TLS1_3_VERSION);
  auto srv = server::create(test::server_opts());
  REQUIRE(srv);
  // Same certificate names, another context: "api.example.test" is served by ECDSA.
  auto ecdsa = secure_context::create(test::server_opts("server-ecdsa"));
  REQUIRE(ecdsa);
  REQUIRE_FALSE(srv->add_context("api.example.test", *ecdsa));

  raw_client first("localhost", nullptr, version);
  connection s1 = srv->accept();
  first.run_with(s1);
  REQUIRE(SSL_is_init_finished(first.ssl.get()));
  detail::ssl_session_ptr session(SSL_get1_session(first.ssl.get()));
  REQUIRE(session);
  REQUIRE(SSL_SESSION_is_resumable(session.get()));

  raw_client same("localhost", session.get(), version);
  connection s2 = srv->accept();
  same.run_with(s2);
  CHECK(SSL_session_reused(same.ssl.get()) == 1); // control: resumption works

  raw_client other_context("api.example.test", session.get(), version);
  connection s3 = srv->accept();
  other_context.run_with(s3);
  CHECK(SSL_is_init_finished(other_context.ssl.get()));
  CHECK(SSL_session_reused(other_context.ssl.get()) == 0);

  // Same context (the default one) but another name than the session was made for.
  raw_client other_name("127.0.0.1.nip.test", session.get(), version);
  connection s4 = srv->accept();
  other_name.run_with(s4);
  CHECK(SSL_is_init_finished(other_name.ssl.get()));
  CHECK(SSL_session_reused(other_name.ssl.get()) == 0);
}

TEST_CASE("a client does not offer a session to another server name", "[session]") {
  auto srv = server::create(test::server_opts());
  REQUIRE(srv);
  auto h = pair_on(*srv, test::client_opts());
  h.client.write("x");
  h.run();
  REQUIRE_FALSE(h.client_log.sessions.empty());
  auto co = test::client_opts();
  co.session = h.client_log.sessions.back();
  co.servername = "api.example.test";
  auto h2 = pair_on(*srv, co);
  h2.run();
  CHECK(h2.client.authorized());
  CHECK_FALSE(h2.client.is_session_reused());
}

// ---- OCSP -----------------------------------------------------------------------------------

TEST_CASE("OCSP stapling through the ocsp_request decision", "[ocsp][decision]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  auto so = test::server_opts();
  so.max_version = version;
  so.pause_on_ocsp_request = true;
  auto srv = server::create(so);
  REQUIRE(srv);
  auto co = test::client_opts();
  co.request_ocsp = true;
  const auto ocsp = load_bytes("ocsp-server-rsa.der");

  auto h = pair_on(*srv, co);
  h.chunk = pick_chunk();
  h.run();
  const auto* asked = find_event<events::ocsp_request>(h.server_log);
  REQUIRE(asked);
  CHECK(asked->certificate == der_of("server-rsa.pem"));
  CHECK(asked->issuer == der_of("intermediate.pem"));
  CHECK(h.client_log.secure == 0);
  REQUIRE_FALSE(h.server.set_ocsp_response(ocsp));
  h.run();
  const auto* got = find_event<events::ocsp_response>(h.client_log);
  REQUIRE(got);
  CHECK(got->response == ocsp);

  // Nothing to staple.
  auto h2 = pair_on(*srv, co);
  h2.run();
  REQUIRE_FALSE(h2.server.set_ocsp_response());
  h2.run();
  CHECK(h2.client.is_secure());
  const auto* none = find_event<events::ocsp_response>(h2.client_log);
  REQUIRE(none);
  CHECK(none->response.empty());

  // A client that does not ask causes no decision and gets no event.
  auto h3 = pair_on(*srv, test::client_opts());
  h3.run();
  CHECK(h3.client.is_secure());
  CHECK(find_event<events::ocsp_request>(h3.server_log) == nullptr);
  CHECK(find_event<events::ocsp_response>(h3.client_log) == nullptr);
}

// ---- PSK ------------------------------------------------------------------------------------

TEST_CASE("PSK: TLS 1.2 PSK suites and TLS 1.3 external PSK, no certificate", "[psk]") {
  const std::vector<std::uint8_t> key(32, 0x42);
  server_options so;
  so.psk_identity_hint = "hint-from-server";
  so.psk_callback = [&](std::string_view identity) -> std::optional<std::vector<std::uint8_t>> {
    if (identity == "alice") return key;
    return std::nullopt;
  };
  client_options co;
  std::string seen_hint;
  std::string identity = "alice";
  std::vector<std::uint8_t> client_key = key;
  co.psk_callback = [&](std::string_view hint) -> std::optional<psk_credentials> {
    seen_hint = std::string(hint);
    return psk_credentials{identity, client_key};
  };
  SECTION("TLS 1.2") {
    so.max_version = co.max_version = "TLSv1.2";
    so.ciphers = co.ciphers = "PSK-AES128-GCM-SHA256";
  }
  SECTION("TLS 1.3") {
    so.min_version = co.min_version = "TLSv1.3";
    so.ciphers = co.ciphers = "TLS_AES_128_GCM_SHA256";
  }
  auto srv = server::create(so);
  REQUIRE(srv);
  {
    auto h = pair_on(*srv, co);
    h.client.write("psk data");
    h.run();
    CHECK(h.client.is_secure());
    CHECK(h.server_log.received == "psk data");
    CHECK(h.client.peer_certificate().empty());
    if (so.max_version == "TLSv1.2") CHECK(seen_hint == "hint-from-server");
  }
  {
    identity = "mallory";
    auto h = pair_on(*srv, co);
    h.run();
    CHECK(h.client_log.errors == 1);
    CHECK(h.server_log.errors == 1);
  }
  {
    identity = "alice";
    client_key = std::vector<std::uint8_t>(32, 0x43); // wrong key
    auto h = pair_on(*srv, co);
    h.run();
    CHECK(h.client_log.errors == 1);
    CHECK(h.server_log.errors == 1);
  }
}

// ---- credentials ----------------------------------------------------------------------------

TEST_CASE("credentials: PFX, CRL, dhparam, several certificates, partial chains", "[context]") {
  SECTION("PKCS#12 with passphrase") {
    server_options so;
    so.pfx = {pfx_entry(load_bytes("server-rsa.p12"), "secret")};
    auto h = test::make_pair(so, test::client_opts());
    h.run();
    CHECK(h.client.authorized());
    so.pfx = {pfx_entry(load_bytes("server-rsa.p12"), "wrong")};
    auto wrong = server::create(so);
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().category() == openssl_category());
    so.pfx = {pfx_entry(std::vector<std::uint8_t>{1, 2, 3})};
    CHECK_FALSE(server::create(so));
  }
  SECTION("a revoked server certificate is CERT_REVOKED with a certificate_revoked alert") {
    server_options so;
    so.cert = {test::load("revoked-chain.pem")};
    so.key = {test::load("revoked.key")};
    auto co = test::client_opts();
    co.crl = {test::load("crl-intermediate.pem"), test::load("crl-root.pem")};
    auto h = test::make_pair(so, co);
    h.run();
    CHECK(error_code_name(h.client.error()) == "CERT_REVOKED");
    CHECK(h.server_log.alert == SSL_AD_CERTIFICATE_REVOKED);
    // Not revoked: fine with the same CRLs.
    auto h2 = test::make_pair(test::server_opts(), co);
    h2.run();
    CHECK(h2.client.authorized());
    co.crl = {"garbage"};
    CHECK_FALSE(connection::client(co));
  }
  SECTION("dhparam: auto for DHE suites, small parameters refused") {
    auto so = test::server_opts();
    so.dhparam = "auto";
    so.max_version = "TLSv1.2";
    so.ciphers = "DHE-RSA-AES128-GCM-SHA256";
    auto co = test::client_opts();
    co.ciphers = "DHE-RSA-AES128-GCM-SHA256";
    auto h = test::make_pair(so, co);
    h.run();
    CHECK(h.client.cipher()->name == "DHE-RSA-AES128-GCM-SHA256");
    so.dhparam = test::load("dh512.pem");
    CHECK(server::create(so).error() == make_error_code(errc::dh_param_too_small));
    so.dhparam = "not pem";
    CHECK_FALSE(server::create(so));
    // 1024 bits pass our floor but not OpenSSL's default security level on Debian.
    so.dhparam = test::load("dh1024.pem");
    auto level = server::create(so);
    REQUIRE_FALSE(level);
    CHECK(level.error().message() == "dh key too small");
    // "auto" gives 2048-bit parameters here; a client asking for 3072 refuses them.
    so.dhparam = "auto";
    co.min_dh_size = 3072;
    auto weak = test::make_pair(so, co);
    weak.run();
    CHECK(weak.client.error() == make_error_code(errc::dh_param_too_small));
    CHECK(error_code_name(weak.client.error()) == "ERR_TLS_DH_PARAM_SIZE");
    co.min_dh_size = 2048;
    auto ok = test::make_pair(so, co);
    ok.run();
    CHECK(ok.client.is_secure());
  }
  SECTION("RSA and ECDSA on one server: the client's signature algorithms choose") {
    server_options so;
    so.cert = {test::load("server-rsa-chain.pem"), test::load("server-ecdsa-chain.pem")};
    so.key = {test::load("server-rsa.key"), test::load("server-ecdsa.key")};
    auto srv = server::create(so);
    REQUIRE(srv);
    auto co = test::client_opts();
    co.sigalgs = "ECDSA+SHA256";
    auto h = pair_on(*srv, co);
    h.run();
    CHECK(h.client.peer_certificate().asn1_curve == "prime256v1");
    co.sigalgs = "rsa_pss_rsae_sha256";
    auto h2 = pair_on(*srv, co);
    h2.run();
    CHECK(h2.client.peer_certificate().bits == 2048);
  }
  SECTION("allow_partial_trust_chain: trust an intermediate alone") {
    auto co = test::client_opts();
    co.ca = {test::load("intermediate.pem")};
    auto h = test::make_pair(test::server_opts(), co);
    h.run();
    CHECK(error_code_name(h.client.error()) == "UNABLE_TO_GET_ISSUER_CERT");
    co.allow_partial_trust_chain = true;
    auto h2 = test::make_pair(test::server_opts(), co);
    h2.run();
    CHECK(h2.client.authorized());
  }
}

// ---- asynchronous verification ------------------------------------------------------------

TEST_CASE("verify_peer on the client: the handshake waits, the answer picks the alert",
          "[verify][decision]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  auto so = test::server_opts();
  so.max_version = version;
  auto srv = server::create(so);
  REQUIRE(srv);
  auto co = test::client_opts();
  co.pause_on_verify = true;

  SECTION("rejected as revoked: the server gets certificate_revoked") {
    auto h = pair_on(*srv, co);
    h.run();
    const auto* asked = find_event<events::verify_peer>(h.client_log);
    REQUIRE(asked);
    CHECK_FALSE(asked->preliminary); // OpenSSL's checks passed
    CHECK(h.client_log.secure == 0);
    REQUIRE_FALSE(
        h.client.verify_result(std::error_code(X509_V_ERR_CERT_REVOKED, x509_category())));
    h.run();
    CHECK(error_code_name(h.client.error()) == "CERT_REVOKED");
    CHECK(h.server_log.alert == SSL_AD_CERTIFICATE_REVOKED);
  }
  SECTION("accepted") {
    auto h = pair_on(*srv, co);
    h.client.write("after the policy check");
    h.run();
    REQUIRE(find_event<events::verify_peer>(h.client_log));
    REQUIRE_FALSE(h.client.verify_result({}));
    h.run();
    CHECK(h.client.authorized());
    CHECK(h.server_log.received == "after the policy check");
  }
  SECTION("the application overrides a failed chain") {
    server_options expired;
    expired.cert = {test::load("expired-chain.pem")};
    expired.key = {test::load("expired.key")};
    auto esrv = server::create(expired);
    REQUIRE(esrv);
    auto h = pair_on(*esrv, co);
    h.run();
    const auto* asked = find_event<events::verify_peer>(h.client_log);
    REQUIRE(asked);
    CHECK(error_code_name(asked->preliminary) == "CERT_HAS_EXPIRED");
    REQUIRE_FALSE(h.client.resume()); // the default answer accepts
    h.run();
    CHECK(h.client.is_secure());
    CHECK(h.client.authorized());
  }
}

TEST_CASE("verify_peer on the server: no application data until accepted", "[verify][decision]") {
  const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
  auto so = test::server_opts();
  so.max_version = version;
  so.request_cert = true;
  so.ca = {test::load("ca.pem")};
  so.pause_on_verify = true;
  auto srv = server::create(so);
  REQUIRE(srv);
  auto co = test::client_opts();
  co.cert = {test::load("client-chain.pem")};
  co.key = {test::load("client.key")};

  SECTION("rejected: not one byte gets through, either way") {
    auto h = pair_on(*srv, co);
    h.client.write("secret request");
    h.run();
    REQUIRE(find_event<events::verify_peer>(h.server_log));
    CHECK(h.server_log.secure == 0);
    CHECK(h.server_log.received.empty());
    CHECK(h.server.peek_plaintext().empty());
    std::error_code ec;
    h.server.write("secret reply", ec); // queued, never sent before the decision
    h.run();
    CHECK(h.client_log.received.empty());
    REQUIRE_FALSE(
        h.server.verify_result(std::error_code(X509_V_ERR_CERT_REVOKED, x509_category())));
    h.run();
    CHECK(error_code_name(h.server.error()) == "CERT_REVOKED");
    CHECK(h.server_log.received.empty());
    CHECK(h.client_log.received.empty());
    std::uint8_t buf[64];
    CHECK(h.server.read(buf) == 0);
  }
  SECTION("accepted: the held data is released") {
    auto h = pair_on(*srv, co);
    h.client.write("request");
    h.run();
    REQUIRE(find_event<events::verify_peer>(h.server_log));
    REQUIRE_FALSE(h.server.verify_result({}));
    h.run();
    CHECK(h.server_log.secure == 1);
    CHECK(h.server_log.received == "request");
    CHECK(h.server.authorized());
  }
}
