// Key-exchange groups between two engines: negotiated_group() on both sides, after a full
// handshake and after resumption, ecdh_curve, and the post-quantum hybrid X25519MLKEM768
// that OpenSSL >= 3.5 puts first in its default group list (tests that need it say
// "OpenSSL >= 3.5" in their name and exist only when built against it).
#include "support.hpp"

#include "catch_compat.hpp"

#include <openssl/opensslv.h>

#include <string>
#include <vector>

using namespace tlsengine;

namespace {

/// OpenSSL 3.0's default group list ("auto" there): what a peer on Debian 12 or Ubuntu
/// 22.04/24.04 offers.
constexpr const char* openssl30_default_groups =
    "x25519:secp256r1:x448:secp521r1:secp384r1:ffdhe2048:ffdhe3072:ffdhe4096:ffdhe6144:"
    "ffdhe8192";

/// A full handshake on `srv`, then a resumption with the client's session.
struct resumed_pair {
  test::harness first;
  test::harness second;
};

resumed_pair handshake_and_resume(const server_options& so, client_options co) {
  resumed_pair r;
  auto srv = server::create(so);
  REQUIRE(srv);
  auto first = connection::client(co);
  REQUIRE(first);
  r.first.client = std::move(*first);
  r.first.server = srv->accept();
  r.first.client.write("x");
  r.first.run();
  REQUIRE(r.first.client.is_secure());
  REQUIRE_FALSE(r.first.client_log.sessions.empty());
  co.session = r.first.client_log.sessions.back();
  auto second = connection::client(co);
  REQUIRE(second);
  r.second.client = std::move(*second);
  r.second.server = srv->accept();
  r.second.run();
  REQUIRE(r.second.client.is_secure());
  REQUIRE(r.second.client.is_session_reused());
  return r;
}

} // namespace

TEST_CASE("key exchange: negotiated_group() names the group on both sides", "[kex]") {
  SECTION("before the handshake: empty") {
    auto h = test::make_pair(test::server_opts(), test::client_opts());
    CHECK(h.client.negotiated_group().empty());
    CHECK(h.server.negotiated_group().empty());
  }
  SECTION("ecdh_curve picks the group; TLS 1.3 and 1.2, full and resumed") {
    const std::string version = GENERATE(as<std::string>{}, "TLSv1.2", "TLSv1.3");
    const std::string curve = GENERATE(as<std::string>{}, "P-256", "X25519", "P-384");
    const std::string iana = curve == "P-256"   ? "secp256r1"
                             : curve == "P-384" ? "secp384r1"
                                                : "x25519";
    CAPTURE(version, curve);
    auto so = test::server_opts();
    so.max_version = version;
    auto co = test::client_opts();
    co.ecdh_curve = curve;
    resumed_pair r = handshake_and_resume(so, co);
    CHECK(r.first.client.protocol() == version);
    CHECK(r.first.client.negotiated_group() == iana);
    CHECK(r.first.server.negotiated_group() == iana);
    if (version == "TLSv1.3") {
      // TLS 1.3 resumption (psk_dhe_ke) runs a new key exchange.
      CHECK(r.second.client.negotiated_group() == iana);
      CHECK(r.second.server.negotiated_group() == iana);
    } else {
      // A TLS 1.2 resumption runs no key exchange: OpenSSL reports the group of the
      // handshake that made the session, kept in the session (seen on 3.0.19 and 3.5;
      // older 3.0 releases may report none).
      if (OpenSSL_version_num() >= 0x30000130L) {
        CHECK(r.second.client.negotiated_group() == iana);
        CHECK(r.second.server.negotiated_group() == iana);
      }
    }
  }
  SECTION("TLS 1.2 with a finite-field DHE suite: no named group") {
    auto so = test::server_opts();
    so.dhparam = "auto";
    auto co = test::client_opts();
    co.max_version = "TLSv1.2";
    co.ciphers = "DHE-RSA-AES128-GCM-SHA256";
    auto h = test::make_pair(so, co);
    h.run();
    REQUIRE(h.client.is_secure());
    REQUIRE(h.client.cipher());
    CHECK(h.client.cipher()->name == "DHE-RSA-AES128-GCM-SHA256");
    // OpenSSL picks TLS 1.2 DHE parameters by the key's strength, not by negotiating a
    // named group (RFC 7919): there is none to name; ephemeral_key() shows the DH key.
    CHECK(h.client.negotiated_group().empty());
    CHECK(h.server.negotiated_group().empty());
    auto key = h.client.ephemeral_key();
    REQUIRE(key);
    CHECK(key->type == "DH");
    CHECK(key->size >= 2048);
  }
}

TEST_CASE("key exchange: a peer limited to OpenSSL 3.0's default groups gets x25519", "[kex]") {
  SECTION("that client against our default server") {
    auto co = test::client_opts();
    co.ecdh_curve = openssl30_default_groups;
    auto h = test::make_pair(test::server_opts(), co);
    h.run();
    REQUIRE(h.client.is_secure());
    CHECK(h.server.negotiated_group() == "x25519");
    CHECK(h.client.negotiated_group() == "x25519");
    auto key = h.client.ephemeral_key();
    REQUIRE(key);
    CHECK(key->type == "ECDH");
    CHECK(key->name == "X25519");
    CHECK(key->size == 253);
  }
  SECTION("that server against our default client") {
    auto so = test::server_opts();
    so.ecdh_curve = openssl30_default_groups;
    auto h = test::make_pair(so, test::client_opts());
    h.run();
    REQUIRE(h.client.is_secure());
    CHECK(h.client.negotiated_group() == "x25519");
    CHECK(h.server.negotiated_group() == "x25519");
  }
}

#if OPENSSL_VERSION_NUMBER >= 0x30500000L

TEST_CASE("post-quantum (OpenSSL >= 3.5): default options negotiate X25519MLKEM768", "[kex][pq]") {
  REQUIRE(OpenSSL_version_num() >= 0x30500000L); // built and run against 3.5
  resumed_pair r = handshake_and_resume(test::server_opts(), test::client_opts());
  CHECK(r.first.client.protocol() == "TLSv1.3");
  CHECK(r.first.client.negotiated_group() == "X25519MLKEM768");
  CHECK(r.first.server.negotiated_group() == "X25519MLKEM768");
  // The server's share is an ML-KEM ciphertext, not a public key: like Node's
  // getEphemeralKeyInfo() ({}), ephemeral_key() has nothing to report.
  CHECK_FALSE(r.first.client.ephemeral_key());
  // The resumption (psk_dhe_ke) runs the hybrid exchange again.
  CHECK(r.second.client.negotiated_group() == "X25519MLKEM768");
  CHECK(r.second.server.negotiated_group() == "X25519MLKEM768");
}

TEST_CASE("post-quantum (OpenSSL >= 3.5): ecdh_curve names the hybrid group", "[kex][pq]") {
  auto so = test::server_opts();
  so.ecdh_curve = "X25519MLKEM768";
  auto co = test::client_opts();
  co.ecdh_curve = "X25519MLKEM768:X25519";
  auto h = test::make_pair(so, co);
  h.run();
  REQUIRE(h.client.is_secure());
  CHECK(h.client.negotiated_group() == "X25519MLKEM768");

  // Hybrid only on one side and classical only on the other: no common group.
  auto classical = test::client_opts();
  classical.ecdh_curve = "X25519:P-256";
  auto fail = test::make_pair(so, classical);
  fail.run();
  CHECK_FALSE(fail.client.is_secure());
  CHECK(fail.server.error());
  CHECK(fail.server_log.alert == 40); // handshake_failure (RFC 8446 4.1.1)
}

#else

TEST_CASE("key exchange (OpenSSL < 3.5): default options negotiate x25519; no hybrid group",
          "[kex]") {
  auto h = test::make_pair(test::server_opts(), test::client_opts());
  h.run();
  REQUIRE(h.client.is_secure());
  CHECK(h.client.negotiated_group() == "x25519");
  CHECK(h.server.negotiated_group() == "x25519");
  // ecdh_curve naming the hybrid group is a configuration error there, with OpenSSL's
  // reason text.
  auto co = test::client_opts();
  co.ecdh_curve = "X25519MLKEM768";
  auto bad = connection::client(co);
  REQUIRE_FALSE(bad);
  CHECK_FALSE(bad.error().message().empty());
}

#endif
