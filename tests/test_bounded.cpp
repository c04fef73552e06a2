// Bounded work per call (issue 11, item 2): whatever a hostile peer sends in one feed()
// (or in one-byte feeds), the connection's pending output stays under max_write_buffer
// plus one record, its event queue under the cap, and its heap under a fixed bound. The
// rest of the input waits (feed() says how much it took). A TLS 1.3 peer that sends more
// than 32 KeyUpdates without application data between them is refused (as BoringSSL).
#include "support.hpp"

#include "catch_compat.hpp"

#include <openssl/ssl.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TLSENGINE_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(TLSENGINE_TEST_ASAN)
#define TLSENGINE_TEST_ASAN 1
#endif
#if defined(TLSENGINE_TEST_ASAN)
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#elif defined(__GLIBC__)
#include <malloc.h>
#endif

using namespace tlsengine;

namespace {

std::size_t heap_in_use() {
#if defined(TLSENGINE_TEST_ASAN)
  return __sanitizer_get_current_allocated_bytes();
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  return mallinfo2().uordblks;
#else
  return 0;
#endif
}

constexpr std::size_t buffer_limit = 64 * 1024; // every connection_options limit in these tests
constexpr std::size_t one_record = 16384 + 256; // the largest TLS record, with its overhead
constexpr std::size_t event_cap = 1024;
constexpr std::size_t heap_bound = 256 * 1024; // above the connection's heap before the flood

std::string record(int type, int version, const std::string& body) {
  std::string r;
  r += static_cast<char>(type);
  r += static_cast<char>(version >> 8);
  r += static_cast<char>(version & 0xff);
  r += static_cast<char>(body.size() >> 8);
  r += static_cast<char>(body.size() & 0xff);
  return r + body;
}

void limit(connection_options& o) {
  o.max_input_buffer = buffer_limit;
  o.max_plaintext_buffer = buffer_limit;
  o.max_write_buffer = buffer_limit;
}

/// A raw OpenSSL endpoint over memory BIOs: the peer that does what tlsengine never would.
struct raw_peer {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  BIO* in = nullptr;
  BIO* out = nullptr;

  raw_peer(bool server, int version) {
    ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    REQUIRE(ctx != nullptr);
    SSL_CTX_set_min_proto_version(ctx, version);
    SSL_CTX_set_max_proto_version(ctx, version);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    if (server) {
      REQUIRE(SSL_CTX_use_certificate_chain_file(
                  ctx, (test::cert_dir() + "/server-ecdsa-chain.pem").c_str()) == 1);
      REQUIRE(SSL_CTX_use_PrivateKey_file(ctx, (test::cert_dir() + "/server-ecdsa.key").c_str(),
                                          SSL_FILETYPE_PEM) == 1);
      SSL_CTX_set_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
    }
  }
  void start(bool server) {
    ssl = SSL_new(ctx);
    in = BIO_new(BIO_s_mem());
    out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, in, out);
    if (server)
      SSL_set_accept_state(ssl);
    else
      SSL_set_connect_state(ssl);
  }
  ~raw_peer() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  raw_peer(const raw_peer&) = delete;
  raw_peer& operator=(const raw_peer&) = delete;

  std::string take() {
    char* p = nullptr;
    const long n = BIO_get_mem_data(out, &p);
    std::string s(p, static_cast<std::size_t>(n > 0 ? n : 0));
    (void)BIO_reset(out);
    return s;
  }
  void give(bytes_view bytes) { BIO_write(in, bytes.data(), static_cast<int>(bytes.size())); }

  /// Runs the handshake (and a renegotiation) against `c` until neither side moves.
  void exchange(connection& c) {
    for (int i = 0; i < 30; ++i) {
      SSL_do_handshake(ssl);
      char buf[256];
      while (SSL_read(ssl, buf, sizeof buf) > 0) {
      }
      c.feed(take());
      while (c.next_event()) {
      }
      std::vector<std::uint8_t> sink(4096);
      while (c.read(sink) != 0) {
      }
      const bytes_view reply = c.pending_output();
      give(reply);
      c.consume_output(reply.size());
    }
  }
};

/// What a connection holds while a hostile stream is fed, call after call.
struct watch {
  connection& c;
  std::size_t max_write;
  std::size_t start_heap = heap_in_use();
  std::size_t worst_output = 0;
  std::size_t worst_heap = 0;

  void check() {
    worst_output = std::max(worst_output, c.pending_output().size());
    const std::size_t now = heap_in_use();
    worst_heap = std::max(worst_heap, now > start_heap ? now - start_heap : 0);
  }
  /// Events queued now: popped until the engine resumes reading (which it does only
  /// when the queue runs empty), seen as a change in its output or input counters.
  std::size_t queued_events() {
    std::size_t n = 0;
    const std::size_t out = c.pending_output().size();
    while (c.next_event()) {
      ++n;
      if (c.pending_output().size() != out) break;
    }
    return n;
  }
  void require_bounded() {
    CAPTURE(worst_output, worst_heap);
    CHECK(worst_output <= max_write + one_record);
    CHECK(worst_heap <= heap_bound);
  }
};

/// Feeds `stream` in one call, then in `chunk`-byte calls, never draining output (a peer
/// that does not read), and checks the bounds after every call.
std::size_t feed_hostile(connection& c, watch& w, const std::string& stream, std::size_t chunk) {
  std::size_t taken = 0;
  for (std::size_t i = 0; i < stream.size(); i += chunk) {
    const std::size_t n = std::min(chunk, stream.size() - i);
    const std::size_t got = c.feed(bytes_view(stream).subview(i, n));
    CHECK(got <= n);
    taken += got;
    w.check();
    if (got < n) break; // the rest waits: the peer would keep it in its socket
  }
  return taken;
}

server_options limited_server(const char* version) {
  auto so = test::server_opts("server-ecdsa");
  so.min_version = so.max_version = version;
  limit(so);
  return so;
}

/// A server connection after a handshake with `peer` (a raw client).
connection handshaken_server(server& srv, raw_peer& peer) {
  peer.start(false);
  connection c = srv.accept();
  peer.exchange(c);
  REQUIRE(c.is_secure());
  return c;
}

} // namespace

TEST_CASE("bounded: a KeyUpdate flood is refused after 32 without application data",
          "[hostile][bounded]") {
  auto srv = server::create(limited_server("TLSv1.3"));
  REQUIRE(srv);
  const std::size_t chunk = GENERATE(std::size_t(1) << 30, std::size_t(1));
  CAPTURE(chunk);
  raw_peer peer(false, TLS1_3_VERSION);
  connection c = handshaken_server(*srv, peer);
  const int count = chunk == 1 ? 2000 : 100000;
  for (int i = 0; i < count; ++i) {
    SSL_key_update(peer.ssl, SSL_KEY_UPDATE_REQUESTED);
    SSL_do_handshake(peer.ssl);
  }
  const std::string flood = peer.take();
  REQUIRE(flood.size() > std::size_t(count) * 20);
  watch w{c, buffer_limit};
  feed_hostile(c, w, flood, chunk);
  w.require_bounded();
  std::size_t key_updates = 0;
  std::error_code error;
  int alert = -1;
  bool alert_sent = false;
  while (auto e = c.next_event()) {
    if (std::holds_alternative<events::key_update>(*e)) ++key_updates;
    if (auto* err = std::get_if<events::error>(&*e)) {
      error = err->code;
      alert = err->alert;
      alert_sent = err->alert_sent;
    }
  }
  CHECK(key_updates <= 33);
  CHECK(error == errc::too_many_key_updates);
  CHECK(alert == SSL_AD_UNEXPECTED_MESSAGE);
  CHECK(alert_sent);
  // The alert reaches the peer, which reads it as unexpected_message.
  peer.give(c.pending_output());
  char buf[16];
  CHECK(SSL_read(peer.ssl, buf, sizeof buf) <= 0);
  CHECK(SSL_get_error(peer.ssl, -1) == SSL_ERROR_SSL);
}

TEST_CASE("bounded: KeyUpdates with application data between them, a peer that never reads",
          "[hostile][bounded]") {
  auto srv = server::create(limited_server("TLSv1.3"));
  REQUIRE(srv);
  const std::size_t chunk = GENERATE(std::size_t(1) << 30, std::size_t(1));
  CAPTURE(chunk);
  raw_peer peer(false, TLS1_3_VERSION);
  connection c = handshaken_server(*srv, peer);
  const int count = chunk == 1 ? 3000 : 30000;
  for (int i = 0; i < count; ++i) {
    SSL_key_update(peer.ssl, SSL_KEY_UPDATE_REQUESTED);
    SSL_do_handshake(peer.ssl);
    if (i % 16 == 15) SSL_write(peer.ssl, "x", 1);
  }
  const std::string flood = peer.take();
  watch w{c, buffer_limit};
  const std::size_t taken = feed_hostile(c, w, flood, chunk);
  w.require_bounded();
  if (chunk != 1) CHECK(taken < flood.size()); // the rest waits (1-byte calls: in the buffer)
  CHECK(w.queued_events() <= event_cap);
  CHECK_FALSE(c.error());
  // Draining everything lets the rest through, and every byte of data arrives.
  std::size_t data = 0;
  std::size_t offset = taken;
  std::vector<std::uint8_t> sink(4096);
  for (int round = 0; round < 100000 && offset <= flood.size(); ++round) {
    while (c.next_event()) {
    }
    while (std::size_t n = c.read(sink))
      data += n;
    c.consume_output(c.pending_output().size());
    if (offset == flood.size()) break;
    offset += c.feed(bytes_view(flood).subview(offset, chunk == 1 ? 4096 : flood.size()));
  }
  while (std::size_t n = c.read(sink))
    data += n;
  CHECK_FALSE(c.error());
  CHECK(offset == flood.size());
  CHECK(data == std::size_t(count / 16));
}

TEST_CASE("bounded: a NewSessionTicket flood", "[hostile][bounded]") {
  const std::size_t chunk = GENERATE(std::size_t(1) << 30, std::size_t(1));
  CAPTURE(chunk);
  raw_peer peer(true, TLS1_3_VERSION);
  peer.start(true);
  client_options co = test::client_opts();
  limit(co);
  auto cli = connection::client(co);
  REQUIRE(cli);
  connection c = std::move(*cli);
  peer.give(c.pending_output());
  c.consume_output(c.pending_output().size());
  peer.exchange(c);
  REQUIRE(c.is_secure());
  const int count = chunk == 1 ? 500 : 10000;
  for (int i = 0; i < count; ++i) {
    SSL_new_session_ticket(peer.ssl);
    SSL_do_handshake(peer.ssl);
  }
  const std::string flood = peer.take();
  watch w{c, buffer_limit};
  feed_hostile(c, w, flood, chunk);
  w.require_bounded();
  CHECK(w.queued_events() <= event_cap);
  CHECK_FALSE(c.error());
}

TEST_CASE("bounded: a HelloRequest flood", "[hostile][bounded]") {
  const std::size_t chunk = GENERATE(std::size_t(1) << 30, std::size_t(1));
  CAPTURE(chunk);
  raw_peer peer(true, TLS1_2_VERSION);
  peer.start(true);
  client_options co = test::client_opts();
  limit(co);
  auto cli = connection::client(co);
  REQUIRE(cli);
  connection c = std::move(*cli);
  peer.give(c.pending_output());
  c.consume_output(c.pending_output().size());
  peer.exchange(c);
  REQUIRE(c.is_secure());
  const int count = chunk == 1 ? 500 : 10000;
  for (int i = 0; i < count; ++i) {
    SSL_renegotiate(peer.ssl);
    SSL_do_handshake(peer.ssl);
  }
  const std::string flood = peer.take();
  watch w{c, buffer_limit};
  feed_hostile(c, w, flood, chunk);
  w.require_bounded();
  CHECK(w.queued_events() <= event_cap);
}

namespace {
int big_extension_add(SSL*, unsigned int, unsigned int, const unsigned char** out, size_t* outlen,
                      X509*, size_t, int*, void*) {
  static const std::string payload(60000, 'E');
  *out = reinterpret_cast<const unsigned char*>(payload.data());
  *outlen = payload.size();
  return 1;
}
} // namespace

TEST_CASE("bounded: renegotiation ClientHellos with 60 KB extensions", "[hostile][bounded]") {
  auto so = limited_server("TLSv1.2");
  auto srv = server::create(so);
  REQUIRE(srv);
  raw_peer peer(false, TLS1_2_VERSION);
  REQUIRE(SSL_CTX_add_custom_ext(peer.ctx, 0xfe01, SSL_EXT_CLIENT_HELLO, big_extension_add, nullptr,
                                 nullptr, nullptr, nullptr) == 1);
  connection c = handshaken_server(*srv, peer);
  watch w{c, buffer_limit};
  for (int i = 0; i < 10 && !c.error(); ++i) {
    SSL_renegotiate(peer.ssl);
    SSL_do_handshake(peer.ssl);
    const std::string hello = peer.take();
    REQUIRE(hello.size() > 60000);
    // The raw peer shares the process heap: measure each feed from just before it.
    w.start_heap = heap_in_use();
    feed_hostile(c, w, hello, i % 2 == 0 ? hello.size() : 1);
    peer.give(c.pending_output());
    c.consume_output(c.pending_output().size());
    peer.exchange(c);
  }
  w.require_bounded();
  CHECK(c.error() == errc::renegotiation_limit);
}

TEST_CASE("bounded: 1,000 warning alerts", "[hostile][bounded]") {
  const std::size_t chunk = GENERATE(std::size_t(1) << 30, std::size_t(1));
  CAPTURE(chunk);
  auto srv = server::create(limited_server("TLSv1.3"));
  REQUIRE(srv);
  std::string flood;
  for (int i = 0; i < 1000; ++i)
    flood += record(21, 0x0303, std::string("\x01\x5a", 2)); // warning user_canceled
  connection c = srv->accept();
  watch w{c, buffer_limit};
  feed_hostile(c, w, flood, chunk);
  w.require_bounded();
  CHECK(w.queued_events() <= event_cap);
}

TEST_CASE("bounded: 16 MiB of garbage", "[hostile][bounded]") {
  const std::size_t chunk = GENERATE(std::size_t(1) << 30, std::size_t(1));
  CAPTURE(chunk);
  std::mt19937_64 rng(11);
  std::string junk(chunk == 1 ? (1 << 20) : (16 << 20), '\0');
  for (std::size_t i = 0; i + 8 <= junk.size(); i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(&junk[i], &v, 8);
  }
  junk[0] = 22; // a handshake record header first, then garbage
  junk[1] = 3;
  junk[2] = 1;
  auto srv = server::create(limited_server("TLSv1.3"));
  REQUIRE(srv);
  connection c = srv->accept();
  watch w{c, buffer_limit};
  feed_hostile(c, w, junk, chunk);
  w.require_bounded();
  CHECK(c.error());
}

TEST_CASE("a failed connection frees its OpenSSL state once the alert is handed out",
          "[hostile][cleanup]") {
  auto srv = server::create(test::server_opts("server-ecdsa"));
  REQUIRE(srv);
  { // warm up OpenSSL's process-wide tables (error strings, methods) outside the measure
    connection warm = srv->accept();
    warm.feed(std::string("\x16\x03\x01\x00\x05\x01\x00\x00\x01\xff", 10));
    warm.consume_output(warm.pending_output().size());
  }
  std::size_t fresh = 0;
  {
    const std::size_t before = heap_in_use();
    connection idle = srv->accept();
    fresh = heap_in_use() - before;
  }
  const std::size_t before = heap_in_use();
  connection c = srv->accept();
  // A ClientHello record whose message is one byte long: decode_error on the first record.
  const std::string bad("\x16\x03\x01\x00\x05\x01\x00\x00\x01\xff", 10);
  CHECK(c.feed(bad) == bad.size());
  std::size_t errors = 0;
  while (auto e = c.next_event())
    errors += std::holds_alternative<events::error>(*e) ? 1 : 0;
  CHECK(errors == 1);
  const bytes_view alert = c.pending_output();
  REQUIRE(alert.size() == 7);
  CHECK(alert[6] == SSL_AD_DECODE_ERROR);
  c.consume_output(alert.size());
  const std::size_t held = heap_in_use() - before;
  CAPTURE(fresh, held);
  CHECK(held <= fresh + 2048); // was 72 KB: the SSL, its buffers and handshake state
  // What must still answer does.
  CHECK(c.error());
  CHECK_FALSE(c.error_message().empty());
  CHECK(c.bytes_received() == bad.size());
  CHECK(c.bytes_sent() == 7);
  CHECK_FALSE(c.is_secure());
  CHECK(c.feed("more") == 4); // discarded, as after any fatal error
  std::error_code ec;
  CHECK(c.write("x", ec) == 0);
  CHECK(ec == c.error());
  CHECK(c.resume() == c.error());
  CHECK(c.pending_output().empty());
  CHECK_FALSE(c.next_event());
  CHECK(c.protocol().empty());
  CHECK(c.peer_certificate().empty());
}

TEST_CASE("a client that rejected the server's certificate frees its state, keeps the reason",
          "[hostile][cleanup]") {
  auto so = test::server_opts("server-ecdsa");
  auto co = test::client_opts();
  co.servername = "wrong.example";
  auto h = test::make_pair(so, co);
  h.run(); // the drain loop hands out the client's alert
  CHECK(h.client_log.errors == 1);
  CHECK(h.client.native_handle() == nullptr); // freed
  CHECK(h.client.verify_error() == errc::cert_altname_invalid);
  CHECK(h.client.authorization_error() == "ERR_TLS_CERT_ALTNAME_INVALID");
  CHECK_FALSE(h.client.verify_reason().empty());
  CHECK(h.client.error() == errc::cert_altname_invalid);
}
