// tlsengine/files.hpp: credentials loaded from files, the way Asio's
// use_certificate_chain_file()/load_verify_file() and Node's readFileSync are used, with
// errors that name the file. Real files from the generated test certificates, then a
// handshake on what was loaded.
#include "support.hpp"

#include <tlsengine/files.hpp>

#include <cstdio>
#include <fstream>

using namespace tlsengine;

namespace {
std::string path(const std::string& name) { return test::cert_dir() + "/" + name; }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
} // namespace

TEST_CASE("files: a server and a client configured from files complete a handshake", "[files]") {
  auto chain = load_cert_chain_file(path("server-rsa-chain.pem"));
  auto key = load_private_key_file(path("server-rsa-encrypted.key"), std::string("secret"));
  auto ca = load_verify_file(path("ca.pem"));
  REQUIRE(chain);
  REQUIRE(key);
  REQUIRE(ca);
  CHECK(chain.message().empty());
  CHECK(*chain == test::load("server-rsa-chain.pem"));
  CHECK(key->passphrase == std::optional<std::string>("secret"));

  server_options so;
  so.cert = {*chain};
  so.key = {*key};
  auto srv = server::create(so);
  REQUIRE(srv);
  client_options co;
  co.ca = {*ca};
  co.servername = "localhost";
  auto client = connection::client(co);
  REQUIRE(client);
  connection s = srv->accept();
  pump(*client, s);
  CHECK(client->is_secure());
  CHECK(client->authorized());
}

TEST_CASE("files: a missing file is errno's error and the message names the file", "[files]") {
  const std::string missing = path("no-such-file.pem");
  auto r = load_cert_chain_file(missing);
  REQUIRE_FALSE(r);
  CHECK(r.error() == std::errc::no_such_file_or_directory);
  CHECK(r.path() == missing);
  CHECK(r.message() ==
        missing + ": " + std::make_error_code(std::errc::no_such_file_or_directory).message());
  CHECK_FALSE(load_private_key_file(missing));
  CHECK_FALSE(load_verify_file(missing));
  CHECK_FALSE(load_pfx_file(missing));
  CHECK_FALSE(load_file(missing));
}

TEST_CASE("files: the wrong kind of file fails at load, naming the file and OpenSSL's reason",
          "[files]") {
  SECTION("a key where certificates belong") {
    auto r = load_cert_chain_file(path("server-rsa.key"));
    REQUIRE_FALSE(r);
    CHECK(r.error().category() == openssl_category());
    CHECK(contains(r.message(), path("server-rsa.key") + ": "));
    CHECK(contains(r.message(), "no start line"));
  }
  SECTION("a certificate where a key belongs") {
    auto r = load_private_key_file(path("server-rsa.pem"));
    REQUIRE_FALSE(r);
    CHECK(r.error().category() == openssl_category());
    CHECK(contains(r.message(), path("server-rsa.pem") + ": "));
  }
  SECTION("an empty file") {
    const std::string empty = path("files-test-empty.pem");
    std::ofstream(empty).close();
    auto r = load_verify_file(empty);
    std::remove(empty.c_str());
    REQUIRE_FALSE(r);
    CHECK(contains(r.message(), "no start line"));
  }
}

TEST_CASE("files: encrypted keys and PKCS#12 are checked with their passphrase", "[files]") {
  auto wrong = load_private_key_file(path("server-rsa-encrypted.key"), std::string("wrong"));
  REQUIRE_FALSE(wrong);
  CHECK(contains(wrong.message(), "bad decrypt"));
  CHECK_FALSE(load_private_key_file(path("server-rsa-encrypted.key"))); // no passphrase
  CHECK(load_private_key_file(path("server-rsa.key")));

  auto pfx = load_pfx_file(path("server-rsa.p12"), std::string("secret"));
  REQUIRE(pfx);
  server_options so;
  so.pfx = {*pfx};
  CHECK(server::create(so));
  auto bad = load_pfx_file(path("server-rsa.p12"), std::string("wrong"));
  REQUIRE_FALSE(bad);
  CHECK(contains(bad.message(), path("server-rsa.p12") + ": "));
  CHECK_FALSE(load_pfx_file(path("ca.pem"), std::string("secret"))); // not PKCS#12
}
