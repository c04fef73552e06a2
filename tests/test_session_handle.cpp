// Sessions as handles (issue 14): the `session` event's handle resumes without being
// parsed, again and again; bytes still work (parsed once per context, a bounded cache);
// the identity binding holds for both; OpenSSL's buffers released when idle keep the data
// path intact.
#include "support.hpp"

#include <string>
#include <vector>

using namespace tlsengine;

namespace {

/// One full connection to `srv`; returns the last `session` event's handle.
session_handle first_session(const server& srv, const client_options& co) {
  auto cli = connection::client(co);
  REQUIRE(cli);
  test::harness h;
  h.client = std::move(*cli);
  h.server = srv.accept();
  h.run();
  REQUIRE(h.client.is_secure());
  session_handle last;
  for (const event& e : h.client_log.events)
    if (auto* s = std::get_if<events::session>(&e)) last = s->data;
  REQUIRE_FALSE(last.empty());
  return last;
}

/// Connects with `co` and says whether the session was resumed (both sides agree).
bool resumes(const server& srv, const client_options& co) {
  auto cli = connection::client(co);
  REQUIRE(cli);
  test::harness h;
  h.client = std::move(*cli);
  h.server = srv.accept();
  h.client.write("ping");
  h.run();
  REQUIRE(h.client.is_secure());
  REQUIRE(h.server_log.received == "ping");
  CHECK(h.client.is_session_reused() == h.server.is_session_reused());
  return h.client.is_session_reused();
}

server_options versioned(const char* version) {
  auto so = test::server_opts();
  so.max_version = version;
  return so;
}

} // namespace

TEST_CASE("session handle: the event's handle resumes every time, not only once",
          "[session][handle]") {
  const char* version = GENERATE("TLSv1.2", "TLSv1.3");
  auto srv = server::create(versioned(version));
  REQUIRE(srv);
  auto co = test::client_opts();
  auto ctx = secure_context::create(co); // one client context, as a real client has
  REQUIRE(ctx);
  co.secure_context = *ctx;
  co.session = first_session(*srv, co);
  REQUIRE(co.session.native_handle() != nullptr); // parsed: nothing to decode per connection
  // OpenSSL marks the session a connection resumed unresumable when that connection gets
  // a new ticket: the handle must not be that session.
  for (int i = 0; i < 4; ++i)
    CHECK(resumes(*srv, co));
  CHECK(SSL_SESSION_is_resumable(co.session.native_handle()) == 1);
}

TEST_CASE("session handle: bytes still resume, repeatedly, and convert both ways",
          "[session][handle]") {
  const char* version = GENERATE("TLSv1.2", "TLSv1.3");
  auto srv = server::create(versioned(version));
  REQUIRE(srv);
  auto co = test::client_opts();
  auto ctx = secure_context::create(co);
  REQUIRE(ctx);
  co.secure_context = *ctx;
  const session_handle handle = first_session(*srv, co);
  const std::vector<std::uint8_t> bytes = handle; // source compatibility: a vector
  REQUIRE_FALSE(bytes.empty());
  CHECK(bytes == handle.to_bytes());
  co.session = bytes; // and back
  CHECK(co.session.native_handle() == nullptr);
  CHECK(co.session.to_bytes() == bytes);
  for (int i = 0; i < 3; ++i)
    CHECK(resumes(*srv, co)); // parsed once, then from the context's cache
}

TEST_CASE("session handle: more stored sessions than the cache holds all resume",
          "[session][handle]") {
  auto srv = server::create(versioned("TLSv1.2"));
  REQUIRE(srv);
  auto co = test::client_opts();
  auto ctx = secure_context::create(co);
  REQUIRE(ctx);
  co.secure_context = *ctx;
  std::vector<std::vector<std::uint8_t>> stored;
  for (int i = 0; i < 12; ++i) {
    co.session = session_handle();
    stored.push_back(first_session(*srv, co).to_bytes());
  }
  for (int round = 0; round < 2; ++round) {
    for (const auto& bytes : stored) {
      co.session = bytes;
      CHECK(resumes(*srv, co));
    }
  }
  co.session = std::vector<std::uint8_t>{1, 2, 3}; // not a session: an error
  auto bad = connection::client(co);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().category() == openssl_category()); // with OpenSSL's reason, as before
}

TEST_CASE("session handle: never offered to another server name or a mismatched identity",
          "[session][handle][identity]") {
  auto srv = server::create(versioned("TLSv1.3"));
  REQUIRE(srv);
  auto co = test::client_opts();
  auto ctx = secure_context::create(co);
  REQUIRE(ctx);
  co.secure_context = *ctx;
  const session_handle handle = first_session(*srv, co);

  SECTION("another SNI: a full handshake") {
    auto other = co;
    other.session = handle;
    other.servername = "other.example"; // not in the certificate
    other.reject_unauthorized = false;
    CHECK_FALSE(resumes(*srv, other));
    other.session = handle.to_bytes();
    CHECK_FALSE(resumes(*srv, other));
  }
  SECTION("no SNI, a host the certificate does not name: a full handshake") {
    // An IP address is checked but not sent: the session's host name (localhost) differs
    // from the (absent) SNI, so the session is not offered.
    auto ip = co;
    ip.session = handle;
    ip.servername = "127.0.0.1";
    ip.reject_unauthorized = false;
    CHECK_FALSE(resumes(*srv, ip));
  }
  SECTION("the same name, still checked and remembered: resumes") {
    auto same = co;
    same.session = handle;
    CHECK(resumes(*srv, same));
    CHECK(resumes(*srv, same));
  }
}

TEST_CASE("release_buffers_when_idle: data intact across releases, records fed byte by byte",
          "[engine][memory]") {
  auto so = test::server_opts();
  so.release_buffers_when_idle = true;
  auto co = test::client_opts();
  co.release_buffers_when_idle = true;
  const std::size_t chunk = GENERATE(std::size_t(1), std::size_t(7), std::size_t(100000));
  auto h = test::make_pair(so, co);
  h.chunk = chunk; // partial records: OpenSSL must keep its buffer until a record is whole
  h.run();
  REQUIRE(h.client.is_secure());
  std::string sent_to_server, sent_to_client;
  for (int i = 0; i < 20; ++i) {
    const std::string request = "request " + std::to_string(i) + std::string(i * 97, 'q');
    const std::string response = "response " + std::to_string(i) + std::string(i * 331, 'r');
    h.client.write(request);
    sent_to_server += request;
    h.run();
    h.server.write(response);
    sent_to_client += response;
    h.run();
  }
  h.client.write(std::string(40000, 'b')); // several records in one drain
  sent_to_server += std::string(40000, 'b');
  h.run();
  CHECK(h.server_log.received == sent_to_server);
  CHECK(h.client_log.received == sent_to_client);
  CHECK(h.client_log.errors == 0);
  CHECK(h.server_log.errors == 0);
}
