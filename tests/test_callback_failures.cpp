// Callbacks fail inside the handshake, never after it (issue 11, item 5): a callback's
// failure aborts the handshake with the alert it maps to, and no connection reports
// `secure` and then fails because of a callback OpenSSL had already accepted.
#include "support.hpp"

#include "catch_compat.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <string>
#include <vector>

using namespace tlsengine;

namespace {

const std::vector<std::uint8_t> key(32, 0x42);

/// Events in the order they came: `secure` must never precede an error.
bool secure_then_error(const test::side_log& log) {
  bool secure = false;
  for (const auto& e : log.events) {
    if (std::holds_alternative<events::secure>(e)) secure = true;
    if (std::holds_alternative<events::error>(e) && secure) return true;
  }
  return false;
}

test::harness pair(const server_options& so, const client_options& co) {
  auto srv = server::create(so);
  REQUIRE(srv);
  auto cli = connection::client(co);
  REQUIRE(cli);
  test::harness h;
  h.client = std::move(*cli);
  h.server = srv->accept();
  return h;
}

} // namespace

TEST_CASE("client psk_callback that checks the hint: TLS 1.2 PSK with a TLS 1.3-capable client",
          "[psk][callback-failure]") {
  // The client allows TLS 1.3, so OpenSSL probes the callback for an external PSK while
  // it builds the ClientHello. Before: the probe's "" hint was declined, recorded as an
  // error, the TLS 1.2 handshake completed (`secure`), then the connection failed.
  server_options so;
  so.psk_identity_hint = "hint-from-server";
  so.max_version = "TLSv1.2";
  so.ciphers = "PSK-AES128-GCM-SHA256";
  so.psk_callback = [](std::string_view identity) -> std::optional<std::vector<std::uint8_t>> {
    if (identity == "alice") return key;
    return std::nullopt;
  };
  client_options co;
  co.ciphers = "PSK-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256"; // TLS 1.3 stays possible
  int calls = 0;
  co.psk_callback = [&](std::string_view hint) -> std::optional<psk_credentials> {
    ++calls;
    if (hint != "hint-from-server") return std::nullopt;
    return psk_credentials{"alice", key};
  };
  auto h = pair(so, co);
  h.client.write("hello");
  h.server.write("world");
  h.run();
  CHECK(h.client.is_secure());
  CHECK(h.server.is_secure());
  CHECK(h.client_log.errors == 0);
  CHECK(h.server_log.errors == 0);
  CHECK_FALSE(secure_then_error(h.client_log));
  CHECK(h.server_log.received == "hello");
  CHECK(h.client_log.received == "world");
  CHECK(h.client.protocol() == "TLSv1.2");
  CHECK(calls == 2); // the probe, then the real hint
}

TEST_CASE("the psk probe is told apart: is_psk_probe(hint)", "[psk][callback-failure]") {
  server_options so;
  so.psk_callback = [](std::string_view) -> std::optional<std::vector<std::uint8_t>> {
    return key;
  };
  client_options co;
  std::vector<bool> probes;
  SECTION("TLS 1.3: only the probe, answered") {
    so.min_version = co.min_version = "TLSv1.3";
    so.ciphers = co.ciphers = "TLS_AES_128_GCM_SHA256";
    co.psk_callback = [&](std::string_view hint) -> std::optional<psk_credentials> {
      probes.push_back(is_psk_probe(hint));
      return psk_credentials{"alice", key};
    };
    auto h = pair(so, co);
    h.run();
    CHECK(h.client.is_secure());
    CHECK(probes == std::vector<bool>{true});
  }
  SECTION("TLS 1.2 without a server hint: an empty hint is not the probe") {
    so.max_version = co.max_version = "TLSv1.2";
    so.ciphers = co.ciphers = "PSK-AES128-GCM-SHA256";
    co.psk_callback = [&](std::string_view hint) -> std::optional<psk_credentials> {
      probes.push_back(is_psk_probe(hint));
      CHECK(hint.empty());
      return psk_credentials{"alice", key};
    };
    auto h = pair(so, co);
    h.run();
    CHECK(h.client.is_secure());
    CHECK(probes == std::vector<bool>{false});
  }
}

TEST_CASE("a failing callback aborts the handshake with its alert, never after `secure`",
          "[callback-failure]") {
  struct outcome {
    bool client_fails;
    int alert; // the alert the failing side sends
  };
  server_options so;
  client_options co;
  outcome expect{true, -1};
  SECTION("client psk_callback declines the server's hint (TLS 1.2)") {
    so.max_version = "TLSv1.2";
    so.psk_identity_hint = "h";
    so.ciphers = co.ciphers = "PSK-AES128-GCM-SHA256";
    so.psk_callback = [](std::string_view) {
      return std::optional<std::vector<std::uint8_t>>(key);
    };
    co.psk_callback = [](std::string_view hint) -> std::optional<psk_credentials> {
      if (is_psk_probe(hint)) return std::nullopt;
      return std::nullopt;
    };
    expect = {true, SSL_AD_HANDSHAKE_FAILURE};
  }
  SECTION("client psk_callback answers an identity that does not fit (TLS 1.2)") {
    so.max_version = "TLSv1.2";
    so.ciphers = co.ciphers = "PSK-AES128-GCM-SHA256";
    so.psk_callback = [](std::string_view) {
      return std::optional<std::vector<std::uint8_t>>(key);
    };
    co.psk_callback = [](std::string_view hint) -> std::optional<psk_credentials> {
      if (is_psk_probe(hint)) return std::nullopt;
      return psk_credentials{std::string(1000, 'x'), key};
    };
    expect = {true, SSL_AD_HANDSHAKE_FAILURE};
  }
  SECTION("client psk_callback gives the probe an unusable key (TLS 1.3)") {
    so.min_version = co.min_version = "TLSv1.3";
    so.ciphers = co.ciphers = "TLS_AES_128_GCM_SHA256";
    so.psk_callback = [](std::string_view) {
      return std::optional<std::vector<std::uint8_t>>(key);
    };
    co.psk_callback = [](std::string_view) -> std::optional<psk_credentials> {
      return psk_credentials{"alice", {}};
    };
    expect = {true, -1}; // fails before anything reached the server
  }
  SECTION("server psk_callback refuses the identity") {
    so.max_version = "TLSv1.2";
    so.ciphers = co.ciphers = "PSK-AES128-GCM-SHA256";
    so.psk_callback = [](std::string_view) { return std::optional<std::vector<std::uint8_t>>(); };
    co.psk_callback = [](std::string_view) -> std::optional<psk_credentials> {
      return psk_credentials{"alice", key};
    };
    expect = {false, -2}; // some fatal alert (OpenSSL picks it)
  }
  SECTION("alpn_callback picks a protocol the client did not offer") {
    so = test::server_opts();
    co = test::client_opts();
    co.alpn_protocols = {"a"};
    so.alpn_callback = [](const alpn_request&) { return std::optional<std::string>("z"); };
    expect = {false,
              SSL_AD_INTERNAL_ERROR}; // RFC 7301 keeps no_application_protocol for "no overlap"
  }
  SECTION("check_server_identity rejects") {
    so = test::server_opts();
    co = test::client_opts();
    co.check_server_identity = [](std::string_view, const certificate_info&) {
      return make_error_code(errc::cert_altname_invalid);
    };
    expect = {true, -2};
  }
  auto h = pair(so, co);
  h.client.write("data");
  h.run();
  test::side_log& failing = expect.client_fails ? h.client_log : h.server_log;
  test::side_log& other = expect.client_fails ? h.server_log : h.client_log;
  CHECK(failing.errors == 1);
  CHECK(failing.secure == 0);
  CHECK_FALSE(secure_then_error(failing));
  CHECK_FALSE(secure_then_error(other));
  CHECK(h.server_log.received.empty());
  if (expect.alert != -1) {
    CHECK(failing.alert_sent);
    CHECK(other.errors == 1);
    CHECK_FALSE(other.alert_sent);
    if (expect.alert >= 0) CHECK(failing.alert == expect.alert);
  }
}

namespace {
// What an application's own logging or parsing leaves behind: a failed PEM parse queues
// "no start line" in this thread's OpenSSL error queue.
void leave_an_openssl_error() {
  BIO* bio = BIO_new_mem_buf("not a certificate", -1);
  X509_free(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
}
} // namespace

// Found by an adversarial review: OpenSSL read such leftovers as the failure of the call
// that ran the callback, and a healthy handshake failed with the application's error text.
TEST_CASE("errors a callback's own OpenSSL calls leave behind do not fail the connection",
          "[callbacks][errors]") {
  for (const std::string version : {"TLSv1.2", "TLSv1.3"}) {
    INFO(version);
    for (const std::string where : {"trace sink", "alpn_callback", "check_server_identity"}) {
      INFO(where);
      server_options so = test::server_opts();
      so.max_version = version;
      client_options co = test::client_opts();
      co.alpn_protocols = {"h2"};
      int calls = 0;
      if (where == "alpn_callback")
        so.alpn_callback = [&](const alpn_request& r) -> std::optional<std::string> {
          ++calls;
          leave_an_openssl_error();
          return r.protocols.front();
        };
      if (where == "check_server_identity")
        co.check_server_identity = [&](std::string_view, const certificate_info&) {
          ++calls;
          leave_an_openssl_error();
          return std::error_code();
        };
      auto h = pair(so, co);
      if (where == "trace sink")
        h.server.enable_trace([&](std::string_view) {
          ++calls;
          leave_an_openssl_error();
        });
      h.client.write("data");
      h.run();
      CHECK(calls > 0);
      CHECK(h.client.is_secure());
      CHECK(h.server.is_secure());
      CHECK(h.client_log.errors == 0);
      CHECK(h.server_log.errors == 0);
      CHECK(h.server_log.received == "data");
      CHECK(ERR_peek_error() == 0); // and nothing is left for the application's next call
    }
  }
}
